"""LoRA-Squeeze (arXiv 2602.10993) reproduced small, on CPU.

A TinyGPT base learns to sort symbols in their natural order; LoRA adapts the frozen base to sort
by a secret order under one budget of N optimizer steps, in four ways that all deploy rank 8:

  a  LoRA at r=8 for N steps
  b  r=64 for N steps, squeezed to 8 after training (post-hoc)
  c  r=64 for 0.75·N steps, squeezed to 8, trained at 8 for the last 0.25·N (2-phase anneal)
  d  rank annealed 64 → 32 → 16 → 8 during training (4 phases, geometric, last 0.25·N at 8)

plus the r=64 adapter before its squeeze as a reference. Squeezes and plans go through the
project's `lora_squeeze.anneal` (the exact SVD of ΔW = s·B·A by the `lora-squeeze` binary).

Usage: python experiment.py BINARY [--out DIR] [--quick]
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import peft
import torch
from torch import nn

from lora_squeeze import AnnealPlan, CLISqueezer
from lora_squeeze.anneal import RankAnnealer, SqueezeReport, current_rank, squeeze_peft_model

from base import load_or_train_base
from model import ModelConfig, TinyGPT
from report import write_report
from tasks import SortTask, natural_sort, secret_sort
from training import batch_at, evaluate, loss_on_outputs, seed_everything, warmup_cosine

HERE = Path(__file__).resolve().parent
TARGET_MODULES = ["q", "k", "v", "o", "up", "down"]


@dataclass(frozen=True)
class Config:
    n_symbols: int = 24
    length: int = 10
    secret_order_seed: int = 1
    model: dict[str, int] = field(default_factory=lambda: {"d_model": 256, "n_layers": 4, "n_heads": 4, "d_mlp": 512})
    batch_size: int = 64
    base_steps: int = 1000
    base_lr: float = 2e-3
    steps: int = 400
    lr: float = 2e-3
    warmup_fraction: float = 0.05
    lora_alpha: int = 16
    high_rank: int = 64
    target_rank: int = 8
    anneal_phases: int = 4
    final_fraction: float = 0.25
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_size: int = 2000
    eval_seed: int = 12345
    curve_size: int = 500
    curve_every: int = 25


@dataclass
class Run:
    """One trained adapter: its final metrics and its accuracy over steps."""

    metrics: dict[str, float] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    squeezes: list[dict[str, Any]] = field(default_factory=list)
    train_seconds: float = 0.0  # optimizer steps and squeezes, without the curve's evaluations


@dataclass
class Trainer:
    """The pieces every condition shares: base, task, held-out sets, squeezer, config."""

    cfg: Config
    base: TinyGPT
    task: SortTask
    eval_set: torch.Tensor
    squeezer: CLISqueezer

    @property
    def curve_set(self) -> torch.Tensor:
        return self.eval_set[: self.cfg.curve_size]

    def new_adapter(self, rank: int, seed: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        """A fresh copy of the frozen base with LoRA at `rank` (init from `seed`), AdamW and the schedule."""
        torch.manual_seed(seed)
        config = peft.LoraConfig(r=rank, lora_alpha=self.cfg.lora_alpha, lora_dropout=0.0,
                                 target_modules=TARGET_MODULES)
        model = peft.get_peft_model(copy.deepcopy(self.base), config)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.lr, weight_decay=0.0)
        warmup = int(self.cfg.warmup_fraction * self.cfg.steps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(self.cfg.steps, warmup))
        return model, opt, sched

    def point(self, model: nn.Module, step: int, run: Run, note: str = "") -> float:
        """Adds a point to `run`'s curve; returns the seconds it took."""
        began = time.perf_counter()
        m = evaluate(model, self.curve_set, self.task)
        run.curve.append({"step": step, "rank": current_rank(model), **m.as_dict(), **({"note": note} if note else {})})
        return time.perf_counter() - began

    def step(self, model: nn.Module, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR,
             seed: int, step: int) -> None:
        """One optimizer step. The graph dies with this function: a `loss` still alive at a squeeze
        would keep each LoRA parameter's gradient accumulator, with the old shape, for the next
        backward (which then fails)."""
        loss = loss_on_outputs(model, batch_at(self.task, seed, step, self.cfg.batch_size), self.task)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()

    def squeeze(self, model: nn.Module, annealer: RankAnnealer, done: int, run: Run) -> float:
        """The annealer's squeeze after `done` steps, with curve points before and after; returns the
        seconds spent evaluating."""
        evaluating = self.point(model, done, run, "before squeeze")
        report = annealer.step(done)
        if report is None:
            raise RuntimeError(f"the plan has no squeeze after step {done}")
        run.squeezes.append(_squeeze_record(report))
        return evaluating + self.point(model, done, run, "after squeeze")

    def train(self, model: nn.Module, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR,
              seed: int, start: int, end: int, run: Run, annealer: RankAnnealer | None = None) -> None:
        """Optimizer steps `start ..< end`; the annealer (if any) squeezes at its plan's boundaries
        before `end` (a boundary at `end` is the caller's)."""
        began, evaluating = time.perf_counter(), 0.0
        model.train()
        for step in range(start, end):
            self.step(model, opt, sched, seed, step)
            done = step + 1
            if annealer is not None and done < end and annealer.plan.rank_after(done) is not None:
                evaluating += self.squeeze(model, annealer, done, run)
            elif done % self.cfg.curve_every == 0:
                evaluating += self.point(model, done, run)
        run.train_seconds += time.perf_counter() - began - evaluating

    def final(self, model: nn.Module, run: Run) -> None:
        """The held-out metrics of `run`'s finished adapter."""
        run.metrics = evaluate(model, self.eval_set, self.task).as_dict()


