"""Finding input files: files, folders (recursive) and glob patterns expanded into supported files.

Nothing is skipped in silence except hidden files and folders (names starting with "."): a path
that is missing, a dangling symbolic link, a FIFO, socket or device, a folder that cannot be read, a
symbolic link to a folder (not followed, so a link cycle cannot loop) and an unsupported file type
each become a ``SkippedInput`` saying why.

>>> discover(["no/such/dir"])
([], [SkippedInput(source='no/such/dir', reason='no such file or directory', line=None)])
"""
from __future__ import annotations

import glob
import os
import re
import stat
from pathlib import Path
from typing import Iterator, Sequence

from kg.model import SkippedInput

SUPPORTED_SUFFIXES = (".docx", ".html", ".htm", ".json", ".jsonl", ".md", ".markdown", ".pdf", ".rst", ".txt")

_GLOB_CHARS = re.compile(r"[*?\[]")
_SPECIAL = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
            (stat.S_ISBLK, "block device"))
LINKED_FOLDER = "symbolic link to a folder, not followed; name the folder itself to read it"


def discover(sources: Sequence[str | Path]) -> tuple[list[Path], list[SkippedInput]]:
    """Expand files, folders (recursively, sorted) and glob patterns into supported files.

    Hidden files and folders inside a folder are ignored; everything else that is not read is
    reported. A file reached twice is listed once.

    >>> discover([])
    ([], [])
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    files: list[Path] = []
    skipped: list[SkippedInput] = []
    seen: set[Path] = set()
    for source in sources:
        for item in _expand(source):
            if isinstance(item, SkippedInput):
                skipped.append(item)
                continue
            key = item.resolve()
            if key not in seen:
                seen.add(key)
                files.append(item)
    return files, skipped


def _expand(source: str | Path) -> Iterator[Path | SkippedInput]:
    path = Path(source)
    if path.is_dir():
        yield from _check_suffixes(_walk(path))
    elif path.is_file():
        yield from _check_suffixes([path])
    elif isinstance(source, str) and _GLOB_CHARS.search(source):
        matches = sorted(glob.glob(source, recursive=True))
        if not matches:
            yield SkippedInput(source, "glob pattern matched no files")
        for match in matches:
            yield from _expand(Path(match))
    else:
        yield SkippedInput(str(source), _not_a_file(path))


def _not_a_file(path: Path) -> str:
    """Why ``path`` is neither a regular file nor a folder (never opening it: a FIFO would block).

    >>> _not_a_file(Path("no/such/file.txt"))
    'no such file or directory'
    """
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "no such file or directory"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISLNK(mode):
        return _link_problem(path)
    kind = next((name for test, name in _SPECIAL if test(mode)), f"mode {stat.filemode(mode)}")
    return f"not a regular file ({kind})"


def _link_problem(path: Path) -> str:
    try:
        target = path.stat().st_mode
    except FileNotFoundError:
        return "dangling symbolic link"
    except OSError as exc:  # a link loop (ELOOP), or a target we may not look at
        return f"unreadable symbolic link: {exc.strerror or exc}"
    kind = next((name for test, name in _SPECIAL if test(target)), f"mode {stat.filemode(target)}")
    return f"not a regular file (symbolic link to a {kind})"


def _walk(folder: Path) -> Iterator[Path | SkippedInput]:
    """Files under ``folder`` in sorted path order, and what could not be walked into."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except PermissionError:
        yield SkippedInput(str(folder), "permission denied")
        return
    except OSError as exc:
        yield SkippedInput(str(folder), f"cannot read folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path)
        elif entry.is_file():
            yield path
        elif entry.is_symlink() and entry.is_dir():
            yield SkippedInput(str(path), LINKED_FOLDER)
        else:
            yield SkippedInput(str(path), _not_a_file(path))


def _check_suffixes(items: Iterator[Path | SkippedInput] | Sequence[Path]) -> Iterator[Path | SkippedInput]:
    for item in items:
        if isinstance(item, SkippedInput) or item.suffix.lower() in SUPPORTED_SUFFIXES:
            yield item
            continue
        suffix = item.suffix.lower()
        shown = f"'{suffix}'" if suffix else "(no extension)"
        yield SkippedInput(str(item), f"unsupported file type {shown}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
