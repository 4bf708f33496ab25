"""The automatic-playlists page in headless Chromium: start a search, watch it, read the cards, push .m3u8 files."""
import uuid

import numpy as np
import pytest

import config
from analysis.labels import MSD_LABELS, MTT_LABELS
from db.models import MOOD_COLUMNS, Track, TrackTags
from db.session import session_scope
from mediaserver.local import decode_id
from tests.conftest import wait_for
from tests.library import make_library
from tests.pages import ARTIFACTS, playlist_files
from tests.support import sign_in

pytestmark = pytest.mark.browser
# Each group sounds like one tag, one mood, a tempo and a loudness, as an analysed library's genres would.
GROUPS = {"jazz": 16, "metal": 16, "ambient": 16}
SOUND = {"jazz": ("jazz", "piano", "relaxed", 100.0, 0.4),
         "metal": ("metal", "metal", "aggressive", 160.0, 0.9),
         "ambient": ("ambient", "ambient", "sad", 70.0, 0.1)}
SEED = 7


def describe(library) -> None:
    """Give every track of the library the tags, moods, tempo and energy of its group, with a little noise."""
    rng = np.random.default_rng(SEED)
    with session_scope() as session:
        for group, names in library.groups.items():
            msd_tag, mtt_tag, mood, tempo, energy = SOUND[group]
            for name in names:
                track_id = library.ids[name]
                msd = rng.uniform(0, 0.15, len(MSD_LABELS))
                msd[MSD_LABELS.index(msd_tag)] = rng.uniform(0.6, 0.9)
                mtt = rng.uniform(0, 0.15, len(MTT_LABELS))
                mtt[MTT_LABELS.index(mtt_tag)] = rng.uniform(0.6, 0.9)
                session.add_all([TrackTags(track_id=track_id, vocabulary="msd", scores=msd.tolist()),
                                 TrackTags(track_id=track_id, vocabulary="mtt", scores=mtt.tolist())])
                track = session.get(Track, track_id)
                for column in MOOD_COLUMNS:
                    setattr(track, column, float(rng.uniform(0.6, 0.9) if column == mood else rng.uniform(0, 0.3)))
                track.tempo_bpm = float(tempo + rng.uniform(-5, 5))
                track.energy = float(np.clip(energy + rng.uniform(-0.05, 0.05), 0, 1))


@pytest.fixture
def library(env, music_dir, playlist_dir):
    """Analysed tracks that are real files in MUSIC_DIR, so the local provider can write them to a playlist."""
    made = make_library(GROUPS, music_dir=music_dir)
    describe(made)
    return made


@pytest.fixture
def app(library):
    """The web app, created after the library (overrides conftest's `app`)."""
    from app import create_app
    return create_app({"TESTING": True})


def card_files(card, music_dir) -> list[str]:
    """The files behind a card's track list, in order."""
    item_ids = card.locator("ol.track-list li").evaluate_all("items => items.map(item => item.dataset.itemId)")
    return [str(music_dir / decode_id(item_id).decode()) for item_id in item_ids]


