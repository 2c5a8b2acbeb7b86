"""The evidence gate: a retrieval's features, fitting and placing the threshold, the saved file, and the
answer pipeline saying "Not found" behind it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from kg.errors import StoreError
from kg.model import Evidence, Hop, LinkedEntity, Retrieval
from reason.answer import answer
from reason.generators.base import NOT_FOUND
from reason.sufficiency import FEATURES, GATE_FILE, EvidenceGate, evidence_features, fit_gate

from .test_answer import RecordingGenerator, titanic

N = len(FEATURES)


def _ev(title: str, text: str, score: float) -> Evidence:
    return Evidence(f"{title}:p0", title, title, text, score, "hybrid")


def test_features_describe_how_well_the_best_passages_state_the_question():
    ev = (_ev("Ada Lovelace", "Ada Lovelace wrote the Notes in 1843.", 5.0),
          _ev("Charles Babbage", "Babbage designed the Analytical Engine.", 3.0),
          _ev("Menabrea", "Menabrea wrote an article.", 2.5),
          _ev("Turin", "Turin is a city.", 2.0),
          _ev("London", "London is a city.", 1.5),
          _ev("Paris", "Ada Lovelace never lived here.", 9.0))  # a sixth passage: not among the best five
    linked = (LinkedEntity("Ada Lovelace", "e1", "Ada Lovelace", "PERSON", 1.0, "exact"),
              LinkedEntity("Analytical Engine", "e2", "Analytical Engine", "WORK", 0.8, "fuzzy"),
              LinkedEntity("Notes", "e3", "Notes", "WORK", 0.7, "fuzzy"))
    r = Retrieval("When did Ada Lovelace write about the Analytical Engine?", "hybrid", ev,
                  (Hop("Ada Lovelace", "wrote", "Notes"),), linked)
    got = dict(zip(FEATURES, evidence_features(r).tolist()))
    # question words: ada, lovelac(e), write, analyt(ical), engin(e); the best five state all but "write"
    # ("wrote" stems apart), the best two the same four
    assert got == {"top_score": 5.0, "score_gap": 3.5, "stated_top5": 0.8, "stated_top2": 0.8,
                   "titled_top5": 1.0, "titled_top1": 1.0, "about_linked": pytest.approx(1 / 3),
                   "linked_stated": 1.0, "linked": 3.0, "chain": 1.0}
    empty = dict(zip(FEATURES, evidence_features(Retrieval("Who?", "hybrid", ())).tolist()))
    assert set(empty.values()) == {0.0}


def _rows(values) -> list[np.ndarray]:
    return [np.eye(N)[FEATURES.index("top_score")] * v for v in values]


def test_the_threshold_keeps_the_answerable_share_asked_for_before_stopping_more():
    yes = _rows(np.linspace(3.0, 12.0, 10))  # answerable retrievals score higher, with an overlap
    no = _rows(np.linspace(0.0, 6.0, 10))
    gate = fit_gate(yes, no, answer=0.9, abstain=0.9)
    passed = [gate.score_row(r) > gate.threshold for r in yes]
    stopped = [not gate.score_row(r) > gate.threshold for r in no]
    assert sum(passed) == 9 and passed[0] is False  # 90% of the answerable pass: only the lowest is lost
    assert sum(stopped) == 6  # the unanswerable ones below that lowest-but-one answerable score
    assert gate.weights[FEATURES.index("top_score")] > 0 and gate.mode == "hybrid"
    strict = fit_gate(yes, no, answer=0.5, abstain=0.9)  # answering half is allowed: 90% stopped
    assert sum(not strict.score_row(r) > strict.threshold for r in no) == 9
    assert fit_gate(yes, no).to_dict() == gate.to_dict()  # deterministic
    with pytest.raises(ValueError, match="needs answerable and unanswerable"):
        fit_gate(yes, [])


def test_a_gate_judges_only_retrievals_of_its_mode_that_have_evidence():
    gate = EvidenceGate(FEATURES, np.zeros(N), np.ones(N), np.eye(N)[0], 0.0, 4.0, "hybrid")
    strong = Retrieval("Q?", "hybrid", (_ev("A", "a", 5.0),))
    weak = Retrieval("Q?", "hybrid", (_ev("A", "a", 3.0),))
    assert gate.sufficient(strong) and not gate.sufficient(weak)
    assert gate.sufficient(Retrieval("Q?", "dense", (_ev("A", "a", 3.0),)))  # fitted on hybrid's scores only
    assert not gate.applies(Retrieval("Q?", "hybrid", ()))


def test_it_is_saved_and_loaded_whole_and_a_wrong_file_is_named(tmp_path):
    gate = fit_gate(_rows([5, 6, 7]), _rows([1, 2, 3]))
    path = gate.save(tmp_path)
    assert path == tmp_path / GATE_FILE and not list(tmp_path.glob("*.tmp"))
    back = EvidenceGate.load(tmp_path)
    assert back.to_dict() == gate.to_dict() and back.name == f"gate:{tmp_path.name}"
    data = json.loads(path.read_text())
    for change, message in [({"format_version": 9}, "version 9, expected 'kgreason-evidence-gate' version 1"),
                            ({"features": ["top_score"]}, "trained on features \\['top_score'\\].*run kg tune again"),
                            ({"weights": [1.0]}, f"expected {N} values in mean, scale and weights"),
                            ({"threshold": "high"}, "expected numbers in mean, scale, weights, bias and threshold")]:
        path.write_text(json.dumps({**data, **change}))
        with pytest.raises(StoreError, match=f"{GATE_FILE}: .*{message}"):
            EvidenceGate.load(tmp_path)
    path.write_text("{")
    with pytest.raises(StoreError, match="unreadable evidence gate"):
        EvidenceGate.load(tmp_path)


def test_the_answer_pipeline_says_not_found_behind_the_gate_without_asking_the_reader():
    g, r = titanic("Who directed Titanic?")
    score = float(evidence_features(r)[FEATURES.index("top_score")])  # 0.9
    top = np.eye(N)[FEATURES.index("top_score")]
    above = EvidenceGate(FEATURES, np.zeros(N), np.ones(N), top, 0.0, score + 0.5, "hybrid", name="gate:3")
    gen = RecordingGenerator()
    a = answer(r, g, gen, gate=above)
    assert (a.text, a.found, a.citations, gen.seen) == (NOT_FOUND, False, (), [])
    assert a.settings["gate"] == {"name": "gate:3", "score": 0.9, "threshold": 1.4, "stopped": True}
    below = EvidenceGate(FEATURES, np.zeros(N), np.ones(N), top, 0.0, score - 0.5, "hybrid")
    b = answer(r, g, gen, gate=below)
    assert (b.text, b.found, len(gen.seen)) == ("James Cameron", True, 1)
    assert b.settings["gate"]["threshold"] == 0.4 and b.settings["gate"]["stopped"] is False
    # a score above the threshold by less than the recorded rounding still passes, and says so
    close = EvidenceGate(FEATURES, np.zeros(N), np.ones(N), top, 0.0, score - 1e-6, "hybrid")
    c = answer(r, g, gen, gate=close)
    assert c.found and c.settings["gate"]["score"] == c.settings["gate"]["threshold"] and not c.settings["gate"]["stopped"]
    assert "gate" not in answer(r, g, RecordingGenerator()).settings  # no gate: nothing recorded
