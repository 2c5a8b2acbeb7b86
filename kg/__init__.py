"""kgreason's graph core: records, the graph, its store, settings, backends registry and exports.

The core imports nothing above it. The functions users call (``build``, ``open``, ``remove``,
``KnowledgeBase``) live in the front door, the ``kgreason`` package; ``import kg; kg.build(...)``
keeps working because those names are looked up, on first use, through the ``kgreason.api`` entry
points, the same way every backend is found. Importing ``kg`` or ``kg.model`` loads neither the
front door nor torch or spaCy.

>>> import kg
>>> kg.__version__
'0.1.0'
>>> kg.build  # doctest: +ELLIPSIS
<function build at ...>
"""
__version__ = "0.1.0"

from .config import BuildConfig, GenerateConfig, RetrieveConfig, Settings, load_settings  # noqa: E402
from .errors import KgError  # noqa: E402

__all__ = ["BuildConfig", "GenerateConfig", "KgError", "RetrieveConfig", "Settings", "load_settings",
           "build", "open", "publish", "remove", "KnowledgeBase"]

_FRONT_DOOR = frozenset({"build", "open", "publish", "remove", "KnowledgeBase"})


def __getattr__(name: str):
    if name in _FRONT_DOOR:
        from . import registry

        return registry.get("api", name)
    raise AttributeError(f"module 'kg' has no attribute {name!r}")
