using Npgsql;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Naming;

namespace Orleans.Embeddings.Tests.Rollouts;

internal static class RolloutAssertions
{
    /// <summary>The quoted name of a version's table, for SQL.</summary>
    public static string Table(string collection, string version) => StorageNames.Quote(StorageNames.VersionTableName(collection, version));

    /// <summary>Polls the coordinator's status until <paramref name="condition"/> holds.</summary>
    public static async Task<RolloutStatus> WaitForStatusAsync(IVersionCoordinatorGrain coordinator, Func<RolloutStatus, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        RolloutStatus status;
        do
        {
            status = await coordinator.GetStatusAsync();
            if (condition(status))
            {
                return status;
            }

            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        throw new TimeoutException($"{what} did not happen within {timeout}; last status: {Describe(status)}");
    }

    public static ModelVersionStatus Version(this RolloutStatus status, string version) => status.Versions.Single(v => v.Version == version);

    public static string Describe(RolloutStatus status) =>
        $"epoch {status.Epoch}; versions {string.Join(", ", status.Versions.Select(v => $"{v.Version}={v.State}/{v.TrafficPercent}%{(v.WriteTarget ? "/w" : "")}{(v.Error is null ? "" : $" ({v.Error})")}"))}; " +
        $"rollout {(status.Rollout is { } r ? $"{r.Version} step {r.Step} pass {r.Pass} {r.Done}/{r.Total} resumes {r.Resumes} {r.Error}" : "none")}";

    /// <summary>
    /// Waits until the live rows of a version's table are exactly the expected live documents at their last seqs (no
    /// missing, stale or resurrected document), and fails with the differences when they never are.
    /// </summary>
    public static async Task WaitForTableToMatchAsync(
        NpgsqlDataSource dataSource, string collection, string version, IReadOnlyDictionary<string, (long Seq, bool Deleted)> expected, TimeSpan timeout)
    {
        var live = expected.Where(e => !e.Value.Deleted).ToDictionary(e => e.Key, e => e.Value.Seq);
        var deadline = DateTime.UtcNow + timeout;
        List<string> differences;
        do
        {
            var actual = new Dictionary<string, long>();
            await using (var command = dataSource.CreateCommand($"SELECT id, seq FROM {StorageNames.Quote(StorageNames.VersionTableName(collection, version))} WHERE NOT deleted"))
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    actual[reader.GetString(0)] = reader.GetInt64(1);
                }
            }

            differences = [
                .. live.Where(e => !actual.ContainsKey(e.Key)).Select(e => $"{e.Key} missing (seq {e.Value})"),
                .. live.Where(e => actual.TryGetValue(e.Key, out var seq) && seq != e.Value).Select(e => $"{e.Key} at seq {actual[e.Key]}, not {e.Value}"),
                .. actual.Where(a => !live.ContainsKey(a.Key)).Select(a => $"{a.Key} live at seq {a.Value} but {(expected.ContainsKey(a.Key) ? "deleted" : "never published")}"),
            ];
            if (differences.Count == 0)
            {
                return;
            }

            await Task.Delay(250);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Fail($"Version {version} of {collection} differs from the expected final state in {differences.Count} documents: {string.Join("; ", differences.Take(10))}");
    }
}
