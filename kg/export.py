"""Write a KnowledgeGraph to files: RDF (turtle, nt, jsonld, xml; see ``kg.rdf``), GraphML and
networkx node-link JSON. Every write is atomic: the file is written under a temporary name in the
target's folder and moved into place, so an interrupted export never leaves a half file behind.

GraphML and JSON are views for analysis tools (Gephi, networkx): one node per document, passage and
entity, typed edges, and for a relation only its first supporting sentence. For a lossless copy that
can be read back, use an RDF format and ``kg.rdf.read_rdf``.

>>> import json, tempfile, pathlib
>>> from kg.graph import KnowledgeGraph
>>> from kg.model import Entity
>>> g = KnowledgeGraph(entities={"e1": Entity("e1", "Ada Lovelace", "PERSON")})
>>> out = pathlib.Path(tempfile.mkdtemp()) / "graph.json"
>>> export_graph(g, out, "json")
>>> [n["name"] for n in json.loads(out.read_text(encoding="utf-8"))["nodes"]]
['Ada Lovelace']
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import ConfigError, StoreError
from .files import XML_INVALID, atomic_write
from .graph import KnowledgeGraph

FORMATS = ("turtle", "nt", "jsonld", "xml", "graphml", "json")
NETWORKX_FORMAT = "kgreason-networkx"
NETWORKX_FORMAT_VERSION = 1

def export_graph(graph: KnowledgeGraph, path: str | Path, format: str) -> None:
    """Write ``graph`` to ``path`` in ``format``: one of turtle, nt, jsonld, xml (RDF), graphml, json.

    >>> export_graph(KnowledgeGraph(), "/tmp/never-written.txt", "csv")
    Traceback (most recent call last):
    ...
    kg.errors.ConfigError: unknown export format 'csv'; expected one of: turtle, nt, jsonld, xml, graphml, json
    """
    if format == "graphml":
        write_graphml(graph, path)
    elif format == "json":
        write_json(graph, path)
    elif format in FORMATS:
        from .rdf import write_rdf  # rdflib is imported only when RDF is asked for

        write_rdf(graph, path, format)
    else:
        raise ConfigError(f"unknown export format {format!r}; expected one of: {', '.join(FORMATS)}")


def write_graphml(graph: KnowledgeGraph, path: str | Path) -> None:
    """Write the networkx view of ``graph`` (``KnowledgeGraph.to_networkx``) as GraphML.

    Attribute values must be scalars (str, int, float, bool); anything else raises StoreError naming
    the node or edge. Characters XML cannot carry (control characters) become U+FFFD. Graph-level
    attributes: ``format``, ``format_version`` and ``settings`` (as a JSON string).
    """
    import networkx as nx

    g = _networkx_view(graph, settings_as_json=True)
    for owner, attrs in _attribute_dicts(g):
        for key, value in attrs.items():
            attrs[key] = _graphml_value(owner, key, value)
    atomic_write(path, lambda fh: nx.write_graphml(g, fh, infer_numeric_types=True))


def write_json(graph: KnowledgeGraph, path: str | Path) -> None:
    """Write the networkx view of ``graph`` as node-link JSON (UTF-8), which
    ``networkx.node_link_graph(json.load(f))`` reads back as a MultiDiGraph. Graph-level keys:
    ``format``, ``format_version`` and ``settings``."""
    import networkx as nx

    data = nx.node_link_data(_networkx_view(graph, settings_as_json=False), edges="edges")
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{path}: the graph cannot be written as JSON ({exc})") from None
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def _networkx_view(graph: KnowledgeGraph, *, settings_as_json: bool):
    g = graph.to_networkx()
    g.graph["format"] = NETWORKX_FORMAT
    g.graph["format_version"] = NETWORKX_FORMAT_VERSION
    if settings_as_json:
        try:
            g.graph["settings"] = json.dumps(graph.settings, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"graph settings cannot be written as JSON ({exc})") from None
    else:
        g.graph["settings"] = graph.settings
    return g


def _attribute_dicts(g) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = [("graph", g.graph)]
    out.extend((f"node {n!r}", attrs) for n, attrs in g.nodes(data=True))
    out.extend((f"edge {u!r}->{v!r} ({k!r})", attrs) for u, v, k, attrs in g.edges(keys=True, data=True))
    return out


def _graphml_value(owner: str, key: str, value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, str):
        return XML_INVALID.sub("\ufffd", value)
    if isinstance(value, (bool, int, float)):
        return value
    raise StoreError(
        f"{owner}: attribute {key!r} is a {type(value).__name__} ({value!r}); GraphML needs str, int, float or bool"
    )
