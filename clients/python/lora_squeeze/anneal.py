"""Rank annealing during training: squeeze a live PEFT adapter to a lower rank and train on.

At each boundary of an ``AnnealPlan`` the ``RankAnnealer`` saves the adapter, squeezes it (optimal
rank-t approximation of every module's update, through the service or the local CLI), loads the
result back into the same model in place, and carries the optimizer's moments across with the
squeeze's projections. Training goes on with the same ``Parameter`` objects at their new shapes, so
the optimizer, its learning-rate scheduler and any references to the parameters stay valid.

What is carried, per LoRA module (``A`` is ``lora_A`` [r, in], ``B`` is ``lora_B`` [out, r]):

- the weights: the squeeze gives ``B'``, ``A'`` with ``B'·A' = `` the best rank-t approximation of
  ``s·B·A`` and scale 1; they are stored as ``A = c·A'``, ``B = c·B'`` with ``c = 1/√s_t`` and the
  module's scale ``s_t = alpha/t`` (``alpha/√t`` with rsLoRA), so the config keeps its ``lora_alpha``
  and reads like an adapter trained at rank t from the start;
- Adam's first moment moves with the parameters: ``m_A ← c·T_A·m_A``, ``m_B ← c·m_B·T_B``;
- the second moment (``second_moment="project"``, the default): ``v_A ← c²·(T_A⊙T_A)·v_A`` and
  ``v_B ← c²·v_B·(T_B⊙T_B)``, an approximation (no linear map carries averaged squares; it is exact
  when a gradient's components along the r directions are uncorrelated with mean zero, and never
  negative); ``second_moment="reset"`` drops the LoRA parameters' optimizer state instead, so Adam
  starts them afresh (with its bias correction; pair it with a short learning-rate warm-up);
- SGD's ``momentum_buffer`` moves like the first moment.

Supported: LoRA on linear layers (``lora_A``/``lora_B``), fan_in_fan_out included. Embedding and
convolution LoRA, and DoRA, are refused by name.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from .plan import AnnealPlan
from .squeezers import Squeezer

_FIRST_MOMENTS = ("exp_avg", "momentum_buffer")
_SECOND_MOMENTS = ("exp_avg_sq", "max_exp_avg_sq")


@dataclass(frozen=True)
class ModuleSqueeze:
    """One module's squeeze: its rank before and after, and the fraction of ‖ΔW‖²_F the new rank keeps."""

    name: str
    from_rank: int
    to_rank: int
    energy: float


@dataclass(frozen=True)
class SqueezeReport:
    """One squeeze of the whole adapter."""

    steps_done: int | None
    from_rank: int
    to_rank: int
    seconds: float
    modules: tuple[ModuleSqueeze, ...] = field(repr=False)

    @property
    def mean_energy(self) -> float:
        return sum(m.energy for m in self.modules) / max(len(self.modules), 1)

    @property
    def min_energy(self) -> float:
        return min((m.energy for m in self.modules), default=1.0)


def lora_layers(model: Any, adapter_name: str = "default") -> dict[str, Any]:
    """The PEFT LoRA layers holding ``adapter_name``, by module path (as in ``model.named_modules()``)."""
    layers: dict[str, Any] = {}
    for name, module in model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if not isinstance(lora_a, torch.nn.ModuleDict) or adapter_name not in lora_a:
            for attribute in ("lora_embedding_A", "lora_magnitude_vector"):
                holder = getattr(module, attribute, None)
                if holder is not None and adapter_name in holder:
                    kind = "embedding LoRA" if attribute == "lora_embedding_A" else "DoRA"
                    raise ValueError(f"{name}: {kind} is not supported by the annealer")
            continue
        if not isinstance(lora_a[adapter_name], torch.nn.Linear):
            raise ValueError(f"{name}: only LoRA on linear layers is supported ({type(lora_a[adapter_name]).__name__})")
        if getattr(module, "use_dora", {}).get(adapter_name, False):
            raise ValueError(f"{name}: DoRA is not supported by the annealer")
        layers[name] = module
    if not layers:
        raise ValueError(f"the model has no LoRA layers for adapter {adapter_name!r}")
    return layers


def current_rank(model: Any, adapter_name: str = "default") -> int:
    """The adapter's rank (the largest over its modules)."""
    return _largest_rank(lora_layers(model, adapter_name), adapter_name)


def _largest_rank(layers: dict[str, Any], adapter_name: str) -> int:
    return max(int(layer.r[adapter_name]) for layer in layers.values())


