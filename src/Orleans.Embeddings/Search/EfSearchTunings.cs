using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Search;

namespace Orleans.Embeddings.Search;

/// <summary>The registry's <see cref="EfSearchTuning"/> as the grain contracts carry it.</summary>
internal static class EfSearchTunings
{
    public static EfSearchTuningStatus ToStatus(this EfSearchTuning tuning) => new(
        tuning.EfSearch, tuning.Recall, tuning.TargetRecall, tuning.TargetReached, tuning.RecallAtDefault, tuning.Queries, tuning.Seconds, tuning.TunedAt);
}
