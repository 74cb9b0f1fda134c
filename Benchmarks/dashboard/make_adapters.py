#!/usr/bin/env python3
"""Fills a lora-squeeze catalog with many small, distinct PEFT adapters (Benchmarks/dashboard.sh's
step 3). numpy + safetensors for the files, the standard library for the uploads.

    LORA_SQUEEZE_TOKEN=lsq_… make_adapters.py upload URL [--count 10000] [--threads 8] [--seed 0]
                                                       [--manifest FILE]
    make_adapters.py write DIR [--count N] [--seed 0]       (the same adapters as files, no server)

Adapter i (0 ≤ i < count) is made from numpy's default_rng(seed + i), so every adapter is distinct and
a run is reproducible:
  name           team-XX/adapter-NNNNN, XX = i mod 10 (ten namespaces of count/10 adapters), NNNNN = i
  base model     one of four (BASES), drawn from the rng, with that model's shapes scaled down
                 (hidden 256 or 384, 2 layers, grouped k/v a quarter of hidden)
  rank           8, 16 or 32 (lora_alpha 2r)
  target modules two or three of the attention projections: q+v, q+k+v or q+v+o
  dtype          float32 or float16
Tensors as PEFT saves them (base_model.model.model.layers.L.self_attn.M.lora_{A,B}.weight, A r×in,
B out×r) with a decaying row scale on A, so each module's spectrum falls off as trained ones do. The
weights files are 27–518 KB (158 KB on average: 1.5 GiB for 10,000).

`upload` POSTs each as multipart (adapter_config.json, adapter_model.safetensors) to
/v1/adapters?name=…, from --threads threads with a keep-alive connection each, generating in the
threads as it goes; it prints how long it took and the statuses, writes a tab-separated manifest
(name, base model, rank, modules, dtype, weights bytes, digest) and exits non-zero unless every
upload answered 201.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

import numpy as np
from safetensors.numpy import save as st_save

# Four base models, each with a scaled-down (hidden, k/v width): real names, small shapes.
BASES = [
    ("meta-llama/Llama-3.1-8B", 256, 64),
    ("mistralai/Mistral-7B-v0.3", 256, 64),
    ("Qwen/Qwen2.5-7B", 384, 96),
    ("google/gemma-2-2b", 384, 96),
]
RANKS = [8, 16, 32]
TARGETS = [["q_proj", "v_proj"], ["q_proj", "k_proj", "v_proj"], ["q_proj", "v_proj", "o_proj"]]
LAYERS = 2
TEAMS = 10


def name_of(i):
    return f"team-{i % TEAMS:02d}/adapter-{i:05d}"


def make(i, seed=0):
    """Adapter i: (name, config bytes, weights bytes, facts)."""
    rng = np.random.default_rng(seed + i)
    base, hidden, kv = BASES[int(rng.integers(len(BASES)))]
    r = RANKS[int(rng.integers(len(RANKS)))]
    targets = TARGETS[int(rng.integers(len(TARGETS)))]
    dtype = np.float32 if rng.random() < 0.5 else np.float16
    shapes = {"q_proj": (hidden, hidden), "k_proj": (kv, hidden), "v_proj": (kv, hidden), "o_proj": (hidden, hidden)}
    decay = np.exp(-np.arange(r) / rng.uniform(r / 8, r / 2)).astype(np.float32)
    tensors = {}
    for layer in range(LAYERS):
        for module in targets:
            out_f, in_f = shapes[module]
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            a = rng.standard_normal((r, in_f), dtype=np.float32) * np.float32(1 / np.sqrt(in_f)) * decay[:, None]
            b = rng.standard_normal((out_f, r), dtype=np.float32) * np.float32(0.01)
            tensors[f"{prefix}.lora_A.weight"] = a.astype(dtype)
            tensors[f"{prefix}.lora_B.weight"] = b.astype(dtype)
    weights = st_save(tensors, metadata={"format": "pt"})
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base, "r": r,
              "lora_alpha": 2 * r, "target_modules": targets, "lora_dropout": 0.05, "bias": "none",
              "fan_in_fan_out": False}
    facts = {"base": base, "rank": r, "modules": LAYERS * len(targets), "dtype": np.dtype(dtype).name,
             "bytes": len(weights)}
    return name_of(i), json.dumps(config).encode(), weights, facts


def multipart(config, weights):
    boundary = uuid.uuid4().hex
    parts = []
    for field, data, ctype in (("adapter_config.json", config, "application/json"),
                               ("adapter_model.safetensors", weights, "application/octet-stream")):
        parts += [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{field}\"\r\n"
                  f"Content-Type: {ctype}\r\n\r\n".encode(), data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(args):
    token = os.environ.get("LORA_SQUEEZE_TOKEN", "")
    url = urllib.parse.urlsplit(args.url)
    host, port = url.hostname, url.port or 80
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    lock = threading.Lock()
    state = {"next": 0}
    statuses, failures, rows, upload_bytes = {}, [], [None] * args.count, [0]
    done = [0]
    t0 = time.monotonic()

    def claim():
        with lock:
            i = state["next"]
            state["next"] += 1
            return i if i < args.count else None

    def worker():
        conn = None
        while (i := claim()) is not None:
            name, config, weights, facts = make(i, args.seed)
            body, ctype = multipart(config, weights)
            path = "/v1/adapters?name=" + urllib.parse.quote(name, safe="")
            for attempt in range(3):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(host, port, timeout=120)
                    conn.request("POST", path, body=body, headers={**headers, "Content-Type": ctype})
                    resp = conn.getresponse()
                    payload = resp.read()
                    status = resp.status
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    break
                except (OSError, http.client.HTTPException) as e:
                    if conn is not None:
                        conn.close()
                    conn = None
                    status, payload = f"error {type(e).__name__}", str(e).encode()
                    time.sleep(0.2 * (attempt + 1))
            digest = ""
            if status in (200, 201):
                try:
                    digest = json.loads(payload).get("digest", "")
                except ValueError:
                    pass
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                upload_bytes[0] += len(body)
                rows[i] = (name, facts["base"], facts["rank"], facts["modules"], facts["dtype"], facts["bytes"], digest)
                if status != 201 and len(failures) < 5:
                    failures.append(f"{name}: {status} {payload[:300]!r}")
                done[0] += 1
                if args.progress and done[0] % args.progress == 0:
                    elapsed = time.monotonic() - t0
                    print(f"  {done[0]:,} uploaded in {elapsed:.1f} s ({done[0] / elapsed:,.0f}/s)", flush=True)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if args.manifest:
        with open(args.manifest, "w") as f:
            f.write("name\tbase_model\trank\tmodules\tdtype\tweights_bytes\tdigest\n")
            for row in rows:
                if row:
                    f.write("\t".join(str(x) for x in row) + "\n")
    weights_total = sum(row[5] for row in rows if row)
    summary = ", ".join(f"{k}: {v:,}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    print(f"filled: {args.count:,} adapters in {elapsed:.1f} s ({args.count / elapsed:,.0f} uploads/s, "
          f"{args.threads} threads; {upload_bytes[0] / 2**20:,.0f} MiB sent, weights {weights_total / 2**20:,.0f} MiB); "
          f"statuses {summary}", flush=True)
    for line in failures:
        print("  failed: " + line, file=sys.stderr)
    return 0 if statuses.get(201, 0) == args.count else 1


def write(args):
    for i in range(args.count):
        name, config, weights, _ = make(i, args.seed)
        directory = os.path.join(args.dir, name)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "adapter_config.json"), "wb") as f:
            f.write(config)
        with open(os.path.join(directory, "adapter_model.safetensors"), "wb") as f:
            f.write(weights)
    print(f"wrote {args.count} adapters under {args.dir}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upload")
    up.add_argument("url")
    up.add_argument("--threads", type=int, default=8)
    up.add_argument("--manifest")
    up.add_argument("--progress", type=int, default=2000, help="print a line every N uploads (0: never)")
    wr = sub.add_parser("write")
    wr.add_argument("dir")
    for s in (up, wr):
        s.add_argument("--count", type=int, default=10_000)
        s.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    return upload(args) if args.command == "upload" else write(args)


if __name__ == "__main__":
    sys.exit(main())
