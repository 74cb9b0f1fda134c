"""The annealer on a small PEFT model: the squeeze it loads is the optimal one, the optimizer's moments
follow the projections, training goes on, the plan is followed in a plain loop and in a Trainer.

Needs torch, PEFT and transformers (``bash clients/python/test.sh BINARY train``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import Server, best_rank, relative_error
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file
from torch import nn

from lora_squeeze import CLISqueezer, Client, ServiceSqueezer
from lora_squeeze.anneal import RankAnnealer, lora_layers, squeeze_peft_model

TOL = 1e-5  # relative Frobenius error, float32 factors against a float64 SVD
TARGETS = ["q", "v", "up", "down"]


class Tiny(nn.Module):
    """Linear layers of several shapes; a regression loss when given targets."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(32, 48)
        self.v = nn.Linear(48, 24)
        self.up = nn.Linear(24, 64)
        self.down = nn.Linear(64, 32)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Any:
        h = self.down(torch.tanh(self.up(torch.tanh(self.v(torch.tanh(self.q(x)))))))
        return h if y is None else {"loss": torch.mean((h - y) ** 2), "logits": h}


def data(seed: int, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 32, generator=g)
    return x, torch.sin(x @ torch.randn(32, 32, generator=g))


def trained(rank: int, *, steps: int = 30, rslora: bool = False, seed: int = 0) -> tuple[Any, torch.optim.Optimizer]:
    """A PEFT model at ``rank`` after ``steps`` of Adam, so B ≠ 0 and the optimizer has moments."""
    torch.manual_seed(seed)
    model = get_peft_model(Tiny(), LoraConfig(r=rank, lora_alpha=32, target_modules=TARGETS, use_rslora=rslora))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = data(seed)
    for _ in range(steps):
        model(x, y)["loss"].backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return model, optimizer


def updates(model: Any) -> dict[str, np.ndarray]:
    """Every module's ΔW = s·B·A in float64."""
    return {name: float(layer.scaling["default"]) * (layer.lora_B["default"].weight.detach().double()
                                                      @ layer.lora_A["default"].weight.detach().double()).numpy()
            for name, layer in lora_layers(model).items()}


@pytest.fixture()
def cli(server: Server) -> CLISqueezer:
    return CLISqueezer(server.binary)


@pytest.mark.parametrize("rslora", [False, True])
def test_the_loaded_squeeze_is_optimal_and_keeps_alpha(cli: CLISqueezer, rslora: bool) -> None:
    model, optimizer = trained(16, rslora=rslora)
    before = updates(model)
    params = {id(p) for p in model.parameters()}
    report = squeeze_peft_model(model, 8, cli, optimizer=optimizer)
    assert {id(p) for p in model.parameters()} == params  # same Parameter objects: the optimizer still holds them
    after = updates(model)
    for name, delta in before.items():
        assert relative_error(after[name], best_rank(delta, 8)) < TOL, name
        layer = lora_layers(model)[name]
        assert layer.r["default"] == 8 and layer.lora_alpha["default"] == 32
        assert layer.scaling["default"] == pytest.approx(32 / (math.sqrt(8) if rslora else 8))
        assert layer.lora_A["default"].weight.shape[0] == 8 == layer.lora_B["default"].weight.shape[1]
    assert model.peft_config["default"].r == 8
    assert (report.from_rank, report.to_rank, len(report.modules)) == (16, 8, 4)
    energies = {m.name: m.energy for m in report.modules}
    for name, delta in before.items():
        s = np.linalg.svd(delta, compute_uv=False)
        assert energies[name] == pytest.approx(float(np.sum(s[:8] ** 2) / np.sum(s ** 2)), rel=1e-5)


def test_the_forward_pass_is_the_base_plus_the_squeezed_update(cli: CLISqueezer) -> None:
    model, optimizer = trained(16)
    squeeze_peft_model(model, 4, cli, optimizer=optimizer)
    x, _ = data(1, 8)
    with torch.no_grad():
        got = model(x)
        deltas = {name.removeprefix("base_model.model."): torch.from_numpy(d).float() for name, d in updates(model).items()}
        h = x
        base = model.get_base_model()
        for name, act in (("q", torch.tanh), ("v", torch.tanh), ("up", torch.tanh), ("down", None)):
            linear = getattr(base, name).base_layer
            h = h @ (linear.weight + deltas[name]).T + linear.bias
            h = act(h) if act else h
    assert torch.allclose(got, h, atol=1e-5)


