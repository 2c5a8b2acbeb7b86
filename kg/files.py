"""Writing files safely: every export is written under a temporary name beside its target and
moved into place, so an interrupted write never leaves half a file; and the characters that an
XML file (GraphML, RDF/XML) cannot carry.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Callable

from .errors import StoreError

# Characters XML 1.0 cannot carry, not even escaped (most C0 controls, surrogates, U+FFFE/U+FFFF).
XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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
