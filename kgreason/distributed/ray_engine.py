"""Extraction and embedding on Ray actors, for ``kgreason.build(..., engine="ray")``.

- **Loading** is a Ray Data job of tasks: the files found in the driver are read on the workers, and the
  driver puts their documents (and the problems of unreadable ones) together in file order, as a local
  build does.
- **Extraction** is a Ray Data job: the documents (with their passages, chunked in the driver as in a
  local build) stream through ``map_batches`` on a pool of actors, each holding one extractor (spaCy
  loaded once per actor), and the results stream back to the driver in document order, counted on
  the build's progress bar as they arrive.
- **Embedding** runs on a second pool of actors, each holding one embedder. The builder embeds in
  chunks; each chunk is cut into the groups the local embedder would run as one model call
  (``groups``: int8 dynamic quantisation makes a vector depend on its group), the groups run on the
  actors, and the rows come back in order. The vectors are bit for bit the local build's.

Each actor takes one CPU (and runs its model on one thread), so a local Ray on a 2-core machine runs
two of each. A failure on a worker reaches the user as the project's own error (a ``KgError`` raised
on a worker is re-raised as it was), never as a Ray traceback.
"""
from __future__ import annotations

import gc
import logging
import os
import pickle
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from kg.config import BuildConfig, available_cores
from kg.errors import BackendError, ConfigError, KgError, first_line

EXTRACT_BATCH = 8  # documents per Ray Data batch
READ_BATCH = 16  # files per Ray Data batch
EMBED_SLICE = 256  # texts per actor call for an embedder without groups (per-text deterministic)


class RayEngine:
    """A Ray instance for one build: ``with RayEngine(address) as engine: engine.extractor(config)``.
    Without ``address`` it starts a local Ray on loopback with this machine's cores and stops it after."""

    def __init__(self, address: str | None = None):
        self.address = address
        self._started = False
        self._pools: list[list[Any]] = []

    def __enter__(self) -> "RayEngine":
        ray = _ray()
        if not ray.is_initialized():
            # the build reports failures itself; Ray's own log lines (C++ and Python) would bury them
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
            options = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            if self.address:
                _check_reachable(self.address)
                options.update(address=self.address)
            else:
                options.update(address="local", num_cpus=available_cores(), _node_ip_address="127.0.0.1")
            try:
                with _without_native_stderr():  # Ray's C++ says, on standard error, that it read that setting
                    ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local Ray on 127.0.0.1"
                raise BackendError(f"ray: cannot start or join {where} ({first_line(exc)})") from None
            self._started = True
        context = _ray_data().DataContext.get_current()
        context.enable_progress_bars = False  # the build's own progress bar counts passages
        context.execution_options.preserve_order = True
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # failures are reported as the build's own errors
        return self

    def __exit__(self, *exc) -> None:
        for pool in self._pools:
            self._kill(pool)
        self._pools.clear()
        if self._started:
            _let_data_threads_finish()
            _ray().shutdown()
            self._started = False

    @property
    def cpus(self) -> int:
        return max(1, int(_ray().cluster_resources().get("CPU", 1)))

    def read_files(self, paths: list[Any]) -> Iterator[list[tuple]]:
        """Each file's ``extract.loaders.read_file`` list, read by Ray tasks, in order (``load_documents``'s
        ``read``). On a cluster every worker must see the files at the same paths."""
        if len(paths) < 2:  # a Ray job costs about 2 s to start: one file is read here, as locally
            from extract.loaders import read_file

            return (read_file(p) for p in paths)
        data = _ray_data()
        dataset = data.from_items([{"path": str(p)} for p in paths],
                                  override_num_blocks=max(1, min(len(paths), self.cpus * 4))).map_batches(
            _read_batch, batch_size=READ_BATCH, batch_format="numpy", num_cpus=1)
        return (_checked(pickle.loads(row["items"])) for row in _reraised(dataset.iter_rows()))

    def extractor(self, config: BuildConfig) -> "RayExtractor":
        return RayExtractor(config, self.cpus)

    def embedder(self, config: BuildConfig, local: Any) -> "RayEmbedder":
        """An embedder running on actors, grouping texts as ``local`` (the same model, in the driver)
        would. The actors start at its first call: the extraction actors hold the CPUs until then."""
        def start() -> list[Any]:
            actors = [_embed_actor().remote(config.to_dict()) for _ in range(self.cpus)]
            self._pools.append(actors)
            return actors

        def stop(actors: list[Any]) -> None:
            self._kill(actors)
            self._pools.remove(actors)

        return RayEmbedder(local, start, stop)

    @staticmethod
    def _kill(actors: list[Any]) -> None:
        ray = _ray()
        for actor in actors:
            ray.kill(actor)


