"""The one exception hierarchy of kgreason. Messages name the offending value and what was expected."""
from __future__ import annotations


class KgError(Exception):
    """Base class of every error kgreason raises on purpose; the CLI prints its message cleanly."""


class InputError(KgError):
    """A document or data file could not be read: names the file (and line) and what was wrong."""

    def __init__(self, source: str, reason: str, line: int | None = None):
        self.source = source
        self.reason = reason
        self.line = line
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")


class ConfigError(KgError):
    """A setting has a bad value or a config file is malformed."""


class StoreError(KgError):
    """A graph directory is missing, corrupt, or of an unsupported format version."""


class NotFoundError(KgError):
    """A document, entity or other named item does not exist in the graph."""


class BackendError(KgError):
    """A pluggable backend (model, server, index) is unavailable or failed."""


class ConvergenceError(KgError):
    """An iterative algorithm (personalised PageRank) did not converge within its iteration limit."""


def first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says (its class name when it says nothing): how a foreign error
    (a server's, a worker's) is quoted inside one of ours.

    >>> first_line(ValueError("bad value\\nTraceback ...")), first_line(KeyError())
    ('bad value', 'KeyError')
    """
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