def squeeze_peft_model(model: Any, rank: int, squeezer: Squeezer, *, optimizer: torch.optim.Optimizer | None = None,
                       adapter_name: str = "default", second_moment: str = "project",
                       workdir: str | Path | None = None, steps_done: int | None = None) -> SqueezeReport:
    """Squeeze ``model``'s adapter to ``rank`` in place (weights, config, optimizer state); see the module."""
    if second_moment not in ("project", "reset"):
        raise ValueError(f"second_moment must be 'project' or 'reset', not {second_moment!r}")
    layers = lora_layers(model, adapter_name)
    config = model.peft_config[adapter_name]
    from_rank = _largest_rank(layers, adapter_name)
    if rank >= from_rank:
        raise ValueError(f"cannot squeeze rank {from_rank} to {rank}: the new rank must be lower")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lora-squeeze-anneal-", dir=workdir) as tmp:
        source = Path(tmp) / "source"
        model.save_pretrained(source, selected_adapters=[adapter_name])
        saved = source if adapter_name == "default" else source / adapter_name
        out = squeezer.squeeze(saved, rank, Path(tmp) / "out")
        weights = load_file(out.directory / "adapter_model.safetensors")
        projections = load_file(out.projections)
        squeezed_config = json.loads((out.directory / "adapter_config.json").read_text())
    if int(squeezed_config["r"]) != rank or float(squeezed_config["lora_alpha"]) != rank:
        raise ValueError(f"the squeeze answered r={squeezed_config['r']}, lora_alpha={squeezed_config['lora_alpha']}, "
                         f"not a rank-{rank} adapter with every scale folded")
    state = getattr(optimizer, "state", None) if optimizer is not None else None
    modules: list[ModuleSqueeze] = []
    with torch.no_grad():
        for name, layer in layers.items():
            modules.append(_reload(name, layer, adapter_name, rank, config, weights, projections, state, second_moment))
    config.r = rank
    if getattr(config, "rank_pattern", None):
        config.rank_pattern = {}
    return SqueezeReport(steps_done, from_rank, rank, time.monotonic() - started, tuple(modules))


def _reload(name: str, layer: Any, adapter_name: str, rank: int, config: Any, weights: dict[str, torch.Tensor],
            projections: dict[str, torch.Tensor], state: Any, second_moment: str) -> ModuleSqueeze:
    a_linear, b_linear = layer.lora_A[adapter_name], layer.lora_B[adapter_name]
    a, b = a_linear.weight, b_linear.weight
    old_rank = a.shape[0]
    key = _tensor_key(name, weights)
    a_new, b_new = weights[f"{key}.lora_A.weight"], weights[f"{key}.lora_B.weight"]
    if a_new.shape != (rank, a.shape[1]) or b_new.shape != (b.shape[0], rank):
        raise ValueError(f"{name}: the squeeze answered shapes {tuple(a_new.shape)}, {tuple(b_new.shape)} "
                         f"for rank {rank} of a {tuple(b.shape[0:1]) + tuple(a.shape[1:2])} module")
    t_a, t_b = _padded_projections(name, key, projections, rank, old_rank)
    alpha = float(layer.lora_alpha[adapter_name])
    scale = alpha / (math.sqrt(rank) if getattr(config, "use_rslora", False) else rank)
    c = 1.0 / math.sqrt(scale)
    before = _energy(float(layer.scaling[adapter_name]), b.double(), a.double())
    for param, new, matrix, left in ((a, a_new, t_a, True), (b, b_new, t_b, False)):
        if state is not None and param in state:
            _carry_state(name, param, state, matrix, left, c, second_moment)
        _replace_data(param, (new.to(device=param.device, dtype=param.dtype) * c).contiguous())
    a_linear.out_features = rank
    b_linear.in_features = rank
    layer.r[adapter_name] = rank
    layer.scaling[adapter_name] = scale
    after = _energy(scale, b.double(), a.double())
    return ModuleSqueeze(name, old_rank, rank, after / before if before > 0 else 1.0)


def _replace_data(param: torch.nn.Parameter, data: torch.Tensor) -> None:
    """Give ``param`` new data of another shape, keeping the object (the optimizer holds it).

    autograd caches a leaf's gradient accumulator, with the leaf's shape, for as long as a graph
    holds it: a training loop's last ``loss`` still alive across the squeeze would make the next
    backward refuse the new shape. ``set_data`` drops that cache only when the dtype or device
    changes (torch/csrc/autograd/variable.cpp), so the data goes through another dtype on its way.
    """
    detour = torch.float64 if data.dtype != torch.float64 else torch.float32
    param.data = data.to(detour)
    param.data = data
    param.grad = None


