#!/usr/bin/env python3
"""Hostile-load benchmark for `lora-squeeze serve` (run by Benchmarks/flood.sh; see its header).

Standard library only for the traffic (threads, raw sockets, multiprocessing); numpy and safetensors
only to write the adapter files. Prints figures and a summary line; the exit code is 0 whatever the
figures are (non-zero only when the benchmark itself cannot run, e.g. the server is unreachable).

    LORA_SQUEEZE_TOKEN=lsq_… flood.py --port PORT --pid SERVER_PID --work DIR [--seconds 5] [--retries 1]

LORA_SQUEEZE_TOKEN: the token sent as `Authorization: Bearer` on every request but the /healthz
probes (flood.sh makes it with `lora-squeeze token generate` and starts the server with it as
LORA_SQUEEZE_ADMIN_TOKEN). The side processes read it from the environment they inherit.

Source addresses (the server counts squeezes per client address):
    127.0.0.1            setup: base uploads, the downloader's squeeze, /metrics
    127.0.0.2 … .11      the 10 flooding clients (20 squeezes + 5 uploads each, all at once)
    127.0.0.12           the /healthz prober (one probe every 20 ms, a new connection each)
    127.0.0.13           the well-behaved downloader (one cached squeezed file, over and over)
"""

import argparse
import hashlib
import json
import math
import multiprocessing as mp
import os
import re
import socket
import sys
import threading
import time

MiB = 1 << 20

# A small Gemma: hidden 1024, MLP 4096, k/v 256 (q and o at 1024).
HIDDEN, MLP, KV = 1024, 4096, 256
MODULES = [  # (path inside the layer, in_features, out_features)
    ("self_attn.q_proj", HIDDEN, HIDDEN),
    ("self_attn.k_proj", HIDDEN, KV),
    ("self_attn.v_proj", HIDDEN, KV),
    ("self_attn.o_proj", HIDDEN, HIDDEN),
    ("mlp.gate_proj", HIDDEN, MLP),
    ("mlp.up_proj", HIDDEN, MLP),
    ("mlp.down_proj", MLP, HIDDEN),
]
LARGEST_MODULE_IO = max(i + o for _, i, o in MODULES)           # in + out of the largest module
DTYPE_BYTES = {"f32": 4, "bf16": 2, "f16": 2}

BASES = [(4, 32), (6, 32), (4, 64), (6, 64)]                     # (layers, rank) of the 4 base adapters
FLOOD_SHAPES = [(4, 32), (5, 32), (6, 32), (4, 64)]              # cycled over the 50 flood uploads (11–23 MB)
CLIENTS = 10
SQUEEZES_PER_CLIENT = 20
UPLOADS_PER_CLIENT = 5
SQUEEZE_RANKS = list(range(1, 18))                               # 4 adapters × 17 ranks × 3 dtypes = 204 ≥ 200
DTYPES = ["f32", "bf16", "f16"]
DOWNLOAD_RANK = 64                                               # the downloader's file: base 3 at rank 64, f32
PROBE_INTERVAL = 0.020
REQUEST_TIMEOUT = 120.0
BOUNDARY = "floodbenchmarkboundary7f3a9c"
HOST = "127.0.0.1"
TOKEN = os.environ.get("LORA_SQUEEZE_TOKEN", "")                 # see the module's text


def client_ip(i):
    return f"127.0.0.{2 + i}"


PROBER_IP, DOWNLOADER_IP, SETUP_IP = "127.0.0.12", "127.0.0.13", "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# Adapters (numpy + safetensors only here)

def weights_bytes(layers, rank):
    return layers * sum(rank * (i + o) for _, i, o in MODULES) * 4


