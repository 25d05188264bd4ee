namespace Orleans.Embeddings.Storage.Rollouts;

/// <summary>Where one shard range of a load or reconciliation run stands.</summary>
/// <param name="RangeIndex">Which range of the documents' shards.</param>
/// <param name="Pass">The pass the cursor belongs to (1 is the bulk load).</param>
/// <param name="NextShard">The documents shard the cursor is in.</param>
/// <param name="AfterId">The last id committed in that shard, or null at its start.</param>
/// <param name="Done">True when the range finished this pass.</param>
/// <param name="Written">Rows written in this pass.</param>
/// <param name="Pages">Pages committed in this pass.</param>
/// <param name="Resumes">How many times the range was resumed from a stored cursor.</param>
public sealed record LoadCheckpoint(int RangeIndex, int Pass, int NextShard, string? AfterId, bool Done, long Written, long Pages, int Resumes);
