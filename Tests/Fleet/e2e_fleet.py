#!/usr/bin/env python3
"""End-to-end test of a lora-squeeze fleet: three `serve` replicas on one PostgreSQL catalog and one
shared blob directory.

    Tests/Postgres/with-cluster.sh python3 Tests/Fleet/e2e_fleet.py .build/debug/lora-squeeze [--keep]

with-cluster.sh provides LORA_SQUEEZE_TEST_POSTGRES (the catalog URL) and LORA_SQUEEZE_TEST_PG_STOP /
LORA_SQUEEZE_TEST_PG_START (shell commands that stop and restart the cluster, for check 7).
Each replica runs `serve --host 127.0.0.1 --port 0 --auth off --drain-delay 0 --data DIR_i
--catalog URL --blobs SHARED --replica-id ID`; its port is read from the log line
"listening on http://HOST:PORT". Everything lives in one temporary directory, removed at the end
(--keep keeps it: the replica logs are under logs/). Every replica gets SIGKILL on the way out if it
is still running, whatever happened (and PR_SET_PDEATHSIG kills them if this script itself is killed).

The checks (each prints "ok  <name>: <numbers>" or "FAIL <name>: <what>"; exit 1 if any failed):
  1 upload-visible      an upload through r1 is listed by r2 and r3 and its files are served by all
                        three with identical bytes and the same ETag
  2 concurrent-upload   the same adapter uploaded through r2 and r3 at one instant: both succeed, one
                        digest, listed once, its blobs (by /v1/blobs/{sha256}) hash to what was sent
  3 squeeze-once        one cold squeeze asked of all three at once is computed once (the sum over
                        replicas of lora_squeeze_squeeze_duration_seconds_count grows by exactly 1)
                        and the three bodies are byte-identical
  4 name-move           a name moved through one replica resolves to the new adapter on the others at
                        once (no sleep between the PUT and the reads)
  5 job-takeover        a normalize job of >= 10 s created through replica A (which runs it); A gets
                        SIGKILL once progress > 0; polled through another replica the job succeeds
                        within lease (15 s) + takeover (5 s) + the remaining work; every adapter's
                        squeezed file then downloads
  6 squeeze-owner-dies  replica B gets SIGKILL ~0.5 s into a cold squeeze of several seconds; the same
                        request to replica C completes and its bytes are a valid safetensors file
  7 catalog-outage      PostgreSQL stopped: /readyz 503 on every replica, an upload 5xx (503
                        catalog-unavailable expected), blob downloads reported, processes alive;
                        PostgreSQL restarted: /readyz 200 again, uploads succeed, nothing listed is lost
Killed replicas are restarted (fresh --data, same catalog and blobs, a new --replica-id) before the
next check that needs three.
"""

import argparse
import ctypes
import hashlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

MiB = 1 << 20
HOST = "127.0.0.1"

# Job-takeover constants of the service (JobRunner.swift): a lease of 15 s renewed every 5 s, and
# every replica's upkeep loop looks for lapsed leases every 5 s.
LEASE_S = 15.0
TAKEOVER_S = 5.0


def log(msg=""):
    print(msg, flush=True)


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------------------------------------
# Results

class Results:
    def __init__(self):
        self.items = []   # (name, ok, message)

    def ok(self, name, message):
        self.items.append((name, True, message))
        log(f"ok   {name}: {message}")

    def fail(self, name, message):
        self.items.append((name, False, message))
        log(f"FAIL {name}: {message}")

    @property
    def failed(self):
        return [i for i in self.items if not i[1]]


RESULTS = Results()


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------------------------------------
# HTTP: one request per connection (a killed replica then fails exactly the requests it had)

class Resp:
    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.error = None
        self.seconds = 0.0

    def json(self):
        return json.loads(self.body)

    def etag(self):
        return self.headers.get("etag", "").strip('"')

    def problem_type(self):
        try:
            return str(json.loads(self.body).get("type", ""))
        except (ValueError, AttributeError):
            return ""

    def describe(self):
        if self.error:
            return f"no response ({self.error})"
        ctype = self.headers.get("content-type", "")
        text = self.body[:300].decode("utf-8", "replace") if "json" in ctype or "text" in ctype else f"{len(self.body)} bytes"
        return f"{self.status} {text}"


def request(port, method, path, body=None, headers=None, timeout=60.0):
    r = Resp()
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        hdrs = {"Connection": "close", "User-Agent": "e2e_fleet.py"}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        r.headers = {k.lower(): v for k, v in resp.getheaders()}
        r.body = resp.read()
        r.status = resp.status
    except Exception as e:  # noqa: BLE001 — a transport failure is an outcome
        r.error = f"{type(e).__name__}: {e}"
    finally:
        conn.close()
        r.seconds = time.monotonic() - t0
    return r


def get_json(port, path, timeout=60.0):
    r = request(port, "GET", path, timeout=timeout)
    require(r.status == 200, f"GET {path} on :{port}: {r.describe()}")
    return r.json()


# ---------------------------------------------------------------------------------------------
# Adapters: PEFT LoRA files written with numpy + safetensors (as Tests/Contract/seed.py does)

