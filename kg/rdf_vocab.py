"""The RDF vocabulary of kgreason exports, shared by ``kg.rdf`` (writing) and ``kg.rdf_read``
(reading); documented in docs/rdf-vocabulary.md."""
from __future__ import annotations

from pathlib import Path

from rdflib import SKOS, Namespace

from .errors import InputError

KGR = Namespace("https://kgreason.org/ns#")
KGREL = Namespace("https://kgreason.org/ns/rel#")
SDO = Namespace("https://schema.org/")
DEFAULT_BASE = "https://kgreason.org/graph/"
FORMAT_VERSION = 1
RDF_FORMATS = {"turtle": "turtle", "nt": "nt", "jsonld": "json-ld", "xml": "xml"}
# file extensions, and each format's own name as an extension ("x.turtle" is what `kg export --format turtle -o x.turtle` writes)
EXTENSIONS = {".ttl": "turtle", ".nt": "nt", ".jsonld": "jsonld", ".rdf": "xml", ".xml": "xml", ".owl": "xml",
              ".turtle": "turtle", ".ntriples": "nt", ".json-ld": "jsonld", ".rdfxml": "xml"}

# Coarse types of the resolver and raw spaCy labels -> a class that fits (kgr:Entity is always added).
_CLASS_TYPES = {
    SDO.Person: "PERSON", SDO.Organization: "ORG", SDO.Place: "GPE LOC FAC PLACE", KGR.Date: "DATE TIME",
    SDO.CreativeWork: "WORK_OF_ART WORK", SDO.Event: "EVENT", KGR.Group: "NORP GROUP", SDO.Legislation: "LAW",
    SDO.Language: "LANGUAGE", SDO.Product: "PRODUCT", SKOS.Concept: "CONCEPT",
}
TYPE_CLASSES = {etype: cls for cls, types in _CLASS_TYPES.items() for etype in types.split()}


def rdf_format(path: str | Path, format: str | None = None) -> str:
    """The RDF format name for ``path``: ``format`` if given, else guessed from the file extension.

    >>> rdf_format("graph.ttl"), rdf_format("graph.data", "nt"), rdf_format("x.turtle")
    ('turtle', 'nt', 'turtle')
    """
    name = format if format is not None else EXTENSIONS.get(Path(path).suffix.lower())
    if name not in RDF_FORMATS:
        got = f"format {format!r}" if format is not None else f"extension {Path(path).suffix!r}"
        exts = ", ".join(EXTENSIONS)
        expected = f"expected one of: {', '.join(RDF_FORMATS)} (or a file ending in {exts})"
        raise InputError(str(path), f"unknown RDF {got}; {expected}")
    return name
