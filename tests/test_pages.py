"""The home page in headless Chromium: start, watch live progress, cancel, see the result."""
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import REPO
from tests.test_workers import write_wav

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.browser
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def page():
    if not CHROMIUM:
        pytest.skip(reason="Chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
        assert errors == [], f"JavaScript errors: {errors}"


def test_home_page_runs_and_cancels_tasks(live_server, page, workers, music_dir):
    from playwright.sync_api import expect
    for folder in ("A", "B", "C"):
        write_wav(music_dir / folder / "track.wav", 1.0, "Title", "Artist")
    workers.start("high")
    workers.start("default", "clustering")
    page.goto(live_server)
    expect(page.locator("#health")).to_have_text("all systems ok", timeout=15000)
    expect(page.locator("#idle")).to_be_visible()

    page.click("button[data-type='test.parent']")
    task = page.locator("#active-list .task")
    expect(task.locator(".task-title")).to_have_text("Test parent")
    expect(task.locator(".task-children")).to_contain_text("running", timeout=10000)
    expect(task.locator(".task-running li").first).to_contain_text("step")
    page.click("button[data-type='test.parent']")  # a second one of the same type is refused
    expect(page.locator("#notice")).to_have_text("a test.parent task is already running")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home-running.png"), full_page=True)

    task.locator("button.cancel").click()
    expect(page.locator("#notice")).to_contain_text("Cancelled")
    expect(page.locator("#idle")).to_be_visible(timeout=10000)
    expect(page.locator("#last-result")).to_contain_text("REVOKED")

    page.click("button[data-type='library_scan']")
    result = page.locator("#last-result")
    expect(result).to_contain_text("Library scan", timeout=20000)
    expect(result).to_contain_text("SUCCESS")
    expect(result).to_contain_text("3 audio files in 3 folders")
    page.screenshot(path=str(ARTIFACTS / "home-result.png"), full_page=True)
