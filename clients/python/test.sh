#!/usr/bin/env bash
# The Python package's tests against a real server (BINARY: a built lora-squeeze).
#
#   bash clients/python/test.sh BINARY          # the client: mypy --strict, then pytest (make test)
#   bash clients/python/test.sh BINARY train    # the annealer, with torch, PEFT and transformers
#
# The client's virtualenv (.build/py-client: numpy, safetensors, pytest, mypy) and the training one
# (.build/py-train: torch 2.13 CPU, the wheel in /opt/wheels when there is one, transformers, PEFT)
# are made once; the package is installed into them afresh each run, as a user would (not editable).
set -euo pipefail
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash clients/python/test.sh BINARY [train]" >&2
  exit 2
fi
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$(dirname "$0")/../.."
python3 -m venv --help >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
if [ "${2:-}" = train ]; then
  venv=.build/py-train
  if ! "$venv/bin/python" -c "import torch, transformers, peft, numpy, safetensors, pytest" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    torch_wheel=$(ls /opt/wheels/torch-2.13.0+cpu-cp311-*.whl 2>/dev/null | head -1)
    "$venv/bin/pip" install -q "${torch_wheel:-torch==2.13.0}" "transformers==5.19.0" "peft==0.21.2" \
      numpy safetensors matplotlib pytest
  fi
  "$venv/bin/pip" install -q --no-deps --force-reinstall ./clients/python
  LORA_SQUEEZE_BINARY="$binary" "$venv/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests/test_anneal.py
  exit 0
fi
venv=.build/py-client
if ! "$venv/bin/python" -c "import numpy, safetensors, pytest, mypy" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy safetensors pytest mypy
fi
"$venv/bin/pip" install -q --no-deps --force-reinstall ./clients/python
# anneal.py needs torch, which this environment does not have: mypy checks it against its own code
# only (torch, PEFT and transformers are untyped here: pyproject.toml's overrides).
(cd clients/python && "../../$venv/bin/python" -m mypy --no-incremental lora_squeeze)
LORA_SQUEEZE_BINARY="$binary" "$venv/bin/python" -m pytest -q -p no:cacheprovider clients/python/tests/test_client.py
