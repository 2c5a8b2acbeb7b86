"""Any OpenAI-compatible chat server (llama.cpp's server, Ollama, vLLM) as a ``ChatModel``, over plain
``urllib`` (no client package). Greedy (temperature 0, fixed seed); with a JSON schema the request asks
for ``response_format: json_schema``, which llama.cpp's server turns into a decoding grammar.

Every failure is a ``BackendError`` naming the URL: a server that is down, one that does not reply
within ``timeout`` seconds, an HTTP error (with the start of its body), or a reply that is not a chat
completion.

>>> OpenAIChat(model="llama3", base_url="http://127.0.0.1:11434/v1/").url
'http://127.0.0.1:11434/v1/chat/completions'
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from .errors import BackendError, ConfigError
from .llm import ChatReply

SEED = 0


class OpenAIChat:
    """``ChatModel`` on ``{base_url}/chat/completions``; ``api_key_env`` names the environment variable
    holding an optional API key (sent as a Bearer token)."""

    def __init__(self, model: str, base_url: str, api_key_env: str = "KG_OPENAI_API_KEY", timeout: float = 60.0):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url: expected an http(s) URL of an OpenAI-compatible server, got {base_url!r}")
        self.model, self.model_name = model, model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key_env, self.timeout = api_key_env, timeout
        self.name = f"openai:{model}"

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int,
             json_schema: dict[str, Any] | None = None) -> ChatReply:
        """One greedy chat completion of at most ``max_tokens`` tokens."""
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0,
                                   "max_tokens": max_tokens, "seed": SEED}
        if json_schema is not None:
            payload["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": "reply", "strict": True, "schema": json_schema}}
        start = time.perf_counter()
        reply = self.post(payload)
        usage = reply.get("usage") or {}
        return ChatReply(content(reply, self.url), int(usage.get("prompt_tokens", 0) or 0),
                         int(usage.get("completion_tokens", 0) or 0), time.perf_counter() - start)

    def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` as JSON; the reply's JSON object, or BackendError saying what went wrong."""
        request = urllib.request.Request(self.url, json.dumps(payload).encode(), self._headers(), method="POST")
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

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason)


def content(reply: dict[str, Any], url: str) -> str:
    """``choices[0].message.content`` of a chat completion; BackendError naming ``url`` when absent."""
    try:
        text = reply["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"{url} replied without choices[0].message.content: {json.dumps(reply)[:200]}") from None
    if not isinstance(text, str):
        raise BackendError(f"{url} replied with non-text content: {text!r}")
    return text
