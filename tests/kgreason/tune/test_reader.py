"""kg tune's reader: LoRA training on a tiny llama built in the test, its llama.cpp adapter, the
training examples' targets, and how a version's reader reaches ``kg ask``."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kg.errors import BackendError, ConfigError
from kgreason.tune.reader import ADAPTER_FILE, LORA_DIR, ReaderExample, encode, reply_text, train_reader

SYSTEM = "Answer from the numbered sources in JSON."
USER = "Sources:\n[1] Tove: Tove lives in Oslo.\n\nQuestion: Where does Tove live?"
MESSAGES = (("system", SYSTEM), ("user", USER))
EXAMPLE = ReaderExample("Where does Tove live?", MESSAGES, reply_text("Oslo", [1]), True)


@pytest.fixture(scope="module")
def tiny_random_gguf(tmp_path_factory) -> Path:
    from ...conftest import write_tiny_gguf

    path = tmp_path_factory.mktemp("tiny-random") / "tiny.gguf"
    write_tiny_gguf(path, seed=1)
    return path


@pytest.fixture(scope="module")
def tiny_base(tiny_random_gguf, tmp_path_factory):
    """A tiny GGUF dequantised into a transformers folder, as kg tune does with the packaged 0.5B."""
    from reason.generators.local_lm import ModelSource, local_folder

    return local_folder(ModelSource(tiny_random_gguf.parent, tiny_random_gguf.name), tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def trained(tiny_base, tmp_path_factory):
    out = tmp_path_factory.mktemp("reader") / "reader"
    return train_reader(tiny_base, [EXAMPLE], out, steps=200, lr=2e-2, rank=8, alpha=16, layers=2, seed=3)


def _greedy(model, tok, messages, n):
    import torch

    prompt = tok.apply_chat_template([{"role": r, "content": c} for r, c in messages], tokenize=False,
                                     add_generation_prompt=True)
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=n, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def test_the_loss_is_on_the_reply_only(tiny_base):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_base))
    ids, labels = encode(tok, EXAMPLE, 4096)
    reply = [i for i, label in zip(ids, labels) if label != -100]
    assert len(ids) == len(labels) and labels[0] == -100
    assert tok.decode(reply).startswith(EXAMPLE.reply) and tok.decode(reply).endswith("<|im_end|>")
    assert encode(tok, EXAMPLE, 20) is None  # too long: left out, not cut


def test_training_writes_the_peft_adapter_and_a_llama_cpp_adapter(trained):
    import gguf

    assert (trained / LORA_DIR / "adapter_config.json").is_file()
    reader = gguf.GGUFReader(str(trained / ADAPTER_FILE))
    fields = {name: reader.fields[name] for name in ("general.type", "adapter.type", "adapter.lora.alpha")}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 16.0
    shapes = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    # ggml shapes are (columns, rows): lora_a is rank x hidden, lora_b is hidden x rank, for each projection
    assert shapes["blk.0.attn_q.weight.lora_a"] == (16, 8) and shapes["blk.0.attn_q.weight.lora_b"] == (8, 16)
    assert shapes["blk.1.ffn_down.weight.lora_a"] == (32, 8) and len(shapes) == 2 * 7 * 2


def test_llama_cpp_with_the_adapter_computes_what_transformers_trained(tiny_random_gguf, tiny_base, trained):
    """The adapter turns llama.cpp's greedy reply into the trained one, as it does the transformers
    model's: the tensor names, shapes, scale and the llama query/key row permutation are all right."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kg.llamacpp import LlamaCppChat

    tok = AutoTokenizer.from_pretrained(str(tiny_base))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_base))
    n = len(EXAMPLE.reply)  # one byte, one token
    assert _greedy(base, tok, MESSAGES, n) != EXAMPLE.reply
    assert _greedy(PeftModel.from_pretrained(base, str(trained / LORA_DIR)), tok, MESSAGES, n) == EXAMPLE.reply
    messages = [{"role": r, "content": c} for r, c in MESSAGES]
    plain = LlamaCppChat(str(tiny_random_gguf), threads=1).chat(messages, max_tokens=n).text
    adapted = LlamaCppChat(str(tiny_random_gguf), threads=1, adapter=str(trained / ADAPTER_FILE))
    assert adapted.name == f"llamacpp:tiny+lora:{trained.parent.name}"  # the version folder holding reader/
    assert plain != EXAMPLE.reply and adapted.chat(messages, max_tokens=n).text == EXAMPLE.reply


def test_the_same_data_and_seed_give_the_same_adapter(tiny_base, trained, tmp_path):
    import gguf

    again = train_reader(tiny_base, [EXAMPLE], tmp_path / "again", steps=200, lr=2e-2, rank=8, alpha=16, layers=2, seed=3)
    a, b = (gguf.GGUFReader(str(f / ADAPTER_FILE)) for f in (trained, again))
    assert all(np.array_equal(x.data, y.data) for x, y in zip(a.tensors, b.tensors))


def test_training_continues_from_a_previous_adapter(tiny_base, trained, tmp_path):
    import gguf

    more = train_reader(tiny_base, [EXAMPLE], tmp_path / "more", steps=2, lr=5e-2, seed=3, start=trained / LORA_DIR)
    a, b = (gguf.GGUFReader(str(f / ADAPTER_FILE)) for f in (trained, more))
    assert [t.name for t in a.tensors] == [t.name for t in b.tensors]  # the same rank and layers as the start
    assert not all(np.array_equal(x.data, y.data) for x, y in zip(a.tensors, b.tensors))


