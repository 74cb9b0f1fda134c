#!/usr/bin/env python3
"""Times huggingface_hub's snapshot_download against lora-squeeze's /hub/r16 and against nginx serving
the same protocol answers (byte-identical JSON, the same files and headers), in one process, one client.

    python3 bench_hub.py BASE TOKEN NGINX_BASE REPO SOURCE_DIR RUNS

Called by Benchmarks/hub.sh, which starts both servers. Cold runs delete the adapter and upload it again
(same digest; its cached squeezes go with it), untimed, so the timed snapshot_download includes the
squeeze. Every run downloads into a fresh client cache except the "client cache warm" rows. Prints
medians and ranges; asserts only that every download is byte-identical to the first.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid

from huggingface_hub import snapshot_download

base, token, nginx, repo, source, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
work = tempfile.mkdtemp(prefix="hub-bench-")


def call(method, path, body=None, content_type=None):
    request = urllib.request.Request(base + path, data=body, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.read()


def upload():
    boundary = uuid.uuid4().hex
    parts = []
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        with open(os.path.join(source, name), "rb") as f:
            data = f.read()
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    call("POST", f"/v1/adapters?name={repo}", body, f"multipart/form-data; boundary={boundary}")


reference = None


def download(endpoint, auth, cache):
    global reference
    start = time.perf_counter()
    folder = snapshot_download(repo, endpoint=endpoint, token=auth, cache_dir=cache)
    elapsed = time.perf_counter() - start
    files = {n: open(os.path.join(folder, n), "rb").read() for n in sorted(os.listdir(folder))}
    if reference is None:
        reference = files
    assert files == reference, "a download differs from the first"
    return elapsed


def fresh():
    return tempfile.mkdtemp(dir=work)


def row(label, times):
    print(f"{label:58s} median {statistics.median(times):7.3f} s  range {min(times):.3f}–{max(times):.3f}  ({len(times)} runs)")


try:
    ours, theirs = base + "/hub/r16", nginx
    cold = []
    for _ in range(max(3, runs // 2)):
        call("DELETE", f"/v1/adapters/{repo}")
        upload()
        cold.append(download(ours, token, fresh()))
    warm_ours, warm_nginx, cached_ours, cached_nginx = [], [], [], []
    servers = [(ours, token, warm_ours, cached_ours), (theirs, None, warm_nginx, cached_nginx)]
    for i in range(runs):   # alternated, and in turns first, so drift and writeback hit both alike
        for endpoint, auth, warm, cached in (servers if i % 2 == 0 else servers[::-1]):
            cache = fresh()
            os.sync()
            warm.append(download(endpoint, auth, cache))
            cached.append(download(endpoint, auth, cache))
            shutil.rmtree(cache, ignore_errors=True)
    size = sum(len(v) for v in reference.values())
    print(f"snapshot_download of {repo} at rank 16 ({size / 1048576:.1f} MiB in {len(reference)} files):")
    row("lora-squeeze, cold (delete + upload untimed; squeeze timed)", cold)
    row("lora-squeeze, squeeze cached, fresh client cache", warm_ours)
    row("nginx, same answers, fresh client cache", warm_nginx)
    row("lora-squeeze, client cache warm (no body fetched)", cached_ours)
    row("nginx, client cache warm (no body fetched)", cached_nginx)
    print(f"ratio nginx / lora-squeeze, fresh client cache: {statistics.median(warm_nginx) / statistics.median(warm_ours):.0%}; "
          f"client cache warm: {statistics.median(cached_nginx) / statistics.median(cached_ours):.0%} (100 % = as fast as nginx)")
finally:
    shutil.rmtree(work, ignore_errors=True)
