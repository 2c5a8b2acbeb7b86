"""The feedback store: records in and out, human over AI, disagreements, format, concurrent writers."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from feedback.store import FeedbackStore, from_dicts, to_dict
from kg.errors import ConfigError, StoreError
from kg.model import Feedback

T = "2026-12-03T10:00:00Z"


def rec(verdict="good", source="human", answer="Ada", created=T, **kw) -> Feedback:
    return Feedback("Who wrote Notes?", answer, verdict, source, created=created, **kw)


def test_records_round_trip_and_duplicates_are_one_record(tmp_path):
    store = FeedbackStore(tmp_path)
    f = rec(correction="Ada Lovelace", evidence=(("d1:p0", 1), ("d2:p0", 2)), relevant=("d1:p0",), irrelevant=("d2:p0",))
    assert store.add([f, f]) == 1 and store.add([f]) == 0
    assert store.all() == [f]
    assert list(from_dicts([to_dict(f)])) == [f] and to_dict(f)["id"] == f.id


def test_a_human_verdict_outranks_an_ai_one_and_disagreements_are_counted(tmp_path):
    store = FeedbackStore(tmp_path)
    ai = rec("good", "ai:qwen", created="2026-12-03T11:00:00Z")
    human = rec("bad", created="2026-12-03T09:00:00Z", correction="Ada Lovelace")
    other = rec("partly", "ai:qwen", answer="Babbage")
    store.add([ai, human, other])
    assert sorted(f.verdict for f in store.effective()) == ["bad", "partly"]
    assert store.disagreements() == [(human, ai)]
    assert store.counts() == {"records": 3, "human": 1, "ai": 2, "disagreements": 1, "good": 0, "bad": 1, "partly": 1}


@pytest.mark.parametrize("record, message", [
    (rec(verdict="great"), "feedback.verdict: expected one of good, bad, partly, got 'great'"),
    (rec(source="robot"), "feedback.source: expected 'human' or 'ai:<judge name>', got 'robot'"),
    (Feedback(" ", "x", "good"), "feedback.question: expected the question that was asked"),
    (rec(relevant=("p1",), irrelevant=("p1",)), r"feedback: passages marked both relevant and irrelevant: \['p1'\]"),
])
def test_bad_records_are_refused_naming_the_field(tmp_path, record, message):
    with pytest.raises(ConfigError, match=message):
        FeedbackStore(tmp_path).add([record])
    assert not FeedbackStore(tmp_path).all()


def test_a_batch_that_fails_keeps_the_batches_before_it(tmp_path):
    good = [rec(created=f"2026-12-03T10:{i // 60:02}:{i % 60:02}Z") for i in range(600)]
    with pytest.raises(ConfigError):
        FeedbackStore(tmp_path).add([*good, rec(verdict="nope")])
    assert len(FeedbackStore(tmp_path).all()) == 500  # the first batch was committed


def test_another_format_version_is_refused(tmp_path):
    FeedbackStore(tmp_path).add([rec()])
    con = sqlite3.connect(tmp_path / "feedback.sqlite")
    con.execute("UPDATE meta SET value = '9' WHERE key = 'format_version'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="feedback format version 9, this kgreason reads version 1"):
        FeedbackStore(tmp_path).all()


def test_concurrent_writers_lose_nothing(tmp_path):
    code = ("import sys; from feedback.store import FeedbackStore; from kg.model import Feedback; "
            "w = sys.argv[2]; FeedbackStore(sys.argv[1]).add("
            "[Feedback(f'q{w}-{i}', 'a', 'good', created='T') for i in range(200)])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(w)]) for w in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    assert len(FeedbackStore(tmp_path).all()) == 800


def test_a_writer_waits_for_another_creating_the_file_instead_of_failing(tmp_path):
    # SQLite refuses to switch a file to write-ahead logging at once ("database is locked", no busy wait)
    # while another connection writes it: the store tries again until the other one is done
    import threading
    import time

    other = sqlite3.connect(tmp_path / "feedback.sqlite", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE scratch (x)")
    threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
    started = time.monotonic()
    assert FeedbackStore(tmp_path).add([rec()]) == 1
    assert time.monotonic() - started >= 0.25 and len(FeedbackStore(tmp_path).all()) == 1
