"""The ``openai`` generator against llama.cpp's real OpenAI-compatible server (xllamacpp) on loopback:
answers and usage as the server reports them, a server that is down, one that hangs (timeout), and
an HTTP error from the server, each a clear BackendError. One e2e run on the packaged 0.5B answers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from kg.errors import BackendError
from kg.model import Citation, Evidence
from reason.context import Context, ContextSentence, ContextSource
from reason.generators.llm import chat_messages
from reason.generators.openai_compat import OpenAIGenerator

pytest.importorskip("xllamacpp")
HERE = Path(__file__).resolve().parent
TITANIC = "Titanic is a 1997 American film directed by James Cameron."


def titanic_context(question: str = "Who directed Titanic?") -> Context:
    cite = Citation("d1", "d1:p0", 0, len(TITANIC), TITANIC, "titanic.txt", "Titanic")
    source = ContextSource(1, "Titanic", Evidence("d1:p0", "d1", "Titanic", TITANIC, 1.0, "hybrid"),
                           (ContextSentence(cite, 1.0),))
    return Context(question, (source,), (), (), (), (), 20)


class LlamaServer:
    """A ``llamacpp_server.py`` process: ``url`` is its OpenAI base URL (``.../v1``)."""

    def __init__(self, model: Path, n_ctx: int = 512):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "llamacpp_server.py"), str(model), str(n_ctx)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("URL "):
            self.stop()
            raise RuntimeError(f"llamacpp_server.py did not start: {line!r}")
        self.root = line.split()[1]
        self.url = self.root + "/v1"

    def post(self, path: str, payload: dict) -> dict:
        request = urllib.request.Request(self.root + path, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.proc.stdin.close()  # the server exits when its stdin closes
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def tiny_server(tiny_gguf):
    server = LlamaServer(tiny_gguf)
    yield server
    if server.proc.poll() is None:
        server.stop()


def prompt_tokens(server: LlamaServer, messages: list[dict]) -> int:
    """The prompt's length in tokens, as the server's own template and tokenizer make it."""
    prompt = server.post("/apply-template", {"messages": messages})["prompt"]
    return len(server.post("/tokenize", {"content": prompt, "add_special": False, "parse_special": True})["tokens"])


def test_answers_and_usage_come_from_the_real_server(tiny_server):
    ctx = titanic_context()
    gen = OpenAIGenerator(model="tiny", base_url=tiny_server.url, max_new_tokens=6)
    first, again = gen.generate(ctx), gen.generate(ctx)
    assert first == again  # temperature 0: the same reply, text and citations
    assert first.usage == {"llm_calls": 1, "prompt_tokens": prompt_tokens(tiny_server, chat_messages(ctx)),
                           "completion_tokens": 6}  # the tiny model never stops on its own


def test_server_that_is_down_is_a_clear_error(tiny_gguf):
    server = LlamaServer(tiny_gguf)
    server.stop()
    with pytest.raises(BackendError) as err:
        OpenAIGenerator(model="tiny", base_url=server.url).generate(titanic_context())
    assert str(err.value) == f"cannot reach OpenAI-compatible server at {server.url}/chat/completions: connection refused"


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs POSIX job control to freeze the server")
def test_server_that_never_replies_times_out_with_a_clear_error(tiny_server):
    # A frozen server still accepts connections (the kernel queues them) but never answers
    os.kill(tiny_server.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(BackendError) as err:
            OpenAIGenerator(model="tiny", base_url=tiny_server.url, timeout=0.5).generate(titanic_context())
    finally:
        os.kill(tiny_server.proc.pid, signal.SIGCONT)
    assert str(err.value) == f"no reply from {tiny_server.url}/chat/completions within 0.5 s"
    assert OpenAIGenerator(model="tiny", base_url=tiny_server.url).generate(titanic_context()).usage["llm_calls"] == 1


def test_request_the_server_refuses_is_an_http_error_naming_it(tiny_server):
    # 512 tokens of context cannot hold this prompt: llama.cpp answers HTTP 400 and says why
    long = titanic_context("Who directed Titanic?" + " Tell me more." * 200)
    with pytest.raises(BackendError, match=rf"^{tiny_server.url}/chat/completions returned HTTP 400: .*context"):
        OpenAIGenerator(model="tiny", base_url=tiny_server.url).generate(long)


# ---- end to end: the packaged 0.5B behind the real server ------------------------------------------

@pytest.fixture(scope="module")
def qwen_server():
    from kg.llamacpp import PACKAGED, packaged_path

    try:
        path = packaged_path(PACKAGED["qwen2.5-0.5b"])
    except BackendError as exc:
        pytest.skip(str(exc))
    server = LlamaServer(path, n_ctx=2048)
    yield server
    server.stop()


@pytest.mark.e2e
def test_packaged_model_answers_through_the_real_server(qwen_server):
    gen = OpenAIGenerator(model="qwen2.5-0.5b", base_url=qwen_server.url, max_new_tokens=16).generate(titanic_context())
    assert (gen.text, gen.found) == ("James Cameron", True)
    assert [c.quote for c in gen.citations] == [TITANIC]
    assert gen.usage["prompt_tokens"] > 50 and 0 < gen.usage["completion_tokens"] <= 16
