#!/usr/bin/env bash
# Builds the built-in evaluation set from the Debian corpus: the query is a package's one-line synopsis (kept out of
# the package's content by debian-corpus.sh), and the one relevant document is that package. Synopses shared by
# several packages (ambiguous) and of fewer than three words are left out; every 32nd usable package is taken.
#
#   bash infra/corpus/debian-eval-set.sh [output-directory]      # default: next to the corpus, in eval/
#
# Writes queries.tsv and qrels.tsv for `embeddings eval --queries … --qrels …` and prints the directory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
corpus=$(bash "$root/infra/corpus/debian-corpus.sh" | tail -n 1)
out=${1:-$(dirname "$corpus")/eval}
dotnet build "$root/client/Orleans.Embeddings.Cli/Orleans.Embeddings.Cli.csproj" -c Release -nologo -clp:ErrorsOnly -v quiet >&2
dotnet "$root/client/Orleans.Embeddings.Cli/bin/Release/net10.0/embeddings.dll" eval build-set --corpus "$corpus" --out "$out" >&2
echo "$out"
