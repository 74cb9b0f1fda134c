"""A rank-annealing plan, as the service (``POST /v1/anneal/plan``) and the CLI (``anneal-plan --json``) give it.

The plan is computed by the service or the CLI, never here: one implementation, in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Phase:
    """One phase: training at ``rank`` for steps ``start ..< end``."""

    index: int
    rank: int
    start: int
    end: int

    @property
    def steps(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class AnnealPlan:
    """Ranks from ``from_rank`` down to ``to_rank`` over ``total_steps``; squeeze at ``squeeze_steps``."""

    from_rank: int
    to_rank: int
    total_steps: int
    schedule: str
    final_fraction: float
    phases: tuple[Phase, ...]

    @property
    def squeeze_steps(self) -> tuple[int, ...]:
        """The step counts after which the adapter goes to the next phase's rank."""
        return tuple(p.start for p in self.phases[1:])

    def rank_at(self, step: int) -> int:
        """The rank training uses at ``step`` (0-based; steps past the end stay at the target)."""
        for p in self.phases:
            if step < p.end:
                return p.rank
        return self.to_rank

    def rank_after(self, steps_done: int) -> int | None:
        """The rank to squeeze to once ``steps_done`` optimizer steps are done, or None if not a boundary."""
        for p in self.phases[1:]:
            if p.start == steps_done:
                return p.rank
        return None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AnnealPlan:
        phases = tuple(Phase(index=int(p["index"]), rank=int(p["rank"]), start=int(p["startStep"]),
                             end=int(p["endStep"])) for p in doc["phases"])
        plan = cls(from_rank=int(doc["fromRank"]), to_rank=int(doc["toRank"]), total_steps=int(doc["totalSteps"]),
                   schedule=str(doc["schedule"]), final_fraction=float(doc["finalFraction"]), phases=phases)
        if [int(s) for s in doc.get("squeezeSteps", plan.squeeze_steps)] != list(plan.squeeze_steps):
            raise ValueError("the plan's squeezeSteps are not its phases' starts")
        return plan


def plan_request(from_rank: int, to_rank: int, total_steps: int, phases: int | None = None,
                 schedule: str | None = None, final_fraction: float | None = None) -> dict[str, Any]:
    """The body of ``POST /v1/anneal/plan`` (absent options take the service's defaults)."""
    body: dict[str, Any] = {"fromRank": from_rank, "toRank": to_rank, "totalSteps": total_steps}
    if phases is not None:
        body["phases"] = phases
    if schedule is not None:
        body["schedule"] = schedule
    if final_fraction is not None:
        body["finalFraction"] = final_fraction
    return body
