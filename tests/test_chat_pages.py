"""The chat page in headless Chromium: ask, read the songs, follow up, save the answer as .m3u8."""
import re

import pytest

import ai_plan
from mediaserver.local import decode_id
from tests.ai_fakes import KEY, MODEL, Reply, serve  # noqa: F401 (fixture)
from tests.library import make_library
from tests.pages import ARTIFACTS, playlist_files

pytestmark = pytest.mark.browser
GROUPS = {"jazz": 10, "metal": 10, "ambient": 10}   # with_tags: metal is the aggressive one (tests/library.py)


@pytest.fixture
def library(env, music_dir, playlist_dir):
    return make_library(GROUPS, with_tags=True, music_dir=music_dir)


@pytest.fixture
def app(library):
    """The web app, created after the library so it loads its index (overrides conftest's `app`)."""
    from app import create_app
    return create_app({"TESTING": True})


def _songs(page):
    return page.locator(".chat-turn").last.locator("ol.chat-songs li .chat-song")


def _ask(page, text):
    page.fill("#message", text)
    page.click("#send")


def test_chat_page(live_server, page, library, music_dir, playlist_dir):
    from playwright.sync_api import expect
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/chat")
    expect(page.locator("nav a[aria-current]")).to_have_text("Chat")
    page.click("#send")
    expect(page.locator(".notice.error")).to_have_text("Type what you would like to hear.")

    _ask(page, "aggressive songs, 6 songs")
    expect(_songs(page)).to_have_count(6)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator(".chat-turn .chat-request")).to_have_text(["aggressive songs, 6 songs"])
    expect(page.locator(".chat-turn .chat-plan").last).to_contain_text("6 songs")
    expect(page.locator("#mode")).to_have_text("Read without an AI.")
    expect(page.locator(".chat-turn .chat-order")).to_contain_text("6 songs, ordered so each song flows")
    expect(page.locator(".chat-turn .why").first).to_have_text(re.compile(r"^(meets every condition|misses )"))
    first = _songs(page).all_inner_texts()
    assert all(song.startswith("Metal ") and " — Metal artist " in song for song in first), first

    _ask(page, "no more than 1 per artist")                   # a follow-up keeps "aggressive, 6 songs"
    expect(page.locator(".chat-turn")).to_have_count(2)
    expect(_songs(page)).to_have_count(6)
    expect(page.locator(".chat-turn .chat-plan").last).to_contain_text("at most 1 per artist")
    refined = _songs(page).all_inner_texts()
    artists = [song.split(" — ")[1] for song in refined]
    assert len(set(artists)) == 6, refined
    assert all(song.startswith("Metal ") for song in refined[:3]), refined   # the three metal artists first
    expect(page.locator(".chat-playlist")).to_have_count(1)                  # only the newest answer saves

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px screen"

    page.fill(".chat-turn >> nth=-1 >> input.playlist-name", "Angry chat")
    page.click("button.create-playlist")
    expect(page.locator(".playlist-result")).to_contain_text("Created “Angry chat”", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)
    saved = playlist_dir / "Angry chat.m3u8"
    assert saved.is_file()
    shown = _songs(page).evaluate_all("items => items.map(song => song.parentElement.dataset.itemId)")
    assert playlist_files(saved) == [str(music_dir / decode_id(item).decode()) for item in shown]

    page.click("#new-conversation")                           # starts anew: no previous plan
    expect(page.locator(".chat-turn")).to_have_count(0)
    _ask(page, "no more than 1 per artist")
    expect(page.locator(".chat-turn .chat-plan")).not_to_contain_text("6 songs")
    assert blocked == []


def test_chat_errors_show_as_a_notice(live_server, page):
    from playwright.sync_api import expect
    page.goto(live_server + "/chat")
    page.evaluate("document.getElementById('message').removeAttribute('maxlength')")
    _ask(page, "x" * 501)
    expect(page.locator(".notice.error")).to_contain_text("message")
    expect(page.locator(".chat-turn")).to_have_count(0)


def test_an_ai_chosen_on_the_page_and_its_query(live_server, page, library, serve):
    """An admin picks an AI for the page's requests; its SQL query is shown with what it picked."""
    from playwright.sync_api import expect
    longest = "SELECT id FROM chat_tracks ORDER BY duration_s DESC LIMIT 2"
    api = serve("openai").reply(Reply(calls=[(ai_plan.TOOL_NAME, {"size": 4}),
                                             (ai_plan.SQL_TOOL_NAME, {"sql": longest})]))
    page.goto(live_server + "/chat")
    expect(page.locator("#ai-current")).to_have_text("none (read without an AI)")
    page.click("#ai-choice summary")
    page.select_option("#ai-provider", "openai")
    page.fill("#ai-url", api.url)
    page.fill("#ai-model", MODEL)
    page.fill("#ai-key", KEY)
    _ask(page, "the two longest songs, then two more")
    expect(_songs(page)).to_have_count(4)
    expect(page.locator("#mode")).to_have_text("Planned by the AI.")
    expect(page.locator(".chat-sql summary")).to_have_text("The AI's SQL query (picked 2 songs)")
    expect(page.locator(".chat-sql code")).to_have_text(longest)
    assert api.problems == [] and api.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in page.content()
