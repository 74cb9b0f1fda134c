"""results.json, table.md and the plot (PNG and SVG) from one experiment's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {
    "a": "(a) LoRA r=8",
    "b": "(b) r=64, squeezed to 8 after training",
    "c": "(c) r=64 for 0.75·N, squeezed, r=8 for 0.25·N",
    "d": "(d) annealed 64→32→16→8",
    "r64": "ref: r=64 before its squeeze",
}
SHORT = {"a": "(a) r=8", "b": "(b) post-hoc", "c": "(c) 2-phase", "d": "(d) annealed", "r64": "ref r=64"}
COLORS = {"a": "#1f77b4", "b": "#ff7f0e", "c": "#2ca02c", "d": "#d62728", "r64": "#7f7f7f"}
ORDER = ("a", "b", "c", "d", "r64")


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "table.md").write_text(table(results))
    plot(results, out)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def table(results: dict[str, Any]) -> str:
    seeds = results["seeds"]
    head = ("| condition | deployed rank | exact match % mean ± std (min–max) | token acc. % mean ± std (min–max) | "
            + " | ".join(f"exact % seed {s}" for s in seeds) + " |")
    rows = [head, "|" + "---|" * (4 + len(seeds))]
    for c in ORDER:
        rank = 64 if c == "r64" else results["config"]["target_rank"]
        cells = [LABELS[c], str(rank)]
        for key in ("exact_match", "token_accuracy"):
            s = results["summary"][c][key]
            cells.append(f"{_pct(s['mean'])} ± {_pct(s['std'])} ({_pct(s['min'])}–{_pct(s['max'])})")
        cells += [_pct(results["runs"][str(s)][c]["metrics"]["exact_match"]) for s in seeds]
        rows.append("| " + " | ".join(cells) + " |")
    n = results["config"]["steps"]
    note = (f"\nHeld-out set: {results['config']['eval_size']} sequences, greedy decoding; N = {n} steps; "
            f"seeds {', '.join(map(str, seeds))}; std is the sample standard deviation over seeds.\n")
    return "\n".join(rows) + "\n" + note


def plot(results: dict[str, Any], out: Path) -> None:
    plt.rcParams["svg.hashsalt"] = "lora-squeeze"
    seeds = [str(s) for s in results["seeds"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1, 1.5]})

    for x, c in enumerate(ORDER):
        values = [100 * results["runs"][s][c]["metrics"]["exact_match"] for s in seeds]
        summary = results["summary"][c]["exact_match"]
        mean = 100 * summary["mean"]
        left.errorbar(x, mean, yerr=[[mean - 100 * summary["min"]], [100 * summary["max"] - mean]],
                      color="black", capsize=6, lw=1, marker="_", markersize=22, mew=2)
        left.scatter([x + d for d in (0.15, 0.25, 0.35)[: len(values)]], values, color=COLORS[c], zorder=3, s=22)
    left.set_xticks(range(len(ORDER)), [SHORT[c] for c in ORDER], rotation=20)
    left.set_xlim(-0.6, len(ORDER) - 0.4)
    left.set_ylabel("exact match on held-out set (%)")
    left.grid(axis="y", alpha=0.3)
    left.set_title("final adapters: seeds 0, 1, 2 (dots, left to right), mean (wide tick), min–max", fontsize=10)

    n = results["config"]["steps"]
    branch = results["plans"]["c"]["squeeze_steps"][0]
    for c in ("a", "r64", "c", "d"):
        # (c)'s curve up to its squeeze is the r=64 run's: draw it from the branch on.
        curves = [[p for p in results["runs"][s][c]["curve"] if c != "c" or p["step"] >= branch] for s in seeds]
        steps = [p["step"] for p in curves[0]]
        mean = [100 * sum(cv[i]["exact_match"] for cv in curves) / len(curves) for i in range(len(steps))]
        label = "r=64 (b before its squeeze; (c) shares it to 0.75·N)" if c == "r64" else SHORT[c]
        right.plot(steps, mean, color=COLORS[c], label=label, lw=1.5)
    b = 100 * results["summary"]["b"]["exact_match"]["mean"]
    right.scatter([n], [b], color=COLORS["b"], marker="v", s=60, zorder=4, label="(b) after the post-hoc squeeze")
    for step in results["plans"]["d"]["squeeze_steps"]:
        right.axvline(step, color=COLORS["d"], ls=":", lw=1)
    right.grid(alpha=0.3)
    right.set_xlabel("optimizer step (dotted: (d)'s squeezes; 0.75·N is also (c)'s)")
    right.set_ylabel(f"exact match, first {results['config']['curve_size']} held-out (%)")
    right.set_title("mean over seeds during training", fontsize=10)
    right.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "plot.png", dpi=120)
    fig.savefig(out / "plot.svg", metadata={"Date": None})
    plt.close(fig)


if __name__ == "__main__":
    import sys

    # Redraws the table and plot from a results.json: python report.py results/results.json
    source = Path(sys.argv[1])
    data = json.loads(source.read_text())
    (source.parent / "table.md").write_text(table(data))
    plot(data, source.parent)
