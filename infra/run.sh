#!/usr/bin/env bash
# The main job on embedded defaults: sets up the local PostgreSQL + pgvector if missing, builds the
# silo host and runs it in the foreground (localhost clustering, CPU, the event log in PostgreSQL).
# Extra arguments go to the silo, e.g. --Urls=http://127.0.0.1:8081 or --Embeddings:Cluster:SiloPort=11112.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
configuration=${EMBEDDINGS_CONFIGURATION:-Release}

connection=$(bash "$root/infra/postgres/setup.sh" | sed -n 's/^EMBEDDINGS_PG_CONNECTION=//p' | tail -n 1)
if [ -z "$connection" ]; then
  echo "[run] infra/postgres/setup.sh did not print a connection string" >&2
  exit 1
fi

echo "[run] building the silo host ($configuration)" >&2
dotnet build "$root/silo/Orleans.Embeddings.Silo/Orleans.Embeddings.Silo.csproj" -c "$configuration" -nologo -clp:ErrorsOnly -v quiet

export Embeddings__Database__ConnectionString="${Embeddings__Database__ConnectionString:-$connection}"
echo "[run] starting the silo; health on /health, readiness on /ready, dashboard on /dashboard (Ctrl+C stops it)" >&2
exec dotnet "$root/silo/Orleans.Embeddings.Silo/bin/$configuration/net10.0/Orleans.Embeddings.Silo.dll" "$@"
