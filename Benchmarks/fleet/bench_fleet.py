#!/usr/bin/env python3
"""The fleet benchmark's work (Benchmarks/fleet.sh runs it inside two throwaway PostgreSQL clusters):
SQLite against PostgreSQL, one process or replica against three. Prints figures; asserts only that
every answer is the expected status and size.

    bench_fleet.py BINARY --pg-off URL --pg-on URL --work DIR --out DIR [--runs 3] [--wrk-seconds 20] [--op-seconds 3]
                   [--layers 10] [--skip cold,download,catalog]

Deployments, all running at once on fresh directories under --work (each `serve --auth off
--log-level warning --scrub-interval 0 --drain-delay 0` on 127.0.0.1):
  sqlite   one process, the default catalog (DATA/catalog.sqlite, synchronous=FULL) and DATA/blobs
  pg1      one replica on PostgreSQL with fsync off (database fleet1 of --pg-off), its own blob dir
  pg3      three replicas on PostgreSQL with fsync off (database fleet3), one shared blob dir
  pgon1    one replica on PostgreSQL with fsync on (--pg-on's database), its own blob dir
Each gets the same content, uploaded through its first replica: `big` (a Gemma-2B-shaped PEFT adapter,
q/k/v/o/gate/up/down of --layers layers, r 64, f32), `small` (q/v of one 512-wide layer, r 16) and
100 tiny adapters (q/v, 256 wide, r 4), all written here with numpy + safetensors.

1. Cold squeezes: `big` to ranks 8, 12, 20, 24, 32 (never asked before), time to the last byte with curl,
   on sqlite, pg1, pgon1 and pg3 — pg3 asked through all three replicas at once (max and min of the
   three; the sum of lora_squeeze_squeeze_duration_seconds_count over replicas says how many computed).
2. Cached downloads: wrk -c64 for --wrk-seconds on `big` at rank 16 and `small` at rank 6 (about 50
   KB), on sqlite, pg1, pg3 (a wrk per replica at once, 22 + 21 + 21 connections, summed) and pg3
   behind an nginx upstream (round robin, upstream keep-alive).
3. Catalog operations through HTTP for --op-seconds each, 1 client (wrk -t1 -c1) and 8 (-t8 -c8):
   lookups (GET /v1/adapters/small), listings (GET /v1/adapters?limit=100), name moves
   (PUT /v1/names/… alternating between two adapters: every request moves the name) and uploads of a
   tiny adapter with new content every time (Benchmarks/fleet/upload.lua); on sqlite, pg1, pgon1, and
   with 8 clients on pg3 too (3 + 3 + 2, one wrk per replica).
Every cell is measured --runs times, the deployments taking turns within a round (the one going first
rotates). CPU seconds of the servers, PostgreSQL, nginx and the client are taken from /proc around each
wrk run. Raw wrk output and results.json go to --out.
"""

import argparse
import http.client
import json
import math
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import time
import uuid

import numpy as np
from safetensors.numpy import save as st_save

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
MiB = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")
RANKS_COLD = [8, 12, 20, 24, 32]


def log(msg=""):
    print(msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, headers=None, timeout=600):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------- fixtures

GEMMA = {"q_proj": (2048, 2048), "k_proj": (256, 2048), "v_proj": (256, 2048), "o_proj": (2048, 2048),
         "gate_proj": (16384, 2048), "up_proj": (16384, 2048), "down_proj": (2048, 16384)}
GROUP = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
         "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def peft(directory, modules, r, seed, base="fleet-bench/model", extra=None):
    """A PEFT LoRA adapter: modules {prefix: (out, in)}, f32, A as PEFT initialises it with a decaying
    row scale (a spectrum that falls off, as trained adapters' do), B small."""
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(r) / max(r / 4, 1)).astype(np.float32)
    tensors = {}
    for prefix, (out_f, in_f) in modules.items():
        a = rng.standard_normal((r, in_f), dtype=np.float32) * np.float32(1 / math.sqrt(in_f))
        tensors[f"base_model.model.{prefix}.lora_A.weight"] = a * decay[:, None]
        tensors[f"base_model.model.{prefix}.lora_B.weight"] = rng.standard_normal((out_f, r), dtype=np.float32) * np.float32(0.002)
    weights = st_save(tensors, metadata={"format": "pt"})
    targets = sorted({p.rsplit(".", 1)[1] for p in modules})
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base, "r": r,
              "lora_alpha": 2 * r, "target_modules": targets, "lora_dropout": 0.0, "bias": "none"}
    config.update(extra or {})
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "adapter_model.safetensors"), "wb") as f:
        f.write(weights)
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        json.dump(config, f)
    return len(weights)


