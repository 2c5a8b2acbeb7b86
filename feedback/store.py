"""The feedback store of one graph: ``<graph>/feedback.sqlite``, beside ``graph.sqlite`` and never
rewritten by a build, so rebuilding a graph never loses what people and judges said about its answers.

One SQLite file with a format name and version, checked on open. Writers use WAL journaling and a busy
timeout, so several processes (``kg ask --rate``, ``kg serve``, a judge) may add feedback at once;
every ``add`` commits in batches, so Ctrl-C keeps what was committed and a repeated import adds
nothing twice (records are keyed by their content-derived id).

>>> import tempfile
>>> from kg.model import Feedback
>>> store = FeedbackStore(tempfile.mkdtemp())
>>> store.add([Feedback("Who wrote Notes?", "Ada", "good", created="2026-12-03T10:00:00Z")])
1
>>> store.counts()["good"]
1
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator

from kg.errors import ConfigError, StoreError
from kg.model import VERDICTS, Feedback

FORMAT_NAME = "kgreason-feedback"
FORMAT_VERSION = 1
FEEDBACK_FILE = "feedback.sqlite"
BATCH = 500  # records per transaction: an interrupted import keeps every finished batch
TIMEOUT = 30  # seconds a writer waits for another

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL, verdict TEXT NOT NULL,
    source TEXT NOT NULL, correction TEXT NOT NULL, evidence TEXT NOT NULL, relevant TEXT NOT NULL,
    irrelevant TEXT NOT NULL, graph_version TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_question ON feedback(question);
"""
_COLUMNS = ("id", "question", "answer", "verdict", "source", "correction", "evidence", "relevant", "irrelevant",
            "graph_version", "created")


