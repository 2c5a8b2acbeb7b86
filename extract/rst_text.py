"""reStructuredText to a ``Layout`` (prose view, title, sections, code blocks), parsed with docutils.

Prose: titles, paragraphs (in lists, block quotes, tables, admonitions, footnotes), definition terms
and line-block lines, with inline markup reduced to the text it shows (``*x*`` -> "x", ```a <url>`_``
-> "a", ``:ref:`text <target>``` -> "text"). Literal and code blocks (``::``, ``.. code-block::``,
doctest blocks) are code: kept in passages, blank in the view. Everything else (adornments, directive
markup and options, comments, substitution definitions, directives docutils does not know, such as
Sphinx's ``toctree``) stays blank.

docutils gives each node its source text but not its offset, so each node's source lines are found
again in the file, in document order; a node that cannot be found stays blank.

>>> text = "Guide\\n=====\\n\\nRead *this*.\\n\\nSetup\\n-----\\n\\n::\\n\\n    kg build .\\n"
>>> layout = read_rst(text)
>>> layout.title, layout.sections, layout.prose.split("\\n")[3], [text[a:b] for a, b in layout.code]
('Guide', ((27, 'Setup'),), 'Read  this .', ['    kg build .'])
"""
from __future__ import annotations

import re
from typing import Any

from .prose import Layout, LayoutBuilder

_SETTINGS = {
    "report_level": 5, "halt_level": 5, "warning_stream": False, "file_insertion_enabled": False,
    "raw_enabled": False, "_disable_config": True, "syntax_highlight": "none",
}
_ROLE = re.compile(r"^:[\w.+-]+(?::[\w.+-]+)*:`(.*)`_{0,2}$", re.DOTALL)
_TARGET = re.compile(r"(.*?)\s*<[^<>]*>\s*$", re.DOTALL)
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+\s*$")


def read_rst(text: str) -> Layout:
    """The ``Layout`` of reStructuredText ``text``; raises ``ValueError`` when docutils fails.

    >>> read_rst("Intro :ref:`the guide <guide>` here.").prose
    'Intro       the guide          here.'
    """
    from docutils import nodes
    from docutils.core import publish_doctree

    try:
        tree = publish_doctree(text, settings_overrides=_SETTINGS)
    except Exception as exc:  # docutils raises many types on broken input; all mean "unreadable"
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    b = LayoutBuilder(text)
    finder = _Finder(b)
    titled = any(isinstance(child, nodes.title) for child in tree.children)
    for node in tree.findall(_wanted):
        if not _ignored(node):
            _paint_node(b, finder, node, titled)
    return b.build()


def _wanted(node: Any) -> bool:
    from docutils import nodes

    return isinstance(node, (nodes.title, nodes.subtitle, nodes.paragraph, nodes.term, nodes.line, nodes.rubric,
                             nodes.caption, nodes.attribution, nodes.literal_block, nodes.doctest_block))


def _ignored(node: Any) -> bool:
    """Inside a part that is not the document's text (error reports, comments, definitions)."""
    from docutils import nodes

    skip = (nodes.system_message, nodes.substitution_definition, nodes.comment, nodes.raw, nodes.docinfo)
    for parent in _ancestors(node):
        if isinstance(parent, skip) or "contents" in parent.get("classes", ()):  # a generated table of contents
            return True
    return False


def _paint_node(b: LayoutBuilder, finder: "_Finder", node: Any, titled: bool) -> None:
    from docutils import nodes

    in_table = any(isinstance(p, nodes.entry) for p in _ancestors(node))
    raw = node.rawsource or node.astext()
    positions = finder.locate(raw, node.line, in_table)
    if positions is None:
        return
    if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
        found = [p for p in positions if p >= 0]
        b.code(b.line_start(b.line_of(found[0])), found[-1] + 1)
        return
    _paint_children(b, node, raw, positions)
    if in_table:
        _break_cells(b, positions)
    if isinstance(node, nodes.title):
        found = [p for p in positions if p >= 0]
        b.heading(_section_start(b, found[0]), _level(node, titled), found[0], found[-1] + 1)


def _break_cells(b: LayoutBuilder, positions: list[int]) -> None:
    """The grid-table "|" after each line of a cell is a line break in the view, so that a row's
    cells are not read as one sentence (as in Markdown tables)."""
    for end in [p + 1 for p, q in zip(positions, positions[1:] + [-1]) if p >= 0 and q < 0]:
        bar = b.text.find("|", end, b.line_end(b.line_of(end)))
        if bar >= 0:
            b.put(bar, "\n")


def _ancestors(node: Any):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def _level(title: Any, titled: bool) -> int:
    """1 for the document title; a section's depth, counting the document title as the first level."""
    from docutils import nodes

    depth = sum(isinstance(p, nodes.section) for p in _ancestors(title))
    return depth + titled if depth else 1


