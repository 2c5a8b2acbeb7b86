"""The serving store: a graph published to PostgreSQL with pgvector, read by any number of processes.

``publish`` copies a saved graph (documents, passages, mentions, entities, relations with their
evidence, and the passage / entity / fact vectors) into a schema of its own, ``kg_<name>_v<N>``, in one
transaction, then points the registry table ``kgreason_graphs`` at it in the same transaction: a reader
sees the previous version or the new one, never half of one. The version before is kept for readers
that opened it; older ones are dropped.

``load_graph`` reads a published graph back into the in-memory ``KnowledgeGraph`` (the graph walks and
keyword index run in memory, as for a graph directory), without its vectors: those stay in PostgreSQL
and ``PgVectorIndex`` answers nearest-neighbour queries there (exact below ``PG_HNSW_THRESHOLD`` rows,
through an HNSW index from that size). Each thread gets its own connection, so several clients of one
process query side by side.

Needs ``psycopg`` and ``pgvector`` (``pip install "kgreason[postgres]"``); ``import kg`` does not load them.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .errors import ConfigError, StoreError, first_line
from .graph import KnowledgeGraph
from .store import FORMAT_NAME, FORMAT_VERSION, graph_from_rows, graph_meta, table_rows
from .vectors import HNSW_EF_SEARCH, HNSW_LINKS, aligned

REGISTRY = "kgreason_graphs"
SCHEMES = ("postgresql://", "postgres://")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
KEEP_VERSIONS = 2  # the current version and the one before it (readers that opened it keep working)
# Vector tables from this many rows get an HNSW index. In memory exact search stays fast up to 200,000 rows
# (``kg.vectors.HNSW_THRESHOLD``: numpy's matrix product); PostgreSQL's exact search scans the table row by
# row, about 12 ms a query vector on 7,659 rows here (``benchmarks/store_latency.py``), where HNSW takes about
# 1 ms. Below it, a passage table is fetched whole by a graph that small (``floor_sample``, 8,192).
PG_HNSW_THRESHOLD = 8_192

# Column lists in the order of kg/store.py's schema; ``ord`` keeps the order of tables without a key.
_TABLES = {
    "meta": "key text PRIMARY KEY, value text NOT NULL",
    "documents": "id text PRIMARY KEY, source text, title text, text text, external_id text, prose text, "
                 "sections text, code text",
    "passages": 'id text PRIMARY KEY, doc_id text, idx integer, start integer, "end" integer, section text',
    "mentions": 'id text PRIMARY KEY, doc_id text, passage_id text, start integer, "end" integer, text text, '
                "label text, kind text, refers_to text, entity_id text",
    "entities": "id text PRIMARY KEY, name text, type text, aliases text",
    "relations": "id text PRIMARY KEY, subject text, predicate text, object text, confidence double precision",
    "evidence": 'ord bigint, relation_id text, doc_id text, passage_id text, start integer, "end" integer, '
                "confidence double precision",
    "merges": "ord bigint, mention_text text, entity_id text, reason text, score double precision",
    "synonyms": "ord bigint, a text, b text, score double precision, reason text",
    "vector_tables": "name text PRIMARY KEY, model text, dim integer, count integer",
}
_ORDERED = ("evidence", "merges", "synonyms")
# Indexes for reading a neighbourhood with SQL (relations of an entity, evidence of a relation...)
_INDEXES = ("relations (subject)", "relations (object)", "evidence (relation_id)", "mentions (entity_id)",
            "mentions (passage_id)", "passages (doc_id)")
# Read order: the same as a graph directory's, in byte order like SQLite's, so passage rows agree
_READ = {"documents": 'SELECT * FROM documents ORDER BY id COLLATE "C"',
         "passages": 'SELECT * FROM passages ORDER BY doc_id COLLATE "C", idx',
         "mentions": 'SELECT * FROM mentions ORDER BY id COLLATE "C"',
         "entities": 'SELECT * FROM entities ORDER BY id COLLATE "C"',
         "relations": 'SELECT * FROM relations ORDER BY id COLLATE "C"',
         "evidence": 'SELECT relation_id, doc_id, passage_id, start, "end", confidence FROM evidence ORDER BY ord',
         "merges": "SELECT mention_text, entity_id, reason, score FROM merges ORDER BY ord",
         "synonyms": "SELECT a, b, score, reason FROM synonyms ORDER BY ord"}


@dataclass(frozen=True)
class Published:
    """One published graph: its name, version, schema and when it was published (ISO 8601 UTC)."""

    name: str
    version: int
    schema: str
    published_at: str


def is_location(text: str) -> bool:
    """Whether ``text`` names a PostgreSQL database rather than a graph directory."""
    return str(text).startswith(SCHEMES)


def split_location(location: str) -> tuple[str, str | None]:
    """``postgresql://...#name`` -> (connection string, graph name or None).

    >>> split_location("postgresql://u@localhost/db#docs")
    ('postgresql://u@localhost/db', 'docs')
    """
    dsn, _, name = location.partition("#")
    return dsn, name or None


def default_name(folder: Path) -> str:
    """A publishable name from a graph directory's name ("My Docs.kg" -> "my_docs_kg").

    >>> default_name(Path("/data/My Docs.kg"))
    'my_docs_kg'
    """
    name = re.sub(r"[^a-z0-9_]+", "_", folder.resolve().name.casefold()).strip("_")[:40]
    return name if name[:1].isalpha() else f"g_{name}"[:40]


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise ConfigError(f"published graph name {name!r}: expected 1-40 lower-case letters, digits or _, "
                          "starting with a letter")
    return name


def connect(dsn: str):
    """A connection with pgvector's types registered; ``StoreError`` naming the database when it
    cannot be reached, ``ConfigError`` when the PostgreSQL packages are not installed."""
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError as exc:
        raise ConfigError(f"the PostgreSQL store needs psycopg and pgvector ({exc.name} is missing): "
                          'pip install "kgreason[postgres]"') from None
    try:
        con = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"{safe_dsn(dsn)}: cannot connect to PostgreSQL ({first_line(exc)})") from None
    try:
        register_vector(con)
    except psycopg.ProgrammingError:  # the extension is not created yet: publish creates it
        pass
    return con


def published(dsn: str) -> list[Published]:
    """The graphs published in the database, by name."""
    con = connect(dsn)
    try:
        return _registered(con)
    finally:
        con.close()


def publish(graph: KnowledgeGraph, dsn: str, name: str) -> Published:
    """Publish ``graph`` (with its vectors) as ``name``: a new version, swapped in atomically."""
    check_name(name)
    con = connect(dsn)
    try:
        with con.transaction():
            con.execute("CREATE EXTENSION IF NOT EXISTS vector")
        from pgvector.psycopg import register_vector

        register_vector(con)
        with con.transaction():
            con.execute(f"CREATE TABLE IF NOT EXISTS {REGISTRY} (name text, version integer, schema text, "
                        "published_at text, PRIMARY KEY (name, version))")
            con.execute(f"LOCK TABLE {REGISTRY} IN EXCLUSIVE MODE")  # one publisher of a name at a time
            version = 1 + (con.execute(f"SELECT max(version) FROM {REGISTRY} WHERE name = %s", (name,)).fetchone()[0] or 0)
            schema = f"kg_{name}_v{version}"
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # left by a publisher killed mid-way
            con.execute(f"CREATE SCHEMA {schema}")
            con.execute(f"SET LOCAL search_path TO {schema}, public")
            _write(con, graph)
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            con.execute(f"INSERT INTO {REGISTRY} VALUES (%s, %s, %s, %s)", (name, version, schema, when))
            _drop_old(con, name, version)
        return Published(name, version, schema, when)
    except _pg_error() as exc:
        raise StoreError(f"{safe_dsn(dsn)}: publishing {name!r} failed ({first_line(exc)}); "
                         "the published graph is unchanged") from None
    finally:
        con.close()


def load_graph(dsn: str, name: str | None = None) -> tuple[KnowledgeGraph, Published]:
    """The current version of the published graph ``name`` (the only one when None), without vectors."""
    con = connect(dsn)
    try:
        entry = _entry(con, dsn, name)
        with con.transaction():
            con.execute(f"SET LOCAL search_path TO {entry.schema}")
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != FORMAT_NAME:
                raise StoreError(f"{safe_dsn(dsn)}#{entry.name}: format {meta.get('format')!r}, expected {FORMAT_NAME!r}")
            if meta.get("format_version") != str(FORMAT_VERSION):  # publish writes the current version only
                raise StoreError(f"{safe_dsn(dsn)}#{entry.name}: graph format version {meta.get('format_version')}, "
                                 f"this kgreason reads version {FORMAT_VERSION}; publish the graph again with it")
            graph = graph_from_rows(meta, lambda table: con.execute(_READ[table]), {})
        return graph, entry
    except _pg_error() as exc:
        raise StoreError(f"{safe_dsn(dsn)}#{name or ''}: cannot read the published graph ({first_line(exc)})") from None
    finally:
        con.close()


def vector_indexes(dsn: str, entry: Published) -> dict[str, "PgVectorIndex"]:
    """The passage, entity and fact tables of a published graph, searched in PostgreSQL."""
    return {name: PgVectorIndex(dsn, entry, name) for name in ("passage", "entity", "fact")}


class PgVectorIndex:
    """Inner-product search over one vector table of a published graph (see ``kg.vectors.VectorSearch``).

    Rows are numbered as the graph reads them back, so row numbers mean the same here as in memory.
    The whole table is fetched only by ``matrix`` (small graphs are scored whole), once."""

    def __init__(self, dsn: str, entry: Published, name: str):
        self.dsn, self.entry, self.name = dsn, entry, name
        self.table = f"{entry.schema}.vectors_{name}"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: np.ndarray | None = None
        row = self._query(f"SELECT model, dim, count FROM {entry.schema}.vector_tables WHERE name = %s", (name,))
        self.model, self.dim, count = row[0] if row else ("", 0, 0)
        self.ids = tuple(i for (i,) in self._query(f"SELECT id FROM {self.table} ORDER BY rn")) if count else ()
        # exact unless publishing gave the table an HNSW index (a graph published by an older kgreason may
        # have none at sizes that get one now)
        self.exact = not self.ids or not self._query(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND tablename = %s AND indexdef LIKE '%%USING hnsw%%'",
            (entry.schema, f"vectors_{name}"))

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        rows, scores = self.search_rows(np.asarray(query, dtype=np.float32).reshape(1, -1), k)[0]
        return [(self.ids[r], float(s)) for r, s in zip(rows.tolist(), scores)]

    def search_many(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        return [self.search(q, k) for q in np.asarray(queries, dtype=np.float32)]

    def search_rows(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query vector, ``(rows, cosines)`` of its ``k`` nearest rows, best first."""
        q = np.asarray(queries, dtype=np.float32)
        if k <= 0 or not self.ids:
            return [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in range(len(q))]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise ConfigError(f"query vectors have shape {q.shape}; expected (n, {self.dim}) "
                              "(was the graph embedded with another model?)")
        k = min(k, len(self.ids))
        out = []
        for vector in q:
            setting = [] if self.exact else [f"SET hnsw.ef_search = {max(k, HNSW_EF_SEARCH)}"]
            found = self._query(f"SELECT rn, (embedding <#> %s) * -1 FROM {self.table} ORDER BY embedding <#> %s "
                                "LIMIT %s", (vector, vector, k), setting)
            rows = np.array([r for r, _ in found], dtype=np.int64)
            cos = np.array([s for _, s in found], dtype=np.float32)
            out.append((rows, cos))
        return out

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of ``rows``, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._all is not None:
            return self._all[rows]
        found = {r: _array(v) for r, v in self._query(f"SELECT rn, embedding FROM {self.table} WHERE rn = ANY(%s)", (rows.tolist(),))}
        return np.array([found[r] for r in rows.tolist()], dtype=np.float32).reshape(len(rows), self.dim)

    def matrix(self) -> np.ndarray:
        with self._lock:
            if self._all is None:
                found = self._query(f"SELECT embedding FROM {self.table} ORDER BY rn")
                self._all = np.array([_array(v) for (v,) in found], dtype=np.float32).reshape(len(found), self.dim)
        return self._all

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def _query(self, sql: str, params: tuple = (), before: Iterable[str] = ()) -> list[tuple]:
        con = getattr(self._local, "con", None)
        if con is None or con.closed:
            con = self._local.con = connect(self.dsn)
        try:
            for statement in before:
                con.execute(statement)
            return con.execute(sql, params, binary=True).fetchall()
        except _pg_error() as exc:
            raise StoreError(f"{safe_dsn(self.dsn)}#{self.entry.name}: vector search failed ({first_line(exc)}); "
                             "if the graph was published again since it was opened, open it again") from None


