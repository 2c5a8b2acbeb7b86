"""Ingestion: find input files and read them into ``Document`` records.

Supported inputs are plain text (``.txt``), Markdown (``.md``, ``.markdown``), reStructuredText
(``.rst``), Word (``.docx``), HTML (``.html``, ``.htm``), PDF (``.pdf``) and record files (``.jsonl``: one
``{"id", "title", "text"}`` object a line; ``.json``: a list of such objects, an object with a
``"documents"`` list, or a single record). Every problem (missing path, unreadable folder, dangling link,
FIFO, unsupported type, empty or binary file, undecodable bytes, malformed JSON, a record without text,
an unreadable PDF or Word file, duplicate content) becomes a ``SkippedInput`` naming the file (and line)
and what was wrong; one bad file or record never loses the others. ``strict=True`` raises ``InputError``
instead.

Markdown and reStructuredText keep their text exactly as in the file (citations point into it); their
readers (``extract.markdown_text``, ``extract.rst_text``) add the prose view that extraction reads, the
sections and the code blocks to the ``Document``.

>>> result = load_documents(["samples/corpus"])          # doctest: +SKIP
>>> [d.title for d in result.documents][:2]               # doctest: +SKIP
['...', '...']
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from kg.errors import InputError
from kg.model import Document, SkippedInput

from .discovery import SUPPORTED_SUFFIXES, discover
from .docx_text import read_docx
from .markdown_text import read_markdown
from .prose import Layout
from .rst_text import read_rst

__all__ = ["SUPPORTED_SUFFIXES", "LoadResult", "discover", "html_to_text", "load_documents"]

_BINARY_SUFFIXES = (".pdf", ".docx")  # zip and PDF files hold NUL bytes by nature
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_DROP_TAGS = ("script", "style", "nav", "head", "noscript", "template", "svg", "iframe")
_BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "caption", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
)
_CELL_TAGS = ("td", "th")


@dataclass(frozen=True)
class LoadResult:
    """Documents read, in discovery then record order, and every input that was skipped."""

    documents: tuple[Document, ...]
    skipped: tuple[SkippedInput, ...]


# ---- loading -------------------------------------------------------------------------------------


def load_documents(sources: Sequence[str | Path], strict: bool = False,
                   read: Callable[[list[Path]], Iterable[list[tuple]]] | None = None) -> LoadResult:
    """Read every supported file under ``sources`` into documents.

    Problems become ``SkippedInput`` entries; with ``strict=True`` the first one raises
    ``kg.errors.InputError(source, reason, line)`` instead. Duplicate content (same document id)
    is skipped as ``"duplicate of <first source>"``. ``read`` turns the discovered files into their
    ``read_file`` lists, in order (default: one after another, here).

    >>> result = load_documents(["notes/"])                   # doctest: +SKIP
    >>> len(result.documents), result.skipped                 # doctest: +SKIP
    (12, ())
    """
    paths, skipped = discover(sources)
    if strict and skipped:
        _raise(skipped[0])
    documents: list[Document] = []
    first_source: dict[str, str] = {}
    read = read or (lambda files: (read_file(f) for f in files))
    for items in read(paths):
        for item, line in items:
            if isinstance(item, Document) and item.id in first_source:
                item = SkippedInput(item.source, f"duplicate of {first_source[item.id]}", line)
            if isinstance(item, SkippedInput):
                if strict:
                    _raise(item)
                skipped.append(item)
                continue
            first_source[item.id] = item.source
            documents.append(item)
    return LoadResult(tuple(documents), tuple(skipped))


def read_file(path: Path) -> list[tuple[Document | SkippedInput, int | None]]:
    """``(document or problem, JSONL line)`` for each record of one file: what ``load_documents``
    reads of each discovered file, in order (``read`` may run it elsewhere, e.g. on Ray workers)."""
    return list(_read_file(Path(path)))


def _raise(item: SkippedInput) -> None:
    raise InputError(item.source, item.reason, item.line)


def _read_file(path: Path) -> Iterator[tuple[Document | SkippedInput, int | None]]:
    """``(document or problem, JSONL line)`` for each record of one supported file, in file order."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        data = _read_bytes(path)
        yield from _read_jsonl(path, data) if isinstance(data, bytes) else [(data, None)]
        return
    for item in _read_whole(path, suffix):
        yield item, None


