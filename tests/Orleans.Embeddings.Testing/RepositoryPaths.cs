namespace Orleans.Embeddings.Testing;

/// <summary>Locates the repository and the build outputs of its programs from a test's base directory.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The folder holding <c>Orleans.Embeddings.sln</c>.</summary>
    public static string Root => s_root.Value;

    /// <summary>The build configuration the tests were built with (Debug or Release).</summary>
    public static string Configuration =>
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    /// <summary>The built silo host assembly, for tests that run silos as separate processes.</summary>
    public static string SiloAssembly
    {
        get
        {
            var path = Path.Combine(Root, "silo", "Orleans.Embeddings.Silo", "bin", Configuration, "net10.0", "Orleans.Embeddings.Silo.dll");
            return File.Exists(path)
                ? path
                : throw new InvalidOperationException($"The silo host is not built at {path}; the test project must reference silo/Orleans.Embeddings.Silo.");
        }
    }

    /// <summary>The built assembly of an executable project under <c>tests/</c>, in the configuration the tests run in.</summary>
    /// <exception cref="InvalidOperationException">It is not built; the test project must reference it.</exception>
    public static string TestExecutable(string project)
    {
        var path = Path.Combine(Root, "tests", project, "bin", Configuration, "net10.0", project + ".dll");
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"{project} is not built at {path}; the test project must reference tests/{project}.");
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Orleans.Embeddings.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Orleans.Embeddings.sln above {AppContext.BaseDirectory}.");
    }
}
