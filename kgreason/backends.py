"""The models a graph's build settings name: its embedder and its extractor, created by name through
the backend registry. The builder, an opened graph and the distributed build's workers all make them here.
"""
from __future__ import annotations

from kg import registry
from kg.config import BuildConfig
from kg.embedding import Embedder


def make_embedder(config: BuildConfig) -> Embedder:
    """The embedder a graph is built (and queried) with, from its index settings."""
    return registry.create("embedder", config.index.embedder, model=config.index.model, batch_size=config.index.batch_size)


def make_extractor(config: BuildConfig):
    """The extractor of the build settings: ``extract.extractor`` on every document, and the LLM
    extractor beside it on the documents matching ``extract.llm_sources``."""
    x = config.extract
    llm = lambda: registry.create("extractor", "llm", model=x.llm_model, threads=x.llm_threads)  # noqa: E731
    if x.extractor == "llm":
        return llm()
    main = registry.create(
        "extractor", x.extractor, model=x.model, batch_size=x.batch_size, workers=x.workers,
        noun_phrases=x.noun_phrases, title_pronouns=x.title_pronouns,
    )
    if not x.llm_sources:
        return main
    from extract.beside import Beside

    return Beside(main, llm(), x.llm_sources)
