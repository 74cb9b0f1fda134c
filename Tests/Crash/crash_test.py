#!/usr/bin/env python3
"""Crash test for `lora-squeeze serve`: does every acknowledged write survive a SIGKILL?

    python3 Tests/Crash/crash_test.py --binary PATH --cycles N [--seed S] [--work DIR] [--keep]
                                      [--bitflip] [--diskfull] [--kill-min 0.05] [--kill-max 1.0]

What it does
  setup     writes 12 small PEFT adapters (numpy + safetensors, 0.5-4 MiB, distinct seeds), starts the
            server on a fresh data directory (`--port 0`, the port read from its log) and uploads 6.
  a cycle   6 client threads (each from its own 127.0.0.x) run a random mix against the server:
            uploads (new and again), squeezes (exact, ranks 1-8), tag moves, tag deletes, adapter
            deletes, normalize jobs, listings. A response received in full with a 2xx is an
            acknowledged operation and is recorded with what it acknowledged (digest, sha256 and ETag
            of the squeezed bytes, name -> adapter, job id). After a random delay (uniform in
            [--kill-min, --kill-max] s) the server gets SIGKILL; requests then in flight have an
            unknown outcome (either result is accepted). The server is restarted on the same data
            directory and checked:
              - tmp/ holds no file older than the restart (what the killed process left was removed);
              - every acknowledged, not later deleted adapter is listed, and every listed adapter is
                one we uploaded (acked or in flight) and not deleted (acked) since;
              - every listed adapter's files download completely, their sha256 equals the ETag and
                what was served right after the upload's acknowledgement (weights: what we uploaded),
                and the weights parse with safetensors;
              - every tag resolves to the acknowledged adapter (or to an in-flight move's);
              - acknowledged squeezes (this cycle's, and a sample of older ones) download again with
                the same sha256 (from the cache, or recomputed: the exact method is deterministic);
              - every acknowledged job exists and finishes (succeeded, or failed only if one of its
                adapters was deleted meanwhile) within --job-timeout seconds.
            What is observed then becomes the expectation: state accumulates over the cycles.
  every 10 cycles and at the end: SIGTERM (exit 0 expected), PRAGMA integrity_check = ok,
            PRAGMA foreign_key_check = no rows, every `blobs` row has its file (and no file without a
            row: a warning), `scrub --data DIR` exits 0.
  bit-flip  (by default at the end, or alone with --bitflip): one byte in the middle of an adapter's
            weights blob and one in a cached squeezed weights blob are changed with the server
            stopped; after a start, the original file, the squeezed file, its .tar, a fresh squeeze and
            a fresh .tar must never be 200 with wrong bytes, and should be 500 problems whose type ends
            in `blob-damaged`; both damaged blobs must then be in quarantine/ (gone from blobs/), and
            `scrub` must exit 2 naming the adapter's (on record as damaged). The adapter is then
            uploaded again, which repairs it: its files and squeezes download intact, scrub exits 0.
  disk-full (by default at the end, or alone with --diskfull; needs root and tmpfs): the server on a
            48 MiB tmpfs with --min-free-disk 0. (1) uploads until the first 507; (2) a delete, then
            an upload must succeed; (3) a filler file takes the last byte: squeeze, tag move, tag
            delete, normalize, upload, adapter delete; the filler goes, a delete and an upload must
            succeed; (4) rounds of three concurrent uploads each sized to 60 % of the free space (each
            passes the Content-Length check, together they hit ENOSPC mid-write). Every answer must be
            2xx or 507 `insufficient-storage` (never 500); after each phase tmp/ is empty, /healthz
            answers and every stored adapter downloads intact; at the end (SIGTERM) the SQLite checks,
            no blob file without a row (a 507 must leave nothing behind), and scrub. A 507 to an
            adapter DELETE on a disk full to the byte is a WARN (space cannot be freed by the API).

Authentication
  The server runs with authentication on (its default). main() makes one admin token with
  `BINARY token generate` (a fresh `lsq_…`, recorded nowhere) and every server start gets it in
  LORA_SQUEEZE_ADMIN_TOKEN: the first start installs it in the catalog as an unlimited admin token,
  later starts on the same data directory find it there. Every request carries
  `Authorization: Bearer <token>` (also to the open /healthz and /readyz, which ignore it).

How to read the output
  One line per cycle: the kill moment, operations acknowledged / unknown outcome / refused (4xx/5xx,
  or not sent), what was verified. Every failed check is one line `FAIL [cycle N] <kind>: <what>`
  as it happens; kinds starting with `lost-` are acknowledged operations whose effect was not found
  (or a deleted adapter that came back): a durability bug. `WARN` lines are suspicious but tolerated.
  At the end: the failures grouped by kind, then one summary line (cycles, acknowledged, lost, kill
  moments, time). Exit 0 when every check passed, 1 otherwise. Reproduce with the printed --seed (the
  thread interleaving differs run to run) and --keep, which keeps the work directory with the data
  directory and every server log (logs/server-NNN.log).
"""

import argparse
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save_file

MiB = 1 << 20
HOST = "127.0.0.1"
BOUNDARY = "crashtestboundary5b1e0d"
NAMES = [f"crash-{c}" for c in "abcdef"]
N_FIXTURES = 12          # adapters the cycles use
N_SETUP = 6              # of which uploaded at setup
WORKERS = 6
SQUEEZE_RANKS = range(1, 9)
LOST_KINDS_PREFIX = "lost-"
TOKEN = None             # the admin token (main(): `BINARY token generate`); sent on every request


# ---------------------------------------------------------------------------------------------
# Reporting

class Report:
    def __init__(self):
        self.lock = threading.Lock()
        self.failures = []          # (cycle, kind, message)
        self.warnings = []
        self.cycle = "setup"

    PRINTED_PER_KIND = 5

    def fail(self, kind, message):
        with self.lock:
            self.failures.append((self.cycle, kind, message))
            n = sum(1 for _, k, _ in self.failures if k == kind)
            if n <= self.PRINTED_PER_KIND:
                print(f"FAIL [cycle {self.cycle}] {kind}: {message}", flush=True)
            if n == self.PRINTED_PER_KIND:
                print(f"     (further {kind} failures are counted, not printed)", flush=True)

    def warn(self, kind, message):
        with self.lock:
            self.warnings.append((self.cycle, kind, message))
            print(f"WARN [cycle {self.cycle}] {kind}: {message}", flush=True)

    def lost(self):
        return sum(1 for _, k, _ in self.failures if k.startswith(LOST_KINDS_PREFIX))


REPORT = Report()


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# HTTP/1.1 on raw sockets: one request per connection, so a kill is seen exactly per request.

class Resp:
    __slots__ = ("status", "headers", "body", "error", "phase", "t0", "t1")

    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.error = None
        self.phase = "connect"   # where it failed: connect (nothing reached the server), send, recv
        self.t0 = self.t1 = 0.0

    @property
    def complete(self):
        return self.status is not None and self.error is None

    def etag(self):
        return self.headers.get("etag", "").strip('"')

    def problem_type(self):
        try:
            return json.loads(self.body).get("type", "")
        except (ValueError, AttributeError):
            return ""

    def json(self):
        return json.loads(self.body)

    def describe(self):
        if self.error:
            return f"no response ({self.error}, during {self.phase})"
        text = self.body[:300].decode("utf-8", "replace") if self.headers.get("content-type", "").endswith("json") else f"{len(self.body)} bytes"
        return f"{self.status} {text}"


