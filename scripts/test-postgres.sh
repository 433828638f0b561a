#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: initdb into a temp dir, listening on 127.0.0.1
# only, on a free port, as a non-root user (`postgres` when run as root). Prints the lines to
# eval; the cluster lives until `scripts/test-postgres.sh stop <dir>` (or the machine goes).
#   eval "$(bash scripts/test-postgres.sh start)"   # sets FLOWHOOK_TEST_DATABASE_URL, FLOWHOOK_TEST_PG_DIR
#   bash scripts/test-postgres.sh stop "$FLOWHOOK_TEST_PG_DIR"
set -euo pipefail

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then
    echo "test-postgres: no PostgreSQL under /usr/lib/postgresql (apt-get install -y postgresql)" >&2
    exit 1
  fi
  echo "$bin"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    bin=$(pg_bin)
    dir=$(mktemp -d /tmp/flowhook-pg.XXXXXX)
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
    as_owner "$bin/initdb" -D "$dir/data" -U flowhook -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    # A test cluster: durability off for speed, sockets in the temp dir only.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null ||
      { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U flowhook flowhook
    echo "export FLOWHOOK_TEST_DATABASE_URL=postgres://flowhook@127.0.0.1:$port/flowhook"
    echo "export FLOWHOOK_TEST_PG_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: test-postgres.sh stop <dir>}
    bin=$(pg_bin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: test-postgres.sh start | stop <dir>" >&2
    exit 2
    ;;
esac
