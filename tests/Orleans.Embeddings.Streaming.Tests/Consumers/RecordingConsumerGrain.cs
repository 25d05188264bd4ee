using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.Embeddings.Streaming.Tests.Consumers;

/// <summary>The test consumer: keyed like the document grain ("collection/id"), implicitly subscribed to every collection.</summary>
public interface IRecordingConsumerGrain : IGrainWithStringKey
{
}

/// <summary>
/// Records every change it finishes in <see cref="DeliveryLog"/>; a change whose content is <see cref="FailingContent"/>
/// throws on every delivery, as a consumer with a bug would.
/// </summary>
[ImplicitStreamSubscription]
public sealed class RecordingConsumerGrain : Grain, IRecordingConsumerGrain, IStreamSubscriptionObserver
{
    /// <summary>Content that makes the consumer throw.</summary>
    public const string FailingContent = "consumer-must-fail";

    /// <inheritdoc />
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<DocumentChange>().ResumeAsync(OnNextAsync);

    private Task OnNextAsync(DocumentChange change, StreamSequenceToken? token)
    {
        var (collection, id) = DocumentStreams.Split(this.GetPrimaryKeyString());
        if (collection != change.Collection || id != change.Id)
        {
            throw new InvalidOperationException($"Grain {this.GetPrimaryKeyString()} received a change to {change.Collection}/{change.Id}.");
        }

        if (change.Content == FailingContent)
        {
            throw new InvalidOperationException("The test consumer fails this event on purpose.");
        }

        DeliveryLog.Record(change);
        return Task.CompletedTask;
    }
}
