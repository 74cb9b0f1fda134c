#!/usr/bin/env python3
"""The Hugging Face Hub protocol (`/hub/{view}`) against the real `huggingface_hub` client.

    python3 Tests/Hub/check_hub.py BINARY

Run it with a Python whose `huggingface_hub` is the version under test (Tests/Hub/run.sh runs it once
per version, each in its own virtualenv). It starts BINARY (`lora-squeeze serve`, authentication on,
a fresh data directory), uploads fixtures it makes with numpy + safetensors (a PEFT adapter at rank 16
named `team-a/chat-v2`, a kohya file named `sd-style`), and checks, through the client's own calls:

- snapshot_download and hf_hub_download from /hub/original, /hub/r8 and /hub/r8-bf16: files
  byte-identical to the API's downloads (/v1/adapters/{ref}/files/… and …/squeezed/8/…); the squeezed
  adapter is the optimal rank-8 approximation of its source, checked independently here with numpy
  (Eckart–Young: ‖ΔW − ΔW₈‖_F equals the norm of the dropped singular values, relative 1e-4);
- repo_info (sha, siblings with sizes and LFS digests) and, where the client has it, list_repo_tree;
- revisions: main, the commit id, the adapter's digest; an unknown one is RevisionNotFoundError;
- errors as the client's exception types: unknown repository, a name outside the token's
  namespace and no token at all are RepositoryNotFoundError; an unknown file is EntryNotFoundError; a
  wrong token is an HTTP 401;
- the client's cache reused: a second snapshot_download fetches no body (the server's metrics count
  no new GET on the resolve route);
- a resumed download, completed with a Range request (a 206 on the resolve route) into the right
  bytes: 1.x and 2.x retry a body cut mid-way (a proxy here drops the connection after 4 KiB), 0.x
  resumes the partial `.incomplete` blob an interrupted run left in its cache;
- HF_ENDPOINT and HF_TOKEN in the environment alone (as vLLM, PEFT and TGI use them), in a child
  process.

Exits non-zero on the first failed check, printing it; the server and temporary files are always removed.
"""
import contextlib
import hashlib
import importlib.metadata
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np
from safetensors.numpy import load, save

# The multipart body the contract test's seeding uses (Tests/Contract/seed.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Contract"))
from seed import multipart  # noqa: E402

import huggingface_hub
from huggingface_hub import HfApi, hf_hub_download, snapshot_download

try:
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
except ImportError:  # before 0.20
    from huggingface_hub.utils import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

VERSION = importlib.metadata.version("huggingface_hub")
MAJOR = int(VERSION.split(".")[0])
NAME = "team-a/chat-v2"
KOHYA = "sd-style"
RANK = 8
# Relative tolerance of the optimality check (f32 factors, f32 output).
TOLERANCE = 1e-4


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"  ok  {what}")


# ---------------------------------------------------------------- fixtures

def peft_adapter():
    """A PEFT adapter at rank 16: three modules of different shapes, a decaying spectrum, f32."""
    rng = np.random.default_rng(11)
    r = 16
    modules = {"model.layers.0.self_attn.q_proj": (96, 64), "model.layers.0.self_attn.v_proj": (32, 64),
               "model.layers.0.mlp.down_proj": (64, 160)}
    tensors = {}
    for name, (out_f, in_f) in modules.items():
        decay = np.exp(-np.arange(r) / 4.0)
        tensors[f"base_model.model.{name}.lora_A.weight"] = (
            rng.standard_normal((r, in_f)) * decay[:, None] / math.sqrt(in_f)).astype(np.float32)
        tensors[f"base_model.model.{name}.lora_B.weight"] = (rng.standard_normal((out_f, r)) * 0.05).astype(np.float32)
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "hub-test/base",
              "r": r, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj", "down_proj"], "lora_dropout": 0.0,
              "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False}
    return json.dumps(config).encode(), save(tensors, metadata={"format": "pt"})