def _carry_state(name: str, param: torch.nn.Parameter, state: Any, matrix: torch.Tensor, left: bool, c: float,
                 second_moment: str) -> None:
    """Map ``param``'s optimizer state by ``matrix`` (``T_A·m`` when ``left``, else ``m·T_B``), scaled by ``c``."""
    entry = state[param]
    if second_moment == "reset":
        del state[param]
        return
    squared = matrix * matrix
    for key, value in list(entry.items()):
        if not isinstance(value, torch.Tensor) or value.shape != param.shape:
            continue  # a step count, or something not shaped like the parameter
        m = value.to(device=matrix.device, dtype=torch.float64)
        if key in _FIRST_MOMENTS:
            mapped = (matrix @ m if left else m @ matrix) * c
        elif key in _SECOND_MOMENTS:
            mapped = (squared @ m if left else m @ squared) * (c * c)
        else:
            raise ValueError(f"{name}: the optimizer keeps {key!r}, which the annealer cannot carry; "
                             f"use second_moment='reset'")
        entry[key] = mapped.to(device=value.device, dtype=value.dtype).contiguous()


def _tensor_key(name: str, weights: dict[str, torch.Tensor]) -> str:
    for candidate in (name, "base_model.model." + name.removeprefix("base_model.model.")):
        if f"{candidate}.lora_A.weight" in weights:
            return candidate
    raise ValueError(f"{name}: the squeezed adapter has no tensors for this module")


def _padded_projections(name: str, key: str, projections: dict[str, torch.Tensor], rank: int,
                        old_rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """T_A (rank × old) and T_B (old × rank), zero-padded where the module kept fewer than ``rank`` directions."""
    module = key.removeprefix("base_model.model.")
    for candidate in (key, module):
        if f"{candidate}.T_A" in projections:
            t_a, t_b = projections[f"{candidate}.T_A"].double(), projections[f"{candidate}.T_B"].double()
            break
    else:
        raise ValueError(f"{name}: the projections file has no T_A/T_B for this module")
    kept = t_a.shape[0]
    if t_a.shape[1] != old_rank or t_b.shape != (old_rank, kept) or kept > rank:
        raise ValueError(f"{name}: projections of shapes {tuple(t_a.shape)}, {tuple(t_b.shape)} "
                         f"do not map rank {old_rank} to {rank}")
    if kept < rank:
        t_a = torch.cat([t_a, t_a.new_zeros(rank - kept, old_rank)])
        t_b = torch.cat([t_b, t_b.new_zeros(old_rank, rank - kept)], dim=1)
    return t_a, t_b


def _energy(scale: float, b: torch.Tensor, a: torch.Tensor) -> float:
    """‖s·B·A‖²_F without forming B·A: s²·trace((BᵀB)(AAᵀ))."""
    return float(scale * scale * torch.sum((b.T @ b) * (a @ a.T)))


class RankAnnealer:
    """Anneals ``model``'s adapter along ``plan``: call ``step(steps_done)`` after every optimizer step.

    The model must start at ``plan.from_rank``. ``optimizer`` may be given later (to ``step``), as
    the ``transformers`` callback does. ``reports`` collects one ``SqueezeReport`` per squeeze.
    """

    def __init__(self, model: Any, optimizer: torch.optim.Optimizer | None, plan: AnnealPlan, squeezer: Squeezer, *,
                 adapter_name: str = "default", second_moment: str = "project",
                 workdir: str | Path | None = None) -> None:
        rank = current_rank(model, adapter_name)
        if rank != plan.from_rank:
            raise ValueError(f"the adapter has rank {rank}, the plan starts at {plan.from_rank}")
        self.model = model
        self.optimizer = optimizer
        self.plan = plan
        self.squeezer = squeezer
        self.adapter_name = adapter_name
        self.second_moment = second_moment
        self.workdir = workdir
        self.reports: list[SqueezeReport] = []

    @property
    def rank(self) -> int:
        return current_rank(self.model, self.adapter_name)

    def step(self, steps_done: int, optimizer: torch.optim.Optimizer | None = None) -> SqueezeReport | None:
        """After an optimizer step: squeeze if ``steps_done`` is a boundary of the plan (else None)."""
        target = self.plan.rank_after(steps_done)
        if target is None or target >= self.rank:
            return None
        report = squeeze_peft_model(self.model, target, self.squeezer, optimizer=_unwrap(optimizer or self.optimizer),
                                    adapter_name=self.adapter_name, second_moment=self.second_moment,
                                    workdir=self.workdir, steps_done=steps_done)
        self.reports.append(report)
        return report

    def callback(self) -> Any:
        """A ``transformers.TrainerCallback`` that calls ``step`` at the end of every optimizer step."""
        from transformers import TrainerCallback

        annealer = self

        class RankAnnealerCallback(TrainerCallback):  # type: ignore[misc, unused-ignore]
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                annealer.step(int(state.global_step), kwargs.get("optimizer"))

        return RankAnnealerCallback()


def _unwrap(optimizer: Any) -> Any:
    """The torch optimizer inside accelerate's ``AcceleratedOptimizer`` (its state lives there)."""
    while optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer) and hasattr(optimizer, "optimizer"):
        optimizer = optimizer.optimizer
    return optimizer
