# Throwaway servers for tests and benchmarks, sourced by .ci/test and bench/run.
#   start_postgres   sets PG_URL (postgresql+psycopg://postgres@127.0.0.1:PORT/postgres)
#   start_redis      sets REDIS_URL_LOCAL (redis://127.0.0.1:PORT/0)
#   stop_services    stops what was started; call it from an EXIT trap.
# Both listen on 127.0.0.1 only, on a free port, with their data in a temporary directory.

_SERVICES_DIR=""

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_services_dir() {
  if [ -z "$_SERVICES_DIR" ]; then
    _SERVICES_DIR="$(mktemp -d /tmp/webapp-services.XXXXXX)"
    chmod 755 "$_SERVICES_DIR"
  fi
}

_apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root (or $*) installed" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

_pg_bin() {
  # The server's bin directory: the client package alone creates .../bin too (psql), so
  # look for initdb, which only the server package ships.
  local initdb
  initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)"
  [ -n "$initdb" ] && dirname "$initdb"
}

# Run a command as the postgres user when we are root (initdb refuses root).
_as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$*"
  else
    sh -c "$*"
  fi
}

start_postgres() {
  [ -n "$(_pg_bin)" ] || _apt_install postgresql
  local bin port dir
  bin="$(_pg_bin)"
  _services_dir
  dir="$_SERVICES_DIR/pg"
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  port="$(free_port)"
  _as_pg "$bin/initdb -D $dir/data -U postgres --auth=trust -E UTF8 --no-sync >$dir/initdb.log 2>&1" ||
    { cat "$dir/initdb.log" >&2; return 1; }
  # A disposable cluster: durability off makes the test suite several times faster.
  _as_pg "$bin/pg_ctl -D $dir/data -l $dir/log -w start -o \"-p $port -k $dir \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=200\"" >/dev/null ||
    { cat "$dir/log" >&2; return 1; }
  PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  PG_BIN="$bin"
  PG_DATA="$dir/data"
  export PG_URL
}

start_redis() {
  command -v redis-server >/dev/null || _apt_install redis-server
  local port
  _services_dir
  port="$(free_port)"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$_SERVICES_DIR/redis.pid" --logfile "$_SERVICES_DIR/redis.log" \
    --dir "$_SERVICES_DIR"
  REDIS_URL_LOCAL="redis://127.0.0.1:$port/0"
  export REDIS_URL_LOCAL
}

stop_services() {
  if [ -n "${PG_DATA:-}" ] && [ -d "$PG_DATA" ]; then
    _as_pg "$PG_BIN/pg_ctl -D $PG_DATA -m immediate -w stop" >/dev/null 2>&1 || true
  fi
  if [ -n "$_SERVICES_DIR" ] && [ -f "$_SERVICES_DIR/redis.pid" ]; then
    kill "$(cat "$_SERVICES_DIR/redis.pid")" 2>/dev/null || true
  fi
  [ -n "$_SERVICES_DIR" ] && rm -rf "$_SERVICES_DIR"
  PG_DATA=""
  _SERVICES_DIR=""
}
