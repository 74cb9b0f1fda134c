#!/usr/bin/env bash
# Usage: Tests/Postgres/with-cluster.sh COMMAND [ARG...]
# Starts a throwaway PostgreSQL cluster (initdb in a fresh temporary directory, a free port, local
# trust authentication, fsync off: it holds test data only; PG_FSYNC=on keeps PostgreSQL's durable
# defaults instead, fsync and full_page_writes on, for benchmarks), runs COMMAND with
# LORA_SQUEEZE_TEST_POSTGRES set to its URL, then stops the cluster and removes it, whatever COMMAND
# did. Exits with COMMAND's status. `make test` runs the catalog suites on PostgreSQL through it.
# LORA_SQUEEZE_TEST_PG_STOP and LORA_SQUEEZE_TEST_PG_START are shell commands that stop and restart
# the cluster (for outage tests: `bash -c "$LORA_SQUEEZE_TEST_PG_STOP"`).
#
# PostgreSQL comes from Debian (installed when missing; 13 or newer). initdb refuses to run as root,
# so as root the cluster belongs to the `postgres` user the Debian package creates.
set -euo pipefail

bindir=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && { bindir="$dir"; break; }
done
if [ -z "$bindir" ]; then
    echo "== installing PostgreSQL from Debian"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V -r | head -1)"
fi

as_owner=()
owner="$(id -un)"
if [ "$(id -u)" = 0 ]; then owner=postgres; as_owner=(runuser -u postgres --); fi

root="$(mktemp -d /tmp/lora-pg.XXXXXX)"
chown "$owner" "$root"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
durability="-c fsync=off -c full_page_writes=off"
case "${PG_FSYNC:-off}" in
    off) ;;
    on) durability="-c fsync=on -c full_page_writes=on" ;;
    *) echo "PG_FSYNC must be on or off, not '$PG_FSYNC'" >&2; exit 2 ;;
esac
stop() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$root/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$root"
}
trap stop EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$root/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1 \
    || { cat "$root/initdb.log"; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 30 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root $durability -c max_connections=200" >/dev/null \
    || { cat "$root/server.log"; exit 1; }
"$bindir/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE lora_test" >/dev/null

export LORA_SQUEEZE_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$port/lora_test"
# For tests of an outage: commands that stop the server (fast shutdown, connections cut) and start it
# again on the same port and data.
export LORA_SQUEEZE_TEST_PG_STOP="${as_owner[*]} $bindir/pg_ctl -D $root/data -m fast -w stop"
export LORA_SQUEEZE_TEST_PG_START="${as_owner[*]} $bindir/pg_ctl -D $root/data -l $root/server.log -w -t 30 start -o '-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root $durability -c max_connections=200'"
echo "== PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on $LORA_SQUEEZE_TEST_POSTGRES${PG_FSYNC:+ (fsync $PG_FSYNC)}"
set +e
"$@"
status=$?
set -e
exit $status
