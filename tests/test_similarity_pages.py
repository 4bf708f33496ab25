"""The similar-songs and song-path pages in headless Chromium: pick songs, run, save the playlist as .m3u8."""

import pytest

from tests.library import make_library
from tests.pages import ARTIFACTS, files_of_rows, pick, playlist_files

pytestmark = pytest.mark.browser
GROUPS = {"jazz": 12, "metal": 12, "ambient": 12}


@pytest.fixture
def library(env, music_dir, playlist_dir):
    """Analysed tracks that are real files in MUSIC_DIR, so the local provider can list them in a playlist."""
    return make_library(GROUPS, music_dir=music_dir)


@pytest.fixture
def app(library):
    """The web app, created after the library so it loads its index (overrides conftest's `app`)."""
    from app import create_app
    return create_app({"TESTING": True})


def table_titles(page) -> list[str]:
    return page.locator("table.tracks tbody tr td:nth-child(2)").all_inner_texts()


def test_similar_songs_page(live_server, page, music_dir, playlist_dir):
    from playwright.sync_api import expect
    page.goto(live_server + "/similarity")
    expect(page.locator("nav a[aria-current]")).to_have_text("Similar")

    page.click("#run")                                       # nothing picked yet
    expect(page.locator(".notice.error")).to_contain_text("Pick a song from the list first")

    pick(page, "#seed", "jazz 1", "Jazz 1")
    page.fill("#n", "0")
    page.click("#run")
    expect(page.locator(".notice.error")).to_have_text("n: Input should be greater than or equal to 1")

    page.fill("#n", "15")
    page.click("#run")
    rows = page.locator("table.tracks tbody tr")
    expect(rows).to_have_count(15)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#results-title")).to_have_text("Similar to Jazz 1 — Jazz artist 1")
    titles = table_titles(page)
    assert "Jazz 1" not in titles and all(title.startswith("Jazz") for title in titles[:11]), titles
    expect(page.locator("#results-summary")).to_contain_text("ordered so each song flows into the next")
    why = page.locator("table.tracks tbody tr td:last-child").all_inner_texts()
    assert all(text.startswith(("Very close (", "Close (", "Related (")) for text in why[:11]), why

    page.select_option("#order", "ranked")
    page.click("#run")
    expect(page.locator("#results-summary")).to_contain_text("closest first")
    shares = [int(text.split("(")[1].split("%")[0])
              for text in page.locator("table.tracks tbody tr td:last-child").all_inner_texts()]
    # Ranked by neighbourhood (similarity.smoothing): the seed's group first, each song's share the
    # direct closeness, so within the group the shares need not fall row by row.
    assert min(shares[:11]) > max(shares[11:]), shares

    page.fill("#max-per-artist", "2")
    page.click("#run")
    expect(page.locator("#results-summary")).to_contain_text("over the per-artist limit")
    artists = page.locator("table.tracks tbody tr td:nth-child(3)").all_inner_texts()
    assert len(artists) == 15 and max(artists.count(a) for a in artists) <= 2

    expect(page.locator("input.playlist-name")).to_have_value("Similar to Jazz 1")
    page.click("button.create-playlist")
    expect(page.locator(".playlist-result")).to_contain_text("Created", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "similarity.png"), full_page=True)
    saved = playlist_dir / "Similar to Jazz 1.m3u8"
    assert saved.is_file()
    assert playlist_files(saved) == files_of_rows(page, music_dir)


def test_song_path_page(live_server, page, music_dir, playlist_dir):
    from playwright.sync_api import expect
    page.goto(live_server + "/path")
    expect(page.locator("nav a[aria-current]")).to_have_text("Path")

    pick(page, "#start", "jazz 1", "Jazz 1")
    pick(page, "#end", "jazz 1", "Jazz 1")
    page.click("#run")
    expect(page.locator(".notice.error")).to_have_text(
        "start and end are the same track: choose two different songs")

    pick(page, "#end", "ambient 0", "Ambient 0")
    page.fill("#length", "50")                                # more than the library holds
    page.click("#run")
    expect(page.locator("#path-reason")).to_contain_text("The library has only 36 analysed tracks")
    expect(page.locator("table.tracks tbody tr")).to_have_count(36)

    page.fill("#length", "12")
    page.click("#run")
    expect(page.locator("table.tracks tbody tr")).to_have_count(12)
    expect(page.locator("#path-reason")).to_contain_text("The library has little between “Jazz")  # the crossing
    expect(page.locator("#results-title")).to_have_text("Jazz 1 to Ambient 0")
    expect(page.locator("#results-summary")).to_contain_text("12 of 12 songs")
    titles = table_titles(page)
    assert titles[0] == "Jazz 1" and titles[-1] == "Ambient 0" and len(set(titles)) == 12
    crossing = next(n for n, title in enumerate(titles) if title.startswith("Ambient"))
    assert all(t.startswith("Jazz") for t in titles[:crossing])
    assert all(t.startswith("Ambient") for t in titles[crossing:])
    steps = page.locator("table.tracks tbody tr td:last-child").all_inner_texts()
    assert steps[0] == "the start" and all(step.startswith(("A very close step (", "A close step (", "A related step (",
                                                           "A loosely related step (", "A far step (")) for step in steps[1:])
    expect(page.locator("#results-summary")).to_contain_text("the biggest step is")

    expect(page.locator("input.playlist-name")).to_have_value("Jazz 1 to Ambient 0")
    page.click("button.create-playlist")
    expect(page.locator(".playlist-result")).to_contain_text("Created", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "path.png"), full_page=True)
    saved = playlist_dir / "Jazz 1 to Ambient 0.m3u8"
    assert saved.is_file()
    assert playlist_files(saved) == files_of_rows(page, music_dir)
