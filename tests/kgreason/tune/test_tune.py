"""kg tune's parts on tiny models built here, its gate and versions, and the data it trains on."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from kg.errors import ConfigError
from kg.graph import VectorTable
from kg.model import Feedback
from kgreason.tune import versions
from kgreason.tune.data import TrainingQuestion, split, training_questions, with_query_vectors
from kgreason.tune.embedder import base_model_folder, export_onnx, train_embedder


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT sentence-transformers folder with the packaged MiniLM tokenizer."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-st")
    tok = AutoTokenizer.from_pretrained(str(base_model_folder()))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder / "bert")
    tok.save_pretrained(folder / "bert")
    word = models.Transformer(str(folder / "bert"), max_seq_length=64)
    model = SentenceTransformer(modules=[word, models.Pooling(32, "mean")])
    model.save(str(folder / "st"))
    return folder / "st"


TRIPLETS = [(f"who wrote book {i}?", f"book {i} was written by author {i}.", f"book {i + 1} is long.") for i in range(8)]


def _vectors(folder: Path, texts):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder)).encode(texts, normalize_embeddings=True)


def _ranking_accuracy(folder: Path) -> float:
    """Share of questions whose own passage scores above every other passage of the set."""
    q = _vectors(folder, [t[0] for t in TRIPLETS])
    p = _vectors(folder, [t[1] for t in TRIPLETS])
    return float(np.mean((q @ p.T).argmax(axis=1) == np.arange(len(TRIPLETS))))


def test_training_ranks_each_question_s_passage_first_and_is_seeded(tiny_st, tmp_path):
    before = _ranking_accuracy(tiny_st)
    a = train_embedder(tiny_st, TRIPLETS, tmp_path / "a", steps=30, batch_size=4, lr=1e-3, seed=1)
    b = train_embedder(tiny_st, TRIPLETS, tmp_path / "b", steps=30, batch_size=4, lr=1e-3, seed=1)
    assert before < 1.0 and _ranking_accuracy(a) == 1.0
    assert np.array_equal(_vectors(a, ["x"]), _vectors(b, ["x"]))  # same data and seed: same model


def test_export_gives_an_onnx_model_the_fast_embedder_runs(tiny_st, tmp_path):
    from kg.onnx_embedding import OnnxMiniLMEmbedder

    onnx = export_onnx(tiny_st, tmp_path / "onnx")
    assert (tmp_path / "onnx" / "tokenizer.json").is_file()
    fast = OnnxMiniLMEmbedder(model=str(onnx), quantize="none").embed(["who wrote book 3?", "a"])
    slow = _vectors(tiny_st, ["who wrote book 3?", "a"])
    assert fast.shape == (2, 32) and float((fast * slow).sum(axis=1).min()) > 0.999


def _feedback(q, verdict="good", source="human", relevant=("p1",)):
    return Feedback(q, "x", verdict, source, relevant=relevant, created="T")


def test_training_questions_keep_relevant_passages_in_the_graph_and_prefer_people():
    records = [_feedback("q1", source="ai:graph-questions", relevant=("p1",)), _feedback("q1", relevant=("p2",)),
               _feedback("q2", "bad"), _feedback("q3", relevant=("gone",)), _feedback("q4", "partly"),
               Feedback("q5", "Paris, France", "partly", relevant=("p1",), correction=" Paris ", created="T")]
    got = training_questions(records, {"p1", "p2"})
    # the answer a reader learns: a good verdict's answer, a correction, none for "partly" without one
    assert got == [TrainingQuestion("q1", ("p2",), "human", "x"), TrainingQuestion("q4", ("p1",), "human", ""),
                   TrainingQuestion("q5", ("p1",), "human", "Paris")]


def test_the_split_is_by_question_and_stable():
    qs = [TrainingQuestion(f"question {i}", ("p",), "human") for i in range(200)]
    train, val = split(qs, 0.2)
    assert 25 <= len(val) <= 55 and not {q.question for q in train} & {q.question for q in val}
    assert split(qs[:100], 0.2)[1] == [q for q in val if q in qs[:100]]  # more data never moves a question


def test_query_vectors_are_made_as_retrieval_makes_them_one_call_per_question(batch_sensitive_embedder):
    from types import SimpleNamespace

    from reason.retrieve import queries

    qs = [TrainingQuestion(q, ("p",), "human") for q in
          ("Who was born first, Ada Lovelace or Charles Babbage?", "Where is Xian?", "What is tea brewed from?")]
    seen = []
    got = list(with_query_vectors(SimpleNamespace(embedder=batch_sensitive_embedder), qs, seen.append))
    assert [q for q, _ in got] == qs and seen == [1, 1, 1] and [len(v) for _, v in got] == [3, 1, 1]
    for q, vectors in got:  # exactly the vectors kb.retrieve would make, not those of a batch of questions
        assert np.array_equal(vectors, batch_sensitive_embedder.embed(queries(q.question)))
    assert not np.allclose(got[1][1], batch_sensitive_embedder.embed([qs[1].question, qs[2].question])[:1])


def _version(graph_dir, number, parent, activated=True):
    staging = versions.staging_dir(graph_dir)
    versions.save_vectors(staging, {"passage": VectorTable(("p1",), np.ones((1, 2), dtype=np.float32), "m")})
    return versions.commit(graph_dir, staging, {"version": number, "parent": parent, "activated": activated})


def test_versions_activate_list_and_roll_back(tmp_path):
    _version(tmp_path, 1, 0)
    versions.activate(tmp_path, 1)
    _version(tmp_path, 2, 1)
    versions.activate(tmp_path, 2)
    assert [v["version"] for v in versions.list_versions(tmp_path)] == [1, 2]
    assert versions.rollback(tmp_path) == 1 and versions.active_version(tmp_path) == 1
    assert versions.rollback(tmp_path) == 0
    with pytest.raises(ConfigError, match="the base models are active; there is nothing to roll back"):
        versions.rollback(tmp_path)
    with pytest.raises(ConfigError, match=r"model version 7: no such version in .*; expected one of: 1, 2"):
        versions.activate(tmp_path, 7)
    assert not list((tmp_path / "models").glob(".staging-*"))


def test_an_interrupted_run_leaves_no_version_and_the_next_one_cleans_up(tmp_path):
    staging = versions.staging_dir(tmp_path)
    (staging / "half.bin").write_bytes(b"x")  # as if Ctrl-C struck here
    assert versions.list_versions(tmp_path) == [] and versions.active_version(tmp_path) == 0
    versions.staging_dir(tmp_path)
    assert len(list((tmp_path / "models").glob(".staging-*"))) == 1
    assert json.loads(json.dumps(versions.list_versions(tmp_path))) == []


@pytest.mark.e2e
def test_kg_tune_end_to_end_on_samples(tmp_path, capsys):
    from kgreason.cli import main

    samples = Path(__file__).resolve().parents[3] / "samples"
    g = tmp_path / "g"
    assert main(["build", str(samples / "corpus"), "--out", str(g), "--no-progress"]) == 0
    assert main(["tune", str(g), "--no-progress"]) == 2  # no feedback yet
    assert "kg tune: error: kg tune: 0 training and 0 validation questions" in capsys.readouterr().err
    assert main(["feedback", str(g), "--generate"]) == 0 and main(["feedback", str(g), "--import", str(samples / "questions.jsonl")]) == 0
    capsys.readouterr()
    assert main(["tune", str(g), "--steps", "4", "--reranker-steps", "3", "--reader-steps", "0", "--no-progress", "--json"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"kg tune: nothing can be judged: the embedder, reranker and reader each needs at least 10 held-out "
                     r"questions people asked \(labels, ratings or judged answers\), has [0-3]:", err)  # of 8 labels
    assert "the learned ranker and the evidence gate need 20 people's questions, has 8." in err
    assert main(["tune", str(g), "--steps", "4", "--reranker-steps", "3", "--reader-steps", "0", "--trust-generated",
                 "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == 1 and report["train_questions"] >= 10 and 0 <= report["recall_after"] <= 1
    assert set(report["settings"]["validation_recall_per_part"]) == {"embedder", "reranker"}
    assert report["settings"]["ranker_validation"]["kept"] is False  # 8 people's questions: too few for a ranker
    assert main(["tune", str(g), "--activate", "1"]) == 0
    import kgreason

    kb = kgreason.open(g)
    kept = "embedder" in versions.read_manifest(versions.version_dir(g, 1))["parts"]
    assert ("models/1/onnx/model.onnx" in kb.embedder.name) == kept  # kept only if it retrieved better
    assert kb.retrieve("Where is Van Hook Township?").evidence
    assert main(["tune", str(g), "--rollback"]) == 0 and "models/1" not in kgreason.open(g).embedder.name
    assert main(["tune", str(g), "--list"]) == 0 and "  1  " in capsys.readouterr().out


# ---- the reranker ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_bert(tiny_st) -> Path:
    """The tiny BERT under the sentence-transformers folder: what a cross-encoder starts from."""
    return tiny_st.parent / "bert"


GROUPS = [(f"who wrote book {i}?", f"book {i} was written by author {i}.", (f"book {i + 1} is long.", f"author {i} sleeps."))
          for i in range(8)]


def _margin(folder: Path) -> float:
    """Mean score of each group's positive minus its best negative, by the reranker in ``folder``."""
    from reason.rerank import CrossEncoderReranker

    r = CrossEncoderReranker(folder)
    margins = []
    for q, pos, negs in GROUPS:
        s = r.score(q, [pos, *negs])
        margins.append(s[0] - s[1:].max())
    return float(np.mean(margins))