def _read_bytes(path: Path) -> bytes | SkippedInput:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return SkippedInput(str(path), f"cannot read file: {exc.strerror or exc}")
    if not data.strip():
        return SkippedInput(str(path), "empty file; expected some text")
    if b"\x00" in data and path.suffix.lower() not in _BINARY_SUFFIXES:
        return SkippedInput(str(path), "binary file (contains NUL bytes); expected text")
    return data


def _read_whole(path: Path, suffix: str) -> Iterator[Document | SkippedInput]:
    data = _read_bytes(path)
    if isinstance(data, SkippedInput):
        yield data
    elif suffix == ".pdf":
        yield _read_pdf(path, data)
    elif suffix == ".json":
        yield from _read_json(path, data)
    elif suffix in (".html", ".htm"):
        yield _read_html(path, data)
    elif suffix == ".docx":
        yield _read_docx(path, data)
    elif suffix in (".md", ".markdown", ".rst"):
        yield _read_markup(path, data, suffix)
    else:
        yield _read_text(path, data)


def _decode(data: bytes, encoding: str = "utf-8") -> str:
    """Decode, raising ``ValueError`` naming the byte offset of the first bad byte."""
    bom = b"\xef\xbb\xbf" if encoding == "utf-8" and data.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = data[len(bom):].decode(encoding)
    except UnicodeDecodeError as exc:
        offset = exc.start + len(bom)
        raise ValueError(
            f"undecodable bytes: invalid {encoding.upper()} byte 0x{data[offset]:02x} at byte offset {offset}; "
            f"expected {encoding.upper()} text"
        ) from None
    return _normalise_newlines(text)


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_text(path: Path, data: bytes) -> Document | SkippedInput:
    try:
        text = _decode(data)
    except ValueError as exc:
        return SkippedInput(str(path), str(exc))
    return Document.from_text(text, source=str(path), title=path.stem)


# ---- Markdown, reStructuredText, Word -------------------------------------------------------------


def _read_markup(path: Path, data: bytes, suffix: str) -> Document | SkippedInput:
    try:
        text = _decode(data)
    except ValueError as exc:
        return SkippedInput(str(path), str(exc))
    if suffix != ".rst":
        return _laid_out(path, text, read_markdown(text))
    try:
        return _laid_out(path, text, read_rst(text))
    except ValueError as exc:
        return SkippedInput(str(path), f"unreadable reStructuredText: {exc}")


def _read_docx(path: Path, data: bytes) -> Document | SkippedInput:
    try:
        text, layout = read_docx(data)
    except ValueError as exc:
        return SkippedInput(str(path), f"unreadable Word document: {exc}")
    if not text.strip():
        return SkippedInput(str(path), "Word document has no text; expected some paragraphs")
    return _laid_out(path, text, layout)


def _laid_out(path: Path, text: str, layout: Layout) -> Document | SkippedInput:
    """A document of ``text`` with its reader's prose view ("" when it equals the text), sections
    and code blocks; the title is the first level-1 heading, else the file name."""
    if not layout.prose.strip() and not layout.code:
        return SkippedInput(str(path), "no text outside markup (only HTML, directives or comments); expected prose or code")
    doc = Document.from_text(text, source=str(path), title=layout.title or path.stem)
    prose = "" if layout.prose == text else layout.prose
    return replace(doc, prose=prose, sections=layout.sections, code=layout.code)


# ---- HTML ----------------------------------------------------------------------------------------


def _read_html(path: Path, data: bytes) -> Document | SkippedInput:
    try:
        markup = _decode(data)
    except ValueError as exc:
        declared = _META_CHARSET.search(data[:4096])
        markup = _decode_declared(data, declared.group(1).decode("ascii")) if declared else None
        if markup is None:
            return SkippedInput(str(path), str(exc))
    title, text = html_to_text(markup)
    if not text:
        return SkippedInput(str(path), "no visible text in HTML page; expected some body text")
    return Document.from_text(text, source=str(path), title=title or path.stem)


def _decode_declared(data: bytes, charset: str) -> str | None:
    """Decode with the page's own declared charset (not a guess); None when that fails too."""
    try:
        return _decode(data, charset.lower())
    except (ValueError, LookupError):
        return None


