"""Persistent graph store: one SQLite file per graph directory, versioned and written atomically.

SQLite was chosen from ``../shared/STACK.md``: in the standard library, one file, fast bulk
inserts, and queryable by users with any SQLite tool. Vectors sit in the same file as float32 BLOBs,
so a graph directory is always self-consistent. Saving writes a complete new file beside the old one
and swaps it in with ``os.replace``: an interrupted build never damages the previous graph.

The file carries the format name and version in its ``meta`` table, checked on load.

>>> import tempfile
>>> from kg.graph import KnowledgeGraph
>>> d = tempfile.mkdtemp()
>>> save_graph(KnowledgeGraph(settings={"k": 1}), d)
>>> load_graph(d).settings
{'k': 1}
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .errors import StoreError
from .graph import KnowledgeGraph, VectorTable
from .model import (
    Document,
    DocumentExtraction,
    Entity,
    Mention,
    MergeRecord,
    Passage,
    Provenance,
    RawRelation,
    Relation,
    SynonymLink,
)

FORMAT_NAME = "kgreason-graph"
# 2: documents carry their prose view, sections and code blocks, passages their section
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # a version-1 graph is read as it is and saved as version 2 by the next build
GRAPH_FILE = "graph.sqlite"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (id TEXT PRIMARY KEY, source TEXT, title TEXT, text TEXT, external_id TEXT, prose TEXT,
                        sections TEXT, code TEXT);
CREATE TABLE passages (id TEXT PRIMARY KEY, doc_id TEXT, idx INTEGER, start INTEGER, end INTEGER, section TEXT);
CREATE TABLE mentions (id TEXT PRIMARY KEY, doc_id TEXT, passage_id TEXT, start INTEGER, end INTEGER,
                       text TEXT, label TEXT, kind TEXT, refers_to TEXT, entity_id TEXT);
CREATE TABLE raw_relations (doc_id TEXT, subject TEXT, predicate TEXT, object TEXT, passage_id TEXT,
                            start INTEGER, end INTEGER, confidence REAL, pattern TEXT);
CREATE TABLE entities (id TEXT PRIMARY KEY, name TEXT, type TEXT, aliases TEXT);
CREATE TABLE relations (id TEXT PRIMARY KEY, subject TEXT, predicate TEXT, object TEXT, confidence REAL);
CREATE TABLE evidence (relation_id TEXT, doc_id TEXT, passage_id TEXT, start INTEGER, end INTEGER,
                       confidence REAL);
CREATE TABLE merges (mention_text TEXT, entity_id TEXT, reason TEXT, score REAL);
CREATE TABLE synonyms (a TEXT, b TEXT, score REAL, reason TEXT);
CREATE TABLE vectors (name TEXT PRIMARY KEY, model TEXT, dim INTEGER, ids TEXT, data BLOB);
CREATE INDEX mentions_entity ON mentions(entity_id);
CREATE INDEX evidence_relation ON evidence(relation_id);
"""


def graph_file(path: str | Path) -> Path:
    return Path(path) / GRAPH_FILE


def exists(path: str | Path) -> bool:
    return graph_file(path).is_file()


