"""kg serve in a real browser: headless Chromium (Debian's package) driven by Playwright, against a
server on loopback. Screenshots of each view go to $KG_TEST_ARTEFACTS (default: the test's tmp dir)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")]

from playwright.sync_api import expect  # noqa: E402

from ...conftest import HOSTILE  # noqa: E402

QUESTION = "What team was Anna Benson's husband on?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(serve_graph, tmp_path_factory):
    g = shutil.copytree(serve_graph, tmp_path_factory.mktemp("browser") / "g")
    yield from _serve(g, serve_graph)


def _serve(g: Path, serve_graph: Path):
    """kg serve on ``g`` on a free loopback port, in a thread: yields (url, g), stops after."""
    import uvicorn

    from kgreason.serve.app import create_app

    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(g, reports_dir=serve_graph.parent / "runs"), host="127.0.0.1",
                                        port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start within 20 s"
    yield f"http://127.0.0.1:{port}/", g
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1200, "height": 900})
        dialogs = []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.dialogs = dialogs
        pg.goto(server[0])
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("KG_TEST_ARTEFACTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_ask_shows_the_answer_and_its_sources_then_feedback_is_stored(page, server, shots):
    import kgreason

    page.fill("#question", QUESTION)
    page.click("#ask-button")
    page.wait_for_selector("#answer:not([hidden])")
    expect(page.locator("#answer-text")).to_have_text("Pittsburgh Pirates")
    sources = page.locator("#sources li")
    assert sources.count() >= 1 and page.locator("#sources mark").count() >= 1
    page.screenshot(path=str(shots / "ask.png"), full_page=True)
    page.check("input[name=verdict][value=partly]")
    page.fill("#correction", "Pittsburgh Pirates and Orioles")
    page.locator("#sources select").first.select_option("relevant")
    page.click("#feedback-button")
    expect(page.locator("#feedback-status")).to_have_text(re.compile("^saved"))
    (f,) = kgreason.open(server[1]).feedback_store.all()
    assert (f.question, f.verdict, f.correction, len(f.relevant)) == (QUESTION, "partly", "Pittsburgh Pirates and Orioles", 1)


def test_search_open_an_entity_and_click_through_a_neighbour(page, shots):
    page.click("nav button[data-view=explore]")
    page.fill("#entity-search", "Ada Lovel")
    page.wait_for_selector("#suggestions li")
    page.click("#suggestions li >> nth=0")
    page.wait_for_selector("#entity:not([hidden])")
    assert page.text_content("#entity-name") == "Ada Lovelace"
    page.wait_for_selector("#hood circle")
    page.screenshot(path=str(shots / "entity.png"), full_page=True)
    neighbour = page.locator("#hood circle").nth(1)
    name = neighbour.locator("title").text_content().rsplit(" (", 1)[0]
    neighbour.click(force=True)
    expect(page.locator("#entity-name")).to_have_text(name)


def test_a_hostile_name_is_shown_as_text(page, shots):
    page.click("nav button[data-view=explore]")
    page.fill("#entity-search", "<script>alert")
    page.wait_for_selector("#suggestions li")
    assert HOSTILE in page.text_content("#suggestions li >> nth=0")
    page.click("#suggestions li >> nth=0")
    expect(page.locator("#entity-name")).to_have_text(HOSTILE)
    assert page.locator("#entity script").count() == 0 and page.dialogs == []
    page.screenshot(path=str(shots / "hostile.png"), full_page=True)


def test_feedback_and_about_views_list_what_is_stored(page, shots):
    page.click("nav button[data-view=feedback]")
    page.wait_for_selector("#feedback-list tr")
    assert QUESTION in page.text_content("#feedback-list")
    page.screenshot(path=str(shots / "feedback.png"), full_page=True)
    page.click("nav button[data-view=about]")
    page.wait_for_selector("#reports .report")
    assert "today" in page.text_content("#reports") and "chunk_size" in page.text_content("#stats")
    page.screenshot(path=str(shots / "about.png"), full_page=True)


def test_a_reader_s_reason_for_no_answer_is_shown(page):
    page.click("nav button[data-view=ask]")
    page.fill("#question", "What does Sigmund Selberg do with prime numbers?")  # a description: no kind of name
    page.click("#ask-button")
    expect(page.locator("#answer-text")).to_have_text("Not found in the documents.")
    expect(page.locator("#answer-flags")).to_contain_text("not found: the extractive reader answers with a name")


def test_an_answer_the_evidence_gate_stopped_says_so(page, serve_graph, tmp_path):
    """A graph whose active kg tune version has an evidence gate: the page says why the answer is not found
    (a second server, opened in a new tab of the module's browser)."""
    import numpy as np

    from kgreason.tune import versions
    from reason.sufficiency import FEATURES, EvidenceGate

    g = shutil.copytree(serve_graph, tmp_path / "g")
    n = len(FEATURES)
    staging = versions.staging_dir(g)  # a gate whose threshold no retrieval reaches
    EvidenceGate(FEATURES, np.zeros(n), np.ones(n), np.eye(n)[0], 0.0, 1e9, "hybrid").save(staging)
    versions.commit(g, staging, {"version": 1, "parent": 0, "parts": ["gate"]})
    versions.activate(g, 1)
    served = _serve(g, serve_graph)
    url, _ = next(served)
    tab = page.context.browser.new_page()
    try:
        tab.goto(url)
        tab.fill("#question", QUESTION)
        tab.click("#ask-button")
        tab.wait_for_selector("#answer:not([hidden])")
        expect(tab.locator("#answer-text")).to_have_text("Not found in the documents.")
        expect(tab.locator("#answer-flags")).to_contain_text(
            "not found: the evidence gate judged these passages unlike those that answer")
    finally:
        tab.close()
        next(served, None)
