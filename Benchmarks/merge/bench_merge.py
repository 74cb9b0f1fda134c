#!/usr/bin/env python3
"""The merge and extraction benchmark's fixtures and measurements (called by Benchmarks/merge.sh).

    bench_merge.py base DIR [--layers 18] [--vocab 256000] [--dtype BF16] [--max-shard 5GB]
        A Gemma-2B-shaped model directory of random weights (N(0, 0.02)): config.json, the safetensors
        shards split as Hugging Face's save_pretrained splits a state dict (greedy, in state-dict order,
        a new shard when the next tensor would pass --max-shard) and model.safetensors.index.json.
        With the defaults this is google/gemma-2b's own layout: 4.95 GB + 67 MB.
    bench_merge.py adapter DIR [--layers 18] [--rank 64] [--alpha 128]
        A PEFT LoRA for it (f32, q/k/v/o/gate/up/down of every layer, B non-zero).
    bench_merge.py merge BINARY BASE_DIR ADAPTER_DIR WORK [--runs 3] [--cached-runs 5] [--drop-source]
        Starts `BINARY serve --auth off` on a fresh data directory under WORK, uploads the base (a tar
        streamed from disk) and the adapter, then times merged/16 shard by shard, cold (the adapter is
        deleted and uploaded again untimed between runs, which drops every cache entry made from it),
        against `cp` of the same stored shard; the server's RSS during each merge; cached merged shards
        against the base's own files; one cold merge after a restart (base shards rehashed on their first
        read); and, after another restart, the largest base shard read twice (the first read rehashes it).
        Prints medians and ranges.
    bench_merge.py extract-fixture BASE_DIR TUNED_DIR [--layers 4] [--vocab 32000] [--rank 16] [--noise 0.1]
        An f32 base and a "full fine-tune" of it: W + U·diag(σ)·Vᵀ (rank --rank, σ log-spaced over 1.5
        decades, RMS 1e-3) + Gaussian noise with ‖N‖ = noise · ‖UΣVᵀ‖, on q/k/v/o/gate/up/down.
    bench_merge.py extract BINARY BASE_DIR TUNED_DIR WORK [--rank 16] [--runs 3] [--mergekit CMD]
        Runs under a Python with torch and peft. Times `BINARY extract`, optionally mergekit-extract-lora,
        and on the same tensors torch's dense SVD in float64 (the optimum) and PEFT's own per-module
        conversion (peft.tuners.lora.conversion._convert_module_to_lora: dense float32 SVD, truncated);
        measures every method's ‖ΔW − B'A'‖/‖ΔW‖ from the factors it produced, in float64.

Fixture values come from a pool of 2^24 normal draws read at random offsets (the merge's cost does not
depend on the values; drawing 2.5 G fresh normals would take longer than the benchmark).
"""
import argparse
import http.client
import json
import math
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import uuid
import zlib

import numpy as np

WIDTH = {"BF16": 2, "F32": 4}
MODULES = [("self_attn", "q_proj"), ("self_attn", "k_proj"), ("self_attn", "v_proj"), ("self_attn", "o_proj"),
           ("mlp", "gate_proj"), ("mlp", "up_proj"), ("mlp", "down_proj")]


# ---------------------------------------------------------------------------------------------- fixtures

def gemma_shapes(hidden=2048, intermediate=16384, heads=8, kv_heads=1, head_dim=256):
    return {"q_proj": [heads * head_dim, hidden], "k_proj": [kv_heads * head_dim, hidden],
            "v_proj": [kv_heads * head_dim, hidden], "o_proj": [hidden, heads * head_dim],
            "gate_proj": [intermediate, hidden], "up_proj": [intermediate, hidden], "down_proj": [hidden, intermediate]}


def gemma_tensors(layers, vocab, hidden=2048):
    """(name, shape) in GemmaForCausalLM's state-dict order (lm_head is tied to the embeddings)."""
    shapes = gemma_shapes(hidden)
    out = [("model.embed_tokens.weight", [vocab, hidden])]
    for i in range(layers):
        for group, m in MODULES:
            out.append((f"model.layers.{i}.{group}.{m}.weight", shapes[m]))
        out.append((f"model.layers.{i}.input_layernorm.weight", [hidden]))
        out.append((f"model.layers.{i}.post_attention_layernorm.weight", [hidden]))
    out.append(("model.norm.weight", [hidden]))
    return out


