"""A user's own folder as an eval dataset: gold documents keyed by relative path, unanswerable questions."""
from __future__ import annotations

from pathlib import Path

import pytest

from kg.errors import InputError
from kg.graph import KnowledgeGraph
from kg.model import Document
from kgreason.eval.datasets import parse_question
from kgreason.eval.scoring import DocKeys, answer_scores


def _graph(sources: list[str]) -> KnowledgeGraph:
    docs = [Document.from_text(f"text of {s}", source=s, title=Path(s).stem) for s in sources]
    return KnowledgeGraph(documents={d.id: d for d in docs})


def test_three_index_files_are_three_gold_documents(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    graph = _graph(["docs/index.md", "docs/embeddings/index.md", "docs/plugins/index.md", "docs/usage.md"])
    keys = DocKeys(graph, [root], tmp_path / "graph")  # sources are stored relative to the graph's parent
    by_source = {d.source: keys.key[d.id] for d in graph.documents.values()}
    assert by_source == {"docs/index.md": "index.md", "docs/embeddings/index.md": "embeddings/index.md",
                         "docs/plugins/index.md": "plugins/index.md", "docs/usage.md": "usage.md"}
    assert keys.gold(["plugins/index.md", "usage", "usage.md"]) == ("plugins/index.md", "usage.md")
    assert keys.unresolved(["index", "plugins/index.md", "missing.md"]) == ["index", "missing.md"]  # index: ambiguous


def test_corpus_record_ids_stay_the_keys():
    doc = Document.from_text("x", source="/data/corpus.jsonl#r7", title="X", external_id="r7")
    keys = DocKeys(KnowledgeGraph(documents={doc.id: doc}), [Path("/data")])
    assert keys.key[doc.id] == "r7" and keys.gold(["r7"]) == ("r7",)


@pytest.mark.parametrize("obj", [{"question": "Who is the CEO?", "answers": []},
                                 {"question": "Who is the CEO?", "unanswerable": True}])
def test_a_question_can_be_marked_unanswerable(obj):
    q = parse_question(obj, "q.jsonl", 4)
    assert q.answers == () and q.groups() == {"type": "unanswerable"}


def test_abstaining_on_an_unanswerable_question_is_correct():
    assert answer_scores("", False, ()) == (1.0, 1.0)
    assert answer_scores("Bob", True, ()) == (0.0, 0.0)
    assert answer_scores("Ada Lovelace", True, ("Ada Lovelace",)) == (1.0, 1.0)


def test_contradictory_or_missing_answers_are_named():
    with pytest.raises(InputError, match=r"q.jsonl:2: field 'answers': a question marked unanswerable has gold answers"):
        parse_question({"question": "Q?", "answers": ["x"], "unanswerable": True}, "q.jsonl", 2)
    with pytest.raises(InputError, match=r"q.jsonl:3: field 'answers': missing; expected a list of gold answer strings "
                                         r"\(an empty list, or \"unanswerable\": true"):
        parse_question({"question": "Q?"}, "q.jsonl", 3)
