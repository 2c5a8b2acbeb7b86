"""Name handling for entity resolution: coarse types, matching keys, dates, acronyms, person names.

Pure string functions with no state; ``extract.resolve`` combines them into merge rules. Keys are
for *matching only*: the names shown to users keep their original spelling.

>>> match_key("The U.S.'s  Café", "NAME")
'us cafe'
>>> match_key("March 13, 1963", "DATE") == match_key("13 March 1963", "DATE") == "1963-03-13"
True
>>> sorted(initials("Fédération Internationale de Bobsleigh et de Tobogganing"))
['FIBT', 'FIDBEDT']
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

from kg.graph import VectorTable
from kg.model import UNNAMED_TYPES
from kg.text import name_key, strip_accents
from kg.vectors import VectorIndex

# spaCy (OntoNotes) labels -> coarse types. PRODUCT joins WORK: spaCy labels games, software, albums
# and vehicles with either, so keeping them apart would split one name in two.
_COARSE = {
    "PERSON": "PERSON", "PER": "PERSON",
    "ORG": "ORG",
    "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE", "PLACE": "PLACE",
    "DATE": "DATE", "TIME": "DATE",
    "WORK_OF_ART": "WORK", "PRODUCT": "WORK", "WORK": "WORK",
    "EVENT": "EVENT",
    "NORP": "GROUP", "GROUP": "GROUP",
    "LAW": "LAW",
    "LANGUAGE": "LANGUAGE",
    "CONCEPT": "CONCEPT",
    "CARDINAL": "QUANTITY", "ORDINAL": "QUANTITY", "QUANTITY": "QUANTITY", "MONEY": "QUANTITY",
    "PERCENT": "QUANTITY",
}
# Families never merge with each other, except CONCEPT joining a NAME with the same key.
_FAMILY = {t: t for t in UNNAMED_TYPES}
# spaCy confuses organisations and places ("Chelsea", "Harvard"), so fuzzy and embedding rules let them meet.
_NEAR_TYPES = {"ORG": "ORG|PLACE", "PLACE": "ORG|PLACE"}
# Tie-break order for the majority type: the types spaCy assigns most reliably come first.
TYPE_PRIORITY = ("PLACE", "PERSON", "ORG", "GROUP", "EVENT", "WORK", "LAW", "LANGUAGE", "DATE", "QUANTITY", "CONCEPT")
_TYPE_RANK = {t: i for i, t in enumerate(TYPE_PRIORITY)}

_FUNCTION_WORDS = {
    "of", "the", "and", "for", "in", "on", "at", "to", "a", "an", "de", "des", "du", "la", "le", "les",
    "et", "der", "die", "das", "und", "von", "van", "del", "della", "di", "da", "y", "e",
}
_HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "prof", "professor"}
_ORDINALS = {
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
    "eleventh", "twelfth",
}
_ROMAN = re.compile(r"M{0,4}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})")
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
_DATE_FILLERS = {"the", "of", "on", "in", "at"}
_WINDOW = 64  # names compared per window inside one blocking key (sorted neighbourhood)


@lru_cache(maxsize=1024)
def coarse_type(label: str) -> str:
    """Coarse type of a fine label; an unknown label (e.g. from an LLM extractor) is its own type.

    >>> coarse_type("GPE"), coarse_type("NORP"), coarse_type("DISEASE")
    ('PLACE', 'GROUP', 'DISEASE')
    """
    upper = label.strip().upper()
    return _COARSE.get(upper, upper or "CONCEPT")


def family(ctype: str) -> str:
    """``NAME`` for named-entity types, else the type itself (DATE, QUANTITY, CONCEPT).

    >>> family("PLACE"), family("DATE")
    ('NAME', 'DATE')
    """
    return _FAMILY.get(ctype, "NAME")


def near_group(ctype: str) -> str:
    """Types whose names may be fuzzily or semantically compared with each other.

    >>> near_group("ORG") == near_group("PLACE"), near_group("PERSON") == near_group("GROUP")
    (True, False)
    """
    return _NEAR_TYPES.get(ctype, ctype)


def type_rank(ctype: str) -> int:
    """Position of ``ctype`` in ``TYPE_PRIORITY`` (unknown types after the known ones)."""
    return _TYPE_RANK.get(ctype, len(TYPE_PRIORITY))


def date_key(text: str) -> str | None:
    """ISO key for a calendar date or month written in a common English form, else None.

    >>> date_key("the 13th of March 1963"), date_key("Sept. 1963"), date_key("1963-03-13"), date_key("1960s")
    ('1963-03-13', '1963-09', '1963-03-13', None)
    """
    tokens = [t for t in name_key(text).split() if t not in _DATE_FILLERS]
    tokens = [re.sub(r"^(\d{1,2})(st|nd|rd|th)$", r"\1", t) for t in tokens]
    shape = "".join("m" if t in _MONTHS else "y" if re.fullmatch(r"\d{4}", t) else
                    "d" if re.fullmatch(r"\d{1,2}", t) else "?" for t in tokens)
    if shape == "dmy":
        day, month, year = tokens
    elif shape == "mdy":
        month, day, year = tokens
    elif shape == "ydd":  # ISO 1963-03-13
        year, month, day = tokens
        month = int(month)
    elif shape == "my":
        return f"{tokens[1]}-{_MONTHS[tokens[0]]:02d}"
    else:
        return None
    month = _MONTHS[month] if isinstance(month, str) else month
    if not (1 <= month <= 12 and 1 <= int(day) <= 31):
        return None
    return f"{year}-{month:02d}-{int(day):02d}"


def match_key(text: str, fam: str, fold_plural: bool = False) -> str:
    """The key under which mentions of one family are merged exactly: dates by calendar value, and
    with ``fold_plural`` (noun phrases, nationalities) the last word in the singular.

    >>> match_key("13 March 1963", "DATE"), match_key("the civil servants", "CONCEPT", True)
    ('1963-03-13', 'civil servant')
    """
    if fam == "DATE":
        return date_key(text) or name_key(text)
    key = name_key(text)
    return singular_key(key) if fold_plural else key


def singular_key(key: str) -> str:
    """Put the last word of a key in the singular with plain English rules (matching only).

    >>> [singular_key(k) for k in ("stories", "churches", "americans", "status", "glass", "series")]
    ['story', 'church', 'american', 'status', 'glass', 'series']
    """
    head, _, last = key.rpartition(" ")
    if len(last) <= 3 or last.endswith(("ss", "us", "is", "series", "species")):
        single = last
    elif last.endswith("ies"):
        single = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "xes", "sses")):
        single = last[:-2]
    elif last.endswith("s"):
        single = last[:-1]
    else:
        single = last
    return f"{head} {single}" if head else single


def person_tokens(key: str) -> tuple[str, ...]:
    """Tokens of a person-name key without leading honorifics ('dr john smith' -> john, smith)."""
    tokens = key.split()
    while len(tokens) > 1 and tokens[0] in _HONORIFICS:
        tokens = tokens[1:]
    return tuple(tokens)


def is_name_variant(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    """True when ``short`` names the person ``full`` names more completely: same last token, and the
    other tokens found in order among ``full``'s, a one-letter token standing for an initial. A short
    name with a middle part may not skip an initial of the full one ("George W. Bush" is not
    "George H. W. Bush": spelled-out initials are what tell such names apart).

    >>> is_name_variant(("willi", "schneider"), ("wilfried", "willi", "schneider"))
    True
    >>> is_name_variant(("j", "smith"), ("john", "smith")), is_name_variant(("john", "smith"), ("j", "smith"))
    (True, False)
    >>> is_name_variant(("george", "w", "bush"), ("george", "h", "w", "bush"))
    False
    >>> is_name_variant(("david", "strathairn"), ("johnny", "cash", "david", "strathairn"))
    False
    """
    if short == full or not short or len(short) > len(full) or short[-1] != full[-1]:
        return False
    skipped, rest, leading = [], iter(full[:-1]), None
    for token in short[:-1]:
        for f in rest:
            if token == f or (len(token) == 1 and f.startswith(token)):
                break
            skipped.append(f)
        else:
            return False
        leading = list(skipped) if leading is None else leading
    skipped.extend(rest)
    # two whole words before the short name's first word: usually two names run together by NER
    if len(short) > 1 and sum(len(f) > 1 for f in leading or ()) > 1:
        return False
    return len(short) < 3 or not any(len(f) == 1 for f in skipped)


def initials(surface: str) -> set[str]:
    """Acronyms a multi-word name could be abbreviated to: initials of its capitalised words
    (function words skipped), and of all its words.

    >>> sorted(initials("United States of America"))
    ['USA', 'USOA']
    """
    words = re.findall(r"[^\W\d_]+", strip_accents(surface))
    if len(words) < 2:
        return set()
    capital = "".join(w[0] for w in words if w[0].isupper() and w.casefold() not in _FUNCTION_WORDS)
    every = "".join(w[0] for w in words).upper()
    return {a for a in (capital, every) if len(a) >= 2}


def acronym_form(surface: str) -> str | None:
    """The letters of an acronym ('U.N.' -> 'UN', 'FIBT'), or None for an ordinary word.

    >>> acronym_form("U.N."), acronym_form("FIBT"), acronym_form("Paris"), acronym_form("I")
    ('UN', 'FIBT', None, None)
    """
    letters = strip_accents(surface).replace(".", "").replace(" ", "")
    if not (2 <= len(letters) <= 8 and letters.isalpha() and letters[0].isupper()):
        return None
    return letters.upper() if sum(c.isupper() for c in letters) >= 2 else None


@lru_cache(maxsize=65536)
def number_signature(surface: str) -> frozenset[str]:
    """Numbers, years, Roman numerals and ordinal words of a name: names that differ in them are
    different things ('Super Bowl XX' / 'Super Bowl XL', '2002 / 2006 Winter Olympics').

    >>> sorted(number_signature("2002 Winter Olympics")), sorted(number_signature("Super Bowl XL"))
    (['2002'], ['XL'])
    """
    marks = set()
    for token in re.findall(r"[\w]+", strip_accents(surface)):
        if any(c.isdigit() for c in token) or token.casefold() in _ORDINALS:
            marks.add(token.casefold())
        elif token.isupper() and _ROMAN.fullmatch(token):
            marks.add(token)
    return frozenset(marks)


# ---- choosing names ----------------------------------------------------------------------------------


def majority_type(types: Counter[str]) -> str:
    """Most frequent coarse type; ties go to the type spaCy assigns most reliably.

    >>> majority_type(Counter({"ORG": 2, "PLACE": 2, "PERSON": 1}))
    'PLACE'
    """
    return min(types, key=lambda t: (-types[t], type_rank(t), t))


def most_frequent(surfaces: Counter[str]) -> str:
    """Most frequent surface form; ties: the longest, then alphabetical.

    >>> most_frequent(Counter({"US": 2, "U.S.": 2, "America": 1}))
    'U.S.'
    """
    return min(surfaces, key=lambda s: (-surfaces[s], -len(s), s))


def concept_name(surfaces: Counter[str]) -> str:
    """A noun phrase's name: its most frequent form without a leading article, in its least
    capitalised spelling (so a sentence-initial "The company" is named "company").

    >>> concept_name(Counter({"The company": 2, "the company": 1, "a firm": 2}))
    'company'
    """
    forms: Counter[str] = Counter()
    for surface, count in surfaces.items():
        forms[re.sub(r"^(the|a|an)\s+(?=\S)", "", surface.strip(), flags=re.IGNORECASE)] += count
    folded: Counter[str] = Counter()
    for form, count in forms.items():
        folded[form.casefold()] += count
    best = most_frequent(folded)
    return min((f for f in forms if f.casefold() == best), key=lambda f: (sum(c.isupper() for c in f), f))


# ---- similarity search -------------------------------------------------------------------------------


def fuzzy_pairs(blocks: dict[tuple, list[tuple[str, int, str]]], threshold: float) -> dict[tuple[int, int], float]:
    """Pairs of ids whose keys score >= threshold (rapidfuzz token_sort_ratio, 0-100) within a block.

    A block holds ``(sort key, id, key)`` entries; small blocks are compared all-pairs, big ones in
    overlapping windows of their sorted order, so the cost stays linear in the number of names.

    >>> fuzzy_pairs({"b": [("tchaikovsky", 0, "tchaikovsky"), ("tchaikowsky", 1, "tchaikowsky")]}, 90)
    {(0, 1): 90.9091}
    """
    from rapidfuzz import fuzz, process

    pairs: dict[tuple[int, int], float] = {}
    for _, entries in sorted(blocks.items()):
        entries = sorted(entries)
        if len(entries) <= 4:  # most blocks: a direct comparison is cheaper than a cdist call
            for x, (_, a, key_a) in enumerate(entries):
                for _, b, key_b in entries[x + 1:]:
                    score = fuzz.token_sort_ratio(key_a, key_b, score_cutoff=threshold)
                    if score >= threshold:
                        pairs[tuple(sorted((a, b)))] = round(float(score), 4)
            continue
        for lo, hi in _windows(len(entries)):
            ids = [i for _, i, _ in entries[lo:hi]]
            keys = [k for _, _, k in entries[lo:hi]]
            scores = process.cdist(keys, keys, scorer=fuzz.token_sort_ratio, score_cutoff=threshold, workers=1)
            for x, y in zip(*np.nonzero(np.triu(scores >= threshold, 1))):
                a, b = sorted((ids[x], ids[y]))
                pairs[(a, b)] = round(float(scores[x, y]), 4)
    return pairs


def _windows(size: int, width: int = _WINDOW) -> Iterator[tuple[int, int]]:
    """Overlapping windows so that entries up to width/2 apart in sorted order meet once."""
    step = width // 2
    for start in range(0, max(size - step, 1), step) if size > 1 else ():
        yield start, min(start + width, size)


_SIMILAR_BLOCK = 4096  # names searched per call of similar_names


def similar_names(names: Sequence[str], vectors: np.ndarray, threshold: float, k: int = 10) -> list[tuple[tuple[str, str], float]]:
    """Name pairs with cosine >= threshold among each name's ``k`` nearest neighbours
    (``kg.vectors.VectorIndex``). ``names`` are distinct; ``vectors`` their L2-normalised rows.

    >>> v = np.array([[1, 0], [0.96, 0.28], [0, 1]], dtype=np.float32)
    >>> similar_names(["car", "automobile", "banana"], v, 0.9)
    [(('automobile', 'car'), 0.96)]
    """
    index = VectorIndex(VectorTable(tuple(names), np.asarray(vectors, dtype=np.float32), ""))
    pairs = {}
    for start in range(0, len(names), _SIMILAR_BLOCK):  # a block of names at a time: hits of all names at once
        block = index.search_rows(index.vectors[start:start + _SIMILAR_BLOCK], k + 1)  # were a list per name
        for name, (rows, scores) in zip(names[start:start + _SIMILAR_BLOCK], block):
            for row, score in zip(rows.tolist(), scores.tolist()):
                other = names[row]
                if other != name and score >= threshold:
                    pairs[tuple(sorted((name, other)))] = round(min(score, 1.0), 4)
    return sorted(pairs.items())