def save_graph(graph: KnowledgeGraph, path: str | Path, extractions: dict[str, DocumentExtraction] | None = None) -> None:
    """Write ``graph`` (and the per-document raw extractions, kept for incremental rebuilds) to
    ``path/graph.sqlite`` atomically."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{folder}: cannot create the graph directory ({exc.strerror})") from None
    tmp = folder / f".{GRAPH_FILE}.tmp-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    try:
        con = sqlite3.connect(tmp)
        try:
            con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
            _write(con, graph, extractions or {})
            con.commit()
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, folder / GRAPH_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write(con: sqlite3.Connection, g: KnowledgeGraph, extractions: dict[str, DocumentExtraction]) -> None:
    con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(graph_meta(g).items()))
    for table, rows in table_rows(g, extractions).items():
        width = len(_COLUMNS[table])
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * width)})", rows)
    for name, table in sorted(g.vectors.items()):
        vec = np.ascontiguousarray(table.vectors, dtype=np.float32)
        dim = int(vec.shape[1]) if vec.ndim == 2 else 0
        con.execute(
            "INSERT INTO vectors VALUES (?, ?, ?, ?, ?)",
            (name, table.model, dim, json.dumps(list(table.ids)), memoryview(vec.reshape(-1).view(np.uint8))),  # no bytes copy
        )


def graph_meta(g: KnowledgeGraph) -> dict[str, str]:
    """The ``meta`` rows of a saved graph: format name and version, save time, settings."""
    return {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": json.dumps(g.settings, sort_keys=True),
    }


def table_rows(g: KnowledgeGraph, extractions: dict[str, DocumentExtraction]) -> dict[str, Iterable[tuple]]:
    """Every table but ``meta`` and ``vectors`` as rows in the schema's column order (lazily): what
    the SQLite file and a published PostgreSQL copy (``kg.pgstore``) both hold."""
    return {
        "documents": ((d.id, d.source, d.title, d.text, d.external_id, d.prose, json.dumps(d.sections),
                       json.dumps(d.code)) for d in g.documents.values()),
        "passages": ((p.id, p.doc_id, p.index, p.start, p.end, p.section) for p in g.passages.values()),
        "mentions": ((m.id, m.doc_id, m.passage_id, m.start, m.end, m.text, m.label, m.kind, m.refers_to,
                      g.assignments.get(m.id)) for m in g.mentions.values()),
        "raw_relations": ((doc_id, r.subject, r.predicate, r.object, r.passage_id, r.sentence_start,
                           r.sentence_end, r.confidence, r.pattern)
                          for doc_id, ex in sorted(extractions.items()) for r in ex.relations),
        "entities": ((e.id, e.name, e.type, json.dumps(list(e.aliases))) for e in g.entities.values()),
        "relations": ((r.id, r.subject, r.predicate, r.object, r.confidence) for r in g.relations.values()),
        "evidence": ((r.id, p.doc_id, p.passage_id, p.start, p.end, p.confidence)
                     for r in g.relations.values() for p in r.evidence),
        "merges": ((m.mention_text, m.entity_id, m.reason, m.score) for m in g.merges),
        "synonyms": ((x.a, x.b, x.score, x.reason) for x in g.synonyms),
    }


def _connect(path: str | Path) -> sqlite3.Connection:
    file = graph_file(path)
    if not Path(path).exists():
        raise StoreError(f"{path}: no such graph directory; create one with `kg build SOURCES --out {path}`")
    if not file.is_file():
        raise StoreError(f"{path}: not a kgreason graph directory (no {GRAPH_FILE}); build one with `kg build`")
    try:
        con = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        meta = dict(con.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{file}: not a readable kgreason graph file ({exc})") from None
    if meta.get("format") != FORMAT_NAME:
        raise StoreError(f"{file}: format {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    _check_version(file, meta.get("format_version"))
    _check_tables(con, file, int(meta["format_version"]))
    return con


def _check_version(file: Path, found: str | None) -> None:
    if found in {str(v) for v in READABLE_VERSIONS}:
        return
    rebuild = f"rebuild it from its documents with `kg build SOURCES --out {file.parent} --rebuild`"
    if found and found.isdigit() and int(found) > FORMAT_VERSION:
        raise StoreError(f"{file}: written by a newer kgreason (graph format version {found}); this kgreason reads "
                         f"{_readable()}: upgrade kgreason to read it, or {rebuild}")
    raise StoreError(f"{file}: graph format version {found}, this kgreason reads {_readable()}; {rebuild}")


def _readable() -> str:
    return "versions " + " and ".join(map(str, READABLE_VERSIONS))


def _expected_columns() -> dict[str, list[str]]:
    """Table -> column names of the schema this version writes (read once from a scratch database)."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(_SCHEMA)
        return {t: [c[1] for c in con.execute(f"PRAGMA table_info({t})")]
                for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        con.close()


_COLUMNS = _expected_columns()


def _columns(version: int) -> dict[str, list[str]]:
    """The tables and columns a file of ``version`` has (version 1 lacked the markup columns)."""
    if version == FORMAT_VERSION:
        return _COLUMNS
    return {**_COLUMNS, "documents": _COLUMNS["documents"][:5], "passages": _COLUMNS["passages"][:5]}


# How to read documents and passages from each readable version: a version-1 graph (plain text, no
# prose views or sections) opens as it is and is written as the current version by the next build.
_DOCUMENTS = {2: "SELECT * FROM documents ORDER BY id",
              1: "SELECT id, source, title, text, external_id, '', '[]', '[]' FROM documents ORDER BY id"}
_PASSAGES = {2: "SELECT * FROM passages ORDER BY doc_id, idx",
             1: "SELECT id, doc_id, idx, start, end, '' FROM passages ORDER BY doc_id, idx"}


def _check_tables(con: sqlite3.Connection, file: Path, version: int = FORMAT_VERSION) -> None:
    """Every table of the schema is there with its columns: a cheap check of the whole file's shape,
    so a damaged table is reported by every command, not only by the one that reads it."""
    for table, columns in _columns(version).items():
        found = [c[1] for c in con.execute(f"PRAGMA table_info({table})")]
        if found != columns:
            problem = "is missing" if not found else f"has columns {', '.join(found)}, expected {', '.join(columns)}"
            raise StoreError(f"{file}: damaged graph file: table {table} {problem}; rebuild it from its documents "
                             f"with `kg build SOURCES --out {file.parent} --rebuild`")


def saved_at(path: str | Path) -> str:
    """When the graph in ``path`` was saved (ISO 8601 UTC): its version, for records made against it."""
    con = _connect(path)
    try:
        return dict(con.execute("SELECT key, value FROM meta")).get("saved_at", "")
    finally:
        con.close()


def check_integrity(path: str | Path) -> None:
    """``PRAGMA quick_check`` of the saved graph (seconds on large graphs, so only before a write
    that reads everything back); raises ``StoreError`` naming what is broken and what to do."""
    con = _connect(path)
    try:
        problems = [r[0] for r in con.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    finally:
        con.close()
    if problems != ["ok"]:
        raise StoreError(f"{graph_file(path)}: damaged graph file ({'; '.join(problems[:3])}); rebuild it from its "
                         f"documents with `kg build SOURCES --out {path} --rebuild`")


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Delete the temporary files of saves that were killed before they finished (call it while
    holding the writer lock: then no other save can be under way). Returns what was removed."""
    removed = []
    for tmp in Path(path).glob(f".{GRAPH_FILE}.tmp-*"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def load_graph(path: str | Path, *, vectors: bool = True) -> KnowledgeGraph:
    """Load the graph saved in ``path``; raises StoreError for a missing, foreign or newer store."""
    con = _connect(path)
    try:
        return _read(con, vectors)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{graph_file(path)}: damaged graph file ({exc})") from None
    finally:
        con.close()


# The order each table is read in (a graph's dicts, and so its passage rows, follow it)
_ORDER = {"documents": "id", "passages": "doc_id, idx", "mentions": "id", "entities": "id", "evidence": "rowid",
          "relations": "id", "merges": "rowid", "synonyms": "rowid"}


def _read(con: sqlite3.Connection, with_vectors: bool) -> KnowledgeGraph:
    meta = dict(con.execute("SELECT key, value FROM meta"))
    version = int(meta["format_version"])
    queries = {t: f"SELECT * FROM {t} ORDER BY {o}" for t, o in _ORDER.items()}
    queries.update(documents=_DOCUMENTS[version], passages=_PASSAGES[version])
    vectors = {}
    if with_vectors:
        for name, model, dim, ids, data in con.execute("SELECT * FROM vectors ORDER BY name"):
            arr = np.frombuffer(data, dtype=np.float32)
            arr = arr.reshape(-1, dim) if dim else arr.reshape(0, 0)
            vectors[name] = VectorTable(tuple(json.loads(ids)), arr, model)
    return graph_from_rows(meta, lambda table: con.execute(queries[table]), vectors)


def graph_from_rows(meta: dict[str, str], rows: Callable[[str], Iterable[tuple]],
                    vectors: dict[str, VectorTable]) -> KnowledgeGraph:
    """The graph whose tables ``rows(table)`` yields (schema column order, read order of ``_ORDER``)."""
    docs = {r[0]: _document(r) for r in rows("documents")}
    passages = {}
    for pid, doc_id, idx, start, end, section in rows("passages"):
        passages[pid] = Passage(pid, doc_id, idx, start, end, docs[doc_id].text[start:end], section)
    mentions, assignments = {}, {}
    for row in rows("mentions"):
        mentions[row[0]] = Mention(*row[:9])
        if row[9] is not None:
            assignments[row[0]] = row[9]
    entities = {r[0]: Entity(r[0], r[1], r[2], tuple(json.loads(r[3]))) for r in rows("entities")}
    evidence: dict[str, list[Provenance]] = {}
    for rid, doc_id, pid, start, end, conf in rows("evidence"):
        evidence.setdefault(rid, []).append(Provenance(doc_id, pid, start, end, docs[doc_id].text[start:end], conf))
    relations = {
        r[0]: Relation(r[0], r[1], r[2], r[3], r[4], tuple(evidence.get(r[0], ())))
        for r in rows("relations")
    }
    return KnowledgeGraph(
        documents=docs,
        passages=passages,
        entities=entities,
        relations=relations,
        mentions=mentions,
        assignments=assignments,
        merges=tuple(MergeRecord(*r) for r in rows("merges")),
        synonyms=tuple(SynonymLink(*r) for r in rows("synonyms")),
        vectors=vectors,
        settings=json.loads(meta.get("settings", "{}")),
    )


def _document(row: tuple) -> Document:
    *fields, sections, code = row
    return Document(*fields, tuple(map(tuple, json.loads(sections))), tuple(map(tuple, json.loads(code))))


def load_extractions(path: str | Path, graph: KnowledgeGraph) -> dict[str, DocumentExtraction]:
    """The raw per-document extractions saved with the graph (mentions + raw relations), so an
    incremental build can re-resolve entities without running the extractor again."""
    con = _connect(path)
    try:
        raw: dict[str, list[RawRelation]] = {}
        for row in con.execute("SELECT * FROM raw_relations ORDER BY rowid"):
            raw.setdefault(row[0], []).append(RawRelation(*row[1:]))
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{graph_file(path)}: damaged graph file ({exc}); rebuild it from its documents with "
                         f"`kg build SOURCES --out {path} --rebuild`") from None
    finally:
        con.close()
    by_doc: dict[str, list[Mention]] = {}
    for m in graph.mentions.values():
        by_doc.setdefault(m.doc_id, []).append(m)
    return {
        doc_id: DocumentExtraction(doc_id, tuple(by_doc.get(doc_id, ())), tuple(raw.get(doc_id, ())))
        for doc_id in graph.documents
    }
