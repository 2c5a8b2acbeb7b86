"""extract/rst_text.py: the prose view, title, sections and code blocks of hand-written reStructuredText."""
from __future__ import annotations

import pytest

from extract.rst_text import read_rst

GUIDE = """\
=======
Guide
=======

Ada Lovelace wrote `the notes <https://example.com/notes>`_ with ``Charles Babbage``.
See :ref:`the setup <setup>` and :py:func:`~kg.build`, *emphasis* and \\*stars\\*.

Installation
============

.. note::

   Alan Turing wrote about machines.

Using pip
---------

.. code-block:: bash

   $ pip install Grace Hopper

* Item one
* Item **two**

+--------------+---------------+
| Name         | Role          |
+==============+===============+
| Ada Lovelace | mathematician |
+--------------+---------------+

.. toctree::

   hidden-page

.. |sub| replace:: Substituted text

Usage
=====

Term
   Definition text.

::

    literal Ada
"""


def words(text: str) -> str:
    return " ".join(text.split())


def test_prose_view_keeps_text_and_blanks_markup_code_and_directives():
    layout = read_rst(GUIDE)
    assert len(layout.prose) == len(GUIDE)
    assert words(layout.prose) == (
        "Guide Ada Lovelace wrote the notes with Charles Babbage . See the setup and kg.build , emphasis and "
        "*stars *. Installation Alan Turing wrote about machines. Using pip Item one Item two Name Role "
        "Ada Lovelace mathematician Usage Term Definition text."
    )
    assert all(v == t or v in " \n" for v, t in zip(layout.prose, GUIDE))


def test_kept_words_sit_at_their_offsets_in_the_file():
    layout = read_rst(GUIDE)
    for name in ("Ada Lovelace", "Charles Babbage", "the notes", "Alan Turing", "the setup", "mathematician"):
        at = GUIDE.index(name)
        assert layout.prose[at : at + len(name)] == name


def test_title_sections_and_code():
    layout = read_rst(GUIDE)
    assert layout.title == "Guide"
    assert layout.sections == (
        (GUIDE.index("Installation\n"), "Installation"),
        (GUIDE.index("Using pip\n"), "Installation > Using pip"),
        (GUIDE.index("Usage\n"), "Usage"),
    )
    assert [GUIDE[a:b] for a, b in layout.code] == ["   $ pip install Grace Hopper", "    literal Ada"]


def test_a_paragraph_wrapped_over_lines_is_one_line_in_the_view():
    layout = read_rst(GUIDE)
    wrap = GUIDE.index("``Charles Babbage``.\n") + len("``Charles Babbage``.")
    assert layout.prose[wrap] == " "


def test_grid_table_cells_are_separate_lines():
    layout = read_rst(GUIDE)
    row = GUIDE.index("| Ada Lovelace |")
    assert layout.prose[row : row + len("| Ada Lovelace | mathematician |")] == "  Ada Lovelace \n mathematician \n"


def test_without_a_document_title_the_first_section_title_is_the_title():
    text = "One\n===\n\nFirst.\n\nTwo\n===\n\nSecond.\n\nSub\n---\n\nThird.\n"
    layout = read_rst(text)
    assert layout.title == "One"
    assert layout.sections == ((text.index("Two"), "Two"), (text.index("Sub"), "Two > Sub"))


@pytest.mark.parametrize("text", ["Just a paragraph.", "Broken *emphasis and `role\n\n.. unknown::\n"])
def test_odd_input_is_read_not_raised(text):
    assert len(read_rst(text).prose) == len(text)
