#!/usr/bin/env bash
# The flood benchmark: does the service stay healthy under hostile load? Prints figures and a
# SUMMARY line saying which targets were met; it never fails on a missed target (exit code 0 unless
# the benchmark itself cannot run).
#
#   Benchmarks/flood.sh [SECONDS]     SECONDS: the unloaded download measurement (default 5)
#
# What it does: starts `lora-squeeze serve` on a free loopback port with a fresh temp data directory
# and the default limits (only --min-free-disk 1G is stated, the default made explicit), then
# Benchmarks/flood/flood.py:
#   1. writes 4 base PEFT adapters (Gemma-like, hidden 1024, MLP 4096, k/v 256; 4–6 layers, r 32/64,
#      f32, 11–32 MiB) and 50 distinct flood adapters (other seeds, 11–22 MiB) with numpy+safetensors;
#   2. from 127.0.0.1: uploads the 4 bases and squeezes base 3 to rank 64 (f32) — the cached file the
#      well-behaved downloader fetches;
#   3. measures, for SECONDS, the downloader (127.0.0.13, one connection per download, MiB/s) and the
#      /healthz prober (127.0.0.12, every 20 ms, one connection per probe) on the idle server;
#   4. the flood: 10 clients, 127.0.0.2 … 127.0.0.11, each sending at the same instant 20 distinct
#      squeezes (4 adapters × ranks 1–17 × f32/bf16/f16, method=exact: 200 distinct URLs) and 5
#      multipart uploads, every request on its own connection with `Connection: close`; a request
#      refused with 429/503 is retried once after its Retry-After (FLOOD_ARGS="--retries 0" to disable).
#      The prober and the downloader run throughout, in their own processes.
#   The server admits 4 waiting squeezes per client address and a queue of 64, so most first
#   attempts get 429: that is the service working as documented, not a failure.
#
# How to read the output:
#   statuses        every response of the run by status; anything but 2xx, or 429/503 carrying
#                   Retry-After, is listed below it (with the problem body) — that list should be empty.
#   /healthz        p50/p99/max latency and the probe count, idle and during the flood; target: p99 < 50 ms.
#                   Split into connect (the kernel's accept queue) and request sent → first byte (the
#                   server), next to the server's own handler time from /metrics: a slow probe with a
#                   fast handler waited for a thread to run it.
#   downloader      MiB/s idle and during the flood, same code; target: ratio ≥ 50 %. Its time to
#                   first byte is printed too (a cache hit is a SQLite transaction before sendfile).
#   CPU             core-seconds used during the flood by the server, the flood client and the
#                   prober + downloader, and how often all of the server's libdispatch worker threads
#                   (which run its HTTP handlers, compute pool and I/O pool alike) were busy at once.
#   server memory   VmHWM (peak RSS over the server's life) and the largest VmRSS sample (every 100 ms)
#                   against the bound 64 MiB + largest weights file + 2 × largest module's squeezed
#                   output + 16 MiB per upload in flight (the numbers are printed).
#   /metrics        squeezes computed during the flood, problems_total by type, and the gauges at the
#                   end (squeezes_in_flight should be 0 once every request is answered).
#   SUMMARY         which targets were met. The machine has 2 cores shared by the server, the clients
#                   and anything else running: compare figures from a quiet machine only.
# The server's log is scanned for warnings and errors at the end.
#
# Authentication is on (the server's default): the script makes an admin token with
# `lora-squeeze token generate` (a fresh token recorded nowhere), starts the server with it in
# LORA_SQUEEZE_ADMIN_TOKEN (installed as an unlimited admin token at start-up) and hands it to flood.py
# in LORA_SQUEEZE_TOKEN, which sends `Authorization: Bearer` on every request but the /healthz probes
# (/healthz is open, as a load balancer's probe would find it).
set -euo pipefail
seconds="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.build/release/lora-squeeze"
if [ ! -x "$bin" ] || ! "$bin" serve --help 2>/dev/null | grep -- --max-client-squeezes >/dev/null; then
  echo "== building lora-squeeze (release)"
  (cd "$root" && swift build -c release --product lora-squeeze)
fi
python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors

work="$(mktemp -d "${TMPDIR:-/tmp}/lora-flood.XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# SERVE_ARGS adds server flags, e.g. SERVE_ARGS="--max-client-squeezes 8" so that 10 clients can fill
# the queue of 64 and the 503 path is exercised as well as the 429 one.
# shellcheck disable=SC2206  # SERVE_ARGS is a list of flags
cmd=("$bin" serve --host 127.0.0.1 --port "$port" --data "$work/data" --min-free-disk 1G ${SERVE_ARGS:-})
echo "== server: ${cmd[*]}"
echo "   (every other limit at its default: 4 squeezes waiting per client, queue 64, 1 concurrent squeeze, workers = cores)"
token="$("$bin" token generate)"
LORA_SQUEEZE_ADMIN_TOKEN="$token" "${cmd[@]}" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "the server exited:"; cat "$work/server.log"; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the server did not answer /healthz:"; cat "$work/server.log"; exit 1; }
echo "   pid $server, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"

status=0
LORA_SQUEEZE_TOKEN="$token" python3 "$root/Benchmarks/flood/flood.py" --port "$port" --pid "$server" --work "$work/adapters" --seconds "$seconds" ${FLOOD_ARGS:-} || status=$?
echo "   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== server log: $(wc -l < "$work/server.log") lines; warnings and errors:"
grep -iE 'warning|error|critical' "$work/server.log" | sed 's/^/   /' | head -20 || echo "   none"
kill -0 "$server" 2>/dev/null || echo "   THE SERVER IS NOT RUNNING ANY MORE"
exit "$status"
