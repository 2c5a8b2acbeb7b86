"""The Retriever on a tiny hand-made graph with the deterministic HashingEmbedder and a fixed finder."""
from __future__ import annotations

import pytest

from kg.config import RETRIEVAL_MODES, HybridConfig, RetrieveConfig
from kg.embedding import HashingEmbedder
from kg.errors import ConfigError
from kg.graph import KnowledgeGraph, assemble_graph
from kg.model import Document, DocumentExtraction, Entity, Mention, Passage, RawRelation, Resolution, entity_id
from reason.retrieve import Retriever

# title, text, [(mention text, label)], [(subject, predicate, object)]
DOCS = [
    ("Blind Shaft", "Blind Shaft is a 2003 film directed by Li Yang.", [("Li Yang", "PERSON")],
     [("Blind Shaft", "directed_by", "Li Yang")]),
    ("Li Yang", "Li Yang is a Chinese film director born in Xian.", [("Xian", "GPE")], [("Li Yang", "born_in", "Xian")]),
    ("Xian", "Xian is a city in Shaanxi province.", [("Shaanxi", "GPE")], [("Xian", "located_in", "Shaanxi")]),
    ("Paris", "Paris is the capital of France.", [("France", "GPE")], [("Paris", "capital_of", "France")]),
    ("Tea", "Tea is a drink brewed from leaves.", [], []),
    ("Tea (copy)", "Tea is a drink brewed from leaves.", [], []),
]
TYPES = {"Blind Shaft": "WORK_OF_ART", "Li Yang": "PERSON", "Xian": "GPE", "Shaanxi": "GPE", "Paris": "GPE",
         "France": "GPE", "Tea": "CONCEPT", "Tea (copy)": "CONCEPT"}


def _document(title, text, spans, facts):
    d = Document.from_text(text, source=f"{title}.txt", title=title)
    p = Passage(f"{d.id}:p0", d.id, 0, 0, len(text), text)
    found = {title: (text.find(title.split(" (")[0]), "title")} | {s: (text.find(s), "ner") for s, _ in spans}
    mentions = {name: Mention(f"{d.id}:m{start}", d.id, p.id, start, start + len(name.split(" (")[0]), name, TYPES[name], kind)
                for name, (start, kind) in found.items()}
    rels = tuple(RawRelation(mentions[s].id, pred, mentions[o].id, p.id, 0, len(text), 0.8, "svo") for s, pred, o in facts)
    return d, p, DocumentExtraction(d.id, tuple(mentions.values()), rels)


@pytest.fixture(scope="module")
def graph() -> KnowledgeGraph:
    parts = [_document(*x) for x in DOCS]
    mentions = [m for _, _, ex in parts for m in ex.mentions]
    ents = {m.text: Entity(entity_id(m.text, m.label), m.text, m.label) for m in mentions}
    res = Resolution(tuple(ents.values()), {m.id: ents[m.text].id for m in mentions})
    return assemble_graph([d for d, _, _ in parts], [p for _, p, _ in parts], [ex for _, _, ex in parts], res)


class FixedFinder:
    def __init__(self, mentions):
        self.mentions = mentions

    def find(self, text):
        return list(self.mentions)


@pytest.fixture(scope="module")
def retriever(graph) -> Retriever:
    return Retriever(graph, HashingEmbedder(dim=512), FixedFinder([("Blind Shaft", "WORK_OF_ART")]))


QUESTION = "Where was the director of Blind Shaft born?"


def titles(retrieval):
    return [e.title for e in retrieval.evidence]


def test_unknown_mode_is_a_config_error(retriever, graph):
    with pytest.raises(ConfigError, match="retrieve.mode: expected one of bm25, dense, graph, hybrid, got 'magic'"):
        retriever.retrieve(QUESTION, mode="magic")
    with pytest.raises(ConfigError, match="retrieve.mode: expected one of .*, got 'x'"):
        Retriever(graph, HashingEmbedder(dim=8), config=RetrieveConfig(mode="x"))
    with pytest.raises(ConfigError, match="retrieve.k: expected at least 1 passage, got 0"):
        retriever.retrieve(QUESTION, k=0)


def test_dense_and_bm25_find_the_question_entity_page_first(retriever):
    for mode in ("dense", "bm25"):
        r = retriever.retrieve(QUESTION, k=3, mode=mode)
        assert r.mode == mode and titles(r)[0] == "Blind Shaft"
        # dense ranks every passage; keyword search only those sharing a word with the question
        assert [e.rank for e in r.evidence] == ([1, 2, 3] if mode == "dense" else [1, 2])
        assert all(e.mode == mode for e in r.evidence)
        assert [e.score for e in r.evidence] == sorted((e.score for e in r.evidence), reverse=True)
        assert mode == "dense" or all(e.score > 0 for e in r.evidence)
        assert r.linked == ()


