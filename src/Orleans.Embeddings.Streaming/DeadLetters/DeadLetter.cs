namespace Orleans.Embeddings.Streaming.DeadLetters;

/// <summary>An event that could not be delivered: where it was, what it held, and why it failed.</summary>
/// <param name="Provider">The stream provider.</param>
/// <param name="Transport"><c>postgres</c> or <c>kafka</c>.</param>
/// <param name="Queue">The log queue or Kafka partition.</param>
/// <param name="Position">The log position or Kafka offset.</param>
/// <param name="StreamKey">"collection/id" when known.</param>
/// <param name="Payload">The raw event bytes, as published.</param>
/// <param name="Attempts">How many times it was read.</param>
/// <param name="Reason">What was wrong.</param>
/// <param name="FailedAt">When it was dead-lettered.</param>
public sealed record DeadLetter(
    string Provider, string Transport, int Queue, long Position, string? StreamKey, byte[] Payload, int Attempts, string Reason, DateTimeOffset FailedAt);

/// <summary>How often a reason occurred and when last.</summary>
public sealed record DeadLetterReason(string Reason, long Count, DateTimeOffset LastAt);

/// <summary>A dead letter without the bulk of its payload: its length in bytes and its first bytes as text (bytes that are not UTF-8 shown as U+FFFD).</summary>
public sealed record DeadLetterExcerpt(
    string Provider, string Transport, int Queue, long Position, string? StreamKey, int Attempts, string Reason, DateTimeOffset FailedAt, int PayloadBytes, string PayloadPreview);

/// <summary>A count of dead letters, the most frequent reasons, and the latest letters, newest first.</summary>
public sealed record DeadLetterSummary(long Total, IReadOnlyList<DeadLetterReason> Reasons, IReadOnlyList<DeadLetterExcerpt> Latest);
