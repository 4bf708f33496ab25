"""The home page in headless Chromium: start, watch live progress, cancel, see the result."""
import pytest

from tests.audio import music, song, write_wav
from tests.pages import ARTIFACTS

pytestmark = pytest.mark.browser


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


def test_home_page_shows_library_analysis_progress_and_failures(live_server, page, workers, music_dir):
    import os
    import time
    from playwright.sync_api import expect
    import soundfile
    for album in range(6):
        for n in (1, 2):
            song(music_dir / f"Album {album}" / f"{n}.flac", f"Album {album}", f"Song {n}", 100 + 10 * n)
        os.utime(music_dir / f"Album {album}", (time.time() - 1000 + album, time.time() - 1000 + album))
    (music_dir / "Biggest").mkdir()   # untagged, so one album of three: the biggest, analysed first
    for n in (1, 2):
        soundfile.write(music_dir / "Biggest" / f"{n}.flac", music(40, rate=22050, bpm=100), 22050, format="FLAC")
    (music_dir / "Biggest" / "broken.flac").write_bytes(b"fLaC" + bytes(5000))
    workers.start("high")  # the orchestrator only: the albums wait, so the page shows them waiting
    page.goto(live_server)
    page.click("button[data-type='analysis']")
    task = page.locator("#active-list .task")
    expect(task.locator(".detail-albums")).to_have_text("0 of 7 done", timeout=60000)
    expect(task.locator(".detail-now")).to_have_text("waiting for a worker")
    workers.start("default")
    expect(task.locator(".task-failures summary")).to_have_text("Failed tracks (1)", timeout=90000)
    expect(task.locator(".detail-tracks")).to_contain_text("1 failed")
    task.locator(".task-failures summary").click()
    expect(task.locator(".task-failures li")).to_contain_text("Biggest/broken.flac · cannot decode: the file is damaged")
    page.screenshot(path=str(ARTIFACTS / "home-analysis.png"), full_page=True)
    result = page.locator("#last-result")
    expect(result).to_contain_text("14 tracks analysed", timeout=120000)
    expect(result).to_contain_text("broken")