def test_hybrid_follows_the_bridge_to_the_director_page(retriever):
    r = retriever.retrieve(QUESTION, k=2)
    assert r.mode == "hybrid"
    assert titles(r) == ["Blind Shaft", "Li Yang"]
    assert [(l.mention, l.name, l.method) for l in r.linked] == [("Blind Shaft", "Blind Shaft", "exact")]


def test_hybrid_chain_cites_the_supporting_sentences(retriever):
    r = retriever.retrieve(QUESTION, k=4)
    assert titles(r)[:2] == ["Blind Shaft", "Li Yang"] and "Xian" in titles(r)
    assert [(h.subject, h.predicate, h.object) for h in r.chain] == [
        ("Blind Shaft", "directed_by", "Li Yang"), ("Li Yang", "born_in", "Xian")]
    assert r.chain[1].evidence.quote == "Li Yang is a Chinese film director born in Xian."
    assert r.chain[1].evidence.title == "Li Yang" and r.chain[1].evidence.source == "Li Yang.txt"


def test_graph_mode_ranks_by_pagerank_from_the_linked_entity(graph):
    # only the linked entity seeds the walk: passages rank by their distance from it
    config = RetrieveConfig(hybrid=HybridConfig(facts=0, passage_seed=0.0))
    walker = Retriever(graph, HashingEmbedder(dim=64), FixedFinder([("Blind Shaft", "WORK_OF_ART")]), config)
    r = walker.retrieve(QUESTION, k=4, mode="graph")
    # Paris is not reachable from the seed: no PageRank mass, so never ranked
    assert titles(r) == ["Blind Shaft", "Li Yang", "Xian"]
    assert r.evidence[0].score > r.evidence[1].score > r.evidence[2].score > 0.0


def test_graph_mode_seeds_facts_and_passages_by_default(retriever):
    r = retriever.retrieve(QUESTION, k=2, mode="graph")
    assert titles(r) == ["Blind Shaft", "Li Yang"]


def test_answer_candidates_exclude_question_entities(retriever):
    r = retriever.retrieve(QUESTION, k=3)
    names = [e.name for e in r.entities]
    assert "Blind Shaft" not in names
    assert names[0] == "Li Yang"
    assert set(names[:3]) == {"Li Yang", "Xian", "Shaanxi"}


def test_near_duplicate_passages_are_removed(retriever):
    r = retriever.retrieve("What is tea brewed from?", k=3, mode="dense")
    assert titles(r)[0] in {"Tea", "Tea (copy)"}
    assert titles(r).count("Tea") + titles(r).count("Tea (copy)") == 1
    assert len(r.evidence) == 3


def test_timings_per_stage(retriever):
    r = retriever.retrieve(QUESTION, k=2)
    assert {"embed", "first_hop", "link", "graph", "bridge", "rank", "total"} <= set(r.timings)
    assert r.timings["total"] == pytest.approx(sum(v for key, v in r.timings.items() if key != "total"))


def test_every_mode_retrieves_and_an_unknown_one_is_refused(retriever):
    assert RETRIEVAL_MODES == ("bm25", "dense", "graph", "hybrid")
    for mode in RETRIEVAL_MODES:
        assert retriever.retrieve(QUESTION, k=1, mode=mode).evidence
    with pytest.raises(ConfigError, match="retrieve.mode: expected one of bm25, dense, graph, hybrid, got 'fast'"):
        retriever.retrieve(QUESTION, mode="fast")


def test_retrieval_records_its_settings_and_k_defaults_to_the_setting(graph):
    config = RetrieveConfig(k=2, hybrid=HybridConfig(ppr=0.7))
    r = Retriever(graph, HashingEmbedder(dim=64), FixedFinder([("Blind Shaft", "WORK_OF_ART")]), config).retrieve(QUESTION)
    assert len(r.evidence) == 2
    assert r.settings["k"] == 2 and r.settings["hybrid"]["ppr"] == 0.7 and r.settings["link"]["fuzzy_threshold"] == 90.0


def _doc_id(graph, title: str) -> str:
    return next(d.id for d in graph.documents.values() if d.title == title)


@pytest.mark.parametrize("mode", RETRIEVAL_MODES)
def test_excluded_documents_are_never_retrieved_and_recorded(retriever, graph, mode):
    li_yang = _doc_id(graph, "Li Yang")
    r = retriever.retrieve(QUESTION, k=6, mode=mode, exclude={li_yang})
    # 5 left, the tea copy deduplicated; keyword search finds only the one left sharing a word
    assert "Li Yang" not in titles(r) and len(r.evidence) == (1 if mode == "bm25" else 4)
    assert r.settings["exclude"] == [li_yang]
    assert "exclude" not in retriever.retrieve(QUESTION, k=1, mode=mode).settings


