"""The distributed build: ``kg build ... --engine ray`` runs extraction and embedding on a Ray cluster.

``local`` (the default) is the one-machine build of ``kgreason.builder``. ``ray`` starts a Ray instance
on loopback (or joins ``--ray-address``) and hands the builder an extractor and an embedder whose work
runs on Ray actors that load spaCy and the embedder once each (``ray_engine``); resolving entities,
assembling the graph and saving it stay in the driver, so the graph and its store are the same.
"""
from __future__ import annotations

ENGINES = ("local", "ray")
