"""One writer at a time per graph directory.

``kg build`` and ``kg remove`` read the saved graph, change it and write it back; two of them at
once would each write their own version and one side's documents would be lost. A writer holds an
exclusive ``fcntl`` lock on ``<graph>/.kgreason.lock`` for its whole run; a second writer fails at
once with a message naming the holder. Readers (``kg ask``, ``kg stats``, ...) never take the lock:
the store replaces its file atomically, so they always read a complete graph. The operating system
releases the lock when its process ends, however it ends, so a killed build never leaves the graph
locked.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with writer_lock(d, "kg build"):
...     with writer_lock(d, "kg remove"):  # doctest: +ELLIPSIS
...         pass
Traceback (most recent call last):
...
kg.errors.StoreError: ...: another kgreason process is writing this graph (pid ..., kg build, since ...); wait for it to finish, or stop it
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from .errors import StoreError

LOCK_FILE = ".kgreason.lock"


@contextlib.contextmanager
def writer_lock(path: str | Path, command: str) -> Iterator[None]:
    """Hold the graph directory's writer lock while the block runs (creating the directory if
    needed, and removing it again if the block fails before anything was saved in it)."""
    folder = Path(path)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"{folder}: cannot create the graph directory's lock ({exc.strerror})") from None
    try:
        _acquire(fd, folder)
        _describe_holder(fd, command)
        yield
    except BaseException:
        if created:
            _remove_if_empty(folder)
        raise
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, folder: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "pid unknown"
        raise StoreError(f"{folder}: another kgreason process is writing this graph ({holder}); "
                         "wait for it to finish, or stop it") from None


def _describe_holder(fd: int, command: str) -> None:
    """Record who holds the lock, for the message a second writer gets."""
    text = f"pid {os.getpid()}, {command}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, text, 0)


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        (folder / LOCK_FILE).unlink()
        folder.rmdir()
