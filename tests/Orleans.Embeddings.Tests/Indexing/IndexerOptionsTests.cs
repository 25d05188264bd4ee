using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Hosting;
using Microsoft.Extensions.Hosting;

namespace Orleans.Embeddings.Tests.Indexing;

public sealed class IndexerOptionsTests
{
    [Fact]
    public void The_default_device_is_the_cpu()
    {
        Assert.Equal(["cpu"], new IndexerOptions().EffectiveDevices);
        Assert.True(new IndexerOptionsValidator().Validate(null, new IndexerOptions { Devices = ["cpu", "cuda:0", "cuda:1"] }).Succeeded);
    }

    [Fact]
    public void A_silo_without_workers_owns_no_device_and_may_not_list_one()
    {
        Assert.Empty(new IndexerOptions { HostsWorkers = false }.EffectiveDevices);
        Assert.True(new IndexerOptionsValidator().Validate(null, new IndexerOptions { HostsWorkers = false }).Succeeded);
        var result = new IndexerOptionsValidator().Validate(null, new IndexerOptions { HostsWorkers = false, Devices = ["cuda:0"] });
        Assert.True(result.Failed);
        Assert.Contains("Embeddings:Indexer:Devices", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("Embeddings:Indexer:HostsWorkers", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpu7")]
    [InlineData("cuda:x")]
    public void An_unknown_device_is_refused_naming_the_setting(string device)
    {
        var result = new IndexerOptionsValidator().Validate(null, new IndexerOptions { Devices = [device] });
        Assert.True(result.Failed);
        Assert.Contains("Embeddings:Indexer:Devices", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(device, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void A_device_listed_twice_and_a_zero_write_batch_are_refused()
    {
        var result = new IndexerOptionsValidator().Validate(null, new IndexerOptions { Devices = ["cpu", "cpu"], MaxWriteBatch = 0 });
        Assert.Contains("twice", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("MaxWriteBatch", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_concurrent_load_pages_and_an_out_of_range_bulk_priority_are_refused_by_name()
    {
        var options = new IndexerOptions();
        options.Rollouts.ConcurrentPages = -1;
        options.Batching.BulkNice = 25;
        var result = new IndexerOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("Rollouts:ConcurrentPages", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("BulkNice", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Adding_the_indexer_with_a_bad_option_fails_at_once()
    {
        var error = Assert.Throws<OptionsValidationException>(() =>
            Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder().UseOrleans(silo => silo.AddEmbeddingIndexer(o => o.Devices = ["tpu"])));
        Assert.Contains("tpu", error.Message, StringComparison.Ordinal);
    }
}
