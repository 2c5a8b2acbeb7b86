"""Human-readable text for what the CLI prints (JSON output uses the records' own dicts)."""
from __future__ import annotations

import textwrap
from typing import Any

from kg.model import Answer, BuildReport, Retrieval


# C0 controls but newline, DEL, C1 controls and the bidirectional overrides that can disguise text
_UNSAFE = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
           for c in [*range(0x00, 0x0a), *range(0x0b, 0x20), *range(0x7f, 0xa0), *range(0x202a, 0x202f),
                     *range(0x2066, 0x206a)]}


def terminal_safe(text: str) -> str:
    r"""``text`` with every control character but newline shown as an escape, so a document holding
    ANSI sequences (or a carriage return) cannot move the cursor, recolour or hide what is printed.

    >>> print(terminal_safe("red \x1b[31mtext\x1b[0m\tand\rmore"))
    red \x1b[31mtext\x1b[0m\x09and\x0dmore
    """
    return text.translate(_UNSAFE)


def _wrap(text: str, indent: str = "    ", width: int = 100) -> str:
    return textwrap.fill(" ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=indent)


def build_report(report: BuildReport, skipped_lines: list[str]) -> str:
    lines = [
        f"graph: {report.out}",
        f"documents: {report.documents_added} added, {report.documents_unchanged} unchanged, "
        f"{report.documents_removed} replaced",
        f"passages: {report.passages}   entities: {report.entities}   relations: {report.relations}",
        f"time: {report.seconds:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items()) + ")",
    ]
    if skipped_lines:
        lines.append(f"skipped {len(skipped_lines)} input(s):")
        lines.extend("  " + s for s in skipped_lines)
    return "\n".join(lines)


def stats(info: dict[str, Any]) -> str:
    keys = ["documents", "passages", "entities", "mentions", "relations", "relation_evidence", "synonym_links"]
    lines = [f"graph: {info['path']}"] + [f"{k.replace('_', ' ')}: {info[k]}" for k in keys]
    fb = info.get("feedback") or {}
    lines.append("feedback: " + (f"{fb['records']} records ({fb['human']} human, {fb['ai']} AI): {fb['good']} good, "
                                 f"{fb['bad']} bad, {fb['partly']} partly; {fb['disagreements']} human-AI disagreements"
                                 if fb else "none yet"))
    lines.append(f"built with: kgreason {info.get('kgreason_version', '?')}, embedder {info.get('embedder', '?')}")
    lines.append("settings:")
    for section, values in info.get("settings", {}).items():
        _settings_lines(lines, section, values)
    return "\n".join(lines)


def _settings_lines(lines: list[str], section: str, values: dict[str, Any]) -> None:
    """``[section] k=v, ...`` then one line per nested table (``[retrieve.hybrid] ...``)."""
    flat = {k: v for k, v in values.items() if not isinstance(v, dict)}
    lines.append(f"  [{section}] " + ", ".join(f"{k}={v!r}" for k, v in flat.items()))
    for key, nested in values.items():
        if isinstance(nested, dict):
            _settings_lines(lines, f"{section}.{key}", nested)


def entity(view, limit: int = 20) -> str:
    e = view.entity
    lines = [f"{e.name}  ({e.type}, {e.id})"]
    if e.aliases:
        lines.append("aliases: " + ", ".join(e.aliases))
    lines.append(f"mentioned in {len(view.passages)} passage(s)")
    if view.merges:
        lines.append("merged: " + ", ".join(f"{m.mention_text!r} ({m.reason} {m.score:.2f})" for m in view.merges[:limit]))
    lines.append(f"relations ({len(view.relations)}):")
    for r in view.relations[:limit]:
        lines.append(f"  {view.names[r.subject]} -[{r.predicate}]-> {view.names[r.object]}  (confidence {r.confidence:.2f})")
        for p in r.evidence[:2]:
            lines.append(_wrap(f'"{p.sentence}"  [{p.passage_id} {p.start}-{p.end}]', indent="      "))
    if len(view.relations) > limit:
        lines.append(f"  ... {len(view.relations) - limit} more (use --limit)")
    return "\n".join(lines)


