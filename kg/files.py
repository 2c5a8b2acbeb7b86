"""Writing files safely: every export is written under a temporary name beside its target and
moved into place, so an interrupted write never leaves half a file; and the characters that an
XML file (GraphML, RDF/XML) cannot carry.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from .errors import StoreError

# Characters XML 1.0 cannot carry, not even escaped (most C0 controls, surrogates, U+FFFE/U+FFFF).
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def save_model_file(path: str | Path, data: dict[str, Any]) -> Path:
    """Write a small model saved as JSON (a learned ranker, an evidence gate) atomically; returns ``path``."""
    atomic_write(path, lambda fh: fh.write(json.dumps(data, indent=2).encode("utf-8")))
    return Path(path)


def load_model_file(path: str | Path, what: str, format_name: str, format_version: int,
                    features: Sequence[str]) -> dict[str, Any]:
    """The JSON of a small model ``what`` saved by ``save_model_file``, refused with a ``StoreError`` naming
    ``path`` when unreadable, of another format or version, or computed from other ``features`` than
    this kgreason's.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = save_model_file(p, {"format": "m", "format_version": 2, "features": ["a"]})
    >>> load_model_file(p, "model", "m", 1, ["a"])
    Traceback (most recent call last):
    ...
    kg.errors.StoreError: .../m.json: format 'm' version 2, expected 'm' version 1
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: unreadable {what} ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != format_name or data.get("format_version") != format_version:
        got = data if isinstance(data, dict) else {}
        raise StoreError(f"{path}: format {got.get('format')!r} version {got.get('format_version')!r}, "
                         f"expected {format_name!r} version {format_version}")
    if tuple(data.get("features", ())) != tuple(features):
        raise StoreError(f"{path}: trained on features {data.get('features')}, but this kgreason computes "
                         f"{list(features)}; run kg tune again")
    return data


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` with a binary file open on a temporary file beside ``path``, then move it
    onto ``path``. If ``write`` raises, ``path`` is left as it was and the temporary file is removed.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write(p, lambda fh: fh.write(b"hello"))
    >>> p.read_bytes()
    b'hello'
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise StoreError(f"{target}: cannot write, folder {target.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise StoreError(f"{target}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise StoreError(f"{target}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        _remove(tmp)
        raise


def _file_mode(target: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 minus the umask."""
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _remove(tmp: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
