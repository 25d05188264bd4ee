using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tests;

/// <summary>A static model built once per test class from a small corpus, in a temporary folder.</summary>
public sealed class StaticModelFixture : IDisposable
{
    public static readonly string[] Corpus =
    [
        "PostgreSQL is an object-relational SQL database server",
        "SQLite is a small embeddable SQL database engine",
        "GIMP is an image editor for photo retouching and image composition",
        "Inkscape is a vector graphics editor",
        "nginx is a small and fast web server and reverse proxy",
        "Apache is a popular HTTP web server",
        "Python is an interactive high-level object-oriented programming language",
        "Rust is a systems programming language focused on safety",
        "The café serves crème brûlée",
    ];

    public StaticModelFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("oe-static-").FullName;
        Folder = new StaticEmbeddingModelBuilder { Dimensions = 64, MaxTokens = 16, Seed = 7 }.Build(Corpus, Directory, "test-static");
    }

    public string Directory { get; }

    public EmbeddingModelFolder Folder { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
