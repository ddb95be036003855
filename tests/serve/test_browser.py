"""The demo page end to end in headless Chromium (Debian's package, driven by Playwright through
``executable_path``): search, see which arm found each result, click, watch the allocation panel change.
A screenshot is kept under ``runs/artifacts/`` (or ``$LTRR_ARTIFACTS``)."""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from ltrr.serve.app import ServeSettings, create_app
from ltrr.tasks.serve import load_pipeline
from tests.conftest import ROOT

CHROMIUM = os.environ.get("LTRR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium; "
                                                         "scripts/bootstrap.sh installs it where it can)")


@pytest.fixture()
def server(run):
    import uvicorn

    pipeline, docs = load_pipeline(run[0], "lints")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(pipeline, docs, ServeSettings()), host="127.0.0.1", port=port,
                                       log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", pipeline
    srv.should_exit = True
    th.join(10)


def test_search_click_and_the_panel_learns(server):
    from playwright.sync_api import expect, sync_playwright

    url, pipeline = server
    out = Path(os.environ.get("LTRR_ARTIFACTS", ROOT / "runs" / "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        page.goto(url + "/")
        expect(page.locator("h1")).to_contain_text("ltrr")
        for i, q in enumerate(["love", "rock", "love song"]):
            page.fill("#q", q)
            page.click("#go")
            expect(page.locator("#meta")).to_contain_text("allocation:")
            first = page.locator("li.result").first
            expect(first.locator(".arm").first).to_be_visible()  # which arm found it, with its rank
            assert first.locator(".arm").first.inner_text().split(" #")[0] in pipeline.arms
            before = page.locator("#reward").inner_text()
            first.click()
            expect(page.locator("#meta")).to_contain_text(f"feedback #{i + 1} learned")
            expect(first).to_have_class("result clicked")
            expect(page.locator("#reward")).not_to_have_text(before)  # the panel refreshed after the click
        expect(page.locator("#reward")).to_contain_text("over 3 feedback events; 3 searches so far")
        assert page.locator("#share > div").count() == len(pipeline.arms)
        assert page.locator("#intents tr").count() >= 1
        page.fill("#q", "\x00")
        page.click("#go")
        expect(page.locator("#err")).to_contain_text("query")  # a 4xx is shown, naming the field
        page.screenshot(path=str(out / "serve_page.png"), full_page=True)
        browser.close()
    assert (out / "serve_page.png").stat().st_size > 10_000
