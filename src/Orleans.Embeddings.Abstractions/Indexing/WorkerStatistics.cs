namespace Orleans.Embeddings.Indexing;

/// <summary>What one embedding worker has done since it activated.</summary>
/// <param name="Silo">The silo it runs on.</param>
/// <param name="Device">The device it embeds on.</param>
/// <param name="TextsEmbedded">Texts sent through the model (documents and queries).</param>
/// <param name="RowsWritten">Rows written into the version's table (vectors and tombstones).</param>
/// <param name="MetadataUpdates">Metadata-only updates (no model call).</param>
/// <param name="RedeliveriesSkipped">Redelivered changes not embedded again because the table already held them.</param>
/// <param name="Tokens">Tokens the model ran, padding excluded (queries run on their caller's thread are not counted).</param>
/// <param name="PaddedTokens">Token positions the model ran: each run's texts times its longest.</param>
[GenerateSerializer, Immutable]
public sealed record WorkerStatistics(
    [property: Id(0)] string Silo,
    [property: Id(1)] string Device,
    [property: Id(2)] long TextsEmbedded,
    [property: Id(3)] long RowsWritten,
    [property: Id(4)] long MetadataUpdates,
    [property: Id(5)] long RedeliveriesSkipped = 0,
    [property: Id(6)] long Tokens = 0,
    [property: Id(7)] long PaddedTokens = 0);
