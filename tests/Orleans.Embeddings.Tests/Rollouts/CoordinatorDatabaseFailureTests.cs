using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Testing;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>
/// Single database failures at the two places the connection chaos test (<see cref="ConnectionChaosTests"/>) met them
/// by chance, made to happen on purpose: the coordinator's save of its state, and a worker's read of its version when it
/// activates. The silos' statements give up on a lock after 200 ms, so a row or table the test locks fails them.
/// </summary>
public sealed class CoordinatorDatabaseFailureTests(CoordinatorDatabaseFailureTests.ImpatientCluster indexer)
    : IClassFixture<CoordinatorDatabaseFailureTests.ImpatientCluster>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Before: the rollout was started in memory, its save failed, and the coordinator kept the unsaved rollout. Repeating
    // the command answered "in progress" while nothing advanced it (no routing epoch, no timer): stuck until deactivated.
    [Fact]
    public async Task A_command_whose_save_fails_leaves_the_stored_state_and_can_be_repeated()
    {
        const string collection = "unsaved";
        await indexer.CreateCollectionAsync(collection);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);

        await using (await RowLock.TakeAsync(indexer.DataSource, "SELECT 1 FROM embeddings_coordinators WHERE collection = $1 FOR UPDATE", collection, Ct))
        {
            var failure = await Assert.ThrowsAsync<DatabaseFailureException>(() => coordinator.StartRolloutAsync("v2"));
            Assert.Contains("SQLSTATE 55P03", failure.Message, StringComparison.Ordinal);
        }

        // What the caller sees afterwards is what is stored: no rollout, v2 still Registered.
        var status = await coordinator.GetStatusAsync();
        Assert.Null(status.Rollout);
        Assert.Equal(VersionState.Registered, status.Version("v2").State);
        Assert.Equal(1, status.Epoch);

        // Repeated, the command starts the rollout, which runs to Ready.
        await coordinator.StartRolloutAsync("v2");
        await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, Long, "v2 Ready after the repeated start");
    }

    // Before: the failure skipped the grain-call filter, and the caller got "Could not find a codec for type
    // Npgsql.PostgresException", which the coordinator's model probe reported as a model that could not be loaded.
    [Fact]
    public async Task A_worker_that_cannot_read_its_version_reports_the_database_failure()
    {
        const string collection = "unread";
        await indexer.CreateCollectionAsync(collection);
        var worker = indexer.Worker(collection, "v1", "Silo_0");
        DatabaseFailureException failure;
        await using (await RowLock.TakeTableAsync(indexer.DataSource, "embeddings_model_versions", Ct))
        {
            failure = await Assert.ThrowsAsync<DatabaseFailureException>(() => worker.EmbedQueryAsync("a query"));
        }

        Assert.Contains($"Activating the embedding worker {collection}/v1/Silo_0/cpu failed in PostgreSQL (SQLSTATE 55P03)", failure.Message, StringComparison.Ordinal);
        Assert.True(failure.Transient, failure.Message);

        // The worker activates once the table is free again.
        Assert.NotEmpty(await worker.EmbedQueryAsync("a query"));
    }

    // An outage of the acknowledgements (their table locked: neither the silos' writes nor the coordinator's reads get
    // through) longer than AckTimeout in the dual-write step. Before: the coordinator's first tick once the table was back
    // saw the silos still behind, past the step's deadline, and failed the rollout before they had a chance to
    // acknowledge. Now the silos have a whole AckTimeout after the coordinator's last failure.
    [Fact]
    public async Task A_rollout_waits_for_the_acknowledgements_through_an_outage_longer_than_the_ack_timeout()
    {
        const string collection = "outage";
        await indexer.CreateCollectionAsync(collection);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);

        await using (await RowLock.TakeTableAsync(indexer.DataSource, "embeddings_routing_acks", Ct))
        {
            try
            {
                await coordinator.StartRolloutAsync("v2");
            }
            catch (DatabaseFailureException ex) when (ex.Transient)
            {
                // Started and saved; it failed reading the acknowledgements. Its status says so:
            }

            Assert.Equal(VersionState.Provisioning, (await coordinator.GetStatusAsync()).Version("v2").State);
            await Task.Delay(ImpatientCluster.AckTimeout * 2, Ct);
            var during = await coordinator.GetStatusAsync();
            Assert.True(during.Rollout is { Step: "dual-write" }, Describe(during));
        }

        var ready = await WaitForStatusAsync(coordinator, s => s.Version("v2").State is VersionState.Ready or VersionState.Failed, Long, "v2 Ready or Failed after the outage");
        Assert.True(ready.Version("v2").State == VersionState.Ready, Describe(ready));
    }

    /// <summary>The indexer cluster, whose silos give up on a lock after 200 ms and have 4 s to acknowledge an epoch.</summary>
    public sealed class ImpatientCluster(PostgresServer server) : IndexerCluster(server)
    {
        /// <summary>How long the silos have to acknowledge a routing epoch.</summary>
        public static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(4);

        /// <inheritdoc />
        protected override void ConfigureIndexer(Orleans.Embeddings.Hosting.IndexerOptions options)
        {
            ArgumentNullException.ThrowIfNull(options);
            options.Rollouts.AckTimeout = AckTimeout;
        }

        /// <inheritdoc />
        protected override string SiloConnectionString(string connectionString) => RowLock.ImpatientConnectionString(connectionString);
    }
}
