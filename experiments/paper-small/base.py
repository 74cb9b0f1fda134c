"""The base model: TinyGPT trained from scratch on the natural-order sort, cached on disk."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model import ModelConfig, TinyGPT
from tasks import SortTask
from training import batch_at, evaluate, loss_on_outputs, seed_everything, warmup_cosine

BASE_SEED = 0


def train_base(
    cfg: ModelConfig, task: SortTask, steps: int, batch_size: int, lr: float, eval_set: torch.Tensor
) -> tuple[TinyGPT, dict[str, object]]:
    seed_everything(BASE_SEED)
    model = TinyGPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(steps, steps // 20))
    start = time.perf_counter()
    for step in range(steps):
        loss = loss_on_outputs(model, batch_at(task, BASE_SEED, step, batch_size), task)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        if (step + 1) % 250 == 0:
            print(f"  base step {step + 1}/{steps}  loss {loss.item():.4f}", flush=True)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, eval_set, task)
    return model, {"train_seconds": seconds, **metrics.as_dict()}


def load_or_train_base(
    cache: Path,
    cfg: ModelConfig,
    task: SortTask,
    steps: int,
    batch_size: int,
    lr: float,
    eval_set: torch.Tensor,
) -> tuple[TinyGPT, dict[str, object]]:
    """The cached base when one exists for exactly this configuration, else a freshly trained one."""
    key = json.loads(json.dumps({"model": asdict(cfg), "task": asdict(task), "steps": steps,
                                 "batch_size": batch_size, "lr": lr, "seed": BASE_SEED,
                                 "torch": torch.__version__}))
    weights, info_path = cache / "base.safetensors", cache / "base.json"
    if weights.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        if info["key"] == key:
            model = TinyGPT(cfg)
            model.load_state_dict(load_file(weights))
            print(f"base: reused {weights}")
            return model, {**info["metrics"], "cached": True}
    print(f"base: training {steps} steps")
    model, metrics = train_base(cfg, task, steps, batch_size, lr, eval_set)
    cache.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), weights)
    info_path.write_text(json.dumps({"key": key, "metrics": metrics}, indent=2))
    return model, {**metrics, "cached": False}
