#!/usr/bin/env bash
# The dashboard benchmark: every page of /ui/ timed against a catalog of 10,000 adapters, with the
# server's own figure (the `Server-Timing: render;dur=MS` header every page carries) and the client's.
# The issue's target: a page renders in under 50 ms server-side for 10,000 adapters (paged). Prints
# figures and PASS/FAIL per page; exits non-zero only when the benchmark itself cannot run (a build,
# the server, an upload or a page answering other than expected).
#
#   Benchmarks/dashboard.sh        (or `make bench-dashboard`)
#
# 1. Builds the release binary in its own scratch path, `swift build -c release --product lora-squeeze
#    --scratch-path .build-bench` (so it never waits on, or invalidates, the debug builds in .build),
#    unless SERVICE_BINARY names one; the binary is copied into a temp directory first.
# 2. Starts `lora-squeeze serve --data <tmp>/data --host 127.0.0.1 --port <free>` with authentication on:
#    the admin token from `lora-squeeze token generate`, given as LORA_SQUEEZE_ADMIN_TOKEN (as
#    Tests/Contract/run.sh does); waits for /readyz.
# 3. Fills the catalog (Benchmarks/dashboard/make_adapters.py): DASH_ADAPTERS (10,000) distinct small
#    PEFT adapters (numpy + safetensors, one seed each; ten namespaces team-00 … team-09, four base
#    models, ranks 8/16/32, q+v, q+k+v or q+v+o of 2 layers, f32 or f16), POSTed as multipart to
#    /v1/adapters?name=team-XX/adapter-NNNNN from DASH_UPLOAD_THREADS (8) keep-alive connections.
#    Prints how long it took, then syncs (no writeback of the fill during the timings).
# 4. Benchmarks/dashboard/measure_pages.py: three small normalize jobs so the cache and jobs pages have
#    rows, a browser-like sign-in (GET /ui/sign-in for the cookie and the csrf input, POST the form
#    with the admin token, keep the new cookie), then each page DASH_WARMUP (5) times (the first
#    reported as cold) and DASH_RUNS (50) times measured, one request after another on a keep-alive
#    connection: the adapters list (first, middle and last page, a name prefix, a base model), one
#    adapter (default rank and ?rank=8), the cache, the jobs and the normalize preview of a prefix.
#    The reference in the same run: GET /v1/adapters?limit=50&offset=5000 with the bearer token.
# 5. Prints the table (server-side median and range, client median, page ÷ API, PASS/FAIL of the
#    median against 50 ms), the machine, the date and the commit.
# The server is stopped and the temp directory (about 1.6 GiB with 10,000 adapters) removed on exit,
# whatever happens. results.json (every sample) and the server's log are left in DASH_OUT
# (.build-bench/dashboard). About 50 s on the 2-vCPU project machine (35 s of it the fill), plus the
# build: 4 min from an empty .build-bench, under a second when nothing changed.
#
# Environment: SERVICE_BINARY, DASH_ADAPTERS (10000), DASH_UPLOAD_THREADS (8), DASH_RUNS (50),
# DASH_WARMUP (5), DASH_TARGET_MS (50), DASH_OUT.
# Needs curl and python3 with numpy and safetensors (pip-installed when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
here="$root/Benchmarks/dashboard"
t0=$(date +%s)
count="${DASH_ADAPTERS:-10000}"
out="${DASH_OUT:-$root/.build-bench/dashboard}"

python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors

work="$(mktemp -d "${TMPDIR:-/tmp}/dashboard-bench.XXXXXX")"
server=""
child=""
# Runs a step in the background and waits for it, so that a signal stops the run at once (bash runs
# a trap only after its foreground command ends, but interrupts a wait).
step() {
    local rc=0
    "$@" &
    child=$!
    wait "$child" || rc=$?
    child=""
    return "$rc"
}
cleanup() {
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    if [ -f "$work/server.log" ]; then mkdir -p "$out" && cp "$work/server.log" "$out/server.log" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

commit() { echo "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(git -C "$root" status --porcelain -- Sources 2>/dev/null | wc -l) files under Sources/ changed since"; }
built_from="$(commit)"   # read before the build: what the binary is made of
if [ -n "${SERVICE_BINARY:-}" ]; then
    cp "$SERVICE_BINARY" "$work/lora-squeeze"
    built="$SERVICE_BINARY"
else
    echo "== swift build -c release --product lora-squeeze --scratch-path .build-bench"
    b0=$(date +%s)
    (cd "$root" && swift build -c release --product lora-squeeze --scratch-path .build-bench 2>&1 | tail -1)
    cp "$root/.build-bench/release/lora-squeeze" "$work/lora-squeeze"
    built=".build-bench/release/lora-squeeze, built in $(( $(date +%s) - b0 )) s"
    t0=$(date +%s)   # the run's own time starts after the build
fi
rm -rf "$out" && mkdir -p "$out"

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit: $built_from$([ "$(commit)" = "$built_from" ] || echo " when the build started; now $(commit)")"
echo "binary: $built"
echo "machine: $(nproc) vCPU, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
token="$("$work/lora-squeeze" token generate)"
LORA_SQUEEZE_ADMIN_TOKEN="$token" \
    "$work/lora-squeeze" serve --data "$work/data" --host 127.0.0.1 --port "$port" --drain-delay 0 \
    > "$work/server.log" 2>&1 &
server=$!
ready=""
for _ in $(seq 200); do
    if curl -sf "$base/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ready" ]; then echo "the server did not become ready:"; cat "$work/server.log"; exit 1; fi
echo "== server on $base, authentication on (data $work/data)"

echo "== filling the catalog with $count adapters"
LORA_SQUEEZE_TOKEN="$token" step python3 "$here/make_adapters.py" upload "$base" --count "$count" \
    --threads "${DASH_UPLOAD_THREADS:-8}" --manifest "$work/manifest.tsv"
cp "$work/manifest.tsv" "$out/manifest.tsv"
# Anything the fill left unwritten is flushed now, so no writeback shares the cores with the
# measurement (quick: the service fsyncs what it stores).
s0=$(date +%s%N); sync; echo "sync after the fill: $(( ($(date +%s%N) - s0) / 1000000 )) ms"
echo "catalog: $(du -sh "$work/data/catalog.sqlite" | cut -f1) SQLite (+ WAL $(du -sh "$work/data/catalog.sqlite-wal" 2>/dev/null | cut -f1 || echo 0)), blobs $(du -sh "$work/data/blobs" | cut -f1)"

echo "== pages"
LORA_SQUEEZE_TOKEN="$token" step python3 "$here/measure_pages.py" "$base" --manifest "$work/manifest.tsv" \
    --runs "${DASH_RUNS:-50}" --warmup "${DASH_WARMUP:-5}" --target-ms "${DASH_TARGET_MS:-50}" --out "$out/results.json"

kill -0 "$server" 2>/dev/null || { echo "the server died during the run"; exit 1; }
echo "server: RSS $(awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$server/status"), peak $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$server/status"); warnings and errors in its log: $(grep -Eci 'warn|error|critical' "$work/server.log" || true)"
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg); whole run (build excluded) $(( ($(date +%s) - t0) / 60 )) min $(( ($(date +%s) - t0) % 60 )) s; samples in $out/results.json"
