"""Any OpenAI-compatible chat server (Ollama, vLLM, llama.cpp server) as answer generator, over
plain ``urllib`` (no client package).

Settings: ``base_url`` (or ``$KG_OPENAI_BASE_URL``), ``model`` (or ``$KG_OPENAI_MODEL``), and the
name of the environment variable holding an optional API key (``api_key_env``).

>>> OpenAIGenerator(model="llama3", base_url="http://127.0.0.1:11434/v1/").url
'http://127.0.0.1:11434/v1/chat/completions'
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from kg.errors import BackendError, ConfigError

from ..context import Context
from .base import Generation
from .llm import chat_messages, to_generation


class OpenAIGenerator:
    """POSTs the numbered-sources prompt to ``{base_url}/chat/completions`` with temperature 0."""

    def __init__(self, model: str = "", base_url: str = "", api_key_env: str = "KG_OPENAI_API_KEY",
                 max_new_tokens: int = 48, context_tokens: int = 0, timeout: float = 60.0):
        base = base_url or os.environ.get("KG_OPENAI_BASE_URL", "")
        self.model = model or os.environ.get("KG_OPENAI_MODEL", "")
        if not base:
            raise ConfigError(
                "generate.base_url: expected the URL of an OpenAI-compatible server "
                "(e.g. http://localhost:11434/v1); set it or $KG_OPENAI_BASE_URL"
            )
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"generate.base_url: expected an http(s) URL, got {base!r}")
        if not self.model:
            raise ConfigError("generate.model: expected the server's model name; set it or $KG_OPENAI_MODEL")
        self.url = base.rstrip("/") + "/chat/completions"
        self.api_key_env = api_key_env
        self.max_new_tokens = max_new_tokens
        self.timeout = timeout
        self.name = f"openai:{self.model}"

    def generate(self, context: Context) -> Generation:
        if not context.sources:
            return Generation.not_found()
        reply = self._post(
            {"model": self.model, "messages": chat_messages(context), "temperature": 0,
             "max_tokens": self.max_new_tokens}
        )
        text = _content(reply, self.url)
        usage = reply.get("usage") or {}
        counts = {
            "llm_calls": 1,
            "prompt_tokens": int(usage.get("prompt_tokens", 0) or 0),
            "completion_tokens": int(usage.get("completion_tokens", 0) or 0),
        }
        return to_generation(text, context, counts)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, json.dumps(payload).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            excerpt = exc.read()[:300].decode("utf-8", "replace")
            raise BackendError(f"{self.url} returned HTTP {exc.code}: {excerpt}") from None
        except urllib.error.URLError as exc:
            raise BackendError(f"cannot reach OpenAI-compatible server at {self.url}: {_reason(exc.reason)}") from None
        except TimeoutError:
            raise BackendError(f"no reply from {self.url} within {self.timeout:g} s") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise BackendError(f"{self.url} replied with malformed JSON: {body[:200]!r}") from None
        if not isinstance(data, dict):
            raise BackendError(f"{self.url} replied with JSON that is not an object: {body[:200]!r}")
        return data


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason)


def _content(reply: dict[str, Any], url: str) -> str:
    try:
        content = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise BackendError(
            f"{url} replied without choices[0].message.content: {json.dumps(reply)[:200]}"
        ) from None
    if not isinstance(content, str):
        raise BackendError(f"{url} replied with non-text content: {content!r}")
    return content
