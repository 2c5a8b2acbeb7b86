"""The ``kg serve`` web application: a JSON API over the same Python API as the CLI, and one static
page (``static/``) that needs no build step.

Security: ``kg serve`` binds to loopback unless told otherwise, and then requires a token, checked on
every ``/api`` call (``Authorization: Bearer <token>`` or ``?token=``); request bodies are capped;
report files are served only from the one reports folder given at start, by name; feedback is the
only write. The page renders every name and text with ``textContent``, never as HTML.

>>> app = create_app(".kg/samples")                 # doctest: +SKIP
"""
from __future__ import annotations

import hmac
import json
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from kg.errors import ConfigError, KgError, NotFoundError
from kg.lookup import GraphLookup, neighbourhood
from kg.model import VERDICTS

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024  # bytes: a question, or feedback with a correction and passage ids
REPORT_FILES = ("report.json", "report.md")


class Service:
    """What the API does, on one opened graph (no web types here, so it is testable alone)."""

    def __init__(self, graph_dir: str | Path, reports_dir: str | Path | None = None):
        import kgreason

        self.kb = kgreason.open(graph_dir)
        self.lookup = GraphLookup.from_graph(self.kb.graph)
        self.reports_dir = Path(reports_dir).resolve() if reports_dir else None
        self._asking = threading.Lock()  # one model, one question at a time

    def stats(self) -> dict[str, Any]:
        return self.kb.stats()

    def search(self, q: str, limit: int = 10) -> list[dict[str, Any]]:
        return [{"id": e.id, "name": e.name, "type": e.type, "mentions": self.lookup.counts.get(e.id, 0)}
                for e in self.lookup.search(q, min(max(limit, 1), 50))]

    def entity(self, entity_id: str) -> dict[str, Any]:
        e = self.lookup.entity(entity_id)
        g = self.kb.graph
        rels = self.lookup.relations.get(e.id, ())
        passages = self.lookup.passages.get(e.id, ())
        docs = dict.fromkeys(g.passages[p].doc_id for p in passages if p in g.passages)
        return {
            "id": e.id, "name": e.name, "type": e.type, "aliases": list(e.aliases),
            "mentions": self.lookup.counts.get(e.id, 0),
            "merges": [{"mention": m.mention_text, "reason": m.reason, "score": m.score}
                       for m in self.lookup.merges.get(e.id, ())[:50]],
            "relations": [self._relation(r) for r in rels[:100]], "relations_total": len(rels),
            "documents": [{"id": d, "title": g.documents[d].title, "source": g.documents[d].source}
                          for d in list(docs)[:50] if d in g.documents],
        }

    def _relation(self, r) -> dict[str, Any]:
        g = self.kb.graph
        return {"id": r.id, "subject": r.subject, "subject_name": g.entities[r.subject].name, "predicate": r.predicate,
                "object": r.object, "object_name": g.entities[r.object].name, "confidence": r.confidence,
                "evidence": [self._quote(p.passage_id, p.start, p.end) for p in r.evidence[:5]]}

    def _quote(self, passage_id: str, start: int, end: int) -> dict[str, Any]:
        """A supporting sentence inside its passage: the passage text and the sentence's span in it."""
        p = self.kb.graph.passages.get(passage_id)
        if p is None:
            return {"passage_id": passage_id, "text": "", "start": 0, "end": 0}
        return {"passage_id": p.id, "title": self._title(p.doc_id), "text": p.text,
                "start": max(0, start - p.start), "end": max(0, min(len(p.text), end - p.start))}

    def _title(self, doc_id: str) -> str:
        d = self.kb.graph.documents.get(doc_id)
        return d.title if d else ""

    def neighbourhood(self, entity_id: str, hops: int = 1, limit: int = 30, offset: int = 0) -> dict[str, Any]:
        try:
            n = neighbourhood(self.lookup, entity_id, hops, min(limit, 100), offset)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        g = self.kb.graph
        return {"center": n.center, "more": n.more, "offset": offset,
                "nodes": [{"id": i, "name": g.entities[i].name, "type": g.entities[i].type, "hops": d,
                           "relations": len(self.lookup.relations.get(i, ()))} for i, d in n.nodes.items()],
                "edges": [{"id": r.id, "source": r.subject, "target": r.object, "predicate": r.predicate,
                           "confidence": r.confidence} for r in n.relations]}

    def ask(self, question: str, mode: str | None = None, generator: str | None = None, k: int | None = None) -> dict[str, Any]:
        with self._asking:
            a = self.kb.ask(question, mode=mode or None, generator=generator or None, k=k)
        out = a.to_dict()
        out["citations"] = [dict(c, **self._cited(c)) for c in out["citations"]]
        out["chain"] = [dict(h, subject_id=self.lookup.named(h["subject"]), object_id=self.lookup.named(h["object"]))
                        for h in out["chain"]]
        return out

    def _cited(self, c: dict[str, Any]) -> dict[str, Any]:
        q = self._quote(c["passage_id"], c["start"], c["end"])
        return {"passage_text": q["text"], "span": [q["start"], q["end"]], "title": q.get("title", "")}

    def feedback(self, body: dict[str, Any]) -> dict[str, Any]:
        from kg.model import Answer

        verdict = body.get("verdict")
        if verdict not in VERDICTS:
            raise ConfigError(f"verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
        question = _text(body, "question", required=True)
        answer_text = _text(body, "answer")
        evidence = body.get("evidence") or []
        ids = [_ids(body, "relevant"), _ids(body, "irrelevant"), _ids({"evidence": evidence}, "evidence")]
        unknown = sorted({p for group in ids for p in group if p not in self.kb.graph.passages})
        if unknown:
            raise NotFoundError(f"passage ids not in the graph: {', '.join(unknown[:5])}")
        shown = tuple((p, rank) for rank, p in enumerate(ids[2], 1))
        answer = Answer(question, answer_text, bool(answer_text), (), (), (), "", "serve")
        f = self.kb.feedback(answer, verdict, correction=_text(body, "correction"), relevant=ids[0], irrelevant=ids[1],
                             shown=shown)
        return {"id": f.id, "verdict": f.verdict}

    def recent_feedback(self, limit: int = 20) -> list[dict[str, Any]]:
        from feedback.store import to_dict

        if self.kb.path is None:  # a published graph: read-only, no feedback here
            return []
        store = self.kb.feedback_store
        records = store.all() if store.path.is_file() else []
        return [to_dict(f) for f in records[-min(limit, 200):]][::-1]

    def reports(self) -> list[dict[str, Any]]:
        """The ``kg eval`` reports under the reports folder: one per folder holding a report.json."""
        if self.reports_dir is None or not self.reports_dir.is_dir():
            return []
        out = []
        for path in sorted(self.reports_dir.rglob("report.json"))[:100]:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            name = str(path.parent.relative_to(self.reports_dir))
            charts = sorted(p.name for p in path.parent.glob("*.png"))
            modes = data.get("modes") if isinstance(data, dict) else None
            table = {m: {k: v for k, v in row.items() if isinstance(v, (int, float))}
                     for m, row in (modes or {}).items() if isinstance(row, dict)}
            out.append({"name": name, "modes": table, "charts": charts})
        return out

    def report_file(self, name: str, file: str) -> Path:
        """A file of one report folder, by name only: nothing outside the reports folder is reachable."""
        if self.reports_dir is None:
            raise NotFoundError("no reports folder was given to kg serve (--reports)")
        if not (file in REPORT_FILES or (file.endswith(".png") and "/" not in file and "\\" not in file)):
            raise NotFoundError(f"no report file {file!r}")
        path = (self.reports_dir / name / file).resolve()
        if self.reports_dir not in path.parents or not path.is_file():
            raise NotFoundError(f"no report file {name}/{file}")
        return path


def _text(body: dict[str, Any], key: str, required: bool = False) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{key}: expected {'a non-empty' if required else 'a'} string, got {value!r}")
    return value.strip()


def _ids(body: dict[str, Any], key: str) -> tuple[str, ...]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > 100:
        raise ConfigError(f"{key}: expected a list of at most 100 passage ids, got {str(value)[:80]}")
    return tuple(value)


def create_app(graph_dir: str | Path, *, token: str | None = None, reports_dir: str | Path | None = None,
               service: Service | None = None):
    """The FastAPI application serving the graph in ``graph_dir``; with ``token`` every API call
    must carry it."""
    svc = service or Service(graph_dir, reports_dir)
    app = FastAPI(title="kgreason", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = svc

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path.startswith("/api/"):
            if token is not None and not _token_ok(request, token):
                return JSONResponse({"error": "missing or wrong token"}, status_code=401)
            size = request.headers.get("content-length")
            if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
                return JSONResponse({"error": f"request body over {MAX_BODY} bytes"}, status_code=413)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; object-src 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.exception_handler(KgError)
    async def kg_error(request: Request, exc: KgError):
        return JSONResponse({"error": str(exc)}, status_code=404 if isinstance(exc, NotFoundError) else 400)

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise ConfigError(f"request body over {MAX_BODY} bytes")
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise ConfigError("request body: expected a JSON object") from None
        if not isinstance(data, dict):
            raise ConfigError("request body: expected a JSON object")
        return data

    @app.get("/api/stats")
    def stats():
        return svc.stats()

    @app.get("/api/search")
    def search(q: str = "", limit: int = 10):
        return svc.search(q, limit)

    @app.get("/api/entity/{entity_id}")
    def entity(entity_id: str):
        return svc.entity(entity_id)

    @app.get("/api/neighbourhood/{entity_id}")
    def hood(entity_id: str, hops: int = 1, limit: int = 30, offset: int = 0):
        return svc.neighbourhood(entity_id, hops, limit, offset)

    @app.post("/api/ask")
    async def ask(request: Request):
        body = await body_of(request)
        k = body.get("k")
        if k is not None and (not isinstance(k, int) or not 1 <= k <= 20):
            raise ConfigError(f"k: expected a whole number from 1 to 20, got {k!r}")
        # in a worker thread: an LLM answer takes seconds, and the page's other calls must not wait on it
        return await run_in_threadpool(svc.ask, _text(body, "question", required=True), _text(body, "mode"),
                                       _text(body, "generator"), k)

    @app.post("/api/feedback")
    async def add_feedback(request: Request):
        return svc.feedback(await body_of(request))

    @app.get("/api/feedback")
    def list_feedback(limit: int = 20):
        return svc.recent_feedback(limit)

    @app.get("/api/options")
    def options():
        from kg import registry
        from kg.config import RETRIEVAL_MODES

        return {"modes": list(RETRIEVAL_MODES), "generators": registry.names("generator"),
                "default_mode": svc.kb.retrieve_config.mode, "default_generator": svc.kb.generate_config.generator}

    @app.get("/api/reports")
    def reports():
        return svc.reports()

    @app.get("/api/reports/{name:path}/{file}")
    def report_file(name: str, file: str):
        return FileResponse(svc.report_file(name, file))

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _token_ok(request, token: str) -> bool:
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or request.query_params.get("token", "")
    return hmac.compare_digest(given.encode(), token.encode())
