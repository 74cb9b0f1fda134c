"""Where a squeeze runs: the service (``ServiceSqueezer``) or the local command-line tool (``CLISqueezer``).

Both give the same two things for an adapter directory and a rank: the squeezed PEFT directory
(every module at exactly the rank, F32, each scale folded into its factors: ``r = lora_alpha = rank``)
and the projections file (per module ``<module>.T_A``, t×r, and ``<module>.T_B``, r×t, with
``A' = T_A·A`` and ``B' = B·T_B``). Both use the exact method, which is the optimal rank-t
approximation and the only one with projections.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .client import Client
from .errors import SqueezeFailed
from .plan import AnnealPlan, plan_request


@dataclass(frozen=True)
class Squeezed:
    """A squeeze's output: the PEFT ``directory`` at the new rank and its ``projections`` file."""

    directory: Path
    projections: Path


class Squeezer(Protocol):
    def plan(self, from_rank: int, to_rank: int, total_steps: int, *, phases: int | None = None,
             schedule: str | None = None, final_fraction: float | None = None) -> AnnealPlan: ...

    def squeeze(self, adapter_dir: Path, rank: int, out: Path) -> Squeezed: ...


class CLISqueezer:
    """Squeezes with ``lora-squeeze squeeze`` on this machine (``binary``: a path, or a name on PATH)."""

    def __init__(self, binary: str | os.PathLike[str] = "lora-squeeze", *, threads: int | None = None) -> None:
        self.binary = os.fspath(binary)
        self.threads = threads

    def plan(self, from_rank: int, to_rank: int, total_steps: int, *, phases: int | None = None,
             schedule: str | None = None, final_fraction: float | None = None) -> AnnealPlan:
        args = ["anneal-plan", "--from", str(from_rank), "--to", str(to_rank), "--steps", str(total_steps), "--json"]
        request = plan_request(from_rank, to_rank, total_steps, phases, schedule, final_fraction)
        for flag, key in (("--phases", "phases"), ("--schedule", "schedule"), ("--final-fraction", "finalFraction")):
            if key in request:
                args += [flag, str(request[key])]
        return AnnealPlan.from_json(json.loads(self._run(args)))

    def squeeze(self, adapter_dir: Path, rank: int, out: Path) -> Squeezed:
        out.mkdir(parents=True, exist_ok=True)
        directory, projections = out / "adapter", out / "projections.safetensors"
        args = ["squeeze", os.fspath(adapter_dir), "--rank", str(rank), "--out", os.fspath(directory),
                "--method", "exact", "--dtype", "f32", "--projections", os.fspath(projections), "--force", "--json"]
        if self.threads is not None:
            args += ["--threads", str(self.threads)]
        self._run(args)
        return Squeezed(directory, projections)

    def _run(self, args: list[str]) -> str:
        try:
            done = subprocess.run([self.binary, *args], capture_output=True, text=True, check=False)
        except FileNotFoundError as error:
            raise SqueezeFailed(f"{self.binary}: not found (build it with `make release`, or pass its path)") from error
        if done.returncode != 0:
            raise SqueezeFailed(f"{self.binary} {args[0]}: {done.stderr.strip() or f'exit status {done.returncode}'}")
        return done.stdout


class ServiceSqueezer:
    """Squeezes through a lora-squeeze service: uploads the adapter, downloads the squeeze and projections.

    Each uploaded adapter stays stored (tagged ``name`` when given, which moves to the newest);
    delete them through the API when they are no longer wanted.
    """

    def __init__(self, client: Client, *, name: str | None = None) -> None:
        self.client = client
        self.name = name

    def plan(self, from_rank: int, to_rank: int, total_steps: int, *, phases: int | None = None,
             schedule: str | None = None, final_fraction: float | None = None) -> AnnealPlan:
        return self.client.anneal_plan(from_rank, to_rank, total_steps, phases=phases, schedule=schedule,
                                       final_fraction=final_fraction)

    def squeeze(self, adapter_dir: Path, rank: int, out: Path) -> Squeezed:
        adapter = self.client.upload(adapter_dir, self.name)
        directory = self.client.squeezed(adapter.digest, rank, method="exact", dtype="f32", out=out / "adapter")
        projections = self.client.projections(adapter.digest, rank, out=out / "projections.safetensors")
        return Squeezed(directory, projections)