# ---- writing -----------------------------------------------------------------------------------


def _write(con, graph: KnowledgeGraph) -> None:
    for table, columns in _TABLES.items():
        con.execute(f"CREATE TABLE {table} ({columns})")
    _copy(con, "meta", sorted(graph_meta(graph).items()))
    for table, rows in table_rows(graph, {}).items():
        if table in _TABLES:
            _copy(con, table, ((n, *r) for n, r in enumerate(rows)) if table in _ORDERED else rows)
    for index in _INDEXES:
        con.execute(f"CREATE INDEX ON {index}")
    for name, table in sorted(graph.vectors.items()):
        if name == "passage":  # rows as the graph reads back: passage order
            table = aligned(table, tuple(graph.passages))
        ids, vectors = table.ids, np.asarray(table.vectors, dtype=np.float32)
        dim = int(vectors.shape[1]) if vectors.ndim == 2 and len(ids) else 0
        con.execute("INSERT INTO vector_tables VALUES (%s, %s, %s, %s)", (name, table.model, dim, len(ids)))
        if not dim:
            continue
        con.execute(f"CREATE TABLE vectors_{name} (rn integer PRIMARY KEY, id text NOT NULL, embedding vector({dim}))")
        _copy(con, f"vectors_{name}", ((n, i, v) for n, (i, v) in enumerate(zip(ids, vectors))))
        if len(ids) >= PG_HNSW_THRESHOLD:
            con.execute(f"CREATE INDEX ON vectors_{name} USING hnsw (embedding vector_ip_ops) "
                        f"WITH (m = {HNSW_LINKS}, ef_construction = 64)")