def kohya_adapter():
    rng = np.random.default_rng(12)
    tensors = {}
    for key, (out_f, in_f) in {"lora_unet_down_blocks_0_attn1_to_q": (48, 40), "lora_te_text_model_encoder_layers_0_mlp_fc1": (80, 48)}.items():
        tensors[f"{key}.lora_down.weight"] = (rng.standard_normal((12, in_f)) / math.sqrt(in_f)).astype(np.float32)
        tensors[f"{key}.lora_up.weight"] = (rng.standard_normal((out_f, 12)) * 0.05).astype(np.float32)
        tensors[f"{key}.alpha"] = np.array(6.0, dtype=np.float32)
    return save(tensors)


# ---------------------------------------------------------------- the server

class Server:
    """`BINARY serve` on a free port with a fresh data directory and a generated admin token."""

    def __init__(self, binary):
        self.binary = binary

    def __enter__(self):
        self.work = tempfile.mkdtemp(prefix="hub-check-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.admin = subprocess.run([self.binary, "token", "generate"], check=True, capture_output=True,
                                    text=True).stdout.strip()
        self.log = open(os.path.join(self.work, "server.log"), "wb")
        env = dict(os.environ, LORA_SQUEEZE_ADMIN_TOKEN=self.admin)
        self.process = subprocess.Popen([self.binary, "serve", "--host", "127.0.0.1", "--port", str(port),
                                         "--data", os.path.join(self.work, "data"), "--min-free-disk", "64M"],
                                        env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError("the server did not become ready")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        if exc and exc[0] is not None:
            with open(os.path.join(self.work, "server.log"), "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-30:]
            print("server log (last lines):\n" + "\n".join(tail), file=sys.stderr)
        shutil.rmtree(self.work, ignore_errors=True)

    def call(self, method, path, body=None, content_type=None, token=None):
        request = urllib.request.Request(self.base + path, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        request.add_header("Authorization", f"Bearer {token or self.admin}")
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.read()

    def json(self, method, path, value=None):
        body = json.dumps(value).encode() if value is not None else None
        return json.loads(self.call(method, path, body, "application/json" if body else None))

    def resolve_counts(self):
        """GETs answered on the hub's resolve routes, by status."""
        counts = {}
        for line in self.call("GET", "/metrics").decode().splitlines():
            m = re.match(r'lora_squeeze_http_requests_total\{route="/hub/[^"]*/resolve/[^"]*",method="GET",status="(\d+)"\} (\d+)', line)
            if m:
                counts[m.group(1)] = counts.get(m.group(1), 0) + int(m.group(2))
        return counts


class CuttingProxy:
    """A TCP proxy to `base` that cuts the first GET of a /resolve/ URL after `after` bytes of its
    answer (head and part of the body), as a dropped connection does, and passes everything else."""

    cut_after = 4096

    def __init__(self, base, after):
        self.target = base.removeprefix("http://").split(":")
        self.after = after
        self.cuts = 0
        self.lock = threading.Lock()

    def __enter__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.listener.close()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.target[0], int(self.target[1])))
            state = {"armed": False}
            threading.Thread(target=self.requests, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self.answers, args=(upstream, client, state), daemon=True).start()

    def requests(self, source, sink, state):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if data.startswith(b"GET ") and b"/resolve/" in data.split(b"\r\n", 1)[0]:
                    with self.lock:
                        if self.cuts == 0:
                            state["armed"] = True
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def answers(self, source, sink, state):
        sent = 0
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if state["armed"]:
                    sink.sendall(data[: max(0, self.after - sent)])
                    sent += len(data)
                    if sent >= self.after:
                        with self.lock:
                            self.cuts += 1
                        state["armed"] = False
                        break
                else:
                    sink.sendall(data)
        for s in (sink, source):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


# ---------------------------------------------------------------- the independent optimality check

def peft_updates(config, tensors):
    """ΔW = s·B·A of every module, with s = lora_alpha / r (from rank_pattern/alpha_pattern if named)."""
    updates = {}
    for key in tensors:
        if not key.endswith(".lora_A.weight"):
            continue
        module = key[: -len(".lora_A.weight")]
        a, b = tensors[key].astype(np.float64), tensors[module + ".lora_B.weight"].astype(np.float64)
        short = module.split("base_model.model.", 1)[-1]
        r = next((v for k, v in config.get("rank_pattern", {}).items() if short.endswith(k)), config["r"])
        alpha = next((v for k, v in config.get("alpha_pattern", {}).items() if short.endswith(k)), config["lora_alpha"])
        scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
        updates[short] = scale * b @ a
    return updates


def bf16_to_f32(raw):
    return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def check_optimal(source_config, source_weights, out_config, out_weights, rank, bf16=False):
    src = peft_updates(json.loads(source_config), load(source_weights))
    if bf16:
        header_len = int.from_bytes(out_weights[:8], "little")
        header = json.loads(out_weights[8:8 + header_len])
        data = out_weights[8 + header_len:]
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            check(info["dtype"] == "BF16", f"r{rank}-bf16: {name} is stored as BF16")
            begin, end = info["data_offsets"]
            tensors[name] = bf16_to_f32(data[begin:end]).reshape(info["shape"])
    else:
        tensors = load(out_weights)
    out = peft_updates(json.loads(out_config), tensors)
    check(set(out) == set(src), f"r{rank}: the squeezed adapter has the source's {len(src)} modules")
    tolerance = 1e-2 if bf16 else TOLERANCE   # bf16 keeps 8 bits of mantissa
    for name, delta in src.items():
        sigma = np.linalg.svd(delta, compute_uv=False)
        best = math.sqrt(float(np.sum(sigma[rank:] ** 2)))
        error = float(np.linalg.norm(delta - out[name]))
        a_rows = tensors["base_model.model." + name + ".lora_A.weight"].shape[0]
        check(a_rows == rank, f"r{rank}: {name} has rank {a_rows}")
        check(abs(error - best) <= tolerance * float(np.linalg.norm(delta)),
              f"r{rank}: {name} is optimal: |ΔW−ΔW'| = {error:.6g}, Eckart–Young bound {best:.6g}")


# ---------------------------------------------------------------- the checks

def expect(exception, what, call):
    try:
        call()
    except exception as e:
        check(True, f"{what} raises {type(e).__name__}")
        return e
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"{what} raised {type(e).__name__} ({e}), not {exception.__name__}") from None
    raise AssertionError(f"{what} did not raise {exception.__name__}")