def _squeeze_record(report: SqueezeReport) -> dict[str, Any]:
    return {"steps_done": report.steps_done, "from_rank": report.from_rank, "to_rank": report.to_rank,
            "seconds": report.seconds, "mean_energy": report.mean_energy, "min_energy": report.min_energy}


def run_seed(t: Trainer, seed: int) -> dict[str, Run]:
    """All conditions for one adaptation seed (data order and LoRA init)."""
    cfg, n = t.cfg, t.cfg.steps
    runs: dict[str, Run] = {}

    print(f"seed {seed}: (a) r={cfg.target_rank}", flush=True)
    seed_everything(seed)
    model, opt, sched = t.new_adapter(cfg.target_rank, seed)
    runs["a"] = Run()
    t.train(model, opt, sched, seed, 0, n, runs["a"])
    t.final(model, runs["a"])

    print(f"seed {seed}: r={cfg.high_rank}, branching (b) and (c) at the squeeze step", flush=True)
    plan_c = t.squeezer.plan(cfg.high_rank, cfg.target_rank, n, phases=2, final_fraction=cfg.final_fraction)
    branch = plan_c.squeeze_steps[0]
    seed_everything(seed)
    model, opt, sched = t.new_adapter(cfg.high_rank, seed)
    shared = Run()
    t.train(model, opt, sched, seed, 0, branch, shared)
    model_b, opt_b, sched_b = copy.deepcopy((model, opt, sched))

    runs["r64"] = copy.deepcopy(shared)
    t.train(model_b, opt_b, sched_b, seed, branch, n, runs["r64"])
    t.final(model_b, runs["r64"])
    runs["b"] = Run(train_seconds=runs["r64"].train_seconds)
    report = squeeze_peft_model(model_b, cfg.target_rank, t.squeezer, optimizer=None, steps_done=n)
    runs["b"].squeezes.append(_squeeze_record(report))
    t.final(model_b, runs["b"])

    runs["c"] = shared
    annealer = RankAnnealer(model, opt, plan_c, t.squeezer)
    began = time.perf_counter()
    evaluating = t.squeeze(model, annealer, branch, runs["c"])
    runs["c"].train_seconds += time.perf_counter() - began - evaluating
    t.train(model, opt, sched, seed, branch, n, runs["c"], annealer)
    t.final(model, runs["c"])

    print(f"seed {seed}: (d) annealed", flush=True)
    plan_d = t.squeezer.plan(cfg.high_rank, cfg.target_rank, n, phases=cfg.anneal_phases,
                             schedule="geometric", final_fraction=cfg.final_fraction)
    seed_everything(seed)
    model, opt, sched = t.new_adapter(cfg.high_rank, seed)
    runs["d"] = Run()
    t.train(model, opt, sched, seed, 0, n, runs["d"], RankAnnealer(model, opt, plan_d, t.squeezer))
    t.final(model, runs["d"])
    for name, run in runs.items():
        print(f"  {name:>4}: exact {run.metrics['exact_match']:.4f}  token {run.metrics['token_accuracy']:.4f}")
    return runs