class Adapter:
    """q_proj and v_proj of `layers` layers, each hidden × hidden at LoRA rank r, f32, seeded."""

    def __init__(self, seed, layers, hidden, r):
        rng = np.random.default_rng(seed)
        decay = np.exp(-np.arange(r) / 8.0).astype(np.float32)
        tensors = {}
        for i in range(layers):
            for m in ("q_proj", "v_proj"):
                p = f"base_model.model.model.layers.{i}.self_attn.{m}"
                a = rng.standard_normal((r, hidden), dtype=np.float32) * np.float32(1 / math.sqrt(hidden))
                tensors[p + ".lora_A.weight"] = a * decay[:, None]
                tensors[p + ".lora_B.weight"] = rng.standard_normal((hidden, r), dtype=np.float32) * np.float32(0.02)
        self.weights = st_save(tensors, metadata={"format": "pt"})
        config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "fleet-test/model",
                  "r": r, "lora_alpha": 2 * r, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.0,
                  "bias": "none", "fleet_test_seed": seed}
        self.config = json.dumps(config).encode()
        self.layers, self.hidden, self.r = layers, hidden, r
        self.weights_sha = sha256(self.weights)
        boundary = uuid.uuid4().hex
        parts = [("adapter_config.json", "application/json", self.config),
                 ("adapter_model.safetensors", "application/octet-stream", self.weights)]
        chunks = []
        for name, ctype, data in parts:
            chunks.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n"
                          f"Content-Type: {ctype}\r\n\r\n".encode())
            chunks.append(data)
            chunks.append(b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        self.body = b"".join(chunks)
        self.content_type = f"multipart/form-data; boundary={boundary}"

    @property
    def mib(self):
        return len(self.weights) / MiB


def upload(port, adapter, name=None, timeout=300.0):
    path = "/v1/adapters" + (f"?name={name}" if name else "")
    return request(port, "POST", path, body=adapter.body, headers={"Content-Type": adapter.content_type}, timeout=timeout)


def upload_ok(port, adapter, name=None):
    r = upload(port, adapter, name)
    require(r.status in (200, 201), f"upload{' as ' + name if name else ''} to :{port}: {r.describe()}")
    return r.json()["digest"]


def squeeze_path(ref, rank, method="exact"):
    return f"/v1/adapters/{ref}/squeezed/{rank}/adapter_model.safetensors?method={method}"


def list_digests(port):
    """Every stored adapter's digest (all pages)."""
    digests, offset = [], 0
    while True:
        page = get_json(port, f"/v1/adapters?limit=1000&offset={offset}")
        digests += [a["digest"] for a in page["items"]]
        if "nextOffset" not in page:
            return digests
        offset = page["nextOffset"]


def valid_safetensors(data, expect_rank=None):
    """Parses the bytes with safetensors; returns (tensor count, ranks seen)."""
    tensors = st_load(data)
    require(len(tensors) > 0, "the safetensors file holds no tensor")
    ranks = set()
    for name, t in tensors.items():
        require(np.all(np.isfinite(t)), f"tensor {name} holds non-finite values")
        if name.endswith("lora_A.weight"):
            ranks.add(t.shape[0])
    if expect_rank is not None:
        require(ranks == {expect_rank}, f"squeezed ranks {sorted(ranks)}, expected {{{expect_rank}}}")
    return len(tensors), ranks


METRIC_RE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})?\s+(?P<value>\S+)", re.M)


def metric(port, name):
    """The sum of a metric's samples on one replica (a missing line counts as 0)."""
    r = request(port, "GET", "/metrics", timeout=10)
    require(r.status == 200, f"GET /metrics on :{port}: {r.describe()}")
    total = 0.0
    for m in METRIC_RE.finditer(r.body.decode("utf-8", "replace")):
        if m.group("name") == name:
            total += float(m.group("value"))
    return total


