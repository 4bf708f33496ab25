"""The song alchemy and sonic fingerprint pages in headless Chromium: pick, run, read, save as .m3u8."""
import datetime as dt
import re

import pytest

from tests.library import make_library, write_play_log
from tests.pages import ARTIFACTS, files_of_rows, pick, playlist_files

pytestmark = pytest.mark.browser
GROUPS = {"jazz": 16, "metal": 16, "ambient": 16}


@pytest.fixture
def library(env, music_dir, playlist_dir):
    """Analysed tracks that are real files in MUSIC_DIR, so the local provider can write them to a playlist."""
    return make_library(GROUPS, music_dir=music_dir)


@pytest.fixture
def app(library):
    """The web app, created after the library so it loads its index (overrides conftest's `app`)."""
    from app import create_app
    return create_app({"TESTING": True})


def test_alchemy_page(live_server, page, music_dir, playlist_dir):
    from playwright.sync_api import expect
    page.goto(live_server + "/alchemy")
    expect(page.locator("nav a[aria-current]")).to_have_text("Alchemy")
    page.click("#run")
    expect(page.locator(".notice.error")).to_contain_text("Add at least one song")

    pick(page, "#add-song", "jazz 1", "Jazz 1")
    pick(page, "#add-song", "metal 0", "Metal 0")
    pick(page, "#subtract-song", "metal 1", "Metal 1")
    pick(page, "#subtract-song", "ambient 2", "Ambient 2")
    expect(page.locator("#add-list li.chip")).to_have_text(["Jazz 1 — Jazz artist 1×", "Metal 0 — Metal artist 0×"])
    expect(page.locator("#add-song")).to_have_value("")                 # ready for the next song
    page.get_by_role("button", name="Remove Ambient 2 — Ambient artist 2").click()
    expect(page.locator("#subtract-list li.chip")).to_have_count(1)

    page.fill("#n", "12")
    page.click("#run")
    rows = page.locator("#result-table table.tracks tbody tr")
    expect(rows).to_have_count(12)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#results-title")).to_have_text("Jazz 1 + Metal 0 − Metal 1")
    titles = page.locator("#result-table table.tracks tbody tr td:nth-child(2)").all_inner_texts()
    assert not [t for t in titles if t.startswith("Metal")], titles         # subtracting Metal 1 removed metal
    assert all(t.startswith("Jazz") for t in titles[:12]), titles
    left_out = page.locator("#filtered-list li").all_inner_texts()
    assert left_out and all(text.startswith("Metal") for text in left_out)
    points = page.locator("#plot-area svg circle.point")
    expect(points).to_have_count(3 + 12 + len(left_out))
    expect(page.locator("#plot-area svg circle.role-result")).to_have_count(12)
    expect(page.locator("#plot-area svg path.centroid")).to_have_count(2)
    assert page.locator("#plot-area svg circle.role-add title").first.text_content().endswith("(added)")

    page.fill("#temperature", "9")                                         # out of range: the server says so
    page.click("#run")
    expect(page.locator(".notice.error")).to_have_text("temperature: Input should be less than or equal to 5")
    page.fill("#temperature", "0")
    page.click("#run")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#results-summary")).to_contain_text("12 songs, ordered so each song flows into the next")
    expect(page.locator("#results-summary")).to_contain_text(
        "14 left out for sounding more like what you subtracted than what you added (the 12 closest listed below).")
    expect(page.locator("#filtered-list li").first).to_contain_text("to what you subtracted,")

    expect(page.locator("input.playlist-name")).to_have_value("Jazz 1 + Metal 0 − Metal 1")
    page.click("button.create-playlist")
    expect(page.locator(".playlist-result")).to_contain_text("Created", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "alchemy.png"), full_page=True)
    saved = playlist_dir / "Jazz 1 + Metal 0 − Metal 1.m3u8"
    assert saved.is_file()
    assert playlist_files(saved) == files_of_rows(page, music_dir, "#result-table")


