"""kgreason: knowledge-graph augmented reasoning over your documents.

Build an entity-relation graph with provenance from a folder of documents, then ask multi-hop
questions and get answers with citations and the chain of facts behind them. Models load lazily:
``import kg`` does not import torch or spaCy.

>>> import kg
>>> kg.__version__
'0.1.0'
>>> kg.build, kg.open  # doctest: +ELLIPSIS
(<function build at ...>, <function open at ...>)
"""
__version__ = "0.1.0"

from .api import KnowledgeBase, build, open, remove  # noqa: E402,A004
from .config import BuildConfig, GenerateConfig, RetrieveConfig  # noqa: E402
from .errors import KgError  # noqa: E402

__all__ = ["BuildConfig", "GenerateConfig", "KgError", "KnowledgeBase", "RetrieveConfig", "build", "open", "remove"]