def request(port, method, target, body=b"", headers=(), src=HOST, timeout=60.0):
    r = Resp()
    r.t0 = time.monotonic()
    s = None
    try:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close", "User-Agent: crash_test.py"]
        if TOKEN:
            lines.append(f"Authorization: Bearer {TOKEN}")
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        lines += list(headers)
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.bind((src, 0))
        s.connect((HOST, port))
        r.phase = "send"
        send_error = None
        try:
            s.sendall(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                s.sendall(body)
        except OSError as e:   # the server may answer (413, 507) and close before reading the body
            send_error = e
        r.phase = "recv"
        raw = bytearray()
        while True:
            end = raw.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed before a response head" + (f" (send failed: {send_error})" if send_error else ""))
            raw += chunk
        head_lines = bytes(raw[:end]).decode("latin-1").split("\r\n")
        status = int(head_lines[0].split(" ", 2)[1])
        hdrs = {}
        for line in head_lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        r.headers = hdrs
        data = bytearray(raw[end + 4:])
        expected = int(hdrs["content-length"]) if "content-length" in hdrs else None
        if method == "HEAD" or status in (204, 304):
            expected = 0
        while expected is None or len(data) < expected:
            chunk = s.recv(1 << 20)
            if not chunk:
                if expected is None:
                    break
                raise ConnectionError(f"closed after {len(data)} of {expected} body bytes")
            data += chunk
        r.body = bytes(data)
        r.status = status
    except Exception as e:  # noqa: BLE001 — a transport failure is an outcome, not a crash
        r.error = "timeout" if isinstance(e, socket.timeout) else f"{type(e).__name__}: {e}"
    finally:
        if s is not None:
            s.close()
        r.t1 = time.monotonic()
    return r


def sha(b):
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------------------------------------
# Fixtures

class Fixture:
    def __init__(self, index, directory, seed, target_bytes):
        rng = np.random.default_rng(seed)
        hidden = int(rng.choice([512, 1024]))
        r = int(rng.choice([8, 16, 32]))
        per_layer = r * 2 * hidden * 4
        layers = max(1, round(target_bytes / per_layer))
        decay = np.exp(-np.arange(r) / 4.0).astype(np.float32)
        tensors = {}
        for i in range(layers):
            p = f"base_model.model.model.layers.{i}.self_attn.q_proj"
            a = rng.standard_normal((r, hidden), dtype=np.float32) * np.float32(1 / np.sqrt(hidden))
            tensors[p + ".lora_A.weight"] = a * decay[:, None]
            tensors[p + ".lora_B.weight"] = rng.standard_normal((hidden, r), dtype=np.float32) * np.float32(0.02)
        os.makedirs(directory, exist_ok=True)
        save_file(tensors, os.path.join(directory, "adapter_model.safetensors"))
        config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": 2 * r,
                  "target_modules": ["q_proj"], "base_model_name_or_path": "crash-test/model",
                  "crash_test_seed": seed}
        with open(os.path.join(directory, "adapter_config.json"), "w") as f:
            json.dump(config, f)
        self.index, self.dir, self.rank, self.layers, self.hidden = index, directory, r, layers, hidden
        with open(os.path.join(directory, "adapter_config.json"), "rb") as f:
            self.config = f.read()
        with open(os.path.join(directory, "adapter_model.safetensors"), "rb") as f:
            self.weights = f.read()
        self.weights_sha = sha(self.weights)
        self.body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"adapter_config.json\"; filename=\"adapter_config.json\"\r\n"
                     f"Content-Type: application/json\r\n\r\n").encode() + self.config + (
            f"\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"adapter_model.safetensors\"; "
            f"filename=\"adapter_model.safetensors\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() + self.weights + (
            f"\r\n--{BOUNDARY}--\r\n").encode()


def upload(port, fx, name=None, src=HOST, timeout=60.0):
    return request(port, "POST", "/v1/adapters" + (f"?name={name}" if name else ""), body=fx.body,
                   headers=[f"Content-Type: multipart/form-data; boundary={BOUNDARY}"], src=src, timeout=timeout)


def squeeze_target(digest, rank, tar=False):
    if tar:
        return f"/v1/adapters/{digest}/squeezed/{rank}.tar?method=exact"
    return f"/v1/adapters/{digest}/squeezed/{rank}/adapter_model.safetensors?method=exact"


# ---------------------------------------------------------------------------------------------
# The server process

class Server:
    def __init__(self, binary, data, logdir, extra=(), tag="server"):
        self.binary, self.data, self.logdir, self.extra, self.tag = binary, data, logdir, list(extra), tag
        self.proc = None
        self.port = None
        self.count = 0
        self.spawned_at = 0.0      # wall clock, for tmp/ file ages
        self.log_path = None

    def start(self, timeout=30.0):
        self.count += 1
        self.log_path = os.path.join(self.logdir, f"{self.tag}-{self.count:03d}.log")
        logf = open(self.log_path, "wb")
        self.spawned_at = time.time()
        # No drain delay: nothing balances load in front of it, and a SIGTERM should stop it at once.
        # The admin token seed: installed at the first start, found in the catalog at every later one.
        env = {**os.environ, "LORA_SQUEEZE_ADMIN_TOKEN": TOKEN} if TOKEN else None
        self.proc = subprocess.Popen([self.binary, "serve", "--host", HOST, "--port", "0", "--data", self.data,
                                      "--drain-delay", "0", *self.extra], stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env)
        logf.close()
        deadline = time.monotonic() + timeout
        self.port = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode} at start; log {self.log_path}:\n" + self.tail())
            if self.port is None:
                with open(self.log_path, "rb") as f:
                    m = re.search(rb"listening on http://[^\s]*:(\d+)", f.read())
                if m:
                    self.port = int(m.group(1))
            if self.port is not None:
                r = request(self.port, "GET", "/readyz", timeout=2)
                if r.status == 200:
                    return
            time.sleep(0.005)
        raise RuntimeError(f"the server was not ready within {timeout} s; log {self.log_path}:\n" + self.tail())

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self, timeout=20.0):
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.proc = None
        return code

    def tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# What the server acknowledged: the expectations

class FixtureState:
    def __init__(self, fx):
        self.fx = fx
        self.digest = None          # learnt from the first acknowledged upload (or the listing)
        self.config_sha = None      # sha256 of adapter_config.json as the server served it
        self.present = {False}      # possible states: {True}, {False} or both (an in-flight upload/delete)
        self.deletes = 0            # delete attempts started (jobs may fail after one)
        self.deleting = False       # a delete is in flight
        self.lock = threading.Lock()

    def delete_epoch(self):
        """Deletes started, counting one in flight as not yet started (it may still take effect)."""
        return self.deletes - (1 if self.deleting else 0)


class Model:
    def __init__(self, fixtures):
        self.lock = threading.RLock()
        self.fx = [FixtureState(f) for f in fixtures]
        self.names = {n: {None} for n in NAMES}            # name -> possible fixture indices (None: absent)
        self.name_locks = {n: threading.Lock() for n in NAMES}
        self.squeezes = {}                                  # (fixture, rank) -> sha256 of the squeezed weights
        self.squeezes_this_cycle = set()
        self.jobs = []                                      # dicts: id, fixtures, rank, deletes, done
        self.counts = {"acked": 0, "unknown": 0, "refused": 0, "notsent": 0}
        self.kinds = {}

    def by_digest(self, digest):
        for s in self.fx:
            if s.digest == digest:
                return s
        return None

    def count(self, kind, outcome):
        with self.lock:
            self.counts[outcome] += 1
            k = self.kinds.setdefault(kind, {"acked": 0, "unknown": 0, "refused": 0, "notsent": 0})
            k[outcome] += 1


def try_locks(locks):
    got = []
    for l in locks:
        if l.acquire(blocking=False):
            got.append(l)
        else:
            for g in got:
                g.release()
            return None
    return got


# ---------------------------------------------------------------------------------------------
# The workload

