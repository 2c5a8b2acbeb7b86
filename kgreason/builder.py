"""Building a graph from documents, and removing documents from it: the write side of the API.

``build`` loads documents (``extract.loaders``), chunks and extracts them (``extract``), resolves
entities, assembles the graph (``kg.graph``), embeds it (``kg.vectors``) and saves it
(``kg.store``); every step below is a package of its own, and this module only ties them together.

>>> import kgreason
>>> report = kgreason.build(["samples/corpus"], "/tmp/kg-doc")        # doctest: +SKIP
>>> report.passages, report.skipped                                     # doctest: +SKIP
(39, ())
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from kg import __version__, store
from kg.config import BuildConfig, Settings
from kg.embedding import CachedEmbedder, Embedder
from kg.errors import ConfigError, InputError
from kg.graph import KnowledgeGraph, assemble_graph
from kg.lock import writer_lock
from kg.model import BuildReport, Document, DocumentExtraction, Passage, SkippedInput
from kg.vectors import build_vectors, item_texts

from .backends import make_embedder, make_extractor  # noqa: F401 - re-exported: the builder's models
from .distributed import ENGINES
from .progress import accepts_progress, stage


@dataclass
class _State:
    """Documents and raw extractions a graph is assembled from."""

    documents: dict[str, Document]
    passages: dict[str, Passage]
    extractions: dict[str, DocumentExtraction]
    names: dict[str, str] = field(default_factory=dict)  # previous entity id -> name
    stats: dict[str, int] = field(default_factory=dict)  # the saved graph's counts
    query: dict[str, Any] = field(default_factory=dict)  # saved [retrieve] / [generate] defaults


def build(
    sources: Sequence[str | Path],
    out: str | Path,
    config: BuildConfig | Settings | None = None,
    *,
    strict: bool = False,
    progress: bool = True,
    extractor: Any = None,
    embedder: Embedder | None = None,
    rebuild: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
) -> BuildReport:
    """Build or update the graph in ``out`` from files, folders and globs in ``sources``.

    Incremental: documents already in the graph (same content hash) are skipped; a source whose
    content changed replaces its old facts. If the content-relevant settings differ from those the
    graph was built with, everything is rebuilt. The previous graph stays intact until the new one
    is completely written. ``config`` is the build settings, or all ``Settings`` (a settings file):
    then its ``[retrieve]`` and ``[generate]`` sections are saved as the graph's query defaults.
    ``rebuild`` ignores the saved graph (also when it is damaged or of another format version).
    ``engine="ray"`` runs extraction and embedding on Ray actors (``kgreason.distributed``): a local
    Ray on loopback, or the cluster at ``ray_address``; the graph written is the same.

    Sources are stored resolved and relative to the graph directory's parent folder (absolute when
    outside it), so the same file reached through another path or working directory is the same
    source. Only one writer (build or remove) works on a graph at a time; another fails at once.
    """
    query = _query_settings(config) if isinstance(config, Settings) else None
    config = config.build if isinstance(config, Settings) else (config or BuildConfig())
    if engine not in ENGINES:
        raise ConfigError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    with writer_lock(out, "kg build"):
        store.remove_stale_temp_files(out)
        if engine == "local":
            return _build(sources, out, config, query, strict, progress, extractor, embedder, rebuild)
        from .distributed.ray_engine import RayEngine

        with RayEngine(ray_address) as ray_engine:
            extractor = extractor or ray_engine.extractor(config)
            on_ray = embedder is None
            embedder = embedder or ray_engine.embedder(config, make_embedder(config))
            return _build(sources, out, config, query, strict, progress, extractor, embedder, rebuild,
                          read=ray_engine.read_files, after_embedding=embedder.close if on_ray else lambda: None)


def _build(sources, out, config: BuildConfig, query, strict, progress, extractor, embedder, rebuild,
           read=None, after_embedding: Callable[[], None] = lambda: None) -> BuildReport:
    from extract.loaders import load_documents

    started = time.perf_counter()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    loaded = load_documents([str(s) for s in sources], strict=strict, read=read)
    loaded = replace(loaded, documents=tuple(_with_stable_source(d, out) for d in loaded.documents))
    timings["load"] = time.perf_counter() - t
    state, previous_vectors = (_State({}, {}, {}), {}) if rebuild else _previous_state(out, config)
    if not loaded.documents and not state.documents:
        reasons = "; ".join(skipped_summary(loaded.skipped)[:5]) or "no supported files"
        raise InputError(", ".join(map(str, sources)) or "(no sources)", f"no documents to build a graph from ({reasons})")
    unchanged = [d for d in loaded.documents if d.id in state.documents]
    new_docs = [d for d in loaded.documents if d.id not in state.documents]
    removed = _replaced_documents(state, new_docs)
    if query is not None and query != state.query:
        state.query = query
    elif state.documents and not new_docs and not removed:  # nothing changed: the saved graph is the result
        return _report(out, loaded, state.stats, unchanged, new_docs, removed, started, timings)
    for doc_id in removed:
        _drop(state, doc_id)
    t = time.perf_counter()
    _add_documents(state, new_docs, config, extractor, progress)
    timings["extract"] = time.perf_counter() - t
    _return_free_memory()
    embedder = CachedEmbedder(embedder or make_embedder(config))
    _prime(embedder, previous_vectors, state.names)
    graph = _assemble(state, config, embedder, previous_vectors, timings, progress)
    embedder.forget()  # saving is the build's largest step in memory: no name vectors (or Ray actors) left for it
    after_embedding()
    _return_free_memory()
    t = time.perf_counter()
    with stage("save", len(graph.passages), "passage", progress) as step:
        store.save_graph(graph, out, state.extractions)
        step(len(graph.passages))
    timings["save"] = time.perf_counter() - t
    _refresh_tuned_vectors(out, graph, config, progress, timings)
    return _report(out, loaded, graph.stats(), unchanged, new_docs, removed, started, timings)


def _refresh_tuned_vectors(out, graph: KnowledgeGraph, config: BuildConfig, progress: bool, timings: dict) -> None:
    """With a ``kg tune`` version active, its vectors are the ones questions use: embed what the
    build added with its embedder (reusing the rows of what stayed) and save them with the version,
    so opening the graph does not re-embed the new documents every time."""
    from .tune import versions

    active = versions.load_active(out)
    if active is None or active.embedder is None:  # no tuned embedder: the build's vectors are the ones used
        return
    t = time.perf_counter()
    texts = item_texts(graph, config.index.entities, config.index.facts)
    with stage("re-embed (tuned)", sum(len(ids) for ids, _ in texts.values()), "text", progress) as step:
        tables = build_vectors(graph, CachedEmbedder(active.embedder), active.tables, entities=config.index.entities,
                               facts=config.index.facts, progress=step)
    versions.save_vectors(versions.version_dir(out, active.number), tables)
    timings["tuned vectors"] = time.perf_counter() - t


def _return_free_memory() -> None:
    """Give the memory freed by a finished stage back to the system (glibc keeps it otherwise): a
    10,000-passage Ray build peaked 0.2 GB lower while saving. A no-op without glibc."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)  # the process's own symbols: libc's, without a library search
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl, Windows)
        pass


