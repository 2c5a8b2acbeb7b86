"""The folder kgreason keeps derived files in: converted models and cached evaluation graphs.

``$KG_CACHE_DIR`` when set, else ``~/.cache/kgreason``. Everything under it can be deleted at any
time; it is re-derived from the installed packages (never downloaded) on next use.

>>> import os; os.environ["KG_CACHE_DIR"] = "/tmp/kgc"; str(cache_root())
'/tmp/kgc'
>>> del os.environ["KG_CACHE_DIR"]
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$KG_CACHE_DIR``, or ``~/.cache/kgreason``."""
    return Path(os.environ.get("KG_CACHE_DIR") or Path.home() / ".cache" / "kgreason")
