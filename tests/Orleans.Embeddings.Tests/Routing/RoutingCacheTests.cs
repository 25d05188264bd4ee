using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Routing;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;
using Orleans.Runtime;

namespace Orleans.Embeddings.Tests.Routing;

/// <summary>A silo's routing cache on a real PostgreSQL, without a cluster: what it acknowledges when a database call fails.</summary>
public sealed class RoutingCacheTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_epoch_whose_acknowledgement_failed_is_acknowledged_at_the_next_refresh()
    {
        const string collection = "acks";
        var store = new RoutingStore(database.DataSource);
        await new CollectionCatalog(database.DataSource).EnsureCollectionAsync(collection, Ct);
        var first = (await store.SetAsync(collection, 0, ["v1"], new Dictionary<string, int> { ["v1"] = 100 }, Ct))!;

        // A cache whose statements give up on a locked row at once, so the test can make an acknowledgement fail the way
        // it does while PostgreSQL restarts.
        await using var impatient = RowLock.ImpatientDataSource(database.ConnectionString);
        using var cache = new RoutingCache(new RoutingStore(impatient), new SiloDetails("silo-a"), Options.Create(new IndexerOptions()), NullLogger<RoutingCache>.Instance);
        Assert.Equal(first.Epoch, (await cache.RefreshAsync(collection, Ct))!.Epoch);
        Assert.Equal(first.Epoch, await AcknowledgedAsync(store, collection));

        var second = (await store.SetAsync(collection, first.Epoch, ["v1", "v2"], first.Traffic, Ct))!;
        await using (await RowLock.TakeAsync(database.DataSource, "SELECT 1 FROM embeddings_routing_acks WHERE collection = $1 FOR UPDATE", collection, Ct))
        {
            await Assert.ThrowsAsync<PostgresException>(() => cache.RefreshAsync(collection, Ct));
        }

        // The silo routes by the new epoch already; the next refresh (a notification or the poll) acknowledges it.
        Assert.Equal(second.Epoch, (await cache.GetAsync(collection, Ct))!.Epoch);
        await cache.RefreshAsync(collection, Ct);
        Assert.Equal(second.Epoch, await AcknowledgedAsync(store, collection));
    }

    [Fact]
    public async Task A_change_made_while_the_listener_reconnects_is_seen_when_it_listens_again_not_at_the_next_poll()
    {
        const string collection = "relisten";
        var store = new RoutingStore(database.DataSource);
        await new CollectionCatalog(database.DataSource).EnsureCollectionAsync(collection, Ct);
        var first = (await store.SetAsync(collection, 0, ["v1"], new Dictionary<string, int> { ["v1"] = 100 }, Ct))!;

        // The application name tells the cache's connections from the test's own.
        await using var silos = EmbeddingsDataSource.Create(
            new NpgsqlConnectionStringBuilder(database.ConnectionString) { ApplicationName = "relisten-cache" }.ConnectionString);
        using var cache = new RoutingCache(
            new RoutingStore(silos), new SiloDetails("silo-b"), Options.Create(new IndexerOptions { RoutingPollInterval = TimeSpan.FromHours(1) }), NullLogger<RoutingCache>.Instance);
        var lifecycle = new SiloLifecycleSubject(NullLogger<SiloLifecycleSubject>.Instance);
        cache.Participate(lifecycle);
        await lifecycle.OnStart(Ct);
        try
        {
            await WaitUntilAsync(async () => await ListenersAsync() == 1 && (await cache.GetAsync(collection, Ct))!.Epoch == first.Epoch);

            // Terminate the listening connection and change the routing before the listener is back (it reconnects after
            // a second): the notification goes to nobody.
            await using (var terminate = database.DataSource.CreateCommand(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relisten-cache' AND query = 'LISTEN embeddings_routing'"))
            {
                await terminate.ExecuteNonQueryAsync(Ct);
            }

            var second = (await store.SetAsync(collection, first.Epoch, ["v1", "v2"], first.Traffic, Ct))!;
            Assert.Equal(first.Epoch, (await cache.GetAsync(collection, Ct))!.Epoch);

            // Listening again, the cache reads every routing table: it routes by the new epoch within seconds, not an hour.
            await WaitUntilAsync(async () => (await cache.GetAsync(collection, Ct))!.Epoch == second.Epoch);

            // The new epoch can arrive a moment before the listener's LISTEN shows in pg_stat_activity (seen once in a
            // full run on a loaded machine: 0 listeners right after the epoch); the listener must be back all the same.
            await WaitUntilAsync(async () => await ListenersAsync() == 1);
        }
        finally
        {
            await lifecycle.OnStop(CancellationToken.None);
        }

        async Task<long> ListenersAsync()
        {
            await using var command = database.DataSource.CreateCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'relisten-cache' AND query = 'LISTEN embeddings_routing'");
            return (long)(await command.ExecuteScalarAsync(Ct))!;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 20 s");
            await Task.Delay(50, Ct);
        }
    }

    private static async Task<long> AcknowledgedAsync(RoutingStore store, string collection) =>
        (await store.GetAcknowledgementsAsync(collection, Ct))["silo-a"];

    private sealed class SiloDetails(string name) : ILocalSiloDetails
    {
        public string Name => name;

        public string ClusterId => "test";

        public string DnsHostName => "localhost";

        public SiloAddress SiloAddress { get; } = SiloAddress.New(IPAddress.Loopback, 11111, 1);

        public SiloAddress GatewayAddress { get; } = SiloAddress.New(IPAddress.Loopback, 30000, 1);
    }
}
