#!/usr/bin/env bash
# The squeeze benchmark: release build, printed figures, nothing asserted (machines are noisy).
#
# 1. `lora-squeeze bench`: a Gemma-2B-shaped adapter (18 layers × q,k,v,o,gate,up,down, r = 64) built
#    in memory, squeezed to R = 16; median wall time of 11 runs and peak RSS, f32 and bf16.
# 2. The same shapes written by Benchmarks/reference/numpy_squeeze.py, squeezed from disk by the CLI
#    and by that plain numpy squeeze in the same run, the ratio of their medians, and its check on our
#    output (excess error ≤ 1e-4 of ‖ΔW‖).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-11}
REF=Benchmarks/reference/numpy_squeeze.py
BIN=.build/release/lora-squeeze
[ -x "$BIN" ] || swift build -c release --product lora-squeeze

echo "== in-memory benchmark (lora-squeeze bench, $RUNS runs)"
"$BIN" bench --runs "$RUNS"

python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$REF" make "$work/src" --layers 18 --rank 64

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== from disk: gemma-2b shapes, r=64 (numpy_squeeze.py make) → R = 16"
ours=$(for _ in 1 2 3 4 5; do
  rm -rf "$work/out"
  s=$(date +%s.%N); "$BIN" squeeze "$work/src" --rank 16 --out "$work/out" >/dev/null; e=$(date +%s.%N)
  python3 -c "print(f'{$e - $s:.4f}')"
done | median)
ref=$(for _ in 1 2 3; do python3 "$REF" bench "$work/src" --rank 16; done | median)
echo "lora-squeeze squeeze (whole command: map, squeeze, write, fsync): median ${ours} s of 5"
echo "numpy_squeeze.py bench (numpy, squeeze only):                    median ${ref} s of 3"
echo "ratio reference / lora-squeeze: $(python3 -c "print(f'{$ref / $ours:.1f}')")×"
python3 "$REF" check "$work/src" "$work/out" --rank 16
