#!/usr/bin/env bash
# Stops the project-local PostgreSQL cluster started by infra/postgres/setup.sh (pg_ctl stop -m fast).
# Idempotent: does nothing when it is not running.
#   bash infra/postgres/stop.sh           # stop
#   bash infra/postgres/stop.sh --purge   # stop, then delete $EMBEDDINGS_PG_HOME (data, password, log)
# Uses the same EMBEDDINGS_PG_HOME default as setup.sh.
set -euo pipefail

log() { echo "[postgres] $*" >&2; }
die() { log "error: $*"; exit 1; }

purge=false
for arg in "$@"; do
  case "$arg" in
    --purge) purge=true ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg (expected --purge)" ;;
  esac
done

for v in $(compgen -e | grep '^PG' || true); do unset "$v"; done
cd /

PG_BIN=/usr/lib/postgresql/15/bin
if [ "$(id -u)" -eq 0 ]; then
  default_home=/var/lib/orleans-embeddings/postgres
  run_as=(runuser -u postgres --)
else
  default_home="${XDG_DATA_HOME:-$HOME/.local/share}/orleans-embeddings/postgres"
  run_as=()
fi
home=${EMBEDDINGS_PG_HOME:-$default_home}
data=$home/data
case "$home" in /?*) ;; *) die "EMBEDDINGS_PG_HOME=$home must be an absolute path" ;; esac

if [ -f "$data/PG_VERSION" ] && [ -x "$PG_BIN/pg_ctl" ] &&
   "${run_as[@]}" "$PG_BIN/pg_ctl" status -D "$data" >/dev/null 2>&1; then
  log "stopping the cluster in $data"
  "${run_as[@]}" "$PG_BIN/pg_ctl" stop -D "$data" -m fast -w >&2
else
  log "no running cluster in $data"
fi

if $purge && [ -e "$home" ]; then
  # Refuse to delete anything that does not look like a directory made by setup.sh.
  if [ -n "$(ls -A "$home")" ] && [ ! -f "$data/PG_VERSION" ] && [ ! -f "$home/password" ]; then
    die "$home does not look like an orleans-embeddings PostgreSQL home; not deleting it"
  fi
  log "deleting $home"
  rm -rf -- "$home"
fi