def test_adam_moments_follow_the_projections(cli: CLISqueezer, tmp_path: Path) -> None:
    model, optimizer = trained(16)
    model.save_pretrained(tmp_path / "src")
    expected = cli.squeeze(tmp_path / "src", 8, tmp_path / "out")  # the same exact squeeze, done independently
    projections = load_file(expected.projections)
    layers = lora_layers(model)
    moments = {name: {kind: {key: optimizer.state[getattr(layer, kind)["default"].weight][key].double().clone()
                             for key in ("exp_avg", "exp_avg_sq")}
                      for kind in ("lora_A", "lora_B")} for name, layer in layers.items()}
    squeeze_peft_model(model, 8, cli, optimizer=optimizer)
    c = 1 / math.sqrt(32 / 8)
    for name, layer in layers.items():
        module = name.removeprefix("base_model.model.")
        t_a, t_b = projections[f"{module}.T_A"].double(), projections[f"{module}.T_B"].double()
        state_a = optimizer.state[layer.lora_A["default"].weight]
        state_b = optimizer.state[layer.lora_B["default"].weight]
        m_a, v_a = moments[name]["lora_A"]["exp_avg"], moments[name]["lora_A"]["exp_avg_sq"]
        m_b, v_b = moments[name]["lora_B"]["exp_avg"], moments[name]["lora_B"]["exp_avg_sq"]
        assert torch.allclose(state_a["exp_avg"].double(), c * t_a @ m_a, rtol=1e-4, atol=1e-9)
        assert torch.allclose(state_a["exp_avg_sq"].double(), c * c * (t_a * t_a) @ v_a, rtol=1e-4, atol=1e-12)
        assert torch.allclose(state_b["exp_avg"].double(), c * m_b @ t_b, rtol=1e-4, atol=1e-9)
        assert torch.allclose(state_b["exp_avg_sq"].double(), c * c * v_b @ (t_b * t_b), rtol=1e-4, atol=1e-12)
        assert bool((state_a["exp_avg_sq"] >= 0).all() and (state_b["exp_avg_sq"] >= 0).all())


@pytest.mark.parametrize("second_moment", ["project", "reset"])
def test_training_goes_on_after_a_squeeze(cli: CLISqueezer, second_moment: str) -> None:
    model, optimizer = trained(16, steps=40)
    squeeze_peft_model(model, 4, cli, optimizer=optimizer, second_moment=second_moment)
    if second_moment == "reset":
        assert all(p not in optimizer.state for layer in lora_layers(model).values()
                   for p in (layer.lora_A["default"].weight, layer.lora_B["default"].weight))
    x, y = data(0)
    losses = []
    for _ in range(40):
        loss = model(x, y)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]


def test_a_plain_loop_follows_the_plan_through_the_service(server: Server, tmp_path: Path) -> None:
    squeezer = ServiceSqueezer(Client(server.url, server.token), name="anneal-test")
    plan = squeezer.plan(16, 4, 30, phases=3)
    assert [p.rank for p in plan.phases] == [16, 8, 4]
    model, optimizer = trained(16, steps=0)
    annealer = RankAnnealer(model, optimizer, plan, squeezer)
    x, y = data(0)
    ranks = []
    for step in range(plan.total_steps):
        assert annealer.rank == plan.rank_at(step)
        loss = model(x, y)["loss"]  # alive across the squeeze, as in most loops: its graph holds the old shapes
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        annealer.step(step + 1)
        ranks.append(annealer.rank)
    assert [r.steps_done for r in annealer.reports] == list(plan.squeeze_steps)
    assert [(r.from_rank, r.to_rank) for r in annealer.reports] == [(16, 8), (8, 4)]
    assert all(0 < r.min_energy <= r.mean_energy <= 1 for r in annealer.reports)
    assert ranks[-1] == 4 and annealer.step(plan.total_steps) is None


def test_the_trainer_callback(cli: CLISqueezer, tmp_path: Path) -> None:
    from transformers import Trainer, TrainingArguments

    model, _ = trained(16, steps=0)
    plan = cli.plan(16, 4, 12, phases=3)
    assert [(p.rank, p.start) for p in plan.phases] == [(16, 0), (8, 5), (4, 9)]
    annealer = RankAnnealer(model, None, plan, cli)
    x, y = data(0, 96)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=12, per_device_train_batch_size=8,
                             learning_rate=1e-2, report_to=[], save_strategy="no", logging_strategy="no",
                             use_cpu=True, remove_unused_columns=False, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=[{"x": a, "y": b} for a, b in zip(x, y)],
                      callbacks=[annealer.callback()])
    trainer.train()
    assert [(r.steps_done, r.to_rank) for r in annealer.reports] == [(5, 8), (9, 4)]
    assert annealer.rank == 4 and model.peft_config["default"].r == 4


def test_refusals(cli: CLISqueezer) -> None:
    model, optimizer = trained(8, steps=0)
    with pytest.raises(ValueError, match="rank 8, the plan starts at 16"):
        RankAnnealer(model, optimizer, cli.plan(16, 4, 12), cli)
    with pytest.raises(ValueError, match="must be lower"):
        squeeze_peft_model(model, 8, cli)
    with pytest.raises(ValueError, match="second_moment"):
        squeeze_peft_model(model, 4, cli, second_moment="keep")

    class WithEmbedding(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 8)
            self.q = nn.Linear(8, 8)

    embedded = get_peft_model(WithEmbedding(), LoraConfig(r=8, target_modules=["embed", "q"]))
    with pytest.raises(ValueError, match="embed: embedding LoRA is not supported"):
        squeeze_peft_model(embedded, 4, cli)