class FeedbackStore:
    """Feedback on the answers of the graph in ``graph_dir`` (the file is created on first write)."""

    def __init__(self, graph_dir: str | Path):
        self.path = Path(graph_dir) / FEEDBACK_FILE

    def add(self, records: Iterable[Feedback]) -> int:
        """Store ``records`` (checked first); returns how many were new."""
        added = 0
        with self._connect(write=True) as con:
            batch: list[Feedback] = []
            for record in records:
                batch.append(check(record))
                if len(batch) == BATCH:
                    added += _insert(con, batch)
                    batch = []
            added += _insert(con, batch)
        return added

    def all(self) -> list[Feedback]:
        """Every record, oldest first."""
        if not self.path.is_file():
            return []
        with self._connect() as con:
            rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM feedback ORDER BY created, id").fetchall()
        return [_record(row) for row in rows]

    def effective(self) -> list[Feedback]:
        """One verdict per (question, answer): a person's outranks a judge's, and a later one an
        earlier one of the same rank."""
        best: dict[tuple[str, str], Feedback] = {}
        for f in self.all():  # oldest first: later records replace earlier ones of the same rank
            key = (f.question, f.answer)
            if key not in best or f.is_human or not best[key].is_human:
                best[key] = f
        return list(best.values())

    def disagreements(self) -> list[tuple[Feedback, Feedback]]:
        """(human, ai) pairs on the same answer whose verdicts differ: kept, counted, never merged."""
        records = self.all()
        human = {(f.question, f.answer): f for f in records if f.is_human}
        return [(human[(f.question, f.answer)], f) for f in records
                if not f.is_human and (f.question, f.answer) in human and human[(f.question, f.answer)].verdict != f.verdict]

    def counts(self) -> dict[str, int]:
        """Records by source and by (effective) verdict, and human-AI disagreements."""
        records, effective = self.all(), self.effective()
        out = {"records": len(records), "human": sum(f.is_human for f in records),
               "ai": sum(not f.is_human for f in records), "disagreements": len(self.disagreements())}
        out.update({v: sum(f.verdict == v for f in effective) for v in VERDICTS})
        return out

    def export_jsonl(self, path: str | Path) -> int:
        """Write every record as one JSON object a line; returns the number written."""
        records = self.all()
        Path(path).write_text("".join(json.dumps(to_dict(f), ensure_ascii=False) + "\n" for f in records),
                              encoding="utf-8")
        return len(records)

    # ---- the file -----------------------------------------------------------------------------------
    def _connect(self, write: bool = False) -> sqlite3.Connection:
        if not write and not self.path.is_file():
            raise StoreError(f"{self.path}: no feedback yet")
        try:
            con = sqlite3.connect(self.path, timeout=TIMEOUT)
            _wal(con)
            if write:
                con.executescript(_SCHEMA)
                con.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?), ('format_version', ?)",
                            (FORMAT_NAME, str(FORMAT_VERSION)))
                con.commit()
            _check_format(con, self.path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a readable feedback file ({exc})") from None
        return con


def _wal(con: sqlite3.Connection) -> None:
    """Put the file in write-ahead-log mode (readers and one writer side by side). Switching a new file
    needs it alone, and SQLite answers "database is locked" at once, without waiting out the busy
    timeout, when another process is creating the same file: so the switch is tried again until
    ``TIMEOUT`` has passed. A file already in that mode (all but the first connection) needs no switch."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _check_format(con: sqlite3.Connection, path: Path) -> None:
    meta = dict(con.execute("SELECT key, value FROM meta"))
    if meta.get("format") != FORMAT_NAME:
        raise StoreError(f"{path}: format {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise StoreError(f"{path}: feedback format version {meta.get('format_version')}, this kgreason reads "
                         f"version {FORMAT_VERSION}; use the kgreason version that wrote it, or export and re-import")


def _insert(con: sqlite3.Connection, batch: list[Feedback]) -> int:
    if not batch:
        return 0
    before = con.total_changes
    with con:  # one transaction per batch
        con.executemany(f"INSERT OR IGNORE INTO feedback VALUES ({', '.join('?' * len(_COLUMNS))})",
                        [_row(f) for f in batch])
    return con.total_changes - before


def _row(f: Feedback) -> tuple:
    return (f.id, f.question, f.answer, f.verdict, f.source, f.correction, json.dumps(f.evidence),
            json.dumps(f.relevant), json.dumps(f.irrelevant), f.graph_version, f.created)


def _record(row: tuple) -> Feedback:
    _, question, answer, verdict, source, correction, evidence, relevant, irrelevant, version, created = row
    return Feedback(question, answer, verdict, source, correction, tuple(tuple(e) for e in json.loads(evidence)),
                    tuple(json.loads(relevant)), tuple(json.loads(irrelevant)), version, created)


def check(f: Feedback) -> Feedback:
    """``f`` if its fields hold what they should, else ``ConfigError`` naming the field."""
    if not f.question.strip():
        raise ConfigError("feedback.question: expected the question that was asked, got an empty string")
    if f.verdict not in VERDICTS:
        raise ConfigError(f"feedback.verdict: expected one of {', '.join(VERDICTS)}, got {f.verdict!r}")
    if f.source != "human" and not (f.source.startswith("ai:") and len(f.source) > 3):
        raise ConfigError(f"feedback.source: expected 'human' or 'ai:<judge name>', got {f.source!r}")
    if set(f.relevant) & set(f.irrelevant):
        raise ConfigError(f"feedback: passages marked both relevant and irrelevant: {sorted(set(f.relevant) & set(f.irrelevant))}")
    return f


def to_dict(f: Feedback) -> dict:
    """The JSON form of a record (its id included)."""
    return {"id": f.id, **{c: getattr(f, c) for c in _COLUMNS[1:]}}


def from_dicts(rows: Iterable[dict]) -> Iterator[Feedback]:
    """Records from their JSON form (as ``export_jsonl`` writes them; the id is recomputed)."""
    for row in rows:
        values = {c: row[c] for c in _COLUMNS[1:] if c in row}
        values["evidence"] = tuple((str(p), int(r)) for p, r in values.get("evidence", ()))
        for name in ("relevant", "irrelevant"):
            values[name] = tuple(values.get(name, ()))
        yield check(Feedback(**values))