@contextmanager
def _without_native_stderr() -> Iterator[None]:
    """File descriptor 2, where C++ writes its standard error, goes nowhere inside; Python's own
    ``sys.stderr`` is flushed first. What goes wrong in ``ray.init`` is raised, and reported from that."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


DATA_THREADS_WAIT = 10.0  # seconds Ray Data's threads of a failed job get to finish before Ray stops


def _let_data_threads_finish(timeout: float = DATA_THREADS_WAIT) -> None:
    """Wait for the threads through which Ray Data fed a job that failed (an extractor that cannot load,
    a bad file) to end. One still fetching a block when Ray shuts down ends this whole process at once,
    exit status 1 and no message ("the core worker has already been shutdown"): 3 builds in 10 whose
    extraction failed here, before the error could be reported. They end within a tenth of a second once
    the failed job's iterators are collected."""
    gc.collect()  # a failed job's iterators, held by the exception's frames until now, stop their threads
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and (
                thread.name == "iter_threaded" or thread.name.startswith("StreamingExecutor")):
            thread.join(max(0.0, deadline - time.monotonic()))


class RayExtractor:
    """The configured extractor, run on a pool of Ray actors by a Ray Data job."""

    def __init__(self, config: BuildConfig, actors: int):
        self.config, self.actors = config, actors

    def extract(self, inputs: Sequence[Any], progress: Callable[[int], None] = lambda n: None) -> list[Any]:
        if not inputs:
            return []
        data = _ray_data()
        items = [{"i": n, "item": pickle.dumps(item)} for n, item in enumerate(inputs)]
        dataset = data.from_items(items, override_num_blocks=max(1, len(items) // EXTRACT_BATCH)).map_batches(
            _ExtractBatch, fn_constructor_kwargs={"config": self.config.to_dict()}, batch_size=EXTRACT_BATCH,
            batch_format="numpy", compute=data.ActorPoolStrategy(size=min(self.actors, len(items))), num_cpus=1)
        del items  # from_items has put them in Ray's object store: the driver need not hold a second copy
        out: list[Any] = [None] * len(inputs)
        for row in _reraised(dataset.iter_rows()):
            n = int(row["i"])
            out[n] = _checked(pickle.loads(row["result"]))
            progress(len(inputs[n].passages))
        return out


def _read_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One Ray Data task: read a batch of files (a failure comes back as data, see ``_Failed``)."""
    from extract.loaders import read_file

    out = []
    for path in batch["path"]:
        try:
            out.append(read_file(path))
        except Exception as exc:  # read_file reports a bad file as a SkippedInput; this is anything else
            out.append(_Failed.of(exc))
    return {"items": np.array([pickle.dumps(x) for x in out], dtype=object)}


class _ExtractBatch:
    """One Ray Data actor: builds the extractor once (one process: Ray is the parallelism). Errors
    travel back as data (``_Failed``): Ray's own wrapping loses what was raised."""

    def __init__(self, config: dict):
        self.failed = None
        try:
            from kgreason.backends import make_extractor

            cfg = BuildConfig.from_dict(config)
            self.extractor = make_extractor(cfg.with_(extract=cfg.extract.with_(workers=1)))
        except Exception as exc:  # reported with the first batch, as the local build reports it
            self.failed = _Failed.of(exc)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.failed is not None:
            results = [self.failed] * len(batch["i"])
        else:
            try:
                results = list(self.extractor.extract([pickle.loads(b) for b in batch["item"]]))  # a generator fails late
            except Exception as exc:
                results = [_Failed.of(exc)] * len(batch["i"])
        return {"i": batch["i"], "result": np.array([pickle.dumps(r) for r in results], dtype=object)}


class _Failed:
    """What a worker raised, sent back as a result: its ``kg.errors`` class and message (an exception
    object itself may not survive pickling), anything else as one ``BackendError`` line."""

    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message

    @classmethod
    def of(cls, exc: Exception) -> "_Failed":
        if isinstance(exc, KgError):
            return cls(type(exc).__name__, str(exc))
        return cls("BackendError", f"ray: a worker failed: {first_line(exc)}")

    @property
    def error(self) -> KgError:
        from kg import errors

        kind = getattr(errors, self.kind, None)
        kind = kind if isinstance(kind, type) and issubclass(kind, KgError) else BackendError
        error = kind.__new__(kind)
        Exception.__init__(error, self.message)  # the message as written (InputError's too)
        return error


def _checked(result: Any) -> Any:
    if isinstance(result, _Failed):
        raise result.error
    return result


class RayEmbedder:
    """Embeds on Ray actors, in the groups the local embedder would use (see the module docstring)."""

    def __init__(self, local: Any, start: Callable[[], list[Any]], stop: Callable[[list[Any]], None]):
        self.local, self._start, self._stop = local, start, stop
        self.name = local.name
        self._actors: list[Any] | None = None

    def close(self) -> None:
        """Stop the actors (the build calls it once everything is embedded, before saving); a later
        call to ``embed`` starts new ones."""
        if self._actors is not None:
            self._stop(self._actors)
            self._actors = None

    def config(self) -> dict[str, Any]:
        return self.local.config() if hasattr(self.local, "config") else {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.local.embed([])
        texts = [str(t) for t in texts]
        grouped = hasattr(self.local, "groups")
        groups = self.local.groups(texts) if grouped else [list(range(i, min(i + EMBED_SLICE, len(texts))))
                                                            for i in range(0, len(texts), EMBED_SLICE)]
        if self._actors is None:
            self._actors = self._start()
        pool = _ray().util.ActorPool(self._actors)
        call = (lambda a, g: a.embed_group.remote(g)) if grouped else (lambda a, g: a.embed.remote(g))
        out = None
        for rows, vectors in zip(groups, _reraised(pool.map(call, [[texts[i] for i in g] for g in groups]))):
            vectors = _checked(vectors)
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out


def _embed_actor():
    ray = _ray()

    @ray.remote(num_cpus=1)
    class EmbedActor:
        def __init__(self, config: dict):
            from kgreason.backends import make_embedder

            self.embedder = make_embedder(BuildConfig.from_dict(config))
            if hasattr(self.embedder, "threads"):
                self.embedder.threads = 1  # one CPU per actor

        def embed_group(self, texts: list[str]):
            try:
                return self.embedder.embed_group(texts)
            except Exception as exc:
                return _Failed.of(exc)

        def embed(self, texts: list[str]):
            try:
                return self.embedder.embed(texts)
            except Exception as exc:
                return _Failed.of(exc)

    return EmbedActor


def _reraised(results: Iterator[Any]) -> Iterator[Any]:
    """``results``, with a worker's failure raised as the project error it was (a bad file names
    itself the same way as in a local build), or as one ``BackendError`` line."""
    try:
        yield from results
    except KgError:
        raise
    except Exception as exc:  # Ray wraps what a worker raised; find it
        original = _original(exc)
        if isinstance(original, KgError):
            raise original from None
        raise BackendError(f"ray: a worker failed: {first_line(original)}") from None


def _original(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            return exc
        exc = inner
    return exc


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds on a cluster address nothing answers at (Ray itself waits for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BackendError(f"ray: cannot start or join {address} (nothing answers there: {exc.strerror or exc})") from None


def _ray():
    try:
        import ray
        import ray.util  # noqa: F401 - ActorPool
    except ImportError:
        raise ConfigError('--engine ray needs Ray: pip install "kgreason[ray]"') from None
    return ray


def _ray_data():
    _ray()
    import ray.data

    return ray.data