def retrieval(r: Retrieval) -> str:
    lines = [f"mode: {r.mode}"]
    if r.linked:
        lines.append("linked: " + ", ".join(f"{l.mention!r} -> {l.name} ({l.method})" for l in r.linked))
    lines.extend(_chain(r.chain))
    lines.append("evidence:")
    for i, ev in enumerate(r.evidence, 1):
        lines.append(f"  [{i}] {ev.title or ev.doc_id}  (score {ev.score:.3f}, {ev.passage_id})")
        lines.append(_wrap(ev.text[:400] + ("..." if len(ev.text) > 400 else ""), indent="      "))
    lines.append(_timings(r.timings))
    return "\n".join(lines)


def _chain(chain) -> list[str]:
    if not chain:
        return []
    lines = ["reasoning chain:"]
    for h in chain:
        lines.append(f"  {h.subject} -[{h.predicate}]-> {h.object}")
    return lines


def _timings(timings: dict[str, float]) -> str:
    return "timings: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items())


def answer(a: Answer) -> str:
    lines = [f"answer: {a.text}"]
    lines.extend(_chain(a.chain))
    if a.citations:
        lines.append("sources:")
        for i, c in enumerate(a.citations, 1):
            lines.append(f"  [{i}] {c.title or c.doc_id}  ({c.passage_id}, chars {c.start}-{c.end})")
            lines.append(_wrap(f'"{c.quote}"', indent="      "))
    gate = a.settings.get("gate")
    if gate and gate.get("stopped"):
        lines.append(f"evidence gate ({gate['name']}): the retrieval scored {gate['score']:.2f}, at or below its "
                     f"threshold {gate['threshold']:.2f}: the best passages look like those of questions the "
                     "documents cannot answer")
    note = a.settings.get("reader", {}).get("note")
    if note and not a.found:
        hint = "; --generator combined reads with a local LLM" if a.generator == "extractive" else ""
        lines.append(f"why: {note}{hint}")
    lines.append(f"mode: {a.mode}, generator: {a.generator}")
    lines.append(_timings(a.timings))
    return "\n".join(lines)


def feedback(records) -> str:
    if not records:
        return "no feedback yet"
    lines = []
    for f in records:
        fix = f" -> {f.correction!r}" if f.correction else ""
        lines.append(f"{f.created}  {f.source:<10} {f.verdict:<6} {f.question!r}: {f.answer!r}{fix}")
    return "\n".join(lines)


def versions(rows: list[dict], active: int) -> str:
    lines = [f"{'*' if active == 0 else ' '} 0  base models"]
    for v in rows:
        lines.append(f"{'*' if v['version'] == active else ' '} {v['version']}  {v['created']}  "
                     f"{'+'.join(v.get('parts', [])) or 'no parts'}: validation Recall@5 {v['recall_before']:.3f} -> "
                     f"{v['recall_after']:.3f} on {v['validation_questions']} questions "
                     f"({'activated' if v['activated'] else 'not better: kept inactive'})")
    return "\n".join(lines)


_VALIDATION_ON = {"human": "people's ", "asked": "asked ", "all": "(generated included) "}


def tune_report(r) -> str:
    verdict = "activated" if r.activated else "kept inactive: it did not beat the active version"
    parts = r.settings.get("validation_recall_per_part", {})
    per_part = f" (after each part: {', '.join(f'{n} {v:.3f}' for n, v in parts.items())})" if parts else ""
    return (f"model version {r.version}: validation Recall@5 {r.recall_before:.3f} -> {r.recall_after:.3f} "
            f"on {r.validation_questions} held-out {_VALIDATION_ON.get(r.settings.get('validation_on'), '')}"
            f"questions{per_part}; {verdict}\n"
            f"{_ranker_line(r.settings)}{_evidence_gate_line(r.settings)}{_reader_line(r.settings)}{_closed_book_line(r.settings)}"
            f"{_not_trained_line(r.settings)}"
            f"trained on {r.train_questions} questions ({', '.join(f'{k} {v}' for k, v in r.sources.items())}"
            f"{_held_back(r.settings)}) "
            f"in {r.seconds:.0f} s ({r.cpu_seconds:.0f} CPU s)")


