"""kg serve's JSON API through the framework's test client, on the samples graph and a hostile one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from kgreason.cli import main  # noqa: E402
from kgreason.serve.app import MAX_BODY, create_app  # noqa: E402

from ...conftest import HOSTILE  # noqa: E402


@pytest.fixture(scope="module")
def client(serve_graph):
    return TestClient(create_app(serve_graph, reports_dir=serve_graph.parent / "runs"))


def test_search_suggests_entities_by_prefix_best_attested_first(client):
    hits = client.get("/api/search", params={"q": "van hook"}).json()
    assert hits[0]["name"].startswith("Van Hook Township") and hits[0]["mentions"] >= 1
    assert client.get("/api/search", params={"q": ""}).json() == []


def test_entity_view_has_relations_with_the_supporting_span_inside_its_passage(client):
    eid = client.get("/api/search", params={"q": "Ada Lovelace"}).json()[0]["id"]
    e = client.get(f"/api/entity/{eid}").json()
    assert e["name"] == "Ada Lovelace" and e["relations_total"] == len(e["relations"]) >= 1
    quote = e["relations"][0]["evidence"][0]
    assert quote["text"][quote["start"]:quote["end"]] in ("Ada Lovelace met Charles Babbage.",
                                                          f"{HOSTILE} was founded by Ada Lovelace in London.")
    assert e["documents"] == [{"id": e["documents"][0]["id"], "source": "docs/hostile.jsonl#evil", "title": HOSTILE}]


def test_neighbourhood_pages_a_hub_and_two_hops_reach_further(client):
    eid = client.get("/api/search", params={"q": "Ada Lovelace"}).json()[0]["id"]
    one = client.get(f"/api/neighbourhood/{eid}", params={"hops": 1}).json()
    assert one["center"] == eid and {n["hops"] for n in one["nodes"]} <= {0, 1}
    assert all(eid in (x["source"], x["target"]) for x in one["edges"])
    page = client.get(f"/api/neighbourhood/{eid}", params={"hops": 1, "limit": 1}).json()
    assert len([x for x in page["edges"]]) == 1 and page["more"] == len(one["edges"]) - 1
    bad = client.get(f"/api/neighbourhood/{eid}", params={"hops": 3})
    assert bad.status_code == 400 and "hops 1 or 2" in bad.json()["error"]


def test_unknown_entity_is_a_404_naming_it(client):
    r = client.get("/api/entity/nope")
    assert r.status_code == 404 and r.json() == {"error": "no entity with id 'nope' in the graph"}


def test_ask_returns_the_answer_with_cited_spans_and_chain_ids(client):
    a = client.post("/api/ask", json={"question": "What team was Anna Benson's husband on?"}).json()
    assert a["found"] and a["text"] == "Pittsburgh Pirates" and a["evidence"]
    c = a["citations"][0]
    assert c["passage_text"][c["span"][0]:c["span"][1]] == c["quote"]


@pytest.mark.parametrize("body, message", [
    ({"question": "  "}, "question: expected a non-empty string"),
    ({"question": "Who?", "k": 99}, "k: expected a whole number from 1 to 20, got 99"),
    ({"question": "Who?", "mode": "psychic"}, "retrieve.mode: expected one of"),
])
def test_bad_questions_are_400_with_the_reason(client, body, message):
    r = client.post("/api/ask", json=body)
    assert r.status_code == 400 and message in r.json()["error"]


def test_oversized_and_malformed_bodies_are_refused(client):
    r = client.post("/api/ask", content=b'{"question": "' + b"x" * MAX_BODY + b'"}', headers={"content-type": "application/json"})
    assert r.status_code == 413 and "over 65536 bytes" in r.json()["error"]
    r = client.post("/api/ask", content=b"[1, 2]", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "request body: expected a JSON object"


def test_feedback_is_stored_with_marked_passages_and_listed(serve_graph, tmp_path):
    import shutil

    g = shutil.copytree(serve_graph, tmp_path / "g")
    c = TestClient(create_app(g))
    a = c.post("/api/ask", json={"question": "What team was Anna Benson's husband on?"}).json()
    shown = [e["passage_id"] for e in a["evidence"]]
    r = c.post("/api/feedback", json={"question": a["question"], "answer": a["text"], "verdict": "partly",
                                      "correction": "Pittsburgh Pirates and Orioles", "relevant": shown[:1],
                                      "irrelevant": shown[1:2], "evidence": shown})
    assert r.status_code == 200 and r.json()["verdict"] == "partly"
    (f,) = c.get("/api/feedback").json()
    assert (f["verdict"], f["correction"], f["relevant"], f["irrelevant"]) == ("partly", "Pittsburgh Pirates and Orioles", shown[:1], shown[1:2])
    assert [p for p, _ in f["evidence"]] == shown
    bad = c.post("/api/feedback", json={"question": "q", "verdict": "great"})
    assert bad.status_code == 400 and "verdict: expected one of good, bad, partly" in bad.json()["error"]
    unknown = c.post("/api/feedback", json={"question": "q", "verdict": "bad", "relevant": ["../../etc/passwd"]})
    assert unknown.status_code == 404 and "passage ids not in the graph" in unknown.json()["error"]


def test_a_token_is_checked_on_every_api_call(serve_graph):
    c = TestClient(create_app(serve_graph, token="s3cret"))
    assert c.get("/api/stats").status_code == 401
    assert c.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/stats", headers={"Authorization": "Bearer s3cret"}).json()["passages"] > 0
    assert c.get("/api/stats", params={"token": "s3cret"}).status_code == 200
    assert c.get("/").status_code == 200  # the page itself carries no data


def test_reports_are_listed_and_only_their_own_files_are_served(client):
    (r,) = client.get("/api/reports").json()
    assert r == {"name": "today", "modes": {"hybrid": {"recall@5": 0.9}}, "charts": ["recall.png"]}
    assert client.get("/api/reports/today/recall.png").content.startswith(b"\x89PNG")
    for path in ("/api/reports/today/../../secret.txt", "/api/reports/..%2F..%2Fsecret.txt/report.json",
                 "/api/reports/today/secret.txt"):
        assert client.get(path).status_code == 404, path


def test_the_page_escapes_by_construction():
    js = (Path(__file__).resolve().parents[3] / "kgreason" / "serve" / "static" / "app.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js


def test_serving_beyond_loopback_needs_a_token(serve_graph, capsys):
    assert main(["serve", str(serve_graph), "--host", "0.0.0.0"]) == 2
    assert "give --token" in capsys.readouterr().err
