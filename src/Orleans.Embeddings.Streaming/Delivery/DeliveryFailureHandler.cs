using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.Delivery;

/// <summary>
/// Called by the pulling agent when a consumer kept failing an event for <c>MaxEventDeliveryTime</c>, and also for
/// events in flight when the agent shuts down (a silo stopping, or a queue moving to another silo). Implicit
/// subscriptions are never faulted, so the agent moves on afterwards: this handler is what keeps the event, by handing
/// it to the receiver, which retries or dead-letters it with the reason (DESIGN invariants 1 and 5).
/// </summary>
internal sealed class DeliveryFailureHandler(Func<StreamId, StreamSequenceToken?, string, Task> deadLetter, TimeSpan maxDeliveryTime) : IStreamFailureHandler
{
    public bool ShouldFaultSubsriptionOnError => false;

    public Task OnDeliveryFailure(GuidId subscriptionId, string streamProviderName, StreamId streamIdentity, StreamSequenceToken? sequenceToken) =>
        deadLetter(
            streamIdentity,
            sequenceToken,
            $"the consumer of {streamIdentity.GetKeyAsString()} failed on every delivery for {maxDeliveryTime}; its exceptions are in the silo log");

    public Task OnSubscriptionFailure(GuidId subscriptionId, string streamProviderName, StreamId streamIdentity, StreamSequenceToken? sequenceToken) =>
        deadLetter(streamIdentity, sequenceToken, $"the subscription of {streamIdentity.GetKeyAsString()} failed");
}
