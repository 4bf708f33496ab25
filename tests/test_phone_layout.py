"""Every page fits a phone: at 390 px wide nothing makes the page scroll sideways (issue 15)."""
import pytest

from tests.library import make_library
from tests.pages import ARTIFACTS, pick

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def library(env, music_dir, playlist_dir):
    return make_library({"jazz": 8, "metal": 8}, with_tags=True, music_dir=music_dir)


@pytest.fixture
def app(library):
    """The web app, created after the library so it loads its index (overrides conftest's `app`)."""
    from app import create_app
    return create_app({"TESTING": True})


def _overflow(page) -> list[str]:
    """What sticks out past the right edge: the page's width if wider than the screen, and the culprits."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return [];
        const wide = [...document.querySelectorAll("body *")].filter(node => {
            const box = node.getBoundingClientRect();
            return box.width > 0 && box.right > width + 1;
        }).map(node => node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
                       (node.className && typeof node.className === "string" ? "." + node.className : ""));
        return [`page ${document.documentElement.scrollWidth}px`, ...wide.slice(0, 8)];
    }""")


def test_every_page_fits_a_phone(live_server, page):
    from playwright.sync_api import expect
    page.set_viewport_size(PHONE)
    wide = {}
    for path in ("/", "/similarity", "/path", "/alchemy", "/sonic_fingerprint", "/chat", "/clustering",
                 "/map", "/settings", "/account", "/accounts", "/api/docs"):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        if found := _overflow(page):
            wide[path] = found

    page.goto(live_server + "/similarity")                    # with a table of results
    pick(page, "#seed", "jazz 1", "Jazz 1")
    page.click("#run")
    expect(page.locator("table.tracks tbody tr")).to_have_count(15)
    if found := _overflow(page):
        wide["/similarity with results"] = found
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone-similarity.png"), full_page=True)

    page.goto(live_server + "/path")
    pick(page, "#start", "jazz 1", "Jazz 1")
    pick(page, "#end", "metal 2", "Metal 2")
    page.click("#run")
    expect(page.locator("table.tracks tbody tr").first).to_be_visible()
    if found := _overflow(page):
        wide["/path with results"] = found
    assert wide == {}, wide
