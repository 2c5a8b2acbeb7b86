"""An LLM as extractor: relation triples with their evidence sentence, one schema-constrained JSON reply
per passage, on any ``kg.llm.ChatModel`` (llama.cpp in-process by default).

The model replies ``{"triples": [{"subject", "subject_type", "predicate", "object", "object_type",
"evidence"}]}``; decoding is held to ``TRIPLES_SCHEMA``. A triple becomes records only when it can be
traced back to the text: its evidence must be a sentence of the passage (found verbatim, ignoring case
and spacing) and its subject and object must be written inside that evidence; anything else (an
invented name, a paraphrased sentence) is dropped, so every relation keeps exact provenance. Chosen
with ``extract.extractor = "llm"`` and ``extract.llm_model`` (``qwen2.5-0.5b``, ``qwen2.5-1.5b`` or a
``.gguf`` path); ``extract.llm_sources`` runs it beside spaCy on the documents it names
(``extract/beside.py``), and ``passages`` limits it to chosen passage ids in the Python API.

>>> from kg.llm import ChatReply
>>> from kg.model import Document, Passage
>>> from extract.base import DocumentInput
>>> class Canned:
...     def chat(self, messages, *, max_tokens, json_schema=None):
...         return ChatReply('{"triples": [{"subject": "Ada", "subject_type": "PERSON", "predicate": "wrote", '
...                          '"object": "Notes", "object_type": "WORK_OF_ART", "evidence": "Ada wrote Notes."}]}', 60, 30, 0.2)
>>> d = Document.from_text("Ada wrote Notes. She died.", source="a.txt")
>>> ex = next(LLMExtractor(chat_model=Canned()).extract([DocumentInput(d, (Passage(d.id + ":p0", d.id, 0, 0, 26, d.text),))]))
>>> [(m.text, m.label) for m in ex.mentions], [(r.predicate, r.sentence_start, r.sentence_end) for r in ex.relations]
([('Ada', 'PERSON'), ('Notes', 'WORK_OF_ART')], [('write', 0, 16)])
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Collection, Iterator, Sequence

from kg.errors import BackendError
from kg.llm import ChatModel, ChatReply, reply_json
from kg.model import Document, DocumentExtraction, Mention, Passage, RawRelation, mention_id

from .base import DocumentInput
from .sanitise import clean_name, clean_predicate

TYPES = ("PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "WORK_OF_ART", "EVENT", "PRODUCT", "DATE", "CARDINAL",
         "CONCEPT")
CONFIDENCE = 0.6  # below spaCy's dependency patterns (0.7-0.85): an LLM triple is a reading, not a parse
SYSTEM_PROMPT = (
    "You extract facts from a passage. Reply with a JSON object whose \"triples\" lists every fact the passage "
    "states between two named things: \"subject\" and \"object\" are names copied exactly from the passage, "
    "\"predicate\" is a short verb phrase (e.g. \"born in\", \"directed by\", \"capital of\"), the types are "
    "entity types, and \"evidence\" is the sentence of the passage that states the fact, copied exactly."
)
TRIPLES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"triples": {"type": "array", "maxItems": 12, "items": {
        "type": "object",
        "properties": {
            "subject": {"type": "string"}, "subject_type": {"type": "string", "enum": list(TYPES)},
            "predicate": {"type": "string"},
            "object": {"type": "string"}, "object_type": {"type": "string", "enum": list(TYPES)},
            "evidence": {"type": "string"},
        },
        "required": ["subject", "subject_type", "predicate", "object", "object_type", "evidence"],
        "additionalProperties": False,
    }}},
    "required": ["triples"],
    "additionalProperties": False,
}
_FIELDS = TRIPLES_SCHEMA["properties"]["triples"]["items"]["required"]


class LLMExtractor:
    """``Extractor`` on a ``ChatModel``: by default ``kg.llamacpp.LlamaCppChat(model, threads)``, loaded on
    the first passage. ``passages``: ids of the only passages to read (empty: all)."""

    name = "llm"

    def __init__(self, model: str = "", chat_model: ChatModel | None = None, threads: int = 1,
                 max_tokens: int = 600, passages: Collection[str] = ()):
        if chat_model is None:
            from kg.llamacpp import LlamaCppChat  # lazily: building an extractor loads nothing

            chat_model = LlamaCppChat(model, threads)
        self.chat_model, self.model, self.max_tokens = chat_model, model, max_tokens
        self.passages = frozenset(passages)
        self.usage = {"llm_calls": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def config(self) -> dict[str, Any]:
        """The settings that rebuild this extractor (the chat model aside)."""
        return {"model": self.model, "max_tokens": self.max_tokens, "passages": sorted(self.passages)}

    def extract(self, inputs: Sequence[DocumentInput],
                progress: Callable[[int], None] | None = None) -> Iterator[DocumentExtraction]:
        """One ``DocumentExtraction`` per input, in order; ``progress(1)`` after each passage."""
        for inp in inputs:
            mentions: dict[str, Mention] = {}
            relations: list[RawRelation] = []
            for p in inp.passages:
                if not self.passages or p.id in self.passages:
                    for triple in self.read(p):
                        _add(triple, inp.document, p, mentions, relations)
                if progress is not None:
                    progress(1)
            yield DocumentExtraction(inp.document.id, tuple(mentions.values()), tuple(relations))

    def read(self, passage: Passage) -> list[dict[str, str]]:
        """The triples the model reads in one passage (checked against the schema, not yet located)."""
        reply = self.chat_model.chat(triple_messages(passage.text), max_tokens=self.max_tokens,
                                     json_schema=TRIPLES_SCHEMA)
        for key, value in (("llm_calls", 1), ("prompt_tokens", reply.prompt_tokens),
                           ("completion_tokens", reply.completion_tokens)):
            self.usage[key] += value
        return parse_triples(reply)


def triple_messages(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": f"Passage:\n{text}"}]


def parse_triples(reply: ChatReply) -> list[dict[str, str]]:
    """The triples of a reply; BackendError naming the reply when it breaks ``TRIPLES_SCHEMA``.

    A reply cut off by the token limit keeps the triples it completed (decoding is held to the
    schema, so what precedes the cut is well-formed):

    >>> parse_triples(ChatReply('{"triples": [{"subject": "A", "subject_type": "ORG", "predicate": "p", '
    ...     '"object": "B", "object_type": "ORG", "evidence": "A p B."}, {"subject": "C", "subj', 9, 60, 0.1))[0]["object"]
    'B'
    """
    try:
        triples = reply_json(reply).get("triples")
    except BackendError:
        triples = _completed_items(reply.text)
        if triples is None:
            raise
    if not isinstance(triples, list) or not all(
            isinstance(t, dict) and all(isinstance(t.get(f), str) for f in _FIELDS) for t in triples):
        raise BackendError(
            "the model's reply does not follow the triples schema {triples: [{subject, subject_type, predicate, "
            f"object, object_type, evidence: string}}]}}: {reply.text[:200]!r}"
        )
    return triples


def _completed_items(text: str) -> list[Any] | None:
    """The complete items of the ``triples`` array at the start of a cut-off reply; None when the
    reply does not open one."""
    m = re.match(r'\s*\{\s*"triples"\s*:\s*\[', text)
    if m is None:
        return None
    items, pos, decoder = [], m.end(), json.JSONDecoder()
    while True:
        pos = len(text) - len(text[pos:].lstrip(" \n\t,"))
        try:
            item, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return items
        items.append(item)


def locate(needle: str, text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """(start, end) of ``needle`` in ``text[start:end]`` ignoring case and white space (runs of it
    between words, any or none beside punctuation: a model copying "Paris , France" writes "Paris,
    France"), on word boundaries; None when it is not written there.

    >>> locate("new  york", "Born in New York City.")
    (8, 16)
    >>> locate("Paris, France.", "Born in Paris , France .")
    (8, 24)
    """
    tokens = re.findall(r"\w+|[^\w\s]", needle)
    if not tokens:
        return None
    pattern = r"(?<!\w)" + re.escape(tokens[0])
    for prev, tok in zip(tokens, tokens[1:]):
        words = prev[-1].isalnum() or prev[-1] == "_", tok[0].isalnum() or tok[0] == "_"
        pattern += (r"\s+" if all(words) else r"\s*") + re.escape(tok)
    pattern += r"(?!\w)"
    m = re.compile(pattern, re.IGNORECASE).search(text, start, len(text) if end is None else end)
    return (m.start(), m.end()) if m else None


def _add(triple: dict[str, str], doc: Document, p: Passage, mentions: dict[str, Mention],
         relations: list[RawRelation]) -> None:
    """Records of one triple, when its evidence, subject and object are all found in the passage."""
    sentence = locate(triple["evidence"], p.text)
    predicate = clean_predicate(triple["predicate"].casefold())
    if sentence is None or not predicate:
        return
    ends = [_mention(triple[k], triple[f"{k}_type"], doc, p, sentence, mentions) for k in ("subject", "object")]
    if None in ends or ends[0].id == ends[1].id:
        return
    start, end = _sentences_around(p.text, sentence, min(m.start for m in ends) - p.start, max(m.end for m in ends) - p.start)
    relations.append(RawRelation(ends[0].id, _verb_stem(predicate), ends[1].id, p.id, p.start + start,
                                 p.start + end, CONFIDENCE, "llm"))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def _sentences_around(text: str, span: tuple[int, int], first: int, last: int) -> tuple[int, int]:
    """The sentences of ``text[span]`` from the one holding offset ``first`` to the one holding
    ``last``: a model that quotes a whole passage as evidence still gets the one sentence that states
    the fact.

    >>> t = "Ada was born in London. She wrote Notes."
    >>> _sentences_around(t, (0, len(t)), 0, 22)
    (0, 23)
    """
    start, end = span
    for m in _SENTENCE_END.finditer(text, span[0], span[1]):
        if m.end() <= first:
            start = m.end()
        elif m.start() >= last:
            end = m.start()
            break
    return start, end


def _mention(name: str, label: str, doc: Document, p: Passage, sentence: tuple[int, int],
             mentions: dict[str, Mention]) -> Mention | None:
    span = locate(clean_name(name), p.text, *sentence)
    if span is None:
        return None
    start, end = p.start + span[0], p.start + span[1]
    kind = "noun" if label == "CONCEPT" else "ner"
    m = mentions.setdefault(mention_id(doc.id, start, end),
                            Mention(mention_id(doc.id, start, end), doc.id, p.id, start, end, doc.text[start:end], label, kind))
    return m


def _verb_stem(predicate: str) -> str:
    """The predicate without auxiliaries, common irregular verbs in their base form ("born in" ->
    "bear_in", as spaCy's lemmas write it). Regular past tenses stay: stripping "-ed" without a
    lemmatiser breaks as many verbs ("located") as it fixes.

    >>> _verb_stem("was_directed_by"), _verb_stem("born_in"), _verb_stem("wrote"), _verb_stem("married")
    ('directed_by', 'bear_in', 'write', 'marry')
    """
    words = [w for w in predicate.split("_") if w not in _AUXILIARIES]
    return "_".join(_lemma(w) for w in words) or predicate


_AUXILIARIES = frozenset("is was are were has had have been be".split())
_IRREGULAR = {"born": "bear", "wrote": "write", "written": "write", "made": "make", "won": "win", "led": "lead",
              "became": "become", "began": "begin", "took": "take", "gave": "give", "sang": "sing", "sung": "sing",
              "held": "hold", "known": "know", "grew": "grow", "built": "build", "bore": "bear"}


def _lemma(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    return word[:-3] + "y" if word.endswith("ied") and len(word) > 4 else word
