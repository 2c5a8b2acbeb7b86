"""kg build --engine ray: the same graph as the local build, on a Ray started on this machine, with
the real spaCy pipeline and embedder on samples/ (one local and one Ray build per session)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import kgreason
from kg import store
from kg.config import BuildConfig
from kg.errors import BackendError, ConfigError, KgError, StoreError

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
RECORDS = ("documents", "passages", "entities", "relations", "mentions", "assignments", "merges", "synonyms", "settings")


def assert_same_graph(a, b) -> None:
    for name in RECORDS:
        assert getattr(a, name) == getattr(b, name), name
    assert sorted(a.vectors) == sorted(b.vectors) == ["entity", "fact", "passage"]
    for name, table in a.vectors.items():
        assert table.ids == b.vectors[name].ids and table.model == b.vectors[name].model
        assert np.array_equal(table.vectors, b.vectors[name].vectors), name  # bit for bit


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    root = tmp_path_factory.mktemp("engines")
    first, rest = root / "first", root / "rest"  # an incremental step: most documents, then the others
    first.mkdir(), rest.mkdir()
    for n, f in enumerate(sorted((SAMPLES / "corpus").iterdir())):
        shutil.copy(f, (first if n % 5 else rest) / f.name)
    (rest / "broken.pdf").write_bytes(b"not a PDF at all")  # read on a worker: skipped, and said so
    out = {}
    for engine in ("local", "ray"):
        kgreason.build([first], root / engine, progress=False, engine=engine)
        report = kgreason.build([first, rest], root / engine, progress=False, engine=engine)
        out[engine] = (root / engine, report)
    return out


def test_ray_writes_the_graph_the_local_engine_writes(builds):
    (local_dir, local_report), (ray_dir, ray_report) = builds["local"], builds["ray"]
    assert ray_report.documents_added == local_report.documents_added > 0
    assert ray_report.documents_unchanged == local_report.documents_unchanged > 0
    assert ray_report.skipped == local_report.skipped
    assert [(x.source.endswith("broken.pdf"), x.reason.split(":")[0]) for x in ray_report.skipped] == [(True, "unreadable PDF")]
    assert_same_graph(store.load_graph(local_dir), store.load_graph(ray_dir))
    assert store.load_extractions(local_dir, store.load_graph(local_dir)) == store.load_extractions(ray_dir, store.load_graph(ray_dir))


def test_a_failure_on_a_worker_is_reported_as_in_a_local_build(tmp_path, builds):
    config = BuildConfig.from_dict({"extract": {"extractor": "llm", "llm_model": str(tmp_path / "missing.gguf")}})
    messages = []
    for engine in ("local", "ray"):
        with pytest.raises(KgError) as caught:
            kgreason.build([SAMPLES / "corpus"], tmp_path / engine, config, progress=False, engine=engine)
        messages.append((type(caught.value), str(caught.value)))
        assert not store.exists(tmp_path / engine)  # nothing half-written
    assert messages[0] == messages[1]
    assert messages[1][0] is ConfigError and "missing.gguf' is neither a packaged model" in messages[1][1]


def test_engine_and_address_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="engine: expected one of local, ray, got 'spark'"):
        kgreason.build([SAMPLES / "corpus"], tmp_path / "g", progress=False, engine="spark")
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with pytest.raises(BackendError, match="ray: cannot start or join 127.0.0.1:1 "):
        kgreason.build([SAMPLES / "corpus"], tmp_path / "g", progress=False, engine="ray", ray_address="127.0.0.1:1")
    with pytest.raises(StoreError):
        store.load_graph(tmp_path / "g")


def test_worker_errors_keep_their_class_and_message():
    from kgreason.distributed.ray_engine import _Failed

    from kg.errors import InputError

    error = _Failed.of(InputError("docs/a.pdf", "not a PDF", line=3)).error
    assert type(error) is InputError and str(error) == "docs/a.pdf:3: not a PDF"
    other = _Failed.of(ValueError("bad\nsecond line")).error
    assert type(other) is BackendError and str(other) == "ray: a worker failed: bad"


def test_ray_stops_only_after_the_threads_of_a_failed_data_job_end(monkeypatch):
    """A Ray Data thread still fetching when Ray shuts down ends the whole process (exit 1, no message):
    3 failed builds in 10 did so before the engine waited for them."""
    import threading
    import time

    from kgreason.distributed import ray_engine

    finished, seen_alive = threading.Event(), []

    class FakeRay:
        def shutdown(self):
            seen_alive.append(not finished.is_set())

    def fetching():
        time.sleep(0.3)
        finished.set()

    monkeypatch.setattr(ray_engine, "_ray", lambda: FakeRay())
    thread = threading.Thread(target=fetching, name="iter_threaded", daemon=True)
    thread.start()
    engine = ray_engine.RayEngine()
    engine._started = True
    engine.__exit__(None, None, None)
    assert seen_alive == [False] and not thread.is_alive()


def test_native_standard_error_is_silenced_only_inside_and_restored(capfd):
    import os

    from kgreason.distributed.ray_engine import _without_native_stderr

    with _without_native_stderr():
        os.write(2, b"logging.cc:303: Set ray log level\n")  # as Ray's C++ writes it at ray.init
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_kg_build_on_ray_prints_the_build_s_lines_only(tmp_path):
    """Ray's C++ announced on standard error that it read RAY_BACKEND_LOG_LEVEL: a line users could not act on."""
    import subprocess
    import sys

    pytest.importorskip("ray", reason="the ray extra is not installed")
    done = subprocess.run([sys.executable, "-m", "kgreason.cli", "build", str(SAMPLES / "corpus"), "--out",
                           str(tmp_path / "g"), "--engine", "ray", "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout.startswith("graph: ")