def gemma_config(layers, vocab, dtype):
    return {"architectures": ["GemmaForCausalLM"], "model_type": "gemma", "hidden_size": 2048, "intermediate_size": 16384,
            "num_hidden_layers": layers, "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256,
            "vocab_size": vocab, "max_position_embeddings": 8192, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
            "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh", "attention_bias": False,
            "attention_dropout": 0.0, "initializer_range": 0.02, "tie_word_embeddings": True,
            "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
            "torch_dtype": {"BF16": "bfloat16", "F32": "float32"}[dtype]}


def to_bf16(x):
    """float32 → bf16 bits, rounded to nearest even (finite inputs)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + (((u >> 16) & 1) + 0x7FFF)) >> 16).astype(np.uint16)


class Pool:
    """2^24 draws of N(0, 0.02), in the file's dtype; a tensor is read from it at random offsets."""
    SIZE = 1 << 24
    CHUNK = 1 << 22

    def __init__(self, dtype, seed=0):
        x = np.random.default_rng(seed).standard_normal(self.SIZE, dtype=np.float32) * np.float32(0.02)
        self.values = to_bf16(x) if dtype == "BF16" else x
        self.values = np.concatenate([self.values, self.values[:self.CHUNK]])   # any offset has CHUNK after it

    def tensor_chunks(self, name, count):
        rng = np.random.default_rng(zlib.crc32(name.encode()))   # the same name gives the same values
        done = 0
        while done < count:
            n = min(self.CHUNK, count - done)
            start = int(rng.integers(0, self.SIZE))
            yield self.values[start:start + n]
            done += n

    def tensor(self, name, shape):
        return np.concatenate(list(self.tensor_chunks(name, math.prod(shape)))).reshape(shape)


def write_safetensors(path, tensors):
    """tensors: [(name, dtype, shape, chunks)] with chunks an iterable of numpy arrays (or bytes) in order.
    Written by hand — 8-byte little-endian header length, the JSON header, the data — tensor by tensor,
    so memory stays bounded by one chunk (safetensors' numpy API has no bf16)."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, _ in tensors:
        size = math.prod(shape) * WIDTH[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for name, dtype, shape, chunks in tensors:
            written = 0
            for chunk in chunks:
                data = chunk.tobytes() if hasattr(chunk, "tobytes") else chunk
                f.write(data)
                written += len(data)
            assert written == header[name]["data_offsets"][1] - header[name]["data_offsets"][0], name
    return 8 + len(encoded) + offset


def parse_size(text):
    m = re.fullmatch(r"([0-9.]+)\s*([KMGT]?)B?", text.strip().upper())
    if not m:
        raise SystemExit(f"not a size: {text}")
    return int(float(m.group(1)) * 1000 ** " KMGT".index(m.group(2) or " "))   # decimal, like save_pretrained's "5GB"


def split_shards(tensors, dtype, max_bytes):
    """Hugging Face's split (huggingface_hub.split_torch_state_dict_into_shards): greedy in state-dict order."""
    shards, current, size = [], [], 0
    for name, shape in tensors:
        n = math.prod(shape) * WIDTH[dtype]
        if current and size + n > max_bytes:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += n
    if current:
        shards.append(current)
    return shards


def write_model(directory, layers, vocab, dtype, max_shard, tensor_values):
    """A model directory; tensor_values(name, shape) yields the tensor's chunks. Single file when it fits."""
    os.makedirs(directory, exist_ok=True)
    tensors = gemma_tensors(layers, vocab)
    shards = split_shards(tensors, dtype, max_shard)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(gemma_config(layers, vocab, dtype), f, indent=2)
    names = ["model.safetensors"] if len(shards) == 1 else \
        [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map, total = {}, 0
    for file, shard in zip(names, shards):
        write_safetensors(os.path.join(directory, file),
                          [(n, dtype, s, tensor_values(n, s)) for n, s in sorted(shard)])
        for n, s in shard:
            weight_map[n] = file
            total += math.prod(s) * WIDTH[dtype]
        print(f"  {file}: {os.path.getsize(os.path.join(directory, file)) / 1e9:.3f} GB, {len(shard)} tensors", flush=True)
    if len(shards) > 1:
        with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)


