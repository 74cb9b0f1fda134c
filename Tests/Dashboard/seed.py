#!/usr/bin/env python3
"""Seeds a running lora-squeeze for the dashboard's browser test and screenshots: a few PEFT adapters
made here with numpy + safetensors (fixed seeds; Gemma-like module names, spectra that decay, so the
energy plot has something to show), under namespaced names, one with a hostile base model
(`<script>…`, quotes and an RTL mark), one squeezed so the cache has an entry, a read and a write
token, and prints them as JSON on one line.

    ADMIN_TOKEN=lsq_… python3 seed.py BASE_URL
"""
import io
import json
import math
import os
import sys
import urllib.request
import uuid

import numpy as np
from safetensors.numpy import save

TOKEN = os.environ["ADMIN_TOKEN"]
HOSTILE_BASE = "<script>alert('base')</script>\"' \u202eevil"


def adapter(seed, rank, layers, decay, base, dtype=np.float32):
    rng = np.random.default_rng(seed)
    shapes = {"self_attn.q_proj": (256, 256), "self_attn.k_proj": (64, 256), "self_attn.v_proj": (64, 256),
              "self_attn.o_proj": (256, 256), "mlp.gate_proj": (512, 256), "mlp.up_proj": (512, 256),
              "mlp.down_proj": (256, 512)}
    tensors = {}
    for layer in range(layers):
        for i, (suffix, (out_f, in_f)) in enumerate(shapes.items()):
            name = f"model.layers.{layer}.{suffix}"
            scale = np.exp(-np.arange(rank) / (decay * (1 + 0.3 * ((i + layer) % 3))))
            tensors[f"base_model.model.{name}.lora_A.weight"] = (
                rng.standard_normal((rank, in_f)) * scale[:, None] / math.sqrt(in_f)).astype(dtype)
            tensors[f"base_model.model.{name}.lora_B.weight"] = (rng.standard_normal((out_f, rank)) * 0.02).astype(dtype)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base, "r": rank,
              "lora_alpha": 2 * rank, "target_modules": sorted({s.split(".")[1] for s in shapes}),
              "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False}
    return json.dumps(config).encode(), save(tensors, metadata={"format": "pt"})


def request(base, method, path, body=None, content_type=None):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type:
        headers["Content-Type"] = content_type
    with urllib.request.urlopen(urllib.request.Request(base + path, data=body, method=method, headers=headers)) as r:
        return r.status, r.read()


def upload(base, name, config, weights):
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for part, data in (("adapter_config.json", config), ("adapter_model.safetensors", weights)):
        body.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{part}\"\r\n"
                   f"Content-Type: application/octet-stream\r\n\r\n".encode())
        body.write(data)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    status, text = request(base, "POST", f"/v1/adapters?name={name}", body.getvalue(),
                           f"multipart/form-data; boundary={boundary}")
    return json.loads(text)


def main():
    base = sys.argv[1]
    adapters = [
        ("team-a/chat-v2", adapter(1, 64, 2, 6.0, "google/gemma-2b")),
        ("team-a/summarize", adapter(2, 32, 2, 3.0, "google/gemma-2b")),
        ("team-a/translate", adapter(3, 16, 1, 2.0, "google/gemma-2b")),
        ("team-b/vision-qa", adapter(4, 32, 2, 8.0, "google/paligemma-3b-pt-224")),
        ("team-b/hostile", adapter(5, 8, 1, 2.0, HOSTILE_BASE)),
    ]
    digests = {}
    for name, (config, weights) in adapters:
        digests[name] = upload(base, name, config, weights)["digest"]
    request(base, "GET", "/v1/adapters/team-a/chat-v2/squeezed/16/adapter_model.safetensors")
    tokens = {}
    for scope in ("read", "write"):
        _, text = request(base, "POST", "/v1/tokens", json.dumps({"name": f"browser-{scope}", "scope": scope}).encode(),
                          "application/json")
        tokens[scope] = json.loads(text)["token"]
    print(json.dumps({"digests": digests, "tokens": tokens, "modules": {"team-a/chat-v2": 14}, "hostile": HOSTILE_BASE}))


if __name__ == "__main__":
    main()
