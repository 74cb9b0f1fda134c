"""Training and evaluation helpers shared by the base model and the LoRA conditions."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model import greedy_decode
from tasks import SortTask


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def batch_at(task: SortTask, seed: int, step: int, batch_size: int) -> torch.Tensor:
    """The training batch of `step` for `seed`: a pure function of both, so a branched run sees
    the same data as the run it branched from."""
    g = torch.Generator().manual_seed(1_000_003 * (seed + 1) + step)
    return task.sample(batch_size, g)


def loss_on_outputs(model: nn.Module, seqs: torch.Tensor, task: SortTask) -> torch.Tensor:
    """Next-token cross-entropy on the output positions y1..yn only."""
    logits, _ = model(seqs[:, :-1])
    n = task.length
    return F.cross_entropy(logits[:, n:].reshape(-1, task.vocab_size), seqs[:, n + 1 :].reshape(-1))


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier: linear warm-up, then cosine decay to 10% at `total_steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


@dataclass(frozen=True)
class Metrics:
    exact_match: float
    token_accuracy: float

    def as_dict(self) -> dict[str, float]:
        return {"exact_match": self.exact_match, "token_accuracy": self.token_accuracy}


@torch.no_grad()
def evaluate(model: nn.Module, seqs: torch.Tensor, task: SortTask, chunk: int = 500) -> Metrics:
    """Greedy autoregressive decoding of the outputs from `x1..xn SEP`: the share of sequences
    decoded exactly, and the share of output tokens right at their position."""
    was_training = model.training
    model.eval()
    n = task.length
    exact, correct = 0, 0
    for part in seqs.split(chunk):
        pred = greedy_decode(model, part[:, : n + 1], n)
        hit = pred == part[:, n + 1 :]
        exact += int(hit.all(dim=1).sum())
        correct += int(hit.sum())
    model.train(was_training)
    return Metrics(exact / len(seqs), correct / (len(seqs) * n))
