using System.Globalization;
using System.Net;
using Orleans.Configuration;
using Orleans.Embeddings.Storage;

// A silo for crash tests: localhost clustering (the first silo is the primary, the others name its port),
// the stream provider chosen under Embeddings:Streams, and DeliveryRecorderGrain as the consumer.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var configuration = builder.Configuration;
var connectionString = configuration["Embeddings:Database:ConnectionString"]
    ?? throw new InvalidOperationException("Embeddings:Database:ConnectionString is required.");
builder.Services.AddSingleton(EmbeddingsDataSource.Create(connectionString));
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.UseOrleans(silo =>
{
    int Port(string key) => int.Parse(configuration[key] ?? throw new InvalidOperationException($"{key} is required."), CultureInfo.InvariantCulture);
    var primary = configuration["Embeddings:Cluster:PrimarySiloPort"] is { } p ? new IPEndPoint(IPAddress.Loopback, int.Parse(p, CultureInfo.InvariantCulture)) : null;
    silo.UseLocalhostClustering(Port("Embeddings:Cluster:SiloPort"), Port("Embeddings:Cluster:GatewayPort"), primary, "stream-crash-test", "stream-crash-test");
    silo.Configure<ClusterMembershipOptions>(configuration.GetSection("Orleans:Membership"));
    silo.AddDocumentChangeStreams(configuration);
});

var app = builder.Build();
app.MapGet("/ready", () => Results.Ok("ready"));
app.Run();
