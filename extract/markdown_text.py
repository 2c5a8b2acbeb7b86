"""Markdown (CommonMark + GFM tables, with MyST/Sphinx extras) to a ``Layout``: the prose view,
title, sections and code blocks of the file's text, parsed with markdown-it-py.

Kept as prose: headings, paragraphs, list items, blockquotes, table cells (each cell on a line of
its own in the view, so a row is not read as one sentence), link texts, the text inside inline code
and emphasis, the displayed text of MyST/Sphinx roles, and the bodies of admonition directives
(```` ```{note} ````, ``:::{tip}``). Blanked: every markup character, link and image targets, images,
HTML, front matter, link reference definitions, MyST targets, directive options and other directives
(``toctree``, ``figure``...). Code blocks (fenced, indented, ``{code-block}``) are blank in the view,
so nothing is extracted from them, but they are recorded: passages keep them, so a command shown in a
README can still be found and cited. Soft line breaks inside a paragraph are spaces in the view, so a
sentence wrapped over two lines stays one sentence.

markdown-it gives line numbers for blocks but no offsets for inline tokens, so each inline token is
found again in the block's source lines, in order; what cannot be found stays blank (never markup).

>>> text = "# Tool\\n\\nRun [it](http://x) with `kg build`.\\n\\n```\\nkg build x\\n```\\n"
>>> layout = read_markdown(text)
>>> layout.title, layout.prose.split("\\n")[2], [text[a:b] for a, b in layout.code]
('Tool', 'Run  it            with  kg build .', ['```\\nkg build x\\n```'])
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any, Sequence

from .prose import Layout, LayoutBuilder

# A MyST role "{ref}" or a Sphinx role ":py:func:" written right before inline code.
_ROLE = re.compile(r"(?:\{[\w:.+-]+\}|(?<!\S):[\w.+-]+(?::[\w.+-]+)*:)$")
_ROLE_TARGET = re.compile(r"(.*?)\s*<[^<>]*>\s*$", re.DOTALL)  # "text <target>" shows "text"
_DIRECTIVE = re.compile(r"^\{([\w:.-]+)\}")
_FRONT_MATTER_FENCE = {"---": ("---", "..."), "+++": ("+++",)}
_COLON_FENCE = re.compile(r"^\s*(:{3,})\s*(?:\{([\w:.-]+)\})?")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>]*[^\s<>.,;:!?'\")\]]")  # trailing punctuation is prose
_MYST_TARGET = re.compile(r"^\s*\([^()\s]+\)=\s*$")
_OPTION = re.compile(r"^\s*:[\w-]+:(\s|$)")
# Directives whose body is Markdown prose; code-like directives are code; all others are blanked.
ADMONITIONS = frozenset(
    "admonition attention caution danger error hint important note seealso tip warning versionadded "
    "versionchanged deprecated topic sidebar margin dropdown card tab-item epigraph pull-quote highlights".split()
)
CODE_DIRECTIVES = frozenset({"code", "code-block", "code-cell", "sourcecode"})


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    # text_join would merge escapes and entities into their text, hiding where they are in the source
    return MarkdownIt("commonmark").enable("table").disable("text_join")


def read_markdown(text: str) -> Layout:
    """The ``Layout`` of Markdown ``text`` (see the module docstring for what is prose).

    >>> read_markdown("Intro.\\n\\n## Usage\\n\\n> quoted").sections
    ((8, 'Usage'),)
    """
    b = LayoutBuilder(text)
    lines = text.split("\n")
    front = _front_matter(lines)
    _blank_meta_lines(lines)
    _paint_tokens(b, _parser().parse("\n".join(lines)), 0)
    for key in ("description", "summary"):
        if key in front:
            b.keep(*front[key])
    layout = b.build()
    title = front.get("title")
    return replace(layout, title=text[title[0]:title[1]]) if title and not layout.title else layout


_FRONT_KEY = re.compile(r"""^(title|description|summary)\s*:\s*(["']?)(.*?)\2\s*$""")


def _front_matter(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Where the values of a YAML front matter's ``title``, ``description`` and ``summary`` lie in the
    text, when they are written on one line: a site generator (Jekyll, Hugo, Docusaurus) shows the
    title as the page's and the description as its summary, the one sentence that says what it is for.

    >>> text = "---\\ntitle: npm-prune\\ndescription: 'Remove extraneous packages'\\n---\\nBody."
    >>> {k: text[a:b] for k, (a, b) in _front_matter(text.split("\\n")).items()}
    {'title': 'npm-prune', 'description': 'Remove extraneous packages'}
    """
    if not lines or lines[0].strip() != "---":
        return {}
    found, offset = {}, len(lines[0]) + 1
    for line in lines[1:]:
        if line.strip() in ("---", "..."):
            return found
        m = _FRONT_KEY.match(line)
        if m and m.group(3) and m.group(1) not in found:
            found[m.group(1)] = (offset + m.start(3), offset + m.end(3))
        offset += len(line) + 1
    return {}  # never closed: not front matter


def _blank_meta_lines(lines: list[str]) -> None:
    """Empty the lines markdown-it must not see (front matter, MyST colon fences, their options and
    the bodies of non-admonition ones, ``(label)=`` targets); they stay blank in the view, and line
    numbers do not move."""
    fence = lines[0].strip() if lines else ""
    if fence in _FRONT_MATTER_FENCE:
        close = next((i for i in range(1, len(lines)) if lines[i].strip() in _FRONT_MATTER_FENCE[fence]), -1)
        lines[: close + 1] = [""] * (close + 1)
    closing, options = 0, False  # closing: colons that end a directive whose body is blanked
    for i, line in enumerate(lines):
        colon = _COLON_FENCE.match(line)
        name = (colon.group(2) or "").lower() if colon else ""
        if closing:
            closing = 0 if colon and not name and len(colon.group(1)) >= closing else closing
        elif colon:
            closing = len(colon.group(1)) if name and name not in ADMONITIONS else 0
            options = bool(name)
        elif not (_MYST_TARGET.match(line) or (options and _OPTION.match(line))):
            options = False
            continue
        lines[i] = ""


def _paint_tokens(b: LayoutBuilder, tokens: Sequence[Any], offset: int) -> None:
    """Paint block ``tokens`` whose line numbers are ``offset`` lines into the text."""
    level, in_table = 0, False
    for tok in tokens:
        kind = tok.type
        if kind == "heading_open":
            level = int(tok.tag[1:])
        elif kind == "inline" and not in_table:
            span = _paint_block_inline(b, tok, offset)
            if level and span is not None:
                b.heading(b.line_start(tok.map[0] + offset), level, *span)
            level = 0
        elif kind in ("table_open", "table_close"):
            in_table = kind == "table_open"
        elif kind == "tr_open":
            _paint_row(b, tok.map[0] + offset)
        elif kind == "fence":
            _fence(b, tok, offset)
        elif kind == "code_block":
            b.code(b.line_start(tok.map[0] + offset), b.line_end(tok.map[1] - 1 + offset))


def _fence(b: LayoutBuilder, tok: Any, offset: int) -> None:
    first, last = tok.map[0] + offset, tok.map[1] - 1 + offset
    directive = _DIRECTIVE.match(tok.info.strip())
    name = directive.group(1).lower() if directive else ""
    if name in ADMONITIONS:
        body = tok.content.split("\n")
        _blank_options(body)
        _paint_tokens(b, _parser().parse("\n".join(body)), first + 1)
    elif not directive or name in CODE_DIRECTIVES:
        b.code(b.line_start(first), b.line_end(last))


def _blank_options(body: list[str]) -> None:
    """Empty a directive's leading option lines (``:class: tip``) or YAML option block."""
    if body and body[0].strip() == "---":
        close = next((i for i in range(1, len(body)) if body[i].strip() == "---"), 0)
        body[: close + 1] = [""] * (close + 1)
    for i, line in enumerate(body):
        if not _OPTION.match(line):
            break
        body[i] = ""


# ---- inline content ----------------------------------------------------------------------------


def _paint_block_inline(b: LayoutBuilder, tok: Any, offset: int) -> tuple[int, int] | None:
    """Paint one paragraph's or heading's inline content; returns its span in the text."""
    positions = _content_positions(b, tok.content, tok.map[0] + offset)
    _paint_inline(b, tok.content, positions, tok.children or [])
    found = [p for p in positions if p >= 0]
    return (found[0], found[-1] + 1) if found else None


def _content_positions(b: LayoutBuilder, content: str, first_line: int) -> list[int]:
    """Text offset of every character of ``content`` (-1 where a line cannot be found): line k of
    the content is line ``first_line + k`` of the text without its block prefix ("> ", "- ", indent)."""
    positions: list[int] = []
    for k, part in enumerate(content.split("\n")):
        line = first_line + k
        col = _locate(b.line(line), part) if line < b.line_count() else -1
        base = b.line_start(line) + col
        positions.extend(base + j if col >= 0 else -1 for j in range(len(part)))
        positions.append(b.line_end(line) if col >= 0 else -1)  # the newline after the line
    return positions[:-1]


def _locate(source: str, part: str) -> int:
    """Column of content line ``part`` in its source line: it ends the line, or (a heading with a
    closing "##") occurs in it."""
    if not part:
        return -1
    trimmed = part.rstrip()
    if source.rstrip().endswith(trimmed) and len(source) >= len(part):
        return len(source.rstrip()) - len(trimmed)
    return source.find(part)


def _paint_row(b: LayoutBuilder, line: int) -> None:
    """A table row: each cell's inline content is prose, and the pipes between cells become line
    breaks in the view, so that cells are not read as one run-on sentence."""
    start, row = b.line_start(line), b.line(line)
    pipes = [m.start() for m in re.finditer(r"(?<!\\)\|", row)]
    bounds = [-1] + pipes + [len(row)]
    for left, right in zip(bounds, bounds[1:]):
        cell = row[left + 1 : right]
        raw = cell.strip()
        if raw:
            at = start + left + 1 + cell.index(raw)
            (inline,) = _parser().parseInline(raw)
            _paint_inline(b, raw, list(range(at, at + len(raw))), inline.children or [])
    inner = pipes[1:] if row.lstrip().startswith("|") else pipes
    inner = inner[:-1] if inner and row.rstrip().endswith("|") else inner
    for pipe in inner:
        b.put(start + pipe, "\n")


def _paint_inline(b: LayoutBuilder, content: str, positions: list[int], children: Sequence[Any]) -> None:
    """Walk the inline tokens of ``content`` in order, finding each again in it, and keep the
    characters that are shown as text."""
    walk = _InlineWalk(b, content, positions)
    for k, child in enumerate(children):
        following = children[k + 1] if k + 1 < len(children) else None
        walk.step(child, following)


class _InlineWalk:
    """A cursor through one block's inline source, painting as it goes."""

    def __init__(self, b: LayoutBuilder, content: str, positions: list[int]):
        self.b, self.content, self.positions = b, content, positions
        self.cur = 0
        self.autolink = False
        self.role = False

    def keep(self, start: int, end: int, newline: str = " ") -> None:
        """Content characters ``start:end`` are prose (a newline inside becomes ``newline``)."""
        for i in range(start, end):
            pos = self.positions[i]
            if pos >= 0:
                self.b.put(pos, newline if self.content[i] == "\n" else self.content[i])

    def keep_words(self, start: int, end: int) -> None:
        """Keep ``start:end`` but for bare URLs in it (not prose, and no entity either)."""
        for url in _URL.finditer(self.content, start, end):
            self.keep(start, url.start())
            start = url.end()
        self.keep(start, end)

    def find(self, needle: str) -> int:
        return self.content.find(needle, self.cur) if needle else -1

    def step(self, tok: Any, following: Any) -> None:
        handler = getattr(self, "_" + tok.type, None)
        if handler is not None:
            handler(tok, following)
        elif tok.markup and tok.type.endswith(("_open", "_close")):  # emphasis, strong, strikethrough
            at = self.find(tok.markup)
            self.cur = at + len(tok.markup) if at >= 0 else self.cur

    def _text(self, tok: Any, following: Any) -> None:
        at = self.find(tok.content)
        if at < 0:
            return
        end = at + len(tok.content)
        shown = end
        role = _ROLE.search(self.content, at, end)
        if following is not None and following.type == "code_inline" and role and role.end() == end:
            shown, self.role = role.start(), True  # {ref}`text`: only the role's text is shown
        if not self.autolink:
            self.keep_words(at, shown)
        self.cur = end

    def _text_special(self, tok: Any, following: Any) -> None:
        at = self.find(tok.markup)
        if at < 0:
            return
        if tok.info == "escape":  # "\*" shows "*"
            self.keep(at + 1, at + len(tok.markup))
        elif len(tok.content) <= len(tok.markup):  # "&amp;" shows "&"
            for j, char in enumerate(tok.content):
                if self.positions[at + j] >= 0:
                    self.b.put(self.positions[at + j], char)
        self.cur = at + len(tok.markup)

    def _code_inline(self, tok: Any, following: Any) -> None:
        at = self.find(tok.markup)
        close = self.content.find(tok.markup, at + len(tok.markup)) if at >= 0 else -1
        if close < 0:
            return
        start, end = at + len(tok.markup), close
        if self.role:
            shown = _ROLE_TARGET.match(self.content, start, end)
            end = start + len(shown.group(1)) if shown else end
            start += 1 if self.content[start : start + 1] in ("~", "!") else 0
            self.role = False
        self.keep(start, end)
        self.cur = close + len(tok.markup)

    def _softbreak(self, tok: Any, following: Any) -> None:
        at = self.find("\n")
        if at >= 0:
            self.keep(at, at + 1, newline=" ")  # a wrapped line is not a sentence boundary
            self.cur = at + 1

    def _hardbreak(self, tok: Any, following: Any) -> None:
        at = self.find("\n")
        self.cur = at + 1 if at >= 0 else self.cur  # the newline stays a newline in the view

    def _html_inline(self, tok: Any, following: Any) -> None:
        at = self.find(tok.content)
        self.cur = at + len(tok.content) if at >= 0 else self.cur

    def _link_open(self, tok: Any, following: Any) -> None:
        self.autolink = tok.markup == "autolink"  # <https://...>: the URL is not prose
        at = self.find("<" if self.autolink else "[")
        self.cur = at + 1 if at >= 0 else self.cur

    def _link_close(self, tok: Any, following: Any) -> None:
        if self.autolink:
            at = self.find(">")
            self.cur, self.autolink = (at + 1 if at >= 0 else self.cur), False
        else:
            self.cur = _skip_destination(self.content, self.cur)

    def _image(self, tok: Any, following: Any) -> None:
        at = self.find("![")
        close = self.content.find("]", at + 2 + len(tok.content)) if at >= 0 else -1
        if close >= 0:
            self.cur = _skip_destination(self.content, close)


def _skip_destination(content: str, at: int) -> int:
    """Past the "](url "title")" or "][ref]" that follows a link text at ``at`` (its "]")."""
    if content.startswith("](", at):
        depth, i = 0, at + 1
        while i < len(content):
            depth += {"(": 1, ")": -1}.get(content[i], 0)
            i += 2 if content[i] == "\\" else 1
            if depth == 0:
                return i
        return len(content)
    if content.startswith("][", at):
        close = content.find("]", at + 2)
        return close + 1 if close >= 0 else at + 1
    return at + 1 if content.startswith("]", at) else at
