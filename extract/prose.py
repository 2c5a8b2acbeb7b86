"""The prose view of a marked-up file: what the markup readers (Markdown, reStructuredText, Word) share.

A reader never changes a document's text: citations must point at the characters of the file. It
paints a *prose view* instead, a string exactly as long as the text in which every character that is
markup or code is a space (newlines stay, so lines stay lines). Sentence splitting and spaCy read the
view, so an offset found in it is an offset in the text. The reader also records where headings start
(sections) and where code blocks lie (searchable and citable, but never extracted).

>>> b = LayoutBuilder("# Notes\\n\\nSee `kg`.")
>>> b.keep(2, 7); b.heading(0, 1, 2, 7); b.keep(9, 13); b.keep(14, 16); b.keep(17, 18)
>>> layout = b.build()
>>> layout.prose, layout.title
('  Notes\\n\\nSee  kg .', 'Notes')
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    """What a reader found in a file's text, besides the text itself.

    ``prose``: the same-length view with markup and code blanked. ``title``: the first level-1
    heading ("" when there is none). ``sections``: ``(start offset, heading path)`` where each
    heading's section begins, the path joined by " > " and without the title heading.
    ``code``: ``(start, end)`` of each code block.
    """

    prose: str
    title: str
    sections: tuple[tuple[int, str], ...]
    code: tuple[tuple[int, int], ...]


class LayoutBuilder:
    """Collects, while a reader walks its parse tree, which characters of ``text`` are prose, where
    headings are and where code is; ``build()`` returns the ``Layout``.

    >>> b = LayoutBuilder("ab\\ncd")
    >>> b.line_start(1), b.line_end(0), b.line(1), b.line_of(4)
    (3, 2, 'cd', 1)
    """

    def __init__(self, text: str):
        self.text = text
        self._chars = ["\n" if ch == "\n" else " " for ch in text]
        self._headings: list[tuple[int, int, int, int]] = []  # (start, level, name start, name end)
        self._code: list[tuple[int, int]] = []
        self._starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    # ---- lines -------------------------------------------------------------------------------

    def line_count(self) -> int:
        return len(self._starts)

    def line_start(self, line: int) -> int:
        """Offset of the first character of 0-based ``line`` (the text's end past the last line)."""
        return self._starts[line] if line < len(self._starts) else len(self.text)

    def line_end(self, line: int) -> int:
        """Offset of the newline that ends ``line`` (or of the text's end)."""
        return self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)

    def line_of(self, pos: int) -> int:
        """The 0-based line holding offset ``pos``."""
        return bisect_right(self._starts, pos) - 1

    def line(self, line: int) -> str:
        return self.text[self.line_start(line) : self.line_end(line)]

    # ---- painting ----------------------------------------------------------------------------

    def keep(self, start: int, end: int) -> None:
        """Characters ``start:end`` of the text are prose."""
        self._chars[start:end] = self.text[start:end]

    def put(self, pos: int, char: str) -> None:
        """Show ``char`` at ``pos`` in the view (an entity's character, a space for a soft line break)."""
        self._chars[pos] = char

    def heading(self, start: int, level: int, name_start: int, name_end: int) -> None:
        """A heading of ``level`` (1 = top) begins a section at ``start``; its name is the prose
        shown between ``name_start`` and ``name_end`` (read when the layout is built)."""
        self._headings.append((start, level, name_start, name_end))

    def code(self, start: int, end: int) -> None:
        self._code.append((start, end))

    # ---- result ------------------------------------------------------------------------------

    def build(self) -> Layout:
        prose = "".join(self._chars)
        headings = [(start, level, " ".join(prose[a:b].split())) for start, level, a, b in sorted(self._headings)]
        headings = [h for h in headings if h[2]]
        title_at = next((i for i, h in enumerate(headings) if h[1] == 1), -1)
        sections, stack = [], []  # stack: (level, name) of the open headings below the title
        for i, (start, level, name) in enumerate(headings):
            if i == title_at:
                stack = []
                sections.append((start, ""))
                continue
            stack = [h for h in stack if h[0] < level] + [(level, name)]
            sections.append((start, " > ".join(n for _, n in stack)))
        title = headings[title_at][2] if title_at >= 0 else ""
        return Layout(prose, title, _merge_sections(sections), tuple(sorted(set(self._code))))


def _merge_sections(sections: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """Drop a leading "" section at 0 (the default) and repeats of the section before."""
    out: list[tuple[int, str]] = []
    for start, path in sections:
        previous = out[-1][1] if out else ""
        if path != previous:
            out.append((start, path))
    return tuple(out)
