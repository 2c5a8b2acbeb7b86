"""PNG charts of an evaluation report (matplotlib, Agg backend: no display needed).

- ``recall_at_k.png``: Recall@k curves, one line per mode;
- ``latency.png``: median and p95 seconds per question of ``retrieve`` and ``ask``, per mode;
- ``quality_vs_cost.png``: Recall@5 and F1 against dollars per 1,000 questions, per mode (or arm);
- ``cost_vs_volume.png`` (``kg eval --arms``): total cost against monthly volume per arm, with the
  break-even points;
- ``quality_vs_labels.png`` (``kg eval --arms --label-curve``): each tuned arm's F1 against the labelled
  questions it trained on, its untuned counterpart dashed.

>>> write_charts(report, "runs/today")   # doctest: +SKIP
{'recall_at_k': 'runs/today/recall_at_k.png', ...}
"""
from __future__ import annotations

import math
from pathlib import Path

from .arms import untuned_arm
from .records import EvalReport


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _clean(values):
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]


def recall_chart(report: "EvalReport", path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    ks = report.settings["k_values"]
    for mode, s in report.modes.items():
        ys = _clean([s.recall.get(str(k)) for k in ks])
        if any(y is not None for y in ys):
            ax.plot(ks, [100 * y if y is not None else float("nan") for y in ys], marker="o", label=mode)
    ax.set(xlabel="k (documents retrieved)", ylabel="Recall@k of gold passages (%)", ylim=(0, 100), xticks=ks,
           title=f"Recall@k — {report.dataset['name']} ({report.run['finished_questions']} questions)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def latency_chart(report: "EvalReport", path: Path) -> None:
    plt = _plt()
    modes = list(report.modes)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    width = 0.2
    series = [(stage, stat) for stage in ("retrieve", "ask") for stat in ("median", "p95")]
    for i, (stage, stat) in enumerate(series):
        ys = [1000 * (report.modes[m].latency.get(stage, {}).get(stat) or 0.0) for m in modes]
        ys = [0.0 if math.isnan(y) else y for y in ys]
        xs = [j + (i - 1.5) * width for j in range(len(modes))]
        ax.bar(xs, ys, width, label=f"{stage} {stat}", alpha=0.6 if stat == "p95" else 1.0,
               color=f"C{0 if stage == 'retrieve' else 1}", hatch="//" if stat == "p95" else None)
    ax.set_xticks(range(len(modes)), modes)
    ax.set(ylabel="milliseconds per question", title="Latency per question (median and p95)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def quality_cost_chart(report: "EvalReport", path: Path) -> None:
    plt = _plt()
    from matplotlib.lines import Line2D

    qk = report.run["quality_k"]
    fig, ax = plt.subplots(figsize=(7.4, 4.2), dpi=110)
    handles = []
    for i, row in enumerate(report.roi):
        for value, marker in ((row.recall_at_5, "o"), (row.f1, "s")):
            if value is None or math.isnan(value):
                continue
            ax.scatter(row.usd_per_1000, 100 * value, marker=marker, color=f"C{i}", s=60)
            ax.annotate(row.mode, (row.usd_per_1000, 100 * value), textcoords="offset points", xytext=(6, 4), fontsize=8)
        handles.append(Line2D([], [], color=f"C{i}", marker="o", linestyle="", label=row.mode))
    handles += [Line2D([], [], color="grey", marker="o", linestyle="", label=f"Recall@{qk}"),
                Line2D([], [], color="grey", marker="s", linestyle="", label="answer F1")]
    ax.set(xlabel="$ per 1,000 questions", ylabel="quality (%)", ylim=(-4, 110),
           title="Quality versus cost per mode")
    right = max([r.usd_per_1000 for r in report.roi] + [1e-9]) * 1.25
    ax.set_xlim(left=-0.04 * right, right=right)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def volume_chart(report: "EvalReport", path: Path) -> None:
    """Total cost over the horizon against monthly volume per arm, with the break-even points."""
    import numpy as np

    plt = _plt()
    d = report.decision
    months, volume = d["months"], d["volume"]
    arms = {a["arm"]: a for a in d["arms"]}
    top = max([volume * 10] + [b["volume"] * 3 for b in d["break_even"]])
    xs = np.logspace(0, np.log10(max(top, 10)), 200)
    fig, ax = plt.subplots(figsize=(7.4, 4.4), dpi=110)
    for i, a in enumerate(arms.values()):
        ax.plot(xs, a["one_off_usd"] + a["per_question_usd"] * xs * months, color=f"C{i}", label=a["arm"])
    for b in d["break_even"]:
        a = arms[b["a"]]
        ax.scatter([b["volume"]], [a["one_off_usd"] + a["per_question_usd"] * b["volume"] * months], color="black",
                   s=18, zorder=3)
    ax.axvline(volume, color="grey", linestyle="--", linewidth=1, label=f"{volume:,.0f} a month")
    ax.set(xscale="log", yscale="log", xlabel="questions a month", ylabel=f"total cost over {months} months ($)",
           title="Total cost against volume (dots: break-even points)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def labels_chart(report: "EvalReport", path: Path) -> None:
    """F1 of each tuned arm against labels per fold (the learning curve), untuned counterparts dashed."""
    plt = _plt()
    points = report.decision["label_curve"]
    fig, ax = plt.subplots(figsize=(7.4, 4.4), dpi=110)
    for i, name in enumerate(points[0]["arms"]):
        ax.plot([p["labels"] for p in points], [100 * p["arms"][name]["f1"] for p in points], marker="o",
                color=f"C{i}", label=name)
        untuned = untuned_arm(name)
        if untuned in report.modes:
            ax.axhline(100 * report.modes[untuned].f1, color=f"C{i}", linestyle="--", linewidth=1, label=untuned)
    ax.set(xlabel="labelled questions a fold (plus generated questions)", ylabel="F1",
           title="Quality against labels")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_charts(report: "EvalReport", out: str | Path) -> dict[str, str]:
    """Draw the charts into ``out`` (the volume chart for arms reports); returns chart name -> file path."""
    out = Path(out)
    files = {}
    charts = [("recall_at_k", recall_chart), ("latency", latency_chart), ("quality_vs_cost", quality_cost_chart)]
    if report.decision and report.decision["arms"]:
        charts.append(("cost_vs_volume", volume_chart))
    if report.decision and report.decision.get("label_curve"):
        charts.append(("quality_vs_labels", labels_chart))
    for name, draw in charts:
        path = out / f"{name}.png"
        draw(report, path)
        files[name] = str(path)
    return files
