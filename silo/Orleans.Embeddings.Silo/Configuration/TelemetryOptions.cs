namespace Orleans.Embeddings.Silo.Configuration;

/// <summary>OpenTelemetry metrics export (section <c>Embeddings:Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Embeddings:Telemetry";

    /// <summary>Default <see cref="PrometheusPath"/>.</summary>
    public const string DefaultPrometheusPath = "/metrics";

    /// <summary>
    /// The path of the Prometheus scraping endpoint on the silo's web port (the Orleans and
    /// <c>Orleans.Embeddings</c> meters). Empty turns the endpoint off.
    /// </summary>
    public string? PrometheusPath { get; set; } = DefaultPrometheusPath;

    /// <summary>
    /// An OTLP collector to push metrics to, e.g. <c>http://127.0.0.1:4317</c>. Empty (the default) pushes nothing.
    /// </summary>
    public Uri? OtlpEndpoint { get; set; }
}
