namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>
/// What a test needs from the machine (Node, the corpus, a trained model folder): missing in CI (<c>CI=true</c>, where
/// infra/test.sh provides it) the test fails; missing on a developer's machine it is skipped, saying how to provide it.
/// </summary>
internal static class TestDependency
{
    public static bool InContinuousIntegration => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fails (CI) or skips the test with <paramref name="message"/>.</summary>
    public static void Missing(string message)
    {
        if (InContinuousIntegration)
        {
            Assert.Fail(message);
        }

        Assert.Skip(message);
    }
}