def test_excluded_facts_leave_the_chain_and_hidden_entities_are_not_linked(retriever, graph):
    r = retriever.retrieve(QUESTION, k=4, exclude={_doc_id(graph, "Li Yang")})
    # "Li Yang born_in Xian" is stated only in the excluded document; "directed_by" is not
    assert [(h.subject, h.predicate, h.object) for h in r.chain] == [("Blind Shaft", "directed_by", "Li Yang")]
    r = retriever.retrieve(QUESTION, k=4, exclude={_doc_id(graph, "Blind Shaft")})
    assert (r.linked, r.chain) == ((), ())  # nothing left mentions Blind Shaft
    assert titles(r)[0] == "Li Yang"


def test_works_without_stored_vectors_or_finder(graph):
    r = Retriever(graph, HashingEmbedder(dim=64)).retrieve("Who directed Blind Shaft?", k=1)
    assert titles(r) == ["Blind Shaft"]
    assert [l.method for l in r.linked] == ["exact"]  # found by the name finder alone


# ---- end to end: the real spaCy pipeline and MiniLM on samples/ ----------------------------------

SAMPLES = __import__("pathlib").Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="session")
def sample_kb(tmp_path_factory):
    import kgreason

    out = tmp_path_factory.mktemp("kg-samples")
    kgreason.build([str(SAMPLES / "corpus")], out, progress=False)
    return kgreason.open(out)


def _sample_recall(kb, mode: str, k: int = 5) -> float:
    import json

    external = {d.id: d.external_id for d in kb.graph.documents.values()}
    questions = [json.loads(x) for x in (SAMPLES / "questions.jsonl").read_text().splitlines() if x.strip()]
    total = 0.0
    for q in questions:
        docs = list(dict.fromkeys(external[e.doc_id] for e in kb.retrieve(q["question"], k=k, mode=mode).evidence))
        total += len(set(docs[:k]) & set(q["supporting_ids"])) / len(q["supporting_ids"])
    return total / len(questions)


@pytest.mark.e2e
def test_samples_hybrid_finds_the_gold_passages(sample_kb):
    hybrid = _sample_recall(sample_kb, "hybrid")
    assert hybrid >= 0.9
    assert hybrid >= _sample_recall(sample_kb, "bm25")
    r = sample_kb.retrieve("What is the seat of the county where Van Hook Township is located?", k=5)
    assert "Van Hook Township" in [l.name for l in r.linked]
    gold = {"Van Hook Township, Mountrail County, North Dakota", "Mountrail County Courthouse"}  # the seat: Stanley
    assert gold <= {e.title for e in r.evidence}
    assert r.timings["total"] > 0 and r.mode == "hybrid"


class Prefers:
    """A reranker that scores passages containing ``word`` high and records what it read."""

    def __init__(self, word):
        self.word, self.name, self.seen = word, f"prefers:{word}", []

    def score(self, question, passages):
        import numpy as np
        self.seen.append(list(passages))
        return np.array([10.0 if self.word in p else 0.0 for p in passages])


def test_a_reranker_rescores_hybrid_candidates_and_is_recorded(graph):
    plain = Retriever(graph, HashingEmbedder(dim=512), FixedFinder([("Blind Shaft", "WORK_OF_ART")]))
    base = [e.title for e in plain.retrieve(QUESTION, k=3).evidence]
    reranker = Prefers("Paris is the capital")
    r = Retriever(graph, HashingEmbedder(dim=512), FixedFinder([("Blind Shaft", "WORK_OF_ART")]),
                  RetrieveConfig(rerank_weight=5.0), reranker)
    got = r.retrieve(QUESTION, k=3)
    assert "Paris" not in base and [e.title for e in got.evidence][0] == "Paris"
    assert got.settings["reranker"] == "prefers:Paris is the capital"
    assert all(t.startswith(("Blind Shaft\n", "Li Yang\n", "Xian\n", "Paris\n", "Tea")) for t in reranker.seen[0])  # title, then text


def test_a_reranker_leaves_other_modes_and_weight_zero_alone(graph):
    plain = Retriever(graph, HashingEmbedder(dim=512), FixedFinder([("Blind Shaft", "WORK_OF_ART")]))
    reranker = Prefers("Paris is the capital")
    r = Retriever(graph, HashingEmbedder(dim=512), FixedFinder([("Blind Shaft", "WORK_OF_ART")]),
                  RetrieveConfig(rerank_weight=0.0), reranker)
    assert [e.passage_id for e in r.retrieve(QUESTION, k=3).evidence] == [e.passage_id for e in plain.retrieve(QUESTION, k=3).evidence]
    assert "reranker" not in r.retrieve(QUESTION, k=3, mode="dense").settings


