namespace Orleans.Embeddings.Streaming.Events;

/// <summary>Size limits of document-change events; an event over a limit is dead-lettered with the reason.</summary>
public sealed class DocumentChangeLimits
{
    /// <summary>Default <see cref="MaxIdBytes"/>.</summary>
    public const int DefaultMaxIdBytes = 512;

    /// <summary>Default <see cref="MaxContentBytes"/>: 1 MiB.</summary>
    public const int DefaultMaxContentBytes = 1 << 20;

    /// <summary>Default <see cref="MaxMetadataBytes"/>: 64 KiB.</summary>
    public const int DefaultMaxMetadataBytes = 64 << 10;

    /// <summary>The longest document id, in UTF-8 bytes.</summary>
    public int MaxIdBytes { get; set; } = DefaultMaxIdBytes;

    /// <summary>The largest content, in UTF-8 bytes.</summary>
    public int MaxContentBytes { get; set; } = DefaultMaxContentBytes;

    /// <summary>The largest metadata object, in UTF-8 bytes of its JSON.</summary>
    public int MaxMetadataBytes { get; set; } = DefaultMaxMetadataBytes;
}
