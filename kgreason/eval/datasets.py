"""Evaluation datasets: find, validate and normalise them into documents plus gold questions.

Accepted layouts (detected by content, not by file name):

- the normalised format of ``shared/bench``: a folder with ``corpus.jsonl`` (``id``, ``title``, ``text``)
  and ``questions.jsonl`` (``id``, ``question``, ``answers``, ``supporting_ids``, ``meta``);
- the plain user format: a folder with ``questions.jsonl`` and a ``corpus/`` folder of documents (any
  format the builder reads), or any documents path plus an explicit questions file. ``supporting_ids``
  are optional and name document ids or file names;
- the original HotpotQA and 2WikiMultihopQA JSON files and MuSiQue JSONL files. They are converted
  into the normalised format in a work folder: every question's paragraphs are pooled and deduplicated
  by (title, text), as graph-RAG evaluations (HippoRAG) do.

>>> q = parse_question({"id": "q1", "question": "Who?", "answers": ["Ada"]}, "q.jsonl", 1)
>>> q.id, q.answers, q.supporting_ids
('q1', ('Ada',), ())
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from kg.errors import InputError


@dataclass(frozen=True)
class EvalQuestion:
    """A question with its gold answers, gold supporting document ids and grouping metadata."""

    id: str
    question: str
    answers: tuple[str, ...]
    supporting_ids: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def groups(self) -> dict[str, str]:
        """Breakdown groups this question belongs to, e.g. ``{"hops": "3", "type": "comparison"}``."""
        return {key: str(self.meta[key]) for key in ("hops", "type") if self.meta.get(key) not in (None, "")}


@dataclass(frozen=True)
class Dataset:
    """What the runner evaluates: documents to build from, questions, and the files to checksum."""

    name: str
    format: str  # normalised | user | hotpotqa | 2wikimultihopqa | musique
    sources: tuple[Path, ...]  # what kgreason.api.build ingests
    questions: tuple[EvalQuestion, ...]
    files: tuple[Path, ...]  # every input file, for checksums

    def checksums(self) -> dict[str, str]:
        """sha256 of every input file, keyed by path."""
        return {str(p): sha256_file(p) for p in self.files}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---- reading JSON and JSONL with located errors -----------------------------------------------------


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; errors name the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), f"invalid JSON ({exc.msg} at column {exc.colno})", line=number) from None
        if not isinstance(obj, dict):
            raise InputError(str(path), f"expected a JSON object, got {type(obj).__name__}", line=number)
        yield number, obj


def _read_records(path: Path) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(where, line, record) of a JSON array file (where = "file record N", no line) or a JSONL file."""
    text = path.read_text(encoding="utf-8").lstrip()
    if not text.startswith("["):
        return [(str(path), line, obj) for line, obj in read_jsonl(path)]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(str(path), f"invalid JSON ({exc.msg})", line=exc.lineno) from None
    for index, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise InputError(f"{path} record {index + 1}", f"expected a JSON object, got {type(obj).__name__}")
    return [(f"{path} record {index + 1}", None, obj) for index, obj in enumerate(data)]


def _field_error(path: str, line: int | None, name: str, expected: str, value: Any) -> InputError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return InputError(path, f"field '{name}': expected {expected}, got {type(value).__name__} {shown}", line=line)


def _string_list(obj: dict, name: str, path: str, line: int | None) -> tuple[str, ...]:
    value = obj.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _field_error(path, line, name, "a list of strings", value)
    return tuple(value)


def parse_question(obj: dict[str, Any], path: str, line: int) -> EvalQuestion:
    """One line of a normalised or user questions file; ``answer`` (a string) is accepted for ``answers``.

    A question the documents cannot answer has ``"answers": []`` or ``"unanswerable": true``: the
    right response to it is to abstain, which scores as an exact match.

    >>> parse_question({"question": "Who?", "unanswerable": True}, "q.jsonl", 3).answers
    ()
    """
    question = obj.get("question")
    if not isinstance(question, str) or not question.strip():
        raise _field_error(path, line, "question", "a non-empty string", question)
    unanswerable = obj.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise _field_error(path, line, "unanswerable", "true or false", unanswerable)
    if "answers" not in obj and isinstance(obj.get("answer"), str):
        obj = {**obj, "answers": [obj["answer"]]}
    if "answers" not in obj and not unanswerable:
        raise InputError(path, "field 'answers': missing; expected a list of gold answer strings (an empty list, "
                               "or \"unanswerable\": true, for a question the documents cannot answer)", line=line)
    answers = _string_list(obj, "answers", path, line) if "answers" in obj else ()
    if unanswerable and answers:
        raise InputError(path, "field 'answers': a question marked unanswerable has gold answers; expected an empty "
                               "list or no answers field", line=line)
    qid = obj.get("id", f"line-{line}")
    if not isinstance(qid, (str, int)) or isinstance(qid, bool):
        raise _field_error(path, line, "id", "a string", qid)
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise _field_error(path, line, "meta", "an object", meta)
    if not answers:
        meta = {"type": "unanswerable", **meta}
    return EvalQuestion(str(qid), question.strip(), answers, _string_list(obj, "supporting_ids", path, line), meta)


