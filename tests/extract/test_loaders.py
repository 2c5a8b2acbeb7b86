"""Tests of extract/loaders.py: discovery, every input format and every reported problem."""
from __future__ import annotations

import io
import json
import os
import socket
import time
from pathlib import Path

import pytest

from extract.loaders import LoadResult, discover, html_to_text, load_documents
from kg.errors import InputError
from kg.model import Document, SkippedInput, document_id

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
EXPECTED_TYPES = ".docx, .html, .htm, .json, .jsonl, .md, .markdown, .pdf, .rst, .txt"


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string, one page per list."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"] + [f"({line}) Tj T*" for line in lines] + ["ET"]
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if title:
        objects.append(f"<< /Title ({title}) >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypt_pdf(data: bytes, password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


# ---- discover ------------------------------------------------------------------------------------


def test_discover_walks_folders_sorted_skipping_hidden_and_reporting_unsupported(tmp_path):
    for name in ["b.txt", "a.md", "sub/c.html", "sub/z/d.jsonl", ".hidden.txt", ".git/x.txt", "sub/.cache/y.md"]:
        write(tmp_path / name, "text")
    write(tmp_path / "report.odt", "x")
    write(tmp_path / "Makefile", "x")
    files, skipped = discover([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a.md", "b.txt", "sub/c.html", "sub/z/d.jsonl"]
    assert skipped == [
        SkippedInput(str(tmp_path / "Makefile"), f"unsupported file type (no extension); expected one of {EXPECTED_TYPES}"),
        SkippedInput(str(tmp_path / "report.odt"), f"unsupported file type '.odt'; expected one of {EXPECTED_TYPES}"),
    ]


def test_discover_expands_recursive_glob_and_reports_missing_inputs(tmp_path):
    for name in ["docs/a.md", "docs/deep/b.md", "docs/deep/c.txt", "docs/.draft/d.md"]:
        write(tmp_path / name, "text")
    pattern = str(tmp_path / "docs" / "**" / "*.md")
    files, skipped = discover([pattern, str(tmp_path / "nothing" / "*.md"), tmp_path / "missing.txt"])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["docs/a.md", "docs/deep/b.md"]
    assert skipped == [
        SkippedInput(str(tmp_path / "nothing" / "*.md"), "glob pattern matched no files"),
        SkippedInput(str(tmp_path / "missing.txt"), "no such file or directory"),
    ]


def test_discover_lists_a_file_reached_twice_once_and_accepts_upper_case_suffix(tmp_path):
    note = write(tmp_path / "NOTE.TXT", "text")
    files, skipped = discover([note, tmp_path, str(note)])
    assert files == [note] and skipped == []


def test_dangling_links_fifos_sockets_and_linked_folders_are_reported(tmp_path):
    docs = tmp_path / "docs"
    write(docs / "a.md", "A.")
    write(tmp_path / "elsewhere" / "b.md", "B.")
    (docs / "gone.md").symlink_to(tmp_path / "missing.md")
    (docs / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (docs / "link-to-fifo.md").symlink_to(docs / "pipe.md")
    os.mkfifo(docs / "pipe.md")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(docs / "sock.md"))
        files, skipped = discover([docs, docs / "pipe.md", docs / "gone.md"])
    finally:
        server.close()
    assert files == [docs / "a.md"]
    assert skipped == [
        SkippedInput(str(docs / "gone.md"), "dangling symbolic link"),
        SkippedInput(str(docs / "link-to-fifo.md"), "not a regular file (symbolic link to a FIFO)"),
        SkippedInput(str(docs / "linked"), "symbolic link to a folder, not followed; name the folder itself to read it"),
        SkippedInput(str(docs / "pipe.md"), "not a regular file (FIFO)"),
        SkippedInput(str(docs / "sock.md"), "not a regular file (socket)"),
        SkippedInput(str(docs / "pipe.md"), "not a regular file (FIFO)"),
        SkippedInput(str(docs / "gone.md"), "dangling symbolic link"),
    ]
    assert discover([docs / "linked"])[0] == [docs / "linked" / "b.md"]  # named itself, a linked folder is read


def discover_without_privileges(folder: Path, sources: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """``discover(sources)`` run in ``folder`` where permission bits apply. Root reads every folder,
    so as root it runs in a forked child that becomes user "nobody" first (the child starts inside
    ``folder`` and imports nothing, so it needs no access to the folders above or to Python)."""
    def result(files, skipped):
        return [str(f) for f in files], [(s.source, s.reason) for s in skipped]

    if os.geteuid() != 0:
        here = os.getcwd()
        os.chdir(folder)
        try:
            return result(*discover(sources))
        finally:
            os.chdir(here)
    read, out = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.chdir(folder)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(out, json.dumps(result(*discover(sources))).encode())
        finally:
            os._exit(0)
    os.close(out)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    files, skipped = json.loads(data)
    return files, [tuple(s) for s in skipped]


def test_unreadable_folder_is_reported_as_permission_denied(tmp_path):
    write(tmp_path / "docs" / "a.md", "A.")
    write(tmp_path / "docs" / "locked" / "b.md", "B.")
    write(tmp_path / "closed" / "c.md", "C.")
    tmp_path.chmod(0o755)
    (tmp_path / "docs" / "locked").chmod(0)
    (tmp_path / "closed").chmod(0)
    try:
        found = discover_without_privileges(tmp_path, ["docs", "closed"])
    finally:
        (tmp_path / "docs" / "locked").chmod(0o755)
        (tmp_path / "closed").chmod(0o755)
    assert found == (["docs/a.md"], [("docs/locked", "permission denied"), ("closed", "permission denied")])


def test_explicit_unsupported_file_is_reported_not_guessed(tmp_path):
    sheet = write(tmp_path / "data.csv", "a,b\n1,2\n")
    result = load_documents([sheet])
    assert result == LoadResult((), (SkippedInput(str(sheet), f"unsupported file type '.csv'; expected one of {EXPECTED_TYPES}"),))


# ---- text and Markdown ---------------------------------------------------------------------------


def test_text_file_keeps_text_normalises_newlines_and_uses_stem_as_title(tmp_path):
    path = write(tmp_path / "ada notes.txt", b"Ada Lovelace.\r\nShe wrote notes.\rEnd.\n")
    (doc,) = load_documents([path]).documents
    text = "Ada Lovelace.\nShe wrote notes.\nEnd.\n"
    assert doc == Document(document_id("ada notes", text), str(path), "ada notes", text, "")


def test_markdown_title_is_first_level_one_heading(tmp_path):
    path = write(tmp_path / "page.md", "Intro line\n## Not this\n#NoSpace\n# The Real Title #\n\nBody.\n# Second\n")
    (doc,) = load_documents([path]).documents
    assert doc.title == "The Real Title"
    assert doc.text == "Intro line\n## Not this\n#NoSpace\n# The Real Title #\n\nBody.\n# Second\n"


def test_markdown_without_heading_uses_stem(tmp_path):
    (doc,) = load_documents([write(tmp_path / "plain.markdown", "Just text.")]).documents
    assert doc.title == "plain"


MARKDOWN = """---
title: not this
---
# The `kg` **Guide**

Ada Lovelace met [Charles Babbage](https://example.com/cb).

## Install

```bash
$ pip install Grace Hopper
```
"""


def test_markdown_keeps_its_text_and_gets_a_prose_view_sections_and_code(tmp_path):
    path = write(tmp_path / "guide.md", MARKDOWN.replace("\n", "\r\n"))
    (doc,) = load_documents([path]).documents
    assert (doc.title, doc.text) == ("The kg Guide", MARKDOWN)
    assert doc.id == document_id("The kg Guide", MARKDOWN)
    assert len(doc.prose) == len(doc.text)
    assert " ".join(doc.prose.split()) == "The kg Guide Ada Lovelace met Charles Babbage . Install"
    assert doc.sections == ((MARKDOWN.index("## Install"), "Install"),)
    assert [doc.text[a:b] for a, b in doc.code] == ["```bash\n$ pip install Grace Hopper\n```"]


def test_restructuredtext_is_read_with_docutils(tmp_path):
    text = "Guide\n=====\n\nAda met `Babbage <https://x.y>`_.\n\nSetup\n-----\n\n.. code-block:: bash\n\n   kg build\n"
    (doc,) = load_documents([write(tmp_path / "guide.rst", text)]).documents
    assert (doc.title, doc.text, doc.sections) == ("Guide", text, ((text.index("Setup"), "Setup"),))
    assert " ".join(doc.prose.split()) == "Guide Ada met Babbage . Setup"
    assert [text[a:b] for a, b in doc.code] == ["   kg build"]


def test_plain_text_has_no_prose_view_sections_or_code(tmp_path):
    (doc,) = load_documents([write(tmp_path / "n.txt", "# Not a heading\n`not code`")]).documents
    assert (doc.prose, doc.sections, doc.code) == ("", (), ())


def test_markup_without_text_is_skipped(tmp_path):
    path = write(tmp_path / "badges.md", '<p align="center"><img src="logo.png"></p>\n\n[x]: https://x.y\n')
    assert load_documents([path]).skipped == (
        SkippedInput(str(path), "no text outside markup (only HTML, directives or comments); expected prose or code"),
    )


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = "Stale template title"
    d.add_heading("Annual Report", 0)
    d.add_heading("Findings", 1)
    d.add_paragraph("Ada Lovelace\twrote   notes.")
    d.add_heading("Details", 2)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Name", "Role"
    table.cell(1, 0).merge(table.cell(1, 1)).text = "Charles Babbage"
    d.save(path)
    return path


def test_word_document_paragraphs_headings_and_cells(tmp_path):
    (doc,) = load_documents([make_docx(tmp_path / "report.docx")]).documents
    text = "Annual Report\nFindings\nAda Lovelace wrote notes.\nDetails\nName\nRole\nCharles Babbage"
    assert (doc.title, doc.text, doc.prose) == ("Annual Report", text, "")
    assert doc.sections == ((text.index("Findings"), "Findings"), (text.index("Details"), "Findings > Details"))


def test_damaged_and_empty_word_documents_are_skipped(tmp_path):
    import docx

    damaged = write(tmp_path / "damaged.docx", b"PK\x03\x04 not really a zip")
    empty = tmp_path / "empty.docx"
    docx.Document().save(empty)
    result = load_documents([damaged, empty])
    assert result.documents == ()
    assert result.skipped[0].source == str(damaged)
    assert result.skipped[0].reason.startswith("unreadable Word document: ")
    assert result.skipped[1] == SkippedInput(str(empty), "Word document has no text; expected some paragraphs")


def test_utf8_bom_is_dropped_and_unicode_kept(tmp_path):
    path = write(tmp_path / "u.txt", "\ufeffZoë met 北京 — ok 🎉".encode("utf-8"))
    (doc,) = load_documents([path]).documents
    assert doc.text == "Zoë met 北京 — ok 🎉"


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file; expected some text"),
        (b"  \n\t\n", "empty file; expected some text"),
        (b"abc\x00def", "binary file (contains NUL bytes); expected text"),
        (b"caf\xe9 au lait", "undecodable bytes: invalid UTF-8 byte 0xe9 at byte offset 3; expected UTF-8 text"),
        (b"\xef\xbb\xbfok \xff", "undecodable bytes: invalid UTF-8 byte 0xff at byte offset 6; expected UTF-8 text"),
    ],
)
def test_bad_text_files_are_skipped_with_reason(tmp_path, content, reason):
    bad = write(tmp_path / "bad.txt", content)
    good = write(tmp_path / "good.txt", "Fine.")
    result = load_documents([bad, good])
    assert result.skipped == (SkippedInput(str(bad), reason),)
    assert [d.text for d in result.documents] == ["Fine."]


# ---- HTML ----------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><title>  Ada
 Lovelace </title><style>p { color: red; }</style><script>var hidden = 1;</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Ada   Lovelace</h1>
<p>Ada was a <b>mathematician</b>&nbsp;and writer.<br>She worked with Charles Babbage.</p>
<!-- a comment that is not text -->
<noscript>Enable JavaScript</noscript>
<ul><li>Notes</li><li>Analytical Engine &amp; more</li></ul>
<table><tr><td>Born</td><td>1815</td></tr></table>
<script>document.write("nope")</script>
</body></html>"""


def test_html_keeps_visible_text_in_blocks_and_title_from_title_tag(tmp_path):
    path = write(tmp_path / "ada.html", PAGE)
    (doc,) = load_documents([path]).documents
    assert doc.title == "Ada Lovelace"
    assert doc.text == (
        "Ada Lovelace\nAda was a mathematician and writer.\nShe worked with Charles Babbage.\n"
        "Notes\nAnalytical Engine & more\nBorn 1815"
    )


def test_html_title_falls_back_to_h1_then_stem():
    assert html_to_text("<body><h1>Head  line</h1><p>Body</p></body>") == ("Head line", "Head line\nBody")
    assert html_to_text("<p>Only <i>body</i></p>") == ("", "Only body")


def test_html_without_visible_text_is_skipped(tmp_path):
    path = write(tmp_path / "empty.htm", "<html><head><title>T</title></head><body><script>x()</script></body></html>")
    assert load_documents([path]).skipped == (
        SkippedInput(str(path), "no visible text in HTML page; expected some body text"),
    )


def test_html_in_declared_legacy_charset_is_decoded_with_it(tmp_path):
    markup = '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e</p></body></html>'
    path = write(tmp_path / "latin.html", markup.encode("iso-8859-1"))
    (doc,) = load_documents([path]).documents
    assert (doc.title, doc.text) == ("Café", "Crème brûlée")


def test_html_with_undeclared_bad_bytes_is_skipped_with_offset(tmp_path):
    path = write(tmp_path / "bad.html", b"<p>caf\xe9</p>")
    assert load_documents([path]).skipped == (
        SkippedInput(str(path), "undecodable bytes: invalid UTF-8 byte 0xe9 at byte offset 6; expected UTF-8 text"),
    )


# ---- PDF -----------------------------------------------------------------------------------------


def test_pdf_pages_are_joined_with_blank_lines_and_title_comes_from_metadata(tmp_path):
    path = write(tmp_path / "ada.pdf", make_pdf([["Ada Lovelace wrote notes.", "She worked with Babbage."], ["Page two."]], "Notes on Ada"))
    (doc,) = load_documents([path]).documents
    assert doc.title == "Notes on Ada"
    assert doc.text == "Ada Lovelace wrote notes.\nShe worked with Babbage.\n\nPage two."
    assert doc.source == str(path)


def test_pdf_without_metadata_title_uses_stem(tmp_path):
    path = write(tmp_path / "report-2024.pdf", make_pdf([["Hello."]]))
    (doc,) = load_documents([path]).documents
    assert (doc.title, doc.text) == ("report-2024", "Hello.")


def test_encrypted_pdf_is_skipped_but_empty_password_pdf_is_read(tmp_path):
    plain = make_pdf([["Secret text."]])
    locked = write(tmp_path / "locked.pdf", encrypt_pdf(plain, "secret"))
    open_ = write(tmp_path / "open.pdf", encrypt_pdf(plain, ""))
    result = load_documents([locked, open_])
    assert result.skipped == (
        SkippedInput(str(locked), "encrypted PDF; expected an unencrypted PDF or one with an empty password"),
    )
    assert [d.text for d in result.documents] == ["Secret text."]


def test_damaged_and_textless_pdfs_are_skipped(tmp_path):
    damaged = write(tmp_path / "damaged.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    textless = write(tmp_path / "scan.pdf", make_pdf([[]]))
    result = load_documents([damaged, textless])
    assert result.documents == ()
    assert result.skipped[0].source == str(damaged)
    assert result.skipped[0].reason.startswith("unreadable PDF: ")
    assert result.skipped[1] == SkippedInput(
        str(textless), "PDF has no extractable text (scanned images?); expected a text PDF"
    )


# ---- JSONL and JSON records ----------------------------------------------------------------------


def test_jsonl_records_with_ids_titles_blank_lines_and_problems(tmp_path):
    lines = [
        json.dumps({"id": "p1", "title": "Paris", "text": "Paris is in France."}),
        "",
        json.dumps({"id": 7, "text": "Numeric id."}),
        json.dumps({"title": "No id", "text": "Anonymous record."}),
        '{"id": "broken", "text": ',
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "p5", "title": "T"}),
        json.dumps({"id": "p6", "text": 42}),
        json.dumps({"id": "p7", "text": "  "}),
        json.dumps({"id": "p8", "title": 3, "text": "x"}),
        json.dumps({"id": ["x"], "text": "x"}),
        json.dumps({"id": "p10", "text": "Last one survives."}),
    ]
    path = write(tmp_path / "c.jsonl", "\n".join(lines) + "\n")
    result = load_documents([path])
    assert [(d.external_id, d.title, d.text, d.source) for d in result.documents] == [
        ("p1", "Paris", "Paris is in France.", f"{path}#p1"),
        ("7", "", "Numeric id.", f"{path}#7"),
        ("", "No id", "Anonymous record.", f"{path}#line 4"),
        ("p10", "", "Last one survives.", f"{path}#p10"),
    ]
    assert result.documents[0].id == document_id("Paris", "Paris is in France.")
    assert result.skipped == (
        SkippedInput(str(path), "malformed JSON: Expecting value at column 26", 5),
        SkippedInput(f"{path}#line 6", "expected a JSON object with a 'text' field, got list", 6),
        SkippedInput(f"{path}#p5", "record has no 'text' field; expected one (fields: id, title)", 7),
        SkippedInput(f"{path}#p6", "'text' must be a string, got integer", 8),
        SkippedInput(f"{path}#p7", "record has empty 'text'; expected some text", 9),
        SkippedInput(f"{path}#p8", "'title' must be a string, got integer", 10),
        SkippedInput(f"{path}#line 11", "'id' must be a string or integer, got list", 11),
    )


def test_jsonl_undecodable_line_reports_file_byte_offset_and_keeps_other_lines(tmp_path):
    first = b'{"id": "a", "text": "ok"}\n'
    path = write(tmp_path / "c.jsonl", first + b'{"id": "b", "text": "caf\xe9"}\n{"id": "c", "text": "fine"}\n')
    result = load_documents([path])
    assert [d.external_id for d in result.documents] == ["a", "c"]
    offset = len(first) + len('{"id": "b", "text": "caf')
    assert result.skipped == (
        SkippedInput(str(path), f"undecodable bytes: invalid UTF-8 byte 0xe9 at byte offset {offset}; expected UTF-8 text", 2),
    )


def test_jsonl_with_nul_bytes_is_binary(tmp_path):
    path = write(tmp_path / "c.jsonl", b'{"text": "a"}\n\x00\x01\x02')
    assert load_documents([path]).skipped == (SkippedInput(str(path), "binary file (contains NUL bytes); expected text"),)


@pytest.mark.parametrize(
    "payload",
    [
        [{"id": "a", "title": "A", "text": "Alpha."}, {"text": "Beta."}],
        {"documents": [{"id": "a", "title": "A", "text": "Alpha."}, {"text": "Beta."}]},
    ],
)
def test_json_list_or_documents_object(tmp_path, payload):
    path = write(tmp_path / "d.json", json.dumps(payload))
    result = load_documents([path])
    assert [(d.source, d.external_id, d.title, d.text) for d in result.documents] == [
        (f"{path}#a", "a", "A", "Alpha."),
        (f"{path}#record 2", "", "", "Beta."),
    ]
    assert result.skipped == ()


def test_json_single_record_and_json_problems(tmp_path):
    single = write(tmp_path / "one.json", json.dumps({"id": "x", "text": "Single."}))
    broken = write(tmp_path / "broken.json", '[\n  {"text": "a"},\n  {"text" "b"}\n]')
    scalar = write(tmp_path / "scalar.json", "42")
    bad_record = write(tmp_path / "bad.json", json.dumps([{"text": "ok"}, {"id": "q"}]))
    result = load_documents([single, broken, scalar, bad_record])
    assert [d.text for d in result.documents] == ["Single.", "ok"]
    assert result.skipped == (
        SkippedInput(str(broken), "malformed JSON: Expecting ':' delimiter at column 11", 3),
        SkippedInput(
            str(scalar), "expected a list of records, an object with a 'documents' list, or one record; got integer"
        ),
        SkippedInput(f"{bad_record}#q", "record has no 'text' field; expected one (fields: id)"),
    )


# ---- duplicates, ordering, strict mode -----------------------------------------------------------


def test_duplicate_content_is_reported_with_first_source(tmp_path):
    a = write(tmp_path / "a.txt", "Same text.")
    b = write(tmp_path / "sub" / "a.txt", "Same text.")
    records = write(tmp_path / "r.jsonl", '{"id": "1", "title": "T", "text": "Body."}\n{"id": "2", "title": "T", "text": "Body."}\n')
    result = load_documents([a, b, records])
    assert [d.source for d in result.documents] == [str(a), f"{records}#1"]
    assert result.skipped == (
        SkippedInput(str(b), f"duplicate of {a}"),
        SkippedInput(f"{records}#2", f"duplicate of {records}#1", 2),
    )


def test_order_follows_sources_then_records_and_is_deterministic(tmp_path):
    write(tmp_path / "z" / "b.txt", "B.")
    write(tmp_path / "z" / "a.txt", "A.")
    first = write(tmp_path / "first.jsonl", '{"text": "R1."}\n{"text": "R2."}\n')
    runs = [load_documents([first, tmp_path / "z"]) for _ in range(2)]
    assert [d.text for d in runs[0].documents] == ["R1.", "R2.", "A.", "B."]
    assert runs[0] == runs[1]


def test_strict_raises_input_error_at_first_problem(tmp_path):
    good = write(tmp_path / "a.txt", "Good.")
    records = write(tmp_path / "b.jsonl", '{"text": "fine"}\n{"text": 5}\n')
    with pytest.raises(InputError) as info:
        load_documents([good, records], strict=True)
    err = info.value
    assert (err.source, err.reason, err.line) == (f"{records}#line 2", "'text' must be a string, got integer", 2)
    assert str(err) == f"{records}#line 2:2: 'text' must be a string, got integer"


def test_strict_raises_for_missing_path_and_passes_clean_input(tmp_path):
    with pytest.raises(InputError, match="^nowhere.txt: no such file or directory$"):
        load_documents(["nowhere.txt", tmp_path], strict=True)
    good = write(tmp_path / "a.txt", "Good.")
    assert [d.text for d in load_documents([good], strict=True).documents] == ["Good."]


# ---- the shipped samples and the benchmark corpus ------------------------------------------------


def test_samples_load_cleanly_and_hold_every_supporting_passage():
    result = load_documents([SAMPLES / "corpus"], strict=True)
    external = {d.external_id for d in result.documents}
    questions = [json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line]
    assert len(questions) == 8
    supporting = {sid for q in questions for sid in q["supporting_ids"]}
    assert supporting <= external
    assert len(result.documents) == 39
    by_title = {d.title: d for d in result.documents if not d.external_id}
    assert sorted(by_title) == ["Gale Benson", "Sigmund Selberg"]
    assert by_title["Gale Benson"].text.startswith("Gale Ann Benson (nee Plugge; 4 November 1944 – 2 January 1972)")
    assert by_title["Sigmund Selberg"].text.startswith("# Sigmund Selberg\n\nSigmund Selberg( 11 August 1910")
    for q in questions:
        texts = [d.text for d in result.documents if d.external_id in q["supporting_ids"]]
        assert any(answer in text for answer in q["answers"] for text in texts), q["id"]


def test_benchmark_corpus_loads_fast_and_completely(bench_dir):
    path = bench_dir / "musique_combined300" / "corpus.jsonl"
    started = time.perf_counter()
    result = load_documents([path])
    seconds = time.perf_counter() - started
    assert (len(result.documents), result.skipped) == (5021, ())
    assert result.documents[0].external_id == "msq-000000"
    assert seconds < 2.0  # measured ~0.06 s; generous for a shared 2-core machine
