"""extract/markdown_text.py: the prose view, title, sections and code blocks of hand-written Markdown."""
from __future__ import annotations

import pytest

from extract.markdown_text import read_markdown

GUIDE = """---
title: not the title
---
# `kgreason` **Guide**

Ada Lovelace wrote [the notes](https://example.com/notes "Notes") with
`Charles Babbage`. See {ref}`the setup <setup>` and :py:func:`~kg.build`.

## Installation

### Using pip

```bash
$ pip install Grace Hopper
```

> Alan Turing wrote
> about machines.

- Item one
- Item **two**

| Name | Role |
|------|------|
| Ada Lovelace | mathematician |

## Usage

```{note}
:class: tip
Admonitions are prose.
```
"""


def words(text: str) -> str:
    return " ".join(text.split())


def test_prose_view_keeps_the_text_and_blanks_markup_code_and_targets():
    layout = read_markdown(GUIDE)
    assert len(layout.prose) == len(GUIDE)
    assert words(layout.prose) == (
        "kgreason Guide Ada Lovelace wrote the notes with Charles Babbage . See the setup and kg.build . "
        "Installation Using pip Alan Turing wrote about machines. Item one Item two Name Role Ada Lovelace "
        "mathematician Usage Admonitions are prose."
    )
    # every character of the view is the file's own character, or a space or line break standing for markup
    assert all(v == t or v in " \n" for v, t in zip(layout.prose, GUIDE))


def test_kept_words_sit_at_their_offsets_in_the_file():
    layout = read_markdown(GUIDE)
    for name in ("Ada Lovelace", "Charles Babbage", "the notes", "Alan Turing", "the setup", "mathematician"):
        at = GUIDE.index(name)
        assert layout.prose[at : at + len(name)] == name


def test_title_is_the_first_level_one_heading_without_markup():
    assert read_markdown(GUIDE).title == "kgreason Guide"
    assert read_markdown("Intro\n\n## Two\n\nSetext one\n==========\n\n# Later\n").title == "Setext one"
    assert read_markdown("## Only a second level\n").title == ""


def test_sections_are_heading_paths_below_the_title():
    layout = read_markdown(GUIDE)
    assert layout.sections == (
        (GUIDE.index("## Installation"), "Installation"),
        (GUIDE.index("### Using pip"), "Installation > Using pip"),
        (GUIDE.index("## Usage"), "Usage"),
    )


def test_code_blocks_are_recorded_and_blank_in_the_view():
    text = "Run:\n\n```bash\n$ kg build\n```\n\n    indented code\n\nDone.\n"
    layout = read_markdown(text)
    assert [text[a:b] for a, b in layout.code] == ["```bash\n$ kg build\n```", "    indented code"]
    assert words(layout.prose) == "Run: Done."


def test_soft_breaks_are_spaces_and_table_cells_are_lines():
    layout = read_markdown(GUIDE)
    soft = GUIDE.index("with\n`Charles") + len("with")
    assert layout.prose[soft] == " "
    row = GUIDE.index("| Ada Lovelace |")
    assert layout.prose[row : row + len("| Ada Lovelace | mathematician |")] == "  Ada Lovelace \n mathematician  "


def test_links_images_html_autolinks_entities_and_escapes():
    text = ('A [ref link][r], an ![image](i.png), <b>bold</b>, <https://x.y>, www.x.y/z, &amp; '
            '\\*stars\\*.\n\n<div>\nhidden\n</div>\n\n[r]: https://r.example\n')
    assert words(read_markdown(text).prose) == "A ref link , an , bold , , , & *stars *."


def test_myst_targets_colon_fences_and_directives():
    text = (
        "(intro)=\n## Intro\n\n:::{tip}\n:class: x\nTips are prose.\n:::\n\n"
        ":::{toctree}\nhidden-page\n:::\n\n```{toctree}\nother-page\n```\n\n```{code-block} python\nx = 1\n```\n"
    )
    layout = read_markdown(text)
    assert words(layout.prose) == "Intro Tips are prose."
    assert [text[a:b] for a, b in layout.code] == ["```{code-block} python\nx = 1\n```"]


@pytest.mark.parametrize("front", ["---\ntitle: T\n---\n", "+++\ntitle = 'T'\n+++\n"])
def test_front_matter_is_not_text(front):
    assert words(read_markdown(front + "Body text.").prose) == "Body text."


def test_front_matter_names_the_page_and_its_description_is_prose():
    # Jekyll, Hugo and Docusaurus pages often have no level-1 heading: the front matter titles them
    text = '---\nlayout: page\ntitle: "Install guide"\ndescription: How to install the tool.\n---\n\nBody text.\n'
    layout = read_markdown(text)
    assert layout.title == "Install guide"
    assert words(layout.prose) == "How to install the tool. Body text."
    assert text.index("How to install") == layout.prose.index("How to install")  # offsets into the file
    assert read_markdown("---\ntitle: T\nsummary: Short.\n---\n# Heading\n\nBody.").title == "Heading"  # an h1 wins
    assert words(read_markdown("---\ntitle: T\nsummary: Short.\n---\n# Heading\n\nBody.").prose) == "Short. Heading Body."
    assert read_markdown("---\ndescription: not front matter\n\nText.").title == ""  # never closed


def test_lists_and_quotes_keep_item_text_without_markers():
    text = "1. First item\n   continued\n2. Second\n\n> > Nested quote\n\n* star\n+ plus\n"
    assert words(read_markdown(text).prose) == "First item continued Second Nested quote star plus"