def write_adapter(directory, layers, rank, seed):
    import numpy as np
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    decay = (0.85 ** np.arange(rank, dtype=np.float32))[None, :]    # a spectrum that falls off
    tensors = {}
    for layer in range(layers):
        for path, fin, fout in MODULES:
            prefix = f"base_model.model.model.layers.{layer}.{path}"
            a = rng.standard_normal((rank, fin), dtype=np.float32)
            a *= np.float32(1 / math.sqrt(fin))
            b = rng.standard_normal((fout, rank), dtype=np.float32)
            b *= np.float32(0.02) * decay
            tensors[prefix + ".lora_A.weight"] = a
            tensors[prefix + ".lora_B.weight"] = b
    save_file(tensors, os.path.join(directory, "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": "flood/gemma-small",
        "r": rank,
        "lora_alpha": 2 * rank,
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        "flood_seed": seed,
    }
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    return directory


# ---------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client on raw sockets: one request per connection, Connection: close.

class Response:
    __slots__ = ("status", "headers", "length", "body", "sha256", "t0", "t1", "t_conn", "t_sent", "t_first",
                 "error", "send_error")

    def __init__(self):
        self.status = None
        self.headers = {}
        self.length = 0
        self.body = b""
        self.sha256 = None
        self.t0 = self.t1 = 0.0
        self.t_conn = self.t_sent = self.t_first = None   # connected, request sent, first response byte
        self.error = None
        self.send_error = None

    @property
    def seconds(self):
        return self.t1 - self.t0


def exchange(port, src, method, target, headers=(), body=(), keep_body=False, hash_body=False,
             buffer=None, timeout=REQUEST_TIMEOUT, auth=True):
    """Sends one request from source address `src` and reads the whole response.
    `body` is a sequence of bytes objects and ("file", path) items (sent with sendfile).
    `auth`: send `Authorization: Bearer $LORA_SQUEEZE_TOKEN` (when set).
    Never raises: transport failures are in `.error` (and `.send_error` if sending failed first)."""
    r = Response()
    r.t0 = time.monotonic()
    s = None
    try:
        length = sum(os.path.getsize(p[1]) if isinstance(p, tuple) else len(p) for p in body)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close", "User-Agent: flood.py"]
        if auth and TOKEN:
            lines.append(f"Authorization: Bearer {TOKEN}")
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {length}")
        lines += list(headers)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect((HOST, port))
        r.t_conn = time.monotonic()
        try:
            s.sendall(head)
            for part in body:
                if isinstance(part, tuple):
                    with open(part[1], "rb") as f:
                        s.sendfile(f)
                else:
                    s.sendall(part)
        except OSError as e:       # the server may answer (413, 507, …) and close before the body is sent
            r.send_error = type(e).__name__
        r.t_sent = time.monotonic()
        raw = bytearray()
        while True:
            end = raw.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = s.recv(65536)
            if r.t_first is None:
                r.t_first = time.monotonic()
            if not chunk:
                raise ConnectionError("connection closed before a response head")
            raw += chunk
            if len(raw) > 65536:
                raise ValueError("response head over 64 KiB")
        head_lines = bytes(raw[:end]).decode("latin-1").split("\r\n")
        rest = memoryview(bytes(raw[end + 4:]))
        parts = head_lines[0].split(" ", 2)
        r.status = int(parts[1])
        for line in head_lines[1:]:
            name, _, value = line.partition(":")
            r.headers[name.strip().lower()] = value.strip()
        expected = int(r.headers["content-length"]) if "content-length" in r.headers else None
        if method == "HEAD" or r.status in (204, 304):
            expected = 0
        h = hashlib.sha256() if hash_body else None
        kept = bytearray() if keep_body else None
        got = len(rest)
        if h:
            h.update(rest)
        if kept is not None:
            kept += rest
        buf = buffer if buffer is not None else bytearray(1 << 20)
        view = memoryview(buf)
        while expected is None or got < expected:
            want = len(buf) if expected is None else min(len(buf), expected - got)
            n = s.recv_into(view, want)
            if n == 0:
                if expected is None:
                    break
                raise ConnectionError(f"connection closed after {got} of {expected} body bytes")
            got += n
            if h:
                h.update(view[:n])
            if kept is not None:
                kept += view[:n]
        r.length = got
        r.body = bytes(kept) if kept is not None else b""
        r.sha256 = h.hexdigest() if h else None
    except Exception as e:  # noqa: BLE001 — every failure is a figure, not a crash
        r.error = f"{type(e).__name__}: {e}" if not isinstance(e, socket.timeout) else "timeout"
    finally:
        if s is not None:
            s.close()
        r.t1 = time.monotonic()
    return r


def multipart_body(adapter_dir):
    cfg = os.path.join(adapter_dir, "adapter_config.json")
    weights = os.path.join(adapter_dir, "adapter_model.safetensors")
    with open(cfg, "rb") as f:
        cfg_bytes = f.read()
    pre = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"adapter_config.json\"; filename=\"adapter_config.json\"\r\n"
           f"Content-Type: application/json\r\n\r\n").encode() + cfg_bytes + (
        f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"adapter_model.safetensors\"; "
        f"filename=\"adapter_model.safetensors\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    post = f"\r\n--{BOUNDARY}--\r\n".encode()
    return [pre, ("file", weights), post]


def upload(port, src, adapter_dir, name=None):
    target = "/v1/adapters" + (f"?name={name}" if name else "")
    return exchange(port, src, "POST", target, headers=[f"Content-Type: multipart/form-data; boundary={BOUNDARY}"],
                    body=multipart_body(adapter_dir), keep_body=True)


def squeeze_target(digest, rank, dtype):
    return f"/v1/adapters/{digest}/squeezed/{rank}/adapter_model.safetensors?dtype={dtype}&method=exact"


def metrics(port):
    r = exchange(port, SETUP_IP, "GET", "/metrics", keep_body=True, timeout=30)
    out = {}
    if r.status != 200:
        return out
    for line in r.body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)", line)
        if m:
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


