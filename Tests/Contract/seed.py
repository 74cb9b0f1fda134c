#!/usr/bin/env python3
"""Seeds a running lora-squeeze server for the contract run: writes a small PEFT adapter with
numpy + safetensors (two modules, one 512 × 512, r 4, f32, fixed seed, so its digest never changes), uploads it
as multipart under NAME, a base model it merges into (BASE_NAME, and contract/model as its config
names it), starts one normalize job over it, waits for that job, looks up the ids of the
active admin tokens (GET /v1/tokens: the one the run authenticates with must never be revoked), makes
one read token for DELETE /v1/tokens/{id} to revoke (POST /v1/tokens), and prints
`name digest job-id admin-ids victim-id` on one line (read by run.sh and handed to hooks.py;
admin-ids is comma-separated).

    CONTRACT_TOKEN=lsq_… python3 seed.py BASE_URL NAME

Every request carries `Authorization: Bearer $CONTRACT_TOKEN` (run.sh generates the token with
`lora-squeeze token generate` and seeds the server with it through LORA_SQUEEZE_ADMIN_TOKEN).
"""
import io
import json
import math
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

import numpy as np
from safetensors.numpy import save

# The admin token the server was started with (run.sh); sent on every request.
TOKEN = os.environ.get("CONTRACT_TOKEN", "")


def adapter():
    rng = np.random.default_rng(7)
    # q_proj is 512 × 512, so every rank the spec allows (1 to 512, the default --max-rank) is at most
    # a module's size and no schema-valid rank is refused as rank-above-module-size (422).
    modules = {"model.layers.0.self_attn.q_proj": (512, 512), "model.layers.0.mlp.down_proj": (16, 32)}
    tensors = {}
    r = 4
    for name, (out_f, in_f) in modules.items():
        decay = np.exp(-np.arange(r) / 2.0)
        tensors[f"base_model.model.{name}.lora_A.weight"] = (
            rng.standard_normal((r, in_f)) * decay[:, None] / math.sqrt(in_f)).astype(np.float32)
        tensors[f"base_model.model.{name}.lora_B.weight"] = (rng.standard_normal((out_f, r)) * 0.02).astype(np.float32)
    weights = save(tensors, metadata={"format": "pt"})
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "contract/model",
              "r": r, "lora_alpha": 8, "target_modules": ["q_proj", "down_proj"], "lora_dropout": 0.0,
              "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False}
    return json.dumps(config).encode(), weights


def multipart(parts):
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, content_type, data in parts:
        body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                   f"Content-Type: {content_type}\r\n\r\n".encode())
        body.write(data)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def call(method, url, body=None, content_type=None):
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if TOKEN:
        request.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"seed: {method} {url} answered {e.code}: {e.read().decode(errors='replace')}") from None


def upload(base, name):
    """Uploads the adapter under `name` (again: the same digest); returns its digest."""
    config, weights = adapter()
    body, content_type = multipart([("adapter_config.json", "application/json", config),
                                    ("adapter_model.safetensors", "application/octet-stream", weights)])
    _, uploaded = call("POST", f"{base}/v1/adapters?name={name}", body, content_type)
    return uploaded["digest"]


# The base model the seeded adapter merges into: its two target weights (and a norm it leaves alone),
# named like the adapter's base_model_name_or_path and, for hooks.py's one-segment {ref}, BASE_NAME.
BASE_NAME = "contract-base"


def upload_base(base):
    rng = np.random.default_rng(11)
    weights = save({"model.layers.0.self_attn.q_proj.weight": rng.standard_normal((512, 512)).astype(np.float32),
                    "model.layers.0.mlp.down_proj.weight": rng.standard_normal((16, 32)).astype(np.float32),
                    "model.norm.weight": np.ones(16, dtype=np.float32)}, metadata={"format": "pt"})
    config = json.dumps({"model_type": "contract", "architectures": ["ContractForCausalLM"]}).encode()
    body, content_type = multipart([("config.json", "application/json", config),
                                    ("model.safetensors", "application/octet-stream", weights)])
    for name in ("contract/model", BASE_NAME):
        call("POST", f"{base}/v1/bases?name={name}", body, content_type)


def main():
    base, name = sys.argv[1].rstrip("/"), sys.argv[2]
    digest = upload(base, name)
    upload_base(base)
    status, job = call("POST", f"{base}/v1/normalize", json.dumps({"adapters": [digest], "rank": 2}).encode(),
                       "application/json")
    job_id = job["id"]
    for _ in range(300):
        _, state = call("GET", f"{base}/v1/jobs/{job_id}")
        if state.get("state") not in ("queued", "running"):
            break
        time.sleep(0.1)
    # Every active unlimited admin token (on a fresh data directory: the seeded one, whose id the
    # server also logs); hooks.py never lets DELETE /v1/tokens/{id} name one of them.
    _, tokens = call("GET", f"{base}/v1/tokens")
    admins = [t["id"] for t in tokens["items"]
              if t.get("scope") == "admin" and t.get("namespace") is None and t.get("state") == "active"]
    if not admins:
        raise RuntimeError(f"seed: GET {base}/v1/tokens lists no active admin token: {tokens}")
    # A token that may be revoked: hooks.py points DELETE /v1/tokens/{id} at it (revoking is idempotent).
    _, victim = call("POST", f"{base}/v1/tokens", json.dumps({"name": "contract-victim", "scope": "read"}).encode(),
                     "application/json")
    print(name, digest, job_id, ",".join(admins), victim["id"])


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError) as e:
        sys.exit(str(e))
