"""Text normalisation shared by every stage: the one name key, word tokens, the one stop list and
the one stemmer. Entity resolution (``extract``) and question linking, search and answering
(``reason``) compare names and words the same way because they all call these.

>>> name_key("The Beatles'"), name_key("U. S."), name_key("Fédération  Internationale")
('beatles', 'us', 'federation internationale')
>>> [stem(w) for w in ("directed", "director", "directs", "cities", "films")]
['direct', 'direct', 'direct', 'city', 'film']
>>> tokenize("Who directed the films of Ada's studios?")
['direct', 'film', 'ada', 'studio']
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ARTICLES = frozenset({"the", "a", "an"})
_WORD = re.compile(r"\w+(?:['’]\w+)?")

# Function words, question words and a few words that name a question's category rather than its
# content ("film", "named", "located"): dropped from search queries and from word overlaps.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not of off on once only or other our ours out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom whose why will with would you your yours also
    one two first last whats named name called film movie located""".split()
)

# (suffix, shortest stem left): -er/-or/-ation need a longer stem so that "water" or "nation" stay whole
_SUFFIXES = (("ional", 4), ("ation", 4), ("ing", 3), ("ers", 4), ("ors", 4), ("ed", 3), ("er", 4), ("or", 4),
             ("es", 3), ("s", 3))


def strip_accents(text: str) -> str:
    """NFKD-decompose and drop combining marks: 'Fédération' -> 'Federation'."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 17)
def name_key(text: str) -> str:
    """The form in which names are compared everywhere: casefolded, without accents, possessive
    's, punctuation or a leading article, whitespace collapsed, spaced-out letters joined.

    >>> name_key("Hitler's  regime"), name_key("AT&T"), name_key("O'Brien")
    ('hitler regime', 'at and t', 'obrien')
    """
    s = strip_accents(text).casefold()
    s = re.sub(r"['’`]s\b", "", s)  # possessive 's
    s = s.replace("&", " and ")
    s = re.sub(r"[.'’`]", "", s)  # "U.S." ~ "US", "O'Brien" ~ "OBrien"
    tokens = re.sub(r"[^\w\s]|_", " ", s).split()
    if len(tokens) > 1 and tokens[0] in _ARTICLES:
        tokens = tokens[1:]
    if len(tokens) > 1 and all(len(t) == 1 for t in tokens):
        tokens = ["".join(tokens)]
    return " ".join(tokens) or text.strip().casefold()


def words(text: str) -> list[str]:
    """Lower-cased word tokens, without possessive 's.

    >>> words("Ada's first Engine")
    ['ada', 'first', 'engine']
    """
    return [re.sub(r"['’]s$", "", w.casefold()) for w in _WORD.findall(text)]


@lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light English suffix stripper: plural, past, -ing and agent forms share one stem."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    for suffix, shortest in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def content_words(text: str) -> list[str]:
    """Stemmed words that are not stop words, in order, without repeats.

    >>> content_words("Who directed the film The Directors?")
    ['direct']
    """
    out: list[str] = []
    for w in words(text):
        if w not in STOPWORDS and (len(w) > 1 or w.isdigit()):
            s = stem(w)
            if s not in out:
                out.append(s)
    return out


def tokenize(text: str) -> list[str]:
    """Stemmed words that are not stop words, repeats kept: the keyword-search vocabulary."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