def test_rerank_settings_are_checked():
    with pytest.raises(ConfigError, match="retrieve.rerank_candidates: expected at least 1 passage, got 0"):
        RetrieveConfig(rerank_candidates=0)
    with pytest.raises(ConfigError, match="retrieve.rerank_weight: expected a weight of 0 or more"):
        RetrieveConfig(rerank_weight=-1.0)


def test_first_hop_scales_from_its_candidates_equal_the_scales_over_every_passage(graph, monkeypatch):
    # standardising over the 3 best of each signal, read from the head of each ranking, must give
    # the scores a pass over all six passages gives (question and two comparison sub-queries)
    import numpy as np

    from reason.fusion import top_standardize
    from reason.retrieve import FirstHop

    monkeypatch.setattr(FirstHop, "DEPTH", 3)
    config = RetrieveConfig(hybrid=HybridConfig(candidates=1))
    r = Retriever(graph, HashingEmbedder(dim=64), FixedFinder([]), config)
    question = "Which film is older, Blind Shaft or Tea?"
    hop = r.first_hop(question)
    assert len(hop.qv) == 3 and len(hop.rows) < len(r.passage_ids)  # two sub-queries; candidates, not all
    every = np.arange(len(r.passage_ids))
    queries = [question, *__import__("reason.question", fromlist=["x"]).analyse_question(question).subqueries]
    parts = [top_standardize(r.passage_index.scores(v), 3) + config.hybrid.bm25 * top_standardize(r.bm25.scores(q), 3)
             for q, v in zip(queries, hop.qv)]
    want = parts[0] + config.hybrid.subquery * np.maximum.reduce([np.zeros(len(every)), *parts[1:]])
    assert np.allclose(hop.at(every), want)
    assert np.allclose(hop.at(every, mode="graph"), top_standardize(r.passage_index.scores(hop.qv[0]), 3))


def test_hybrid_ranks_only_candidates_and_passages_the_walk_reaches(graph):
    # one candidate per signal: Paris and Tea are neither near the question nor reached from
    # Blind Shaft, so they are never scored; Xian, two hops away, is (by the walk)
    config = RetrieveConfig(hybrid=HybridConfig(candidates=1))
    r = Retriever(graph, HashingEmbedder(dim=64), FixedFinder([("Blind Shaft", "WORK_OF_ART")]), config)
    got = titles(r.retrieve(QUESTION, k=6))
    assert got[0] == "Blind Shaft" and "Xian" in got and "Paris" not in got and "Tea" not in got


@pytest.mark.parametrize("mode", RETRIEVAL_MODES)
def test_retrieve_many_gives_exactly_what_retrieve_gives_though_vectors_depend_on_their_call(graph, mode,
                                                                                          batch_sensitive_embedder):
    questions = [QUESTION, "Which is older, Blind Shaft or Paris?", "What is tea brewed from?", "Where is Xian?"]
    r = Retriever(graph, batch_sensitive_embedder, FixedFinder([("Blind Shaft", "WORK_OF_ART")]))
    one_by_one = [r.retrieve(q, k=6, mode=mode) for q in questions]
    many = r.retrieve_many(questions, k=6, mode=mode)
    key = lambda x: [(e.passage_id, round(e.score, 9)) for e in x.evidence]  # noqa: E731
    assert [key(x) for x in many] == [key(x) for x in one_by_one]
    assert [x.chain for x in many] == [x.chain for x in one_by_one]
    if mode == "dense":  # the embedder does matter here: all four questions in one call rank otherwise
        import numpy as np

        together = r.embedder.embed(questions)
        alone = np.vstack([r.embedder.embed([q]) for q in questions])
        assert [r.passage_index.search_rows(together[i:i + 1], 6)[0][0].tolist() for i in range(4)] != \
            [r.passage_index.search_rows(alone[i:i + 1], 6)[0][0].tolist() for i in range(4)]


def test_a_graph_larger_than_the_floor_sample_is_scored_where_needed(graph):
    # floor_sample=3 of 6 passages: scores come from gathered rows and a sampled bridge floor, and
    # the first-hop scores of any passage are the same as when the graph is scored whole
    import numpy as np

    finder = FixedFinder([("Blind Shaft", "WORK_OF_ART")])
    sampled = Retriever(graph, HashingEmbedder(dim=64), finder, RetrieveConfig(hybrid=HybridConfig(floor_sample=3)))
    whole = Retriever(graph, HashingEmbedder(dim=64), finder)
    assert not sampled.scored_whole and whole.scored_whole and len(sampled._sample) == 3
    every = np.arange(len(graph.passages))
    assert np.allclose(sampled.first_hop(QUESTION).at(every), whole.first_hop(QUESTION).at(every))
    got = titles(sampled.retrieve(QUESTION, k=3))
    assert got[0] == "Blind Shaft" and "Li Yang" in got
