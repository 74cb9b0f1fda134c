#!/usr/bin/env bash
# Storage off the request path, measured (Benchmarks/faults/faults.py): the fsync/fdatasync/pwrite64
# calls the server makes during 1,000 cached downloads (strace), and /healthz latency while squeezes
# run. Builds the release binary if needed. Pass an older build as BEFORE to compare in the same run:
#   bash Benchmarks/faults.sh [BEFORE_BINARY]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.build/release/lora-squeeze"
if [ ! -x "$bin" ] || ! "$bin" serve --help 2>/dev/null | grep -- --scrub-interval >/dev/null; then
  (cd "$root" && swift build -c release --product lora-squeeze)
fi
command -v strace >/dev/null || { apt-get install -y -qq strace >/dev/null 2>&1 || sudo apt-get install -y -qq strace; }
python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors
python3 "$root/Benchmarks/faults/faults.py" "$bin" "$@"