def _query_settings(settings: Settings) -> dict[str, Any]:
    return {"retrieve": settings.retrieve.to_dict(), "generate": settings.generate.to_dict()}


def _report(out, loaded, stats, unchanged, new_docs, removed, started, timings) -> BuildReport:
    return BuildReport(
        out=str(out), documents_added=len(new_docs), documents_unchanged=len(unchanged),
        documents_removed=len(removed), skipped=loaded.skipped, passages=stats["passages"],
        entities=stats["entities"], relations=stats["relations"],
        seconds=round(time.perf_counter() - started, 3), timings={k: round(v, 3) for k, v in timings.items()},
    )


def stable_source(source: str, out: str | Path) -> str:
    """``source`` (a path, or ``path#record``) resolved and relative to the folder holding the graph
    directory ``out``, as a POSIX path; absolute when the file lies outside that folder.

    >>> import os
    >>> stable_source("docs/a.md", "g") == "docs/a.md" and stable_source(os.path.abspath("docs/a.md"), "g")
    'docs/a.md'
    """
    path, sep, record = source.partition("#")
    if sep and Path(source).exists():  # a file whose name holds "#"
        path, sep, record = source, "", ""
    root = Path(out).resolve().parent
    resolved = Path(path).resolve()
    try:
        shown = resolved.relative_to(root).as_posix()
    except ValueError:
        shown = resolved.as_posix()
    return f"{shown}{sep}{record}"


def _with_stable_source(doc: Document, out: str | Path) -> Document:
    return replace(doc, source=stable_source(doc.source, out))


def _previous_state(out: str | Path, config: BuildConfig) -> tuple[_State, dict]:
    if not store.exists(out):
        return _State({}, {}, {}), {}
    store.check_integrity(out)  # a damaged file is reported here, before hours of extraction
    graph = store.load_graph(out)
    if graph.settings.get("graph_settings") != config.graph_settings():
        return _State({}, {}, {}), {}  # settings changed: rebuild every document
    extractions = store.load_extractions(out, graph)
    names = {e.id: e.name for e in graph.entities.values()}
    return (_State(dict(graph.documents), dict(graph.passages), extractions, names, graph.stats(),
                   dict(graph.settings.get("query", {}))), dict(graph.vectors))


