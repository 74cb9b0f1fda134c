#!/usr/bin/env bash
# The squeeze benchmark: release build, printed figures, nothing asserted (machines are noisy).
#
# 1. `lora-squeeze bench`: a Gemma-2B-shaped adapter (18 layers × q,k,v,o,gate,up,down, r = 64) built
#    in memory, squeezed to R = 16; median wall time of 11 runs and peak RSS, f32 and bf16.
# 2. When the numpy reference is at hand (REFERENCE_DIR, default ../shared/reference), the same shapes
#    written by make_adapter.py, squeezed from disk by the CLI and by squeeze_ref.py in the same run,
#    the ratio of their medians, and squeeze_ref.py check on our output (excess error ≤ 1e-4 of ‖ΔW‖).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-11}
REFERENCE_DIR=${REFERENCE_DIR:-../shared/reference}
BIN=.build/release/lora-squeeze
[ -x "$BIN" ] || swift build -c release --product lora-squeeze

echo "== in-memory benchmark (lora-squeeze bench, $RUNS runs)"
"$BIN" bench --runs "$RUNS"

if [ ! -f "$REFERENCE_DIR/squeeze_ref.py" ]; then
  echo "(no numpy reference at $REFERENCE_DIR: skipping the same-run comparison)"
  exit 0
fi
python3 -c 'import numpy' 2>/dev/null || pip install -q numpy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$REFERENCE_DIR/make_adapter.py" "$work/src" --preset gemma-2b --rank 64 >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== from disk: gemma-2b r=64 (make_adapter.py) → R = 16"
ours=$(for _ in 1 2 3 4 5; do
  rm -rf "$work/out"
  s=$(date +%s.%N); "$BIN" squeeze "$work/src" --rank 16 --out "$work/out" >/dev/null; e=$(date +%s.%N)
  python3 -c "print(f'{$e - $s:.4f}')"
done | median)
ref=$(for _ in 1 2 3; do python3 "$REFERENCE_DIR/squeeze_ref.py" bench "$work/src" --rank 16; done | median)
echo "lora-squeeze squeeze (whole command: map, squeeze, write, fsync): median ${ours} s of 5"
echo "squeeze_ref.py bench (numpy, squeeze only):                      median ${ref} s of 3"
echo "ratio reference / lora-squeeze: $(python3 -c "print(f'{$ref / $ours:.1f}')")×"
python3 "$REFERENCE_DIR/squeeze_ref.py" check "$work/src" "$work/out" --rank 16