# ---------------------------------------------------------------------------------------------
# Side processes (separate interpreters, so the flood's 250 threads do not hold their GIL)

def span(a, b):
    return b - a if a is not None and b is not None else float("nan")


def prober_main(port, go, stop, results):
    """GET /healthz every 20 ms on a new connection; (start, latency, status or error)."""
    go.wait()
    probes = []
    next_tick = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now < next_tick:
            time.sleep(next_tick - now)
        r = exchange(port, PROBER_IP, "GET", "/healthz", keep_body=True, timeout=10, auth=False)   # open, like a probe
        probes.append((r.t0, r.seconds, span(r.t0, r.t_conn), span(r.t_sent, r.t_first),
                       r.status, r.error, bool(r.headers.get("retry-after"))))
        next_tick += PROBE_INTERVAL
        if next_tick < time.monotonic():           # a slow probe: start the next one now, skip missed ticks
            next_tick = time.monotonic()
    results.put(("prober", (probes, time.process_time())))


def downloader_main(port, target, size, go, stop, results):
    """Downloads one cached squeezed file over and over; (start, end, bytes, status or error)."""
    go.wait()
    buf = bytearray(4 << 20)
    downloads = []
    while not stop.is_set():
        r = exchange(port, DOWNLOADER_IP, "GET", target, buffer=buf, timeout=60)
        ok = r.status == 200 and r.error is None and r.length == size
        downloads.append((r.t0, r.t1, r.length if ok else 0, span(r.t_sent, r.t_first),
                          r.status, r.error, bool(r.headers.get("retry-after"))))
        if not ok:
            time.sleep(0.05)
    results.put(("downloader", (downloads, time.process_time())))


class Side:
    """The prober and the downloader, each in its own process, for one phase."""

    def __init__(self, ctx, port, download_target, download_size):
        self.go, self.stop, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.procs = [ctx.Process(target=prober_main, args=(port, self.go, self.stop, self.results), daemon=True),
                      ctx.Process(target=downloader_main,
                                  args=(port, download_target, download_size, self.go, self.stop, self.results), daemon=True)]
        for p in self.procs:
            p.start()

    def finish(self):
        self.stop.set()
        got = {}
        for _ in self.procs:
            kind, data = self.results.get(timeout=120)
            got[kind] = data
        for p in self.procs:
            p.join(timeout=10)
        self.cpu = got["prober"][1] + got["downloader"][1]
        return got["prober"][0], got["downloader"][0]


# ---------------------------------------------------------------------------------------------
# Figures

