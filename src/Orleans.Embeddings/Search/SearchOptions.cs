namespace Orleans.Embeddings.Search;

/// <summary>Search logging (the A/B figures) and shadow comparison (section <c>Embeddings:Indexer:Search</c>).</summary>
public sealed class SearchOptions
{
    /// <summary>Whether every search is logged (per-version searches, latency, failures, empty answers, click-through).</summary>
    public bool LogSearches { get; set; } = true;

    /// <summary>How long logged searches and their feedback are kept.</summary>
    public TimeSpan LogRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How often a silo writes the searches it logged.</summary>
    public TimeSpan LogFlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Searches a silo holds before it writes them; beyond this they are dropped from the log (and counted).</summary>
    public int LogCapacity { get; set; } = 50_000;

    /// <summary>
    /// The share of unpinned searches (0-1) that also run on a candidate version, after the answer, when the collection has
    /// one: another write target that is complete (it has traffic, or its HNSW index is built). The candidate's hits are
    /// compared with the answer's and never returned.
    /// </summary>
    public double ShadowSampleRate { get; set; } = 0.1;

    /// <summary>Shadow searches waiting to run; when full, or when the candidate's query lane has queries waiting, a shadow search is dropped.</summary>
    public int ShadowQueue { get; set; } = 32;

    /// <summary>Failures, each naming its setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (ShadowSampleRate is < 0 or > 1 || double.IsNaN(ShadowSampleRate))
        {
            yield return $"{section}:{nameof(ShadowSampleRate)} must be between 0 and 1 (was {ShadowSampleRate}).";
        }

        if (ShadowQueue < 1)
        {
            yield return $"{section}:{nameof(ShadowQueue)} must be at least 1.";
        }

        if (LogCapacity < 1)
        {
            yield return $"{section}:{nameof(LogCapacity)} must be at least 1.";
        }

        if (LogFlushInterval <= TimeSpan.Zero || LogRetention <= TimeSpan.Zero)
        {
            yield return $"{section}:{nameof(LogFlushInterval)} and {nameof(LogRetention)} must be positive.";
        }
    }
}
