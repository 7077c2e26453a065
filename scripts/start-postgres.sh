#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the PostgreSQL hub store's tests, and prints the line that
# points the tests at it:
#
#     eval "$(bash scripts/start-postgres.sh)"     # sets RELAIS_TEST_POSTGRES_URL and RELAIS_TEST_POSTGRES_DATA
#
# Installs nothing: it needs Debian's postgresql 15 (`apt-get install -y postgresql`) and runs as root
# (the server refuses root, so the cluster belongs to the `postgres` user). The cluster lives in a new
# temporary folder, trusts loopback connections (`-A trust`, for tests only), listens on 127.0.0.1 on a
# free port and keeps its socket in that folder. Progress goes to stderr; stdout carries only the export
# lines: the server's URL and its data folder (RELAIS_TEST_POSTGRES_DATA, for the fault simulation's
# `pg_ctl restart -m immediate`, which keeps the port: pg_ctl reuses the options of the last start).
# Stop it with the command printed on stderr, or let the machine go.
set -euo pipefail

bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "error: no PostgreSQL 15 in $bin; install Debian's postgresql package first" >&2
    exit 1
fi
if ! id postgres >/dev/null 2>&1; then
    echo "error: no 'postgres' user; install Debian's postgresql package first" >&2
    exit 1
fi
as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# A free loopback port: a random one above the well-known ranges that nothing answers on.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${PG_PORT:-}
if [ -z "$port" ]; then
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 30000))
        if ! port_in_use "$port"; then break; fi
    done
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/relais-postgres.XXXXXX")
chmod 755 "$dir"
chown postgres:postgres "$dir"
as_postgres "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
}
# -w waits until the server accepts connections (or fails after pg_ctl's timeout).
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500" start >&2 || {
    cat "$dir/log" >&2
    exit 1
}
if [ -x "$bin/pg_isready" ]; then
    for _ in $(seq 1 50); do
        if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
        sleep 0.1
    done
fi

echo "PostgreSQL 15 listens on 127.0.0.1:$port (cluster in $dir)." >&2
echo "Stop it with: runuser -u postgres -- $bin/pg_ctl -D $dir/data stop" >&2
echo "export RELAIS_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres"
echo "export RELAIS_TEST_POSTGRES_DATA=$dir/data"
