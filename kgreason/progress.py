"""Progress of the long stages of a build, in the units a user can relate to the input
(passages parsed, mentions resolved, texts embedded), with rate and ETA from tqdm.

>>> with stage("embed", 3, "text", enabled=False) as step:
...     step(3)
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

Step = Callable[[int], None]


@contextlib.contextmanager
def stage(desc: str, total: int | None, unit: str, enabled: bool = True) -> Iterator[Step]:
    """A progress bar for one stage; yields ``step(n)``, to call as ``n`` more units are done."""
    if not enabled:
        yield lambda n=1: None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, smoothing=0.1) as bar:
        yield bar.update


def accepts_progress(method: Callable) -> bool:
    """Whether a backend's method takes ``progress=`` (optional for third-party extractors)."""
    import inspect

    try:
        return "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