def multipart(directory):
    boundary = uuid.uuid4().hex
    chunks = []
    for name, ctype in (("adapter_config.json", "application/json"), ("adapter_model.safetensors", "application/octet-stream")):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        chunks += [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                   f"Content-Type: {ctype}\r\n\r\n".encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def write_fixtures(work, layers):
    fx = os.path.join(work, "fixtures")
    big = {f"model.layers.{i}.{GROUP[m]}.{m}": GEMMA[m] for i in range(layers) for m in GEMMA}
    size_big = peft(os.path.join(fx, "big"), big, 64, seed=1)
    size_small = peft(os.path.join(fx, "small"), {f"model.layers.0.self_attn.{m}": (512, 512) for m in ("q_proj", "v_proj")}, 16, seed=2)
    tiny = {f"model.layers.0.self_attn.{m}": (256, 256) for m in ("q_proj", "v_proj")}
    for i in range(100):
        peft(os.path.join(fx, f"tiny{i}"), tiny, 4, seed=100 + i, extra={"bench_nonce": f"seed-{i}"})
    # The upload template for upload.lua: the config's "NONCE" is replaced per request; the data section
    # starts at 8 + the header's length.
    peft(os.path.join(fx, "template"), tiny, 4, seed=99, extra={"bench_nonce": "NONCE"})
    with open(os.path.join(fx, "template", "adapter_model.safetensors"), "rb") as f:
        head = f.read(8)
    offset = 8 + int.from_bytes(head, "little")
    return fx, size_big, size_small, offset


# --------------------------------------------------------------------------------------------- servers

class Replica:
    def __init__(self, binary, work, deployment, rid, catalog=None, blobs=None):
        self.id = rid
        self.data = os.path.join(work, deployment, f"data-{rid}")
        self.log = os.path.join(work, "logs", f"{deployment}-{rid}.log")
        self.port = free_port()
        args = [binary, "serve", "--host", HOST, "--port", str(self.port), "--auth", "off", "--log-level", "warning",
                "--scrub-interval", "0", "--drain-delay", "0", "--data", self.data]
        if catalog:
            args += ["--catalog", catalog, "--blobs", blobs, "--replica-id", rid]
        os.makedirs(self.data, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORA_SQUEEZE_")}
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        SERVER_PIDS.add(self.proc.pid)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"replica {self.id} exited with {self.proc.returncode}: see {self.log}")
            try:
                if request(self.port, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"replica {self.id} not ready in {timeout} s: see {self.log}")

    def metric(self, name):
        status, _, body = request(self.port, "GET", "/metrics", timeout=10)
        assert status == 200, status
        total = 0.0
        for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", body.decode(), re.M):
            if m.group(1) == name:
                total += float(m.group(3))
        return total

    def cpu(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / TICK

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Deployment:
    def __init__(self, key, label, replicas):
        self.key, self.label, self.replicas = key, label, replicas

    @property
    def first(self):
        return self.replicas[0]


def create_database(url, name):
    base = url.rsplit("/", 1)[0]
    subprocess.run(["psql", url, "-q", "-c", f"CREATE DATABASE {name}"], check=True, stdout=subprocess.DEVNULL)
    return f"{base}/{name}"


# --------------------------------------------------------------------------------------------- CPU accounting

def proc_cpu():
    """{pid: (command name, CPU seconds: user + system, parent pid)} of every live process."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
        except OSError:
            continue
        parts = text.rsplit(")", 1)[1].split()
        out[int(pid)] = (text[text.index("(") + 1:text.rindex(")")], (int(parts[11]) + int(parts[12])) / TICK, int(parts[1]))
    return out


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / TICK


SERVER_PIDS = set()   # every replica this benchmark started
PG_PORTS = set()      # the ports of this benchmark's PostgreSQL clusters
NGINX_MASTER = [None]  # this benchmark's nginx


def postgres_pids(procs):
    """The postmasters listening on PG_PORTS (their command line says -c port=N) and their children."""
    masters = set()
    for pid, (comm, _, _) in procs.items():
        if comm == "postgres":
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if any(a.startswith(b"port=") and int(a[5:] or 0) in PG_PORTS for a in args):
                masters.add(pid)
    return masters | {pid for pid, (_, _, ppid) in procs.items() if ppid in masters}


class CPUWindow:
    """Cores used, on average, between start() and stop(), by group: this benchmark's lora-squeeze
    processes, PostgreSQL's, nginx's, the client (wrk and curl: children of this process, reaped in the
    window) and everything else on the machine (busy time from /proc/stat less the groups)."""

    def start(self):
        self.t = time.monotonic()
        self.procs = proc_cpu()
        self.busy = machine_busy()
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def stop(self):
        wall = time.monotonic() - self.t
        procs = proc_cpu()
        busy = machine_busy() - self.busy
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = (ch.ru_utime + ch.ru_stime) - (self.children.ru_utime + self.children.ru_stime)
        groups = {"server": 0.0, "postgres": 0.0, "nginx": 0.0}
        pg = postgres_pids(procs)
        for pid, (comm, cpu, ppid) in procs.items():
            before = self.procs.get(pid)
            used = cpu - before[1] if before and before[0] == comm else cpu
            if pid in SERVER_PIDS:
                groups["server"] += used
            elif pid in pg:
                groups["postgres"] += used
            elif comm == "nginx" and ppid == NGINX_MASTER[0] or pid == NGINX_MASTER[0]:
                groups["nginx"] += used
        other = max(0.0, busy - sum(groups.values()) - client)
        return {"wall": wall, **{k: v / wall for k, v in groups.items()}, "client": client / wall,
                "other": other / wall, "busy": busy / wall}


# --------------------------------------------------------------------------------------------- wrk

def wrk(runs, seconds, name, out, script=None, timeout="60s"):
    """runs: [(port, path, threads, connections, script_args)], started at once. Returns the summed
    req/s and requests, wrk's error lines, the sum of upload.lua's 'created N', and the CPU window."""
    procs = []
    cpu = CPUWindow().start()
    for port, path, threads, conns, script_args in runs:
        cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", timeout]
        if script:
            cmd += ["-s", os.path.join(HERE, script)]
        cmd.append(f"http://{HOST}:{port}{path}")
        if script:
            cmd += ["--"] + [str(a) for a in script_args]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate()[0] for p in procs]
    window = cpu.stop()
    rps, requests, errors, created = 0.0, 0, [], 0
    with open(os.path.join(out, f"wrk-{name}.txt"), "w") as f:
        f.write("\n\n".join(outputs))
    for text in outputs:
        m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
        if not m:
            raise SystemExit(f"wrk failed ({name}):\n{text}")
        rps += float(m.group(1))
        requests += int(re.search(r"(\d+) requests in", text).group(1))
        errors += [line.strip() for line in text.splitlines() if "Non-2xx" in line or "Socket errors" in line]
        m = re.search(r"^created (\d+)", text, re.M)
        if m:
            created += int(m.group(1))
    return {"rps": rps, "requests": requests, "errors": errors, "created": created, "cpu": window}


def split(total, parts):
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --------------------------------------------------------------------------------------------- statistics

def med(values):
    return statistics.median(values)


def fmt_range(values, fmt="{:,.0f}"):
    return f"{fmt.format(med(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


# --------------------------------------------------------------------------------------------- the benchmark

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--pg-off", required=True)
    ap.add_argument("--pg-on", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wrk-seconds", type=int, default=20)
    ap.add_argument("--op-seconds", type=int, default=3)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: cold,download,catalog")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    for url in (a.pg_off, a.pg_on):
        PG_PORTS.add(int(re.search(r":(\d+)/", url).group(1)))
    os.makedirs(os.path.join(a.work, "logs"), exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    t_start = time.monotonic()
    results = {"runs": a.runs, "wrk_seconds": a.wrk_seconds, "op_seconds": a.op_seconds, "layers": a.layers}

    log(f"== fixtures: a Gemma-2B-shaped adapter ({a.layers} layers × 7 modules, r 64, f32), a small one, 100 tiny ones")
    fx, size_big, size_small, template_offset = write_fixtures(a.work, a.layers)
    log(f"   big {size_big / MiB:.1f} MiB, small {size_small / 1024:.1f} KiB")

    log("== deployments")
    db1 = create_database(a.pg_off, "fleet1")
    db3 = create_database(a.pg_off, "fleet3")
    blobs3 = os.path.join(a.work, "pg3", "blobs")
    deployments = {
        "sqlite": Deployment("sqlite", "SQLite, 1 process", [Replica(a.binary, a.work, "sqlite", "s1")]),
        "pg1": Deployment("pg1", "PostgreSQL fsync off, 1 replica",
                          [Replica(a.binary, a.work, "pg1", "p1", db1, os.path.join(a.work, "pg1", "blobs"))]),
        "pgon1": Deployment("pgon1", "PostgreSQL fsync on, 1 replica",
                            [Replica(a.binary, a.work, "pgon1", "q1", a.pg_on, os.path.join(a.work, "pgon1", "blobs"))]),
    }
    # The fleet's first replica migrates the schema alone, then the other two start (they would wait on
    # the migration lock anyway).
    r1 = Replica(a.binary, a.work, "pg3", "r1", db3, blobs3)
    r1.wait_ready()
    rest = [Replica(a.binary, a.work, "pg3", f"r{i}", db3, blobs3) for i in (2, 3)]
    deployments["pg3"] = Deployment("pg3", "PostgreSQL fsync off, 3 replicas", [r1] + rest)
    for d in deployments.values():
        for r in d.replicas:
            r.wait_ready()
    for d in deployments.values():
        log(f"   {d.label}: ports {', '.join(str(r.port) for r in d.replicas)}")

    try:
        log("== uploads (through each deployment's first replica)")
        digests = {}
        for d in deployments.values():
            port = d.first.port
            t0 = time.monotonic()
            out = subprocess.run(["curl", "-sS", "-o", "/dev/stdout", "-w", "\n%{http_code} %{time_total}",
                                  "-F", f"adapter_config.json=@{fx}/big/adapter_config.json",
                                  "-F", f"adapter_model.safetensors=@{fx}/big/adapter_model.safetensors",
                                  f"http://{HOST}:{port}/v1/adapters?name=big"], capture_output=True, text=True, check=True).stdout
            body, _, tail = out.rpartition("\n")
            code, t_up = tail.split()
            assert code == "201", out[:500]
            digests[(d.key, "big")] = json.loads(body)["digest"]
            body, ctype = multipart(os.path.join(fx, "small"))
            status, _, resp = request(port, "POST", "/v1/adapters?name=small", body, {"Content-Type": ctype})
            assert status == 201, resp[:300]
            tiny = []
            t1 = time.monotonic()
            for i in range(100):
                body, ctype = multipart(os.path.join(fx, f"tiny{i}"))
                status, _, resp = request(port, "POST", "/v1/adapters", body, {"Content-Type": ctype})
                assert status == 201, resp[:300]
                tiny.append(json.loads(resp)["digest"])
            t_tiny = time.monotonic() - t1
            digests[(d.key, "tiny")] = tiny
            log(f"   {d.label}: big {size_big / MiB:.0f} MiB in {float(t_up):.2f} s; 100 tiny uploads in {t_tiny:.2f} s (one client, sequential)")
        results["digest_big"] = digests[("sqlite", "big")]
        assert len({digests[(k, 'big')] for k in deployments}) == 1

        order = ["sqlite", "pg1", "pgon1", "pg3"]

        # ---------------------------------------------------------------- 1. cold squeezes
        if "cold" not in skip:
            log(f"== cold squeezes of `big` to ranks {RANKS_COLD} (curl, time to the last byte; pg3: all three replicas at once)")
            cold = {k: [] for k in order}
            for i, rank in enumerate(RANKS_COLD):
                for key in rotated(order, i):
                    d = deployments[key]
                    before = {r.id: r.metric("lora_squeeze_squeeze_duration_seconds_count") for r in d.replicas}
                    path = f"/v1/adapters/big/squeezed/{rank}/adapter_model.safetensors"
                    procs = []
                    for r in d.replicas:
                        hdr = os.path.join(a.work, f"h-{key}-{r.id}-{rank}")
                        procs.append((r, hdr, subprocess.Popen(
                            ["curl", "-sS", "-o", "/dev/null", "-D", hdr, "-w", "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
                             f"http://{HOST}:{r.port}{path}"], stdout=subprocess.PIPE, text=True)))
                    rows = []
                    for r, hdr, p in procs:
                        code, ttfb, total, size = p.communicate()[0].split()
                        with open(hdr) as f:
                            etag = re.search(r"(?im)^etag:\s*(\S+)", f.read())
                        rows.append({"replica": r.id, "code": int(code), "ttfb": float(ttfb), "total": float(total),
                                     "size": int(size), "etag": etag.group(1) if etag else None})
                        assert code == "200", (key, rank, code)
                    after = {r.id: r.metric("lora_squeeze_squeeze_duration_seconds_count") for r in d.replicas}
                    computed = {rid: after[rid] - before[rid] for rid in after}
                    entry = {"rank": rank, "rows": rows, "max": max(x["total"] for x in rows), "min": min(x["total"] for x in rows),
                             "computed": sum(computed.values()), "by": [rid for rid, n in computed.items() if n > 0],
                             "identical": len({(x["etag"], x["size"]) for x in rows}) == 1, "size": rows[0]["size"]}
                    cold[key].append(entry)
                    extra = ""
                    if len(rows) > 1:
                        extra = (f"; min {entry['min']:.3f} s; computed {entry['computed']:.0f}× (by {','.join(entry['by'])}); "
                                 f"bodies {'identical' if entry['identical'] else 'DIFFER'}")
                    log(f"   rank {rank:2d} {deployments[key].label:34s} {entry['max']:.3f} s ({entry['size'] / MiB:.1f} MiB){extra}")
            results["cold"] = cold

        # ---------------------------------------------------------------- 2. cached downloads
        if "download" not in skip:
            files = {"big": "/v1/adapters/big/squeezed/16/adapter_model.safetensors",
                     "small": "/v1/adapters/small/squeezed/6/adapter_model.safetensors"}
            sizes = {}
            for fname, path in files.items():
                for key in ("sqlite", "pg1", "pg3"):
                    for r in deployments[key].replicas:
                        for _ in range(2):   # the first computes or waits for the fleet's copy; the second is a hit
                            status, _, body = request(r.port, "GET", path)
                            assert status == 200, (key, fname, status)
                        sizes.setdefault(fname, len(body))
                        assert sizes[fname] == len(body)
            log(f"== cached downloads, wrk -c64 for {a.wrk_seconds} s: `big` at rank 16 ({sizes['big'] / MiB:.1f} MiB), "
                f"`small` at rank 6 ({sizes['small'] / 1000:.1f} kB)")
            nginx_port = free_port()
            ndir = os.path.join(a.work, "nginx")
            os.makedirs(ndir)
            os.chmod(ndir, 0o755)
            upstream = "\n".join(f"        server {HOST}:{r.port};" for r in deployments["pg3"].replicas)
            with open(os.path.join(ndir, "nginx.conf"), "w") as f:
                f.write(f"""worker_processes 2;
pid {ndir}/nginx.pid;
error_log {ndir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    upstream fleet {{
{upstream}
        keepalive 64;
        keepalive_requests 1000000;
    }}
    server {{
        listen {HOST}:{nginx_port};
        location / {{
            proxy_pass http://fleet;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 64k;
            proxy_buffers 16 256k;
            proxy_busy_buffers_size 512k;
            proxy_max_temp_file_size 0;
        }}
    }}
}}
""")
            nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
            nginx = subprocess.Popen([nginx_bin, "-c", os.path.join(ndir, "nginx.conf"), "-p", ndir, "-g", "daemon off;"])
            NGINX_MASTER[0] = nginx.pid
            try:
                for _ in range(100):
                    try:
                        if request(nginx_port, "GET", "/healthz", timeout=2)[0] == 200:
                            break
                    except OSError:
                        time.sleep(0.05)
                for fname, path in files.items():
                    status, _, body = request(nginx_port, "GET", path)
                    assert status == 200 and len(body) == sizes[fname]
                configs = [("sqlite", "SQLite, 1 process"), ("pg1", "PostgreSQL, 1 replica"),
                           ("pg3", "PostgreSQL, 3 replicas (wrk at each, summed)"), ("pg3-nginx", "PostgreSQL, 3 replicas behind nginx")]
                dl = {f"{fname}/{c}": [] for fname in files for c, _ in configs}
                for run in range(a.runs):
                    for fname, path in files.items():
                        for c, label in rotated(configs, run):
                            # one wrk of 64 connections runs 2 threads; one per replica runs 1 each
                            if c == "pg3":
                                runs = [(r.port, path, 1, n, ()) for r, n in zip(deployments["pg3"].replicas, split(64, 3))]
                            elif c == "pg3-nginx":
                                runs = [(nginx_port, path, 2, 64, ())]
                            else:
                                runs = [(deployments[c].first.port, path, 2, 64, ())]
                            res = wrk(runs, a.wrk_seconds, f"download-{fname}-{c}-{run + 1}", a.out)
                            res["mibs"] = res["rps"] * sizes[fname] / MiB
                            dl[f"{fname}/{c}"].append(res)
                            err = f"  ERRORS {res['errors']}" if res["errors"] else ""
                            cpu = res["cpu"]
                            log(f"   run {run + 1} {fname:5s} {label:44s} {res['rps']:9,.0f} req/s {res['mibs']:8,.0f} MiB/s   "
                                f"cores: server {cpu['server']:.2f} postgres {cpu['postgres']:.2f} nginx {cpu['nginx']:.2f} "
                                f"wrk {cpu['client']:.2f} other {cpu['other']:.2f}{err}")
                results["download"] = {"sizes": sizes, "cells": dl}
            finally:
                nginx.terminate()
                nginx.wait()

        # ---------------------------------------------------------------- 3. catalog operations
        if "catalog" not in skip:
            log(f"== catalog operations through HTTP, {a.op_seconds} s each, 1 client (wrk -t1 -c1) and 8 (-t8 -c8)")
            backends = ["sqlite", "pg1", "pgon1", "pg3"]
            template = os.path.join(fx, "template")
            ops = [("lookup", "GET /v1/adapters/small"), ("list", "GET /v1/adapters?limit=100"),
                   ("move", "PUT /v1/names/{name}"), ("upload", "POST /v1/adapters (tiny, new content)")]
            cat = {}
            salt = 0
            for op, _ in ops:
                for run in range(a.runs):
                    for conc in (1, 8):
                        for key in rotated(backends, run + conc):
                            if key == "pg3" and conc == 1:
                                continue
                            d = deployments[key]
                            shares = split(conc, len(d.replicas)) if key == "pg3" else [conc]
                            runs = []
                            for inst, (r, n) in enumerate(zip(d.replicas, shares)):
                                salt += 1
                                if op == "lookup":
                                    runs.append((r.port, "/v1/adapters/small", n, n, ()))
                                elif op == "list":
                                    runs.append((r.port, "/v1/adapters?limit=100", n, n, ()))
                                elif op == "move":
                                    tiny = digests[(key, "tiny")]
                                    runs.append((r.port, "", n, n, (f"mv{conc}-{inst}", tiny[0], tiny[1])))
                                else:
                                    runs.append((r.port, "", n, n, (salt, os.path.join(template, "adapter_config.json"),
                                                                 os.path.join(template, "adapter_model.safetensors"), template_offset)))
                            script = {"move": "move.lua", "upload": "upload.lua"}.get(op)
                            res = wrk(runs, a.op_seconds, f"catalog-{op}-{key}-c{conc}-{run + 1}", a.out, script=script, timeout="10s")
                            cat.setdefault(f"{op}/{key}/{conc}", []).append(res)
                            err = f"  ERRORS {res['errors']}" if res["errors"] else ""
                            if op == "upload" and res["created"] != res["requests"]:
                                err += f"  (201 for {res['created']} of {res['requests']})"
                            cpu = res["cpu"]
                            log(f"   run {run + 1} {op:6s} c{conc} {deployments[key].label:34s} {res['rps']:8,.0f} ops/s   "
                                f"cores: server {cpu['server']:.2f} postgres {cpu['postgres']:.2f} wrk {cpu['client']:.2f} other {cpu['other']:.2f}{err}")
                if op == "move":
                    # Every move leaves a dead row version in `names` (the indexed adapter_digest changes, so
                    # no HOT update) until autovacuum comes round (autovacuum_naptime, 1 min by default).
                    for key, url in (("pg1", db1), ("pgon1", a.pg_on), ("pg3", db3)):
                        row = subprocess.run(["psql", url, "-Atc", "SELECT n_live_tup, n_dead_tup, autovacuum_count FROM pg_stat_user_tables "
                                              "WHERE relname = 'names'"], capture_output=True, text=True).stdout.strip()
                        log(f"   {deployments[key].label}: names table live|dead row versions|autovacuum runs = {row}")
                        results.setdefault("names_table", {})[key] = row
            results["catalog"] = cat
            results["rss_mib"] = {f"{d.key}/{r.id}": r.rss_mib() for d in deployments.values() for r in d.replicas}

        results["seconds"] = time.monotonic() - t_start
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
        report(results, deployments)
    finally:
        for d in deployments.values():
            for r in d.replicas:
                r.stop()


def report(results, deployments):
    log()
    log(f"==== summary: medians over {results['runs']} runs, ranges in parentheses; ratio = median of the per-run ratios to SQLite")
    if "cold" in results:
        cold = results["cold"]
        log()
        log(f"1. cold squeeze of `big` (r 64 → ranks {RANKS_COLD}), time to the last byte, median over the {len(RANKS_COLD)} ranks")
        log(f"   {'':36s} {'seconds':>22s} {'÷ SQLite':>9s}  computed")
        for key in ["sqlite", "pg1", "pgon1", "pg3"]:
            rows = cold[key]
            values = [e["max"] for e in rows]
            ratios = [e["max"] / s["max"] for e, s in zip(rows, cold["sqlite"])]
            label = deployments[key].label + (" (max of 3)" if key == "pg3" else "")
            comp = ", ".join(f"{e['computed']:.0f}" for e in rows)
            log(f"   {label:36s} {fmt_range(values, '{:.3f}'):>22s} {med(ratios):8.2f}×  {comp}")
        rows = cold["pg3"]
        log(f"   {'  pg3, fastest of the three':36s} {fmt_range([e['min'] for e in rows], '{:.3f}'):>22s}")
        log(f"   pg3: bodies identical across the three replicas for {sum(e['identical'] for e in rows)} of {len(rows)} ranks")
    if "download" in results:
        dl = results["download"]
        log()
        log(f"2. cached downloads, wrk 64 connections, {results['wrk_seconds']} s per run")
        for fname in ("big", "small"):
            size = dl["sizes"][fname]
            log(f"   {fname} ({size / MiB:.1f} MiB)" if size > MiB else f"   {fname} ({size / 1000:.1f} kB)")
            base = dl["cells"][f"{fname}/sqlite"]
            for c, label in [("sqlite", "SQLite, 1 process"), ("pg1", "PostgreSQL, 1 replica"),
                             ("pg3", "PostgreSQL, 3 replicas, summed"), ("pg3-nginx", "PostgreSQL, 3 replicas, nginx")]:
                cells = dl["cells"][f"{fname}/{c}"]
                ratios = [x["rps"] / b["rps"] for x, b in zip(cells, base)]
                errs = sum(len(x["errors"]) for x in cells)
                log(f"     {label:32s} {fmt_range([x['rps'] for x in cells]):>26s} req/s {fmt_range([x['mibs'] for x in cells]):>24s} MiB/s"
                    f" {med(ratios):6.2f}×  server {med([x['cpu']['server'] for x in cells]):.2f} pg {med([x['cpu']['postgres'] for x in cells]):.2f}"
                    f" nginx {med([x['cpu']['nginx'] for x in cells]):.2f} wrk {med([x['cpu']['client'] for x in cells]):.2f}"
                    f" other {med([x['cpu']['other'] for x in cells]):.2f} cores"
                    + (f"  {errs} error lines" if errs else ""))
    if "catalog" in results:
        cat = results["catalog"]
        log()
        log(f"3. catalog operations per second through HTTP, {results['op_seconds']} s per run; [ratio to SQLite], "
            f"<PostgreSQL's cores (median), the most cores anything else on the machine took in a run>")
        for op in ("lookup", "list", "move", "upload"):
            for conc in (1, 8):
                base = cat[f"{op}/sqlite/{conc}"]
                parts = []
                for key in ["sqlite", "pg1", "pgon1", "pg3"]:
                    cells = cat.get(f"{op}/{key}/{conc}")
                    if not cells:
                        continue
                    ratios = [x["rps"] / b["rps"] for x, b in zip(cells, base)]
                    errs = sum(len(x["errors"]) for x in cells)
                    parts.append(f"{key} {fmt_range([x['rps'] for x in cells])}" + ("" if key == "sqlite" else f" [{med(ratios):.2f}×]")
                                 + f" <pg {med([x['cpu']['postgres'] for x in cells]):.2f}, other {max(x['cpu']['other'] for x in cells):.2f}>"
                                 + (f" ({errs} error lines)" if errs else ""))
                log(f"   {op:6s} c{conc}: " + "; ".join(parts))
    log()
    log(f"helper time {results['seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