def load_questions(path: Path) -> tuple[EvalQuestion, ...]:
    """All questions of a JSONL questions file; duplicate ids are an error."""
    if not path.is_file():
        raise InputError(str(path), "questions file not found; expected a JSONL file with question and answers")
    seen: dict[str, int] = {}
    out = []
    for line, obj in read_jsonl(path):
        q = parse_question(obj, str(path), line)
        if q.id in seen:
            raise InputError(str(path), f"field 'id': duplicate id {q.id!r} (first on line {seen[q.id]})", line=line)
        seen[q.id] = line
        out.append(q)
    if not out:
        raise InputError(str(path), "no questions; expected one JSON object per line")
    return tuple(out)


# ---- finding a dataset ----------------------------------------------------------------------------------


def load_dataset(path: str | Path, work_dir: str | Path, *, questions: str | Path | None = None,
                 limit: int | None = None) -> Dataset:
    """Find the dataset at ``path`` (folder or file) and return it ready to evaluate.

    ``questions`` points at a questions file when ``path`` is only the documents. ``limit`` keeps the
    first questions; original-format files then pool only those questions' paragraphs. Converted
    files go to ``work_dir``.

    >>> load_dataset("samples", "/tmp/eval-work").format   # doctest: +SKIP
    'normalised'
    """
    path = Path(path)
    if limit is not None and limit < 1:
        raise InputError(str(path), f"limit must be at least 1, got {limit}")
    if not path.exists():
        raise InputError(str(path), "dataset not found; expected a folder or a dataset file")
    if questions is not None:
        return _with_limit(_user_dataset(path, Path(questions)), limit)
    if path.is_dir():
        return _with_limit(_folder_dataset(path), limit)
    return convert_original(path, Path(work_dir), limit)


def _with_limit(ds: Dataset, limit: int | None) -> Dataset:
    if limit is None:
        return ds
    return Dataset(ds.name, ds.format, ds.sources, ds.questions[:limit], ds.files)


def _folder_dataset(folder: Path) -> Dataset:
    qfile = folder / "questions.jsonl"
    if not qfile.is_file():
        raise InputError(str(folder), "no questions.jsonl in this folder; expected questions.jsonl next to "
                                      "corpus.jsonl or a corpus/ folder (or pass --questions FILE)")
    if (folder / "corpus.jsonl").is_file():
        corpus, fmt = folder / "corpus.jsonl", "normalised"
    elif (folder / "corpus").is_dir():
        corpus, fmt = folder / "corpus", "user"
    else:
        raise InputError(str(folder), "no corpus.jsonl and no corpus/ folder next to questions.jsonl")
    ds = _user_dataset(corpus, qfile)
    return Dataset(folder.name, fmt, ds.sources, ds.questions, ds.files)


def _user_dataset(documents: Path, qfile: Path) -> Dataset:
    if not documents.exists():
        raise InputError(str(documents), "documents not found; expected a file or folder of documents")
    files = sorted(p for p in documents.rglob("*") if p.is_file()) if documents.is_dir() else [documents]
    name = documents.parent.name if documents.name == "corpus" else documents.stem
    return Dataset(name, "user", (documents,), load_questions(qfile), (qfile, *files))


# ---- original HotpotQA, 2WikiMultihopQA and MuSiQue files ------------------------------------------------

_PREFIX = {"hotpotqa": "hotpot", "2wikimultihopqa": "2wiki", "musique": "msq"}


def detect_format(obj: dict[str, Any], path: str) -> str:
    """The original format of one record, from its keys."""
    if "paragraphs" in obj and "question" in obj:
        return "musique"
    if "context" in obj and "supporting_facts" in obj:
        return "2wikimultihopqa" if "evidences" in obj else "hotpotqa"
    if "question" in obj and ("answers" in obj or "supporting_ids" in obj):
        raise InputError(path, "this is a questions file; pass the folder holding it and corpus.jsonl (or "
                               "corpus/), or pass the documents as DATASET and this file with --questions")
    raise InputError(path, f"not a recognised dataset (first record has keys {', '.join(sorted(obj))}); expected "
                           "HotpotQA/2WikiMultihopQA JSON (_id, question, answer, supporting_facts, context), "
                           "MuSiQue JSONL (id, question, answer, paragraphs) or a folder with questions.jsonl")


