#!/usr/bin/env python3
"""The client half of Deploy/check-runtime.sh: against a running `lora-squeeze serve --auth off`,
uploads a small PEFT adapter written here with numpy + safetensors (two modules at rank 8, f32, a
fixed seed), asks for it squeezed to rank 2, and checks that the answer is a safetensors file the
reference implementation reads, with every module at rank 2 and the config saying r = 2.

    python3 Deploy/check_runtime_client.py http://127.0.0.1:PORT

Prints one line per check; exits non-zero on the first failure.
"""
import io
import json
import math
import sys
import urllib.error
import urllib.request
import uuid

import numpy as np
from safetensors.numpy import load, save

BASE = sys.argv[1].rstrip("/")
RANK_IN, RANK_OUT = 8, 2
MODULES = {"model.layers.0.self_attn.q_proj": (64, 64), "model.layers.0.mlp.down_proj": (32, 96)}


def adapter():
    """A PEFT adapter as Tests/Contract/seed.py makes one: decaying spectra, so rank 2 is meaningful."""
    rng = np.random.default_rng(11)
    tensors = {}
    for name, (out_f, in_f) in MODULES.items():
        decay = np.exp(-np.arange(RANK_IN) / 2.0)
        tensors[f"base_model.model.{name}.lora_A.weight"] = (
            rng.standard_normal((RANK_IN, in_f)) * decay[:, None] / math.sqrt(in_f)).astype(np.float32)
        tensors[f"base_model.model.{name}.lora_B.weight"] = (rng.standard_normal((out_f, RANK_IN)) * 0.02).astype(np.float32)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "deploy-check/model",
              "r": RANK_IN, "lora_alpha": 16, "target_modules": ["q_proj", "down_proj"], "lora_dropout": 0.0,
              "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False}
    return json.dumps(config).encode(), save(tensors, metadata={"format": "pt"})


def multipart(parts):
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, content_type, data in parts:
        body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                   f"Content-Type: {content_type}\r\n\r\n".encode())
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def call(method, path, body=None, content_type=None):
    request = urllib.request.Request(BASE + path, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def require(label, ok, detail=""):
    if not ok:
        print(f"FAIL {label}: {detail}")
        sys.exit(1)
    print(f"ok   {label}")


def main():
    status, _, body = call("GET", "/readyz")
    require("GET /readyz: 200 ready", status == 200 and json.loads(body).get("status") == "ready", f"{status} {body[:200]!r}")

    config, weights = adapter()
    body, content_type = multipart([("adapter_config.json", "application/json", config),
                                    ("adapter_model.safetensors", "application/octet-stream", weights)])
    status, _, answer = call("POST", "/v1/adapters?name=deploy-check", body, content_type)
    require(f"upload a PEFT adapter ({len(weights)} bytes): 201", status == 201, f"{status} {answer[:300]!r}")
    digest = json.loads(answer)["digest"]

    path = f"/v1/adapters/{digest}/squeezed/{RANK_OUT}"
    status, headers, squeezed = call("GET", f"{path}/adapter_model.safetensors")
    require(f"squeeze to rank {RANK_OUT}: 200", status == 200, f"{status} {squeezed[:300]!r}")
    try:
        tensors = load(squeezed)   # the reference implementation: framing, offsets, dtypes
    except Exception as e:  # noqa: BLE001 - any parse failure is the finding
        require("the answer is a safetensors file", False, repr(e))
    require(f"the answer is a safetensors file ({len(squeezed)} bytes, {len(tensors)} tensors)", True)
    shapes_ok = all(
        tensors[f"base_model.model.{name}.lora_A.weight"].shape == (RANK_OUT, in_f)
        and tensors[f"base_model.model.{name}.lora_B.weight"].shape == (out_f, RANK_OUT)
        for name, (out_f, in_f) in MODULES.items())
    require(f"every module at rank {RANK_OUT}, finite", shapes_ok and all(np.isfinite(t).all() for t in tensors.values()),
            {k: v.shape for k, v in tensors.items()})
    require("ETag is the content's SHA-256", headers.get("ETag", "").strip('"') == headers.get("Content-Location", "").rsplit("/", 1)[-1],
            f"ETag {headers.get('ETag')}, Content-Location {headers.get('Content-Location')}")

    status, _, squeezed_config = call("GET", f"{path}/adapter_config.json")
    require(f"its adapter_config.json says r = {RANK_OUT}",
            status == 200 and json.loads(squeezed_config).get("r") == RANK_OUT, f"{status} {squeezed_config[:300]!r}")


if __name__ == "__main__":
    main()
