"""The review app in a real browser: Playwright driving Debian's Chromium against `engage review`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO
from review_fixtures import make_store

from engage.review.store import ReviewStore

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE = ['<script>window.__pwned = 1; alert("x")</script> hot take', '<img src=x onerror="window.__pwned = 2"> hi']

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium for the browser tests: apt-get install chromium chromium-driver")
    pytest.skip("no /usr/bin/chromium (apt-get install chromium chromium-driver)", allow_module_level=True)

sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, store: Path):
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = None

    def start(self) -> Server:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engage", "review", "--store", str(self.store), "--port", str(self.port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stdout.read())
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("the review app did not start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def app(tmp_path):
    texts = {
        "sft-v1": ["first post", "second post", "third post", *HOSTILE],
        "dpo-v1": ["dpo post one", "dpo post two"],
    }
    make_store(tmp_path / "engage.db", texts).close()
    server = Server(tmp_path / "engage.db").start()
    yield server
    server.kill()


def value(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first.input_value()


def wait_value(page, elem_id: str, contains: str, timeout: float = 20000) -> str:
    page.wait_for_function(
        """([id, text]) => { const e = document.querySelector(`#${id} textarea, #${id} input`);
                             return e && e.value.includes(text); }""",
        arg=[elem_id, contains],
        timeout=timeout,
    )
    return value(page, elem_id)


def open_queue(browser, url: str):
    page = browser.new_page(viewport={"width": 1200, "height": 1100})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    wait_value(page, "progress", "pending")
    return page, dialogs


def press(page, key: str) -> None:
    page.locator("h2").first.click()  # focus leaves any text box: shortcuts work only when not typing
    page.keyboard.press(key)


def test_keyboard_and_clicks_decide_and_state_persists(browser, app, tmp_path):
    page, _ = open_queue(browser, app.url)
    assert value(page, "post-text") == "first post"
    press(page, "a")
    wait_value(page, "message", "Approved candidate 1")
    assert value(page, "post-text") == "second post"

    # typing the letters a, r, s, u in a text box types them; it decides nothing
    page.locator("#note textarea, #note input").first.fill("")
    page.locator("#note textarea, #note input").first.type("a rush")
    assert value(page, "post-text") == "second post" and "2 approved" not in value(page, "progress")

    # label with clicks, edit the text, approve with the button
    page.locator("#post-text textarea").fill("second post, made better")
    page.get_by_label("funny").check()
    page.keyboard.press("a")  # the ticked checkbox has focus: a shortcut still works there
    wait_value(page, "message", "Approved candidate 2 (edited; the original is kept)")
    press(page, "r")
    wait_value(page, "message", "Rejected candidate 3")
    press(page, "u")
    wait_value(page, "message", "Undone: candidate 3")
    assert value(page, "post-text") == "third post"
    press(page, "s")
    wait_value(page, "message", "Skipped candidate 3")

    with ReviewStore(app.store) as store:
        second = store.get(2)
        assert (second.text, second.final_text, second.labels, second.note) == (
            "second post", "second post, made better", ["funny"], "a rush",
        )  # fmt: skip
        assert store.get(1).status == "approved" and store.get(3).status == "pending"

    # reload: the queue comes back from the store
    page.reload()
    shown = wait_value(page, "progress", "2 approved")
    assert shown.startswith("5 pending") and value(page, "post-text") == HOSTILE[0]

    # kill the server mid-review and start it again: every decision is there
    app.kill()
    app.start()
    page.reload()
    wait_value(page, "progress", "5 pending · 2 approved · 0 rejected")

    page.get_by_role("tab", name="Stats").click()
    page.wait_for_function("document.querySelector('#stats').innerText.includes('sft-v1')")
    assert page.locator("#stats").inner_text().count("100%") >= 1
    page.close()


def test_two_tabs_deciding_the_same_candidate(browser, app):
    tab1, _ = open_queue(browser, app.url)
    tab2, _ = open_queue(browser, app.url)
    assert value(tab1, "post-text") == value(tab2, "post-text") == "first post"
    press(tab1, "a")
    wait_value(tab1, "message", "Approved candidate 1")
    press(tab2, "r")
    message = wait_value(tab2, "message", "Not saved")
    assert "already approved" in message
    toast = tab2.locator(".toast-wrap")
    toast.filter(has_text="already approved").first.wait_for(state="visible", timeout=10000)  # a warning, not a box
    assert value(tab2, "post-text") == "second post", "the second tab moves on to what is still pending"
    with ReviewStore(app.store) as store:
        assert store.get(1).status == "approved"
    tab1.close()
    tab2.close()


def test_hostile_candidate_text_is_shown_not_run(browser, app, tmp_path):
    page, dialogs = open_queue(browser, app.url)
    for _ in range(3):
        press(page, "s")
        page.wait_for_timeout(300)
    wait_value(page, "post-text", "<script>")
    assert value(page, "post-text") == HOSTILE[0]
    press(page, "a")
    wait_value(page, "post-text", "<img")
    assert value(page, "post-text") == HOSTILE[1]
    press(page, "a")
    wait_value(page, "message", "Approved candidate 5")
    page.get_by_role("tab", name="Approved").click()
    page.wait_for_function("document.querySelector('#approved').innerText.includes('hot take')")
    assert "<script>" in page.locator("#approved").inner_text()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__pwned") is None and dialogs == []
    assert page.locator("img[src=x]").count() == 0
    page.close()


def test_compare_and_publish_and_screenshot(browser, app, tmp_path):
    page, _ = open_queue(browser, app.url)
    page.get_by_label("on-brand").check()
    shot = Path(os.environ.get("ENGAGE_SCREENSHOT", tmp_path / "review-app.png"))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.get_by_role("tab", name="Compare").click()
    left = wait_value(page, "compare-left", "post")
    assert left and value(page, "compare-right")
    sides = page.locator("#compare-left").inner_text() + page.locator("#compare-right").inner_text()
    assert "sft-v1" not in sides and "dpo-v1" not in sides, "blind until the choice"
    page.locator("#right-btn").click()
    message = wait_value(page, "compare-message", "is better")
    assert "sft-v1" in message and "dpo-v1" in message, "the models are named after the choice"

    page.get_by_role("tab", name="Queue").click()
    wait_value(page, "post-text", "first post")
    page.locator("#approve-btn").click()
    wait_value(page, "message", "Approved candidate 1")
    page.locator("#approve-btn").click()
    wait_value(page, "message", "Approved candidate 2")
    page.get_by_role("tab", name="Approved").click()
    page.locator("#approved").get_by_text("first post").first.click()  # pick a post by clicking its row
    wait_value(page, "approved-text", "first post")
    page.locator("#published-ref input, #published-ref textarea").first.fill(
        "https://x.com/me/status/1857123456789012345"
    )
    page.locator("#publish-btn").click()
    wait_value(page, "approved-message", "Marked candidate 1 published")
    with ReviewStore(app.store) as store:
        assert store.get(1).published_post_id == "1857123456789012345"
        assert len(store.comparisons()) == 1
    page.close()


def status_and_body(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_private_settings(app):
    """No run history, no monitoring, no API endpoints, no files served (not even the store)."""
    assert status_and_body(app.url + "gradio_api/runs")[0] == 404
    assert status_and_body(app.url + "monitoring")[0] == 403
    code, body = status_and_body(app.url + "gradio_api/info")
    assert code == 200 and json.loads(body) == {"named_endpoints": {}, "unnamed_endpoints": {}}
    config = json.loads(status_and_body(app.url + "config")[1])
    assert config["analytics_enabled"] is False and not config.get("share_url")
    for path in (app.store, "/etc/passwd", REPO / "README.md"):
        assert status_and_body(f"{app.url}gradio_api/file={path}")[0] == 403


def test_uploads_are_refused(app):
    """The app has no file inputs: an upload without a session (or with one) stores nothing."""
    body = b'--b\r\nContent-Disposition: form-data; name="files"; filename="x.txt"\r\n\r\nhi\r\n--b--\r\n'
    for path in ("gradio_api/upload", "gradio_api/upload/"):
        request = urllib.request.Request(
            app.url + path, data=body, method="POST", headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
        try:
            with urllib.request.urlopen(request) as r:
                code, text = r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            code, text = exc.code, exc.read().decode()
        assert code == 404 and "x.txt" not in text, (path, code, text)
    assert status_and_body(app.url + "gradio_api/upload_progress?upload_id=1")[0] == 404
