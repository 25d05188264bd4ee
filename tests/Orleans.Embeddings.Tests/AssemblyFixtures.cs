using Orleans.Embeddings.Testing;

[assembly: AssemblyFixture(typeof(PostgresServer))]