def test_reranker_training_puts_positives_above_hard_negatives_and_is_seeded(tiny_bert, tmp_path):
    from kgreason.tune.reranker import RerankGroup, train_reranker

    groups = [RerankGroup(q, p, n) for q, p, n in GROUPS]
    untrained = train_reranker(tiny_bert, groups, tmp_path / "0", steps=0, seed=1)
    a = train_reranker(tiny_bert, groups, tmp_path / "a", steps=40, batch_size=4, lr=1e-3, seed=1)
    b = train_reranker(tiny_bert, groups, tmp_path / "b", steps=40, batch_size=4, lr=1e-3, seed=1)
    assert _margin(untrained) < 0.5 < _margin(a)
    assert _margin(a) == _margin(b)  # same data and seed: same model


def test_reranker_training_needs_negatives(tiny_bert, tmp_path):
    from kgreason.tune.reranker import RerankGroup, train_reranker

    with pytest.raises(ValueError, match="at least one negative"):
        train_reranker(tiny_bert, [RerankGroup("q", "p", ())], tmp_path / "x", steps=1)


def test_a_version_with_a_reranker_opens_it_and_hybrid_retrieval_uses_it(tiny_bert, tmp_path):
    from reason.rerank import CrossEncoderReranker

    folder = tmp_path / "models" / "1"
    (folder).mkdir(parents=True)
    assert versions.open_reranker(folder) is None
    import shutil
    shutil.copytree(tiny_bert, folder / "reranker")
    assert isinstance(versions.open_reranker(folder), CrossEncoderReranker)


