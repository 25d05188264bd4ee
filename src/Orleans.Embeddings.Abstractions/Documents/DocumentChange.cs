namespace Orleans.Embeddings.Documents;

/// <summary>One change to one document, as producers publish it and the stream delivers it.</summary>
/// <param name="Collection">The collection (the stream namespace).</param>
/// <param name="Id">The document id within the collection.</param>
/// <param name="Operation">Upsert or delete.</param>
/// <param name="Seq">The producer's version of the document, increasing per document; null means "use the log position".</param>
/// <param name="Content">The text to embed; null for a delete.</param>
/// <param name="MetadataJson">The metadata, a JSON object ("{}" when none or for a delete).</param>
[GenerateSerializer, Immutable]
public sealed record DocumentChange(
    [property: Id(0)] string Collection,
    [property: Id(1)] string Id,
    [property: Id(2)] DocumentOperation Operation,
    [property: Id(3)] long? Seq,
    [property: Id(4)] string? Content,
    [property: Id(5)] string MetadataJson);
