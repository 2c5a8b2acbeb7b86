"""Training questions generated from a graph's own facts, with their gold answers and passages: AI
feedback that needs no LLM.

- ``single``: a fact's evidence sentence with its object replaced by "which <kind>" ("Li Yang was born
  in which place?" -> Xian);
- ``multi``: two facts chained through a bridge entity, the bridge described by the first question
  ("The person that answers "Blind Shaft was directed by which person?" was born in which place?");
- ``comparison``: two subjects whose facts with the same wording end in dates ("Who was born on the
  earlier date, A or B?").

A question is rejected when its answer is written in it, when its subject is not named in it (a pronoun
sentence), or when more than one entity could answer it (the subject has that predicate towards
several objects). Generation is deterministic: the same graph gives the same questions.

>>> from kg.graph import KnowledgeGraph
>>> generate_questions(KnowledgeGraph())
[]
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from kg.graph import KnowledgeGraph
from kg.model import Entity, Provenance, Relation
from kg.text import name_key

_KIND = {"PERSON": "person", "GPE": "place", "LOC": "place", "FAC": "place", "DATE": "date", "ORG": "organisation",
         "NORP": "group", "WORK_OF_ART": "work", "EVENT": "event", "PRODUCT": "product", "LANGUAGE": "language"}
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
MAX_SENTENCE = 200  # characters: longer sentences make rambling questions


@dataclass(frozen=True)
class GeneratedQuestion:
    """A question made from graph facts: its gold answer, gold passages and the facts used."""

    question: str
    answer: str
    passages: tuple[str, ...]
    kind: str  # single | multi | comparison
    facts: tuple[str, ...]


def generate_questions(graph: KnowledgeGraph, limit: int | None = None) -> list[GeneratedQuestion]:
    """Single-hop, multi-hop and comparison questions from ``graph`` (see the module docstring),
    in that order, each kind sorted by its facts' ids; at most ``limit`` in all."""
    singles = _single_hop(graph)
    out = [q for q, _ in singles] + _multi_hop(graph, singles) + _comparisons(graph)
    return out[:limit] if limit is not None else out


# ---- single hop -------------------------------------------------------------------------------------


def _single_hop(graph: KnowledgeGraph) -> list[tuple[GeneratedQuestion, Relation]]:
    objects: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in graph.relations.values():
        objects[(r.subject, r.predicate)].add(r.object)
    out = []
    for rid in sorted(graph.relations):
        r = graph.relations[rid]
        if len(objects[(r.subject, r.predicate)]) > 1 or not r.evidence:
            continue  # several entities could answer
        if graph.entities[r.object].type not in _KIND:
            continue  # concept noun phrases ("the settlement") make vague questions and answers
        q = _cloze(graph, r, r.evidence[0])
        if q is not None:
            out.append((GeneratedQuestion(q, graph.entities[r.object].name, (r.evidence[0].passage_id,), "single",
                                          (r.id,)), r))
    return out


def _cloze(graph: KnowledgeGraph, r: Relation, prov: Provenance) -> str | None:
    """The evidence sentence with the object named as "which <kind>", or None when it makes a bad question."""
    subject, obj = graph.entities[r.subject], graph.entities[r.object]
    sentence = " ".join(prov.sentence.split())
    if len(sentence) > MAX_SENTENCE or not _find(sentence, subject):
        return None
    span = _find(sentence, obj)
    if span is None:
        return None
    question = sentence[:span[0]] + f"which {_KIND[obj.type]}" + sentence[span[1]:]
    question = question.rstrip(" .!;:") + "?"
    return None if _names(question, obj) else question


def _find(sentence: str, entity: Entity) -> tuple[int, int] | None:
    """Where the entity's name or an alias is written in ``sentence`` (whole words, any case)."""
    for name in (entity.name, *entity.aliases):
        m = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", sentence, re.IGNORECASE)
        if m and name_key(name):
            return m.span()
    return None


def _names(question: str, entity: Entity) -> bool:
    key = name_key(entity.name)
    return bool(key) and f" {key} " in f" {name_key(question)} "


# ---- multi hop --------------------------------------------------------------------------------------


def _multi_hop(graph: KnowledgeGraph, singles: list[tuple[GeneratedQuestion, Relation]]) -> list[GeneratedQuestion]:
    """First question's answer (the bridge) described inside the second question."""
    by_answer: dict[str, list[tuple[GeneratedQuestion, Relation]]] = defaultdict(list)
    for q, r in singles:
        by_answer[r.object].append((q, r))
    out = []
    for q2, r2 in singles:
        for q1, r1 in by_answer.get(r2.subject, [])[:1]:  # facts ending at the second fact's subject
            if r1.subject == r2.object or r1.evidence[0].sentence == r2.evidence[0].sentence:
                continue  # a loop, or both facts from one sentence: no second hop to make
            bridge = graph.entities[r2.subject]
            span = _find(q2.question, bridge)
            if span is None or bridge.type not in _KIND or bridge.type == "DATE":
                continue
            described = f'the {_KIND[bridge.type]} that answers "{q1.question}"'
            before = re.sub(r"(?i)\bthe\s+$", "", q2.question[:span[0]])  # no "the the person ..."
            text = before + described + q2.question[span[1]:]
            text = text[0].upper() + text[1:]
            if not _names(text, bridge) and not _names(text, graph.entities[r2.object]):
                out.append(GeneratedQuestion(text, q2.answer, (*q1.passages, *q2.passages), "multi", (r1.id, r2.id)))
    return out


# ---- comparisons ------------------------------------------------------------------------------------


def _comparisons(graph: KnowledgeGraph) -> list[GeneratedQuestion]:
    """Pairs of subjects whose facts share wording ("was born on") and end in different years."""
    groups: dict[str, list[tuple[int, Entity, Relation]]] = defaultdict(list)
    for rid in sorted(graph.relations):
        r = graph.relations[rid]
        found = _dated(graph, r)
        if found is not None:
            groups[found[0]].append((found[1], graph.entities[r.subject], r))
    out = []
    for wording, items in sorted(groups.items()):
        for (ya, a, ra), (yb, b, rb) in zip(items, items[1:]):
            if ya == yb or a.id == b.id:
                continue
            first = a if ya < yb else b
            out.append(GeneratedQuestion(f"Who {wording} the earlier date, {a.name} or {b.name}?", first.name,
                                         (ra.evidence[0].passage_id, rb.evidence[0].passage_id), "comparison",
                                         (ra.id, rb.id)))
    return out


def _dated(graph: KnowledgeGraph, r: Relation) -> tuple[str, int] | None:
    """(the words between subject and date, the year) for a fact whose object is a dated entity."""
    obj, subject = graph.entities[r.object], graph.entities[r.subject]
    year = _YEAR.search(obj.name)
    if obj.type != "DATE" or year is None or not r.evidence or subject.type != "PERSON":
        return None
    sentence = r.evidence[0].sentence
    s, o = _find(sentence, subject), _find(sentence, obj)
    if s is None or o is None or o[0] <= s[1]:
        return None
    between = " ".join(sentence[s[1]:o[0]].split())
    if not between or len(between) > 40 or re.search(r"[\d,;()]", between):
        return None
    return between, int(year.group(1))
