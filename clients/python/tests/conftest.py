"""A real lora-squeeze server for the client's tests, and adapters made here with numpy.

The server is the binary in ``LORA_SQUEEZE_BINARY`` (``clients/python/test.sh`` sets it), started once
per test session with access control on, on a fresh data directory and a free port; it and the
directory go away at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from safetensors.numpy import save_file

SHAPES = {"self_attn.q_proj": (96, 64), "self_attn.v_proj": (32, 64), "mlp.down_proj": (64, 128)}


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    binary: Path
    data: Path


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    binary = Path(os.environ.get("LORA_SQUEEZE_BINARY", "")).resolve()
    if not binary.is_file():
        pytest.exit("set LORA_SQUEEZE_BINARY to a built lora-squeeze (clients/python/test.sh does)", returncode=2)
    work = Path(tempfile.mkdtemp(prefix="lora-client-test-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = subprocess.run([binary, "token", "generate"], capture_output=True, text=True, check=True).stdout.strip()
    log = (work / "server.log").open("wb")
    process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(work / "data"),
                                "--min-free-disk", "64M"], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "LORA_SQUEEZE_ADMIN_TOKEN": token})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError((work / "server.log").read_text())
                time.sleep(0.05)
        yield Server(url, token, binary, work / "data")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def make_adapter(directory: Path, *, seed: int, rank: int = 16, alpha: float = 32.0, rslora: bool = False,
                 base: str = "tiny/base") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A PEFT directory with three modules of rank ``rank`` and decaying spectra; returns (A, B) by module."""
    rng = np.random.default_rng(seed)
    factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    tensors: dict[str, np.ndarray] = {}
    for name, (out_f, in_f) in SHAPES.items():
        decay = np.exp(-np.arange(rank) / 5.0)
        a = (rng.standard_normal((rank, in_f)) * decay[:, None] / np.sqrt(in_f)).astype(np.float32)
        b = (rng.standard_normal((out_f, rank)) * 0.1).astype(np.float32)
        module = f"model.layers.0.{name}"
        tensors[f"base_model.model.{module}.lora_A.weight"] = a
        tensors[f"base_model.model.{module}.lora_B.weight"] = b
        factors[module] = (a, b)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base, "r": rank,
              "lora_alpha": alpha, "target_modules": ["q_proj", "v_proj", "down_proj"], "lora_dropout": 0.0,
              "bias": "none", "fan_in_fan_out": False, "use_rslora": rslora, "use_dora": False}
    (directory / "adapter_config.json").write_text(json.dumps(config))
    return factors


def best_rank(delta: np.ndarray, rank: int) -> np.ndarray:
    """The Eckart–Young optimum of ``delta`` at ``rank``, by a dense SVD in double precision."""
    u, s, vt = np.linalg.svd(delta.astype(np.float64), full_matrices=False)
    return (u[:, :rank] * s[:rank]) @ vt[:rank]


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """‖got − want‖_F / ‖want‖_F."""
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))