def _copy(con, table: str, rows: Iterable[tuple]) -> None:
    with con.cursor().copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _drop_old(con, name: str, version: int) -> None:
    for (schema,) in con.execute(f"SELECT schema FROM {REGISTRY} WHERE name = %s AND version <= %s",
                                 (name, version - KEEP_VERSIONS)).fetchall():
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    con.execute(f"DELETE FROM {REGISTRY} WHERE name = %s AND version <= %s", (name, version - KEEP_VERSIONS))


# ---- reading the registry ----------------------------------------------------------------------


def _registered(con) -> list[Published]:
    exists = con.execute("SELECT to_regclass(%s)", (REGISTRY,)).fetchone()[0]
    if exists is None:
        return []
    rows = con.execute(f"SELECT DISTINCT ON (name) name, version, schema, published_at FROM {REGISTRY} "
                       "ORDER BY name, version DESC").fetchall()
    return [Published(*r) for r in rows]


def _entry(con, dsn: str, name: str | None) -> Published:
    graphs = _registered(con)
    names = ", ".join(g.name for g in graphs) or "none"
    if name is None:
        if len(graphs) == 1:
            return graphs[0]
        raise StoreError(f"{safe_dsn(dsn)}: name the published graph to open as {safe_dsn(dsn)}#NAME "
                         f"(published: {names})")
    for g in graphs:
        if g.name == name:
            return g
    raise StoreError(f"{safe_dsn(dsn)}: no published graph {name!r} (published: {names}); "
                     f"publish one with `kg publish DIR {safe_dsn(dsn)} --name {name}`")


def _array(value) -> np.ndarray:
    """A pgvector value as a float32 array (pgvector's loader gives a ``Vector``)."""
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value, dtype=np.float32)


def _pg_error():
    import psycopg

    return psycopg.Error


def safe_dsn(dsn: str) -> str:
    """The connection string without its password (an empty one stays empty), for messages.

    >>> safe_dsn("postgresql://kg:secret@db:5432/graphs")
    'postgresql://kg:***@db:5432/graphs'
    """
    return re.sub(r"(://[^:/@]*):[^@/]+@", r"\1:***@", dsn)
