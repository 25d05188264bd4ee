namespace Orleans.Embeddings.Indexing;

/// <summary>
/// One document, keyed <c>collection/id</c>: it consumes the document's change stream by implicit subscription,
/// keeps the newest seq in the documents table and fans each change out to the write targets of its collection.
/// </summary>
public interface IDocumentGrain : IGrainWithStringKey
{
}
