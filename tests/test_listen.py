"""Listening before pushing (issue 15): GET /api/stream/<item_id> relays a track's audio through Sonarium.

The local folder end to end (whole file, ranges, 416, path safety, sign-in);
the other providers' `stream` is tested in their own files, against supysonic
(tests/test_navidrome.py) and the vendor-checked fakes (tests/test_jellyfin.py,
tests/test_lyrion.py).
"""
import re
import time
import wave

import pytest

from db.models import Track
from db.session import session_scope
from mediaserver.base import AudioStream, NotFound, ProviderError
from mediaserver.local import LocalProvider, decode_id, encode_id
from tests.library import make_library
from tests.support import signed_in
from tests.test_slow_clients import server  # noqa: F401 (the deployed gunicorn, as a fixture)


@pytest.fixture
def library(env, music_dir):
    return make_library({"jazz": 3, "metal": 3}, music_dir=music_dir)


@pytest.fixture
def app(library):
    from app import create_app
    return create_app({"TESTING": True})


def write_wav(path, seconds: float) -> None:
    """A real WAV (8 kHz, mono, 16 bit: 16 kB a second) a browser can play."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * int(seconds * 8000 * 2 / 256))


@pytest.fixture
def long_track(library, music_dir):
    """A WAV of about 600 kB (several relay pieces), listed in the library; (item id, its bytes)."""
    relative = "Long album/long.wav"
    path = music_dir / relative
    write_wav(path, 37.5)
    item_id = encode_id(relative.encode())
    with session_scope() as session:
        session.add(Track(provider="local", item_id=item_id, title="Long", artist="Nobody"))
    return item_id, path.read_bytes()


def test_whole_file_in_pieces(client, long_track):
    item_id, content = long_track
    answer = client.get(f"/api/stream/{item_id}", buffered=False)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "audio/wav"
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["Content-Length"] == str(len(content))
    assert "Content-Range" not in answer.headers
    pieces = list(answer.response)
    assert len(pieces) > 1 and b"".join(pieces) == content   # relayed in pieces, not read whole
    answer.close()


@pytest.mark.parametrize("asked, first, last", [
    ("bytes=0-0", 0, 0), ("bytes=10-99", 10, 99), ("bytes=300000-", 300000, None), ("bytes=-16", -16, None),
    ("bytes=100-99999999", 100, None)])
def test_ranges(client, long_track, asked, first, last):
    item_id, content = long_track
    size = len(content)
    first = first % size
    last = size - 1 if last is None else last
    answer = client.get(f"/api/stream/{item_id}", headers={"Range": asked})
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    assert answer.headers["Content-Length"] == str(last - first + 1)
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.data == content[first:last + 1]


def test_long_ranges_are_answered_a_piece_at_a_time(client, library, music_dir):
    from app_listen import MAX_ANSWER_BYTES
    relative = "Long album/longer.wav"
    write_wav(music_dir / relative, 200)
    content = (music_dir / relative).read_bytes()
    item_id = encode_id(relative.encode())
    with session_scope() as session:
        session.add(Track(provider="local", item_id=item_id, title="Longer"))
    start, size = 5, len(content)
    answer = client.get(f"/api/stream/{item_id}", headers={"Range": f"bytes={start}-"})
    assert answer.status_code == 206 and len(answer.data) == MAX_ANSWER_BYTES < size - start
    assert answer.headers["Content-Range"] == f"bytes {start}-{start + MAX_ANSWER_BYTES - 1}/{size}"
    assert answer.data == content[start:start + MAX_ANSWER_BYTES]
    assert client.get(f"/api/stream/{item_id}").data == content        # no Range: the whole file


def test_unsatisfiable_and_ignored_ranges(client, long_track):
    item_id, content = long_track
    size = len(content)
    answer = client.get(f"/api/stream/{item_id}", headers={"Range": f"bytes={size}-"})
    assert answer.status_code == 416 and answer.headers["Content-Range"] == f"bytes */{size}"
    assert answer.get_json()["status"] == 416 and "outside the file" in answer.get_json()["error"]
    for ignored in ("bytes=0-1,5-6", "lines=1-2", "bytes=9-5", "nonsense"):   # HTTP lets a server send it all
        answer = client.get(f"/api/stream/{item_id}", headers={"Range": ignored})
        assert answer.status_code == 200 and answer.data == content, ignored


def test_a_library_track_plays_for_a_listener(app, library, music_dir):
    listener = signed_in(app.test_client(), role="listener")
    item_id = library.item_ids["jazz-1"]
    answer = listener.get(f"/api/stream/{item_id}")
    assert answer.status_code == 200
    assert answer.data == (music_dir / decode_id(item_id).decode()).read_bytes()
    assert answer.headers["Cache-Control"] == "no-store"


def test_signed_out_refused(anonymous, library):
    answer = anonymous.get(f"/api/stream/{library.item_ids['jazz-1']}")
    assert answer.status_code == 401 and answer.is_json and "audio" not in answer.content_type


def test_unknown_ids_and_gone_files(client, library, music_dir):
    answer = client.get(f"/api/stream/{encode_id(b'Jazz album/not-there.wav')}")
    assert answer.status_code == 404 and answer.get_json()["status"] == 404
    assert client.get("/api/stream/" + "x" * 600).status_code == 404
    gone = library.item_ids["metal-0"]
    (music_dir / decode_id(gone).decode()).unlink()          # analysed, then deleted from the folder
    answer = client.get(f"/api/stream/{gone}")
    assert answer.status_code == 404 and "no such track" in answer.get_json()["error"]


def test_path_traversal_refused(client, env, music_dir, tmp_path):
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF not yours")
    sneaky = [encode_id(b"../secret.wav"), encode_id(str(secret).encode()),
              encode_id(b"Jazz album/../../secret.wav")]
    with session_scope() as session:    # even ids that made it into the library (they never would)
        session.add_all(Track(provider="local", item_id=item_id, title="Sneaky") for item_id in sneaky)
    for item_id in sneaky:
        answer = client.get(f"/api/stream/{item_id}")
        assert answer.status_code == 404, item_id
        assert b"not yours" not in answer.data
    provider = LocalProvider(music_dir, tmp_path / "playlists")
    for item_id in sneaky:
        with pytest.raises(NotFound):
            provider.stream(item_id)


def test_head_and_closed_streams_release_the_file(client, long_track):
    item_id, content = long_track
    answer = client.head(f"/api/stream/{item_id}")
    assert answer.status_code == 200 and answer.headers["Content-Length"] == str(len(content))
    assert answer.data == b""


def test_only_media_types_are_relayed(client, library, monkeypatch):
    """A server (or a proxy before it) that answers with a page must not have it served as Sonarium's."""
    def html(self, track_id, byte_range=None):
        page = b"<script src=/x.js></script>"
        return AudioStream(200, "text/html; charset=utf-8", iter([page]), lambda: None, len(page), len(page))
    monkeypatch.setattr(LocalProvider, "stream", html)
    answer = client.get(f"/api/stream/{library.item_ids['jazz-1']}")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/octet-stream"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_stream_that_breaks_off_ends_short(client, library, monkeypatch, caplog):
    """Once the audio has begun there is no error answer left to give: the relay ends, the log says why."""
    def broken_pieces():
        yield b"RIFF...."
        raise ProviderError("the stream from Jellyfin broke off")

    def broken(self, track_id, byte_range=None):
        return AudioStream(200, "audio/wav", broken_pieces(), lambda: None, 1000, 1000)
    monkeypatch.setattr(LocalProvider, "stream", broken)
    answer = client.get(f"/api/stream/{library.item_ids['jazz-1']}")
    assert answer.status_code == 200 and answer.data == b"RIFF...."
    assert "a preview stopped early: the stream from Jellyfin broke off" in caplog.text


