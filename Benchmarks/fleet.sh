#!/usr/bin/env bash
# The fleet benchmark: SQLite against PostgreSQL, one process or replica against three
# (Benchmarks/fleet/bench_fleet.py does the work; its docstring has the details). Prints figures;
# asserts nothing but that every answer has the expected status and size.
#
#   Benchmarks/fleet.sh [RUNS]        (default 3: every cell measured RUNS times; medians and ranges)
#
# Two throwaway PostgreSQL clusters from Tests/Postgres/with-cluster.sh run side by side: one with
# fsync off (that script's default, for tests) and one with PG_FSYNC=on (PostgreSQL's durable defaults).
# On them and on SQLite, release builds of `lora-squeeze serve --auth off` on loopback:
#   sqlite  one process (catalog.sqlite, synchronous=FULL)
#   pg1     one replica, PostgreSQL fsync off        pgon1  one replica, PostgreSQL fsync on
#   pg3     three replicas on one PostgreSQL (fsync off) catalog and one shared blob directory
# and measures
#   1. cold squeezes of a Gemma-2B-shaped adapter (FLEET_LAYERS layers, r 64, f32) to five ranks never
#      asked before, time to the last byte (curl); pg3 asked through its three replicas at once, with
#      the number of squeezes the fleet computed (lora_squeeze_squeeze_duration_seconds_count summed);
#   2. cached downloads with wrk, 64 connections, FLEET_WRK_SECONDS per run, of that adapter at rank 16
#      (tens of MiB) and of a small one at rank 6 (about 50 kB): sqlite, pg1, pg3 (one wrk per replica
#      at once, summed) and pg3 behind an nginx upstream;
#   3. catalog operations per second through HTTP, 1 client and 8, FLEET_OP_SECONDS per run: lookups by
#      name, listings of 100, name moves and uploads of a tiny adapter (new content every time);
#      sqlite, pg1, pgon1 and (8 clients) pg3.
#
# The binary: SERVICE_BINARY, or `swift build -c release --product lora-squeeze` of this work tree
# (.build/release/lora-squeeze); either is copied into the work directory first, so a rebuild during the
# run changes nothing. Needs wrk, nginx, curl, psql and PostgreSQL ≥ 13 (with-cluster.sh installs
# PostgreSQL from Debian when missing; this script installs wrk and nginx the same way), python3 with
# numpy and safetensors (pip-installed when missing).
#
# Environment: SERVICE_BINARY, FLEET_WRK_SECONDS (default 20), FLEET_OP_SECONDS (default 3),
# FLEET_LAYERS (default 10: 166 MiB), FLEET_SKIP (comma-separated: cold,download,catalog),
# FLEET_OUT (raw wrk output, results.json and server logs; default .build-bench/fleet).
# Takes about 13 minutes on the 2-vCPU project machine (plus the build). Temporary data (about 2 GiB)
# lives under TMPDIR (/tmp) and is removed on exit; the clusters are removed by with-cluster.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cluster="$root/Tests/Postgres/with-cluster.sh"

case "${FLEET_STAGE:-}" in
off)   # inside the fsync-off cluster: start the fsync-on one inside it
    export FLEET_PG_OFF="$LORA_SQUEEZE_TEST_POSTGRES"
    FLEET_STAGE=on PG_FSYNC=on exec bash "$cluster" bash "$0" "$@" ;;
on)    # inside both
    exec python3 "$root/Benchmarks/fleet/bench_fleet.py" "$FLEET_BIN" --pg-off "$FLEET_PG_OFF" \
        --pg-on "$LORA_SQUEEZE_TEST_POSTGRES" --work "$FLEET_WORK" --out "$FLEET_OUT" --runs "${1:-3}" \
        --wrk-seconds "${FLEET_WRK_SECONDS:-20}" --op-seconds "${FLEET_OP_SECONDS:-3}" \
        --layers "${FLEET_LAYERS:-10}" --skip "${FLEET_SKIP:-}" ;;
esac

t0=$(date +%s)
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"
python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors

work="$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench.XXXXXX")"
chmod 755 "$work"   # nginx's workers run as an unprivileged user
trap 'rm -rf "$work"' EXIT
if [ -n "${SERVICE_BINARY:-}" ]; then
    cp "$SERVICE_BINARY" "$work/lora-squeeze"
else
    echo "== swift build -c release --product lora-squeeze"
    (cd "$root" && swift build -c release --product lora-squeeze 2>&1 | tail -1)
    cp "$root/.build/release/lora-squeeze" "$work/lora-squeeze"
fi
out="${FLEET_OUT:-$root/.build-bench/fleet}"
rm -rf "$out" && mkdir -p "$out"
echo "binary: ${SERVICE_BINARY:-$root/.build/release/lora-squeeze} ($(git -C "$root" describe --always --dirty 2>/dev/null || echo '?'); sources changed since HEAD: $(git -C "$root" status --porcelain -- Sources 2>/dev/null | wc -l))"
echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(curl --version | head -1 | cut -d' ' -f1-2)"

status=0
FLEET_STAGE=off PG_FSYNC=off FLEET_BIN="$work/lora-squeeze" FLEET_WORK="$work" FLEET_OUT="$out" \
    bash "$cluster" bash "$0" "$@" || status=$?
cp "$work"/logs/*.log "$out/" 2>/dev/null || true
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); whole script $(( ($(date +%s) - t0) / 60 )) min $(( ($(date +%s) - t0) % 60 )) s; raw output in $out"
exit $status
