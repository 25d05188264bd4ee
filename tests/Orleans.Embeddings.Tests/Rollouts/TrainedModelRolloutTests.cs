using System.Numerics.Tensors;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Testing;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>
/// A rollout from a static model to the trained all-MiniLM-L6-v2 (fetched from its NuGet package) on a two-silo
/// cluster, with changes arriving while it loads: the version's rows are the model's own embeddings of each document's
/// last text, and its searches find by meaning what the words alone do not.
/// </summary>
public sealed class TrainedModelRolloutTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private const string Collection = "trained";

    // Short package descriptions in the corpus's style (written for this test).
    private static readonly (string Id, string Text)[] Packages =
    [
        ("apache2", "Apache HTTP Server. The Apache HTTP Server Project's goal is to build a secure, efficient and extensible HTTP server as standards-compliant open source software."),
        ("nginx", "small, powerful, scalable web/proxy server. Nginx is a web server with a strong focus on high concurrency, performance and low memory usage."),
        ("lighttpd", "fast webserver with minimal memory footprint. lighttpd is a small webserver and fast webserver developed with security in mind."),
        ("vim", "Vi IMproved - enhanced vi editor. Vim is an almost compatible version of the UNIX editor Vi, with many new features for programmers."),
        ("emacs", "GNU Emacs editor. GNU Emacs is the extensible self-documenting text editor."),
        ("gimp", "GNU Image Manipulation Program. GIMP is an advanced picture editor for retouching photos and composing images."),
        ("postgresql", "object-relational SQL database. PostgreSQL is a fully featured object-relational database management system."),
        ("mariadb-server", "MariaDB database server. MariaDB is a fast, stable and true multi-user, multi-threaded SQL database server."),
        ("vlc", "multimedia player and streamer. VLC plays most multimedia files as well as DVDs, audio CDs and various streaming protocols."),
        ("rhythmbox", "music player and organizer for GNOME. Rhythmbox plays and organizes your music collection."),
        ("keepassxc", "cross platform password manager. KeePassXC keeps your passwords in an encrypted database."),
        ("evince", "document (PostScript, PDF) viewer. Evince is a simple multi-page document viewer."),
        ("openssh-server", "secure shell (SSH) server, for secure access from remote machines."),
        ("git", "fast, scalable, distributed revision control system."),
        ("xserver-xorg", "X.Org X server. The X server accepts requests from client programs to create windows on the display."),
        ("libhttp-server-simple-perl", "simple standalone HTTP daemon for Perl modules that want to serve a little HTTP."),
    ];

    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_rollout_to_MiniLM_stores_its_embeddings_of_the_last_texts_and_finds_by_meaning()
    {
        var ct = TestContext.Current.CancellationToken;
        var minilm = await TrainedModels.MiniLmAsync();
        await indexer.CreateCollectionAsync(Collection);
        await using var publisher = indexer.CreatePublisher();
        await publisher.PublishManyAsync([.. Packages.Select(p => new DocumentChange(Collection, p.Id, DocumentOperation.Upsert, 1, p.Text, "{}"))], ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE $1::text IS NOT NULL", "x", Packages.Length, Long);

        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(Collection);
        var registered = await coordinator.RegisterModelAsync("minilm", minilm.Directory);
        Assert.Equal(384, registered.Dimensions);
        await coordinator.StartRolloutAsync("minilm");

        // Changes while it loads: a rewrite (its newer seq must win over the bulk load's) and a delete.
        var (rewritten, deleted) = ("git", "openssh-server");
        const string rewrite = "distributed version control: track changes in source code while programming.\nGit was written for the Linux kernel.";
        await publisher.PublishManyAsync(
        [
            new DocumentChange(Collection, rewritten, DocumentOperation.Upsert, 2, rewrite, "{}"),
            new DocumentChange(Collection, deleted, DocumentOperation.Delete, 2, null, "{}"),
        ], ct);
        await WaitForStatusAsync(coordinator, s => s.Version("minilm").State == VersionState.Ready, Long, "minilm Ready");
        var expected = Packages.Where(p => p.Id != deleted).ToDictionary(p => p.Id, p => p.Id == rewritten ? rewrite : p.Text);
        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "minilm")} WHERE id = $1 AND deleted", deleted, 1, Long);

        using var session = new EmbeddingSession(minilm);
        await using (var command = indexer.DataSource.CreateCommand($"SELECT id, embedding FROM {Table(Collection, "minilm")} WHERE NOT deleted"))
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            var seen = 0;
            while (await reader.ReadAsync(ct))
            {
                var id = reader.GetString(0);
                var stored = reader.GetFieldValue<Pgvector.Vector>(1).ToArray();
                var own = session.Embed([expected[id]], EmbeddingPurpose.Document)[0].Vector;
                Assert.True(TensorPrimitives.CosineSimilarity(stored, own) > 0.99999f, $"{id}'s stored vector is not MiniLM's embedding of its last text");
                seen++;
            }

            Assert.Equal(expected.Count, seen);
        }

        var client = new EmbeddingSearchClient(indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions()));
        var webServers = new[] { "apache2", "nginx", "lighttpd" };
        var search = await client.SearchAsync(new SearchRequest(Collection, "web server") { Version = "minilm", K = 3 }, ct);
        Assert.All(search.Hits, hit => Assert.Equal("minilm", hit.Version));
        Assert.True(search.Hits.All(h => webServers.Contains(h.Id)), $"'web server' found {string.Join(", ", search.Hits.Select(h => h.Id))}");
        var music = await client.SearchAsync(new SearchRequest(Collection, "listen to songs") { Version = "minilm", K = 2 }, ct);
        Assert.Contains(music.Hits, h => h.Id == "rhythmbox");
        var revision = await client.SearchAsync(new SearchRequest(Collection, "keep the history of my source code") { Version = "minilm", K = 1 }, ct);
        Assert.Equal(rewritten, revision.Hits[0].Id);
    }
}
