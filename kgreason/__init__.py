"""kgreason: knowledge-graph augmented reasoning over your documents: the front door.

Build an entity-relation graph with provenance from a folder of documents, then ask multi-hop
questions and get answers with citations and the chain of facts behind them. This package ties
the others together (``extract`` -> ``kg`` <- ``reason``) and nothing below imports it. Models
load lazily: ``import kgreason`` does not import torch or spaCy.

>>> import kgreason
>>> kgreason.build, kgreason.open  # doctest: +ELLIPSIS
(<function build at ...>, <function open at ...>)
"""
from kg import __version__
from kg.config import BuildConfig, GenerateConfig, RetrieveConfig, Settings, load_settings
from kg.errors import KgError
from kg.model import Answer, Feedback

from .builder import build, remove, skipped_summary
from .knowledge_base import EntityView, KnowledgeBase, open, publish  # noqa: A004 - mirrors builtins.open on purpose

__all__ = ["Answer", "BuildConfig", "EntityView", "Feedback", "GenerateConfig", "KgError", "KnowledgeBase", "RetrieveConfig", "Settings",
           "__version__", "build", "load_settings", "open", "publish", "remove", "skipped_summary"]
