#!/usr/bin/env bash
# Provisions PostgreSQL 15 + pgvector 0.8.0 on Debian 12 (bookworm) and, unless --install-only is
# given, creates and starts a project-local cluster on 127.0.0.1:$EMBEDDINGS_PG_PORT.
#
#   bash infra/postgres/setup.sh                 # install if missing, start the cluster, print the connection
#   bash infra/postgres/setup.sh --install-only  # install if missing, nothing else (prints nothing on stdout)
#
# Idempotent: a second run installs, builds and restarts nothing. Log lines go to stderr; the only
# stdout line is the last one: EMBEDDINGS_PG_CONNECTION=Host=127.0.0.1;Port=...;Database=...;Username=...;Password=...
# See infra/postgres/README.md for the variables and where the files live.
set -euo pipefail

log() { echo "[postgres] $*" >&2; }
die() { log "error: $*"; exit 1; }

install_only=false
for arg in "$@"; do
  case "$arg" in
    --install-only) install_only=true ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $arg (expected --install-only)" ;;
  esac
done

# Libpq variables of the caller must not redirect our own psql calls.
for v in $(compgen -e | grep '^PG' || true); do unset "$v"; done
# The repository may live in a directory the postgres user cannot enter; every path below is absolute.
cd /

PG_MAJOR=15
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
PGVECTOR_VERSION=0.8.0
# Debian release that carries pgvector 0.8.0 as a source package, and the mirror to take it from.
PGVECTOR_SUITE=${EMBEDDINGS_PGVECTOR_SUITE:-trixie}
DEBIAN_MIRROR=${EMBEDDINGS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

is_root=false
[ "$(id -u)" -eq 0 ] && is_root=true

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
apt_updated=false

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }

apt_install() {
  $is_root || die "packages missing ($*); run this script once as root (or install them with apt-get)"
  if ! $apt_updated; then
    log "apt-get update"
    apt-get update -q >&2
    apt_updated=true
  fi
  log "apt-get install $*"
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >&2
}

missing=()
for p in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR make gcc; do
  installed "$p" || missing+=("$p")
done

if ! installed postgresql-$PG_MAJOR && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  # Fresh machine: install postgresql-common alone first, then tell it not to create (and start)
  # the default "main" cluster on 5432 when postgresql-15 is installed; we run our own cluster.
  apt_install postgresql-common
  if [ -f /etc/postgresql-common/createcluster.conf ] &&
     ! grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' /etc/postgresql-common/createcluster.conf; then
    log "setting create_main_cluster = false in /etc/postgresql-common/createcluster.conf"
    printf '\n# Set by orleans-embeddings infra/postgres/setup.sh: no default cluster on 5432.\ncreate_main_cluster = false\n' \
      >> /etc/postgresql-common/createcluster.conf
  fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found after installing postgresql-server-dev-$PG_MAJOR"

# ---------------------------------------------------------------------------------------------
# 2. pgvector 0.8.0, built from the Debian source package of $PGVECTOR_SUITE
# ---------------------------------------------------------------------------------------------
ext_dir="$("$PG_CONFIG" --sharedir)/extension"
pkglib_dir="$("$PG_CONFIG" --pkglibdir)"

pgvector_installed() {
  [ -f "$ext_dir/vector.control" ] && [ -f "$pkglib_dir/vector.so" ] &&
    grep -Eq "^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'$PGVECTOR_VERSION'" "$ext_dir/vector.control"
}