def test_through_the_deployed_web_server(server, long_track):
    """gunicorn's asyncio worker and a2wsgi relay the pieces as Flask yields them, ranges included."""
    import http.client
    port, token = server
    item_id, content = long_track
    for asked, status, expected in ((None, 200, content), ("bytes=1000-", 206, content[1000:])):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", f"/api/stream/{item_id}", headers={
            "Authorization": f"Bearer {token}", **({"Range": asked} if asked else {})})
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("Content-Type")) == (status, "audio/wav")
        assert answer.getheader("Content-Length") == str(len(expected)) and answer.read() == expected
        connection.close()


def test_paused_players_do_not_hold_the_web_threads(server, env, music_dir):
    """A paused player stops reading its answer. Unbounded answers then held a web thread each and
    four of them froze the server; answers of at most MAX_ANSWER_BYTES leave the threads free."""
    import socket

    from tests.test_slow_clients import _live_seconds
    port, token = server
    (music_dir / "long.wav").write_bytes(b"RIFF" + bytes(8 * 1024 * 1024))
    item_id = encode_id(b"long.wav")
    with session_scope() as session:
        session.add(Track(provider="local", item_id=item_id, title="Long"))
    paused = []
    try:
        for _ in range(8):
            player = socket.create_connection(("127.0.0.1", port))
            player.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            player.sendall(f"GET /api/stream/{item_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           f"Authorization: Bearer {token}\r\nRange: bytes=0-\r\n\r\n".encode())
            paused.append(player)       # and never read
        time.sleep(2)
        seconds = _live_seconds(port)
        assert seconds is not None and seconds < 1, seconds
    finally:
        for player in paused:
            player.close()


@pytest.mark.browser
def test_play_buttons_on_the_similar_page(live_server, page, library, music_dir):
    """Press play on a result row: the page's one player loads Sonarium's own /api/stream/... and the
    audio arrives; another row's button switches to its song; nothing else is asked of anyone."""
    from playwright.sync_api import expect

    from tests.pages import pick
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(live_server + "/similarity")
    pick(page, "#seed", "jazz 1", "Jazz 1")
    page.fill("#n", "4")
    page.click("#run")
    rows = page.locator("table.tracks tbody tr")
    expect(rows).to_have_count(4)
    item_id = rows.nth(0).evaluate("row => row.dataset.itemId")
    write_wav(music_dir / decode_id(item_id).decode(), 200)     # 3.2 MB: several answers, so seeking is tried
    answers = []
    page.on("response", lambda answer: answers.append((answer.status, answer.headers.get("content-range")))
            if "/api/stream/" in answer.url else None)
    first, second = (rows.nth(n).locator("button.play") for n in (0, 1))
    title = rows.nth(0).locator("td:nth-child(2)").inner_text()
    expect(first).to_have_attribute("aria-label", re.compile(f"^Play {re.escape(title)} — "))

    with page.expect_response(lambda answer: "/api/stream/" in answer.url) as streamed:
        first.click()
    assert streamed.value.status in (200, 206)
    audio = page.locator("audio.preview-player")
    expect(audio).to_have_count(1)
    assert audio.evaluate("a => a.currentSrc") == f"{live_server}/api/stream/{item_id}"
    page.wait_for_function("() => document.querySelector('audio.preview-player').readyState >= 1")
    assert audio.evaluate("a => a.error") is None
    expect(first).to_have_attribute("aria-label", re.compile("^Pause "))
    assert 199 < audio.evaluate("a => a.duration") < 201
    audio.evaluate("a => { a.currentTime = 190; }")         # past the first answer's megabyte
    page.wait_for_function("() => { const a = document.querySelector('audio.preview-player');"
                           " return !a.seeking && a.currentTime >= 190 && a.readyState >= 2; }")
    assert audio.evaluate("a => a.error") is None
    assert any(status == 206 and not (span or "").startswith("bytes 0-") for status, span in answers), answers

    with page.expect_response(lambda answer: "/api/stream/" in answer.url) as streamed:
        second.click()
    assert streamed.value.status in (200, 206)
    other = rows.nth(1).evaluate("row => row.dataset.itemId")
    assert audio.evaluate("a => a.currentSrc") == f"{live_server}/api/stream/{other}"
    expect(first).to_have_attribute("aria-label", re.compile("^Play "))
    expect(page.locator("audio")).to_have_count(1)            # one player: one song at a time
    assert all(url.startswith(live_server) for url in asked), asked


@pytest.mark.browser
def test_a_song_that_cannot_play_says_why(live_server, page, library, music_dir):
    from playwright.sync_api import expect

    from tests.pages import pick
    page.goto(live_server + "/similarity")
    pick(page, "#seed", "jazz 1", "Jazz 1")
    page.fill("#n", "3")
    page.click("#run")
    row = page.locator("table.tracks tbody tr").first
    expect(row).to_be_visible()
    (music_dir / decode_id(row.evaluate("row => row.dataset.itemId")).decode()).unlink()   # gone since analysis
    button = row.locator("button.play")
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_attribute("title", re.compile("^Cannot play: no such track in the music folder"))


@pytest.mark.browser
def test_chat_songs_play_too(live_server, page, library):
    """The chat's song list gets the same buttons and the page's one player."""
    from playwright.sync_api import expect
    page.goto(live_server + "/chat")
    page.fill("#message", "jazz songs, 3 songs")
    page.click("#send")
    buttons = page.locator("ol.chat-songs li button.play")
    expect(buttons).to_have_count(3)
    item_id = page.locator("ol.chat-songs li").first.evaluate("li => li.dataset.itemId")
    with page.expect_response(lambda answer: "/api/stream/" in answer.url) as streamed:
        buttons.first.click()
    assert streamed.value.status in (200, 206)
    player = page.locator("audio.preview-player")
    assert player.evaluate("a => a.currentSrc") == f"{live_server}/api/stream/{item_id}"


@pytest.mark.browser
def test_no_preview_turns_every_button_off_with_the_reason(live_server, page, library, monkeypatch):
    from playwright.sync_api import expect

    from tests.pages import pick
    page.goto(live_server + "/similarity")
    pick(page, "#seed", "jazz 1", "Jazz 1")
    page.fill("#n", "3")
    page.click("#run")
    buttons = page.locator("table.tracks tbody tr button.play")
    expect(buttons).to_have_count(3)
    monkeypatch.setenv("MEDIASERVER_TYPE", "jellyfin")       # chosen, but JELLYFIN_URL and the rest unset: 409
    buttons.first.click()
    for n in range(3):
        expect(buttons.nth(n)).to_be_disabled()
    expect(buttons.nth(1)).to_have_attribute("title", re.compile("^No preview: the media server is not configured"))
