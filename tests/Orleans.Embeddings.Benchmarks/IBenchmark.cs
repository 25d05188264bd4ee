namespace Orleans.Embeddings.Benchmarks;

/// <summary>A benchmark run by name from the command line.</summary>
internal interface IBenchmark
{
    /// <summary>Runs it, printing a readable table and, last, one <c>RESULT</c> line.</summary>
    Task RunAsync(CancellationToken cancellationToken);
}
