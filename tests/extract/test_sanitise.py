"""extract/sanitise.py: names and predicates on one line, without leaked markup."""
from __future__ import annotations

import pytest

from extract.sanitise import clean_name, clean_predicate


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("```\nUsage", "Usage"),
        ('{"name', '"name'),
        ("$ llm", "llm"),
        ("> llm", "llm"),
        ("- Item", "Item"),
        ("* **Ada**", "Ada"),
        ("## Installation", "Installation"),
        ("| Ada Lovelace |", "Ada Lovelace"),
        ("`kgreason`", "kgreason"),
        ("Ada\n\tLovelace", "Ada Lovelace"),
        ("Zero\u200bwidth\u00adsoft", "Zerowidthsoft"),
        ("New\x00York\x1b", "New York"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("C-3PO", "C-3PO"),
        ("AT&T", "AT&T"),
        ("$100 million stake", "$100 million stake"),
        ("#1 hit", "#1 hit"),
        ("-1 degree", "-1 degree"),
        ("--out .kg/docs", "out .kg/docs"),
        ("$HOME folder", "HOME folder"),
        ("list | length", "list length"),
        ("Title ##", "Title"),
        ("---", ""),
        ("| |", ""),
        ("$", ""),
        ("```", ""),
    ],
)
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


@pytest.mark.parametrize(
    "raw, clean",
    [("ref}`logge_to", "ref_logge_to"), ("bear_in", "bear_in"), ("set\nup", "set_up"), ("`be`", "be"), ("_`_", "")],
)
def test_clean_predicate(raw, clean):
    assert clean_predicate(raw) == clean
