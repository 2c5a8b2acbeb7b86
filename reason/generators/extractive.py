"""The extractive answerer: picks the answer span from the evidence, no language model.

Factoid questions get the best-scoring mention of the expected answer type (from the question's
wording) that is not an entity of the question, scored by type fit, the end of the reasoning chain,
graph rank of the candidate, evidence rank, and closeness to the question's words. A nested
question ("the seat of the county where X is located") is answered in two steps: first the entity
it describes (the bridge: "the county where X is located"), then the answer among the sentences
about the bridge, never the bridge itself. Comparisons go to
``compare``; yes/no questions check how much of the question the evidence about its subject states.

>>> ExtractiveGenerator().name
'extractive'
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

from kg.text import content_words, name_key

from ..context import Context
from .base import Generation, empty_usage
from .compare import answer_choice, answer_same
from .evidence import Sentence, in_question, question_entities, same_name, sentences_of, strip_parenthetical
from .grounding import known_names, names_all, names_any, question_names, relation_words, states_any
from .nested import Description, describe
from ..question import DATE, NAMED, QuestionAnalysis, analyse_question, answer_types, head_phrases
from ..text import RELATED, contains_phrase, find_numbers, lifespan, parse_dates, states

YES_COVERAGE = 0.6  # share of the question's words a yes/no answer's evidence must state


@dataclass
class _Candidate:
    key: str
    text: Counter = field(default_factory=Counter)
    score: float = 0.0
    sentence: Sentence | None = None
    count: int = 0

    @property
    def name(self) -> str:
        return self.text.most_common(1)[0][0]


@dataclass(frozen=True)
class _Scope:
    """What an answer is looked for with: the question ``words`` its sentence should state, the
    ``anchors`` one of which it must name (empty: any), the ``bridge`` of a nested question
    (excluded as an answer; the answer's sentence must be about it), and the relation words one of
    which its sentence must state (``requires``; empty: none)."""

    words: frozenset[str]
    anchors: tuple[str, ...] = ()
    bridge: _Candidate | None = None
    titles: frozenset[str] = frozenset()  # normalised source titles: a bridge usually has its own source
    requires: frozenset[str] = frozenset()


class ExtractiveGenerator:
    """Answers with a span of the evidence; never invents one.

    Accepts (and ignores) the LLM settings so it can be built from any ``GenerateConfig``.
    """

    name = "extractive"

    def __init__(self, model: str = "", base_url: str = "", api_key_env: str = "", max_new_tokens: int = 0,
                 context_tokens: int = 0):
        pass

    def generate(self, context: Context) -> Generation:
        sentences = sentences_of(context)
        if not sentences:
            return Generation.not_found()
        q = analyse_question(context.question)
        if q.form == "choice":
            found = answer_choice(q, context, sentences)
        elif q.form == "same" and q.attribute:
            found = answer_same(q, context, sentences)
        elif q.form in ("yesno", "same"):
            found = _answer_yes_no(context, sentences)
        else:
            heads = _heads(context, sentences)
            found = _answer_factoid(q, context, sentences, heads)
            if found is None and not (q.types[0] or heads):  # no kind it can tell: say so
                return Generation.not_found(note=UNKNOWN_KIND)
        if found is None:
            return Generation.not_found()
        text, cites = found
        return Generation(text, True, tuple(dict.fromkeys(cites)), empty_usage())


UNKNOWN_KIND = ("the extractive reader answers with a name, date or number of the kind asked, and cannot tell "
                "which kind this question asks for (a description or an explanation, perhaps)")


def _heads(ctx: Context, sentences: list[Sentence]) -> list[str]:
    """The question's head phrases (``head_phrases``) the evidence calls something by, longest first."""
    return [h for h in head_phrases(ctx.question) if any(next(_typed_spans(s, h, ctx.question), None) for s in sentences)]


def _answer_factoid(q: QuestionAnalysis, ctx: Context, sentences: list[Sentence], heads: list[str]):
    """The best grounded answer (see ``grounding``): from the bridge of a nested question first, else
    from the question as a whole; None when no candidate is grounded.

    A question of no answer type known here ("which command ...", "what environment variable ...") is
    answered only with what the evidence itself calls by its head noun (``_typed_spans``), and not at all
    when it asks something else ("what does X do", "what is the population of X"): any name of the
    evidence would otherwise do, and a reader that answers "Synopsis" or "package" says nothing true.
    ``heads``: the question's head phrases the evidence calls something by (``_heads``)."""
    if not q.types[0]:
        if not heads:
            return None
        q = replace(q, types=(TYPED, frozenset()))
    q = replace(q, head=heads[0] if heads else "")
    names = question_names(ctx.question, ctx.linked)
    required = known_names(names, ctx.linked)
    nested = describe(ctx.question)
    bridge = _find_bridge(nested, ctx, sentences, names) if nested else None
    if bridge is not None:
        types = answer_types(nested.outer)
        outer_q = replace(q, types=types if types[0] else q.types)
        scope = _Scope(frozenset(nested.outer_words), (), bridge, requires=relation_words(nested.outer))
        # the bridge was found next to a name of the description; the names outside it must be cited too
        outer_names = [forms for forms in required if not contains_phrase(nested.text, forms[0])]
        best = _best(_collect(outer_q, ctx, sentences, scope),
                     lambda c: names_all([c.sentence, bridge.sentence], outer_names))
        if best is not None:
            return best.name, [best.sentence.citation, bridge.sentence.citation]
    elif nested is not None:
        # The evidence names no entity the description fits: the answer, said of that entity, cannot
        # be told from what the evidence says of others (the chain is broken), so nothing is answered.
        return None
    # No nesting, or nothing stated about the bridge: answer the question as a whole, stating what a
    # nested question asks of its bridge.
    requires = relation_words(nested.outer if nested else ctx.question)
    cands = _collect(q, ctx, sentences, _Scope(frozenset(content_words(ctx.question)), requires=requires))
    best = _best(cands, lambda c: names_any([c.sentence], names) and names_all(_support(c.sentence, ctx, sentences), required))
    return best and (best.name, [s.citation for s in _support(best.sentence, ctx, sentences)])


def _find_bridge(nested: Description, ctx: Context, sentences: list[Sentence], names: list[str]) -> _Candidate | None:
    """The entity a nested question describes: the best answer to its description, stated next to a
    name of the description, preferably an entity with a source of its own."""
    inner = QuestionAnalysis(nested.text, "factoid", answer_types(f"which {nested.noun}"))
    anchors = tuple(forms for forms in names if contains_phrase(nested.text, forms[0]))
    titles = frozenset(name_key(strip_parenthetical(s.title)) for s in sentences if s.title)
    # A bridge stated with one of the description's words ("directed by" for "the director of") is
    # preferred; descriptions are worded freely ("the organization that X is a member of" for "X was
    # President of the IOC"), so without one, naming an anchor is what ties the bridge down
    requires = relation_words(nested.text, [f for forms in anchors for f in forms])
    scope = _Scope(frozenset(content_words(nested.text)), anchors, None, titles, requires)
    return _best(_collect(inner, ctx, sentences, scope)) or _best(_collect(inner, ctx, sentences, replace(scope, requires=frozenset())))


def _best(cands: dict[str, _Candidate], keep=lambda c: True) -> _Candidate | None:
    kept = [c for c in cands.values() if keep(c)]
    if not kept:
        return None
    return max(kept, key=lambda c: (c.score, c.count, -c.sentence.order))


def _collect(q: QuestionAnalysis, ctx: Context, sentences: list[Sentence], scope: _Scope) -> dict[str, _Candidate]:
    """Answer candidates by key, scored by type fit, closeness to ``scope.words``, chain, graph rank,
    evidence rank and, for a nested question, being stated about its bridge."""
    linked_ids, linked_names = question_entities(ctx)
    bridges = _bridge_entities(sentences, linked_ids, linked_names)
    rank = {c.entity_id: i for i, c in enumerate(ctx.candidates)}
    chain_end = name_key(ctx.chain[-1].object) if ctx.chain else ""
    chain_inner = {name_key(h.object) for h in ctx.chain[:-1]}
    life_event = _life_event(q, scope.requires)
    cands: dict[str, _Candidate] = {}
    for s in sentences:
        about = _about_bridge(s, scope.bridge)
        if scope.bridge is not None and not about or not names_any([s], scope.anchors):
            continue
        life = lifespan(s.text) if life_event else {}
        if not states_any(s.text, scope.requires) and life_event not in life:
            continue
        for text, label, eid in _life_spans(_spans(q, s), life, life_event):
            fit = _type_fit(q, label)
            key = eid or name_key(text)
            asked = label != CODE and in_question(text, eid, ctx, linked_ids)
            if fit <= 0 or scope.bridge is not None and fit < 1 or asked or _is_bridge(key, text, scope.bridge):
                continue
            score = 2.0 * fit + 0.5 / s.source + _closeness(s, text, scope.words) + about
            score += 1.0 if life_event in life and text == life[life_event].text else 0.0
            if scope.bridge is None:
                score += _context_bonus(s, linked_ids, linked_names, bridges, eid)
            score += 0.8 / (1 + rank[eid]) if eid in rank else 0.0
            score += 1.0 if name_key(text) in scope.titles and not same_name(text, s.title) else 0.0
            score += 1.5 if name_key(text) == chain_end else 0.3 if name_key(text) in chain_inner else 0.0
            c = cands.setdefault(key, _Candidate(key))
            c.text[text] += 1
            c.count += 1
            if score > c.score:
                c.score, c.sentence = score, s
    for c in cands.values():
        c.score += 0.1 * min(3, c.count - 1)
    return cands


_LIFE_EVENTS = {"born": RELATED["born"], "died": RELATED["die"]}


def _life_event(q: QuestionAnalysis, requires: frozenset[str]) -> str:
    """'born' or 'died' when the question asks the date of a birth or death, else ''."""
    if not q.types[0] & DATE:
        return ""
    return next((event for event, group in _LIFE_EVENTS.items() if requires & group), "")


def _life_spans(spans, life: dict, event: str):
    """A sentence's answer spans, where its lifespan parenthesis ("(9 January 1794 – 10 September 1859)")
    states the asked ``event``: the date of that event, and no other date of the parenthesis."""
    if event not in life:
        yield from spans
        return
    wanted = life[event].text
    others = {d.text for d in life.values()} - {wanted}
    seen = False
    for text, label, eid in spans:
        if label == "DATE" and text != wanted and (text in others or wanted in text):
            continue  # the other date, or both dates read as one span
        seen = seen or text == wanted
        yield text, label, eid
    if not seen:
        yield wanted, "DATE", ""


def _is_bridge(key: str, text: str, bridge: _Candidate | None) -> bool:
    return bridge is not None and (key == bridge.key or same_name(text, bridge.name))


def _about_bridge(s: Sentence, bridge: _Candidate | None) -> float:
    """Bonus for a sentence of the bridge's own source (title) or naming the bridge, except the
    sentence that led to the bridge (it answers the description, not the question)."""
    if bridge is None:
        return 0.0
    if s.title and same_name(s.title, bridge.name):
        return 1.5
    if s is bridge.sentence:
        return 0.0
    named = any(m.entity_id == bridge.key for m in s.mentions) or contains_phrase(s.text, bridge.name)
    return 1.0 if named else 0.0


def _spans(q: QuestionAnalysis, s: Sentence):
    """(text, label, entity id) of every possible answer span of a sentence: its mentions, plus
    dates and numbers found by pattern when the question wants one, plus the title for works; what the
    evidence calls by the question's head noun ``q.head`` first (``_typed_spans``), and only that when
    the question asks for no type the reader knows."""
    if q.head:
        yield from _typed_spans(s, q.head, q.question)
        if q.types[0] == TYPED:
            return
    covered = []
    for m in s.mentions:
        if m.kind != "pronoun":
            covered.append((m.start, m.end))
            yield m.text, m.label, m.entity_id
    base = s.citation.start
    primary = q.types[0]
    if primary & DATE:
        for d in parse_dates(s.text):
            if not any(a <= base + d.start < b for a, b in covered):
                yield d.text, "DATE", ""
    if primary & {"CARDINAL"}:
        dates = [(base + d.start, base + d.end) for d in parse_dates(s.text)]
        for text, start, _ in find_numbers(s.text):
            if not any(a <= base + start < b for a, b in covered + dates):
                yield text, "CARDINAL", ""
    if primary & {"WORK_OF_ART"} and s.first and s.title:
        yield s.title, "TITLE", ""


TYPED = frozenset({"TYPED"})  # the label of a span the evidence calls by the question's head noun
CODE = "TYPED_CODE"  # ... written as code: a name of its own, even where the question uses the word ("'exit' event")
_CODE = r"`([^`\n]{1,80})`"
# a name written as code: symbols, an inner capital (camelCase) or capitals only ("NODE_ENV", "$HOME", "os.homedir")
_IDENTIFIER = re.compile(r"[_./@$#:-]|[a-z][A-Z]|^[A-Z0-9]{2,}$")
_DETERMINERS = re.compile(r"^(?:the|a|an|this|that|these|those|its|their|your|our)\s+", re.I)


def _typed_spans(s: Sentence, head: str, question: str = ""):
    """(text, label, entity id) of what sentence ``s`` calls a ``head`` (singular or plural): a code
    span written next to it ("the `NODE_ENV` environment variable", "the command `npm ci`"; labelled
    ``CODE``: it may be a word of the question, the `'exit'` event); and, labelled "TYPED", a
    mention ending in it, whole when the head is part of a name ("the Maastricht Treaty"), else the
    name before it when that is written like code (symbols, an inner capital or capitals only:
    "NODE_ENV environment variable"); and what the sentence is about (``_subject``) when it says "this <head>" (documentation
    names its subject so: "This command removes extraneous packages" in npm-prune) or starts with the
    verb that follows the head in ``question`` ("Returns the host name ..." under ``os.hostname()``
    for "which method returns the host name ...").

    >>> from kg.model import Citation
    >>> from .evidence import Sentence
    >>> def sentence(text, title=""):
    ...     return Sentence(Citation("d", "p", 0, len(text), text, 1), 1, 0, True, title, ())
    >>> list(_typed_spans(sentence("If the `NODE_ENV` environment variable is set, it stops."), "environment variable"))
    [('NODE_ENV', 'TYPED_CODE', '')]
    >>> list(_typed_spans(sentence("This command removes extraneous packages.", "npm-prune"), "command"))
    [('npm-prune', 'TYPED', '')]
    """
    h = rf"{re.escape(head)}(?:s|es)?"
    text = s.text
    seen = set()

    def once(span: str, eid: str = "", label: str = "TYPED"):
        span = span.strip(" `'\"")
        if span and span.casefold() not in seen:
            seen.add(span.casefold())
            yield span, label, eid

    for m in re.finditer(rf"{_CODE}\s+{h}\b|\b{h}\s+{_CODE}", text, re.I):
        yield from once(m.group(1) or m.group(2), label=CODE)
    for m in s.mentions:
        name = _DETERMINERS.sub("", m.text)
        first, last = re.match(rf"{h}\s", name, re.I), re.search(rf"\s{h}$", name, re.I)
        if last and not last.group().strip()[0].isupper() and _IDENTIFIER.search(name[:last.start()]):
            yield from once(name[:last.start()])  # "NODE_ENV environment variable": the name before its kind
        elif (first or last) and (first or last).group().strip()[0].isupper():
            yield from once(name, m.entity_id)  # the head is part of the name: "Treaty of Paris", "Maastricht Treaty"
    subject = _subject(s)
    verb = re.search(rf"\b{re.escape(head)}(?:s|es)?\s+([a-z]+)", question, re.I)
    if subject and re.search(rf"\bthis\s+{h}\b", text, re.I):
        yield from once(subject)
    elif subject and verb and _starts_with_verb(text, verb.group(1)):
        yield from once(subject)


def _subject(s: Sentence) -> str:
    """What a sentence of documentation is about when it says "this command" or has no subject of its
    own ("Returns the host name of the operating system."): the heading it is under when that names
    code (``os.hostname()``, ``fs.readFile``), else its source, by title."""
    return s.section if re.search(r"[._(]|[a-z][A-Z]", s.section) else s.title


def _starts_with_verb(text: str, verb: str) -> bool:
    """Whether ``text`` begins with ``verb``, a verb of the third person ("returns", "schedules"), or its
    bare form ("Return a string ...", as Python's docs write).

    >>> _starts_with_verb("Returns the host name.", "returns"), _starts_with_verb("Return it.", "returns")
    (True, True)
    >>> _starts_with_verb("npm is a tool.", "npm"), _starts_with_verb("Extraneous ones go.", "extraneous")
    (False, False)
    """
    verb = verb.casefold()
    first = re.match(r"[\W\d]*([A-Za-z]+)", text)
    if not first or len(verb) < 4 or not verb.endswith("s") or verb.endswith(("ss", "ous", "us", "is")):
        return False
    return first.group(1).casefold() in {verb, verb[:-1], verb[:-2] if verb.endswith("es") else verb}


def _type_fit(q: QuestionAnalysis, label: str) -> float:
    if label in TYPED or label == CODE:
        return 1.0
    primary, secondary = q.types
    if not primary:
        return 1.0 if label in NAMED else 0.3 if label == "CONCEPT" else 0.0
    return 1.0 if label in primary else 0.5 if label in secondary else 0.0


def _closeness(s: Sentence, text: str, qwords: set[str]) -> float:
    """Share of the question's words in the sentence, not counting the candidate's own words."""
    own = set(content_words(text))
    wanted = qwords - own
    stated = set(content_words(s.text))
    return sum(states(stated, w) for w in wanted) / max(1, len(wanted))


def _mentions_linked(s: Sentence, linked_ids: set[str], linked_names: list[str]) -> bool:
    return any(m.entity_id in linked_ids for m in s.mentions if m.entity_id) or any(
        contains_phrase(s.text, n) for n in linked_names
    )


def _bridge_entities(sentences: list[Sentence], linked_ids: set[str], linked_names: list[str]) -> set[str]:
    """Entities named next to a question entity: the likely middle of a two-hop chain."""
    out = set()
    for s in sentences:
        if _mentions_linked(s, linked_ids, linked_names):
            out.update(m.entity_id or name_key(m.text) for m in s.mentions if m.entity_id not in linked_ids)
    return out


def _context_bonus(s: Sentence, linked_ids, linked_names, bridges: set[str], eid: str) -> float:
    if _mentions_linked(s, linked_ids, linked_names):
        return 0.3
    others = {m.entity_id or name_key(m.text) for m in s.mentions} - {eid}
    return 0.3 if others & bridges else 0.0


def _support(s: Sentence, ctx: Context, sentences: list[Sentence]) -> list[Sentence]:
    """The answer's sentence, plus the sentence linking the question entity to it (bridge)."""
    cites = [s]
    linked_ids, linked_names = question_entities(ctx)
    if not _mentions_linked(s, linked_ids, linked_names):
        here = {m.entity_id or name_key(m.text) for m in s.mentions}
        for other in sentences:
            there = {m.entity_id or name_key(m.text) for m in other.mentions}
            if other is not s and _mentions_linked(other, linked_ids, linked_names) and here & there:
                cites.append(other)
                break
    return cites


def _answer_yes_no(ctx: Context, sentences: list[Sentence]):
    """'yes' when the sentences about the question's subject (its first name) state most of its words,
    'no' when they do not; None when no sentence names its subject."""
    linked_ids, linked_names = question_entities(ctx)
    names = question_names(ctx.question, ctx.linked)
    if names:  # the subject is the question's first name: "Is <Avatar> directed by James Cameron?"
        about = [s for s in sentences if names_any([s], names[:1])]
    else:
        about = [s for s in sentences if _mentions_linked(s, linked_ids, linked_names)] or sentences
    if not about:  # nothing is said about the question's subject: neither yes nor no
        return None
    qwords = set(content_words(ctx.question)) - {w for n in linked_names for w in content_words(n)}
    if not qwords:
        return None
    best = max(about, key=lambda s: (len(qwords & set(content_words(s.text))), -s.order))
    stated = qwords & {w for s in about for w in content_words(s.text)}
    return ("yes" if len(stated) / len(qwords) >= YES_COVERAGE else "no"), [best.citation]
