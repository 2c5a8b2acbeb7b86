"""The RAG, fine-tuning or both part of an evaluation report (``kg eval --arms``): each arm's one-off
costs, the decision figures (``decision.decide``), the value of labels from a learning curve, and the
report.md sections that show them (the recommendation first).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .arms import untuned_arm
from .cost import Prices
from .decision import CORRECT_F1, ArmCost, decide, label_value, volume_text
from .markdown import num, pct, table, usd
from .metrics import QuestionResult, quality_k
from .records import EvalReport


def one_off_costs(kind: str, index_usd: float, training: Sequence[dict], prices: Prices) -> dict[str, float]:
    """One-off dollars of an arm: indexing (every arm but closed-book: ft's training questions come from
    the graph too), and for the tuned arms the labels and the training CPU time, averaged over folds
    (a team trains once)."""
    tuned = kind in ("ft", "rag+ft")
    records = [t for t in training if t.get("version")] if tuned else []
    labels = sum(t["labels"] for t in records) / len(records) if records else 0.0
    cpu = sum(t["cpu_seconds"].get(kind, 0.0) for t in records) / len(records) if records else 0.0
    out = {"indexing": 0.0 if kind == "closed-book" else index_usd, "labels": labels,
           "labelling": prices.labelling.usd(labels), "training_cpu_seconds": cpu,
           "training": cpu * prices.vcpu_hour_usd / 3600}
    out["total"] = out["indexing"] + out["labelling"] + out["training"]
    return out


def arm_decision(settings: dict[str, Any], results: Sequence[QuestionResult], summaries: dict, costs: dict,
                 index_usd: float, prices: Prices) -> dict[str, Any]:
    """The decision section of an arms report (``decision.decide``), with each arm's one-off costs."""
    names, kinds = settings["arms"], settings["arm_kinds"]
    one_off = {n: one_off_costs(kinds[n], index_usd, settings.get("training") or [], prices) for n in names}
    scores: dict[str, dict[str, float]] = {n: {} for n in names}
    right: dict[str, list[float]] = {n: [] for n in names}
    for r in results:
        if r.mode in scores:
            scores[r.mode][r.question_id] = r.f1
            right[r.mode].append(float(r.f1 >= CORRECT_F1))
    arms = [ArmCost(n, one_off[n]["total"], costs[n].usd_per_1000 / 1000,
                    sum(right[n]) / len(right[n]) if right[n] else 0.0,
                    0.0 if math.isnan(summaries[n].f1) else summaries[n].f1) for n in names if right[n]]
    baseline = next((n for n in names if kinds[n] == "rag" and not n.endswith("/extractive")), None)
    return {**decide(arms, scores, settings["volume"], months=settings["months"], baseline=baseline),
            "one_off": one_off, "kinds": kinds, **label_curve(settings, summaries, one_off, prices)}


def label_curve(settings: dict[str, Any], summaries: dict, one_off: dict, prices: Prices) -> dict[str, Any]:
    """The learning curve of an arms run (``kg eval --label-curve``): its points, the main run's as the
    last one (its labels per fold), and each tuned arm's value of labels; empty without a curve."""
    points = list(settings.get("label_curve") or [])
    if not points:
        return {}
    names = list(points[0]["arms"])
    labels = max(one_off[n]["labels"] for n in names)
    main = {"labels": labels, "arms": {n: {"questions": summaries[n].questions, "f1": summaries[n].f1,
                                           "em": summaries[n].exact_match, "answered": summaries[n].found,
                                           "recall": summaries[n].recall.get(quality_k(settings["k_values"]))}
                                       for n in names}}
    points = [p for p in points if p["labels"] < labels] + [main]
    per_label = prices.labelling.usd(1)
    return {"label_curve": points,
            "label_value": {n: label_value([(p["labels"], p["arms"][n]["f1"]) for p in points], per_label) for n in names}}


