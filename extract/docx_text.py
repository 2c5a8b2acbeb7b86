"""Word (.docx) files to text and a ``Layout``, with python-docx.

The text is built from the body in order: each paragraph on a line, each table cell on a line
(merged cells once). Paragraphs styled "Title" or "Heading N" are headings, so passages know their
section; the title is the first "Title" or "Heading 1" paragraph, else the file's title property.
There is no markup to blank: the prose view is the text itself.

>>> import io, docx
>>> d = docx.Document(); _ = d.add_heading("Report", 1); _ = d.add_heading("Findings", 2)
>>> _ = d.add_paragraph("Ada Lovelace wrote notes.")
>>> buffer = io.BytesIO(); d.save(buffer)
>>> text, layout = read_docx(buffer.getvalue())
>>> text, layout.title, layout.sections
('Report\\nFindings\\nAda Lovelace wrote notes.', 'Report', ((7, 'Findings'),))
"""
from __future__ import annotations

import io
import re
from typing import Any, Iterator

from .prose import Layout, LayoutBuilder

_HEADING = re.compile(r"^Heading ([1-9])$")


def read_docx(data: bytes) -> tuple[str, Layout]:
    """``(text, layout)`` of a Word file's bytes; raises ``ValueError`` when python-docx cannot read it."""
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
        blocks = list(_blocks(document))
        core_title = (document.core_properties.title or "").strip()
    except Exception as exc:  # python-docx raises many types for damaged files; all mean "unreadable"
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    lines, headings, at = [], [], 0
    for text, level in blocks:
        if level:
            headings.append((at, level, len(text)))
        lines.append(text)
        at += len(text) + 1
    text = "\n".join(lines)
    b = LayoutBuilder(text)
    b.keep(0, len(text))
    for start, level, length in headings:
        b.heading(start, level, start, start + length)
    layout = b.build()
    return text, layout if layout.title or not core_title else Layout(layout.prose, core_title, layout.sections, ())


def _blocks(document: Any) -> Iterator[tuple[str, int]]:
    """``(text, heading level or 0)`` of each non-empty paragraph and table cell, in body order."""
    from docx.table import Table

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            yield from ((cell, 0) for cell in _cells(item))
            continue
        text = _tidy(item.text)
        if text:
            yield text, _level(item)


def _cells(table: Any) -> Iterator[str]:
    seen = set()  # the cells' XML elements, kept alive so that each keeps its identity
    for row in table.rows:
        for cell in row.cells:
            if cell._tc not in seen:  # a merged cell is returned once per grid column it spans
                seen.add(cell._tc)
                text = _tidy(cell.text)
                if text:
                    yield text


def _level(paragraph: Any) -> int:
    name = paragraph.style.name if paragraph.style is not None else ""
    heading = _HEADING.match(name or "")
    return 1 if name == "Title" else int(heading.group(1)) if heading else 0


def _tidy(text: str) -> str:
    """Line breaks inside a paragraph stay lines; tabs and runs of spaces become one space."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