def _held_back(settings: dict) -> str:
    n = settings.get("held_back_sharing_validation_passages") or 0
    return f"; {n} held back: a passage of theirs answers a validation question" if n else ""


def _not_trained_line(settings: dict) -> str:
    skipped = settings.get("not_trained") or {}
    if not skipped:
        return ""
    return f"{', '.join(skipped)}: not trained: {next(iter(skipped.values()))}\n"


def _ranker_line(settings: dict) -> str:
    v = settings.get("ranker_validation")
    if not v:
        return ""
    if "reason" in v:
        return f"ranker: not trained: {v['reason']} (has {v['questions']})\n"
    kept = "kept" if v["kept"] else "not kept: it did not beat hybrid"
    kinds = v.get("kinds") or {}
    others = "".join(f", {k} {r:.3f}" for k, r in kinds.items() if k != v.get("kind"))
    kind = f"{v['kind']} " if kinds else ""
    return (f"ranker: cross-validated Recall@{v['k']} {v['hybrid']:.3f} -> {kind}{v['ranker']:.3f}{others} on "
            f"{v['questions']} people's questions ({v['folds']} folds); {kept}\n")


def _evidence_gate_line(settings: dict) -> str:
    v = settings.get("evidence_gate_validation")
    if not v:
        return ""
    if "reason" in v:
        return f"evidence gate: not fitted: {v['reason']} (has {v['questions']})\n"
    kept = "kept" if v["kept"] else "not kept: it lost as many answerable questions as it stopped unanswerable ones"
    return (f"evidence gate: cross-validated, says \"not found\" on {v['abstained']:.0%} of {v['questions']} "
            f"people's questions with their documents excluded and answers {v['answered']:.0%} of the "
            f"{v['answerable']} whose passages were retrieved ({v['folds']} folds); {kept}\n")


def _reader_line(settings: dict) -> str:
    v = settings.get("reader_validation")
    if not v:
        return ""
    kept = "kept" if settings.get("reader_f1_gain", 0) > 0 else "not kept: it did not beat the active reader"
    return (f"reader: validation F1 {v['before']['f1']:.3f} -> {v['after']['f1']:.3f}, answered "
            f"{v['before']['answered']:.0%} -> {v['after']['answered']:.0%} on {v['after']['questions']} held-out "
            f"questions; {kept}\n")


def _closed_book_line(settings: dict) -> str:
    v = settings.get("closed_book_validation")
    if not v:
        return ""
    return (f"closed-book reader (for kg eval --arms ft): validation F1 {v['before']['f1']:.3f} -> {v['after']['f1']:.3f}, "
            f"answered {v['before']['answered']:.0%} -> {v['after']['answered']:.0%} on {v['after']['questions']} "
            "held-out questions, no sources\n")


def rephrased(counts: dict[str, int]) -> str:
    """``kg feedback --generate --rephrase``'s summary line."""
    return (f"rephrased {counts['kept']} of {counts['asked']} generated question(s) ({counts['rejected']} rejected: a "
            f"name dropped, the answer given or a second question asked; {counts['failed']} unusable replies); {counts['added']} new AI "
            "feedback record(s)")


def judged(counts: dict[str, int], path) -> str:
    """``kg feedback --judge``'s summary line."""
    return (f"judged {counts['asked']} question(s) from {path}: {counts['good']} good, {counts['partly']} partly, "
            f"{counts['bad']} bad, {counts['unsure']} unsure (not stored), {counts['not_found']} not answered; "
            f"{counts['added']} new AI feedback record(s)")