def html_to_text(markup: str) -> tuple[str, str]:
    """``(title, visible text)`` of an HTML page: blocks on their own lines, whitespace tidied.

    >>> html_to_text("<title>T</title><p>One  <b>two</b></p><script>x()</script><p>Three</p>")
    ('T', 'One two\\nThree')
    """
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(markup, "lxml")
    title = _tidy(soup.title.get_text(" ")) if soup.title else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    if not title and soup.h1:
        title = _tidy(soup.h1.get_text(" "))
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for tag in soup.find_all(_CELL_TAGS):
        tag.insert_after(" ")
    lines = (_tidy(line) for line in soup.get_text().split("\n"))
    return title, "\n".join(line for line in lines if line)


def _tidy(text: str) -> str:
    return " ".join(text.split())


# ---- PDF -----------------------------------------------------------------------------------------


def _read_pdf(path: Path, data: bytes) -> Document | SkippedInput:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return SkippedInput(str(path), "encrypted PDF; expected an unencrypted PDF or one with an empty password")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except Exception as exc:  # pypdf raises many types for damaged files; all mean "unreadable"
        return SkippedInput(str(path), f"unreadable PDF: {type(exc).__name__}: {exc}")
    text = _normalise_newlines("\n\n".join(page for page in pages if page))
    if not text.strip():
        return SkippedInput(str(path), "PDF has no extractable text (scanned images?); expected a text PDF")
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else path.stem
    return Document.from_text(text, source=str(path), title=title)


# ---- JSON and JSONL records ----------------------------------------------------------------------


def _read_jsonl(path: Path, data: bytes) -> Iterator[tuple[Document | SkippedInput, int]]:
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line_start, offset = offset, offset + len(raw) + 1
        if not raw.strip():
            continue
        try:
            record = json.loads(_decode(raw))
        except ValueError as exc:
            yield SkippedInput(str(path), _json_problem(exc, line_start), number), number
            continue
        yield _record_document(path, record, f"line {number}", number), number


def _json_problem(exc: ValueError, line_start: int) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc.msg} at column {exc.colno}"
    message = str(exc)
    # shift a line-relative byte offset to a file offset so it points at the bad byte in the file
    match = re.search(r"at byte offset (\d+)", message)
    if match:
        message = message.replace(match.group(0), f"at byte offset {int(match.group(1)) + line_start}")
    return message


def _read_json(path: Path, data: bytes) -> Iterator[Document | SkippedInput]:
    try:
        payload = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        yield SkippedInput(str(path), f"malformed JSON: {exc.msg} at column {exc.colno}", exc.lineno)
        return
    except ValueError as exc:
        yield SkippedInput(str(path), str(exc))
        return
    if isinstance(payload, dict) and "documents" in payload:
        payload = payload["documents"]
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        yield SkippedInput(
            str(path),
            f"expected a list of records, an object with a 'documents' list, or one record; got {_kind(payload)}",
        )
        return
    for number, record in enumerate(payload, start=1):
        yield _record_document(path, record, f"record {number}", None)


def _record_document(path: Path, record: Any, position: str, line: int | None) -> Document | SkippedInput:
    """One ``{"id", "title", "text"}`` record as a document; ``position`` names it when it has no id."""
    if not isinstance(record, dict):
        return SkippedInput(f"{path}#{position}", f"expected a JSON object with a 'text' field, got {_kind(record)}", line)
    rid = record.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (str, int))):
        return SkippedInput(f"{path}#{position}", f"'id' must be a string or integer, got {_kind(rid)}", line)
    external_id = "" if rid is None else str(rid)
    source = f"{path}#{external_id or position}"
    problem = _record_problem(record)
    if problem:
        return SkippedInput(source, problem, line)
    text = _normalise_newlines(record["text"])
    return Document.from_text(text, source=source, title=record.get("title") or "", external_id=external_id)


def _record_problem(record: dict) -> str:
    if "text" not in record:
        return f"record has no 'text' field; expected one (fields: {', '.join(map(str, record)) or 'none'})"
    if not isinstance(record["text"], str):
        return f"'text' must be a string, got {_kind(record['text'])}"
    if not record["text"].strip():
        return "record has empty 'text'; expected some text"
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        return f"'title' must be a string, got {_kind(title)}"
    return ""


def _kind(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "integer", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
