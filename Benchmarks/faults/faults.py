#!/usr/bin/env python3
"""Storage off the request path, measured: what a cached download writes, and /healthz under a squeeze.

    python3 Benchmarks/faults/faults.py BINARY [BINARY_BEFORE] [--downloads 1000] [--squeezes 5]

For each binary given (the current build and, optionally, an older one to compare in the same run):
  1. starts `serve` on a fresh temp data directory (loopback, free port, --scrub-interval 0), writes a
     Gemma-like PEFT adapter (--layers 24, --rank 128, f32: 258 MiB; numpy + safetensors) and uploads it;
  2. squeezes it to rank 16 once (now cached), attaches `strace -f -e trace=fsync,fdatasync,pwrite64`
     to the server and makes DOWNLOADS cached downloads of that file (keep-alive, one client), then
     prints how many of each call the server made, and over how many seconds: the catalog's batched
     hit flush writes at most once a second, whatever the number of downloads;
  3. probes /healthz every 10 ms (a new connection each) while SQUEEZES distinct squeezes (ranks
     17, 18, …, exact) run one after another, and prints p50/p99/max of the probes taken while a
     squeeze was running, next to the same prober on the idle server.
Prints figures and asserts nothing (exit 0 unless it cannot run).

Authentication (on by default in builds that have it): for each binary, `BINARY token generate` makes
an admin token (a fresh `lsq_…`, recorded nowhere), `serve` gets it in LORA_SQUEEZE_ADMIN_TOKEN (it
installs it as an unlimited admin token at start-up), and the upload and the downloads send it as
`Authorization: Bearer`; the /healthz probes send nothing (/healthz is open). An older binary without
the `token` command has no authentication and gets no token.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flood"))
import flood  # noqa: E402  (write_adapter, MODULES)


def start(binary, data, log, token=None):
    env = {**os.environ, "LORA_SQUEEZE_ADMIN_TOKEN": token} if token else None
    proc = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", "--data", data,
                             "--min-free-disk", "0"] + (["--scrub-interval", "0", "--drain-delay", "0"] if supports(binary) else []),
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(log.name, "rb") as f:
            text = f.read().decode(errors="replace")
        if "listening on http://" in text:
            port = int(text.split("listening on http://", 1)[1].split()[0].rsplit(":", 1)[1])
            return proc, port
        if proc.poll() is not None:
            raise SystemExit(f"serve exited: {text[-500:]}")
        time.sleep(0.05)
    raise SystemExit("serve did not start")


def supports(binary):
    return "--scrub-interval" in subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout


def admin_token(binary):
    """A fresh admin token from `BINARY token generate`, or None for a build without authentication."""
    p = subprocess.run([binary, "token", "generate"], capture_output=True, text=True)
    token = p.stdout.strip()
    return token if p.returncode == 0 and token.startswith("lsq_") else None


def auth_headers(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


def upload(port, directory, token=None):
    boundary = "faultsbench"
    parts = []
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/adapters", body=body,
              headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **auth_headers(token)})
    r = c.getresponse()
    payload = r.read()
    if r.status not in (200, 201):
        raise SystemExit(f"upload: {r.status} {payload[:300]}")
    return json.loads(payload)["digest"]


def get(port, target, conn=None, token=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", target, headers=auth_headers(token))
    r = c.getresponse()
    body = r.read()
    return r.status, body


def probe_once(port):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
    except OSError:
        return None
    return time.monotonic() - t0


def prober(port, stop, samples):
    while not stop.is_set():
        t = time.monotonic()
        d = probe_once(port)
        if d is not None:
            samples.append((t, d))
        time.sleep(max(0.0, 0.01 - (time.monotonic() - t)))


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def measure(binary, adapter_dir, downloads, squeezes):
    work = tempfile.mkdtemp(prefix="lora-faults-")
    log = open(os.path.join(work, "server.log"), "wb")
    token = admin_token(binary)
    proc, port = start(binary, os.path.join(work, "data"), log, token)
    out = {}
    try:
        digest = upload(port, adapter_dir, token)
        target = f"/v1/adapters/{digest}/squeezed/16/adapter_model.safetensors?method=exact"
        status, body = get(port, target, token=token)
        assert status == 200, status
        time.sleep(1.5)   # the first hit's flush, and anything else, settles
        trace = os.path.join(work, "strace.txt")
        st = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,pwrite64", "-o", trace, "-p", str(proc.pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)   # attached to every thread
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.monotonic()
        for _ in range(downloads):
            s, b = get(port, target, conn, token)
            assert s == 200 and len(b) == len(body)
        elapsed = time.monotonic() - t0
        time.sleep(1.5)   # let a pending flush happen inside the trace
        st.send_signal(signal.SIGINT)
        st.wait()
        counts = {"fsync": 0, "fdatasync": 0, "pwrite64": 0}
        with open(trace) as f:
            for line in f:
                for k in counts:
                    if f" {k}(" in line or line.startswith(f"{k}("):
                        counts[k] += 1
        out["downloads"] = (downloads, elapsed, counts)

        idle, busy = [], []
        stop = threading.Event()
        th = threading.Thread(target=prober, args=(port, stop, idle))
        th.start()
        time.sleep(3)
        stop.set()
        th.join()
        samples = []
        stop = threading.Event()
        th = threading.Thread(target=prober, args=(port, stop, samples))
        th.start()
        spans = []
        for i in range(squeezes):
            t = time.monotonic()
            s, _ = get(port, f"/v1/adapters/{digest}/squeezed/{17 + i}/adapter_model.safetensors?method=exact", token=token)
            spans.append((t, time.monotonic()))
            assert s == 200, s
        stop.set()
        th.join()
        busy = [d for (t, d) in samples if any(a <= t <= b for a, b in spans)]
        out["healthz"] = ([d for _, d in idle], busy, [b - a for a, b in spans])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--downloads", type=int, default=1000)
    ap.add_argument("--squeezes", type=int, default=5)
    ap.add_argument("--layers", type=int, default=24, help="adapter layers (7 modules each)")
    ap.add_argument("--rank", type=int, default=128, help="the adapter's LoRA rank")
    args = ap.parse_args()
    adapter_dir = tempfile.mkdtemp(prefix="lora-faults-adapter-")
    try:
        flood.write_adapter(adapter_dir, args.layers, args.rank, 11)
        print(f"adapter: {args.layers} layers × 7 modules, r {args.rank}, f32, {flood.weights_bytes(args.layers, args.rank) / 2**20:.0f} MiB")
        for binary in args.binaries:
            print(f"== {binary}")
            r = measure(binary, adapter_dir, args.downloads, args.squeezes)
            n, secs, c = r["downloads"]
            print(f"  {n} cached downloads in {secs:.2f} s: fsync {c['fsync']}, fdatasync {c['fdatasync']}, pwrite64 {c['pwrite64']} "
                  f"(trace from 1 s before to 1.5 s after)")
            idle, busy, durations = r["healthz"]
            ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731
            print(f"  /healthz idle:            p50 {ms(pct(idle, 50))} ms  p99 {ms(pct(idle, 99))} ms  max {ms(max(idle))} ms  ({len(idle)} probes)")
            print(f"  /healthz during squeezes: p50 {ms(pct(busy, 50))} ms  p99 {ms(pct(busy, 99))} ms  max {ms(max(busy))} ms  "
                  f"({len(busy)} probes; {len(durations)} squeezes of {min(durations):.2f}–{max(durations):.2f} s)")
    finally:
        shutil.rmtree(adapter_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