def files_of(folder):
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))
            if not name.startswith(".")}


def run(server):
    config, weights = peft_adapter()
    body, content_type = multipart([("adapter_config.json", "application/json", config),
                                    ("adapter_model.safetensors", "application/octet-stream", weights)])
    digest = json.loads(server.call("POST", f"/v1/adapters?name={NAME}", body, content_type))["digest"]
    kohya = kohya_adapter()
    server.call("POST", f"/v1/adapters?name={KOHYA}", kohya, "application/octet-stream")
    read = server.json("POST", "/v1/tokens", {"name": "hub-read", "scope": "read"})["token"]
    other = server.json("POST", "/v1/tokens", {"name": "hub-b", "scope": "read", "namespace": "team-b"})["token"]
    api_files = {"adapter_config.json": server.call("GET", f"/v1/adapters/{NAME}/files/adapter_config.json"),
                 "adapter_model.safetensors": server.call("GET", f"/v1/adapters/{NAME}/files/adapter_model.safetensors")}
    check(api_files["adapter_model.safetensors"] == weights, "the API serves the uploaded weights")

    original, r8 = server.base + "/hub/original", server.base + f"/hub/r{RANK}"
    cache = tempfile.mkdtemp(prefix="hub-cache-")
    try:
        # --- original: snapshot, repo_info, tree
        folder = snapshot_download(NAME, endpoint=original, token=read, cache_dir=cache)
        check(files_of(folder) == api_files, "original: snapshot_download gives the API's two files, byte for byte")
        info = HfApi(endpoint=original, token=read).model_info(NAME, files_metadata=True)
        check(re.fullmatch(r"[0-9a-f]{40}", info.sha or "") is not None, f"original: repo_info sha {info.sha} is a commit id")
        check(os.path.basename(folder) == info.sha, "original: the snapshot folder is named by that commit")
        siblings = {s.rfilename: s for s in info.siblings}
        check(sorted(siblings) == sorted(api_files), "original: siblings list both files")
        for name, data in api_files.items():
            s = siblings[name]
            sha = s.lfs["sha256"] if isinstance(s.lfs, dict) else getattr(s.lfs, "sha256", None)  # a dict in 0.x
            check(s.size == len(data) and sha == hashlib.sha256(data).hexdigest(),
                  f"original: sibling {name} has its size and SHA-256")
        if hasattr(HfApi, "list_repo_tree"):
            tree = list(HfApi(endpoint=original, token=read).list_repo_tree(NAME, recursive=True))
            check(sorted((t.path, t.size, t.lfs.sha256) for t in tree)
                  == sorted((n, len(d), hashlib.sha256(d).hexdigest()) for n, d in api_files.items()),
                  "original: list_repo_tree lists both files with size and LFS SHA-256")

        # --- squeezed: files identical to the API's, and optimal
        folder8 = snapshot_download(NAME, endpoint=r8, token=read, cache_dir=tempfile.mkdtemp(dir=cache))
        got = files_of(folder8)
        api8 = {n: server.call("GET", f"/v1/adapters/{NAME}/squeezed/{RANK}/{n}") for n in api_files}
        check(got == api8, f"r{RANK}: snapshot_download gives the API's squeezed files, byte for byte")
        check(json.loads(got["adapter_config.json"])["r"] == RANK, f"r{RANK}: adapter_config.json has r = {RANK}")
        check_optimal(config, weights, got["adapter_config.json"], got["adapter_model.safetensors"], RANK)
        path = hf_hub_download(NAME, "adapter_model.safetensors", endpoint=server.base + f"/hub/r{RANK}-bf16",
                               token=read, cache_dir=cache)
        check_optimal(config, weights, got["adapter_config.json"], open(path, "rb").read(), RANK, bf16=True)

        # --- revisions
        commit8 = HfApi(endpoint=r8, token=read).model_info(NAME).sha
        check(commit8 != info.sha and os.path.basename(folder8) == commit8, "r8: its own commit id, naming its snapshot")
        for revision in (commit8, digest):
            p = hf_hub_download(NAME, "adapter_config.json", revision=revision, endpoint=r8, token=read,
                                cache_dir=tempfile.mkdtemp(dir=cache))
            check(open(p, "rb").read() == api8["adapter_config.json"], f"r8: revision {revision[:12]}… serves the same file")
        expect(RevisionNotFoundError, "an unknown revision",
               lambda: hf_hub_download(NAME, "adapter_config.json", revision="v9", endpoint=r8, token=read,
                                       cache_dir=tempfile.mkdtemp(dir=cache)))

        # --- kohya: one file, both views
        folder_k = snapshot_download(KOHYA, endpoint=original, token=read, cache_dir=cache)
        check(files_of(folder_k) == {"adapter_model.safetensors": kohya}, "kohya: its one file, as uploaded, under a bare name")
        k8 = snapshot_download(KOHYA, endpoint=r8, token=read, cache_dir=cache)
        check(files_of(k8) == {"adapter_model.safetensors": server.call("GET", f"/v1/adapters/{KOHYA}/squeezed/{RANK}/adapter_model.safetensors")},
              "kohya: r8 serves the API's squeezed file and no adapter_config.json")

        # --- errors, as the client's exception types
        expect(RepositoryNotFoundError, "an unknown repository",
               lambda: snapshot_download("team-a/nope", endpoint=r8, token=read, cache_dir=cache))
        expect(EntryNotFoundError, "an unknown file",
               lambda: hf_hub_download(KOHYA, "adapter_config.json", endpoint=original, token=read, cache_dir=cache))
        expect(RepositoryNotFoundError, "a name outside the token's namespace",
               lambda: hf_hub_download(NAME, "adapter_config.json", endpoint=original, token=other,
                                       cache_dir=tempfile.mkdtemp(dir=cache)))
        expect(RepositoryNotFoundError, "no token while authentication is on",
               lambda: HfApi(endpoint=original, token=False).model_info(NAME))
        e = expect(HfHubHTTPError, "a wrong token",
                   lambda: HfApi(endpoint=original, token="lsq_" + "x" * 40).model_info(NAME))
        check(e.response is not None and e.response.status_code == 401, "a wrong token is a 401")

        # --- the cache reused: no body fetched twice
        before = server.resolve_counts()
        again = snapshot_download(NAME, endpoint=r8, token=read, cache_dir=os.path.dirname(os.path.dirname(os.path.dirname(folder8))))
        check(again == folder8 and files_of(again) == api8, "a second snapshot_download finds the cached snapshot")
        check(server.resolve_counts() == before, f"... and fetches no body again (resolve GETs {before})")

        # --- a resumed download
        data = api8["adapter_model.safetensors"]
        resume_cache = tempfile.mkdtemp(dir=cache)
        before = server.resolve_counts()
        if MAJOR == 0:
            # 0.x resumes across processes from the `<etag>.incomplete` blob an interrupted run left.
            blob_dir = os.path.join(resume_cache, "models--team-a--chat-v2", "blobs")
            os.makedirs(blob_dir)
            with open(os.path.join(blob_dir, hashlib.sha256(data).hexdigest() + ".incomplete"), "wb") as f:
                f.write(data[: len(data) // 3])
            p = hf_hub_download(NAME, "adapter_model.safetensors", endpoint=r8, token=read, cache_dir=resume_cache,
                                resume_download=True)
            how = "a partial .incomplete blob is completed"
        else:
            # 1.x and 2.x retry a body cut off mid-way with `Range: bytes=<received>-`, in the same call,
            # from the last whole chunk written; chunks are 10 MB, so they are made 1 KiB here to see a
            # resume on a small file (the requests on the wire are the same).
            huggingface_hub.constants.DOWNLOAD_CHUNK_SIZE = 1024
            with CuttingProxy(server.base, after=CuttingProxy.cut_after) as proxy:
                p = hf_hub_download(NAME, "adapter_model.safetensors", endpoint=proxy.base + f"/hub/r{RANK}",
                                    token=read, cache_dir=resume_cache)
                check(proxy.cuts == 1, f"the proxy cut one download after {CuttingProxy.cut_after} bytes")
            how = "a download cut mid-body is completed"
        after = server.resolve_counts()
        check(open(p, "rb").read() == data, f"{how} into the right bytes")
        check(after.get("206", 0) == before.get("206", 0) + 1, f"... by a Range request (206): resolve GETs {before} then {after}")

        # --- the environment alone (HF_ENDPOINT, HF_TOKEN), as inference hosts use it
        env = dict(os.environ, HF_ENDPOINT=r8, HF_TOKEN=read, HF_HUB_CACHE=tempfile.mkdtemp(dir=cache))
        env.pop("HF_HUB_OFFLINE", None)
        out = subprocess.run([sys.executable, "-c", "import sys; from huggingface_hub import snapshot_download; "
                              f"print(snapshot_download({NAME!r}))"], env=env, capture_output=True, text=True, timeout=300)
        check(out.returncode == 0, f"HF_ENDPOINT + HF_TOKEN: snapshot_download runs ({out.stderr.strip()[-300:]})")
        check(files_of(out.stdout.strip().splitlines()[-1]) == api8, "HF_ENDPOINT + HF_TOKEN: the same squeezed files")
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: check_hub.py BINARY   (BINARY: a built lora-squeeze)")
    print(f"== huggingface_hub {VERSION} (python {sys.version.split()[0]})")
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    with Server(sys.argv[1]) as server:
        run(server)
    print(f"== huggingface_hub {VERSION}: every check passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        sys.exit(f"FAILED: {e}")
