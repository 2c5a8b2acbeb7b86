"""Any OpenAI-compatible chat server (Ollama, vLLM, llama.cpp server) as answer generator, through
``kg.openai_chat.OpenAIChat`` (plain ``urllib``, no client package).

Settings: ``base_url`` (or ``$KG_OPENAI_BASE_URL``), ``model`` (or ``$KG_OPENAI_MODEL``), and the
name of the environment variable holding an optional API key (``api_key_env``).

>>> OpenAIGenerator(model="llama3", base_url="http://127.0.0.1:11434/v1/").url
'http://127.0.0.1:11434/v1/chat/completions'
"""
from __future__ import annotations

import os

from kg.errors import ConfigError
from kg.openai_chat import OpenAIChat

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
        self.chat_model = OpenAIChat(self.model, base, api_key_env, timeout)
        self.url = self.chat_model.url
        self.api_key_env = api_key_env
        self.max_new_tokens = max_new_tokens
        self.timeout = timeout
        self.name = f"openai:{self.model}"

    def generate(self, context: Context) -> Generation:
        if not context.sources:
            return Generation.not_found()
        reply = self.chat_model.chat(chat_messages(context), max_tokens=self.max_new_tokens)
        counts = {"llm_calls": 1, "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        return to_generation(reply.text, context, counts)