class _Pool:
    """Paragraphs of all questions, deduplicated by (title, text), with ids in first-seen order."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.ids: dict[tuple[str, str], str] = {}

    def add(self, title: str, text: str) -> str:
        key = (title, text)
        if key not in self.ids:
            self.ids[key] = f"{self.prefix}-{len(self.ids):06d}"
        return self.ids[key]


def convert_original(path: Path, work_dir: Path, limit: int | None = None) -> Dataset:
    """Convert an original-format file into corpus.jsonl + questions.jsonl under ``work_dir``."""
    records = _read_records(path)
    if not records:
        raise InputError(str(path), "no records; expected a dataset file with questions")
    fmt = detect_format(records[0][2], str(path))
    records = records[:limit] if limit else records
    pool = _Pool(_PREFIX[fmt])
    parse = _musique_question if fmt == "musique" else _hotpot_question
    questions = tuple(parse(obj, pool, where, line) for where, line, obj in records)
    out = work_dir / f"{path.stem}-{sha256_file(path)[:12]}-{len(records)}"
    _write_normalised(out, pool, questions)
    return Dataset(path.stem, fmt, (out / "corpus.jsonl",), questions, (path,))


def _write_normalised(out: Path, pool: _Pool, questions: tuple[EvalQuestion, ...]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    corpus = [{"id": pid, "title": t, "text": x} for (t, x), pid in pool.ids.items()]
    rows = [{"id": q.id, "question": q.question, "answers": list(q.answers), "supporting_ids": list(q.supporting_ids),
             "meta": q.meta} for q in questions]
    for name, items in (("corpus.jsonl", corpus), ("questions.jsonl", rows)):
        text = "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items)
        target = out / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")  # unchanged files keep their mtime for reuse


def _require(obj: dict, name: str, kind: type | tuple, expected: str, path: str, line: int | None) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
        raise _field_error(path, line, name, expected, value)
    return value


def _context_items(obj: dict, path: str, line: int | None) -> list[tuple[str, list[str]]]:
    ctx = obj.get("context")
    if isinstance(ctx, dict) and isinstance(ctx.get("title"), list):  # Hugging Face layout
        ctx = [list(pair) for pair in zip(ctx["title"], ctx.get("sentences", []))]
    ok = isinstance(ctx, list) and all(
        isinstance(c, list) and len(c) == 2 and isinstance(c[0], str) and isinstance(c[1], list) for c in ctx)
    if not ok:
        raise _field_error(path, line, "context", "a list of [title, [sentences]]", ctx)
    return [(title, [str(s) for s in sents]) for title, sents in ctx]


def _support_titles(obj: dict, path: str, line: int | None) -> list[str]:
    facts = obj.get("supporting_facts")
    if isinstance(facts, dict) and isinstance(facts.get("title"), list):
        return list(dict.fromkeys(facts["title"]))
    if not isinstance(facts, list) or not all(isinstance(f, list) and f and isinstance(f[0], str) for f in facts):
        raise _field_error(path, line, "supporting_facts", "a list of [title, sentence index]", facts)
    return list(dict.fromkeys(f[0] for f in facts))


def _hotpot_question(obj: dict, pool: _Pool, path: str, line: int | None) -> EvalQuestion:
    qid = str(_require(obj, "_id", (str, int), "a question id", path, line))
    question = _require(obj, "question", str, "a non-empty string", path, line)
    answer = _require(obj, "answer", str, "a non-empty string", path, line)
    by_title: dict[str, str] = {}
    for title, sentences in _context_items(obj, path, line):
        text = " ".join(s.strip() for s in sentences if s.strip())
        by_title.setdefault(title, pool.add(title, text))
    gold = []
    for title in _support_titles(obj, path, line):
        if title not in by_title:
            raise InputError(path, f"field 'supporting_facts': title {title!r} is not in this question's context",
                             line=line)
        gold.append(by_title[title])
    meta = {k: obj[k] for k in ("type", "level", "evidences") if k in obj}
    return EvalQuestion(qid, question.strip(), (answer,), tuple(gold), meta)


def _musique_question(obj: dict, pool: _Pool, path: str, line: int | None) -> EvalQuestion:
    qid = str(_require(obj, "id", (str, int), "a question id", path, line))
    question = _require(obj, "question", str, "a non-empty string", path, line)
    answer = _require(obj, "answer", str, "a non-empty string", path, line)
    aliases = obj.get("answer_aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise _field_error(path, line, "answer_aliases", "a list of strings", aliases)
    paragraphs = obj.get("paragraphs")
    if not isinstance(paragraphs, list) or not all(
            isinstance(p, dict) and isinstance(p.get("paragraph_text"), str) for p in paragraphs):
        raise _field_error(path, line, "paragraphs", "a list of {title, paragraph_text, is_supporting}", paragraphs)
    gold = [pid for p in paragraphs for pid in [pool.add(str(p.get("title", "")), p["paragraph_text"])]
            if p.get("is_supporting")]
    decomposition = obj.get("question_decomposition", [])
    hops = len(decomposition) if isinstance(decomposition, list) and decomposition else None
    if hops is None and qid[:1].isdigit() and "hop" in qid:
        hops = int(qid.split("hop")[0])
    meta = {"hops": hops, "answerable": obj.get("answerable", True)}
    return EvalQuestion(qid, question.strip(), tuple(dict.fromkeys([answer, *aliases])), tuple(gold), meta)
