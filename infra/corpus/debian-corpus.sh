#!/usr/bin/env bash
# Builds the project's real corpus: Debian's package descriptions (bookworm main, ~64k packages), as
# JSON lines in the project's document-change format, one document per package:
#   {"collection":"debian","id":"<package>","op":"upsert","content":"<long description>","metadata":{"title":"<synopsis>","section":"<section>"}}
# The synopsis is kept out of the content, so that it can serve as a query whose answer is known.
#
#   bash infra/corpus/debian-corpus.sh [output.jsonl]
#
# apt fetches the indexes (Packages for the sections, Translation-en for the descriptions) into a
# project-local state directory; the system's apt configuration and lists are neither read nor written.
# Idempotent: a second run only re-validates the indexes and rewrites the file.
set -euo pipefail

log() { echo "[corpus] $*" >&2; }

if [ "$(id -u)" -eq 0 ]; then home_default=/var/lib/orleans-embeddings; else home_default="${XDG_DATA_HOME:-$HOME/.local/share}/orleans-embeddings"; fi
home=${EMBEDDINGS_DATA_HOME:-$home_default}
out=${1:-$home/corpus/debian.jsonl}
mirror=${EMBEDDINGS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${EMBEDDINGS_CORPUS_SUITE:-bookworm}
state=$home/corpus/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$(dirname "$out")"

echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$state/sources.list"
cat > "$state/apt.conf" <<EOF
Dir::Etc::sourcelist "$state/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$state/lists";
Dir::Cache "$state/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "en";
Acquire::GzipIndexes "false";
APT::Architectures { "amd64"; };
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
EOF

log "fetching the $suite package indexes (state in $state)"
apt-get -c "$state/apt.conf" -q update >&2

packages=$(ls "$state"/lists/*_"$suite"_main_binary-amd64_Packages 2>/dev/null | head -n 1)
translations=$(ls "$state"/lists/*_"$suite"_main_i18n_Translation-en 2>/dev/null | head -n 1)
[ -n "$packages" ] || { log "error: apt fetched no Packages index"; exit 1; }
[ -n "$translations" ] || { log "error: apt fetched no Translation-en index"; exit 1; }

log "writing $out"
# First file: package -> section. Second: the descriptions, one stanza per package; the first line
# of Description-en is the synopsis, continuation lines start with a space and " ." is a blank line.
awk '
  function json(s,   r) {
    # Eight backslashes make two in the output: the string literal halves them, the replacement again (as mawk, the awk of Debian, does).
    gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s); gsub(/\r/, "", s)
    gsub(/\n/, "\\n", s)
    return s
  }
  function flush() {
    if (pkg != "" && synopsis != "" && body != "" && !(pkg in seen)) {
      seen[pkg] = 1
      printf "{\"collection\":\"debian\",\"id\":\"%s\",\"op\":\"upsert\",\"content\":\"%s\",\"metadata\":{\"title\":\"%s\",\"section\":\"%s\"}}\n", json(pkg), json(body), json(synopsis), json(section[pkg])
    }
    pkg = ""; synopsis = ""; body = ""; indesc = 0
  }
  FNR == NR {
    if ($0 ~ /^Package: /) { p = substr($0, 10) }
    else if ($0 ~ /^Section: /) { section[p] = substr($0, 10) }
    next
  }
  /^$/ { flush(); next }
  /^Package: / { pkg = substr($0, 10); next }
  /^Description-en: / { synopsis = substr($0, 17); indesc = 1; next }
  /^ / && indesc {
    line = substr($0, 2)
    if (line == ".") line = ""
    body = (body == "") ? line : body "\n" line
    next
  }
  { indesc = 0 }
  END { flush() }
' "$packages" "$translations" > "$out.tmp"
mv "$out.tmp" "$out"
log "$(wc -l < "$out") documents in $out"
echo "$out"
