#!/usr/bin/env bash
# What authentication costs per request: the same release binary serving the same adapter with
# --auth on (a Bearer token: a SHA-256 and a cached lookup per request) and --auth off, measured by
# wrk in alternating rounds in the same run, so machine noise hits both alike.
#
#   bash Benchmarks/auth.sh [BINARY] [ROUNDS] [SECONDS]      (or: make bench-auth)
#
# BINARY defaults to .build/release/lora-squeeze (built by `make release`); ROUNDS (default 5)
# rounds of SECONDS (default 5) per target and mode, `wrk -t1 -c16`, the order of the two modes
# alternating from round to round. Targets: GET /v1/adapters/tiny
# (a JSON description: routing, auth, a catalog read) and its 64 KiB adapter_model.safetensors (a file
# by sendfile). Installs wrk with apt-get when missing; python3 with numpy and safetensors writes the
# adapter. Prints each round and, per target, the medians, ranges and the ratio on/off.
set -euo pipefail
binary="${1:-.build/release/lora-squeeze}"
rounds="${2:-5}"
seconds="${3:-5}"
[ -x "$binary" ] || { echo "no binary at $binary (make release, or give its path)" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
python3 -c 'import numpy, safetensors' 2>/dev/null || python3 -m pip install -q numpy safetensors

work="$(mktemp -d "${TMPDIR:-/tmp}/lora-bench-auth.XXXXXX")"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A PEFT adapter whose weights file is 64 KiB of f32 (two modules, rank 8).
python3 - "$work/adapter" <<'PY'
import json, os, sys
import numpy as np
from safetensors.numpy import save_file
out = sys.argv[1]; os.makedirs(out)
rng = np.random.default_rng(7)
t = {}
for layer in range(2):
    p = f"base_model.model.model.layers.{layer}.self_attn.q_proj"
    t[p + ".lora_A.weight"] = rng.standard_normal((8, 512), dtype=np.float32)
    t[p + ".lora_B.weight"] = rng.standard_normal((512, 8), dtype=np.float32)
save_file(t, os.path.join(out, "adapter_model.safetensors"))
json.dump({"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj"],
           "base_model_name_or_path": "bench/tiny"}, open(os.path.join(out, "adapter_config.json"), "w"))
PY

token="$("$binary" token generate)"
header="Authorization: Bearer $token"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A port
for mode in on off; do
  port[$mode]=$(free_port)
  LORA_SQUEEZE_ADMIN_TOKEN="$token" "$binary" serve --host 127.0.0.1 --port "${port[$mode]}" --data "$work/data-$mode" \
    --auth "$mode" --log-level warning --scrub-interval 0 --min-free-disk 0 >"$work/server-$mode.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:${port[$mode]}/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS -H "$header" -F adapter_config.json=@"$work/adapter/adapter_config.json" \
    -F adapter_model.safetensors=@"$work/adapter/adapter_model.safetensors" \
    "http://127.0.0.1:${port[$mode]}/v1/adapters?name=tiny" >/dev/null
done

declare -A results
targets=("/v1/adapters/tiny" "/v1/adapters/tiny/files/adapter_model.safetensors")
for round in $(seq "$rounds"); do
  # The order alternates too (on first in odd rounds, off first in even ones): whatever the first or
  # second measurement of a pair gains from its place, both modes get it equally often.
  order="on off"; [ $((round % 2)) -eq 0 ] && order="off on"
  for target in "${targets[@]}"; do
    for mode in $order; do
      rps=$(wrk -t1 -c16 -d"${seconds}s" -H "$header" "http://127.0.0.1:${port[$mode]}$target" \
            | awk '/Requests\/sec/ {print int($2)} /Non-2xx/ {print "ERROR non-2xx: " $0 > "/dev/stderr"}')
      echo "round $round  auth $mode  $target  $rps req/s"
      results["$target|$mode"]+="$rps "
    done
  done
done

echo
for target in "${targets[@]}"; do
  python3 - "$target" "${results[$target|on]}" "${results[$target|off]}" <<'PY'
import statistics, sys
target, on, off = sys.argv[1], [int(x) for x in sys.argv[2].split()], [int(x) for x in sys.argv[3].split()]
mon, moff = statistics.median(on), statistics.median(off)
print(f"{target}: auth on {mon:.0f} ({min(on)}–{max(on)}) req/s, off {moff:.0f} ({min(off)}–{max(off)}) req/s, on/off {100 * mon / moff:.0f} %")
PY
done
