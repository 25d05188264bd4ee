using Orleans.Embeddings.Streaming.Events;

namespace Orleans.Embeddings.Streaming.PostgresLog;

/// <summary>
/// Settings of a PostgreSQL-log stream provider (section <c>Embeddings:Streams:Postgres</c>). The database is the
/// one in <c>Embeddings:Database</c>.
/// </summary>
public sealed class PostgresLogStreamOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Streams:Postgres";

    /// <summary>The number of queues the log is split into; Orleans balances them across silos. Fixed once events are pending.</summary>
    public int QueueCount { get; set; } = 8;

    /// <summary>How long a leased event stays invisible to other readers; the owner extends it while the event is in flight.</summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Leases an event may take without being acknowledged before it is dead-lettered (a consumer that keeps crashing its silo).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>How long an event whose delivery failed waits before it is read again.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long acknowledged events are kept before eviction (for inspection and replay by hand).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often a receiver evicts acknowledged rows of its queue past <see cref="Retention"/>.</summary>
    public TimeSpan EvictionInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How often a receiver rescans its whole queue rather than only above the highest position it has read, to pick up
    /// events whose transactions committed after later positions, and leases that expired.
    /// </summary>
    public TimeSpan RescanInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// When true (the default), a receiver that found its queue drained queries it again only after the log's append
    /// trigger notified this silo (one listening connection per provider) or at the next rescan, instead of at every
    /// pull of Orleans' pulling agent: an idle log then costs no queries. When false, or while the listening
    /// connection is down, every pull queries.
    /// </summary>
    public bool ListenForAppends { get; set; } = true;

    /// <summary>Size limits of events; an event over one is dead-lettered with the reason.</summary>
    public DocumentChangeLimits Limits { get; set; } = new();
}