def test_sonic_fingerprint_page(live_server, page, library, music_dir, playlist_dir, tmp_path, monkeypatch):
    from playwright.sync_api import expect
    now = dt.datetime.now(dt.timezone.utc)
    write_play_log(tmp_path / "plays.log", [("jazz-0", now)] * 5 + [("jazz-1", now - dt.timedelta(days=3))] * 3
                   + [("metal-0", now - dt.timedelta(days=400))])
    monkeypatch.setenv("LOCAL_PLAY_LOG", str(tmp_path / "plays.log"))
    page.goto(live_server + "/sonic_fingerprint")
    expect(page.locator("nav a[aria-current]")).to_have_text("Fingerprint")
    expect(page.locator("#credentials")).to_be_hidden()                   # the music folder needs no account

    page.fill("#n", "40")
    page.click("#run")
    expect(page.locator("#result-table table.tracks tbody tr")).to_have_count(40)
    seeds = page.locator("#seed-table table.tracks tbody tr td:nth-child(2)").all_inner_texts()
    assert seeds == ["Jazz 0", "Jazz 1", "Metal 0"]
    plays = page.locator("#seed-table table.tracks tbody tr td:nth-child(6)").all_inner_texts()
    assert plays == ["5", "3", "1"]
    why = page.locator("#result-table table.tracks tbody tr td:last-child").all_inner_texts()
    titles = page.locator("#result-table table.tracks tbody tr td:nth-child(2)").all_inner_texts()
    mine = [t for t, w in zip(titles, why) if w.startswith("one of your most played")]
    assert sorted(mine) == ["Jazz 0", "Jazz 1", "Metal 0"], list(zip(titles, why))
    assert all(re.match(r"(Very close|Close|Related|Loosely related|Far) \(\d+%\)", w)
               for t, w in zip(titles, why) if t not in mine)
    assert all(t.startswith("Jazz") or t == "Metal 0" for t in titles[:17]), titles   # picks, then jazz
    expect(page.locator("#results-summary")).to_contain_text("ordered so each song flows into the next")
    expect(page.locator("#results-summary")).to_contain_text("From 3 played songs, 3 are analysed")

    expect(page.locator("input.playlist-name")).to_have_value("Sonic fingerprint")
    page.click("button.create-playlist")
    expect(page.locator(".playlist-result")).to_contain_text("Created", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sonic-fingerprint.png"), full_page=True)
    saved = playlist_dir / "Sonic fingerprint.m3u8"
    assert saved.is_file()
    assert playlist_files(saved) == files_of_rows(page, music_dir, "#result-table")


def test_fingerprint_credentials_go_in_the_body_only(live_server, page, monkeypatch):
    from playwright.sync_api import expect
    for name, value in (("MEDIASERVER_TYPE", "navidrome"), ("NAVIDROME_URL", "http://127.0.0.1:9"),
                        ("NAVIDROME_USER", "admin"), ("NAVIDROME_PASSWORD", "saved-password")):
        monkeypatch.setenv(name, value)
    sent = []
    page.on("request", lambda request: sent.append((request.url, request.post_data or "")))
    page.goto(live_server + "/sonic_fingerprint")
    expect(page.locator("#credentials")).to_be_visible()
    expect(page.locator("#server-label")).to_have_text("(your Navidrome account)")
    expect(page.locator('.credential-set[data-server="jellyfin"]')).to_be_hidden()
    page.fill('input[data-key="user"]', "alice")
    page.fill('input[data-key="password"]', "s3cret-Pw")
    expect(page.locator('input[data-key="password"]')).to_have_attribute("type", "password")
    page.click("#run")
    expect(page.locator(".notice.error")).to_contain_text("cannot reach")
    posted = [body for url, body in sent if url.endswith("/api/sonic_fingerprint")]
    assert len(posted) == 1 and '"password":"s3cret-Pw"' in posted[0]
    assert not [url for url, _ in sent if "s3cret" in url or "alice" in url]
    page.screenshot(path=str(ARTIFACTS / "sonic-fingerprint-credentials.png"), full_page=True)
