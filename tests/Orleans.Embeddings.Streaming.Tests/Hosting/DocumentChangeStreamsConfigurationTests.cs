using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Streaming.Kafka;
using Orleans.Embeddings.Streaming.PostgresLog;
using Orleans.Hosting;

namespace Orleans.Embeddings.Streaming.Tests.Hosting;

public sealed class DocumentChangeStreamsConfigurationTests
{
    [Fact]
    public void The_postgres_log_is_the_default_and_binds_its_section()
    {
        using var host = Build(new() { ["Embeddings:Streams:Postgres:QueueCount"] = "16" });
        var options = host.Services.GetRequiredService<IOptionsMonitor<PostgresLogStreamOptions>>().Get("documents");
        Assert.Equal(16, options.QueueCount);
    }

    [Fact]
    public void Kafka_is_chosen_by_the_transport_setting_and_binds_its_section()
    {
        using var host = Build(new()
        {
            ["Embeddings:Streams:Transport"] = "Kafka",
            ["Embeddings:Streams:ProviderName"] = "changes",
            ["Embeddings:Streams:Kafka:BootstrapServers"] = "example.servicebus.windows.net:9093",
            ["Embeddings:Streams:Kafka:Config:security.protocol"] = "SASL_SSL",
        });
        var options = host.Services.GetRequiredService<IOptionsMonitor<KafkaStreamOptions>>().Get("changes");
        Assert.Equal("example.servicebus.windows.net:9093", options.BootstrapServers);
        Assert.Equal("SASL_SSL", options.Config["security.protocol"]);
    }

    [Fact]
    public void An_unknown_transport_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Build(new() { ["Embeddings:Streams:Transport"] = "Carrier-pigeon" }));
        Assert.Contains("Embeddings:Streams:Transport", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kafka_settings_the_provider_owns_are_refused_naming_them()
    {
        var result = new KafkaStreamOptionsValidator().Validate("documents", new KafkaStreamOptions
        {
            BootstrapServers = "localhost:9092",
            Config = new() { ["enable.auto.commit"] = "true" },
        });
        Assert.True(result.Failed);
        Assert.Contains("enable.auto.commit", result.FailureMessage, StringComparison.Ordinal);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddDocumentChangeStreams(builder.Configuration);
        });
        return builder.Build();
    }
}
