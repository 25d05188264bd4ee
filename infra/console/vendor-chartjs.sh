#!/usr/bin/env bash
# Refreshes the operator console's copy of Chart.js from the npm registry (the console serves it itself: the page
# must work with no access to the Internet). Usage: bash infra/console/vendor-chartjs.sh [version]
# npm checks the tarball against the registry's integrity hash; the copy's SHA-256 is printed for the commit message.
set -euo pipefail
version=${1:-4.6.1}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target="$root/silo/Orleans.Embeddings.Silo/Console/assets/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "chart.js@$version" >/dev/null && tar xzf chart.js-"$version".tgz)
mkdir -p "$target"
cp "$work/package/dist/chart.umd.min.js" "$target/chart.umd.min.js"
cp "$work/package/LICENSE.md" "$target/chart.js.LICENSE.md"
echo "chart.js $version: $(sha256sum "$target/chart.umd.min.js" | cut -d' ' -f1)"