def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def throughput(downloads, start, end):
    """MiB/s over the downloads that started in [start, end): their bytes over their summed durations."""
    sel = [d for d in downloads if start <= d[0] < end and d[2] > 0]
    secs = sum(d[1] - d[0] for d in sel)
    return (sum(d[2] for d in sel) / MiB / secs if secs > 0 else float("nan")), len(sel)


def status_key(status, error):
    return str(status) if status is not None else f"no response ({error.split(':')[0] if error else '?'})"


class RSSSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max_rss_kib, self.samples, self.stopped = pid, 0, 0, threading.Event()
        self.workers = []   # (time, dispatch worker threads, of which running or in uninterruptible (disk) wait)

    def read(self, field):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def sample_workers(self):
        """libdispatch's global-queue worker threads (named …root.default-qos), which run the server's
        Swift tasks, its OperationQueues and concurrentPerform; how many are busy."""
        n = busy = 0
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/comm") as f:
                    if not f.read().strip().endswith("default-qos"):
                        continue
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            n += 1
            busy += state in ("R", "D")
        self.workers.append((time.monotonic(), n, busy))

    def run(self):
        while not self.stopped.is_set():
            v = self.read("VmRSS")
            if v is not None:
                self.max_rss_kib = max(self.max_rss_kib, v)
                self.samples += 1
            self.sample_workers()
            self.stopped.wait(0.1)