build_pgvector() {
  $is_root || die "pgvector $PGVECTOR_VERSION is not installed; run this script once as root"
  installed dpkg-dev || apt_install dpkg-dev
  # debian-archive-keyring >= 2023.3+deb12u1 (a bookworm update) holds the trixie signing keys.
  if [ "$PGVECTOR_SUITE" = trixie ] && [ ! -e /usr/share/keyrings/debian-archive-trixie-automatic.gpg ]; then
    apt_install debian-archive-keyring
    [ -e /usr/share/keyrings/debian-archive-trixie-automatic.gpg ] ||
      die "$DEBIAN_KEYRING has no trixie signing keys even after upgrading debian-archive-keyring"
  fi

  local tmp
  tmp=$(mktemp -d /tmp/orleans-embeddings-pgvector.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  chmod 755 "$tmp"   # apt downloads as the unprivileged _apt user
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/src"
  if getent passwd _apt >/dev/null; then chown _apt "$tmp/src"; fi

  # A private, throw-away apt setup: its own sources list (one deb-src line, verified with the
  # Debian archive keyring), its own index and cache directories. /etc/apt/sources.list(.d) and
  # /var/lib/apt/lists are neither read nor written; the system's apt configuration is untouched.
  # Apt reads this file (-c) after its default configuration, so these settings win.
  echo "deb-src [signed-by=$DEBIAN_KEYRING] $DEBIAN_MIRROR $PGVECTOR_SUITE main" > "$tmp/sources.list"
  cat > "$tmp/apt.conf" <<EOF
Dir::Etc::sourcelist "$tmp/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$tmp/lists";
Dir::Cache "$tmp/cache";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
EOF
  local apt=(-c "$tmp/apt.conf" -q)

  log "fetching the pgvector source index of Debian $PGVECTOR_SUITE (private apt state in $tmp)"
  apt-get "${apt[@]}" update >&2
  local version
  version=$(apt-cache "${apt[@]}" showsrc pgvector | sed -n 's/^Version: //p' |
            grep -E "^([0-9]+:)?${PGVECTOR_VERSION//./\\.}-" | sort -V | tail -n 1 || true)
  [ -n "$version" ] || die "Debian $PGVECTOR_SUITE has no pgvector $PGVECTOR_VERSION source package"

  log "downloading the pgvector $version source package"
  (cd "$tmp/src" && apt-get "${apt[@]}" source --download-only "pgvector=$version" >&2)
  # apt has checked the .dsc and tarballs against the signed Sources index; dpkg-source checks the
  # tarballs against the .dsc again (it may warn that it cannot verify the uploader's .dsc signature
  # when the debian-keyring package is not installed: that is expected).
  local dsc
  dsc=$(ls "$tmp"/src/pgvector_*.dsc)
  dpkg-source -x "$dsc" "$tmp/build" >&2

  # OPTFLAGS="" replaces pgvector's default -march=native: the build must run on any x86-64 CPU.
  log "building pgvector $version (OPTFLAGS=\"\", PG_CONFIG=$PG_CONFIG)"
  make -C "$tmp/build" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >&2
  make -C "$tmp/build" PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >&2

  rm -rf "$tmp"
  trap - EXIT
  pgvector_installed || die "pgvector $PGVECTOR_VERSION is still not installed after the build"
  log "pgvector $PGVECTOR_VERSION installed into $ext_dir"
}

if pgvector_installed; then
  log "PostgreSQL $PG_MAJOR and pgvector $PGVECTOR_VERSION are installed"
else
  build_pgvector
fi

$install_only && exit 0

# ---------------------------------------------------------------------------------------------
# 3. The project-local cluster
# ---------------------------------------------------------------------------------------------
if $is_root; then
  default_home=/var/lib/orleans-embeddings/postgres
  run_as=(runuser -u postgres --)
  admin=postgres
  getent passwd postgres >/dev/null || die "the postgres OS user does not exist"
else
  default_home="${XDG_DATA_HOME:-$HOME/.local/share}/orleans-embeddings/postgres"
  run_as=()
  admin=$(id -un)
fi
port=${EMBEDDINGS_PG_PORT:-55432}
home=${EMBEDDINGS_PG_HOME:-$default_home}
user=${EMBEDDINGS_PG_USER:-embeddings}
database=${EMBEDDINGS_PG_DATABASE:-embeddings}
data=$home/data
socket_dir=$home/run
logfile=$home/postgres.log

[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "EMBEDDINGS_PG_PORT=$port is not a port number"
case "$home" in /?*) ;; *) die "EMBEDDINGS_PG_HOME=$home must be an absolute path" ;; esac
[[ "$user" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "EMBEDDINGS_PG_USER=$user: use letters, digits and _"
[[ "$database" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "EMBEDDINGS_PG_DATABASE=$database: use letters, digits and _"

pg() { "${run_as[@]}" "$PG_BIN/$1" "${@:2}"; }
admin_psql() { "${run_as[@]}" "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U "$admin" "$@"; }

# Directories: the home belongs to the server's OS user; only it (and root) may enter.
if [ ! -d "$socket_dir" ] || [ ! -d "$data" ]; then
  mkdir -p "$home"
  if $is_root; then
    parent=$(dirname "$home")
    if [ "$parent" = /var/lib/orleans-embeddings ]; then chmod 755 "$parent"; fi
    chown postgres:postgres "$home"
  fi
  chmod 700 "$home"
  "${run_as[@]}" mkdir -p -m 700 "$socket_dir"
fi

# The password, generated once.
password_file=$home/password
if [ ! -s "$password_file" ]; then
  log "generating the password of $user into $password_file"
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$password_file")
fi
chmod 600 "$password_file"
password=$(cat "$password_file")

# initdb.
if [ ! -f "$data/PG_VERSION" ]; then
  if [ -d "$data" ] && [ -n "$(ls -A "$data")" ]; then
    die "$data exists, is not empty and holds no cluster; remove it or set EMBEDDINGS_PG_HOME"
  fi
  log "initdb $data (superuser $admin)"
  pg initdb -D "$data" -U "$admin" -E UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >&2
  cat > "$data/pg_hba.conf.new" <<EOF
# Written by orleans-embeddings infra/postgres/setup.sh.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       $admin    peer
host    all       all       127.0.0.1/32   scram-sha-256
EOF
  mv "$data/pg_hba.conf.new" "$data/pg_hba.conf"
  echo "include 'orleans-embeddings.conf'" >> "$data/postgresql.conf"
  if $is_root; then chown postgres:postgres "$data/pg_hba.conf"; fi
fi

# Settings (for a 2-core / 24 GiB machine), in a file included by postgresql.conf.
conf=$data/orleans-embeddings.conf
desired_conf="# Written by orleans-embeddings infra/postgres/setup.sh; rewritten when it differs.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
password_encryption = 'scram-sha-256'
shared_buffers = 1GB
max_connections = 200
maintenance_work_mem = 1GB
max_parallel_maintenance_workers = 2
effective_cache_size = 16GB
work_mem = 16MB
"
conf_changed=false
if [ "$(cat "$conf" 2>/dev/null || true)" != "${desired_conf%$'\n'}" ]; then
  log "writing $conf"
  printf '%s' "$desired_conf" > "$conf"
  if $is_root; then chown postgres:postgres "$conf"; fi
  conf_changed=true
fi

# Start (or restart after a settings change).
running=false
if pg pg_ctl status -D "$data" >/dev/null 2>&1; then running=true; fi
if $running && $conf_changed; then
  log "settings changed; restarting"
  pg pg_ctl stop -D "$data" -m fast -w >&2
  running=false
fi
if ! $running; then
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port on 127.0.0.1 is already taken by another process; set EMBEDDINGS_PG_PORT to a free port"
  fi
  log "starting the cluster on 127.0.0.1:$port (log: $logfile)"
  if ! pg pg_ctl start -D "$data" -l "$logfile" -w -t 120 >&2; then
    tail -n 20 "$logfile" >&2 || true
    die "the cluster did not start; see $logfile"
  fi
else
  log "the cluster in $data is running on 127.0.0.1:$port"
fi

# Role, database and extension, each only when missing or different.
tcp_ok() {
  PGPASSWORD=$password PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -At -h 127.0.0.1 -p "$port" \
    -U "$user" -d "$1" -c 'SELECT 1' >/dev/null 2>&1
}
# psql substitutes :'variables' only in scripts read from stdin/files, not in -c.
role_state=$(admin_psql -d postgres -v u="$user" <<'SQL'
SELECT CASE WHEN rolsuper AND rolcanlogin THEN 'ok' ELSE 'alter' END FROM pg_roles WHERE rolname = :'u';
SQL
)
if [ -z "$role_state" ]; then
  log "creating role $user (LOGIN SUPERUSER)"
  admin_psql -d postgres -v u="$user" -v p="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', :'u', :'p') \gexec
SQL
elif [ "$role_state" != ok ]; then
  log "granting LOGIN SUPERUSER to role $user"
  admin_psql -d postgres -v u="$user" <<'SQL'
SELECT format('ALTER ROLE %I LOGIN SUPERUSER', :'u') \gexec
SQL
fi

db_exists=$(admin_psql -d postgres -v d="$database" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'d';
SQL
)
if [ -z "$db_exists" ]; then
  log "creating database $database owned by $user"
  admin_psql -d postgres -v d="$database" -v u="$user" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u') \gexec
SQL
fi

if ! tcp_ok "$database"; then
  log "setting the password of role $user"
  admin_psql -d postgres -v u="$user" -v p="$password" <<'SQL'
SELECT format('ALTER ROLE %I PASSWORD %L', :'u', :'p') \gexec
SQL
  tcp_ok "$database" || die "cannot log in as $user over TCP on 127.0.0.1:$port (see $data/pg_hba.conf)"
fi

ext_version=$(admin_psql -d "$database" -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
if [ -z "$ext_version" ]; then
  log "CREATE EXTENSION vector in $database"
  admin_psql -d "$database" -c 'CREATE EXTENSION IF NOT EXISTS vector'
elif [ "$ext_version" != "$PGVECTOR_VERSION" ]; then
  log "ALTER EXTENSION vector UPDATE ($ext_version -> $PGVECTOR_VERSION) in $database"
  admin_psql -d "$database" -c 'ALTER EXTENSION vector UPDATE'
fi

# The connection string, in a file and as the last stdout line.
connection="Host=127.0.0.1;Port=$port;Database=$database;Username=$user;Password=$password"
connection_file=$home/connection-string
if [ "$(cat "$connection_file" 2>/dev/null || true)" != "$connection" ]; then
  (umask 077 && printf '%s\n' "$connection" > "$connection_file")
fi
chmod 600 "$connection_file"
log "ready: database $database on 127.0.0.1:$port, user $user (connection string in $connection_file)"
echo "EMBEDDINGS_PG_CONNECTION=$connection"
