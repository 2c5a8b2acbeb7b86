"""A tiny, deterministic OpenAI-compatible chat server for tests (standard library only).

``POST /v1/chat/completions`` answers with the title of source ``[1]`` in the user message and
reports usage as whitespace word counts. Model names trigger failures to test client errors:
``fail-500`` -> HTTP 500, ``not-json`` -> a body that is not JSON, ``no-choices`` -> JSON without
choices, ``echo-auth`` -> the Authorization header as the answer, ``echo-params`` -> the
temperature and max_tokens it received, ``refuse`` -> a refusal.

Run: ``python fake_openai_server.py`` prints ``PORT <n>`` once listening on 127.0.0.1 (free port).
"""
from __future__ import annotations

import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def reply_text(body: dict, authorization: str) -> str:
    if body.get("model") == "echo-auth":
        return authorization or "no key"
    if body.get("model") == "echo-params":
        return f"temperature={body.get('temperature')} max_tokens={body.get('max_tokens')}"
    if body.get("model") == "refuse":
        return "Not found in the documents."
    user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
    m = re.search(r"^\[1\] ([^:\n]+):", user, re.MULTILINE)
    return f"{m.group(1)}." if m else "Not found in the documents."


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        if self.path != "/v1/chat/completions":
            return self._send(404, b'{"error": "no such route"}')
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        model = body.get("model")
        if model == "fail-500":
            return self._send(500, b'{"error": "model exploded"}')
        if model == "not-json":
            return self._send(200, b"<html>gateway</html>")
        if model == "no-choices":
            return self._send(200, b'{"object": "chat.completion"}')
        answer = reply_text(body, self.headers.get("Authorization", ""))
        prompt_words = sum(len(m["content"].split()) for m in body["messages"])
        reply = {
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(answer.split()),
                      "total_tokens": prompt_words + len(answer.split())},
        }
        self._send(200, json.dumps(reply).encode())

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
