"""Dataset loaders: every accepted layout, and bad files with errors naming file, line and field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kg.errors import InputError
from kgreason.eval.datasets import EvalQuestion, load_dataset, load_questions


def _jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


Q1 = {"id": "q1", "question": "Who?", "answers": ["Ada"], "supporting_ids": ["c1"], "meta": {"hops": 2}}
Q2 = {"id": "q2", "question": "Where?", "answers": ["Paris"], "supporting_ids": ["c2"], "meta": {"type": "comparison"}}


def test_normalised_folder(tmp_path):
    _jsonl(tmp_path / "bench" / "corpus.jsonl", [{"id": "c1", "title": "A", "text": "Ada."}])
    _jsonl(tmp_path / "bench" / "questions.jsonl", [Q1, Q2])
    ds = load_dataset(tmp_path / "bench", tmp_path / "work")
    assert (ds.name, ds.format) == ("bench", "normalised")
    assert ds.sources == (tmp_path / "bench" / "corpus.jsonl",)
    assert ds.questions[0] == EvalQuestion("q1", "Who?", ("Ada",), ("c1",))
    assert [q.groups() for q in ds.questions] == [{"hops": "2"}, {"type": "comparison"}]
    assert sorted(Path(p).name for p in ds.checksums()) == ["corpus.jsonl", "questions.jsonl"]
    assert load_dataset(tmp_path / "bench", tmp_path / "work", limit=1).questions == ds.questions[:1]


def test_user_folder_with_corpus_dir_and_explicit_questions_file(tmp_path):
    (tmp_path / "mine" / "corpus").mkdir(parents=True)
    (tmp_path / "mine" / "corpus" / "notes.md").write_text("Ada wrote notes.", encoding="utf-8")
    _jsonl(tmp_path / "mine" / "questions.jsonl", [{"question": "Who wrote notes?", "answer": "Ada"}])
    ds = load_dataset(tmp_path / "mine", tmp_path / "work")
    assert (ds.name, ds.format, ds.sources) == ("mine", "user", (tmp_path / "mine" / "corpus",))
    assert ds.questions == (EvalQuestion("line-1", "Who wrote notes?", ("Ada",), ()),)
    other = load_dataset(tmp_path / "mine" / "corpus", tmp_path / "w", questions=tmp_path / "mine" / "questions.jsonl")
    assert other.sources == (tmp_path / "mine" / "corpus",) and other.questions == ds.questions


def test_samples_layout_loads(tmp_path):
    samples = Path(__file__).resolve().parents[3] / "samples"
    ds = load_dataset(samples, tmp_path)
    assert ds.sources == (samples / "corpus",)
    assert all(q.answers and q.supporting_ids for q in ds.questions)


HOTPOT = [{
    "_id": "h1", "question": "Which band was formed first?", "answer": "Oasis", "type": "comparison", "level": "hard",
    "supporting_facts": [["Oasis", 0], ["Blur", 1], ["Oasis", 1]],
    "context": [["Oasis", ["Oasis formed in 1991.", " They are English."]], ["Blur", ["Blur formed", "in 1988."]],
                ["Pulp", ["Pulp formed in 1978."]]],
}, {
    "_id": "h2", "question": "Is Blur English?", "answer": "yes", "type": "bridge", "level": "easy",
    "supporting_facts": [["Blur", 0]],
    "context": [["Blur", ["Blur formed", "in 1988."]], ["Suede", ["Suede is a band."]]],
}]


def test_hotpotqa_pools_and_dedupes_paragraphs(tmp_path):
    src = tmp_path / "hotpot_dev.json"
    src.write_text(json.dumps(HOTPOT), encoding="utf-8")
    ds = load_dataset(src, tmp_path / "work")
    assert ds.format == "hotpotqa" and ds.files == (src,)
    corpus = [json.loads(x) for x in ds.sources[0].read_text(encoding="utf-8").splitlines()]
    assert [(c["id"], c["title"], c["text"]) for c in corpus] == [
        ("hotpot-000000", "Oasis", "Oasis formed in 1991. They are English."),
        ("hotpot-000001", "Blur", "Blur formed in 1988."),
        ("hotpot-000002", "Pulp", "Pulp formed in 1978."),
        ("hotpot-000003", "Suede", "Suede is a band."),
    ]
    assert [(q.id, q.answers, q.supporting_ids, q.groups()) for q in ds.questions] == [
        ("h1", ("Oasis",), ("hotpot-000000", "hotpot-000001"), {"type": "comparison"}),
        ("h2", ("yes",), ("hotpot-000001",), {"type": "bridge"}),
    ]
    written = [json.loads(x) for x in (ds.sources[0].parent / "questions.jsonl").read_text().splitlines()]
    assert written[1]["supporting_ids"] == ["hotpot-000001"]
    limited = load_dataset(src, tmp_path / "work", limit=1)
    assert len(limited.sources[0].read_text().splitlines()) == 3  # only the first question's paragraphs


def test_2wiki_detected_by_evidences_and_hf_layout(tmp_path):
    rec = {"_id": "w1", "question": "Who directed X?", "answer": "Y", "type": "compositional",
           "evidences": [["X", "director", "Y"]],
           "supporting_facts": {"title": ["X"], "sent_id": [0]},
           "context": {"title": ["X", "Z"], "sentences": [["X is a film by Y."], ["Z."]]}}
    src = tmp_path / "dev.json"
    src.write_text(json.dumps([rec]), encoding="utf-8")
    ds = load_dataset(src, tmp_path / "w")
    assert ds.format == "2wikimultihopqa"
    assert ds.questions[0].supporting_ids == ("2wiki-000000",)
    assert ds.questions[0].meta == {"type": "compositional", "evidences": [["X", "director", "Y"]]}


def test_musique_jsonl(tmp_path):
    rec = {"id": "3hop1__1_2_3", "question": "Q?", "answer": "A", "answer_aliases": ["A.", "A"],
           "paragraphs": [{"idx": 0, "title": "T0", "paragraph_text": "zero", "is_supporting": False},
                          {"idx": 1, "title": "T1", "paragraph_text": "one", "is_supporting": True}],
           "question_decomposition": [{"id": 1}, {"id": 2}, {"id": 3}], "answerable": True}
    src = _jsonl(tmp_path / "musique_ans_dev.jsonl", [rec])
    ds = load_dataset(src, tmp_path / "w")
    q = ds.questions[0]
    assert (ds.format, q.answers, q.supporting_ids, q.groups()) == ("musique", ("A", "A."), ("msq-000001",), {"hops": "3"})


def test_bad_question_lines_name_file_line_and_field(tmp_path):
    f = tmp_path / "questions.jsonl"
    cases = [
        ('{"id": "q1", "question": "Who?", "answers": ["A"]}\n{"id": "q2", "question": "Why?", "answers": "B"}',
         f"{f}:2: field 'answers': expected a list of strings, got str 'B'"),
        ('{"id": "q1", "answers": ["A"]}', f"{f}:1: field 'question': expected a non-empty string, got NoneType None"),
        ('{"id": "q1", "question": "Who?"}', f"{f}:1: field 'answers': missing; expected a list of gold answer strings "
                                             "(an empty list, or \"unanswerable\": true, for a question the documents "
                                             "cannot answer)"),
        ('{"id": "q1", "question": "Who?", "unanswerable": "yes"}',
         f"{f}:1: field 'unanswerable': expected true or false, got str 'yes'"),
        ('{"id": "q1", "question": "Who?", "answers": ["A"], "supporting_ids": [3]}',
         f"{f}:1: field 'supporting_ids': expected a list of strings, got list [3]"),
        ('\n{"question": "Who?", "answers": ["A"], "meta": []}', f"{f}:2: field 'meta': expected an object, got list []"),
        ('{"id": "q1", "question": "Who?", "answers": ["A"]}\n{"id": "q1", "question": "Who?", "answers": ["A"]}',
         f"{f}:2: field 'id': duplicate id 'q1' (first on line 1)"),
        ('{"id": "q1", "question": "Who?", "answers": ["A"]}\n{"id": ', f"{f}:2: invalid JSON (Expecting value at column 8)"),
        ('["q1"]', f"{f}:1: expected a JSON object, got list"),
        ('\n\n', f"{f}: no questions; expected one JSON object per line"),
    ]
    for text, message in cases:
        f.write_text(text, encoding="utf-8")
        with pytest.raises(InputError) as err:
            load_questions(f)
        assert str(err.value) == message


def test_bad_original_files(tmp_path):
    src = tmp_path / "x.json"
    src.write_text(json.dumps([{"foo": 1, "bar": 2}]), encoding="utf-8")
    with pytest.raises(InputError, match=r"x\.json: not a recognised dataset \(first record has keys bar, foo\); expected "
                                         r"HotpotQA/2WikiMultihopQA JSON"):
        load_dataset(src, tmp_path / "w")
    bad = dict(HOTPOT[0], supporting_facts=[["Missing", 0]])
    src.write_text(json.dumps([HOTPOT[1], bad]), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_dataset(src, tmp_path / "w")
    assert str(err.value) == f"{src} record 2: field 'supporting_facts': title 'Missing' is not in this question's context"
    src.write_text(json.dumps([dict(HOTPOT[0], answer=7)]), encoding="utf-8")
    with pytest.raises(InputError, match=r"x\.json record 1: field 'answer': expected a non-empty string, got int 7"):
        load_dataset(src, tmp_path / "w")
    msq = _jsonl(tmp_path / "m.jsonl", [{"id": "a", "question": "Q", "answer": "A", "paragraphs": [{"title": "t"}]}])
    with pytest.raises(InputError) as err:
        load_dataset(msq, tmp_path / "w")
    assert str(err.value).startswith(f"{msq}:1: field 'paragraphs': expected a list of {{title, paragraph_text, is_supporting}}")
    qfile = _jsonl(tmp_path / "questions.jsonl", [Q1])
    with pytest.raises(InputError, match=r"this is a questions file; pass the folder holding it"):
        load_dataset(qfile, tmp_path / "w")


def test_bad_folders_and_limits(tmp_path):
    with pytest.raises(InputError, match=r"nope: dataset not found; expected a folder or a dataset file"):
        load_dataset(tmp_path / "nope", tmp_path / "w")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no questions.jsonl in this folder"):
        load_dataset(tmp_path / "empty", tmp_path / "w")
    _jsonl(tmp_path / "empty" / "questions.jsonl", [Q1])
    with pytest.raises(InputError, match=r"empty: no corpus.jsonl and no corpus/ folder next to questions.jsonl"):
        load_dataset(tmp_path / "empty", tmp_path / "w")
    with pytest.raises(InputError, match=r"limit must be at least 1, got 0"):
        load_dataset(tmp_path / "empty", tmp_path / "w", limit=0)