def _prime(embedder: CachedEmbedder, vectors: dict, names: dict[str, str]) -> None:
    """Seed the cache with the previous build's entity-name vectors: resolution embeds those names
    again, and re-embedding tens of thousands of them would dominate a small incremental update."""
    table = vectors.get("entity")
    if table is not None and table.model == embedder.name:
        embedder.prime([names[i] for i in table.ids if i in names],
                       table.vectors[[n for n, i in enumerate(table.ids) if i in names]])


def _replaced_documents(state: _State, new_docs: list[Document]) -> list[str]:
    """Ids of stored documents whose source is being re-ingested with new content."""
    new_sources = {d.source for d in new_docs}
    return sorted(d.id for d in state.documents.values() if d.source in new_sources)


def _drop(state: _State, doc_id: str) -> None:
    state.documents.pop(doc_id, None)
    state.extractions.pop(doc_id, None)
    for pid in [p for p, rec in state.passages.items() if rec.doc_id == doc_id]:
        del state.passages[pid]


def _add_documents(state: _State, docs: list[Document], config: BuildConfig, extractor: Any, progress: bool) -> None:
    if not docs:
        return
    from extract.base import DocumentInput
    from extract.chunking import chunk_document

    inputs = []
    for doc in docs:
        passages = chunk_document(doc, config.ingest.chunk_size, config.ingest.chunk_overlap)
        inputs.append(DocumentInput(doc, tuple(passages)))
    extractor = extractor or make_extractor(config)
    per_passage = accepts_progress(extractor.extract)
    with stage("extract", sum(len(i.passages) for i in inputs), "passage", progress) as step:
        results = extractor.extract(inputs, progress=step) if per_passage else extractor.extract(inputs)
        for item, ex in zip(inputs, results):
            state.documents[item.document.id] = item.document
            state.passages.update((p.id, p) for p in item.passages)
            state.extractions[item.document.id] = ex
            if not per_passage:  # an extractor that reports documents only: count their passages
                step(len(item.passages))


def _assemble(state: _State, config: BuildConfig, embedder: Embedder, previous_vectors: dict,
              timings: dict[str, float], progress: bool = False) -> KnowledgeGraph:
    from extract.resolve import resolve

    t = time.perf_counter()
    mentions = [m for ex in state.extractions.values() for m in ex.mentions]
    with stage("resolve", len(mentions), "mention", progress) as step:
        resolution = resolve(mentions, config.resolve, embedder if config.resolve.use_embeddings else None)
        step(len(mentions))
    del mentions
    _return_free_memory()
    if isinstance(embedder, CachedEmbedder):  # names embedded for resolution are reused; nothing more is kept
        embedder.freeze()
    timings["resolve"] = time.perf_counter() - t
    settings = {
        "graph_settings": config.graph_settings(),
        "build": config.to_dict(),
        "kgreason_version": __version__,
        "embedder": getattr(embedder, "name", type(embedder).__name__),
        **({"query": state.query} if state.query else {}),
    }
    graph = assemble_graph(state.documents.values(), state.passages.values(), state.extractions.values(),
                           resolution, settings)
    t = time.perf_counter()
    texts = item_texts(graph, config.index.entities, config.index.facts)
    with stage("embed", sum(len(ids) for ids, _ in texts.values()), "text", progress) as step:
        graph.vectors = build_vectors(graph, embedder, previous_vectors, entities=config.index.entities,
                                      facts=config.index.facts, progress=step)
    timings["embed"] = time.perf_counter() - t
    return graph


def remove(path: str | Path, key: str, *, embedder: Embedder | None = None) -> Document:
    """Delete one document (by id, external id or source path) and every fact only it supported."""
    store.check_integrity(path)  # also says when there is no graph at all
    with writer_lock(path, "kg remove"):
        store.remove_stale_temp_files(path)
        return _remove(path, key, embedder)


def _remove(path: str | Path, key: str, embedder: Embedder | None) -> Document:
    graph = store.load_graph(path)
    doc = graph.find_document(stable_source(key, path) if Path(key).exists() else key)
    config = BuildConfig.from_dict(graph.settings.get("build", {}))
    state = _State(dict(graph.documents), dict(graph.passages), store.load_extractions(path, graph),
                   query=dict(graph.settings.get("query", {})))
    _drop(state, doc.id)
    rebuilt = _assemble(state, config, embedder or make_embedder(config), dict(graph.vectors), {})
    store.save_graph(rebuilt, path, state.extractions)
    return doc


def skipped_summary(skipped: Sequence[SkippedInput]) -> list[str]:
    """One human line per skipped input: ``file[:line]: reason``."""
    return [f"{s.source}{':' + str(s.line) if s.line is not None else ''}: {s.reason}" for s in skipped]
