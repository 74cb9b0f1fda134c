#!/usr/bin/env bash
# The merge and extraction benchmark (Benchmarks/merge/bench_merge.py does the work). Prints figures;
# asserts nothing but that every answer is 200 with the expected length.
#
#   Benchmarks/merge.sh [RUNS]        (RUNS cold merges, default 3; medians and ranges)
#
# 1. Merge. Writes a Gemma-2B-shaped base in bf16 (5.0 GB: vocab 256000, hidden 2048, 18 layers, MLP
#    16384, one 256-wide k/v head; random N(0, 0.02) values) in google/gemma-2b's own layout — two shards
#    as save_pretrained splits at 5GB (4.95 GB + 67 MB) with model.safetensors.index.json and a
#    GemmaForCausalLM config.json — and a PEFT adapter for it (r = 64, lora_alpha 128, f32, q/k/v/o/
#    gate/up/down of all 18 layers, base_model_name_or_path bench/gemma-2b). Starts
#    `lora-squeeze serve --auth off` on a fresh data directory and a free loopback port, uploads the
#    base (a tar streamed from disk) and the adapter, then measures GET …/merged/16/<shard>: cold (the
#    adapter deleted and uploaded again untimed before each run, which drops its squeezes and merged
#    shards; the base stays, so its pages stay cached as a serving host's would), against `cp` of the
#    same stored shards in the same run; the server's VmRSS before and VmHWM during each merge (reset
#    through /proc/PID/clear_refs) against the largest shard; cached merged shards against the base's
#    own files; one cold merge after a restart, when each base shard is rehashed on its first read;
#    and, after another restart, the largest base shard read twice (the first read rehashes it).
# 2. Extraction. An f32 base with EXTRACT_LAYERS layers (default 2) and vocab 32000, and a tuned copy =
#    base + a known rank-16 update + noise (10 % of its norm) on q/k/v/o/gate/up/down. Times
#    `lora-squeeze extract --rank 16 --json` against, on the same tensors, torch.linalg.svd in float64
#    (the optimum), PEFT 0.21.2's own conversion (dense float32 SVD) and mergekit-extract-lora when
#    installed; each method's ‖ΔW − B'A'‖/‖ΔW‖ is measured from the factors it wrote.
#
# The binary: SERVICE_BINARY, or a release build of a clean copy of HEAD, never the work tree: git
# archive into MERGE_BUILD_DIR/src (default .build-bench/merge; kept while HEAD does not move, so a
# second run rebuilds nothing), scratch path MERGE_BUILD_DIR/scratch. Python: python3 with numpy and
# safetensors (pip-installed when missing) for the fixtures; the PEFT/torch anchors run in
# HOSTS_PYTHON (default .build/hub-venvs/hosts/bin/python, which Tests/Hub/run.sh makes; without it
# the optimum comes from numpy and PEFT is skipped). Benchmarks/README.md has a recipe for mergekit.
#
# Environment: SERVICE_BINARY (a lora-squeeze to measure), MERGE_BUILD_DIR, MERGE_MAX_SHARD (default
# 5GB; 3GB makes two shards of 2.96 and 2.05 GB), MERGE_LAYERS / MERGE_VOCAB (default 18 / 256000),
# CACHED_RUNS (default 5), EXTRACT_LAYERS (default 2), EXTRACT_VOCAB (default 32000), HOSTS_PYTHON,
# MERGEKIT (the mergekit-extract-lora command; default: the one on PATH, else skipped),
# SKIP_MERGE=1 / SKIP_EXTRACT=1.
#
# Takes about 11 minutes on the 2-vCPU project machine with mergekit (about 9.5 without), plus about
# 3 minutes for the first build: ~5.5 for the merge part (four cold merges of the 5 GB base at about
# 45 s each, counting the one after a restart), ~5 for extraction, most of it the dense SVD anchors.
# Temporary data (about 20 GB at the peak) goes under TMPDIR (/tmp) and is removed on exit.
set -euo pipefail
runs="${1:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
helper="$root/Benchmarks/merge/bench_merge.py"
work="$(mktemp -d "${TMPDIR:-/tmp}/merge-bench.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

if [ -n "${SERVICE_BINARY:-}" ]; then
  bin="$SERVICE_BINARY"
else
  build="${MERGE_BUILD_DIR:-$root/.build-bench/merge}"; src="$build/src"; scratch="$build/scratch"
  head="$(git -C "$root" rev-parse HEAD)"
  if [ "$(cat "$src/.commit" 2>/dev/null)" != "$head" ]; then
    echo "== a clean copy of $head (git archive)"
    rm -rf "$src" && mkdir -p "$src"
    git -C "$root" archive HEAD | tar -x -C "$src"
    echo "$head" > "$src/.commit"
  fi
  echo "== release build of the clean copy"
  (cd "$src" && swift build -c release --product lora-squeeze --scratch-path "$scratch" 2>&1 | tail -1)
  bin="$scratch/release/lora-squeeze"
fi
python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "binary: $bin"
echo "machine: $(nproc) vCPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${SKIP_MERGE:-0}" != 1 ]; then
  echo "== writing the Gemma-2B-shaped base (bf16) and a PEFT adapter for it (r = 64, f32)"
  python3 "$helper" base "$work/base" --layers "${MERGE_LAYERS:-18}" --vocab "${MERGE_VOCAB:-256000}" --max-shard "${MERGE_MAX_SHARD:-5GB}"
  python3 "$helper" adapter "$work/adapter" --layers "${MERGE_LAYERS:-18}"
  echo "== merge (lora-squeeze serve --auth off on 127.0.0.1:$port)"
  python3 "$helper" merge "$bin" "$work/base" "$work/adapter" "$work/merge" --runs "$runs" \
    --cached-runs "${CACHED_RUNS:-5}" --port "$port" --drop-source
  rm -rf "$work/base" "$work/adapter" "$work/merge"
fi

if [ "${SKIP_EXTRACT:-0}" != 1 ]; then
  echo "== writing the extraction pair (f32, ${EXTRACT_LAYERS:-2} layers, vocab ${EXTRACT_VOCAB:-32000})"
  python3 "$helper" extract-fixture "$work/ebase" "$work/etuned" --layers "${EXTRACT_LAYERS:-2}" --vocab "${EXTRACT_VOCAB:-32000}"
  hosts="${HOSTS_PYTHON:-$root/.build/hub-venvs/hosts/bin/python}"
  [ -x "$hosts" ] || { echo "(no $hosts: Tests/Hub/run.sh makes it; using python3)"; hosts=python3; }
  mergekit="${MERGEKIT:-$(command -v mergekit-extract-lora || true)}"
  [ -n "$mergekit" ] || echo "(mergekit-extract-lora not found: set MERGEKIT to measure it)"
  echo "== extraction"
  "$hosts" "$helper" extract "$bin" "$work/ebase" "$work/etuned" "$work/extract" --rank 16 ${mergekit:+--mergekit "$mergekit"}
fi