def summarize(values: Sequence[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__, "peft": peft.__version__}


def plan_dict(plan: AnnealPlan) -> dict[str, Any]:
    return {"phases": [asdict(p) for p in plan.phases], "squeeze_steps": list(plan.squeeze_steps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="a built lora-squeeze executable")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 40 steps, one seed")
    args = parser.parse_args()

    started = time.perf_counter()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    cfg = Config(steps=40, curve_every=10, seeds=(0,), eval_size=500) if args.quick else Config()

    base_task = natural_sort(cfg.n_symbols, cfg.length)
    task = secret_sort(cfg.n_symbols, cfg.length, cfg.secret_order_seed)
    model_cfg = ModelConfig(vocab_size=task.vocab_size, max_len=2 * cfg.length, **cfg.model)
    held_out = torch.Generator().manual_seed(cfg.eval_seed)
    base_eval, eval_set = base_task.sample(cfg.eval_size, held_out), task.sample(cfg.eval_size, held_out)
    base, base_info = load_or_train_base(args.cache, model_cfg, base_task, cfg.base_steps, cfg.batch_size,
                                         cfg.base_lr, base_eval)
    for p in base.parameters():
        p.requires_grad_(False)
    base_info["on_adaptation_task"] = evaluate(base, eval_set, task).as_dict()
    print(f"base: {base_info}", flush=True)

    squeezer = CLISqueezer(args.binary)
    trainer = Trainer(cfg, base, task, eval_set, squeezer)
    adapt_started = time.perf_counter()
    per_seed = {seed: run_seed(trainer, seed) for seed in cfg.seeds}
    adapt_seconds = time.perf_counter() - adapt_started

    conditions = list(per_seed[cfg.seeds[0]])
    summary = {c: {k: summarize([per_seed[s][c].metrics[k] for s in cfg.seeds])
                   for k in ("exact_match", "token_accuracy")} for c in conditions}
    run_steps = cfg.steps * len(cfg.seeds)
    results = {
        "paper": "LoRA-Squeeze, arXiv 2602.10993",
        "config": asdict(cfg),
        "alpha_convention": f"lora_alpha = {cfg.lora_alpha} for every rank (scale alpha/r); the annealer keeps alpha",
        "tasks": {"base": asdict(base_task), "adaptation": asdict(task)},
        "model": {**asdict(model_cfg), "parameters": sum(p.numel() for p in base.parameters())},
        "target_modules": TARGET_MODULES,
        "plans": {"c": plan_dict(squeezer.plan(cfg.high_rank, cfg.target_rank, cfg.steps, phases=2,
                                               final_fraction=cfg.final_fraction)),
                  "d": plan_dict(squeezer.plan(cfg.high_rank, cfg.target_rank, cfg.steps, phases=cfg.anneal_phases,
                                               schedule="geometric", final_fraction=cfg.final_fraction))},
        "base": base_info,
        "seeds": list(cfg.seeds),
        "runs": {str(s): {c: asdict(r) for c, r in runs.items()} for s, runs in per_seed.items()},
        "summary": summary,
        "timing": {"adaptation_seconds": adapt_seconds, "wall_seconds": time.perf_counter() - started,
                   "r8_steps_per_second": run_steps / sum(per_seed[s]["a"].train_seconds for s in cfg.seeds),
                   "r64_steps_per_second": run_steps / sum(per_seed[s]["r64"].train_seconds for s in cfg.seeds)},
        "machine": machine(),
        "binary": args.binary,
    }
    write_report(results, args.out)
    print(f"wrote {args.out}/results.json, table.md, plot.png, plot.svg")


if __name__ == "__main__":
    main()
