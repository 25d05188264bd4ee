using System.Security.Cryptography;
using Npgsql;
using Xunit;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// A real PostgreSQL with pgvector for one test assembly (<c>[assembly: AssemblyFixture(typeof(PostgresServer))]</c>).
/// </summary>
/// <remarks>
/// When <c>EMBEDDINGS_TEST_PG</c> holds a connection string (of a role allowed to create databases), that
/// server is used. Otherwise an ephemeral cluster is created in a temporary directory, on a free loopback
/// port, as the <c>postgres</c> OS user when running as root (initdb refuses root), and removed afterwards.
/// A missing PostgreSQL or pgvector fails the run with the command that installs them: tests never skip.
/// </remarks>
public sealed class PostgresServer : IAsyncLifetime
{
    /// <summary>The environment variable naming an existing server to use instead of an ephemeral one.</summary>
    public const string ConnectionStringVariable = "EMBEDDINGS_TEST_PG";

    private const string InstallHint =
        "Install them with `bash infra/postgres/setup.sh --install-only` (as root), or point " + ConnectionStringVariable +
        " at a PostgreSQL with pgvector (a role that may CREATE DATABASE).";

    private string? _directory;
    private string? _binDirectory;
    private bool _asPostgresUser;
    private bool _alwaysEphemeral;
    private string? _startOptions;
    private bool _running;

    /// <summary>A connection string to the <c>postgres</c> database with rights to create databases.</summary>
    public string AdminConnectionString { get; private set; } = string.Empty;

    /// <summary>True when this fixture started the server (and so may stop and restart it).</summary>
    public bool IsEphemeral => _directory is not null;

    /// <summary>
    /// A server of its own for a test that stops and starts it (<see cref="StopAsync"/>, <see cref="StartAsync"/>): always
    /// an ephemeral cluster, even when <c>EMBEDDINGS_TEST_PG</c> names a shared server. The caller initializes and disposes it.
    /// </summary>
    public static PostgresServer CreateEphemeral() => new() { _alwaysEphemeral = true };

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        if (!string.IsNullOrWhiteSpace(external) && !_alwaysEphemeral)
        {
            AdminConnectionString = external;
        }
        else
        {
            await StartEphemeralAsync().ConfigureAwait(false);
        }

        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'", connection);
        if (await command.ExecuteScalarAsync().ConfigureAwait(false) is not string)
        {
            throw new InvalidOperationException($"PostgreSQL is running but the pgvector extension is not installed. {InstallHint}");
        }
    }

    /// <summary>Creates an empty database (with the vector extension unless told otherwise) and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default, bool withVectorExtension = true)
    {
        var name = $"{new string(prefix.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}_{RandomNumberGenerator.GetHexString(8, lowercase: true)}";
        await ExecuteAsync(AdminConnectionString, $"CREATE DATABASE \"{name}\"", cancellationToken).ConfigureAwait(false);
        var builder = new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name };
        if (withVectorExtension)
        {
            await ExecuteAsync(builder.ConnectionString, "CREATE EXTENSION IF NOT EXISTS vector", cancellationToken).ConfigureAwait(false);
        }

        return builder.ConnectionString;
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, closing its connections.</summary>
    public Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        return ExecuteAsync(AdminConnectionString, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", cancellationToken);
    }

    /// <summary>
    /// Stops the server the way an operator restarting it does (<c>pg_ctl stop -m fast</c>: open transactions are rolled
    /// back and every client is disconnected) and returns once it is down. Only for a server this fixture started.
    /// </summary>
    public async Task StopAsync()
    {
        await PgCtlAsync(["stop", "-D", DataDirectory, "-m", "fast", "-w", "-t", "60"]).ConfigureAwait(false);
        _running = false;
    }

    /// <summary>Starts the server again after <see cref="StopAsync"/>, on the same port with the same settings, and returns once it accepts connections.</summary>
    public async Task StartAsync()
    {
        await PgCtlAsync(["start", "-D", DataDirectory, "-l", Path.Combine(_directory!, "postgres.log"), "-w", "-t", "60", "-o", _startOptions!]).ConfigureAwait(false);
        _running = true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_directory is null)
        {
            return;
        }

        try
        {
            if (_running)
            {
                await PgCtlAsync(["stop", "-D", DataDirectory, "-m", "immediate", "-w"]).ConfigureAwait(false);
            }
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
            _directory = null;
        }
    }

    private string DataDirectory => _directory is not null
        ? Path.Combine(_directory, "data")
        : throw new InvalidOperationException($"This server was not started by the fixture ({ConnectionStringVariable} names it): it cannot be stopped or started.");

    private async Task StartEphemeralAsync()
    {
        _binDirectory = FindBinDirectory() ?? throw new InvalidOperationException(
            $"PostgreSQL server binaries (initdb, pg_ctl) were not found and {ConnectionStringVariable} is not set. {InstallHint}");
        _asPostgresUser = Environment.UserName == "root";
        _directory = Directory.CreateTempSubdirectory("orleans-embeddings-pg-").FullName;
        var password = RandomNumberGenerator.GetHexString(24, lowercase: true);
        var passwordFile = Path.Combine(_directory, "password");
        await File.WriteAllTextAsync(passwordFile, password).ConfigureAwait(false);
        if (_asPostgresUser)
        {
            await ChildProcess.RunAsync("chown", ["-R", "postgres:postgres", _directory], TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        await RunPostgresToolAsync("initdb", ["-D", DataDirectory, "-U", "postgres", "--auth=scram-sha-256", $"--pwfile={passwordFile}", "-E", "UTF8", "--no-sync", "--no-instructions"], TimeSpan.FromMinutes(2)).ConfigureAwait(false);

        // A port found free can be taken before the server binds it: try a few.
        for (var attempt = 1; ; attempt++)
        {
            var port = LoopbackPorts.GetFree(1)[0];
            _startOptions = $"-p {port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " +
                            "-c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB -c maintenance_work_mem=256MB";
            try
            {
                await StartAsync().ConfigureAwait(false);
                AdminConnectionString = new NpgsqlConnectionStringBuilder
                {
                    Host = "127.0.0.1",
                    Port = port,
                    Username = "postgres",
                    Password = password,
                    Database = "postgres",
                    MaxPoolSize = 20,
                }.ConnectionString;
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
            }
        }
    }

    private Task PgCtlAsync(string[] arguments) => RunPostgresToolAsync("pg_ctl", arguments, TimeSpan.FromMinutes(1));

    private Task RunPostgresToolAsync(string tool, string[] arguments, TimeSpan timeout)
    {
        var path = Path.Combine(_binDirectory!, tool);
        return _asPostgresUser
            ? ChildProcess.RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments], timeout)
            : ChildProcess.RunAsync(path, arguments, timeout);
    }

    private static string? FindBinDirectory()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("EMBEDDINGS_PG_BINDIR") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        candidates.Add("/usr/lib/postgresql/15/bin");
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql").OrderDescending().Select(d => Path.Combine(d, "bin")));
        }

        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")));
    }

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