def cmd_base(a):
    pool = Pool(a.dtype)
    started = time.perf_counter()
    write_model(a.dir, a.layers, a.vocab, a.dtype, parse_size(a.max_shard),
                lambda name, shape: pool.tensor_chunks(name, math.prod(shape)))
    print(f"  written in {time.perf_counter() - started:.1f} s", flush=True)


def cmd_adapter(a):
    os.makedirs(a.dir, exist_ok=True)
    rng = np.random.default_rng(1)
    shapes = gemma_shapes()
    tensors = []
    for i in range(a.layers):
        for group, m in MODULES:
            out_f, in_f = shapes[m]
            key = f"base_model.model.model.layers.{i}.{group}.{m}"
            # A as PEFT initialises it (std ~ 1/√in); B as training leaves it: small but non-zero.
            tensors.append((key + ".lora_A.weight", "F32", [a.rank, in_f], [rng.standard_normal((a.rank, in_f), dtype=np.float32) / np.float32(math.sqrt(in_f))]))
            tensors.append((key + ".lora_B.weight", "F32", [out_f, a.rank], [rng.standard_normal((out_f, a.rank), dtype=np.float32) * np.float32(0.002)]))
    size = write_safetensors(os.path.join(a.dir, "adapter_model.safetensors"), sorted(tensors, key=lambda t: t[0]))
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": a.base_name, "r": a.rank,
              "lora_alpha": a.alpha, "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
              "use_dora": False, "inference_mode": True, "target_modules": sorted(m for _, m in MODULES)}
    with open(os.path.join(a.dir, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print(f"  adapter_model.safetensors: {size / 2**20:.1f} MiB (r = {a.rank}, alpha {a.alpha}, f32, {a.layers * 7} modules)", flush=True)


def cmd_extract_fixture(a):
    pool = Pool("F32", seed=2)
    shapes = gemma_shapes()
    targets = {f"model.layers.{i}.{g}.{m}.weight": shapes[m] for i in range(a.layers) for g, m in MODULES}
    started = time.perf_counter()
    print(f"base ({a.layers} layers, vocab {a.vocab}, f32):", flush=True)
    write_model(a.base, a.layers, a.vocab, "F32", 1 << 62, lambda n, s: pool.tensor_chunks(n, math.prod(s)))

    def tuned(name, shape):
        if name not in targets:
            return pool.tensor_chunks(name, math.prod(shape))
        rng = np.random.default_rng(zlib.crc32(b"update:" + name.encode()))
        out_f, in_f = shape
        u, _ = np.linalg.qr(rng.standard_normal((out_f, a.rank)))
        v, _ = np.linalg.qr(rng.standard_normal((in_f, a.rank)))
        sigma = np.logspace(0, -1.5, a.rank)
        sigma *= 1e-3 * math.sqrt(out_f * in_f) / np.linalg.norm(sigma)   # RMS of the update: 1e-3 (base 0.02)
        update = (u * sigma) @ v.T
        noise = rng.standard_normal(shape)
        update += noise * (a.noise * np.linalg.norm(sigma) / np.linalg.norm(noise))
        return [(pool.tensor(name, shape).astype(np.float64) + update).astype(np.float32)]

    print(f"tuned: + a rank-{a.rank} update and noise ({a.noise:g} of its norm) on {len(targets)} weights:", flush=True)
    write_model(a.tuned, a.layers, a.vocab, "F32", 1 << 62, tuned)
    print(f"  written in {time.perf_counter() - started:.1f} s", flush=True)


# ------------------------------------------------------------------------------------------------ merge

def median_range(values, fmt="{:.2f}", unit=" s"):
    return f"{fmt.format(statistics.median(values))}{unit} ({fmt.format(min(values))}–{fmt.format(max(values))})"


class Server:
    def __init__(self, binary, data, port):
        self.binary, self.data, self.port = binary, data, port
        self.base = f"http://127.0.0.1:{port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data", self.data,
                                         "--min-free-disk", "1G", "--auth", "off", "--log-level", "warning"])
        for _ in range(200):
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}")
            time.sleep(0.05)
        raise SystemExit("the server did not answer /healthz")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def status(self):
        """Fields of /proc/PID/status in kB, and the process's CPU seconds (user, system)."""
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    fields[key] = int(value.split()[0])
        with open(f"/proc/{self.process.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return fields, int(parts[11]) / tick, int(parts[12]) / tick

    def reset_peak(self):
        with open(f"/proc/{self.process.pid}/clear_refs", "w") as f:
            f.write("5")   # resets VmHWM to the current RSS (Linux ≥ 4.0)

    def request(self, method, path, body=None, headers=None, length=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        try:
            connection.putrequest(method, path)
            for k, v in (headers or {}).items():
                connection.putheader(k, v)
            if body is None:
                connection.putheader("Content-Length", "0")
                connection.endheaders()
            elif isinstance(body, (bytes, bytearray)):
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders()
                connection.send(body)
            else:   # an iterable of chunks, `length` bytes in all
                connection.putheader("Content-Length", str(length))
                connection.endheaders()
                for chunk in body:
                    connection.send(chunk)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def tar_stream(directory):
    """A ustar archive of the directory's files, streamed from disk; (length, chunks)."""
    names = sorted(os.listdir(directory))
    length = 1024 + sum(512 + -(-os.path.getsize(os.path.join(directory, n)) // 512) * 512 for n in names)

    def chunks():
        for n in names:
            path = os.path.join(directory, n)
            info = tarfile.TarInfo(n)
            info.size, info.mode, info.mtime = os.path.getsize(path), 0o644, int(time.time())
            yield info.tobuf(format=tarfile.USTAR_FORMAT)
            with open(path, "rb") as f:
                while True:
                    block = f.read(8 << 20)
                    if not block:
                        break
                    yield block
            yield b"\0" * (-info.size % 512)
        yield b"\0" * 1024
    return length, chunks()


def multipart(directory, names):
    boundary = uuid.uuid4().hex
    parts = []
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def curl_get(url, out="/dev/null"):
    """(status, seconds to the first byte, seconds in all, bytes) of one GET with curl."""
    result = subprocess.run(["curl", "-sS", "-o", out, "-w", "%{http_code} %{time_starttransfer} %{time_total} %{size_download}", url],
                            check=True, capture_output=True, text=True)
    code, first, total, size = result.stdout.split()
    return int(code), float(first), float(total), int(size)


class Sampler(threading.Thread):
    """Peaks of RssAnon and RssFile from /proc/PID/status every 10 ms (VmHWM has only their sum)."""
    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.stop_flag, self.anon, self.file = server, threading.Event(), 0, 0

    def run(self):
        while not self.stop_flag.is_set():
            try:
                fields = self.server.status()[0]
                self.anon, self.file = max(self.anon, fields.get("RssAnon", 0)), max(self.file, fields.get("RssFile", 0))
            except (OSError, IndexError):
                pass
            time.sleep(0.01)

    def finish(self):
        self.stop_flag.set()
        self.join()


def find_blob(data, digest):
    for root, _, files in os.walk(data):
        for f in files:
            if f == digest[2:] and os.path.basename(root) == digest[:2]:
                return os.path.join(root, f)
    raise SystemExit(f"blob {digest} not found under {data}")


def cmd_merge(a):
    with open(os.path.join(a.base_dir, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    shards = sorted(set(weight_map.values()))
    touched = sorted({s for n, s in weight_map.items() if re.search(r"\.(q|k|v|o|gate|up|down)_proj\.weight$", n)})
    sizes = {s: os.path.getsize(os.path.join(a.base_dir, s)) for s in shards}
    largest = max(sizes.values())
    data = os.path.join(a.work, "data")
    server = Server(a.binary, data, a.port)
    base_name, adapter_name = "bench/gemma-2b", "bench/adapter"
    base_ref, adapter_ref = urllib.parse.quote(base_name, safe=""), urllib.parse.quote(adapter_name, safe="")
    adapter_body = multipart(a.adapter_dir, ["adapter_config.json", "adapter_model.safetensors"])
    try:
        server.start()
        length, chunks = tar_stream(a.base_dir)
        started = time.perf_counter()
        code, body = server.request("POST", f"/v1/bases?name={base_name}", chunks, {"Content-Type": "application/x-tar"}, length)
        upload = time.perf_counter() - started
        if code not in (200, 201):
            raise SystemExit(f"base upload: {code} {body[:500]!r}")
        stored = {f["path"]: f["sha256"] for f in json.loads(body)["files"]}
        print(f"base upload (tar, {length / 1e9:.2f} GB, streamed from disk): {upload:.1f} s, {length / 1e9 / upload:.2f} GB/s "
              f"(hashing, header validation, fsync)", flush=True)
        if a.drop_source:
            shutil.rmtree(a.base_dir)   # its page cache goes with it; the stored blobs are what is read from now on
        blobs = {s: find_blob(data, stored[s]) for s in shards}

        def upload_adapter():
            code, body = server.request("POST", f"/v1/adapters?name={adapter_name}", adapter_body[0], {"Content-Type": adapter_body[1]})
            if code not in (200, 201):
                raise SystemExit(f"adapter upload: {code} {body[:500]!r}")

        def cold_merge(label):
            """Squeeze to 16, then every touched shard merged, each timed; RSS and CPU of the server."""
            before, user0, sys0 = server.status()
            server.reset_peak()
            sampler = Sampler(server)
            sampler.start()
            wall0 = time.perf_counter()
            code, _, squeeze, _ = curl_get(f"{server.base}/v1/adapters/{adapter_ref}/squeezed/16/adapter_model.safetensors")
            assert code == 200, f"squeeze: {code}"
            times = {}
            for s in touched:
                code, first, total, size = curl_get(f"{server.base}/v1/adapters/{adapter_ref}/merged/16/{s}")
                if code != 200:
                    raise SystemExit(f"{label}: merged/16/{s} answered {code}")
                assert size == sizes[s], (s, size, sizes[s])
                times[s] = (first, total)
            wall = time.perf_counter() - wall0
            sampler.finish()
            after, user1, sys1 = server.status()
            return {"squeeze": squeeze, "times": times, "merge": sum(t for _, t in times.values()), "wall": wall,
                    "rss_before": before["VmRSS"] / 1024, "hwm": after["VmHWM"] / 1024, "anon": sampler.anon / 1024,
                    "file": sampler.file / 1024, "cpu": (user1 - user0) + (sys1 - sys0)}

        def copy_floor():
            cp, sync = 0.0, 0.0
            for s in touched:
                target = os.path.join(a.work, "cp-floor.tmp")
                t0 = time.perf_counter()
                subprocess.run(["cp", blobs[s], target], check=True)
                t1 = time.perf_counter()
                subprocess.run(["sync", target], check=True)   # fsync, as the merge's output is made durable
                cp, sync = cp + (t1 - t0), sync + (time.perf_counter() - t1)
                os.remove(target)
            return cp, sync

        merged_bytes = sum(sizes[s] for s in touched)
        print(f"merged/16 of {len(touched)} shard(s), {merged_bytes / 1e9:.2f} GB "
              f"({', '.join(f'{s} {sizes[s] / 1e9:.3f} GB' for s in touched)}); largest shard {largest / 2**20:.0f} MiB", flush=True)
        runs = []
        for i in range(a.runs):
            if i > 0:   # drops the adapter's squeezes and merged shards; the upload is not timed
                code, body = server.request("DELETE", f"/v1/adapters/{adapter_ref}")
                assert code == 200, (code, body[:300])
            upload_adapter()
            os.sync()
            r = cold_merge(f"run {i + 1}")
            r["cp"], r["sync"] = copy_floor()
            runs.append(r)
            per_shard = ", ".join(f"{s.split('-')[1] if '-' in s else s} {t:.2f} s" for s, (_, t) in r["times"].items())
            print(f"  run {i + 1}: squeeze {r['squeeze']:.2f} s; merge {r['merge']:.2f} s ({per_shard}) = {merged_bytes / 1e9 / r['merge']:.2f} GB/s; "
                  f"server CPU {r['cpu']:.1f} s; cp {r['cp']:.2f} s (+ fsync {r['sync']:.2f} s); "
                  f"RSS {r['rss_before']:.0f} MiB before, peak {r['hwm']:.0f} MiB (anon {r['anon']:.0f}, file {r['file']:.0f})", flush=True)

        print("cached: merged shards (the cache's blobs) against the base's own files, alternated", flush=True)
        cached, own = [], []
        for i in range(a.cached_runs):
            order = [("merged", cached), ("base", own)] if i % 2 == 0 else [("base", own), ("merged", cached)]
            for kind, out in order:
                total = 0.0
                for s in touched:
                    url = (f"{server.base}/v1/adapters/{adapter_ref}/merged/16/{s}" if kind == "merged"
                           else f"{server.base}/v1/bases/{base_ref}/files/{s}")
                    code, _, t, size = curl_get(url)
                    assert code == 200 and size == sizes[s], (kind, s, code, size)
                    total += t
                out.append(total)

        # After a restart every stored blob is rehashed on its first read (BlobStore.verifyIfCold).
        server.stop()
        server.start()
        code, body = server.request("DELETE", f"/v1/adapters/{adapter_ref}")
        assert code == 200, (code, body[:300])
        upload_adapter()
        restart = cold_merge("after restart")
        # The rehash alone: restart again and read the largest base shard twice, first (rehashed) and second.
        server.stop()
        server.start()
        biggest = max(touched, key=lambda s: sizes[s])
        rehash = [curl_get(f"{server.base}/v1/bases/{base_ref}/files/{biggest}")[2] for _ in range(2)]

        print()
        print(f"== merge at rank 16: {len(touched)} shard(s), {merged_bytes / 1e9:.2f} GB of bf16 output, {a.runs} cold runs (medians, ranges)")
        merge = [r["merge"] for r in runs]
        cp = [r["cp"] for r in runs]
        cps = [r["cp"] + r["sync"] for r in runs]
        print(f"squeeze r64 → r16 (first request, before the shards)      {median_range([r['squeeze'] for r in runs])}")
        for s in touched:
            print(f"cold merge of {s:38s} {median_range([r['times'][s][1] for r in runs])}, "
                  f"first byte after {median_range([r['times'][s][0] for r in runs])}")
        print(f"cold merge, all shards                                      {median_range(merge)}")
        print(f"merged output throughput                                    {median_range([merged_bytes / 1e9 / m for m in merge], '{:.2f}', ' GB/s')}")
        print(f"server CPU time during squeeze + merge                      {median_range([r['cpu'] for r in runs])}")
        print(f"I/O floor: cp of the stored shards (same filesystem)        {median_range(cp)}")
        print(f"           cp + fsync                                       {median_range(cps)}")
        print(f"ratio merge / cp (per run)                                  {median_range([r['merge'] / r['cp'] for r in runs], '{:.1f}', '×')}")
        print(f"ratio merge / (cp + fsync) (per run)                        {median_range([r['merge'] / (r['cp'] + r['sync']) for r in runs], '{:.1f}', '×')}")
        print(f"server RSS before the merge                                 {median_range([r['rss_before'] for r in runs], '{:.0f}', ' MiB')}")
        print(f"server peak RSS during it (VmHWM, reset before)             {median_range([r['hwm'] for r in runs], '{:.0f}', ' MiB')}"
              f" = {statistics.median(r['hwm'] for r in runs) * 2**20 / largest:.3f}× the largest shard ({largest / 2**20:.0f} MiB; target < 2×)")
        print(f"  sampled peaks, anonymous / file-backed                    {median_range([r['anon'] for r in runs], '{:.0f}', ' MiB')} / "
              f"{median_range([r['file'] for r in runs], '{:.0f}', ' MiB')}")
        print(f"cached merged shards, GET ({a.cached_runs} runs)                         {median_range(cached, '{:.3f}')}"
              f" = {merged_bytes / 1e9 / statistics.median(cached):.2f} GB/s")
        print(f"the base's own files, GET /v1/bases/…/files ({a.cached_runs} runs)        {median_range(own, '{:.3f}')}"
              f" = {merged_bytes / 1e9 / statistics.median(own):.2f} GB/s; merged shards at {statistics.median(own) / statistics.median(cached):.0%} of that speed")
        print(f"after a restart (base shards rehashed on first read), 1 run: squeeze {restart['squeeze']:.2f} s, merge {restart['merge']:.2f} s "
              f"({', '.join(f'{t:.2f}' for _, t in restart['times'].values())}), server CPU {restart['cpu']:.1f} s, "
              f"peak RSS {restart['hwm']:.0f} MiB")
        print(f"the rehash alone, after another restart: GET of the base's {biggest} {rehash[0]:.2f} s the first time, "
              f"{rehash[1]:.2f} s the second")
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------- extraction

def load_adapter(directory):
    from safetensors.numpy import load_file
    with open(os.path.join(directory, "adapter_config.json")) as f:
        config = json.load(f)
    files = [n for n in os.listdir(directory) if n.endswith(".safetensors")]
    weights = {}
    for n in files:
        weights.update(load_file(os.path.join(directory, n)))
    factors = {}
    for key, value in weights.items():
        m = re.match(r"base_model\.model\.(.+)\.lora_([AB])\.weight$", key)
        if m:
            factors.setdefault(m.group(1), {})[m.group(2)] = value
    def scale(module):
        r = config.get("rank_pattern", {}).get(module, config["r"])
        alpha = config.get("alpha_pattern", {}).get(module, config["lora_alpha"])
        return alpha / (math.sqrt(r) if config.get("use_rslora") else r)
    return {m: (f["B"].astype(np.float64) * scale(m), f["A"].astype(np.float64)) for m, f in factors.items()}


def relative_error(delta, norm, b, a):
    return float(np.linalg.norm(delta - b @ a) / norm)


def cmd_extract(a):
    from safetensors import safe_open
    try:
        import peft
        import torch
        from peft.tuners.lora.conversion import _convert_module_to_lora
        torch.set_num_threads(os.cpu_count())
    except ImportError as error:
        torch = None
        print(f"no torch and peft in this Python ({error}): the optimum from numpy.linalg.svd, PEFT skipped", flush=True)
    rows = {}

    def timed(label, argv, out_dir, runs):
        times = []
        for _ in range(runs):
            shutil.rmtree(out_dir, ignore_errors=True)
            t0 = time.perf_counter()
            result = subprocess.run(argv, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if result.returncode != 0:
                print(f"{label} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}", flush=True)
                return None, None
        return times, result

    ours_dir = os.path.join(a.work, "ours")
    times, result = timed("lora-squeeze extract", [a.binary, "extract", "--base", a.base_dir, "--tuned", a.tuned_dir, "--rank", str(a.rank),
                                                   "--out", ours_dir, "--json", "--base-model", "bench/gemma-extract"], ours_dir, a.runs)
    if times is None:
        raise SystemExit("lora-squeeze extract failed")
    report = json.loads(result.stdout)
    reported = {m["name"]: m["relativeError"] for m in report["modules"]}
    print(f"lora-squeeze extract: {median_range(times)} over {a.runs} runs (its own report: {report['seconds']:.2f} s in the "
          f"extraction loop, {len(report['modules'])} modules)", flush=True)
    rows["lora-squeeze extract (randomized SVD, p 10, q 2, float64)"] = (times, load_adapter(ours_dir))

    if a.mergekit:
        mk_dir = os.path.join(a.work, "mergekit")
        argv = a.mergekit.split() + ["--model", a.tuned_dir, "--base-model", a.base_dir, "--out-path", mk_dir,
                                     "--max-rank", str(a.rank), "--no-copy-tokenizer", "--quiet"]
        times, _ = timed("mergekit-extract-lora", argv, mk_dir, a.mergekit_runs)
        if times is not None:
            print(f"mergekit-extract-lora: {median_range(times)} over {a.mergekit_runs} run(s)", flush=True)
            rows["mergekit-extract-lora (dense SVD, float32)"] = (times, load_adapter(mk_dir))

    base = safe_open(os.path.join(a.base_dir, "model.safetensors"), framework="numpy")
    tuned = safe_open(os.path.join(a.tuned_dir, "model.safetensors"), framework="numpy")

    class Delta:   # what PEFT's converter asks of a layer: its delta weight and its base layer (not Conv1D)
        def __init__(self, w):
            self.w, self.base = w, torch.nn.Linear(1, 1)

        def get_delta_weight(self, adapter_name):
            return self.w

        def get_base_layer(self):
            return self.base

    optimum_label = f"{'torch' if torch else 'numpy'}.linalg.svd, float64, truncated (the optimum)"
    peft_label = "PEFT _convert_module_to_lora (torch.linalg.svd, float32)"
    ours_label = "lora-squeeze extract (randomized SVD, p 10, q 2, float64)"
    errors = {label: [] for label in rows}
    errors[optimum_label] = []
    if torch:
        errors[peft_label] = []
    seconds = {optimum_label: 0.0, peft_label: 0.0}
    report_gap = []
    modules = sorted(rows[ours_label][1])
    for module in modules:
        name = module + ".weight"
        delta = tuned.get_tensor(name).astype(np.float64) - base.get_tensor(name).astype(np.float64)   # as extract computes it
        norm = float(np.linalg.norm(delta))
        for label, (_, factors) in rows.items():
            b, a_ = factors[module]
            errors[label].append(relative_error(delta, norm, b, a_))
        t0 = time.perf_counter()
        if torch:
            u, s, vh = (x.numpy() for x in torch.linalg.svd(torch.from_numpy(delta), full_matrices=False))
        else:
            u, s, vh = np.linalg.svd(delta, full_matrices=False)
        seconds[optimum_label] += time.perf_counter() - t0
        errors[optimum_label].append(relative_error(delta, norm, u[:, :a.rank] * s[:a.rank], vh[:a.rank]))
        del u, vh
        report_gap.append(abs(reported[module] - errors[ours_label][-1]))
        print(f"  {module}: ‖ΔW‖ {norm:.4f}, optimal error {errors[optimum_label][-1]:.8f}, lora-squeeze {errors[ours_label][-1]:.8f}", flush=True)
        if not torch:
            continue
        t0 = time.perf_counter()
        lora_a, lora_b, _ = _convert_module_to_lora(Delta(torch.from_numpy(delta.astype(np.float32))), rank=a.rank)
        seconds[peft_label] += time.perf_counter() - t0
        errors[peft_label].append(relative_error(delta, norm, lora_b.double().numpy(), lora_a.double().numpy()))
    optimum = errors[optimum_label]
    print()
    print(f"== extraction at rank {a.rank}: {len(modules)} modules"
          + (f" (torch {torch.__version__}, peft {peft.__version__}, {torch.get_num_threads()} threads)" if torch else ""))
    print(f"{'method':60s} {'time':>20s} {'rel. error: mean':>17s} {'worst':>11s} {'excess over optimum: mean':>26s} {'worst':>9s}")
    for label, errs in errors.items():
        t = rows[label][0] if label in rows else [seconds[label]]
        what = median_range(t) if len(t) > 1 else f"{t[0]:.2f} s"
        excess = [e / o - 1 for e, o in zip(errs, optimum)]
        print(f"{label:60s} {what:>20s} {statistics.fmean(errs):17.8f} {max(errs):11.8f} {statistics.fmean(excess):26.2e} {max(excess):9.2e}")
    print("(lora-squeeze and mergekit: the whole command — reading both models, writing the adapter; torch and PEFT: the "
          "factorization alone, summed over the modules, ΔW already in memory. Errors measured here from each method's factors.)")
    print(f"lora-squeeze's reported relativeError (√(1 − energy), σ from its sketch) against the error measured from its written "
          f"factors: worst difference {max(report_gap):.2e}")


# ------------------------------------------------------------------------------------------------- main

def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so `finally` stops the server
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("base")
    b.add_argument("dir")
    b.add_argument("--layers", type=int, default=18)
    b.add_argument("--vocab", type=int, default=256000)
    b.add_argument("--dtype", default="BF16", choices=sorted(WIDTH))
    b.add_argument("--max-shard", default="5GB")
    b.set_defaults(run=cmd_base)
    d = sub.add_parser("adapter")
    d.add_argument("dir")
    d.add_argument("--layers", type=int, default=18)
    d.add_argument("--rank", type=int, default=64)
    d.add_argument("--alpha", type=int, default=128)
    d.add_argument("--base-name", default="bench/gemma-2b")
    d.set_defaults(run=cmd_adapter)
    m = sub.add_parser("merge")
    m.add_argument("binary")
    m.add_argument("base_dir")
    m.add_argument("adapter_dir")
    m.add_argument("work")
    m.add_argument("--runs", type=int, default=3)
    m.add_argument("--cached-runs", type=int, default=5)
    m.add_argument("--port", type=int, default=18094)
    m.add_argument("--drop-source", action="store_true", help="remove BASE_DIR once uploaded")
    m.set_defaults(run=cmd_merge)
    f = sub.add_parser("extract-fixture")
    f.add_argument("base")
    f.add_argument("tuned")
    f.add_argument("--layers", type=int, default=4)
    f.add_argument("--vocab", type=int, default=32000)
    f.add_argument("--rank", type=int, default=16)
    f.add_argument("--noise", type=float, default=0.1)
    f.set_defaults(run=cmd_extract_fixture)
    e = sub.add_parser("extract")
    e.add_argument("binary")
    e.add_argument("base_dir")
    e.add_argument("tuned_dir")
    e.add_argument("work")
    e.add_argument("--rank", type=int, default=16)
    e.add_argument("--runs", type=int, default=3)
    e.add_argument("--mergekit", help="the mergekit-extract-lora command, when installed")
    e.add_argument("--mergekit-runs", type=int, default=1)
    e.set_defaults(run=cmd_extract)
    a = p.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