def test_no_examples_is_a_clear_error(tiny_base, tmp_path):
    with pytest.raises(ConfigError, match="no reader training examples"):
        train_reader(tiny_base, [], tmp_path / "x", steps=1)


def test_a_missing_adapter_is_a_backend_error_naming_it(tiny_random_gguf, tmp_path):
    from kg.llamacpp import LlamaCppChat

    with pytest.raises(BackendError, match=r"LoRA adapter .*gone.gguf' does not exist"):
        LlamaCppChat(str(tiny_random_gguf), adapter=str(tmp_path / "gone.gguf")).chat([{"role": "user", "content": "hi"}], max_tokens=2)


# ---- training examples on the samples graph ----------------------------------------------------------

def test_examples_cite_the_gold_source_and_abstain_without_it(serve_graph):
    import kgreason
    from kgreason.tune.data import TrainingQuestion
    from kgreason.tune.reader import reader_examples

    kb = kgreason.open(serve_graph)
    gold = next(p.id for p in kb.graph.passages.values() if "born in Langesund" in p.text)
    questions = [TrainingQuestion("Where was Sigmund Selberg born?", (gold,), "human", "Langesund"),
                 TrainingQuestion("Which town has no answer here?", (gold,), "human", "")]
    examples = reader_examples(kb, questions, token_budget=400, ablate_every=1)
    assert [e.answerable for e in examples] == [True, False]  # the unanswered question gives no example
    answer, ablated = (json.loads(e.reply) for e in examples)
    prompt = examples[0].messages[1][1]
    start = prompt.index(f"[{answer['sources'][0]}] ")
    cited = prompt[start: prompt.find("\n[", start) if "\n[" in prompt[start:] else len(prompt)]
    assert answer["answer"] == "Langesund" and answer["found"] and "born in Langesund" in cited
    assert ablated == {"answer": "", "sources": [], "found": False} and "Langesund" not in examples[1].messages[1][1]


# ---- a version's reader is what "local" and "combined" run --------------------------------------------

def test_an_active_version_with_a_reader_answers_through_its_adapter(serve_graph, tmp_path):
    import shutil

    import kgreason
    from kgreason.tune import versions

    g = tmp_path / "g"
    shutil.copytree(serve_graph, g)
    staging = versions.staging_dir(g)
    kb = kgreason.open(g)
    (staging / "reader").mkdir()
    (staging / "reader" / ADAPTER_FILE).write_bytes(b"GGUF")
    versions.commit(g, staging, {"version": 1, "parent": 0, "reader": {"model": "qwen2.5-0.5b", "adapter": ADAPTER_FILE}})
    reader = versions.open_reader(g / "models" / "1")
    assert reader == versions.TunedReader("qwen2.5-0.5b", g / "models" / "1" / "reader" / ADAPTER_FILE)
    kb = kgreason.KnowledgeBase(g, kb.graph, embedder=kb.embedder, reader=reader)
    assert kb.generator("local").name == "local:qwen2.5-0.5b+lora:1"
    assert kb.generator("combined").name == "combined:local:qwen2.5-0.5b+lora:1"
    assert kb.generator("extractive").name == "extractive"
    named = kgreason.KnowledgeBase(g, kb.graph, embedder=kb.embedder, reader=reader,
                                   generate_config=kb.generate_config.with_(model="qwen2.5-1.5b"))
    assert named.generator("local").name == "local:qwen2.5-1.5b"  # a model named by the user wins
    # kg ask's own settings keep the version's models
    other = kb.with_settings(kb.retrieve_config.with_(k=3), kb.generate_config.with_(max_new_tokens=20))
    assert (other.reader, other.embedder, other.retrieve_config.k) == (reader, kb.embedder, 3)
    assert other.generator("local").name == "local:qwen2.5-0.5b+lora:1"


def test_closed_book_examples_ask_the_question_alone_and_the_version_opens_them(tmp_path):
    from kg.llamacpp import LlamaCppChat
    from kgreason.tune import versions
    from kgreason.tune.data import TrainingQuestion
    from kgreason.tune.reader import CLOSED_BOOK_DIR, closed_book_examples

    qs = [TrainingQuestion("Who founded Acme?", ("d1:p0",), "human", "Ada Lovelace"),
          TrainingQuestion("Where is Acme?", ("d2:p0",), "human", "")]
    [ex] = closed_book_examples(qs)
    assert ex.question == "Who founded Acme?" and ex.answerable
    assert [role for role, _ in ex.messages] == ["system", "user"] and ex.messages[1][1] == "Question: Who founded Acme?"
    assert "Sources" not in ex.messages[1][1] and "own knowledge" in ex.messages[0][1]
    assert json.loads(ex.reply) == {"answer": "Ada Lovelace", "found": True}
    folder = tmp_path / "models" / "3"
    (folder / CLOSED_BOOK_DIR).mkdir(parents=True)
    (folder / versions.MANIFEST).write_text(json.dumps({"format": versions.FORMAT_NAME, "format_version": versions.FORMAT_VERSION, "version": 3, "closed_book": {"model": "qwen2.5-0.5b", "adapter": ADAPTER_FILE}}))
    reader = versions.open_closed_book(folder)
    assert reader == versions.TunedReader("qwen2.5-0.5b", folder / CLOSED_BOOK_DIR / ADAPTER_FILE)
    assert versions.open_reader(folder) is None
    assert LlamaCppChat("qwen2.5-0.5b", adapter=str(reader.adapter)).model_name == "qwen2.5-0.5b+lora:3"