def test_a_search_from_the_page_to_pushed_playlists(live_server, page, workers, library, music_dir,
                                                      playlist_dir):
    from playwright.sync_api import expect
    workers.start("high")
    workers.start("clustering")
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(live_server + "/clustering")
    expect(page.locator("nav a[aria-current]")).to_have_text("Automatic")
    expect(page.locator("#result-summary")).to_contain_text("No automatic playlists yet")
    expect(page.locator("#push-controls")).to_be_hidden()

    page.click("#advanced summary")
    page.fill("#min-size", "20")
    page.fill("#max-size", "10")
    page.click("#start")                                   # the server refuses it, and says why
    expect(page.locator("#notice.error")).to_have_text("min_size must not be larger than max_size")
    page.fill("#min-size", "")
    page.fill("#max-size", "")
    page.check("input[name=preset][value=thorough]")
    page.click("#start")
    expect(page.locator("#run-title")).to_have_text("Search running")
    page.click("#cancel")                                  # an admin stops a run
    expect(page.locator("#run-status")).to_have_text("cancelled")
    expect(page.locator("#run-title")).to_have_text("Last search")
    expect(page.locator("#cancel")).to_be_hidden()
    page.fill("#runs", "6")
    page.fill("#seed", str(SEED))
    page.check("input[name=preset][value=quick]")
    page.click("#start")
    expect(page.locator("#notice")).to_have_text("Search started.")
    expect(page.locator("#run-title")).to_have_text("Search running")   # the task exists before the answer
    expect(page.locator("#cancel")).to_be_visible()
    expect(page.locator("#run-bar")).to_be_visible()
    expect(page.locator("#start")).to_be_disabled()

    cards = page.locator(".playlist-card")
    expect(page.locator("#run-title")).to_have_text("Last search", timeout=90_000)
    expect(page.locator("#run-status")).to_have_text("finished")
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#run-facts .fact-runs")).to_have_text("6 of at most 6")
    expect(page.locator("#run-facts .fact-seed")).to_have_text(str(SEED))
    ceiling = sum(config.CLUSTER_SCORE_WEIGHTS.values())
    expect(page.locator("#run-facts .fact-best")).to_contain_text(f" of at most {ceiling:g}: ")
    expect(page.locator('#best-breakdown li[data-measure="purity"]')).to_contain_text("Coherence")
    expect(page.locator('#best-breakdown li[data-measure="placeable_share"]')).to_contain_text("Fillable")
    expect(page.locator("#start")).to_be_enabled()
    count = cards.count()
    assert count >= 2, page.locator("#run").inner_text()
    expect(page.locator("#result-title")).to_have_text(f"{count} playlists")
    expect(page.locator(".playlist-card .badge")).to_have_text(["new"] * count)
    first = cards.first
    size = int(first.locator(".playlist-size").inner_text().split()[0])
    expect(first.locator("ol.track-list li")).to_have_count(size)
    expect(first.locator("ol.track-list")).to_be_hidden()           # the songs open on demand
    first.locator("details.tracks summary").click()
    expect(first.locator("ol.track-list")).to_be_visible()
    expect(first.locator("ul.profile")).to_contain_text("BPM")

    page.click("#push-selected")                                    # nothing ticked
    expect(page.locator("#push-summary")).to_have_text("Tick the playlists to push first, or push all.")
    first.locator("input.pick-playlist").check()
    page.click("#push-selected")
    expect(page.locator("#push-summary")).to_have_text("Pushed 1 playlist.", timeout=20_000)
    expect(page.locator(".push-result:visible")).to_have_count(1)
    expect(first.locator(".push-result")).to_contain_text("Pushed to ")
    assert len(list(playlist_dir.glob("*.m3u8"))) == 1
    page.click("#push-all")                                         # the first one is replaced, not doubled
    expect(page.locator("#push-summary")).to_have_text(f"Pushed {count} playlists.", timeout=20_000)
    expect(page.locator(".push-result:visible")).to_have_count(count)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "clustering.png"), full_page=True)
    for n in range(count):
        card = cards.nth(n)
        written = card.locator(".push-result code.push-where").inner_text()
        name = card.locator(".playlist-name").inner_text()
        assert written == str(playlist_dir / f"{name}.m3u8")
        assert playlist_files(playlist_dir / f"{name}.m3u8") == card_files(card, music_dir)
    assert len(list(playlist_dir.glob("*.m3u8"))) == count
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "clustering-admin-phone.png"), full_page=True)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"
    assert blocked == []


