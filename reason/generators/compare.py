"""Comparison questions answered from the evidence: "Which film came out first, A or B?",
"Which film has the director born later, A or B?", "Are A and B of the same nationality?".

Each option is resolved to its subject (the option itself, or the person in a named role such as
"the director of A"), then the compared value is read from the sentences about that subject: a
date (born / died / released), a life's length or a nationality. No value for an option means no answer.

>>> role_of("Which film has the director born later, A or B?")
'direct'
"""
from __future__ import annotations

import re

from kg.text import name_key, stem

from ..context import Context
from .evidence import Sentence, about, same_name, strip_parenthetical
from ..question import QuestionAnalysis
from ..text import contains_phrase, lifespan, parse_dates

ROLES = ("director", "producer", "composer", "performer", "author", "writer", "screenwriter", "creator",
         "father", "mother", "spouse", "husband", "wife", "founder", "editor", "cinematographer", "star")
_NATION_ALIASES = {
    "american": "united states", "us": "united states", "u s": "united states", "usa": "united states",
    "america": "united states", "united states of america": "united states",
    "british": "united kingdom", "english": "united kingdom", "scottish": "united kingdom",
    "welsh": "united kingdom", "uk": "united kingdom", "england": "united kingdom", "scotland": "united kingdom",
    "wales": "united kingdom", "great britain": "united kingdom", "britain": "united kingdom",
    "french": "france", "german": "germany", "italian": "italy", "spanish": "spain", "indian": "india",
    "japanese": "japan", "chinese": "china", "russian": "russia", "soviet": "russia", "canadian": "canada",
    "australian": "australia", "mexican": "mexico", "swedish": "sweden", "danish": "denmark",
    "norwegian": "norway", "finnish": "finland", "dutch": "netherlands", "belgian": "belgium",
    "polish": "poland", "hungarian": "hungary", "czech": "czech republic", "greek": "greece",
    "turkish": "turkey", "irish": "ireland", "brazilian": "brazil", "argentine": "argentina",
    "argentinian": "argentina", "korean": "south korea", "south korean": "south korea", "filipino": "philippines",
    "egyptian": "egypt", "iranian": "iran", "israeli": "israel", "austrian": "austria", "swiss": "switzerland",
    "portuguese": "portugal", "romanian": "romania", "bengali": "india", "pakistani": "pakistan",
}


def role_of(question: str) -> str:
    """Stem of the role a comparison goes through ('director' -> 'direct'), or ''."""
    head = question.split(",")[0].casefold()
    for role in ROLES:
        if re.search(rf"\b{role}s?\b", head):
            return stem(role)
    return ""


def answer_choice(q: QuestionAnalysis, ctx: Context, sentences: list[Sentence]):
    """The option whose compared date is smallest (``order == 'min'``) or largest."""
    role = role_of(q.question)
    values = []
    for option in q.options:
        found = _option_date(option, role, q.attribute, sentences)
        if found is None:
            return None
        values.append(found)
    (a, cites_a), (b, cites_b) = values
    if a == b:
        return None
    pick = 0 if (a < b) == (q.order == "min") else 1
    return q.options[pick], cites_a + cites_b


def answer_same(q: QuestionAnalysis, ctx: Context, sentences: list[Sentence]):
    """'yes' when both subjects have the same nationality in the evidence, else 'no'."""
    options = same_options(ctx, sentences)
    if len(options) < 2:
        return None
    role = role_of(q.question.replace(" and ", ", ", 1)) or _role_anywhere(q.question)
    found = [_option_nationality(o, role, sentences) for o in options[:2]]
    if any(f is None for f in found):
        return None
    (a, cites_a), (b, cites_b) = found
    return ("yes" if a == b else "no"), cites_a + cites_b


