"""The public facade: build a graph from documents, open it, ask it questions.

This is the one module (with the CLI and the evaluation runner) that ties ``extract``, ``kg`` and
``reason`` together; everything the ``kg`` command does is a call into here.

>>> import kg
>>> report = kg.build(["samples/corpus"], "/tmp/kg-doc")          # doctest: +SKIP
>>> kb = kg.open("/tmp/kg-doc")                                    # doctest: +SKIP
>>> kb.ask("Who is the father of the director of film X?").text   # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import __version__, registry, store
from .config import BuildConfig, GenerateConfig, RetrieveConfig
from .embedding import CachedEmbedder, Embedder
from .errors import ConfigError, InputError
from .graph import KnowledgeGraph, assemble_graph
from .model import Answer, BuildReport, Document, DocumentExtraction, Entity, Passage, Relation, Retrieval, SkippedInput


def make_embedder(config: BuildConfig) -> Embedder:
    """The embedder a graph is built (and queried) with, from its index settings."""
    return registry.create("embedder", config.index.embedder, model=config.index.model, batch_size=config.index.batch_size)


def make_extractor(config: BuildConfig):
    x = config.extract
    return registry.create(
        "extractor", x.extractor, model=x.model, batch_size=x.batch_size, workers=x.workers,
        noun_phrases=x.noun_phrases, title_pronouns=x.title_pronouns,
    )


@dataclass
class _State:
    """Documents and raw extractions a graph is assembled from."""

    documents: dict[str, Document]
    passages: dict[str, Passage]
    extractions: dict[str, DocumentExtraction]
    names: dict[str, str] = field(default_factory=dict)  # previous entity id -> name
    stats: dict[str, int] = field(default_factory=dict)  # the saved graph's counts


def build(
    sources: Sequence[str | Path],
    out: str | Path,
    config: BuildConfig | None = None,
    *,
    strict: bool = False,
    progress: bool = True,
    extractor: Any = None,
    embedder: Embedder | None = None,
) -> BuildReport:
    """Build or update the graph in ``out`` from files, folders and globs in ``sources``.

    Incremental: documents already in the graph (same content hash) are skipped; a source whose
    content changed replaces its old facts. If the content-relevant settings differ from those the
    graph was built with, everything is rebuilt. The previous graph stays intact until the new one
    is completely written.
    """
    from extract.loaders import load_documents

    config = config or BuildConfig()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    loaded = load_documents([str(s) for s in sources], strict=strict)
    timings["load"] = time.perf_counter() - t
    state, previous_vectors = _previous_state(out, config)
    if not loaded.documents and not state.documents:
        reasons = "; ".join(skipped_summary(loaded.skipped)[:5]) or "no supported files"
        raise InputError(", ".join(map(str, sources)) or "(no sources)", f"no documents to build a graph from ({reasons})")
    unchanged = [d for d in loaded.documents if d.id in state.documents]
    new_docs = [d for d in loaded.documents if d.id not in state.documents]
    removed = _replaced_documents(state, new_docs)
    if new_docs or removed or not state.documents:
        for doc_id in removed:
            _drop(state, doc_id)
        t = time.perf_counter()
        _add_documents(state, new_docs, config, extractor, progress)
        timings["extract"] = time.perf_counter() - t
        embedder = CachedEmbedder(embedder or make_embedder(config))
        _prime(embedder, previous_vectors, state.names)
        graph = _assemble(state, config, embedder, previous_vectors, timings, progress)
        t = time.perf_counter()
        store.save_graph(graph, out, state.extractions)
        timings["save"] = time.perf_counter() - t
        stats = graph.stats()
    else:  # nothing changed: the saved graph already is the result
        stats = state.stats
    return BuildReport(
        out=str(out), documents_added=len(new_docs), documents_unchanged=len(unchanged),
        documents_removed=len(removed), skipped=loaded.skipped, passages=stats["passages"],
        entities=stats["entities"], relations=stats["relations"],
        seconds=round(time.perf_counter() - started, 3), timings={k: round(v, 3) for k, v in timings.items()},
    )


def _previous_state(out: str | Path, config: BuildConfig) -> tuple[_State, dict]:
    if not store.exists(out):
        return _State({}, {}, {}), {}
    graph = store.load_graph(out)
    if graph.settings.get("graph_settings") != config.graph_settings():
        return _State({}, {}, {}), {}  # settings changed: rebuild every document
    extractions = store.load_extractions(out, graph)
    names = {e.id: e.name for e in graph.entities.values()}
    return _State(dict(graph.documents), dict(graph.passages), extractions, names, graph.stats()), dict(graph.vectors)


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
    results = extractor.extract(inputs)
    if progress:
        from tqdm import tqdm

        results = tqdm(results, total=len(inputs), desc="extract", unit="doc")
    for item, ex in zip(inputs, results):
        state.documents[item.document.id] = item.document
        state.passages.update((p.id, p) for p in item.passages)
        state.extractions[item.document.id] = ex


def _assemble(state: _State, config: BuildConfig, embedder: Embedder, previous_vectors: dict,
              timings: dict[str, float], progress: bool) -> KnowledgeGraph:
    from extract.resolve import resolve
    from reason.index import build_vectors

    t = time.perf_counter()
    mentions = [m for ex in state.extractions.values() for m in ex.mentions]
    resolution = resolve(mentions, config.resolve, embedder if config.resolve.use_embeddings else None)
    timings["resolve"] = time.perf_counter() - t
    settings = {
        "graph_settings": config.graph_settings(),
        "build": config.to_dict(),
        "kgreason_version": __version__,
        "embedder": getattr(embedder, "name", type(embedder).__name__),
    }
    graph = assemble_graph(state.documents.values(), state.passages.values(), state.extractions.values(),
                           resolution, settings)
    t = time.perf_counter()
    graph.vectors = build_vectors(graph, embedder, previous_vectors, entities=config.index.entities,
                                  facts=config.index.facts)
    timings["embed"] = time.perf_counter() - t
    return graph


def remove(path: str | Path, key: str, *, embedder: Embedder | None = None) -> Document:
    """Delete one document (by id, external id or source) and every fact only it supported."""
    graph = store.load_graph(path)
    doc = graph.find_document(key)
    config = BuildConfig.from_dict(graph.settings.get("build", {}))
    state = _State(dict(graph.documents), dict(graph.passages), store.load_extractions(path, graph))
    _drop(state, doc.id)
    rebuilt = _assemble(state, config, embedder or make_embedder(config), dict(graph.vectors), {}, False)
    store.save_graph(rebuilt, path, state.extractions)
    return doc


@dataclass(frozen=True)
class EntityView:
    """An entity with its aliases, relations (with supporting sentences) and mentions' passages."""

    entity: Entity
    relations: tuple[Relation, ...]
    passages: tuple[str, ...]
    merges: tuple[Any, ...]
    names: dict[str, str]  # entity id -> name, for the relations' other ends