class Workload:
    def __init__(self, model, port, seed, kill_monotonic):
        self.m, self.port, self.seed = model, port, seed
        self.stop = threading.Event()
        self.kill_at = kill_monotonic   # set by the main thread just before SIGKILL (list of one float)

    def classify(self, r, kind, what, raced=None):
        """acked / refused / notsent / unknown; reports server errors and transport errors before the kill.
        `raced`: a callable telling whether a delete of the adapter ran during the request."""
        if r.complete:
            if 200 <= r.status < 300:
                return "acked"
            if r.status >= 500 and r.status not in (503, 507):
                if raced is not None and raced():
                    REPORT.fail("delete-race-500", f"{kind} {what} while the adapter was being deleted: {r.describe()} (expected 404)")
                else:
                    REPORT.fail("server-error", f"{kind} {what}: {r.describe()}")
                return "unknown"
            return "refused"
        if r.phase == "connect":
            return "notsent"
        if self.kill_at[0] is None or r.t1 < self.kill_at[0]:
            REPORT.fail("transport-error", f"{kind} {what}: {r.describe()} while the server was running")
        return "unknown"

    def run(self, w):
        rng = random.Random(self.seed * 1000 + w)
        src = f"127.0.0.{10 + w}"
        ops = [(self.op_upload, 25), (self.op_squeeze, 33), (self.op_name_put, 14), (self.op_name_delete, 5),
               (self.op_adapter_delete, 8), (self.op_normalize, 8), (self.op_list, 7)]
        funcs = [o for o, _ in ops]
        weights = [w_ for _, w_ in ops]
        while not self.stop.is_set():
            op = rng.choices(funcs, weights)[0]
            try:
                if not op(rng, src):
                    time.sleep(0.002)
            except Exception as e:  # noqa: BLE001 — a bug of this test (or an unparsable answer): say so, go on
                import traceback
                REPORT.fail("client-exception", f"{op.__name__}: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
                time.sleep(0.01)

    # Each op returns False when it could not run (a resource busy, nothing suitable).

    def op_upload(self, rng, src):
        m = self.m
        s = rng.choice(m.fx)
        name = rng.choice(NAMES) if rng.random() < 0.4 else None
        locks = try_locks([s.lock] + ([m.name_locks[name]] if name else []))
        if locks is None:
            return False
        try:
            with m.lock:
                before = set(s.present)
            r = upload(self.port, s.fx, name, src)
            outcome = self.classify(r, "upload", f"of adapter #{s.fx.index}" + (f" ?name={name}" if name else ""))
            m.count("upload", outcome)
            with m.lock:
                if outcome == "acked":
                    digest = r.json().get("digest")
                    if s.digest is not None and digest != s.digest:
                        REPORT.fail("wrong-digest", f"adapter #{s.fx.index} uploaded again got digest {digest}, first {s.digest}")
                    s.digest = digest
                    if before == {True} and r.status == 201:
                        REPORT.fail("lost-adapter", f"upload of adapter #{s.fx.index} ({digest[:12]}) answered 201 (new) but it was acknowledged as stored")
                    if before == {False} and r.status == 200:
                        REPORT.fail("lost-delete" if s.deletes else "unexpected-adapter",
                                    f"upload of adapter #{s.fx.index} ({digest[:12]}) answered 200 (already stored) but "
                                    + ("its delete was acknowledged" if s.deletes else "it was never stored"))
                    s.present = {True}
                    if name:
                        m.names[name] = {s.fx.index}
                elif outcome == "unknown":
                    s.present.add(True)
                    if name:
                        m.names[name].add(s.fx.index)
        finally:
            for l in locks:
                l.release()
        if outcome == "acked" and s.config_sha is None:
            self.fetch_files(s, src)
        return True

    def fetch_files(self, s, src):
        """Downloads an acknowledged adapter's files once: the config as the server stores it, the weights as uploaded."""
        c = request(self.port, "GET", f"/v1/adapters/{s.digest}/files/adapter_config.json", src=src)
        w = request(self.port, "GET", f"/v1/adapters/{s.digest}/files/adapter_model.safetensors", src=src)
        if c.status == 200 and w.status == 200:
            if sha(c.body) != c.etag():
                REPORT.fail("etag-mismatch", f"adapter_config.json of {s.digest[:12]}: sha256 {sha(c.body)[:12]}, ETag {c.etag()[:12]}")
            if sha(w.body) != s.fx.weights_sha:
                REPORT.fail("wrong-bytes", f"adapter_model.safetensors of {s.digest[:12]} differs from what was uploaded")
            with self.m.lock:
                if s.config_sha is None:
                    s.config_sha = sha(c.body)

    def op_squeeze(self, rng, src):
        m = self.m
        with m.lock:
            known = [s for s in m.fx if s.digest is not None and True in s.present]
            if not known:
                return False
            s = rng.choice(known)
            sure, deletes, deleting = s.present == {True} and not s.deleting, s.deletes, s.deleting
        rank = rng.choice(SQUEEZE_RANKS)
        r = request(self.port, "GET", squeeze_target(s.digest, rank), src=src)
        outcome = self.classify(r, "squeeze", f"of #{s.fx.index} ({s.digest[:12]}) at rank {rank}",
                                raced=lambda: deleting or s.deleting or s.deletes != deletes)
        m.count("squeeze", outcome)
        if outcome == "acked":
            got = sha(r.body)
            if got != r.etag():
                REPORT.fail("etag-mismatch", f"squeeze of {s.digest[:12]} at rank {rank}: sha256 {got[:12]}, ETag {r.etag()[:12]}")
            try:
                st_load(r.body)
            except Exception as e:  # noqa: BLE001
                REPORT.fail("unparsable", f"squeeze of {s.digest[:12]} at rank {rank} does not parse: {e}")
            with m.lock:
                old = m.squeezes.get((s.fx.index, rank))
                if old is not None and old != got:
                    REPORT.fail("lost-squeeze", f"squeeze of {s.digest[:12]} at rank {rank} is {got[:12]}, acknowledged before as {old[:12]}")
                m.squeezes[(s.fx.index, rank)] = got
                m.squeezes_this_cycle.add((s.fx.index, rank))
        elif r.status == 404:
            with m.lock:
                if sure and s.deletes == deletes and s.present == {True}:
                    REPORT.fail("lost-adapter", f"squeeze of acknowledged adapter {s.digest[:12]} answered 404: {r.describe()}")
        return True

    def op_name_put(self, rng, src):
        m = self.m
        name = rng.choice(NAMES)
        with m.lock:
            known = [s for s in m.fx if s.digest is not None]
        if not known:
            return False
        s = rng.choice(known)
        locks = try_locks([m.name_locks[name], s.lock])
        if locks is None:
            return False
        try:
            with m.lock:
                before = set(s.present)
            r = request(self.port, "PUT", f"/v1/names/{name}", body=json.dumps({"adapter": s.digest}).encode(),
                        headers=["Content-Type: application/json"], src=src)
            outcome = self.classify(r, "tag move", f"{name} -> {s.digest[:12]}")
            m.count("tag-move", outcome)
            with m.lock:
                if outcome == "acked":
                    if before == {False}:
                        REPORT.fail("lost-delete", f"PUT /v1/names/{name} -> {s.digest[:12]} answered {r.status}, but the adapter's delete was acknowledged")
                    m.names[name] = {s.fx.index}
                    s.present = {True}
                elif outcome == "unknown":
                    m.names[name].add(s.fx.index)
                elif r.status == 404 and before == {True}:
                    REPORT.fail("lost-adapter", f"PUT /v1/names/{name} -> acknowledged adapter {s.digest[:12]} answered 404: {r.describe()}")
        finally:
            for l in locks:
                l.release()
        return True

    def op_name_delete(self, rng, src):
        m = self.m
        name = rng.choice(NAMES)
        locks = try_locks([m.name_locks[name]])
        if locks is None:
            return False
        try:
            r = request(self.port, "DELETE", f"/v1/names/{name}", src=src)
            outcome = self.classify(r, "tag delete", name)
            m.count("tag-delete", outcome)
            with m.lock:
                if outcome == "acked" or r.status == 404:   # either way it is gone now (nothing else moves it)
                    m.names[name] = {None}
                elif outcome == "unknown":
                    m.names[name].add(None)
        finally:
            for l in locks:
                l.release()
        return True

    def op_adapter_delete(self, rng, src):
        m = self.m
        with m.lock:
            known = [s for s in m.fx if s.digest is not None]
            present = sum(1 for s in m.fx if s.present == {True})
        if not known or present < 3:
            return False
        s = rng.choice(known)
        locks = try_locks([s.lock])
        if locks is None:
            return False
        try:
            with m.lock:
                before = set(s.present)
                s.deletes += 1
                s.deleting = True
            r = request(self.port, "DELETE", f"/v1/adapters/{s.digest}", src=src)
            outcome = self.classify(r, "adapter delete", s.digest[:12])
            m.count("adapter-delete", outcome)
            with m.lock:
                s.deleting = False
                if outcome == "acked" or r.status == 404:
                    if outcome == "acked" and before == {False}:
                        REPORT.fail("lost-delete", f"DELETE of {s.digest[:12]} answered 200, but its earlier delete was acknowledged")
                    if r.status == 404 and before == {True}:
                        REPORT.fail("lost-adapter", f"DELETE of acknowledged adapter {s.digest[:12]} answered 404")
                    s.present = {False}
                    for n, vals in m.names.items():
                        if s.fx.index in vals:
                            vals.discard(s.fx.index)
                            vals.add(None)
                elif outcome == "unknown":
                    s.present.add(False)
                    for n, vals in m.names.items():
                        if s.fx.index in vals:
                            vals.add(None)
        finally:
            for l in locks:
                l.release()
        return True

    def op_normalize(self, rng, src):
        m = self.m
        with m.lock:
            known = [s for s in m.fx if s.digest is not None and True in s.present]
            if not known:
                return False
            chosen = rng.sample(known, min(len(known), rng.randint(1, 3)))
            snapshot = {s.fx.index: s.delete_epoch() for s in chosen}
        rank = rng.choice(SQUEEZE_RANKS)
        r = request(self.port, "POST", "/v1/normalize",
                    body=json.dumps({"adapters": [s.digest for s in chosen], "rank": rank, "method": "exact"}).encode(),
                    headers=["Content-Type: application/json"], src=src)
        outcome = self.classify(r, "normalize", f"rank {rank} of {len(chosen)} adapters")
        m.count("normalize", outcome)
        if outcome == "acked":
            if r.status != 202:
                REPORT.fail("protocol", f"POST /v1/normalize answered {r.status}, not 202")
            with m.lock:
                m.jobs.append({"id": r.json()["id"], "fixtures": snapshot, "rank": rank, "done": False, "cycle": REPORT.cycle})
        return True

    def op_list(self, rng, src):
        r = request(self.port, "GET", f"/v1/adapters?limit={rng.randint(1, 20)}&offset={rng.randint(0, 6)}", src=src)
        outcome = self.classify(r, "list", "")
        self.m.count("list", outcome)
        if outcome == "acked":
            try:
                r.json()["items"]
            except (ValueError, KeyError) as e:
                REPORT.fail("protocol", f"GET /v1/adapters: not an adapter page: {e}")
        return True


# ---------------------------------------------------------------------------------------------
# Checks after a restart

def leftover_tmp(data, before):
    """Files in tmp/ last modified before `before` (wall clock): what a killed process left."""
    tmp = os.path.join(data, "tmp")
    out = []
    for name in os.listdir(tmp):
        try:
            st = os.stat(os.path.join(tmp, name))
        except FileNotFoundError:
            continue
        if st.st_mtime < before:
            out.append(f"{name} ({st.st_size} bytes)")
    return out


def list_all(port):
    items, offset = [], 0
    while offset is not None:
        r = request(port, "GET", f"/v1/adapters?limit=1000&offset={offset}", src="127.0.0.2")
        if r.status != 200:
            raise RuntimeError(f"GET /v1/adapters: {r.describe()}")
        page = r.json()
        items += page["items"]
        offset = page.get("nextOffset")
    return items


def get_retrying(port, target, tries=40):
    """GET from the verifier, retrying 429/503 (the queue) a few times."""
    for _ in range(tries):
        r = request(port, "GET", target, src="127.0.0.2")
        if r.status not in (429, 503):
            return r
        time.sleep(0.1)
    return r


def verify(model, server, rng, args, all_jobs=True):
    """Checks the restarted server against the acknowledged operations; then adopts what it sees."""
    m, port = model, server.port
    stats = {"adapters": 0, "names": 0, "squeezes": 0, "jobs": 0}
    left = leftover_tmp(server.data, server.spawned_at)
    if left:
        REPORT.fail("tmp-leftover", f"tmp/ still holds files from before the restart: {', '.join(left[:5])}")
    items = list_all(port)
    listed = {}
    observed_names = {}
    for item in items:
        digest = item["digest"]
        s = m.by_digest(digest)
        w = request(port, "GET", f"/v1/adapters/{digest}/files/adapter_model.safetensors", src="127.0.0.2")
        c = request(port, "GET", f"/v1/adapters/{digest}/files/adapter_config.json", src="127.0.0.2")
        if w.status != 200 or c.status != 200:
            REPORT.fail("half-written", f"listed adapter {digest[:12]} does not download: weights {w.describe()}, config {c.describe()}")
            continue
        wsha, csha = sha(w.body), sha(c.body)
        if wsha != w.etag() or csha != c.etag():
            REPORT.fail("etag-mismatch", f"adapter {digest[:12]}: weights sha {wsha[:12]} ETag {w.etag()[:12]}, config sha {csha[:12]} ETag {c.etag()[:12]}")
        try:
            st_load(w.body)
        except Exception as e:  # noqa: BLE001
            REPORT.fail("half-written", f"listed adapter {digest[:12]}: weights do not parse: {e}")
        if s is None:   # an upload whose acknowledgement never came: find which fixture it is
            s = next((x for x in m.fx if x.fx.weights_sha == wsha and x.digest is None), None)
            if s is None or True not in s.present:
                REPORT.fail("unexpected-adapter", f"listed adapter {digest[:12]} is none we uploaded (weights sha {wsha[:12]})")
                continue
            s.digest = digest
        if wsha != s.fx.weights_sha:
            REPORT.fail("wrong-bytes", f"adapter #{s.fx.index} ({digest[:12]}) weights differ from what was uploaded")
        if s.config_sha is None:
            s.config_sha = csha
        elif csha != s.config_sha:
            REPORT.fail("wrong-bytes", f"adapter #{s.fx.index} ({digest[:12]}) adapter_config.json differs from what was served after its upload")
        if True not in s.present:
            REPORT.fail("lost-delete", f"adapter #{s.fx.index} ({digest[:12]}) is listed but its delete was acknowledged")
        listed[s.fx.index] = item
        for n in item.get("names", []):
            if n in observed_names:
                REPORT.fail("protocol", f"name {n} listed on two adapters")
            observed_names[n] = s.fx.index
    stats["adapters"] = len(listed)
    for s in m.fx:
        if s.present == {True} and s.fx.index not in listed:
            r = request(port, "GET", f"/v1/adapters/{s.digest}", src="127.0.0.2")
            REPORT.fail("lost-adapter", f"acknowledged adapter #{s.fx.index} ({s.digest[:12]}) is not listed after the restart (GET: {r.status})")
        s.present = {s.fx.index in listed}
    for n in set(observed_names) - set(NAMES):
        REPORT.fail("unexpected-name", f"name {n} was never used by the test")
    for n in NAMES:
        got = observed_names.get(n)
        if got not in m.names[n]:
            want = ", ".join("absent" if v is None else f"#{v} ({m.fx[v].digest[:12] if m.fx[v].digest else '?'})" for v in m.names[n])
            have = "absent" if got is None else f"#{got} ({m.fx[got].digest[:12]})"
            REPORT.fail("lost-tag", f"name {n} is {have}; acknowledged: {want}")
        m.names[n] = {got}
        stats["names"] += got is not None

    # Squeezes: this cycle's, and a sample of older ones, of adapters that are stored.
    keys = [k for k in m.squeezes if k[0] in listed]
    fresh = [k for k in keys if k in m.squeezes_this_cycle]
    older = [k for k in keys if k not in m.squeezes_this_cycle]
    for k in fresh + rng.sample(older, min(len(older), args.old_squeezes)):
        s = m.fx[k[0]]
        r = get_retrying(port, squeeze_target(s.digest, k[1]))
        stats["squeezes"] += 1
        if r.status != 200:
            REPORT.fail("lost-squeeze", f"squeeze of #{k[0]} ({s.digest[:12]}) at rank {k[1]}: {r.describe()}")
        elif sha(r.body) != m.squeezes[k]:
            REPORT.fail("lost-squeeze", f"squeeze of #{k[0]} ({s.digest[:12]}) at rank {k[1]} is {sha(r.body)[:12]}, acknowledged as {m.squeezes[k][:12]}")
        elif r.etag() != m.squeezes[k]:
            REPORT.fail("etag-mismatch", f"squeeze of {s.digest[:12]} at rank {k[1]}: ETag {r.etag()[:12]}")
    m.squeezes_this_cycle.clear()

    # Jobs: every acknowledged one exists; the unfinished ones must finish.
    deadline = time.monotonic() + args.job_timeout
    finished = [j for j in m.jobs if j["done"]]
    jobs = m.jobs if all_jobs else [j for j in m.jobs if not j["done"]] + rng.sample(finished, min(len(finished), 20))
    for job in jobs:
        stats["jobs"] += 1
        while True:
            r = request(port, "GET", f"/v1/jobs/{job['id']}", src="127.0.0.2")
            if r.status != 200:
                REPORT.fail("lost-job", f"acknowledged job {job['id']} (cycle {job['cycle']}): {r.describe()}")
                job["done"] = True
                break
            state = r.json()["state"]
            if job["done"] or state in ("succeeded", "failed"):
                if state == "failed" and not job["done"]:
                    deleted = any(m.fx[i].deletes > n for i, n in job["fixtures"].items())
                    if not deleted:
                        REPORT.fail("job-failed", f"job {job['id']} failed though none of its adapters was deleted: {r.body[:300]!r}")
                if job["done"] and state not in ("succeeded", "failed"):
                    REPORT.fail("lost-job", f"job {job['id']} was finished and is {state} now")
                job["done"] = True
                break
            if time.monotonic() > deadline:
                REPORT.fail("job-stuck", f"job {job['id']} is still {state} {args.job_timeout} s after the restart")
                job["done"] = True
                break
            time.sleep(0.02)
    return stats


def integrity(binary, data, what, orphans_fail=False):
    """With the server stopped: SQLite integrity, foreign keys, blobs rows vs files, scrub."""
    db = os.path.join(data, "catalog.sqlite")
    con = sqlite3.connect(db)
    try:
        res = [r[0] for r in con.execute("PRAGMA integrity_check")]
        if res != ["ok"]:
            REPORT.fail("sqlite-integrity", f"{what}: PRAGMA integrity_check: {res[:5]}")
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            REPORT.fail("sqlite-foreign-keys", f"{what}: PRAGMA foreign_key_check: {fk[:5]}")
        rows = {r[0] for r in con.execute("SELECT digest FROM blobs")}
    finally:
        con.close()
    files = set()
    blobs = os.path.join(data, "blobs")
    for shard in os.listdir(blobs):
        for name in os.listdir(os.path.join(blobs, shard)):
            files.add(shard + name)
    if rows - files:
        REPORT.fail("missing-blob", f"{what}: blobs rows without a file: {sorted(rows - files)[:3]}")
    if files - rows:
        orphans = ", ".join(f"{d[:12]} ({os.path.getsize(os.path.join(blobs, d[:2], d[2:]))} bytes)" for d in sorted(files - rows)[:4])
        (REPORT.fail if orphans_fail else REPORT.warn)("orphan-blob", f"{what}: {len(files - rows)} blob file(s) no row refers to (removed at the next start): {orphans}")
    p = subprocess.run([binary, "scrub", "--data", data], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        REPORT.fail("scrub", f"{what}: scrub exited {p.returncode}: {(p.stdout + p.stderr)[-400:]}")


# ---------------------------------------------------------------------------------------------
# The crash cycles

def inject_loss(data, model):
    """Self-check of this test (--inject-loss): forgets an acknowledged adapter and tag behind the
    server's back, as a broken commit would; the run must then report lost-adapter and lost-tag."""
    sure = [s for s in model.fx if s.present == {True}]
    named = [n for n, v in model.names.items() if len(v) == 1 and None not in v]
    con = sqlite3.connect(os.path.join(data, "catalog.sqlite"))
    with con:
        if sure:
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("DELETE FROM adapters WHERE digest = ?", (sure[-1].digest,))
        if named:
            con.execute("DELETE FROM names WHERE name = ?", (named[0],))
    con.close()
    log(f"injected a loss: adapter {sure[-1].digest[:12] if sure else '-'} and name {named[0] if named else '-'} removed from the catalog")


def run_cycles(args, binary, work, fixtures, model):
    data = os.path.join(work, "data")
    logs = os.path.join(work, "logs")
    server = Server(binary, data, logs)
    server.start()
    log(f"server: {binary} serve --host {HOST} --port 0 --data {data} (port {server.port})")
    for s in model.fx[:N_SETUP]:
        name = NAMES[s.fx.index] if s.fx.index < 4 else None
        r = upload(server.port, s.fx, name)
        if r.status != 201:
            raise RuntimeError(f"setup upload of adapter #{s.fx.index}: {r.describe()}")
        s.digest, s.present = r.json()["digest"], {True}
        if name:
            model.names[name] = {s.fx.index}
        Workload(model, server.port, 0, [None]).fetch_files(s, HOST)
    log(f"setup: uploaded {N_SETUP} of {N_FIXTURES} adapters "
        f"({', '.join(f'{len(f.weights) / MiB:.1f}' for f in fixtures)} MiB)")
    kills = []
    rng = random.Random(args.seed)
    for cycle in range(1, args.cycles + 1):
        REPORT.cycle = cycle
        t0 = time.monotonic()
        if not server.alive():
            server.start()
        before = dict(model.counts)
        kill_at = [None]
        load = Workload(model, server.port, args.seed * 100003 + cycle, kill_at)
        threads = [threading.Thread(target=load.run, args=(w,), daemon=True) for w in range(WORKERS)]
        for t in threads:
            t.start()
        delay = rng.uniform(args.kill_min, args.kill_max)
        time.sleep(delay)
        kills.append(delay)
        if not server.alive():
            REPORT.fail("server-died", f"the server exited by itself with {server.proc.returncode}; log {server.log_path}:\n{server.tail()}")
        load.stop.set()
        kill_at[0] = time.monotonic()
        if server.alive():
            server.kill()
        for t in threads:
            t.join(timeout=60)
            if t.is_alive():
                REPORT.fail("client-stuck", "a client thread did not finish after the kill")
        if args.inject_loss and cycle == 2:
            inject_loss(data, model)
        server.start()
        stats = verify(model, server, rng, args, all_jobs=cycle % 10 == 0 or cycle == args.cycles)
        d = {k: model.counts[k] - before[k] for k in before}
        line = (f"cycle {cycle}: kill at {delay:.2f} s; acked {d['acked']}, unknown {d['unknown']}, "
                f"refused {d['refused']}, not sent {d['notsent']}; verified {stats['adapters']} adapters, "
                f"{stats['names']} tags, {stats['squeezes']} squeezes, {stats['jobs']} jobs")
        if cycle % 10 == 0 or cycle == args.cycles:
            code = server.stop()
            if code != 0:
                REPORT.fail("shutdown", f"SIGTERM: the server exited with {code}; log {server.log_path}")
            integrity(binary, data, f"after cycle {cycle}")
            line += "; stopped (SIGTERM), integrity + scrub checked"
        log(line + f" ({time.monotonic() - t0:.2f} s)")
    if server.alive():
        server.stop()
    return server, kills


# ---------------------------------------------------------------------------------------------
# Bit flip

def expect_damaged(what, r, good_sha=None, etag_sha=None):
    """A response for damaged stored bytes: never 200 with bytes that differ from what it claims."""
    if r.status == 200:
        got = sha(r.body)
        if etag_sha is not None and got != etag_sha:
            REPORT.fail("bitflip-served-damaged", f"{what}: 200 with bytes whose sha256 {got[:12]} differs from the ETag/digest {etag_sha[:12]}")
        elif good_sha is not None and got != good_sha:
            REPORT.fail("bitflip-served-damaged", f"{what}: 200 computed from the damaged bytes (sha256 {got[:12]}, the intact adapter gives {good_sha[:12]})")
        else:
            REPORT.fail("bitflip-not-detected", f"{what}: 200 (bytes are right, but the damage went unreported)")
        return
    t = r.problem_type()
    if r.status == 500 and t.endswith("blob-damaged"):
        return
    REPORT.fail("bitflip-wrong-answer", f"{what}: expected 500 …/blob-damaged, got {r.describe()}")


def tar_member(body, name):
    with tarfile.open(fileobj=io.BytesIO(body)) as t:
        return t.extractfile(name).read()


def cli_squeeze_sha(binary, fx, rank, work):
    out = os.path.join(work, f"cli-{fx.index}-{rank}")
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.run([binary, "squeeze", fx.dir, "--rank", str(rank), "--method", "exact", "--out", out],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return None
    with open(os.path.join(out, "adapter_model.safetensors"), "rb") as f:
        return sha(f.read())


def flip(path, offset):
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(1)
        f.seek(offset)
        f.write(bytes([old[0] ^ 0x5A]))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o444)
    return old


def unflip(path, offset, old):
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(old)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, 0o444)


def blob_path(data, digest):
    return os.path.join(data, "blobs", digest[:2], digest[2:])


def bitflip_case(args, binary, work, fixtures, model, server):
    REPORT.cycle = "bitflip"
    data = server.data
    log("bit-flip case:")
    server.start()
    port = server.port
    # An adapter that is stored, and whose squeezes the server can compute.
    cands = [s for s in model.fx if s.present == {True} and s.digest]
    if not cands:
        s = model.fx[0]
        r = upload(port, s.fx)
        s.digest, s.present = r.json()["digest"], {True}
        cands = [s]
    s = cands[0]
    con = sqlite3.connect(f"file:{os.path.join(data, 'catalog.sqlite')}?mode=ro", uri=True)
    cached = {row[0] for row in con.execute("SELECT rank FROM squeeze_cache WHERE adapter_digest = ?", (s.digest,))}
    con.close()
    # rc: a squeeze cached before the flip (of the ranks the cycles use); rf, rt: ranks the cycles never
    # ask for, so nothing is cached for them and the server must compute them from the damaged weights.
    rc, rf, rt = (max(cached) if cached else max(SQUEEZE_RANKS)), 11, 12
    r = get_retrying(port, squeeze_target(s.digest, rc))
    if r.status != 200:
        REPORT.fail("bitflip-setup", f"squeeze of {s.digest[:12]} at rank {rc}: {r.describe()}")
        server.stop()
        return
    squeezed_sha = r.etag()
    code = server.stop()
    if code != 0:
        REPORT.fail("shutdown", f"SIGTERM: the server exited with {code}")
    good = {rank: cli_squeeze_sha(binary, s.fx, rank, work) for rank in (rc, rf, rt)}
    if good[rc] != squeezed_sha:
        REPORT.warn("bitflip-reference", f"the CLI's squeeze at rank {rc} ({str(good[rc])[:12]}) differs from the server's ({squeezed_sha[:12]}): fresh squeezes are checked against the ETag only")
        good = {k: None for k in good}
    src_path, sq_path = blob_path(data, s.fx.weights_sha), blob_path(data, squeezed_sha)
    if not os.path.exists(src_path):
        REPORT.fail("bitflip-setup", f"no blob file {src_path} for adapter {s.digest[:12]}'s weights")
        return
    src_off, sq_off = os.path.getsize(src_path) // 2, os.path.getsize(sq_path) // 2
    src_old, sq_old = flip(src_path, src_off), flip(sq_path, sq_off)
    log(f"  flipped a byte of adapter {s.digest[:12]}'s weights blob (offset {src_off}) and of its squeeze at rank {rc} ({squeezed_sha[:12]}, offset {sq_off})")
    try:
        server.start()
        port = server.port
        for attempt in ("first read", "second read"):
            expect_damaged(f"GET …/files/adapter_model.safetensors ({attempt})",
                           request(port, "GET", f"/v1/adapters/{s.digest}/files/adapter_model.safetensors"), etag_sha=s.fx.weights_sha)
        expect_damaged(f"GET …/squeezed/{rc}/adapter_model.safetensors (cached, damaged)",
                       get_retrying(port, squeeze_target(s.digest, rc)), etag_sha=squeezed_sha)
        r = get_retrying(port, squeeze_target(s.digest, rc, tar=True))
        if r.status == 200:
            try:
                member = tar_member(r.body, "adapter_model.safetensors")
                if sha(member) != squeezed_sha:
                    REPORT.fail("bitflip-served-damaged", f"GET …/squeezed/{rc}.tar (cached, damaged): 200 whose adapter_model.safetensors has sha256 {sha(member)[:12]}, its ETag names {squeezed_sha[:12]}")
                else:
                    REPORT.fail("bitflip-not-detected", f"GET …/squeezed/{rc}.tar: 200 with intact bytes")
            except Exception as e:  # noqa: BLE001
                REPORT.fail("bitflip-served-damaged", f"GET …/squeezed/{rc}.tar: 200 but not a readable tar: {e}")
        else:
            expect_damaged(f"GET …/squeezed/{rc}.tar (cached, damaged)", r)
        expect_damaged(f"GET …/squeezed/{rf}/adapter_model.safetensors (fresh, from the damaged weights)",
                       get_retrying(port, squeeze_target(s.digest, rf)), good_sha=good[rf])
        r = get_retrying(port, squeeze_target(s.digest, rt, tar=True))
        if r.status == 200:
            member = tar_member(r.body, "adapter_model.safetensors")
            if good[rt] is not None and sha(member) != good[rt]:
                REPORT.fail("bitflip-served-damaged", f"GET …/squeezed/{rt}.tar (fresh, from the damaged weights): 200 with a squeeze of the damaged bytes (sha256 {sha(member)[:12]}, the intact adapter gives {good[rt][:12]})")
            else:
                REPORT.fail("bitflip-not-detected", f"GET …/squeezed/{rt}.tar (fresh): 200, damage unreported")
        else:
            expect_damaged(f"GET …/squeezed/{rt}.tar (fresh, from the damaged weights)", r)
        h = request(port, "GET", "/healthz")
        if h.status != 200:
            REPORT.fail("bitflip-health", f"/healthz after the damaged reads: {h.describe()}")
        server.stop()
        # Found on read, the damaged blobs were moved to quarantine/: the adapter's is on record as
        # damaged (scrub names it and exits 2), the squeeze's cache entry was dropped.
        for d, what in ((s.fx.weights_sha, "the adapter's weights"), (squeezed_sha, f"the squeeze at rank {rc}")):
            if not os.path.exists(os.path.join(data, "quarantine", d)):
                REPORT.fail("bitflip-quarantine", f"{what} ({d[:12]}) is not in quarantine/ after its damaged read")
            if os.path.exists(blob_path(data, d)):
                REPORT.fail("bitflip-quarantine", f"{what} ({d[:12]}) is still under blobs/ after its damaged read")
        p = subprocess.run([binary, "scrub", "--data", data], capture_output=True, text=True, timeout=300)
        out = p.stdout + p.stderr
        if p.returncode != 2:
            REPORT.fail("bitflip-scrub", f"scrub exited {p.returncode}, expected 2: {out[-300:]}")
        if s.fx.weights_sha not in out:
            REPORT.fail("bitflip-scrub", f"scrub's output does not name the damaged blob {s.fx.weights_sha}")
    finally:
        if server.alive():
            server.stop()
        for path, off, old in ((src_path, src_off, src_old), (sq_path, sq_off, sq_old)):
            if os.path.exists(path):   # not quarantined (the server missed it): put the byte back
                unflip(path, off, old)
    # The same content uploaded again repairs the adapter; its squeezes compute from intact bytes.
    server.start()
    r = upload(server.port, s.fx)
    if r.status not in (200, 201):
        REPORT.fail("bitflip-repair", f"upload of {s.digest[:12]} again: {r.describe()}")
    d = request(server.port, "GET", f"/v1/adapters/{s.digest}")
    if d.status != 200 or b'"damaged"' in d.body:
        REPORT.fail("bitflip-repair", f"GET /v1/adapters/{s.digest[:12]} after the re-upload: {d.describe()}")
    w = request(server.port, "GET", f"/v1/adapters/{s.digest}/files/adapter_model.safetensors")
    if w.status != 200 or sha(w.body) != s.fx.weights_sha:
        REPORT.fail("bitflip-repair", f"the weights after the re-upload: {w.describe()}")
    for rank in (rc, rf, rt):
        r = get_retrying(server.port, squeeze_target(s.digest, rank))
        want = model.squeezes.get((s.fx.index, rank)) or good.get(rank)
        if r.status != 200 or (want and sha(r.body) != want):
            REPORT.fail("bitflip-repair", f"squeeze at rank {rank} after the repair: {r.describe()} (want {str(want)[:12]})")
    server.stop()
    p = subprocess.run([binary, "scrub", "--data", data], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        REPORT.fail("bitflip-repair", f"scrub after the repair exited {p.returncode}: {(p.stdout + p.stderr)[-300:]}")
    integrity(binary, data, "after the bit-flip case (repaired)")
    log(f"  done: original file, cached squeeze, its .tar, fresh squeeze (rank {rf}) and fresh .tar (rank {rt}) never served damaged; quarantine, scrub and the repair by re-upload checked")


# ---------------------------------------------------------------------------------------------
# Disk full

def diskfull_case(args, binary, work):
    REPORT.cycle = "diskfull"
    log("disk-full case:")
    if os.geteuid() != 0:
        log("disk-full case skipped: not running as root (mount -t tmpfs needs it)")
        return
    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    if "--min-free-disk" not in help_text:
        log("disk-full case skipped: `serve --help` lists no --min-free-disk")
        return
    mnt = tempfile.mkdtemp(prefix="crash-tmpfs-", dir=work)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        log(f"disk-full case skipped: mount -t tmpfs failed: {p.stderr.strip()}")
        return
    server = None
    try:
        data = os.path.join(mnt, "data")
        chk = subprocess.run([binary, "serve", "--check", "--min-free-disk", "0", "--data", data], capture_output=True, text=True)
        if chk.returncode != 0:
            REPORT.fail("diskfull-setup", f"serve --check --min-free-disk 0: exit {chk.returncode}: {chk.stderr[-300:]}")
            return
        fdir = os.path.join(work, "diskfull-fixtures")
        big = [Fixture(100 + i, os.path.join(fdir, f"big{i}"), args.seed * 7919 + 1000 + i, 3.5 * MiB) for i in range(16)]
        small = [Fixture(200 + i, os.path.join(fdir, f"small{i}"), args.seed * 7919 + 2000 + i, 0.5 * MiB) for i in range(3)]
        server = Server(binary, data, os.path.join(work, "logs"), extra=["--min-free-disk", "0"], tag="diskfull-server")
        server.start()
        port = server.port
        stored = {}        # digest -> fixture
        answers = {}

        def check_answer(what, r, fx=None):
            answers[r.status if r.status else "no response"] = answers.get(r.status if r.status else "no response", 0) + 1
            if r.status in (200, 201) and fx is not None:
                stored[r.json()["digest"]] = fx
            elif r.status == 507:
                if not r.problem_type().endswith("insufficient-storage"):
                    REPORT.fail("diskfull-problem", f"{what}: 507 with type {r.problem_type()!r}")
            elif r.status is None or r.status >= 500 or (fx is not None and r.status not in (200, 201)):
                REPORT.fail("diskfull-answer", f"{what}: expected 2xx or 507, got {r.describe()}")
            return r.status

        def free_mib():
            st_ = os.statvfs(mnt)
            return st_.f_bavail * st_.f_frsize / MiB

        def usage():
            """Where the tmpfs's bytes are: blobs/, tmp/, the catalog files, the filler."""
            out = {}
            for root, _, files in os.walk(mnt):
                part = os.path.relpath(root, mnt).split(os.sep)
                key = part[1] if len(part) > 1 and part[0] == "data" else ("catalog" if part == ["data"] else part[0])
                for f_ in files:
                    try:
                        out[key] = out.get(key, 0) + os.path.getsize(os.path.join(root, f_))
                    except OSError:
                        pass
            return ", ".join(f"{k} {v / MiB:.2f}" for k, v in sorted(out.items())) + f" MiB; free {free_mib():.2f} MiB"

        def check_after(what):
            log(f"  {what}: {usage()}")
            left = leftover_tmp(data, time.time() + 1)
            if left:
                REPORT.fail("diskfull-tmp", f"{what}: tmp/ holds {', '.join(left[:5])}")
            h = request(port, "GET", "/healthz")
            if h.status != 200:
                REPORT.fail("diskfull-health", f"{what}: /healthz {h.describe()}")
            for digest, fx in stored.items():
                w = request(port, "GET", f"/v1/adapters/{digest}/files/adapter_model.safetensors")
                if w.status != 200 or sha(w.body) != fx.weights_sha:
                    REPORT.fail("diskfull-lost", f"{what}: adapter {digest[:12]} weights: {w.describe()}")

        def wait_job(r):
            if r.status == 202:   # let it finish (or fail) before tmp/ is checked
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    j = request(port, "GET", f"/v1/jobs/{r.json()['id']}")
                    if j.status != 200 or j.json()["state"] in ("succeeded", "failed"):
                        return
                    time.sleep(0.05)

        # 1. one at a time until the disk is full
        for fx in big:
            if check_answer(f"upload of {len(fx.weights) / MiB:.1f} MiB", upload(port, fx), fx) == 507:
                break
        else:
            REPORT.fail("diskfull-never-full", "48 MiB never filled up")
        check_after("after the first 507")
        # 2. a delete makes room: an upload works again
        victim = list(stored)[-1]
        r = request(port, "DELETE", f"/v1/adapters/{victim}")
        if r.status != 200:
            REPORT.fail("diskfull-delete", f"DELETE {victim[:12]} after a 507: {r.describe()}")
        else:
            stored.pop(victim)
        r = upload(port, small[0])
        if r.status not in (200, 201):
            REPORT.fail("diskfull-recover", f"upload of {len(small[0].weights) / MiB:.1f} MiB after a delete: {r.describe()}")
        else:
            stored[r.json()["digest"]] = small[0]
        check_after("after a delete and an upload")
        # 3. full to the last byte (a filler file takes what is left): every write route
        filler = os.path.join(mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        for size in (1 << 20, 64 << 10, 4 << 10, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
        os.close(fd)
        log(f"  filler: {os.path.getsize(filler) / MiB:.2f} MiB; free {free_mib():.3f} MiB")
        digests = list(stored)
        check_answer("squeeze, disk full to the byte", get_retrying(port, squeeze_target(digests[0], 5)))
        check_answer("tag move, disk full to the byte", request(port, "PUT", "/v1/names/full-b", body=json.dumps({"adapter": digests[-1]}).encode()))
        check_answer("tag delete, disk full to the byte", request(port, "DELETE", "/v1/names/full-b"))
        r = request(port, "POST", "/v1/normalize", body=json.dumps({"adapters": digests[:2], "rank": 2, "method": "exact"}).encode())
        check_answer("normalize, disk full to the byte", r)
        wait_job(r)
        check_answer("small upload, disk full to the byte", upload(port, small[1]), small[1])
        r = request(port, "DELETE", f"/v1/adapters/{digests[-1]}")
        check_answer("adapter delete, disk full to the byte", r)
        if r.status == 507:
            REPORT.warn("diskfull-delete-507", "DELETE /v1/adapters answers 507 on a disk full to the byte: space cannot be freed through the API")
        elif r.status == 200:
            stored.pop(digests[-1])
        check_after("with the disk full to the byte")
        os.remove(filler)
        r = request(port, "DELETE", f"/v1/adapters/{list(stored)[-1]}")
        if r.status != 200:
            REPORT.fail("diskfull-delete", f"DELETE after the filler was removed ({free_mib():.2f} MiB free): {r.describe()}")
        else:
            stored.pop(list(stored)[-1])
        r = upload(port, small[2])
        if r.status not in (200, 201):
            REPORT.fail("diskfull-recover", f"upload after the filler was removed ({free_mib():.2f} MiB free): {r.describe()}")
        else:
            stored[r.json()["digest"]] = small[2]
        check_after("after the filler was removed, a delete and an upload")
        # 4. three at a time, each sized to 60 % of the free space: every one passes the Content-Length
        #    check, together they do not fit, so some meet ENOSPC while their body is written.
        for round_ in range(6):
            free = free_mib() * MiB
            if free < 48 << 10:
                break
            batch = [Fixture(300 + 3 * round_ + i, os.path.join(fdir, f"race{round_}-{i}"), args.seed * 7919 + 3000 + 3 * round_ + i,
                             max(32 << 10, 0.6 * free)) for i in range(3)]
            results = [None] * len(batch)

            def up(i, fx):
                results[i] = upload(port, fx, src=f"127.0.0.{30 + i}")
            ts = [threading.Thread(target=up, args=(i, fx)) for i, fx in enumerate(batch)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            for fx, r in zip(batch, results):
                check_answer(f"concurrent upload of {len(fx.weights) / MiB:.2f} MiB with {free / MiB:.2f} MiB free", r, fx)
            check_after(f"after three concurrent uploads for {free / MiB:.2f} MiB")
        code = server.stop()
        if code != 0:
            REPORT.fail("shutdown", f"SIGTERM on the full disk: exit {code}; log {server.log_path}")
        integrity(binary, data, "disk-full data directory", orphans_fail=True)
        st = os.statvfs(mnt)
        log(f"  answers: {dict(sorted(answers.items(), key=str))}; {len(stored)} adapters stored, "
            f"{st.f_bavail * st.f_frsize / MiB:.1f} MiB free at the end")
    finally:
        if server is not None and server.alive():
            server.stop()
        subprocess.run(["umount", mnt], capture_output=True)
        try:
            os.rmdir(mnt)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------

def main():
    global TOKEN
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True, help="the lora-squeeze executable")
    ap.add_argument("--cycles", type=int, required=True, help="kill/restart cycles (0: only the special cases)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock; printed)")
    ap.add_argument("--work", default=None, help="work directory, new or empty (default: a new temp directory)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (data, logs, fixtures)")
    ap.add_argument("--bitflip", action="store_true", help="run the bit-flip case (if neither --bitflip nor --diskfull is given, both run)")
    ap.add_argument("--diskfull", action="store_true", help="run the disk-full case")
    ap.add_argument("--no-extras", action="store_true", help="run neither the bit-flip nor the disk-full case")
    ap.add_argument("--kill-min", type=float, default=0.05, help="earliest kill, seconds after the operations start")
    ap.add_argument("--kill-max", type=float, default=1.0, help="latest kill, seconds after the operations start")
    ap.add_argument("--old-squeezes", type=int, default=6, help="older acknowledged squeezes re-checked per cycle")
    ap.add_argument("--inject-loss", action="store_true",
                    help="self-check of the test: after the second kill, remove an acknowledged adapter and tag from "
                         "catalog.sqlite; the run must report them lost (and exit 1)")
    ap.add_argument("--job-timeout", type=float, default=30.0, help="seconds a job may take to finish after a restart")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    binary = os.path.abspath(args.binary)
    # One admin token for every server this run starts (see "Authentication" above).
    gen = subprocess.run([binary, "token", "generate"], capture_output=True, text=True)
    if gen.returncode != 0 or not gen.stdout.strip().startswith("lsq_"):
        ap.error(f"`{binary} token generate` failed (exit {gen.returncode}): {(gen.stdout + gen.stderr).strip()[-300:]}")
    TOKEN = gen.stdout.strip()
    run_bitflip = not args.no_extras and (args.bitflip or not args.diskfull)
    run_diskfull = not args.no_extras and (args.diskfull or not args.bitflip)
    if args.work and os.path.exists(args.work) and os.listdir(args.work):
        ap.error(f"--work {args.work} is not empty (it is removed at the end unless --keep): give a new or empty directory")
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="lora-crash-")
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    log(f"crash test: --binary {binary} --cycles {args.cycles} --seed {args.seed} --work {work}")
    started = time.monotonic()
    kills = []
    server = None
    try:
        rng = np.random.default_rng(args.seed)
        fixtures = [Fixture(i, os.path.join(work, "fixtures", f"a{i:02d}"), args.seed * 1000 + i,
                            float(rng.uniform(0.5, 4.0)) * MiB) for i in range(N_FIXTURES)]
        model = Model(fixtures)
        if args.cycles > 0 or run_bitflip:
            server, kills = run_cycles(args, binary, work, fixtures, model)
        if run_bitflip:
            bitflip_case(args, binary, work, fixtures, model, server)
        if run_diskfull:
            diskfull_case(args, binary, work)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        REPORT.fail("aborted", f"the test could not go on: {e}")
    finally:
        if server is not None and server.alive():
            server.stop()
        errors = 0
        for name in sorted(os.listdir(os.path.join(work, "logs"))):
            with open(os.path.join(work, "logs", name), "rb") as f:
                for line in f:
                    if re.search(rb"Fatal error|critical", line):
                        errors += 1
                        if errors <= 5:
                            REPORT.warn("server-log", f"{name}: {line.decode('utf-8', 'replace').strip()[:300]}")
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - started
    if REPORT.failures:
        log("\nfailures by kind:")
        kinds = {}
        for _, k, msg in REPORT.failures:
            kinds.setdefault(k, []).append(msg)
        for k, msgs in sorted(kinds.items()):
            log(f"  {k}: {len(msgs)} (first: {msgs[0][:200]})")
    m = locals().get("model")
    acked = m.counts["acked"] if m else 0
    unknown = m.counts["unknown"] if m else 0
    if m:
        log("operations (acked/unknown/refused/not sent): " + ", ".join(
            f"{k} {v['acked']}/{v['unknown']}/{v['refused']}/{v['notsent']}" for k, v in sorted(m.kinds.items())))
    km = (f"kill moments {min(kills):.2f}/{statistics.median(kills):.2f}/{max(kills):.2f} s (min/median/max)"
          if kills else "no kills")
    log(f"SUMMARY: {args.cycles} cycles, {acked} operations acknowledged, {unknown} unknown outcome, "
        f"{REPORT.lost()} lost, {km}, {elapsed:.1f} s, {len(REPORT.failures)} failed checks, "
        f"{len(REPORT.warnings)} warnings, seed {args.seed}" + (f", work dir kept: {work}" if args.keep else ""))
    return 1 if REPORT.failures else 0


if __name__ == "__main__":
    sys.exit(main())