def same_options(ctx: Context, sentences: list[Sentence]) -> list[str]:
    """Subjects named in the question: source titles first, then linked entities, in question order."""
    names = {s.title for s in sentences if s.title} | {x.name for x in ctx.linked}
    names |= {m.entity_name or m.text for m in ctx.mentions if m.label != "CONCEPT"}
    hits = []
    for name in names:
        core = strip_parenthetical(name)
        pos = name_key(ctx.question).find(name_key(core))
        if name_key(core) and contains_phrase(ctx.question, core):
            hits.append((pos, -len(core), name))
    hits.sort()
    out: list[str] = []
    for pos, neg_len, name in hits:
        if not any(contains_phrase(o, strip_parenthetical(name)) for o in out):
            out.append(name)
    return out


def _role_anywhere(question: str) -> str:
    low = question.casefold()
    return next((stem(r) for r in ROLES if re.search(rf"\b{r}s?\b", low)), "")


def _subject(option: str, role: str, sentences: list[Sentence]):
    """The subject whose value is compared, and the sentences that led to it."""
    own = about(option, sentences)
    if not role:
        return option, own, []
    titles = [s.title for s in sentences if s.title]
    for s in own:
        # A role holder is a PERSON mention, or a mention with a source of its own (NER mislabels names)
        people = [m for m in s.mentions if not same_name(m.text, option)
                  and (m.label == "PERSON" or m.label != "CONCEPT" and any(same_name(t, m.text) for t in titles))]
        if people and role in {stem(w) for w in re.findall(r"\w+", s.text.casefold())}:
            return people[0].entity_name or people[0].text, None, [s.citation]
    return None, None, []


def _option_date(option: str, role: str, attribute: str, sentences: list[Sentence]):
    subject, own, via = _subject(option, role, sentences)
    if subject is None:
        return None
    own = own if own is not None else about(subject, sentences)
    for s in own:
        value = _date_in(s, attribute)
        if value is not None:
            return value, via + [s.citation]
    return None


def _date_in(s: Sentence, attribute: str):
    if attribute == "lifespan":
        life = lifespan(s.text) if s.first else {}
        return _days(life["died"].value) - _days(life["born"].value) if len(life) == 2 else None
    dates = parse_dates(s.text)
    if not dates:
        return None
    low = s.text.casefold()
    keyword = {"born": r"\bborn\b", "died": r"\b(died|death)\b", "released": r"\b(released|premiered|published)\b"}
    m = re.search(keyword.get(attribute, r"$^"), low)
    if m:
        after = [d for d in dates if d.start >= m.end()]
        if after:
            return after[0].value
    life = lifespan(s.text) if s.first else {}  # "Name (1 May 1900 – 2 June 1980) was ..."
    if attribute == "died":
        return life["died"].value if "died" in life else None
    if attribute == "born":
        return life["born"].value if "born" in life else (dates[0].value if s.first and not m else None)
    return dates[0].value if s.first or m else None


def _days(value: tuple[int, int, int]) -> float:
    """Days since year 0 of a (year, month, day) date, an unknown month or day taken as the middle."""
    year, month, day = value
    return year * 365.25 + ((month or 6.5) - 1) * 30.44 + (day or 15)


def _option_nationality(option: str, role: str, sentences: list[Sentence]):
    """The first nationality (NORP) stated about the subject, else the last place of the first
    sentence naming places (countries come last: "born in Kapuskasing, Canada")."""
    subject, own, via = _subject(option, role, sentences)
    if subject is None:
        return None
    own = own if own is not None else about(subject, sentences)
    own = [s for s in own if s.title and same_name(s.title, subject) or _starts_with(s.text, subject)]
    for label in ("NORP", "GPE"):
        for s in own:
            found = [m for m in s.mentions if m.label == label]
            if found:
                key = name_key(found[0 if label == "NORP" else -1].text)
                return _NATION_ALIASES.get(key, key), via + [s.citation]
    return None


def _starts_with(text: str, name: str) -> bool:
    return name_key(text).startswith(name_key(strip_parenthetical(name)))