def server_cpu(pid):
    """The server's user + system CPU seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def self_cpu():
    t = os.times()
    return t.user + t.system


def fmt_ms(s):
    return f"{s * 1000:.1f} ms"


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's process id (for VmRSS / VmHWM)")
    ap.add_argument("--work", required=True, help="a scratch directory for the adapter files")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the unloaded download measurement (default 5)")
    ap.add_argument("--retries", type=int, default=1, choices=[0, 1],
                    help="a flood request refused with 429/503 is retried once after its Retry-After (1, default) or not (0)")
    args = ap.parse_args()
    port = args.port
    started = time.monotonic()
    ctx = mp.get_context("spawn")

    rss = RSSSampler(args.pid)
    rss.start()

    # -- adapters ------------------------------------------------------------------------------
    t = time.monotonic()
    bases = [write_adapter(os.path.join(args.work, f"base-{i}"), l, r, seed=i + 1) for i, (l, r) in enumerate(BASES)]
    floods = []
    for j in range(CLIENTS * UPLOADS_PER_CLIENT):
        l, r = FLOOD_SHAPES[j % len(FLOOD_SHAPES)]
        floods.append((write_adapter(os.path.join(args.work, f"flood-{j:02d}"), l, r, seed=1000 + j), l, r))
    flood_sizes = [weights_bytes(l, r) for _, l, r in floods]
    base_sizes = [weights_bytes(l, r) for l, r in BASES]
    print(f"adapters written in {time.monotonic() - t:.1f} s: 4 bases "
          f"({', '.join(f'{l} layers r{r} {s / MiB:.1f} MiB' for (l, r), s in zip(BASES, base_sizes))}); "
          f"50 flood uploads, distinct seeds, {min(flood_sizes) / MiB:.1f}–{max(flood_sizes) / MiB:.1f} MiB "
          f"({sum(flood_sizes) / MiB:.0f} MiB in all)")

    # -- setup from 127.0.0.1 ------------------------------------------------------------------
    digests = []
    for i, d in enumerate(bases):
        r = upload(port, SETUP_IP, d, name=f"flood-base-{i}")
        if r.status not in (200, 201):
            print(f"setup: uploading base {i} failed: {r.status} {r.error} {r.body[:300]!r}")
            return 1
        digests.append(json.loads(r.body)["digest"])
    print(f"setup: 4 base adapters uploaded ({', '.join(x[:12] for x in digests)})")
    dl_target = squeeze_target(digests[3], DOWNLOAD_RANK, "f32")
    r = exchange(port, SETUP_IP, "GET", dl_target, hash_body=True)
    if r.status != 200:
        print(f"setup: squeezing the downloader's file failed: {r.status} {r.error}")
        return 1
    dl_size = r.length
    print(f"setup: downloader's file squeezed in {r.seconds:.2f} s: base 3 at rank {DOWNLOAD_RANK} f32, "
          f"{dl_size / MiB:.1f} MiB, ETag {'matches' if r.headers.get('etag', '').strip(chr(34)) == r.sha256 else 'DIFFERS from'} its SHA-256")

    # -- the flood's requests ------------------------------------------------------------------
    combos = [(a, rank, dt) for rank in SQUEEZE_RANKS for a in range(4) for dt in DTYPES][:CLIENTS * SQUEEZES_PER_CLIENT]
    assert len(set(combos)) == CLIENTS * SQUEEZES_PER_CLIENT
    plan = []   # (client, kind, payload)
    for k, (a, rank, dt) in enumerate(combos):
        plan.append((k % CLIENTS, "squeeze", (digests[a], rank, dt)))
    for j, (d, _, _) in enumerate(floods):
        plan.append((j % CLIENTS, "upload", d))

    largest_weights = max(max(flood_sizes), max(base_sizes))
    largest_module_out, largest_module_what = max(
        [(rank * LARGEST_MODULE_IO * DTYPE_BYTES[dt], f"rank {rank} {dt}") for _, rank, dt in combos]
        + [(DOWNLOAD_RANK * LARGEST_MODULE_IO * 4, f"rank {DOWNLOAD_RANK} f32")])
    inflight_uploads = CLIENTS * UPLOADS_PER_CLIENT
    bound = 64 * MiB + largest_weights + 2 * largest_module_out + 16 * MiB * inflight_uploads

    m_before = metrics(port)

    # -- phase 1: unloaded download + probes ---------------------------------------------------
    side = Side(ctx, port, dl_target, dl_size)
    time.sleep(1.0)                                  # let both processes start
    p1_start = time.monotonic()
    side.go.set()
    time.sleep(args.seconds)
    p1_end = time.monotonic()
    probes1, downloads1 = side.finish()

    # -- phase 2: the flood --------------------------------------------------------------------
    side = Side(ctx, port, dl_target, dl_size)
    time.sleep(1.0)
    results = [None] * len(plan)
    retries = [None] * len(plan)
    barrier = threading.Barrier(len(plan) + 1)

    def worker(idx):
        client, kind, payload = plan[idx]
        src = client_ip(client)
        buf = bytearray(1 << 20)

        def once():
            if kind == "squeeze":
                digest, rank, dt = payload
                return exchange(port, src, "GET", squeeze_target(digest, rank, dt), hash_body=True, buffer=buf)
            return upload(port, src, payload)

        barrier.wait()
        res = once()
        results[idx] = res
        if args.retries and res.status in (429, 503):
            try:
                wait = float(res.headers.get("retry-after", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(min(max(wait, 0.0), 60.0))
            retries[idx] = once()

    threading.stack_size(512 * 1024)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(plan))]
    for th in threads:
        th.start()
    side.go.set()
    time.sleep(0.2)                                  # the prober and downloader are running before the flood
    m_start = metrics(port)
    cpu_server0, cpu_self0 = server_cpu(args.pid), self_cpu()
    flood_start = time.monotonic()
    barrier.wait()
    for th in threads:
        th.join(timeout=600)
    flood_end = time.monotonic()
    cpu_server1, cpu_self1 = server_cpu(args.pid), self_cpu()
    first_wave_end = max(r.t1 for r in results if r is not None)
    m_after = metrics(port)
    probes2, downloads2 = side.finish()
    in_flight_end = m_after.get("lora_squeeze_squeezes_in_flight")
    in_flight_later = None
    if in_flight_end:
        time.sleep(5)
        in_flight_later = metrics(port).get("lora_squeeze_squeezes_in_flight")
    rss.stopped.set()
    rss.join()
    hwm_kib = rss.read("VmHWM")
    total = time.monotonic() - started

    # ====================================================================== report
    print()
    print(f"== flood: {len(plan)} requests from {CLIENTS} clients (127.0.0.2–127.0.0.{1 + CLIENTS}), all released at once; "
          f"refused requests {'retried once after Retry-After' if args.retries else 'not retried'}")
    print(f"flood wall time: {flood_end - flood_start:.1f} s (first answers to all 250 within "
          f"{first_wave_end - flood_start:.1f} s); whole benchmark {total:.1f} s")

    def tally(rs):
        c = {}
        for x in rs:
            if x is None:
                continue
            k = status_key(x.status, x.error)
            c[k] = c.get(k, 0) + 1
        return dict(sorted(c.items()))

    sq_idx = [i for i, p in enumerate(plan) if p[1] == "squeeze"]
    up_idx = [i for i, p in enumerate(plan) if p[1] == "upload"]
    print(f"squeezes, first attempt ({len(sq_idx)}): {tally(results[i] for i in sq_idx)}")
    if args.retries:
        print(f"squeezes, retry after Retry-After ({sum(retries[i] is not None for i in sq_idx)}): {tally(retries[i] for i in sq_idx)}")
    print(f"uploads, first attempt ({len(up_idx)}): {tally(results[i] for i in up_idx)}")
    if args.retries and any(retries[i] is not None for i in up_idx):
        print(f"uploads, retry: {tally(retries[i] for i in up_idx)}")
    lat = sorted(results[i].seconds for i in sq_idx if results[i].status == 200)
    if lat:
        print(f"squeeze first-attempt 200s: latency p50 {lat[len(lat) // 2]:.2f} s, max {lat[-1]:.2f} s")
    refused = sorted(results[i].seconds for i in sq_idx if results[i].status in (429, 503))
    if refused:
        print(f"squeeze first-attempt refusals: answered in p50 {fmt_ms(percentile(refused, 50))}, max {fmt_ms(refused[-1])}")
    ul = sorted(results[i].seconds for i in up_idx if results[i].status in (200, 201))
    if ul:
        print(f"uploads: latency p50 {ul[len(ul) // 2]:.2f} s, max {ul[-1]:.2f} s; "
              f"{len({json.loads(results[i].body).get('digest') for i in up_idx if results[i].status in (200, 201)})} distinct digests")
    ras = sorted({x.headers.get('retry-after') for x in list(results) + list(retries)
                  if x is not None and x.status in (429, 503)} - {None}, key=lambda v: (len(v), v))
    if ras:
        print(f"Retry-After values seen: {', '.join(ras)} s")

    # integrity of what was served
    bad_bodies = []
    for x in list(results[i] for i in sq_idx) + list(retries[i] for i in sq_idx):
        if x is not None and x.status == 200 and x.error is None:
            etag = x.headers.get("etag", "").strip('"')
            if etag != x.sha256:
                bad_bodies.append(f"ETag {etag[:16]} ≠ body SHA-256 {x.sha256[:16]}")
    print(f"squeezed bodies checked against their ETag: {sum(1 for x in list(results[i] for i in sq_idx) + list(retries[i] for i in sq_idx) if x is not None and x.status == 200)}, mismatches {len(bad_bodies)}")

    # statuses: 2xx, or 429/503 with Retry-After; everything else listed
    every = [("flood", x) for x in results] + [("flood retry", x) for x in retries if x is not None]
    odd, no_ra, counts = [], 0, {}
    for who, x in every:
        k = status_key(x.status, x.error)
        counts[k] = counts.get(k, 0) + 1
        if x.status is not None and 200 <= x.status < 300 and x.error is None:
            continue
        if x.status in (429, 503) and x.headers.get("retry-after"):
            continue
        if x.status in (429, 503):
            no_ra += 1
        odd.append(f"{who}: {k}{' (no Retry-After)' if x.status in (429, 503) else ''}"
                   f"{' error ' + x.error if x.error else ''}{' send ' + x.send_error if x.send_error else ''}"
                   f"{' body ' + x.body[:200].decode('utf-8', 'replace') if x.body else ''}")
    for who, rows in (("prober", probes1 + probes2), ("downloader", downloads1 + downloads2)):
        for row in rows:
            status, error, has_ra = row[-3], row[-2], row[-1]
            k = status_key(status, error)
            counts[f"{k} ({who})"] = counts.get(f"{k} ({who})", 0) + 1
            if status is not None and 200 <= status < 300 and error is None:
                continue
            if status in (429, 503) and has_ra:
                continue
            odd.append(f"{who}: {k}{' error ' + error if error else ''}")
    print(f"== statuses, every response in the run (flood, retries, prober, downloader): "
          f"{', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}")
    if odd:
        print(f"responses other than 2xx or 429/503 with Retry-After: {len(odd)}")
        shown = {}
        for o in odd:
            shown[o] = shown.get(o, 0) + 1
        for o, n in list(shown.items())[:20]:
            print(f"  {n} × {o}")
    else:
        print("responses other than 2xx or 429/503 with Retry-After: none")

    # healthz
    print("== /healthz prober (127.0.0.12, every 20 ms, a new connection each)")
    p99_flood = float("nan")
    for label, probes, a, b in (("before the flood", probes1, p1_start, p1_end), ("during the flood", probes2, flood_start, flood_end)):
        sel = sorted(p[1] for p in probes if a <= p[0] < b)
        ok = sum(1 for p in probes if a <= p[0] < b and p[-3] == 200)
        p99 = percentile(sel, 99)
        if label == "during the flood":
            p99_flood = p99
        print(f"{label}: {len(sel)} probes ({ok} answered 200), p50 {fmt_ms(percentile(sel, 50))}, "
              f"p99 {fmt_ms(p99)}, max {fmt_ms(sel[-1] if sel else float('nan'))}")
        conn = sorted(p[2] for p in probes if a <= p[0] < b and p[2] == p[2])
        ttfb = sorted(p[3] for p in probes if a <= p[0] < b and p[3] == p[3])
        print(f"  of which connect: p50 {fmt_ms(percentile(conn, 50))}, p99 {fmt_ms(percentile(conn, 99))}; "
              f"request sent → first response byte: p50 {fmt_ms(percentile(ttfb, 50))}, p99 {fmt_ms(percentile(ttfb, 99))}")
    hk = 'lora_squeeze_http_request_duration_seconds_{}{{route="/healthz"{}}}'
    n_h = m_after.get(hk.format("count", ""), 0) - m_start.get(hk.format("count", ""), 0)
    fast = m_after.get(hk.format("bucket", ',le="0.05"'), 0) - m_start.get(hk.format("bucket", ',le="0.05"'), 0)
    sum_h = m_after.get(hk.format("sum", ""), 0) - m_start.get(hk.format("sum", ""), 0)
    if n_h:
        print(f"  the server's own view (handler time, /metrics): {n_h:.0f} /healthz during the flood, "
              f"{fast:.0f} within 50 ms, mean {sum_h / n_h * 1e6:.0f} µs")

    # download
    print(f"== well-behaved downloader (127.0.0.13): the cached {dl_size / MiB:.1f} MiB squeezed file, one connection per download")
    before, n1 = throughput(downloads1, p1_start, p1_end)
    during, n2 = throughput(downloads2, flood_start, flood_end)
    ratio = during / before if before and before == before else float("nan")
    print(f"unloaded ({args.seconds:g} s): {before:.0f} MiB/s over {n1} downloads; during the flood "
          f"({flood_end - flood_start:.1f} s): {during:.0f} MiB/s over {n2} downloads; ratio {ratio:.0%}")
    for label, rows, a, b in (("unloaded", downloads1, p1_start, p1_end), ("flood", downloads2, flood_start, flood_end)):
        ttfb = sorted(d[3] for d in rows if a <= d[0] < b and d[3] == d[3])
        print(f"  {label}: request sent → first response byte p50 {fmt_ms(percentile(ttfb, 50))}, "
              f"p99 {fmt_ms(percentile(ttfb, 99))}, max {fmt_ms(ttfb[-1] if ttfb else float('nan'))}")
    early, n3 = throughput(downloads2, flood_start, first_wave_end)
    if first_wave_end < flood_end - 0.5:
        print(f"  (while the first wave was being answered, {first_wave_end - flood_start:.1f} s: {early:.0f} MiB/s over {n3} downloads)")

    # CPU: the server and the clients share the machine's cores
    wall = flood_end - flood_start
    cores = os.cpu_count() or 1
    print(f"== CPU during the flood ({wall:.1f} s × {cores} cores = {wall * cores:.1f} core-s): server "
          f"{cpu_server1 - cpu_server0:.1f} s, flood client {cpu_self1 - cpu_self0:.1f} s, prober + downloader "
          f"{side.cpu:.1f} s (whole phase)")

    ws = [(n, b) for t_, n, b in rss.workers if flood_start <= t_ < flood_end and n]
    if ws:
        print(f"server's dispatch worker threads during the flood (sampled every 100 ms): up to {max(n for n, _ in ws)}; "
              f"all of them busy (running or in disk wait) in {sum(b >= n for n, b in ws) / len(ws):.0%} of {len(ws)} samples")

    # memory
    print("== server memory")
    sq_fmt = f"{largest_module_out / MiB:.2f} MiB ({largest_module_what}, in + out = {LARGEST_MODULE_IO})"
    print(f"bound = 64 MiB + largest weights file {largest_weights / MiB:.1f} MiB + 2 × largest module's squeezed output "
          f"{sq_fmt} + 16 MiB × {inflight_uploads} uploads in flight = {bound / MiB:.0f} MiB")
    print(f"peak RSS (VmHWM): {hwm_kib / 1024:.0f} MiB; largest VmRSS sample: {rss.max_rss_kib / 1024:.0f} MiB "
          f"({rss.samples} samples, every 100 ms)" if hwm_kib else "peak RSS: server gone, VmHWM unreadable")

    # metrics
    print("== /metrics")
    key = "lora_squeeze_squeeze_duration_seconds_count"
    computed = m_after.get(key, float("nan")) - m_before.get(key, 0)
    print(f"squeezes computed during the flood: {computed:.0f} (squeeze_duration_seconds_count "
          f"{m_before.get(key, float('nan')):.0f} → {m_after.get(key, float('nan')):.0f})")
    ksum = "lora_squeeze_squeeze_duration_seconds_sum"
    if computed > 0:
        print(f"  their mean squeeze_duration_seconds: {(m_after.get(ksum, 0) - m_before.get(ksum, 0)) / computed:.2f} s "
              f"(the flood computed {computed / (flood_end - flood_start):.1f} per second of its wall time, on one compute lane)")
    problems = {re.search(r'type="([^"]*)"', k).group(1): v for k, v in m_after.items()
                if k.startswith("lora_squeeze_problems_total{")}
    print(f"problems_total by type after the flood: {', '.join(f'{k}: {v:.0f}' for k, v in sorted(problems.items())) or 'none'}")
    gauges = ["lora_squeeze_squeezes_in_flight", "lora_squeeze_squeeze_waiters", "lora_squeeze_compute_queued",
              "lora_squeeze_squeezes_cancelled_total", "lora_squeeze_open_connections", "lora_squeeze_uploads_total"]
    # (open_connections includes the /metrics request itself and the prober's and downloader's, still running)
    print("at the end: " + ", ".join(f"{g.removeprefix('lora_squeeze_')} {m_after.get(g, 0):.0f}" for g in gauges)
          + (f" (in flight 5 s later: {in_flight_later:.0f})" if in_flight_later is not None else ""))

    # summary
    all_answered = all(x is not None and x.status is not None for x in results)
    targets = [
        ("250 flood requests answered", all_answered),
        (f"peak RSS {hwm_kib / 1024 if hwm_kib else float('nan'):.0f} < {bound / MiB:.0f} MiB", bool(hwm_kib) and hwm_kib * 1024 < bound),
        (f"/healthz p99 {fmt_ms(p99_flood)} < 50 ms", p99_flood < 0.050),
        ("only 2xx or 429/503+Retry-After", not odd),
        (f"download {ratio:.0%} ≥ 50 %", ratio >= 0.5),
        ("squeezes in flight 0 at the end", in_flight_end == 0),
    ]
    met = sum(ok for _, ok in targets)
    print()
    print(f"SUMMARY: {met}/{len(targets)} targets met — " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
