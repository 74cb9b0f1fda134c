#!/usr/bin/env bash
# LoRA-Squeeze reproduced small on CPU: bash experiments/paper-small/run.sh BINARY
# (BINARY: a built lora-squeeze). Makes or reuses the virtualenv .build/py-train, installs the
# project's Python package into it, runs experiment.py and prints the wall time.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: bash experiments/paper-small/run.sh BINARY" >&2; exit 2; fi
case $1 in
  */*) BINARY="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" ;;
  *) BINARY=$1 ;;
esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
started=$(date +%s)

VENV=.build/py-train
if ! "$VENV/bin/python" -c 'import torch, transformers, peft, numpy, safetensors, matplotlib' 2>/dev/null; then
  echo "making the virtualenv $VENV"
  python3 -m venv "$VENV"
  torch_spec="torch==2.13.0"
  for wheel in /opt/wheels/torch-2.13.0+cpu-cp311-*.whl; do
    [ -e "$wheel" ] && torch_spec=$wheel && break
  done
  "$VENV/bin/pip" install -q "$torch_spec" transformers==5.19.0 peft==0.21.2 numpy safetensors matplotlib
fi
"$VENV/bin/pip" install --no-deps -q ./clients/python

"$VENV/bin/python" experiments/paper-small/experiment.py "$BINARY"
echo "wall time: $(( $(date +%s) - started )) s"