# ---------------------------------------------------------------------------------------------
# Replicas

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # Runs in the child between fork and exec: SIGKILL it if this script dies (Popen is only ever
    # called from the main thread, whose exit is the process's).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Replica:
    def __init__(self, fleet, replica_id):
        self.fleet, self.id = fleet, replica_id
        self.data = os.path.join(fleet.work, f"data-{replica_id}")
        self.log_path = os.path.join(fleet.work, "logs", f"{replica_id}.log")
        self.proc = None
        self.port = None

    def start(self, timeout=60.0):
        os.makedirs(self.data)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LORA_SQUEEZE_")}
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(
                [self.fleet.binary, "serve", "--host", HOST, "--port", "0", "--auth", "off", "--drain-delay", "0",
                 "--data", self.data, "--catalog", self.fleet.catalog, "--blobs", self.fleet.blobs,
                 "--replica-id", self.id],
                stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica {self.id} exited with {self.proc.returncode} at start:\n{self.tail()}")
            if self.port is None:
                with open(self.log_path, "rb") as f:
                    m = re.search(rb"listening on http://[^\s]*:(\d+)", f.read())
                if m:
                    self.port = int(m.group(1))
            if self.port is not None and request(self.port, "GET", "/readyz", timeout=2).status == 200:
                return self
            time.sleep(0.02)
        raise RuntimeError(f"replica {self.id} not ready within {timeout} s:\n{self.tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout=10.0):
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def lines(self, pattern):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if re.search(pattern, line)]

    def tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""

    def __str__(self):
        return f"{self.id}(:{self.port})"


class Fleet:
    def __init__(self, binary, catalog, work):
        self.binary, self.catalog, self.work = binary, catalog, work
        self.blobs = os.path.join(work, "blobs")
        os.makedirs(self.blobs)
        os.makedirs(os.path.join(work, "logs"))
        self.all = []          # every replica ever started (for cleanup and logs)
        self.live = []         # the three slots
        self.generation = {}

    def start(self, slot):
        n = self.generation.get(slot, 0) + 1
        self.generation[slot] = n
        rid = f"r{slot + 1}" if n == 1 else f"r{slot + 1}-gen{n}"
        rep = Replica(self, rid)
        self.all.append(rep)
        t0 = time.monotonic()
        rep.start()
        if slot < len(self.live):
            self.live[slot] = rep
        else:
            self.live.append(rep)
        log(f"     started {rep} in {time.monotonic() - t0:.1f} s")
        return rep

    def restart_dead(self):
        for slot, rep in enumerate(self.live):
            if not rep.alive():
                self.start(slot)

    def squeeze_count(self):
        """Sum over the live replicas of lora_squeeze_squeeze_duration_seconds_count."""
        per = {r.id: metric(r.port, "lora_squeeze_squeeze_duration_seconds_count") for r in self.live if r.alive()}
        return sum(per.values()), per

    def shutdown(self):
        for rep in self.all:
            rep.stop(timeout=10)


def run_threads(functions):
    """Runs the callables at one instant (a barrier), returns their results in order."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as e:  # noqa: BLE001
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# ---------------------------------------------------------------------------------------------
# The checks

def check_upload_visible(fleet, ctx):
    r1, r2, r3 = fleet.live
    ad = Adapter(seed=101, layers=4, hidden=1024, r=16)
    t0 = time.monotonic()
    r = upload(r1.port, ad, name="fleet-one")
    require(r.status == 201, f"upload through {r1}: {r.describe()} (201 expected: the adapter is new)")
    digest = r.json()["digest"]
    t_up = time.monotonic() - t0
    listed_after = {}
    for rep in (r2, r3):
        t1 = time.monotonic()
        page = get_json(rep.port, "/v1/adapters?name=fleet-one&limit=100")
        listed_after[rep.id] = time.monotonic() - t1
        hits = [a for a in page["items"] if a["digest"] == digest]
        require(len(hits) == 1, f"{rep} lists {len(hits)} adapters with digest {digest[:12]} under name fleet-one "
                                f"(page: {[a['digest'][:12] for a in page['items']]})")
        require("fleet-one" in hits[0]["names"], f"{rep} lists the adapter with names {hits[0]['names']}")
        require(digest in list_digests(rep.port), f"{rep}'s full listing lacks {digest[:12]}")
    served = {}
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        for rep in (r1, r2, r3):
            resp = request(rep.port, "GET", f"/v1/adapters/{digest}/files/{f}")
            require(resp.status == 200, f"GET files/{f} on {rep}: {resp.describe()}")
            require(resp.etag() == sha256(resp.body), f"{rep}: {f} ETag {resp.etag()[:12]} is not the body's SHA-256 {sha256(resp.body)[:12]}")
            served.setdefault(f, {})[rep.id] = (sha256(resp.body), resp.etag())
        shas = set(served[f].values())
        require(len(shas) == 1, f"{f} differs between replicas: {served[f]}")
    require(served["adapter_model.safetensors"][r1.id][0] == ad.weights_sha, "the weights served are not the bytes uploaded")
    RESULTS.ok("1 upload-visible", f"{ad.mib:.1f} MiB uploaded through {r1.id} in {t_up:.2f} s (201, digest {digest[:12]}); "
                                   f"listed by {r2.id}/{r3.id} at once ({listed_after[r2.id] * 1000:.0f}/{listed_after[r3.id] * 1000:.0f} ms); "
                                   f"both files byte-identical with the same ETag on all 3 (weights ETag {ad.weights_sha[:12]} = upload)")
    ctx["a1"] = (ad, digest)


def check_concurrent_upload(fleet, ctx):
    r1, r2, r3 = fleet.live
    ad = Adapter(seed=202, layers=4, hidden=1024, r=512)     # 32 MiB, about 1 s to validate and to squeeze
    before = len(list_digests(r1.port))
    results = run_threads([lambda: upload(r2.port, ad, name="fleet-twin-b"), lambda: upload(r3.port, ad, name="fleet-twin-c")])
    for rep, res in zip((r2, r3), results):
        require(isinstance(res, Resp), f"upload through {rep} raised {res!r}")
        require(res.status in (200, 201), f"upload through {rep}: {res.describe()}")
    digests = {res.json()["digest"] for res in results}
    require(len(digests) == 1, f"two digests for the same content: {digests}")
    digest = digests.pop()
    statuses = sorted(res.status for res in results)
    after = list_digests(r1.port)
    require(after.count(digest) == 1, f"{r1} lists digest {digest[:12]} {after.count(digest)} times")
    require(len(after) == before + 1, f"{r1} lists {len(after)} adapters, {before} before: expected one more")
    info = get_json(r1.port, f"/v1/adapters/{digest}")
    require({"fleet-twin-b", "fleet-twin-c"} <= set(info["names"]), f"the adapter's names are {info['names']} (both names expected)")
    # The blobs: each file's content address, downloaded through every replica, hashes to its name.
    files = {}
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        resp = request(r1.port, "GET", f"/v1/adapters/{digest}/files/{f}")
        require(resp.status == 200, f"GET files/{f}: {resp.describe()}")
        loc = resp.headers.get("content-location", "")
        require(re.fullmatch(r"/v1/blobs/[0-9a-f]{64}", loc), f"files/{f} has Content-Location {loc!r}")
        files[f] = loc.rsplit("/", 1)[1]
    require(files["adapter_model.safetensors"] == ad.weights_sha, "the weights blob is not the uploaded bytes' SHA-256")
    for f, blob in files.items():
        for rep in (r1, r2, r3):
            resp = request(rep.port, "GET", f"/v1/blobs/{blob}")
            require(resp.status == 200, f"GET /v1/blobs/{blob[:12]} ({f}) on {rep}: {resp.describe()}")
            require(sha256(resp.body) == blob, f"/v1/blobs/{blob[:12]} on {rep} hashes to {sha256(resp.body)[:12]}")
        # blobs/ is sharded: BLOBS/blobs/<first 2 hex>/<other 62 hex>
        on_disk = [os.path.join(dp, fn) for dp, _, fns in os.walk(os.path.join(fleet.blobs, "blobs")) for fn in fns
                   if os.path.basename(dp) + fn == blob]
        require(len(on_disk) == 1, f"{len(on_disk)} files named {blob[:12]} under the shared blob directory")
        with open(on_disk[0], "rb") as fh:
            require(sha256(fh.read()) == blob, f"the shared blob file {on_disk[0]} does not hash to its name")
    RESULTS.ok("2 concurrent-upload", f"{ad.mib:.0f} MiB through {r2.id} and {r3.id} at once: statuses {statuses}, "
                                      f"{results[0].seconds:.2f}/{results[1].seconds:.2f} s, one digest {digest[:12]}, listed once "
                                      f"({before}→{len(after)} adapters), both names on it; its 2 blobs hash to their names "
                                      f"through all 3 replicas and on disk")
    ctx["a2"] = (ad, digest)


def check_squeeze_once(fleet, ctx):
    ad, digest = ctx["a2"]
    rank = 64
    before, per_before = fleet.squeeze_count()
    path = squeeze_path(digest, rank)
    results = run_threads([lambda rep=rep: request(rep.port, "GET", path, timeout=120) for rep in fleet.live])
    for rep, res in zip(fleet.live, results):
        require(isinstance(res, Resp) and res.status == 200, f"squeeze through {rep}: {res.describe() if isinstance(res, Resp) else res!r}")
    after, per_after = fleet.squeeze_count()
    delta = after - before
    bodies = {sha256(res.body) for res in results}
    etags = {res.etag() for res in results}
    computed_by = [rid for rid in per_after if per_after[rid] - per_before.get(rid, 0) > 0]
    numbers = (f"squeeze_duration_seconds_count sum {before:.0f}→{after:.0f} (Δ {delta:.0f}; per replica "
               + ", ".join(f"{rid} {per_before.get(rid, 0):.0f}→{v:.0f}" for rid, v in per_after.items())
               + f"); latencies " + "/".join(f"{res.seconds:.2f}" for res in results) + " s")
    require(delta == 1, f"computed {delta:.0f} times, expected once: {numbers}")
    require(len(bodies) == 1, f"{len(bodies)} different bodies: {numbers}")
    require(len(etags) == 1 and etags == bodies, f"ETags {etags} vs bodies {bodies}")
    n, ranks = valid_safetensors(results[0].body, rank)
    RESULTS.ok("3 squeeze-once", f"rank {rank} of {digest[:12]} from all 3 at once: computed once (by {computed_by[0]}); {numbers}; "
                                 f"3 bodies byte-identical ({len(results[0].body) / MiB:.1f} MiB, {n} tensors, sha {bodies.pop()[:12]})")
    ctx["squeezed_blob"] = results[0].headers.get("content-location", "")
    ctx["squeeze_url"] = path


def check_name_move(fleet, ctx):
    (_, d1), (_, d2) = ctx["a1"], ctx["a2"]
    reps = fleet.live
    moves, stale, reads = 0, [], 0
    worst = 0.0
    targets = [d1, d2, d1, d2, d1, d2]
    for i, target in enumerate(targets):
        mover = reps[i % 3]
        r = request(mover.port, "PUT", "/v1/names/fleet-moving", body=json.dumps({"adapter": target}).encode(),
                    headers={"Content-Type": "application/json"})
        expect_status = 201 if i == 0 else 200
        require(r.status == expect_status, f"PUT /v1/names/fleet-moving → {target[:12]} through {mover}: {r.describe()} ({expect_status} expected)")
        binding = r.json()
        require(binding["digest"] == target, f"PUT answered {binding}")
        if i > 0:
            require(binding.get("previous") == targets[i - 1], f"PUT's previous is {binding.get('previous')}, expected {targets[i - 1][:12]}")
        moves += 1
        t_put = time.monotonic()
        for other in reps:
            if other is mover:
                continue
            resp = request(other.port, "GET", "/v1/adapters/fleet-moving")
            reads += 1
            got = resp.json().get("digest") if resp.status == 200 else resp.describe()
            if got != target:
                stale.append(f"move {i + 1} through {mover.id}: {other.id} says {str(got)[:12]}")
            f = request(other.port, "GET", "/v1/adapters/fleet-moving/files/adapter_model.safetensors")
            reads += 1
            expected_sha = ctx["a1"][0].weights_sha if target == d1 else ctx["a2"][0].weights_sha
            if f.status != 200 or f.etag() != expected_sha:
                stale.append(f"move {i + 1} through {mover.id}: {other.id} serves files by name with ETag {f.etag()[:12]} ({f.status})")
            worst = max(worst, time.monotonic() - t_put)
    require(not stale, f"{len(stale)} stale reads of {reads}: " + "; ".join(stale[:4]))
    RESULTS.ok("4 name-move", f"{moves} moves of fleet-moving between {d1[:12]} and {d2[:12]}, round-robin over the 3 replicas; "
                              f"{reads} reads on the other two right after each PUT (description and file by name), 0 stale; "
                              f"last read at most {worst * 1000:.0f} ms after a PUT")


def check_job_takeover(fleet, ctx):
    A, B, C = fleet.live
    shape = dict(layers=3, hidden=1024, r=512)      # 24 MiB; ~0.7–1.2 s per squeeze on 2 cores, debug build
    job_rank = 256
    # Calibrate: one squeeze of a job-sized adapter, through a replica that did not upload it (its first
    # read rehashes the source, as a takeover's does), at a rank the job does not use.
    first = Adapter(seed=5000, **shape)
    d0 = upload_ok(C.port, first, name="fleet-job-000")
    res = request(B.port, "GET", squeeze_path(d0, job_rank - 1), timeout=120)
    require(res.status == 200, f"calibration squeeze: {res.describe()}")
    t_cal = res.seconds
    n = max(12, min(48, math.ceil(13.0 / t_cal)))   # >= 13 s of squeezing, and at least 12 adapters
    # The others, uploaded through the three replicas in parallel (one thread each).
    adapters = [first] + [Adapter(seed=5000 + i, **shape) for i in range(1, n)]
    t0 = time.monotonic()
    failures = []

    def upload_share(slot):
        for i in range(1 + slot, n, 3):
            try:
                upload_ok(fleet.live[slot].port, adapters[i], name=f"fleet-job-{i:03d}")
            except CheckFailed as e:
                failures.append(str(e))
    run_threads([lambda s=s: upload_share(s) for s in range(3)])
    require(not failures, f"job adapters' uploads: {failures[:2]}")
    t_uploads = time.monotonic() - t0
    # The job, created through A, which runs it (its squeeze count rises); followed through B.
    A_before = metric(A.port, "lora_squeeze_squeeze_duration_seconds_count")
    r = request(A.port, "POST", "/v1/normalize", body=json.dumps({"prefix": "fleet-job-", "rank": job_rank, "method": "exact"}).encode(),
                headers={"Content-Type": "application/json"})
    require(r.status == 202, f"POST /v1/normalize through {A}: {r.describe()}")
    job = r.json()
    job_id = job["id"]
    require(job["total"] == n, f"the job covers {job['total']} adapters, {n} expected")
    t_created = time.monotonic()
    done_at_kill, j = None, job
    while time.monotonic() - t_created < 60:
        j = get_json(B.port, f"/v1/jobs/{job_id}")
        if j["done"] > 0:
            done_at_kill = j["done"]
            break
        time.sleep(0.05)
    require(done_at_kill is not None, f"the job made no progress in 60 s (state {j['state']})")
    A_ran = metric(A.port, "lora_squeeze_squeeze_duration_seconds_count") - A_before
    # Every replica works on a normalize job (an adapter at a time), so the first outcome may come
    # from B or C while A is still squeezing its first adapter: A is at work when it has computed
    # one, or has one in flight.
    A_busy = metric(A.port, "lora_squeeze_squeezes_in_flight")
    A.kill()
    t_kill = time.monotonic()
    first_progress = t_kill - t_created
    require(A_ran >= 1 or A_busy >= 1,
            f"{A} computed {A_ran:.0f} squeezes and had {A_busy:.0f} in flight at the kill: it was not working on the job it created")
    others_before = {rep.id: metric(rep.port, "lora_squeeze_squeeze_duration_seconds_count") for rep in (B, C)}
    remaining = n - done_at_kill
    state, resumed_at = None, None
    give_up = LEASE_S + TAKEOVER_S + remaining * t_cal * 3 + 30
    while time.monotonic() - t_kill < give_up:
        j = get_json(B.port, f"/v1/jobs/{job_id}")
        state = j["state"]
        if j["done"] > done_at_kill and resumed_at is None:
            resumed_at = time.monotonic() - t_kill
        if state in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    finished_after = time.monotonic() - t_kill
    taken_by = [rep.id for rep in (B, C)
                if metric(rep.port, "lora_squeeze_squeeze_duration_seconds_count") > others_before[rep.id]]
    resume_lines = [l for rep in (B, C) for l in rep.lines(rf"resuming normalize job {job_id}")]
    # The remaining work, as the new owner did it: its pace from its first recorded adapter to the end.
    if resumed_at is not None and remaining > 1 and state == "succeeded":
        per_adapter = (finished_after - resumed_at) / (remaining - 1)
    else:
        per_adapter = t_cal
    takeover_delay = (resumed_at if resumed_at is not None else finished_after) - per_adapter
    bound = LEASE_S + TAKEOVER_S + remaining * per_adapter + 2.0
    work = n * per_adapter
    numbers = (f"{n} adapters of {first.mib:.0f} MiB (calibration squeeze {t_cal:.2f} s; uploads {t_uploads:.1f} s); "
               f"job work ≈ {n} × {per_adapter:.2f} s = {work:.1f} s; {A.id} ran it ({A_ran:.0f} squeezed) and was killed at "
               f"done={done_at_kill}/{n}, {first_progress:.1f} s after creation; taken over by {taken_by or '?'}, "
               f"first adapter recorded after the kill at {'never' if resumed_at is None else f'{resumed_at:.1f} s'} "
               f"(takeover ≈ {takeover_delay:.1f} s after the kill, ≤ lease {LEASE_S:.0f} + upkeep {TAKEOVER_S:.0f} s expected); "
               f"{state} {finished_after:.1f} s after the kill (bound {LEASE_S:.0f} + {TAKEOVER_S:.0f} + "
               f"{remaining} remaining × {per_adapter:.2f} s + 2 = {bound:.1f} s)")
    require(state == "succeeded", f"job {job_id} is {state} after {finished_after:.1f} s (error: {j.get('error')}); {numbers}; "
                                  f"resume log lines: {resume_lines[:2]}")
    require(finished_after <= bound, f"took too long: {numbers}")
    require(work >= 10.0, f"the job's work was under 10 s: {numbers}")
    # Every adapter's squeezed file downloads (through C), by URL and by content address, computing nothing.
    before_dl = metric(C.port, "lora_squeeze_squeeze_duration_seconds_count")
    bad = []
    for outcome in j["adapters"]:
        if outcome["status"] != "done":
            bad.append(f"{outcome['digest'][:12]} {outcome['status']} {outcome.get('error', '')}")
            continue
        for url in (outcome["urls"]["adapter_model.safetensors"], outcome["blobs"]["adapter_model.safetensors"]):
            resp = request(C.port, "GET", url, timeout=120)
            if resp.status != 200:
                bad.append(f"{url}: {resp.describe()}")
                continue
            if resp.etag() != sha256(resp.body):
                bad.append(f"{url}: ETag {resp.etag()[:12]} != sha {sha256(resp.body)[:12]}")
                continue
            try:
                valid_safetensors(resp.body, job_rank)
            except Exception as e:  # noqa: BLE001
                bad.append(f"{url}: {e}")
    recomputed = metric(C.port, "lora_squeeze_squeeze_duration_seconds_count") - before_dl
    require(not bad, f"{len(bad)} downloads failed: {bad[:3]}; {numbers}")
    require(recomputed == 0, f"downloading the job's results recomputed {recomputed:.0f} squeezes on {C}")
    leftovers = sorted(os.listdir(os.path.join(fleet.blobs, "tmp", A.id))) if os.path.isdir(os.path.join(fleet.blobs, "tmp", A.id)) else []
    RESULTS.ok("5 job-takeover", f"{numbers}; all {n} squeezed files download through {C.id} (by URL and by blob, "
                                 f"valid rank {job_rank}, none recomputed); the killed replica left {len(leftovers)} file(s) "
                                 f"in tmp/{A.id}/ on the shared blobs")
    ctx["job_digests"] = [o["digest"] for o in j["adapters"]]


def check_squeeze_owner_dies(fleet, ctx):
    _, B, C = fleet.live
    ad = Adapter(seed=606, layers=28, hidden=1024, r=512)    # 224 MiB; 5–9 s to squeeze at rank 200 (debug, 2 cores)
    digest = upload_ok(C.port, ad, name="fleet-big")
    rank = 200
    path = squeeze_path(digest, rank)
    holder = {}
    t = threading.Thread(target=lambda: holder.setdefault("r", request(B.port, "GET", path, timeout=120)), daemon=True)
    t_req = time.monotonic()
    t.start()
    in_flight = 0.0
    while time.monotonic() - t_req < 5:
        in_flight = metric(B.port, "lora_squeeze_squeezes_in_flight")
        if in_flight >= 1 and time.monotonic() - t_req >= 0.5:
            break
        time.sleep(0.05)
    killed_at = time.monotonic() - t_req
    require(in_flight >= 1, f"{B} shows no squeeze in flight {killed_at:.1f} s after the request")
    computed_b = [l for l in B.lines(rf"computed {digest[:12]}")]
    answered_before_kill = holder.get("r")
    B.kill()
    t.join(timeout=10)
    b_result = holder.get("r")
    require(answered_before_kill is None, f"{B} answered before the kill ({answered_before_kill.describe() if answered_before_kill else ''}): make the adapter bigger")
    require(not computed_b, f"{B} finished the squeeze before the kill ({computed_b[:1]}): make the adapter bigger")
    before = metric(C.port, "lora_squeeze_squeeze_duration_seconds_count")
    t0 = time.monotonic()
    res = request(C.port, "GET", path, timeout=120)
    took = time.monotonic() - t0
    require(res.status == 200, f"the same request to {C} after {B} died: {res.describe()} after {took:.1f} s")
    n, _ = valid_safetensors(res.body, rank)
    require(res.etag() == sha256(res.body), "ETag is not the body's SHA-256")
    c_computed = metric(C.port, "lora_squeeze_squeeze_duration_seconds_count") - before
    computed = [l for l in C.lines(rf"computed {digest[:12]}")]
    secs = re.search(r"in ([0-9.]+) s", computed[-1]).group(1) if computed else "?"
    tmp_b = os.path.join(fleet.blobs, "tmp", B.id)
    leftovers = [os.path.getsize(os.path.join(tmp_b, f)) for f in os.listdir(tmp_b)] if os.path.isdir(tmp_b) else []
    RESULTS.ok("6 squeeze-owner-dies", f"{ad.mib:.0f} MiB adapter, rank {rank}: {B.id} killed {killed_at:.2f} s into its squeeze "
                                       f"(in flight {in_flight:.0f}; its client got {b_result.describe() if b_result else 'nothing'}); "
                                       f"the same request to {C.id} completed in {took:.2f} s (computed there: {c_computed:.0f}, "
                                       f"compute {secs} s), {len(res.body) / MiB:.0f} MiB valid safetensors, {n} tensors at rank {rank}; "
                                       f"{B.id}'s partial output left in tmp/{B.id}/: {len(leftovers)} file(s), "
                                       f"{sum(leftovers) / MiB:.1f} MiB")


def check_catalog_outage(fleet, ctx):
    stop_cmd = os.environ.get("LORA_SQUEEZE_TEST_PG_STOP")
    start_cmd = os.environ.get("LORA_SQUEEZE_TEST_PG_START")
    require(stop_cmd and start_cmd, "LORA_SQUEEZE_TEST_PG_STOP/START are not set: run under Tests/Postgres/with-cluster.sh")
    reps = list(fleet.live)
    listed_before = set(list_digests(reps[0].port))
    a1, d1 = ctx["a1"]
    blob_urls = [f"/v1/blobs/{a1.weights_sha}"]
    if ctx.get("squeezed_blob"):
        blob_urls.append(ctx["squeezed_blob"])
    for url in blob_urls:      # read once before the outage: cached, verified
        require(request(reps[1].port, "GET", url).status == 200, f"GET {url} before the outage")
    notes = []
    stopped = False
    try:
        t0 = time.monotonic()
        p = subprocess.run(["bash", "-c", stop_cmd], capture_output=True, text=True)
        require(p.returncode == 0, f"stopping PostgreSQL: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        stopped = True
        t_stopped = time.monotonic()
        # /readyz: 503 on every replica within a few seconds.
        unready = {}
        while time.monotonic() - t_stopped < 10 and len(unready) < len(reps):
            for rep in reps:
                if rep.id not in unready:
                    rr = request(rep.port, "GET", "/readyz", timeout=5)
                    if rr.status == 503:
                        unready[rep.id] = (time.monotonic() - t_stopped, rr.body.decode("utf-8", "replace")[:160])
            time.sleep(0.1)
        missing = [rep.id for rep in reps if rep.id not in unready]
        notes.append("readyz 503 after " + ", ".join(f"{rid} {v[0]:.2f} s" for rid, v in unready.items())
                     + (f"; still not 503 after 10 s: {missing}" if missing else ""))
        detail = next(iter(unready.values()))[1] if unready else ""
        # An upload: 503 catalog-unavailable (or another 5xx), and the replica stays up.
        extra = Adapter(seed=707, layers=2, hidden=1024, r=64)      # 2 MiB, never uploaded again
        up = upload(reps[0].port, extra, name="fleet-during-outage", timeout=60)
        upload_desc = f"{up.status} {up.problem_type()}" if up.status else up.describe()
        notes.append(f"upload through {reps[0].id}: {upload_desc} in {up.seconds:.2f} s"
                     + (f" (Retry-After {up.headers.get('retry-after')})" if up.headers.get("retry-after") else ""))
        # Reads during the outage (reported, not required).
        for url in blob_urls:
            outcomes = []
            for rep in reps:
                rb = request(rep.port, "GET", url, timeout=15)
                ok = rb.status == 200 and sha256(rb.body) == url.rsplit("/", 1)[1]
                outcomes.append(f"{rep.id} {rb.status or rb.error}{' intact' if ok else ' ' + rb.problem_type() if rb.status else ''}")
            notes.append(f"GET {url[:22]}… " + ", ".join(outcomes))
        others = [("listing", "/v1/adapters?limit=10"), ("description", f"/v1/adapters/{d1}"),
                  ("original file by digest", f"/v1/adapters/{d1}/files/adapter_model.safetensors")]
        if ctx.get("squeeze_url"):
            others.append(("cached squeeze by URL", ctx["squeeze_url"]))
        for what, url in others:
            rr = request(reps[1].port, "GET", url, timeout=15)
            notes.append(f"{what} {rr.status or rr.error} {rr.problem_type()}".rstrip())
        # Stay down long enough for every replica's upkeep loop (5 s) to meet the outage.
        while time.monotonic() - t_stopped < 6.0:
            time.sleep(0.2)
        hz = [request(rep.port, "GET", "/healthz", timeout=5).status for rep in reps]
        notes.append(f"healthz after {time.monotonic() - t_stopped:.1f} s down {hz}")
        dead = [rep.id for rep in reps if not rep.alive()]
        # Restart PostgreSQL.
        p = subprocess.run(["bash", "-c", start_cmd], capture_output=True, text=True)
        require(p.returncode == 0, f"starting PostgreSQL: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        stopped = False
        t_started = time.monotonic()
        outage = t_started - t_stopped
        ready = {}
        while time.monotonic() - t_started < 20 and len(ready) < len(reps):
            for rep in reps:
                if rep.id not in ready and request(rep.port, "GET", "/readyz", timeout=5).status == 200:
                    ready[rep.id] = time.monotonic() - t_started
            time.sleep(0.1)
        notes.append("readyz 200 again after " + ", ".join(f"{rid} {v:.2f} s" for rid, v in ready.items()))
        # Uploads succeed again, through every replica.
        ups = []
        for i, rep in enumerate(reps):
            ad = Adapter(seed=710 + i, layers=2, hidden=512, r=8)
            u = upload(rep.port, ad, name=f"fleet-after-outage-{i}")
            ups.append((rep.id, u))
        up_after = [f"{rid} {u.status or u.error}" for rid, u in ups]
        notes.append("uploads after: " + ", ".join(up_after))
        listed_after = set(list_digests(reps[2].port))
        lost = listed_before - listed_after
        # What the refused upload left on the shared blob directory (reported, not required).
        orphan = os.path.join(fleet.blobs, "blobs", extra.weights_sha[:2], extra.weights_sha[2:])
        if os.path.exists(orphan):
            by_digest = request(reps[0].port, "GET", f"/v1/blobs/{extra.weights_sha}")
            notes.append(f"NOTE the refused upload's weights ({extra.mib:.0f} MiB) stay in the shared blobs/ as "
                         f"{extra.weights_sha[:12]}… with no catalog row (GET /v1/blobs/… {by_digest.status})")
        else:
            notes.append("the refused upload left no blob file")
        problems = []
        if missing:
            problems.append(f"/readyz not 503 within 10 s on {missing}")
        if not (up.status is not None and up.status >= 500):
            problems.append(f"the upload during the outage answered {up.describe()} (5xx expected)")
        elif up.status == 503 and not up.problem_type().endswith("catalog-unavailable"):
            notes.append(f"(503 of type {up.problem_type()}, not catalog-unavailable)")
        if dead:
            problems.append(f"replicas died during the outage: {dead}")
        if any(u.status not in (200, 201) for _, u in ups):
            problems.append("an upload after the restart failed: " + "; ".join(f"{rid} {u.describe()}" for rid, u in ups if u.status not in (200, 201)))
        not_ready = [rep.id for rep in reps if rep.id not in ready]
        if not_ready:
            problems.append(f"/readyz not 200 within 20 s of the restart on {not_ready}")
        elif max(ready.values()) > 12:
            problems.append(f"/readyz took {max(ready.values()):.1f} s to return to 200 (~10 s expected)")
        if lost:
            problems.append(f"{len(lost)} adapters listed before the outage are gone: {[d[:12] for d in lost][:5]}")
        if [rep.id for rep in reps if not rep.alive()]:
            problems.append(f"replicas died: {[rep.id for rep in reps if not rep.alive()]}")
        summary = f"PostgreSQL down {outage:.1f} s; " + "; ".join(notes) + f"; readyz detail: {detail!r}; " \
                  f"{len(listed_before)} adapters listed before, all {len(listed_before) - len(lost)} still listed ({len(listed_after)} now); " \
                  f"all {len(reps)} processes alive"
        require(not problems, "; ".join(problems) + " — " + summary)
        RESULTS.ok("7 catalog-outage", summary)
    finally:
        if stopped:
            subprocess.run(["bash", "-c", start_cmd], capture_output=True)


def snapshot_binary(binary, work, timeout=120.0):
    """Copies the binary into the work directory and runs the copy once: every replica of the run
    executes the same bytes, and a rebuild of the original meanwhile (SwiftPM relinking it: ETXTBSY,
    or a half-written file) disturbs nothing. A copy that does not run is taken again until it does."""
    copy = os.path.join(work, "lora-squeeze")
    deadline = time.monotonic() + timeout
    while True:
        try:
            shutil.copyfile(binary, copy)
            os.chmod(copy, 0o755)
            p = subprocess.run([copy, "serve", "--help"], capture_output=True, timeout=30)
            if p.returncode == 0:
                return copy
            why = f"exit {p.returncode}: {(p.stdout + p.stderr).decode('utf-8', 'replace').strip()[-200:]}"
        except (OSError, subprocess.TimeoutExpired) as e:
            why = f"{type(e).__name__}: {e}"
        if time.monotonic() > deadline:
            raise RuntimeError(f"a copy of {binary} does not run after {timeout:.0f} s of tries: {why}")
        log(f"     the copy of {binary} does not run yet ({why}); trying again in 2 s (being rebuilt?)")
        time.sleep(2)


CHECKS = [
    ("1 upload-visible", check_upload_visible),
    ("2 concurrent-upload", check_concurrent_upload),
    ("3 squeeze-once", check_squeeze_once),
    ("4 name-move", check_name_move),
    ("5 job-takeover", check_job_takeover),
    ("6 squeeze-owner-dies", check_squeeze_owner_dies),
    ("7 catalog-outage", check_catalog_outage),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", help="the lora-squeeze executable")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (replica logs under logs/)")
    ap.add_argument("--only", default="", help="comma-separated check numbers to run (default: all)")
    args = ap.parse_args()
    catalog = os.environ.get("LORA_SQUEEZE_TEST_POSTGRES")
    if not catalog:
        ap.error("LORA_SQUEEZE_TEST_POSTGRES is not set: run under Tests/Postgres/with-cluster.sh")
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        ap.error(f"{binary} is not an executable")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so the finally below runs
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    work = tempfile.mkdtemp(prefix="lora-fleet-")
    started = time.monotonic()
    log(f"fleet e2e: {binary}, catalog {catalog}, work {work}")
    try:
        binary = snapshot_binary(binary, work)
    except RuntimeError as e:
        shutil.rmtree(work, ignore_errors=True)
        log(f"FAIL setup: {e}")
        return 1
    fleet = Fleet(binary, catalog, work)
    ctx = {}
    try:
        for slot in range(3):
            fleet.start(slot)
        for name, fn in CHECKS:
            if only and name.split()[0] not in only:
                continue
            fleet.restart_dead()
            t0 = time.monotonic()
            log(f"---- {name}")
            try:
                fn(fleet, ctx)
            except CheckFailed as e:
                RESULTS.fail(name, str(e))
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                RESULTS.fail(name, f"{type(e).__name__}: {e}")
            log(f"     ({time.monotonic() - t0:.1f} s)")
    except Exception as e:  # noqa: BLE001 — a replica that does not start: reported, then cleaned up
        traceback.print_exc()
        RESULTS.fail("setup", f"{type(e).__name__}: {e}")
    except (KeyboardInterrupt, SystemExit) as e:   # SIGINT, SIGTERM: clean up, report, exit 1
        RESULTS.fail("interrupted", f"{type(e).__name__} {e}".strip())
    finally:
        alive_at_end = [r.id for r in fleet.live if r.alive()]
        fleet.shutdown()
        for rep in fleet.all:
            if rep.proc is not None and rep.proc.poll() is None:
                rep.kill()
        crashes = [(rep.id, l) for rep in fleet.all for l in rep.lines(r"Fatal error|Illegal instruction|Segmentation|critical")]
        if RESULTS.failed or crashes:
            log("\nreplica log lines at warning or above (last 8 per replica):")
            for rep in fleet.all:
                bad = rep.lines(r"\b(warning|error|critical)\b|Fatal error")
                for line in bad[-8:]:
                    log(f"  [{rep.id}] {line[:400]}")
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        elapsed = time.monotonic() - started
        n_ok = sum(1 for i in RESULTS.items if i[1])
        log(f"\nSUMMARY: {n_ok} ok, {len(RESULTS.failed)} failed"
            + (f" ({', '.join(i[0] for i in RESULTS.failed)})" if RESULTS.failed else "")
            + f"; replicas alive at the end {alive_at_end}; total {elapsed:.1f} s")
    return 1 if RESULTS.failed else 0


if __name__ == "__main__":
    sys.exit(main())
