"""Clean entity names and predicates as extraction turns text spans into records.

Names and predicates are shown to users, exported as RDF labels and compared by resolution, so they
hold no line breaks, control or format characters, and no markup that leaked from a source file
(backticks, the braces of MyST roles, table pipes; list, quote, heading, option and shell-prompt
markers at the start). A span that is left with no letter or digit is not a name at all.

>>> clean_name("```\\nUsage"), clean_name("> $ llm"), clean_name("{ref}`logging")
('Usage', 'llm', 'ref logging')
>>> clean_predicate("ref}`logge_to"), clean_name("---")
('ref_logge_to', '')
"""
from __future__ import annotations

import re
import unicodedata

_ANYWHERE = str.maketrans({"`": " ", "{": " ", "}": " ", "|": " "})  # code, role and table marks
# quote, prompt, list, heading, option and table markers at the start ("> ", "$ ", "- ", "--out") are
# markup, but a sign or currency before a number is not ("$100", "-1", "#1", "+44")
_LEADING = re.compile(r"^[>$\-*#|+]+(?![\d>$\-*#|+])\s*")
_TRAILING = re.compile(r"(?:\s+[|*#>]+|[|*]+)$")


def clean_name(text: str) -> str:
    """``text`` on one line, without markup characters; "" when no letter or digit is left.

    >>> clean_name("Ada\\nLovelace |"), clean_name("- **Ada**"), clean_name("$100 million"), clean_name("--out x")
    ('Ada Lovelace', 'Ada', '$100 million', 'out x')
    """
    text = " ".join(_one_line(text).translate(_ANYWHERE).split())
    stripped = None
    while stripped != text:
        stripped, text = text, _TRAILING.sub("", _LEADING.sub("", text))
    return text if any(ch.isalnum() for ch in text) else ""


def clean_predicate(predicate: str) -> str:
    """A predicate as one ``_``-joined token with no markup; "" when nothing is left.

    >>> clean_predicate("bear_in"), clean_predicate("set\\tup")
    ('bear_in', 'set_up')
    """
    return "_".join(clean_name(predicate).split()).strip("_")


def _one_line(text: str) -> str:
    """Line breaks, tabs and control characters become spaces; invisible format characters (soft
    hyphens, zero-width spaces) go."""
    if text.isprintable():  # the common case, and much faster than looking at each character
        return text
    kinds = {"Cc": " ", "Zl": " ", "Zp": " ", "Zs": " ", "Cf": ""}
    return "".join(kinds.get(unicodedata.category(ch), ch) for ch in text)