def decision_lines(r: EvalReport) -> list[str]:
    """Recommendation first, then the arms' quality and costs, the differences and the break-even volumes."""
    d, s = r.decision, r.settings
    if not d:
        return []
    months, volume = d["months"], d["volume"]
    if s.get("folds"):
        how = (f"The tuned arms were trained inside this run: {s['folds']} folds, {100 * s['label_fraction']:.0f}% of the "
               f"questions labelled per fold (from the parts not evaluated) plus up to {s['tune_options'].get('generate', 'all')} "
               "questions generated from the graph; no arm was scored on a question it was trained on.")
    elif any(k in ("ft", "rag+ft") for k in d["kinds"].values()):
        v = ", ".join(str(t.get("version")) for t in s.get("training") or [])
        how = f"The tuned arms use the graph's active kg tune version ({v})."
    else:
        how = "No tuned arm was asked for."
    used = sorted({t.get("model", "") for t in s.get("training") or []} - {""}) or [s.get("reader_model") or "?"]
    reader = " / ".join(f"`{m}`" for m in used)
    lines = ["## Recommendation", "", d["recommendation"], "",
             f"{how} Every LLM arm reads with {reader}. "
             f"A right answer is one with F1 >= {d['correct_f1']}; costs over {months} months at {volume:,.0f} questions "
             f"a month, labels at {usd(r.reproducibility['prices']['labelling']['hourly_usd'])} an hour and "
             f"{r.reproducibility['prices']['labelling']['minutes_per_label']:g} minutes each (`--prices` to change).", "",
             "## RAG, fine-tuning or both", ""]
    qk = r.run["quality_k"]
    rows = []
    for a in d["arms"]:
        m, o = r.modes[a["arm"]], d["one_off"][a["arm"]]
        rows.append([a["arm"], pct(m.exact_match), pct(m.f1), pct(a["accuracy"]), pct(m.found),
                     pct(m.supported), pct(m.recall.get(qk)), usd(o["indexing"]), f"{o['labels']:,.0f} / {usd(o['labelling'])}",
                     f"{num(o['training_cpu_seconds'], 0)} s / {usd(o['training'])}", usd(1000 * a["per_question_usd"]),
                     usd(a["total_usd"]), usd(a["cost_per_correct_usd"])])
    lines += table(["arm", "EM", "F1", "right", "answered", "supported", f"Recall@{qk}", "indexing", "labels / $",
                     "training CPU / $", "$ / 1k q", f"total, {months} mo", "$ / right answer"], rows)
    if not r.build.original_known:
        lines += [f"**Indexing cost not known:** the graph in {r.build.graph_dir} was built outside `kg eval`, so the "
                  f"indexing column counts only this run's check of it ({num(r.build.cpu_seconds, 1)} CPU s). "
                  "Build the graph through `kg eval` (or without `--graph`) to have it measured.", ""]
    lines += ["*supported*: answered questions whose citations state the answer (closed-book arms cite nothing). "
              "*training CPU*: the kg tune parts an arm uses (rag+ft: embedder, re-embedding, ranker, reranker, reader; ft: the "
              "closed-book reader), averaged over folds.", ""]
    if d["against_baseline"]:
        lines += [f"F1 difference against **{d['baseline']}** on the {d['questions']} questions every arm answered "
                  "(paired bootstrap, 95% interval; a gain whose interval includes 0 is not shown to be real):", ""]
        lines += table(["arm", "F1 difference", "95% interval", "ahead in resamples", "real?"],
                        [[x["b"], f"{100 * x['mean']:+.1f} pts", f"{100 * x['low']:+.1f} to {100 * x['high']:+.1f}",
                          pct(x["b_ahead"]), "yes" if x["significant"] else "no"] for x in d["against_baseline"]])
    if d["break_even"]:
        lines += ["Break-even monthly volumes (above it, the arm with the cheaper questions costs less in all):", ""]
        lines += table(["arm A", "arm B", "questions a month"],
                        [[x["a"], x["b"], volume_text(x["volume"])] for x in d["break_even"]])
    else:
        lines += ["No pair of arms breaks even: one of each pair is cheaper at every volume.", ""]
    return lines + _label_lines(r)


def _label_lines(r: EvalReport) -> list[str]:
    """The value of labels: the tuned arms' quality against labels per fold, and what a label bought."""
    d = r.decision
    points = d.get("label_curve") if d else None
    if not points:
        return []
    names = list(points[0]["arms"])
    untuned = {n: untuned_arm(n) for n in names if untuned_arm(n) in r.modes}
    lines = ["## Value of labels", "", "The tuned arms trained again on the first N labelled questions of each fold "
             "(0: generated questions only), scored on the same evaluated parts; the last row is the main run. "
             "F1 (and Recall where the arm retrieves):", ""]
    rows = [[f"{p['labels']:,.0f}", *[pct(p["arms"][n]["f1"]) + (f" / {pct(p['arms'][n]['recall'])}"
                                                                  if p["arms"][n].get("recall") is not None else "")
                                     for n in names]] for p in points]
    if untuned:
        rows.insert(0, ["untuned", *[pct(r.modes[untuned[n]].f1) + (f" / {pct(r.modes[untuned[n]].recall.get(r.run['quality_k']))}"
                                                                    if untuned[n].startswith("rag/") else "")
                                     if n in untuned else "–" for n in names]])
    lines += table(["labels a fold", *names], rows)
    for n, v in d["label_value"].items():
        change = (f"F1 {100 * v['from_f1']:.1f} with {v['from_labels']:,.0f} labels -> {100 * v['to_f1']:.1f} with "
                  f"{v['to_labels']:,.0f}")
        if v["usd_per_point"] is None:
            lines.append(f"- **{n}**: {change}: the labels bought no F1 here.")
        else:
            lines.append(f"- **{n}**: {change}: {v['points_per_label']:+.3g} F1 points a labelled question, "
                         f"{usd(v['usd_per_point'])} of labelling per F1 point.")
    return lines + [""]
