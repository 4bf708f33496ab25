"""The music map page in headless Chromium: open it, colour it, highlight songs, select a region, save the .m3u8."""
import re

import numpy as np
import pytest

from db.models import MOOD_COLUMNS
from similarity import projection
from similarity.projection import NO_MAP, Projection
from tests.library import make_library
from tests.pages import ARTIFACTS, files_of_rows, pick, playlist_files

pytestmark = pytest.mark.browser
GROUPS = {"jazz": 12, "metal": 12, "ambient": 12}
CENTRES = {"jazz": (0.0, 0.0), "metal": (10.0, -5.0), "ambient": (20.0, -10.0)}   # each group apart on the map


@pytest.fixture
def library(env, music_dir, playlist_dir):
    """Analysed tracks that are real files in MUSIC_DIR, so the local provider can write them to a playlist."""
    return make_library(GROUPS, music_dir=music_dir, with_tags=True)


@pytest.fixture
def mapped(library):
    """The library's map, stored before the app starts (it loads the newest at start)."""
    rng = np.random.default_rng(3)
    names = sorted(library.ids, key=library.ids.get)
    xy = [np.array(CENTRES[library.group_of(name)]) + rng.uniform(-1, 1, 2) for name in names]
    projection.save(Projection([library.ids[name] for name in names], xy,
                               {"method": "umap", "seed": 0, "fitted_tracks": 36, "placed_tracks": 0,
                                "neighbours_kept": 0.8}))
    return library


@pytest.fixture
def app(request, library):
    if "mapped" in request.fixturenames:
        request.getfixturevalue("mapped")
    from app import create_app
    return create_app({"TESTING": True})


def song_traces(page, field: str):
    return page.evaluate(f"""() => document.getElementById("map-plot").data
                             .filter((trace) => trace.meta === "songs").map((trace) => trace.{field})""")


def test_explore_the_map_and_lasso_a_playlist(live_server, page, mapped, music_dir, playlist_dir):
    from playwright.sync_api import expect
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(live_server + "/map")
    expect(page.locator("nav a[aria-current]")).to_have_text("Map")
    expect(page.locator("body")).to_contain_text("the axes themselves mean nothing")
    expect(page.locator("#map-plot")).to_have_attribute("data-points", re.compile(r"^[1-9]"))
    page.select_option("#sample", "100")
    expect(page.locator("#map-plot")).to_have_attribute("data-points", "36")
    expect(page.locator("#map-facts")).to_contain_text("36 of 36 songs")
    expect(page.locator("#map-facts")).to_contain_text("80%")

    page.select_option("#colour-by", "mood")   # each group has its own strongest mood
    moods = [name.rsplit(" (", 1)[0] for name in song_traces(page, "name")]
    assert len(moods) == 3 and set(moods) <= set(MOOD_COLUMNS)
    assert sorted(len(x) for x in song_traces(page, "x")) == [12, 12, 12]

    page.fill("#highlight", "jazz artist 1")   # 4 of the 12 jazz songs
    expect(page.locator("#highlight-count")).to_have_text("4 songs ringed in red")
    ringed = page.evaluate("""() => document.getElementById("map-plot").data
                              .filter((trace) => trace.name === "highlighted").map((trace) => trace.text)""")
    assert len(ringed) == 1 and all("Jazz artist 1" in text for text in ringed[0])

    # Select the jazz corner through Plotly's own selection API: a box drawn as a layout selection.
    page.evaluate("""() => Plotly.relayout("map-plot", {dragmode: "select", selections: [
                       {type: "rect", xref: "x", yref: "y", x0: -2, x1: 2, y0: -2, y1: 2}]})""")
    expect(page.locator("#selection table.tracks tbody tr")).to_have_count(12)
    expect(page.locator("#selection-title")).to_have_text("12 selected songs")
    page.screenshot(path=str(ARTIFACTS / "map.png"), full_page=True)
    page.fill("#selection .playlist-name", "Jazz corner")
    page.click("#selection .create-playlist")
    expect(page.locator("#selection .playlist-result")).to_contain_text("Created “Jazz corner”")
    saved = playlist_files(playlist_dir / "Jazz corner.m3u8")
    assert saved == files_of_rows(page, music_dir, "#selection")
    assert sorted(saved) == sorted(str(music_dir / "Jazz album" / f"jazz-{n}.wav") for n in range(12))

    # A lasso as well: Plotly's lasso path around the metal group adds its songs.
    page.evaluate("""() => Plotly.relayout("map-plot", {dragmode: "lasso", selections: [
                       {type: "path", xref: "x", yref: "y", path: "M7,-8L13,-8L13,-2L7,-2Z"}]})""")
    expect(page.locator("#selection-title")).to_have_text("12 selected songs")
    expect(page.locator("#selection table.tracks tbody tr").first).to_contain_text("Metal")

    # A click on a song lists its real neighbours and draws lines to them.
    page.evaluate("""() => { const plot = document.getElementById("map-plot");
                             const songs = plot.data.findIndex((trace) => trace.meta === "songs");
                             plot.emit("plotly_click", {points: [{data: plot.data[songs], curveNumber: songs,
                                                                  pointIndex: 0}]}); }""")
    expect(page.locator("#neighbours table.tracks tbody tr")).to_have_count(10)
    expect(page.locator("#neighbours-title")).to_contain_text("Nearest in sound to")

    # A song path and an alchemy drawn over the map, at the songs' places on it.
    pick(page, "#path-start", "Jazz 1", "Jazz 1")
    pick(page, "#path-end", "Ambient 2", "Ambient 2")
    page.click("#show-path")
    expect(page.locator("#overlay-notice")).to_contain_text("drawn in orange")
    pick(page, "#alchemy-song", "Metal 3", "Metal 3")
    page.click("#show-alchemy")
    expect(page.locator("#overlay-notice")).to_contain_text("drawn in teal")
    drawn = page.evaluate("""() => Object.fromEntries(document.getElementById("map-plot").data
                              .filter((trace) => trace.meta === "overlay").map((trace) => [trace.name, trace.x]))""")
    assert len(drawn["song path"]) == 25 and len(drawn["alchemy result"]) == 26
    assert drawn["song path"][0] < 2 and drawn["song path"][-1] > 18   # from the jazz corner to the ambient one
    assert len([x for x in drawn["real neighbours"] if x is not None]) == 20
    page.screenshot(path=str(ARTIFACTS / "map-overlays.png"), full_page=True)
    assert blocked == []


def test_without_a_map_the_page_says_so_and_offers_to_draw_it(live_server, page, library):
    from playwright.sync_api import expect
    page.goto(live_server + "/map")
    expect(page.locator("#map-notice")).to_have_text(NO_MAP)
    expect(page.locator("#draw-map")).to_be_visible()
    expect(page.locator("#map-plot")).to_be_hidden()
    page.click("#draw-map")
    # Without tasks/map.py on this server the refit is refused (503), and the page says why.
    expect(page.locator("#map-notice")).to_have_text(re.compile("Drawing the map|map task is not available"))
