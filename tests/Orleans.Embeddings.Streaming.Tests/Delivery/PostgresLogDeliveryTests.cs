using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Testing;
using Orleans.Hosting;

namespace Orleans.Embeddings.Streaming.Tests.Delivery;

/// <summary>The delivery scenarios over the PostgreSQL log.</summary>
public sealed class PostgresLogDeliveryTests(MigratedPostgresDatabase database) : StreamDeliveryScenarios, IClassFixture<MigratedPostgresDatabase>
{
    /// <inheritdoc />
    protected override string Provider => "pglog";

    /// <inheritdoc />
    protected override NpgsqlDataSource DataSource => database.DataSource;

    /// <inheritdoc />
    protected override void AddStreams(ISiloBuilder silo, TimeSpan maxEventDeliveryTime) =>
        silo.AddPostgresLogStreams(
            Provider,
            o => o.Configure(options =>
            {
                options.QueueCount = 8;
                options.VisibilityTimeout = TimeSpan.FromSeconds(5);
                options.MaxAttempts = 2;
                options.RescanInterval = TimeSpan.FromMilliseconds(500);
                options.Limits.MaxContentBytes = MaxContentBytes;
            }),
            p => p.ConfigurePullingAgent(o => o.Configure(a => a.MaxEventDeliveryTime = maxEventDeliveryTime)));

    /// <inheritdoc />
    protected override IDocumentChangePublisher CreatePublisher() => new PostgresLogPublisher(DataSource, Provider);
}
