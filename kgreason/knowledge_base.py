"""An opened graph: inspect it, retrieve evidence, ask questions (the read side of the API).

>>> import kgreason
>>> kb = kgreason.open(".kg/samples")                                             # doctest: +SKIP
>>> kb.ask("What is the seat of the county where Van Hook Township is located?").text  # doctest: +SKIP
'Stanley'
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kg import pgstore, registry, store
from kg.config import MAX_QUESTION_CHARS, BuildConfig, GenerateConfig, RetrieveConfig
from kg.embedding import Embedder
from kg.errors import ConfigError
from kg.graph import KnowledgeGraph
from kg.vectors import vectors_usable
from kg.model import Answer, Entity, Feedback, Relation, Retrieval

from .backends import make_embedder
from .tune.versions import load_active

INDEX_DIR = "indexes"  # in the graph directory: HNSW indexes of large vector tables, kept between loads


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

    def __init__(self, path: str | Path | None, graph: KnowledgeGraph, *, embedder: Embedder | None = None,
                 finder: Any = None, retrieve_config: RetrieveConfig | None = None,
                 generate_config: GenerateConfig | None = None, reranker: Any = None, reader: Any = None,
                 indexes: dict[str, Any] | None = None, location: str | None = None, ranker: Any = None,
                 gate: Any = None):
        # path: the graph directory; None for a graph published to PostgreSQL (read-only: no feedback,
        # no kg tune), which ``location`` names and whose vectors ``indexes`` search (kg.pgstore)
        self.path = Path(path) if path is not None else None
        self.location = location or str(path)
        self._indexes = indexes
        self.graph = graph
        self.settings = graph.settings
        self.build_config = BuildConfig.from_dict(graph.settings.get("build", {}))
        query = graph.settings.get("query", {})  # defaults saved from the settings file at build time
        self.retrieve_config = retrieve_config or RetrieveConfig.from_dict(query.get("retrieve", {}), "retrieve")
        self.generate_config = generate_config or GenerateConfig.from_dict(query.get("generate", {}), "generate")
        self._embedder = embedder
        self.reranker = reranker  # a reason.rerank.Reranker for hybrid retrieval (kg tune trains one)
        self.ranker = ranker  # a reason.learned_rank ranker (linear or boosted) for hybrid retrieval (kg tune trains one)
        self.gate = gate  # a reason.sufficiency.EvidenceGate: answers "Not found" on weak evidence (kg tune fits one)
        self.reader = reader  # a kg tune reader (versions.TunedReader): what "local" and "combined" run
        self._finder = finder
        self._retriever = None
        self._generators: dict[str, Any] = {}

    def with_settings(self, retrieve_config: RetrieveConfig | None = None,
                      generate_config: GenerateConfig | None = None) -> "KnowledgeBase":
        """The same graph and models (the active version's embedder, ranker, reranker and reader included) with
        other retrieve / generate settings."""
        return KnowledgeBase(self.path, self.graph, embedder=self._embedder, finder=self._finder,
                             retrieve_config=retrieve_config or self.retrieve_config,
                             generate_config=generate_config or self.generate_config,
                             reranker=self.reranker, reader=self.reader, indexes=self._indexes, location=self.location,
                             ranker=self.ranker, gate=self.gate)

    # ---- inspection -----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts, the build settings, and the retrieve / generate settings questions use by default."""
        query = {"retrieve": self.retrieve_config.to_dict(), "generate": self.generate_config.to_dict()}
        feedback = self.feedback_store.counts() if self.path and self.feedback_store.path.is_file() else {}
        return {"path": self.location, **self.graph.stats(), "feedback": feedback,
                "settings": {**self.settings.get("build", {}), **query},
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
                self._finder = self._mention_finder()
            self._retriever = Retriever(self.graph, self.embedder, self._finder, self.retrieve_config, self.reranker,
                                        index_dir=self.path / INDEX_DIR if self.path else None, indexes=self._indexes,
                                        ranker=self.ranker)
        return self._retriever

    def _mention_finder(self):
        """The question mention finder the link settings ask for (spaCy is loaded only if asked)."""
        if self.retrieve_config.link.mentions == "spacy":
            from extract.question_mentions import SpacyMentionFinder

            return SpacyMentionFinder(model=self.build_config.extract.model)
        from reason.link import CapitalisedSpanFinder

        return CapitalisedSpanFinder()

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> Retrieval:
        """Ranked evidence for ``question`` without generation (for users with their own LLM);
        ``k`` and ``mode`` default to the retrieve settings."""
        _check_question(question)
        return self.retriever.retrieve(question, k=k, mode=mode)

    def retrieve_many(self, questions: Sequence[str], k: int | None = None, mode: str | None = None) -> list[Retrieval]:
        """``retrieve`` for many questions, in order, each exactly as ``retrieve`` gives it (for
        evaluation and bulk jobs). A bad question is named by its position."""
        for n, question in enumerate(questions, 1):
            try:
                _check_question(question)
            except ConfigError as e:
                raise ConfigError(f"question {n}: {str(e).removeprefix('question: ')}") from None
        return self.retriever.retrieve_many(list(questions), k=k, mode=mode)

    def generator(self, name: str | None = None, config: GenerateConfig | None = None):
        """The generator ``name`` (default: the configured one), created once and reused."""
        config = config or self.generate_config
        name = name or config.generator
        if name not in self._generators:
            tuned = {}  # the tuned reader stands in for the packaged model, unless a model is named
            if self.reader is not None and name in ("local", "combined") and not config.model:
                tuned = {"model": self.reader.model, "adapter": str(self.reader.adapter)}
            self._generators[name] = registry.create(
                "generator", name, **{"model": config.model, "base_url": config.base_url,
                                      "api_key_env": config.api_key_env, "max_new_tokens": config.max_new_tokens, **tuned},
            )
        return self._generators[name]

    def ask(self, question: str, *, mode: str | None = None, k: int | None = None, generator: str | None = None,
            config: GenerateConfig | None = None) -> Answer:
        """Answer ``question`` from the graph's documents, with citations and a reasoning chain.
        Unset arguments come from the retrieve and generate settings."""
        from reason.answer import answer

        config = config or self.generate_config
        if generator:
            config = config.with_(generator=generator)
        retrieval = self.retrieve(question, k=k, mode=mode)
        return answer(retrieval, self.graph, self.generator(config.generator, config),
                      token_budget=config.context_tokens, settings={"generate": config.to_dict()}, gate=self.gate)

    # ---- feedback --------------------------------------------------------------------------------
    @property
    def feedback_store(self):
        """The graph's feedback store (``feedback.sqlite`` beside the graph, kept across rebuilds)."""
        from feedback.store import FeedbackStore

        if self.path is None:
            raise ConfigError(f"{self.location}: a published graph is read-only; record feedback in the graph "
                              "directory it was published from")
        return FeedbackStore(self.path)

    def feedback(self, answer: Answer, verdict: str, *, correction: str = "", relevant: Sequence[str] = (),
                 irrelevant: Sequence[str] = (), source: str = "human",
                 shown: Sequence[tuple[str, int]] | None = None) -> Feedback:
        """Record a verdict ("good", "bad" or "partly") on ``answer``, with the evidence it showed
        (``shown``: (passage id, rank) pairs, when the answer object no longer carries them).

        >>> kb.feedback(kb.ask("Who wrote Notes?"), "bad", correction="Ada Lovelace")   # doctest: +SKIP
        """
        feedback_store = self.feedback_store  # a published graph has none: say so before anything else
        record = Feedback(answer.question, answer.text if answer.found else "", verdict, source, correction,
                          tuple(shown) if shown is not None else tuple((e.passage_id, e.rank) for e in answer.evidence),
                          tuple(relevant), tuple(irrelevant),
                          store.saved_at(self.path), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        feedback_store.add([record])
        return record

    def close(self) -> None:
        self._retriever = None
        self._generators.clear()


def open(path: str | Path, **options: Any) -> KnowledgeBase:  # noqa: A001 - mirrors builtins.open on purpose
    """Open the graph saved in ``path`` (see ``KnowledgeBase`` for options), with the models of its
    active ``kg tune`` version unless an embedder is given; or, for ``postgresql://...#NAME``, the
    graph published there as NAME (``kg publish``; the name may be left out when only one is)."""
    if pgstore.is_location(str(path)):
        return _open_published(str(path), **options)
    graph = store.load_graph(path)
    active = None if "embedder" in options else load_active(path)
    if active is not None:
        if active.embedder is not None:
            options["embedder"], graph.vectors = active.embedder, active.tables
        options.setdefault("reranker", active.reranker)
        options.setdefault("ranker", active.ranker)
        options.setdefault("gate", active.gate)
        options.setdefault("reader", active.reader)
    return KnowledgeBase(path, graph, **options)


def _open_published(location: str, **options: Any) -> KnowledgeBase:
    dsn, name = pgstore.split_location(location)
    graph, entry = pgstore.load_graph(dsn, name)
    indexes = pgstore.vector_indexes(dsn, entry)
    location = f"{pgstore.safe_dsn(dsn)}#{entry.name}"
    # questions are embedded by the embedder given, else by the build's (by name: no model loads here)
    questions = options["embedder"].name if options.get("embedder") is not None else graph.settings.get("embedder", "")
    model = indexes["passage"].model
    if model and questions != model:
        raise ConfigError(f"{location}: its vectors were made by {model!r}, but questions would be embedded by "
                          f"{questions!r}; open it with that embedder")
    return KnowledgeBase(None, graph, indexes=indexes, location=location, **options)


def publish(path: str | Path, dsn: str, name: str | None = None):
    """Publish the graph directory ``path`` to PostgreSQL (with pgvector) as ``name`` (default: the
    directory's name), for ``open("postgresql://...#NAME")`` by any number of processes. The graph
    goes with the vectors of its build's embedder (a ``kg tune`` version stays in the directory).
    Returns the ``kg.pgstore.Published`` entry: name, version, schema, time."""
    graph = store.load_graph(path)
    name = name or pgstore.default_name(Path(path))
    if not vectors_usable(graph, graph.vectors, graph.settings.get("embedder", "")):
        raise ConfigError(f"{path}: the graph has no vectors of its embedder; rebuild it with `kg build ... --out {path}`")
    return pgstore.publish(graph, dsn, name)


def _check_question(question: str) -> None:
    if not question or not question.strip():
        raise ConfigError("question: expected a non-empty question")
    if len(question) > MAX_QUESTION_CHARS:
        raise ConfigError(f"question: expected at most {MAX_QUESTION_CHARS:,} characters, got {len(question):,}; "
                          "ask about a passage's content in a sentence or two")