def test_a_rebuild_refreshes_the_active_version_s_vectors(tiny_st, tiny_corpus, hashing_config, regex_extractor, tmp_path):
    import kgreason
    from kg.vectors import build_vectors

    g = tmp_path / "g"
    kgreason.build([tiny_corpus], g, hashing_config, progress=False, extractor=regex_extractor)
    staging = versions.staging_dir(g)
    export_onnx(tiny_st, staging / "onnx")
    kb = kgreason.open(g)
    versions.save_vectors(staging, build_vectors(kb.graph, versions.open_embedder(staging)))
    versions.commit(g, staging, {"version": 1, "parent": 0, "parts": ["embedder"]})
    versions.activate(g, 1)
    (tiny_corpus / "hopper.txt").write_text("Grace Hopper wrote Compiler.\n", encoding="utf-8")
    kgreason.build([tiny_corpus], g, hashing_config, progress=False, extractor=regex_extractor)
    graph = kgreason.open(g).graph
    active = versions.load_active(g)
    assert set(active.tables["passage"].ids) == set(graph.passages) and len(graph.documents) == 4
    assert not list((g / "models" / "1").glob(".*.tmp"))


@pytest.mark.e2e
def test_kg_tune_trains_the_packaged_reader_and_keeps_it_only_if_it_reads_better(tmp_path, capsys):
    """The reader part end to end with the packaged Qwen2.5 0.5B: LoRA steps, its llama.cpp adapter, both
    readers on the held-out questions, and a manifest that agrees with the gate."""
    from kgreason.cli import main

    samples = Path(__file__).resolve().parents[3] / "samples"
    g = tmp_path / "g"
    assert main(["build", str(samples / "corpus"), "--out", str(g), "--no-progress"]) == 0
    assert main(["feedback", str(g), "--generate"]) == 0 and main(["feedback", str(g), "--import", str(samples / "questions.jsonl")]) == 0
    capsys.readouterr()
    assert main(["tune", str(g), "--steps", "2", "--reranker-steps", "0", "--reader-steps", "3", "--reader-validation", "2",
                 "--trust-generated", "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    v, gain = report["settings"]["reader_validation"], report["settings"]["reader_f1_gain"]
    assert v["before"]["questions"] == v["after"]["questions"] == 2
    assert 0 <= v["before"]["f1"] <= 1 and 0 <= v["after"]["f1"] <= 1
    assert gain == pytest.approx(v["after"]["f1"] - v["before"]["f1"], abs=1e-4)
    assert report["settings"]["cpu_seconds_per_part"]["reader"] > 0
    manifest = versions.read_manifest(versions.version_dir(g, 1))
    adapter = g / "models" / "1" / "reader" / "adapter.gguf"
    assert ("reader" in manifest["parts"]) == adapter.is_file() == (gain > 0)


def test_the_gate_judges_on_questions_people_asked_and_never_on_generated_ones_alone():
    from kgreason.tune.runner import MIN_HUMAN_VALIDATION, gate_questions

    people = [TrainingQuestion(f"q{i}", ("p",), "human") for i in range(MIN_HUMAN_VALIDATION)]
    judged = [TrainingQuestion(f"j{i}", ("p",), "ai:judge-qwen") for i in range(3)]
    generated = [TrainingQuestion(f"g{i}", ("p",), "ai:graph-questions") for i in range(40)]
    rephrased = [TrainingQuestion(f"r{i}", ("p",), "ai:rephrased:qwen") for i in range(9)]
    assert gate_questions(generated + people + judged) == people
    assert gate_questions(generated + people[:-1] + judged) == people[:-1] + judged  # asked by people, judged
    assert gate_questions(generated + rephrased + people[:-1]) == []  # too few asked: nothing to judge on
    assert gate_questions(generated + people[:-1], trust_generated=True) == generated + people[:-1]


# ---- the learned ranker ---------------------------------------------------------------------------

NOTES = 6  # notes per person that repeat the question's words


def _people_graph(tmp_path, hashing_config, regex_extractor, people: int):
    """A graph of ``people`` short biographies, each titled with the person's name, and ``NOTES`` notes
    each that repeat the question's words but answer nothing (keyword and dense search prefer them; a page
    titled with the name the question writes is the signal to learn), with one question per person as
    people's feedback marking the biography relevant."""
    import kgreason
    from kg.model import Feedback
    from kgreason.labels import add_generated_questions

    folder = tmp_path / "docs"
    folder.mkdir()
    names = [f"Person {chr(65 + i // 26)}{chr(97 + i % 26)}" for i in range(people)]
    for i, name in enumerate(names):
        (folder / f"p{i}.md").write_text(f"# {name}\n\nHome is Town {chr(97 + i % 26)}.\n", encoding="utf-8")
        for n in range(NOTES):
            (folder / f"t{i}-{n}.txt").write_text(f"Where does {name} live? Where does anyone live? Note {n}: nobody "
                                                  f"asked where {name} does live.\n", encoding="utf-8")
    g = tmp_path / "g"
    kgreason.build([folder], g, hashing_config, progress=False, extractor=regex_extractor)
    kb = kgreason.open(g)
    by_source = {Path(d.source).name: d.id for d in kb.graph.documents.values()}
    records = [Feedback(f"Where does {name} live?", f"Town {chr(97 + i % 26)}", "good", "human",
                        relevant=tuple(p.id for p in kb.graph.passages.values() if p.doc_id == by_source[f"p{i}.md"]),
                        graph_version="v", created="v") for i, name in enumerate(names)]
    kb.feedback_store.add(records)
    add_generated_questions(kb)
    return g


def test_kg_tune_s_ranker_is_cross_validated_on_people_s_questions_and_kept_only_if_better(
        tmp_path, hashing_config, regex_extractor):
    from kgreason.render import tune_report
    from kgreason.tune.ranker import FOLDS
    from kgreason.tune.runner import tune

    g = _people_graph(tmp_path, hashing_config, regex_extractor, 24)
    report = tune(g, steps=0, reranker_steps=0, reader_steps=0, progress=False)
    v = report.settings["ranker_validation"]
    assert v["questions"] == 24 and v["folds"] == FOLDS
    assert v["hybrid"] < 0.2 and v["ranker"] > 0.7 and v["kept"]  # the notes win hybrid; the titles win the ranker
    # both kinds were cross-validated on the same folds and the better kept (linear on a tie)
    assert set(v["kinds"]) == {"linear", "boosted"} and v["ranker"] == v["kinds"][v["kind"]]
    assert v["kind"] == ("boosted" if v["kinds"]["boosted"] > v["kinds"]["linear"] else "linear")
    folder = versions.version_dir(g, report.version)
    manifest = versions.read_manifest(folder)
    assert ("ranker" in manifest["parts"]) == (folder / "ranker.json").is_file() == v["kept"] == report.activated
    assert "embedder" not in manifest["parts"] and not versions.has_embedder(folder)  # steps=0: no embedder part
    other = "linear" if v["kind"] == "boosted" else "boosted"
    assert (f"-> {v['kind']} {v['ranker']:.3f}, {other} {v['kinds'][other]:.3f} on 24 people's questions ({FOLDS} folds); "
            "kept") in tune_report(report)
    assert report.settings["not_trained"] == {}
    import kgreason

    kb = kgreason.open(g)  # the build's embedder and vectors stay; the ranker is used
    assert kb.ranker is not None and kb.embedder.name.startswith("hashing")
    got = kb.retrieve("Where does Person Ab live?")
    assert got.settings["ranker"] == {"linear": "learned:1", "boosted": "boosted:1"}[v["kind"]]
    assert got.evidence[0].title == "Person Ab"
    assert kgreason.open(g, ranker=None).retrieve("Where does Person Ab live?").evidence[0].title != "Person Ab"


def test_kg_tune_trains_no_ranker_from_too_few_people_s_questions(tmp_path, hashing_config, regex_extractor):
    from kgreason.render import tune_report
    from kgreason.tune.ranker import MIN_PEOPLE
    from kgreason.tune.runner import tune

    g = _people_graph(tmp_path, hashing_config, regex_extractor, MIN_PEOPLE - 5)
    with pytest.raises(ConfigError, match=rf"nothing can be judged: .* the learned ranker and the evidence gate need "
                                          rf"{MIN_PEOPLE} people's questions, has {MIN_PEOPLE - 5}\. Add people's feedback"):
        tune(g, steps=2, reranker_steps=0, reader_steps=0, progress=False)
    assert versions.list_versions(g) == []
    report = tune(g, steps=0, reranker_steps=0, reader_steps=0, trust_generated=True, progress=False)
    assert report.settings["ranker_validation"] == {"questions": MIN_PEOPLE - 5, "kept": False,
                                                    "reason": f"needs at least {MIN_PEOPLE} people's questions"}
    assert not report.activated and not (versions.version_dir(g, report.version) / "ranker.json").exists()
    assert f"ranker: not trained: needs at least {MIN_PEOPLE} people's questions (has {MIN_PEOPLE - 5})" in tune_report(report)


def test_a_version_without_an_embedder_opens_with_the_build_s(tmp_path, hashing_config, regex_extractor, tiny_corpus):
    import kgreason
    from reason.learned_rank import FEATURES, LinearRanker

    g = tmp_path / "g"
    kgreason.build([tiny_corpus], g, hashing_config, progress=False, extractor=regex_extractor)
    staging = versions.staging_dir(g)
    n = len(FEATURES)
    LinearRanker(FEATURES, np.zeros(n), np.ones(n), np.eye(n)[0]).save(staging)
    versions.commit(g, staging, {"version": 1, "parent": 0, "parts": ["ranker"]})
    versions.activate(g, 1)
    active = versions.load_active(g)
    assert active.embedder is None and active.tables is None and active.ranker.name == "learned:1"
    kb = kgreason.open(g)
    assert kb.embedder.name.startswith("hashing") and kb.ranker is not None
    kgreason.build([tiny_corpus], g, hashing_config, progress=False, extractor=regex_extractor)  # nothing to refresh
    assert not (g / "models" / "1" / "vectors.npz").exists()


def test_without_questions_people_asked_only_the_ranker_and_the_evidence_gate_are_trained(
        tmp_path, hashing_config, regex_extractor):
    """24 people's questions hold out fewer than 10: the embedder is not trained (no model is loaded),
    the ranker and the evidence gate, judged by cross-validation, are."""
    from kgreason.render import tune_report
    from kgreason.tune.runner import tune

    g = _people_graph(tmp_path, hashing_config, regex_extractor, 24)
    report = tune(g, steps=5, reranker_steps=5, reader_steps=0, progress=False)
    assert list(report.settings["not_trained"]) == ["embedder", "reranker"]
    assert report.settings["ranker_validation"]["kept"] and report.activated
    assert "embedder, reranker: not trained: needs at least 10 held-out questions people asked" in tune_report(report)
    assert versions.read_manifest(versions.version_dir(g, 1))["parts"] == ["ranker", "gate"]


def test_kg_tune_s_evidence_gate_stops_questions_whose_documents_are_gone(tmp_path, hashing_config, regex_extractor):
    """Each person's question, asked again without that person's page, is what the gate learns to stop;
    it is cross-validated, saved with the version, opened with the graph and recorded in answers; a later
    version that replaces the retriever's ranker drops a gate it does not fit again."""
    import kgreason
    from kgreason.render import tune_report
    from kgreason.tune.runner import tune

    g = _people_graph(tmp_path, hashing_config, regex_extractor, 24)
    report = tune(g, steps=0, reranker_steps=0, reader_steps=0, progress=False)
    v = report.settings["evidence_gate_validation"]
    assert v == {"questions": 24, "answerable": 20, "folds": 5, "abstained": 0.875, "answered": 1.0, "kept": True}
    assert ('evidence gate: cross-validated, says "not found" on 88% of 24 people\'s questions with their documents '
            'excluded and answers 100% of the 20 whose passages were retrieved (5 folds); kept') in tune_report(report)
    assert (versions.version_dir(g, 1) / "gate.json").is_file()
    kb = kgreason.open(g)
    assert kb.gate.name == "gate:1" and kb.gate.mode == "hybrid"
    page = [d.id for d in kb.graph.documents.values() if Path(d.source).name == "p1.md"]
    question = "Where does Person Ab live?"
    assert kb.gate.sufficient(kb.retrieve(question))
    assert not kb.gate.sufficient(kb.retriever.retrieve(question, exclude=page))
    assert kb.ask(question).settings["gate"]["name"] == "gate:1"
    from kgreason.render import answer as rendered
    from reason.answer import answer

    stopped = answer(kb.retriever.retrieve(question, exclude=page), kb.graph, kb.generator(), gate=kb.gate)
    assert not stopped.found and re.search(r"evidence gate \(gate:1\): the retrieval scored -?\d+\.\d\d, at or below "
                                           r"its threshold -?\d+\.\d\d: the best passages look like those of "
                                           r"questions the documents cannot answer", rendered(stopped))
    assert "evidence gate" not in rendered(kb.ask(question))
    # the line follows the gate's own decision, not the rounded figures it records
    from dataclasses import replace

    passed = {**stopped.settings["gate"], "stopped": False}
    assert "evidence gate" not in rendered(replace(stopped, settings={**stopped.settings, "gate": passed}))
    assert kgreason.open(g, gate=None).ask(question).settings.get("gate") is None

    from kgreason.cli import main

    assert main(["tune", str(g), "--steps", "0", "--reader-steps", "0", "--no-gate", "--no-progress", "--json"]) == 0
    again = versions.read_manifest(versions.version_dir(g, 2))
    assert again["settings"]["evidence_gate_validation"] is None
    assert again["parts"] == ["ranker"] and not (versions.version_dir(g, 2) / "gate.json").exists()  # a new ranker