def _section_start(b: LayoutBuilder, pos: int) -> int:
    """Where a title's section begins: its line, or the overline above it."""
    line = b.line_of(pos)
    above = b.line(line - 1) if line else ""
    return b.line_start(line - 1) if _ADORNMENT.match(above) else b.line_start(line)


class _Finder:
    """Finds node source text in the file, moving forward through it in document order."""

    def __init__(self, b: LayoutBuilder):
        self.b = b
        self.floor = 0

    def locate(self, raw: str, line: int | None, in_table: bool) -> list[int] | None:
        """Text offset of every character of ``raw`` (-1 for newlines between its lines), or None."""
        parts = raw.split("\n")
        while parts and not parts[-1].strip():
            parts.pop()
        if not parts or not parts[0].strip():
            return None
        # docutils' line numbers point at or after a node's first line (a definition list term's is
        # the end of its definition), so they bound the search: a node is never found past them.
        # A node without one (a subtitle) is looked for just ahead.
        limit = self.b.line_start(line + 2 if line else self.b.line_of(self.floor) + 6)
        at = self.b.text.find(parts[0].rstrip(), self.floor, limit)
        if at < 0:
            return None
        positions = self._positions(parts, at)
        # table cells of one row interleave line by line: the next cell starts on this cell's first line
        self.floor = at + len(parts[0]) if in_table else max(positions) + 1
        return positions

    def _find(self, part: str, start: int) -> int:
        return self.b.text.find(part.rstrip(), start)

    def _positions(self, parts: list[str], at: int) -> list[int]:
        """Offsets of the characters of ``parts`` (lines of one node, the first at ``at``); a line
        that cannot be found is -1s, and so is a newline that does not end its source line."""
        text = self.b.text
        positions = list(range(at, at + len(parts[0])))
        end = at + len(parts[0])
        for part in parts[1:]:
            newline = text.find("\n", end)
            positions.append(newline if newline >= 0 and not text[end:newline].strip() else -1)
            found = self._find(part, end) if part.strip() else -1
            positions.extend(range(found, found + len(part)) if found >= 0 else [-1] * len(part))
            end = found + len(part) if found >= 0 else end
        return positions


# ---- inline markup -----------------------------------------------------------------------------


def _paint_children(b: LayoutBuilder, node: Any, raw: str, positions: list[int]) -> None:
    """Keep the text each child shows, finding children in ``raw`` in order."""
    from docutils import nodes

    cur = 0
    for child in node.children:
        if isinstance(child, nodes.Text):
            cur = _keep_text(b, raw, positions, str(child), cur)
        elif isinstance(child, nodes.target):
            continue  # its source is inside the reference just before it
        else:
            cur = _keep_inline(b, raw, positions, child, cur)


def _keep_text(b: LayoutBuilder, raw: str, positions: list[int], text: str, cur: int) -> int:
    source = text.replace("\x00", "\\")  # docutils keeps an escape's backslash as a NUL
    at = raw.find(source, cur) if source else -1
    if at < 0:
        return cur  # e.g. a substitution's replacement text, which is not in the source
    for j, char in enumerate(text):
        if char != "\x00":
            _show(b, raw, positions, at + j)
    return at + len(source)


def _keep_inline(b: LayoutBuilder, raw: str, positions: list[int], child: Any, cur: int) -> int:
    from docutils import nodes

    source = child.rawsource
    at = raw.find(source, cur) if source else -1
    if at < 0:
        return cur
    bare_url = isinstance(child, nodes.reference) and child.get("refuri") == child.astext()
    if bare_url or isinstance(child, (nodes.footnote_reference, nodes.citation_reference)):
        return at + len(source)  # a URL, or "[1]_": pointers, not text
    role = _ROLE.match(source) if isinstance(child, nodes.problematic) else None
    shown = _role_text(role.group(1)) if role else child.astext()
    k = source.find(shown) if shown else -1
    for i in range(at + k, at + k + len(shown)) if k >= 0 else ():
        _show(b, raw, positions, i)
    return at + len(source)


def _role_text(content: str) -> str:
    """What a role shows: "text <target>" -> "text", "~a.b" -> "a.b"."""
    shown = _TARGET.match(content)
    text = shown.group(1) if shown and shown.group(1) else content
    return text.lstrip("~!")


def _show(b: LayoutBuilder, raw: str, positions: list[int], i: int) -> None:
    """Show character ``i`` of ``raw`` (a line break inside a paragraph as a space), only where the
    file holds that very character: a misplaced guess never paints over the text."""
    pos = positions[i]
    if pos >= 0 and b.text[pos] == raw[i]:
        b.put(pos, " " if raw[i] == "\n" else raw[i])