def _stored_set(library):
    """Two runs' playlists in the store, as two finished searches leave them; (current playlists, retired)."""
    from db import clustering as results
    from tasks import store
    profile = {"top_tags": [["jazz", 0.9], ["instrumental", 0.4]], "top_moods": [["relaxed", 0.75]],
               "tempo": [95, 105], "energy": [0.35, 0.45], "central_track_ids": [], "size": 6}
    jazz = [library.ids[name] for name in library.groups["jazz"]]
    metal = [library.ids[name] for name in library.groups["metal"]]
    def finish(task_id, retired, **pushed):
        store.write(task_id, 0, message="2 playlists", final_status="SUCCESS", details={**pushed, "result": {
            "retired": retired, "naming": {
                "used_ai": False, "note": "The AI server did not answer: the new playlists have plain names."}}})

    runs = [str(uuid.uuid4()), str(uuid.uuid4())]
    store.create(runs[0], "clustering", "high", 60, {}, parent_id=None)
    before = results.save_set(runs[0], [
        results.NewPlaylist("Late-night jazz", jazz[:6], profile, "a clear group", None),
        results.NewPlaylist("Loud guitars", metal[:6], profile, "a clear group", None)])
    finish(runs[0], [])
    store.create(runs[1], "clustering", "high", 60, {}, parent_id=None)
    now = results.save_set(runs[1], [
        results.NewPlaylist("Late-night jazz", jazz[:7], profile, "its songs share jazz and piano", before[0]),
        results.NewPlaylist("Quiet Ambient, 65-75 BPM (auto)",
                            [library.ids[name] for name in library.groups["ambient"][:6]],
                            {**profile, "top_tags": [["ambient", 0.8]], "energy": [0.05, 0.15]},
                            "unlike any other group", None)])
    finish(runs[1], [{"id": before[1], "name": "Loud guitars"}], pushed={   # the run was started with "push"
        "pushed": [{"id": now[0], "name": "Late-night jazz", "remote_id": "17", "url": "https://media.example/p/17",
                    "note": None}],
        "failed": [{"id": now[1], "name": "Quiet Ambient, 65-75 BPM (auto)", "error": "the server said no"}],
        "deleted": [{"id": before[1], "name": "Loud guitars"}]})
    return now, before[1]


def test_a_listener_reads_the_playlists_on_a_phone(live_server, browser_page, library):
    from playwright.sync_api import expect
    page = browser_page
    current, retired = _stored_set(library)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "listener")
    page.goto(live_server + "/clustering")
    expect(page.locator(".playlist-card")).to_have_count(2)
    expect(page.locator("#start")).to_have_count(0)
    expect(page.locator("#clustering-form")).to_have_count(0)
    expect(page.locator("#admin-starts")).to_contain_text("An admin starts runs")
    expect(page.locator("#cancel")).to_have_count(0)
    expect(page.locator(".playlist-name")).to_have_text(["Late-night jazz", "Quiet Ambient, 65-75 BPM (auto)"])
    expect(page.locator(".playlist-card .badge")).to_have_text(["kept from the last run", "new"])
    jazz = page.locator(f'.playlist-card[data-playlist-id="{current[0]}"]')
    expect(jazz.locator(".playlist-size")).to_have_text("7 songs")
    expect(jazz.locator("ul.profile li")).to_have_text([
        "Tags: jazz in 90% of its songs, instrumental in 40%", "Moods: relaxed 0.75 (each 0–1)",
        "Tempo: 95–105 BPM", "Energy: 0.35–0.45 on a scale from 0 (quiet) to 1 (loud)"])
    expect(jazz.locator(".reason")).to_have_text("Why it is here: its songs share jazz and piano")
    jazz.locator("details.tracks summary").click()
    expect(jazz.locator("ol.track-list li").first).to_have_text("Jazz 0 — Jazz artist 0")
    expect(page.locator("#result-summary")).to_contain_text("1 kept from the last run, 1 new, 1 retired")
    expect(page.locator("#naming-note")).to_have_text(
        "The AI server did not answer: the new playlists have plain names.")
    expect(page.locator("#run-title")).to_have_text("Last search")
    expect(page.locator("#push-summary")).to_have_text(
        "When the run ended, it pushed 1 playlist, deleted 1 retired, 1 failed.")
    expect(jazz.locator(".push-result a")).to_have_attribute("href", "https://media.example/p/17")
    expect(page.locator(f'.playlist-card[data-playlist-id="{current[1]}"] .push-result')).to_have_text(
        "Not pushed: the server said no")
    expect(page.locator(f'#retired-list li[data-playlist-id="{retired}"]')).to_have_text(
        "Loud guitars (deleted from the media server)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "clustering-phone.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 390, f"the page is {overflow} px wide on a 390 px screen"


def test_the_page_shows_an_api_error_as_a_notice(live_server, page):
    from playwright.sync_api import expect
    page.route("**/api/clustering", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"error": "the database is not answering"}'))
    page.goto(live_server + "/clustering")
    expect(page.locator("#notice.error")).to_have_text(
        "Could not load the automatic playlists: the database is not answering")
    expect(page.locator("#result-summary")).to_have_text("")
    page.unroute("**/api/clustering")
    wait_for(lambda: page.locator("#notice").is_hidden(), timeout=40, message="the notice to clear")
    expect(page.locator("#result-summary")).to_contain_text("No automatic playlists yet")