class KnowledgeBase:
    """An opened graph: inspect it, retrieve evidence, ask questions.

    Models (embedder, spaCy for question parsing, generators) load on first use only.
    """

    def __init__(self, path: str | Path, graph: KnowledgeGraph, *, embedder: Embedder | None = None,
                 finder: Any = None, retrieve_config: RetrieveConfig | None = None):
        self.path = Path(path)
        self.graph = graph
        self.settings = graph.settings
        self.build_config = BuildConfig.from_dict(graph.settings.get("build", {}))
        self.retrieve_config = retrieve_config or RetrieveConfig()
        self._embedder = embedder
        self._finder = finder
        self._retriever = None
        self._generators: dict[str, Any] = {}

    # ---- inspection -----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return {"path": str(self.path), **self.graph.stats(), "settings": self.settings.get("build", {}),
                "embedder": self.settings.get("embedder", ""), "kgreason_version": self.settings.get("kgreason_version", "")}

    def entity(self, name: str) -> EntityView:
        e = self.graph.find_entity(name)
        rels = tuple(self.graph.relations_of(e.id))
        ids = {r.subject for r in rels} | {r.object for r in rels}
        pas = tuple(sorted(self.graph.entity_passages().get(e.id, ())))
        merges = tuple(m for m in self.graph.merges if m.entity_id == e.id)
        return EntityView(e, rels, pas, merges, {i: self.graph.entities[i].name for i in ids})

    # ---- retrieval and answers --------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.build_config)
        return self._embedder

    @property
    def retriever(self):
        if self._retriever is None:
            from reason.retrieve import Retriever

            if self._finder is None:
                from extract.question_mentions import SpacyMentionFinder

                self._finder = SpacyMentionFinder(model=self.build_config.extract.model)
            self._retriever = Retriever(self.graph, self.embedder, self._finder, self.retrieve_config)
        return self._retriever

    def retrieve(self, question: str, k: int = 5, mode: str | None = None) -> Retrieval:
        """Ranked evidence for ``question`` without generation (for users with their own LLM)."""
        if not question or not question.strip():
            raise ConfigError("question: expected a non-empty question")
        return self.retriever.retrieve(question, k=k, mode=mode)

    def generator(self, name: str | None = None, config: GenerateConfig | None = None):
        config = config or GenerateConfig()
        name = name or config.generator
        if name not in self._generators:
            self._generators[name] = registry.create(
                "generator", name, model=config.model, base_url=config.base_url,
                api_key_env=config.api_key_env, max_new_tokens=config.max_new_tokens,
            )
        return self._generators[name]

    def ask(self, question: str, *, mode: str | None = None, k: int = 5, generator: str | None = None,
            config: GenerateConfig | None = None) -> Answer:
        """Answer ``question`` from the graph's documents, with citations and a reasoning chain."""
        from reason.answer import answer

        config = config or GenerateConfig()
        retrieval = self.retrieve(question, k=k, mode=mode)
        return answer(retrieval, self.graph, self.generator(generator, config), token_budget=config.context_tokens)

    def close(self) -> None:
        self._retriever = None
        self._generators.clear()


def open(path: str | Path, **options: Any) -> KnowledgeBase:  # noqa: A001 - mirrors builtins.open on purpose
    """Open the graph saved in ``path`` (see ``KnowledgeBase`` for options)."""
    return KnowledgeBase(path, store.load_graph(path), **options)


def skipped_summary(skipped: Sequence[SkippedInput]) -> list[str]:
    """One human line per skipped input: ``file[:line]: reason``."""
    return [f"{s.source}{':' + str(s.line) if s.line is not None else ''}: {s.reason}" for s in skipped]
