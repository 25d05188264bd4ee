using Npgsql;
using Orleans.Embeddings.Documents;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.Embeddings.Streaming.TestSilo;

/// <summary>The crash tests' consumer grain interface.</summary>
public interface IDeliveryRecorderGrain : IGrainWithStringKey
{
}

/// <summary>Records every change it is delivered in <c>stream_test_deliveries</c> (created by the test) before it returns.</summary>
[ImplicitStreamSubscription]
public sealed class DeliveryRecorderGrain(NpgsqlDataSource dataSource, ILocalSiloDetails silo) : Grain, IDeliveryRecorderGrain, IStreamSubscriptionObserver
{
    /// <inheritdoc />
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<DocumentChange>().ResumeAsync(OnNextAsync);

    private async Task OnNextAsync(DocumentChange change, StreamSequenceToken? token)
    {
        await using var command = dataSource.CreateCommand("INSERT INTO stream_test_deliveries (collection, id, seq, silo) VALUES ($1, $2, $3, $4)");
        command.Parameters.AddWithValue(change.Collection);
        command.Parameters.AddWithValue(change.Id);
        command.Parameters.AddWithValue(change.Seq!.Value);
        command.Parameters.AddWithValue(silo.SiloAddress.ToString());
        await command.ExecuteNonQueryAsync();
    }
}
