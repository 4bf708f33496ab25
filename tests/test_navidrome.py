"""NavidromeProvider against a real Subsonic server (supysonic on 127.0.0.1) and, for
failures a real server cannot be made to produce, a small fake server in a thread.

supysonic is a test-only dependency (requirements-test.txt; `python3 run.py test` installs it).
The music folder is generated here (short FLAC/OGG tones tagged with mutagen): no network,
no corpus needed.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mediaserver.base import (AuthFailed, DownloadTooLarge, NotFound, NotSupported, ProviderError,
                              RangeNotSatisfiable, Unreachable)
from mediaserver.http import HttpClient
from mediaserver.navidrome import NavidromeProvider
from tests.support import signed_in

USER = "admin"
PASSWORD = "pw-" + secrets.token_hex(8)
BIN = Path(sys.executable).parent

# (relative path, title, artist, album, album artist, disc, track, year, mtime offset)
# Album "Dawn" is the newest (its earliest file is newest), then "Ember", then "Frost".
TRACKS = [
    ("frost/01.flac", "Frost One", "Gamma", "Frost", None, 1, 1, 2001, 0),
    ("ember/01.ogg", "Ember One", "Beta", "Ember", None, 1, 1, 2010, 100),
    ("ember/02.ogg", "Ember Two", "Beta", "Ember", None, 1, 2, 2010, 101),
    ("dawn/d2t1.flac", "Dawn Four", "Alpha", "Dawn", "Alpha Band", 2, 1, 2020, 201),
    ("dawn/d1t2.flac", "Dawn Two", "Alpha", "Dawn", "Alpha Band", 1, 2, 2020, 202),
    ("dawn/d1t1.flac", "Dawn One", "Alpha feat. X", "Dawn", "Alpha Band", 1, 1, 2020, 200),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _make_music(root: Path) -> None:
    base = time.time() - 10_000
    for index, (rel, title, artist, album, album_artist, disc, number, year, offset) in enumerate(TRACKS):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(8000 * 0.4)) / 8000
        audio = (0.2 * np.sin(2 * np.pi * (220 + 40 * index) * t)).astype("float32")
        if rel.endswith(".flac"):
            soundfile.write(path, audio, 8000, format="FLAC")
            tags = FLAC(path)
        else:
            soundfile.write(path, audio, 8000, format="OGG", subtype="VORBIS")
            tags = OggVorbis(path)
        tags["title"], tags["artist"], tags["album"] = title, artist, album
        tags["tracknumber"], tags["discnumber"], tags["date"] = str(number), str(disc), str(year)
        if album_artist:
            tags["albumartist"] = album_artist
        tags.save()
        os.utime(path, (base + offset, base + offset))


def _cli(workdir: Path, *args: str) -> None:
    done = subprocess.run([str(BIN / "supysonic-cli"), *args], cwd=workdir, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"supysonic-cli {args[:2]} failed: {done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def supysonic(tmp_path_factory):
    """A running supysonic with the generated library; yields (base_url, music_dir)."""
    try:
        import supysonic  # noqa: F401
        import waitress  # noqa: F401
    except ImportError:
        pytest.skip(reason="supysonic is not installed: python3 run.py test installs requirements-test.txt")
    if not (BIN / "supysonic-cli").exists() or not (BIN / "supysonic-server").exists():
        pytest.skip(reason=f"supysonic-cli/supysonic-server not found in {BIN}: reinstall supysonic in this venv")
    work = tmp_path_factory.mktemp("supysonic")
    music = work / "music"
    _make_music(music)
    (work / "supysonic.conf").write_text(
        f"[base]\ndatabase_uri = sqlite:///{work}/supysonic.db\n"
        f"[webapp]\ncache_dir = {work}/cache\n"
        f"[daemon]\nsocket = {work}/supysonic.sock\nrun_watcher = no\n")
    _cli(work, "user", "add", USER, "-p", PASSWORD)
    _cli(work, "user", "setroles", "--admin", USER)
    _cli(work, "folder", "add", "Library", str(music))
    _cli(work, "folder", "scan", "--foreground", "Library")
    port = _free_port()
    log = open(work / "server.log", "wb")
    server = subprocess.Popen([str(BIN / "supysonic-server"), "-S", "waitress", "-h", "127.0.0.1", "-p", str(port)],
                              cwd=work, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                pytest.fail(f"supysonic-server exited: {(work / 'server.log').read_text()[-2000:]}")
            try:
                answer = requests.get(base + "/rest/ping.view", params={"u": USER, "p": PASSWORD, "c": "t",
                                                                        "v": "1.12.0", "f": "json"}, timeout=2)
                if answer.json()["subsonic-response"]["status"] == "ok":
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("supysonic did not answer ping within 30 s")
            time.sleep(0.2)
        yield base, music
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def provider(supysonic):
    return NavidromeProvider(supysonic[0], USER, PASSWORD, auth="password", client="sonarium-test")


def _raises(kind, call, *args, **kwargs) -> ProviderError:
    with pytest.raises(kind) as caught:
        call(*args, **kwargs)
    assert PASSWORD not in str(caught.value)
    return caught.value


def _track_by_title(provider) -> dict:
    return {t.title: t for album in provider.iter_albums() for t in provider.album_tracks(album.id)}


# -- against supysonic ---------------------------------------------------------------
def test_connection(provider):
    summary = provider.test_connection()
    assert summary == "Navidrome answered: Subsonic API 1.12.0, 1 music folder"


def test_albums_newest_first_and_paged(provider):
    albums = provider.albums(0, 10)
    assert [a.name for a in albums] == ["Dawn", "Ember", "Frost"]
    dawn = albums[0]
    assert isinstance(dawn.id, str) and dawn.artist in ("Alpha Band", "Alpha") and dawn.track_count == 3
    assert dawn.year == 2020 and dawn.added_at is not None
    assert [a.name for a in provider.albums(1, 1)] == ["Ember"]
    assert [a.name for a in provider.albums(2, 5)] == ["Frost"]
    assert provider.albums(3, 5) == []
    assert [a.id for a in provider.iter_albums(page=2)] == [a.id for a in albums]
    assert [a.id for a in provider.iter_albums(page=1)] == [a.id for a in albums]


def test_album_tracks_fields_and_order(provider):
    dawn = provider.albums(0, 1)[0]
    tracks = provider.album_tracks(dawn.id)
    assert [(t.disc_number, t.track_number, t.title) for t in tracks] == [
        (1, 1, "Dawn One"), (1, 2, "Dawn Two"), (2, 1, "Dawn Four")]
    first = tracks[0]
    assert isinstance(first.id, str) and first.artist == "Alpha feat. X" and first.album == "Dawn"
    assert first.album_artist in ("Alpha Band", "Alpha")   # supysonic songs carry no albumArtist
    assert first.year == 2020 and first.format == "flac" and first.album_id == dawn.id
    assert first.duration is not None and first.duration >= 0
    ember = provider.albums(1, 1)[0]
    assert [t.format for t in provider.album_tracks(ember.id)] == ["ogg", "ogg"]
    _raises(NotFound, provider.album_tracks, "00000000-0000-0000-0000-000000000000")


def test_download_original_bytes(provider, supysonic, tmp_path):
    music = supysonic[1]
    by_title = _track_by_title(provider)
    for rel, title, *_ in TRACKS[:3]:
        path = provider.download(by_title[title].id, tmp_path)
        assert path.parent == tmp_path and path.suffix == Path(rel).suffix
        assert path.read_bytes() == (music / rel).read_bytes()
    assert len(list(tmp_path.iterdir())) == 3
    # a fresh provider does not know the suffix yet: it asks getSong
    fresh = NavidromeProvider(supysonic[0], USER, PASSWORD, auth="password")
    other = tmp_path / "fresh"
    other.mkdir()
    path = fresh.download(by_title["Ember Two"].id, other)
    assert path.suffix == ".ogg" and path.read_bytes() == (music / "ember/02.ogg").read_bytes()
    assert list(other.iterdir()) == [path]
    # unknown track; too large: nothing left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    _raises(NotFound, provider.download, "00000000-0000-0000-0000-000000000000", empty)
    _raises(DownloadTooLarge, provider.download, by_title["Dawn One"].id, empty, max_bytes=100)
    assert list(empty.iterdir()) == []


def _read(audio) -> bytes:
    try:
        return b"".join(audio.chunks)
    finally:
        audio.close()


def test_stream_for_preview_whole_and_ranged(provider, supysonic):
    """supysonic ignores Range on a POST (werkzeug's file answers honour it for GET only): the
    provider cuts the range itself; with GET, supysonic answers 206 itself. Same bytes either way."""
    track_id = _track_by_title(provider)["Ember Two"].id
    content = (supysonic[1] / "ember/02.ogg").read_bytes()
    size = len(content)
    whole = provider.stream(track_id)
    assert (whole.status, whole.length, whole.size, whole.content_range) == (200, size, size, None)
    assert whole.content_type.startswith("audio/ogg") and _read(whole) == content
    for use_get in (False, True):
        provider._use_get = use_get
        part = provider.stream(track_id, "bytes=100-1099")
        assert (part.status, part.length, part.content_range) == (206, 1000, f"bytes 100-1099/{size}"), use_get
        assert _read(part) == content[100:1100]
        tail = provider.stream(track_id, "bytes=-10")
        assert tail.content_range == f"bytes {size - 10}-{size - 1}/{size}" and _read(tail) == content[-10:]
        assert _raises(RangeNotSatisfiable, provider.stream, track_id, f"bytes={size}-").size == size
    _raises(NotFound, provider.stream, "00000000-0000-0000-0000-000000000000")


def test_stream_api_relays_from_subsonic(supysonic, provider, env, monkeypatch, caplog):
    """GET /api/stream/<id> with Navidrome settings: the password never reaches the browser's side."""
    caplog.set_level("DEBUG")      # every log line, the requests library's included
    from app import create_app
    from db.models import Track
    from db.session import session_scope
    track = _track_by_title(provider)["Dawn Two"]
    with session_scope() as session:
        session.add(Track(provider="navidrome", item_id=track.id, title=track.title, artist=track.artist))
    for name, value in (("MEDIASERVER_TYPE", "navidrome"), ("NAVIDROME_URL", supysonic[0]), ("NAVIDROME_USER", USER),
                        ("NAVIDROME_PASSWORD", PASSWORD), ("NAVIDROME_AUTH", "password")):
        monkeypatch.setenv(name, value)
    client = signed_in(create_app({"TESTING": True}).test_client(), role="listener")
    content = (supysonic[1] / "dawn/d1t2.flac").read_bytes()
    answer = client.get(f"/api/stream/{track.id}", headers={"Range": "bytes=4-"})
    assert answer.status_code == 206 and answer.data == content[4:]
    assert answer.headers["Content-Range"] == f"bytes 4-{len(content) - 1}/{len(content)}"
    assert answer.headers["Content-Type"].startswith("audio/flac") and answer.headers["Accept-Ranges"] == "bytes"
    assert PASSWORD not in str(answer.headers)
    assert client.get("/api/stream/not-in-the-library").status_code == 404
    assert PASSWORD not in caplog.text


def test_playlists_create_replace_delete(provider):
    assert provider.playlists() == []            # supysonic: "playlists": {} without "playlist"
    ids = [t.id for t in _track_by_title(provider).values()]
    wanted = [ids[2], ids[0], ids[4]]
    playlist_id = provider.create_playlist("Sonarium test", wanted)
    assert isinstance(playlist_id, str)
    listed = provider.playlists()
    assert [(p.id, p.name, p.track_count) for p in listed] == [(playlist_id, "Sonarium test", 3)]
    assert provider.playlist_track_ids(playlist_id) == wanted
    # a second playlist of the same name is found as the new one
    twin = provider.create_playlist("Sonarium test", [ids[1]])
    assert twin != playlist_id and provider.playlist_track_ids(twin) == [ids[1]]
    provider.delete_playlist(twin)

    replacement = [ids[5], ids[3], ids[0], ids[1]]
    new_id = provider.replace_playlist(playlist_id, "Sonarium test 2", replacement)
    assert provider.playlist_track_ids(new_id) == replacement
    listed = provider.playlists()
    assert [(p.name, p.track_count) for p in listed] == [("Sonarium test 2", 4)]
    assert provider.replace_playlist(new_id, "Sonarium test 2", []) == new_id
    assert provider.playlist_track_ids(new_id) == []
    provider.delete_playlist(new_id)
    assert provider.playlists() == []
    _raises(NotFound, provider.delete_playlist, new_id)


def test_long_playlist_in_batches_by_post(supysonic):
    provider = NavidromeProvider(supysonic[0], USER, PASSWORD, auth="password", batch_size=2)
    seen: list[tuple[str, str]] = []
    provider.http.session.hooks["response"].append(lambda r, *a, **k: seen.append((r.request.method, r.url)))
    ids = [t.id for t in _track_by_title(provider).values()]
    wanted = ids + ids[:3]                      # 9 entries, repeats kept: 5 calls of 2
    playlist_id = provider.create_playlist("Long", wanted)
    assert provider.playlist_track_ids(playlist_id) == wanted
    replaced = list(reversed(ids)) + [ids[0]]
    assert provider.replace_playlist(playlist_id, "Long", replaced) == playlist_id
    assert provider.playlist_track_ids(playlist_id) == replaced
    assert [p.name for p in provider.playlists()] == ["Long"]
    provider.delete_playlist(playlist_id)
    writes = [(m, u) for m, u in seen if "Playlist" in u and "getPlaylist" not in u]
    assert sum("updatePlaylist" in u for _, u in writes) >= 4
    assert all(m == "POST" and "?" not in u for m, u in writes)     # credentials and ids in the body
    assert all(PASSWORD not in u for _, u in seen if "download" not in u)


def test_history_after_streaming(provider, supysonic):
    assert provider.listening_history() == []    # nothing played yet
    by_title = _track_by_title(provider)
    ember_two = by_title["Ember Two"]
    answer = requests.get(supysonic[0] + "/rest/stream.view", timeout=10, params={
        "u": USER, "p": PASSWORD, "c": "player", "v": "1.12.0", "id": ember_two.id, "format": "raw"})
    assert answer.status_code == 200 and answer.content == (supysonic[1] / "ember/02.ogg").read_bytes()
    # supysonic counted the play (album order) but reports no per-track counts
    played = provider.played_albums()
    assert [a.name for a in played] == ["Ember"]
    error = _raises(NotSupported, provider.listening_history)
    assert "no per-track play counts" in str(error) and "'Ember'" in str(error)


def test_token_mode_tells_to_use_password_mode(supysonic):
    provider = NavidromeProvider(supysonic[0], USER, PASSWORD)      # token is the default
    for call in (provider.test_connection, lambda: provider.albums(0, 5), provider.playlists):
        error = _raises(AuthFailed, call)
        assert "NAVIDROME_AUTH=password" in str(error) and "token" in str(error)


def test_wrong_password(supysonic):
    provider = NavidromeProvider(supysonic[0], USER, PASSWORD + "x", auth="password")
    error = _raises(AuthFailed, provider.test_connection)
    assert str(error) == "Navidrome answered 401: wrong user or password"
    assert PASSWORD + "x" not in str(error)


def test_from_settings(supysonic):
    class Settings:
        navidrome_url, navidrome_user, navidrome_password, navidrome_auth = supysonic[0], USER, PASSWORD, "password"
    assert NavidromeProvider.from_settings(Settings()).test_connection().startswith("Navidrome answered")
    Settings.navidrome_password = None
    assert "NAVIDROME_PASSWORD" in str(_raises(ProviderError, NavidromeProvider.from_settings, Settings()))



def test_create_playlist_api_pushes_in_order_to_subsonic(supysonic, provider, env, monkeypatch):
    """POST /api/create_playlist as the feature pages send it, with Navidrome settings, against supysonic."""
    from app import create_app
    from db.models import Track
    from db.session import session_scope
    tracks = _track_by_title(provider)
    with session_scope() as session:
        session.add_all(Track(provider="navidrome", item_id=t.id, title=t.title, artist=t.artist)
                        for t in tracks.values())
    for name, value in (("MEDIASERVER_TYPE", "navidrome"), ("NAVIDROME_URL", supysonic[0]), ("NAVIDROME_USER", USER),
                        ("NAVIDROME_PASSWORD", PASSWORD), ("NAVIDROME_AUTH", "password")):
        monkeypatch.setenv(name, value)
    client = signed_in(create_app({"TESTING": True}).test_client())
    wanted = [tracks[title].id for title in ("Dawn Two", "Frost One", "Ember Two")]
    answer = client.post("/api/create_playlist", json={"name": "Sonarium API", "item_ids": wanted, "kind": "path"})
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    try:
        assert provider.playlist_track_ids(made["remote_id"]) == wanted
        assert made["url"] == f"{supysonic[0].rstrip('/')}/app/#/playlist/{made['remote_id']}/show"
        again = client.post("/api/create_playlist", json={"name": "Sonarium API", "item_ids": wanted[:1]}).get_json()
        assert [p.name for p in provider.playlists()] == ["Sonarium API"]   # replaced, not duplicated
        assert provider.playlist_track_ids(again["remote_id"]) == wanted[:1]
    finally:
        for playlist in provider.playlists():
            provider.delete_playlist(playlist.id)

# -- failures, against nothing or a fake server ---------------------------------------
def test_server_down(tmp_path):
    port = _free_port()
    provider = NavidromeProvider(f"http://127.0.0.1:{port}", USER, PASSWORD, auth="password")
    error = _raises(Unreachable, provider.test_connection)
    assert str(error) == f"cannot reach http://127.0.0.1:{port}: connection refused"
    _raises(Unreachable, provider.download, "x", tmp_path)
    assert list(tmp_path.iterdir()) == []


def _ok(**body) -> Response:
    return Response(json.dumps({"subsonic-response": {"status": "ok", "version": "1.16.1", **body}}),
                    content_type="application/json")


def _failed(code: int, message: str, xml: bool = False) -> Response:
    if xml:
        return Response(f'<?xml version="1.0"?><subsonic-response xmlns="http://subsonic.org/restapi" '
                        f'status="failed" version="1.16.1"><error code="{code}" message="{message}"/>'
                        f'</subsonic-response>', content_type="text/xml")
    return Response(json.dumps({"subsonic-response": {"status": "failed", "version": "1.16.1",
                                                      "error": {"code": code, "message": message}}}),
                    content_type="application/json")


AUDIO = b"fLaC" + bytes(range(256)) * 40        # 10 KiB of "audio"


class FakeSubsonic:
    """A scriptable Subsonic server: `routes[method]` returns a werkzeug Response."""

    def __init__(self):
        self.routes: dict = {}
        self.calls: list[tuple[str, str, dict]] = []
        self.release = threading.Event()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def app(self, environ, start_response):
        request = Request(environ)
        method = request.path.rsplit("/", 1)[-1].removesuffix(".view")
        self.calls.append((request.method, method, request.values.to_dict(flat=False)))
        route = self.routes.get(method)
        response = route(request) if route else Response("no route", status=404)
        return response(environ, start_response)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    server = FakeSubsonic()
    yield server
    server.close()


@pytest.fixture
def fake_provider(fake):
    return NavidromeProvider(fake.url, USER, PASSWORD, auth="password",
                             http=HttpClient(fake.url, "Navidrome", auth_hint="wrong user or password",
                                             read_timeout=1))


def test_http_500_timeout_malformed(fake, fake_provider):
    fake.routes["ping"] = lambda r: Response("boom", status=500)
    assert str(_raises(ProviderError, fake_provider.test_connection)) == "Navidrome answered 500: server error"
    fake.routes["ping"] = lambda r: Response("{not json", content_type="application/json")
    assert "malformed answer (not JSON)" in str(_raises(ProviderError, fake_provider.test_connection))
    fake.routes["ping"] = lambda r: Response('{"status": "ok"}', content_type="application/json")
    assert "malformed answer (no subsonic-response)" in str(_raises(ProviderError, fake_provider.test_connection))
    fake.routes["ping"] = lambda r: _failed(0, "database is locked")
    assert str(_raises(ProviderError, fake_provider.test_connection)) == \
        "Navidrome error 0 in ping: database is locked"
    fake.routes["ping"] = lambda r: Response("no", status=401)
    assert str(_raises(AuthFailed, fake_provider.test_connection)) == "Navidrome answered 401: wrong user or password"
    fake.routes["getAlbum"] = lambda r: _failed(70, "Album not found")
    _raises(NotFound, fake_provider.album_tracks, "a1")

    def slow(request):
        fake.release.wait(3)
        return _ok()
    fake.routes["ping"] = slow
    started = time.monotonic()
    assert "did not answer within 1 s" in str(_raises(Unreachable, fake_provider.test_connection))
    assert time.monotonic() - started < 2.5


def test_token_parameters_and_openSubsonic_summary(fake):
    fake.routes["ping"] = lambda r: _ok(type="navidrome", serverVersion="0.53.3", openSubsonic=True)
    fake.routes["getMusicFolders"] = lambda r: _ok(musicFolders={"musicFolder": [{"id": 1}, {"id": 2}]})
    provider = NavidromeProvider(fake.url, USER, PASSWORD)
    assert provider.test_connection() == \
        "Navidrome answered: Subsonic API 1.16.1 (navidrome 0.53.3), 2 music folders"
    import hashlib
    for http_method, _, values in fake.calls:
        assert http_method == "POST" and "p" not in values
        assert values["t"] == [hashlib.md5((PASSWORD + values["s"][0]).encode()).hexdigest()]
        assert values["u"] == [USER] and values["f"] == ["json"] and values["c"] == ["sonarium"]
    assert fake.calls[0][2]["s"] != fake.calls[1][2]["s"]       # fresh salt per request
    fake.routes["ping"] = lambda r: _failed(41, "Token authentication not supported for LDAP users")
    assert "NAVIDROME_AUTH=password" in str(_raises(AuthFailed, provider.test_connection))
    fake.routes["ping"] = lambda r: _failed(40, "Wrong username or password")
    assert str(_raises(AuthFailed, provider.test_connection)) == "Navidrome answered 401: wrong user or password"


def test_get_fallback_when_post_refused(fake):
    def ping(request):
        return _ok() if request.method == "GET" else Response("", status=405)
    fake.routes["ping"] = ping
    fake.routes["getMusicFolders"] = lambda r: _ok(musicFolders={})
    provider = NavidromeProvider(fake.url, USER, PASSWORD)
    assert provider.test_connection().endswith("0 music folders")
    assert [(m, name) for m, name, _ in fake.calls] == [("POST", "ping"), ("GET", "ping"), ("GET", "getMusicFolders")]


def _audio(headers=None, body=AUDIO, content_type="audio/flac"):
    return lambda request: Response(body, content_type=content_type, headers=headers or {})


def _truncated(environ, start_response):
    """Announces 5000 bytes more than it sends, then closes the connection."""
    start_response("200 OK", [("Content-Type", "audio/flac"), ("Content-Length", str(len(AUDIO) + 5000)),
                              ("Connection", "close")])
    return [AUDIO]


def test_download_failures_leave_nothing(fake, fake_provider, tmp_path):
    fake.routes["getSong"] = lambda r: _ok(song={"id": r.values["id"], "suffix": "flac"})
    cases = [
        # truncated: Content-Length larger than the body
        (ProviderError, "download from Navidrome", lambda r: _truncated, None),
        (DownloadTooLarge, "limit", _audio(), None),
        (DownloadTooLarge, "limit", lambda r: Response(iter([AUDIO] * 3), content_type="audio/flac"), None),
        (NotFound, "Song not found", lambda r: _failed(70, "Song not found"), None),
        (ProviderError, "Navidrome error 0 in download: file missing", lambda r: _failed(0, "file missing"), None),
        (NotFound, "Song not found", lambda r: _failed(70, "Song not found", xml=True), None),
        (ProviderError, "instead of an audio file", lambda r: Response("<html>login</html>",
                                                                         content_type="text/html"), None),
        (ProviderError, "zip archive", _audio(content_type="application/zip"), None),
    ]
    for kind, text, route, _ in cases:
        fake.routes["download"] = route
        max_bytes = 1000 if kind is DownloadTooLarge else 10 ** 6
        error = _raises(kind, fake_provider.download, "t1", tmp_path, max_bytes=max_bytes)
        assert text in str(error), (text, str(error))
        assert list(tmp_path.iterdir()) == [], text
    fake.routes["download"] = _audio()

    def slow(request):
        fake.release.wait(3)
        return Response(AUDIO)
    fake.routes["download"] = slow
    _raises(Unreachable, fake_provider.download, "t1", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_download_suffix_from_headers_and_stream_fallback(fake, fake_provider, tmp_path):
    fake.routes["getSong"] = lambda r: _ok(song={"id": r.values["id"]})          # no suffix
    fake.routes["download"] = _audio(content_type="audio/ogg")
    path = fake_provider.download("t1", tmp_path)
    assert path.suffix == ".ogg" and path.read_bytes() == AUDIO
    path.unlink()
    fake.routes["download"] = _audio({"Content-Disposition": 'attachment; filename="Some Song.opus"'},
                                     content_type="application/octet-stream")
    path = fake_provider.download("t1", tmp_path)
    assert path.suffix == ".opus"
    path.unlink()
    # the user may not download (error 50): stream format=raw instead
    fake.routes["download"] = lambda r: _failed(50, "User is not authorized for the given operation.")
    fake.routes["stream"] = _audio(content_type="audio/mpeg")
    path = fake_provider.download("t1", tmp_path)
    assert path.suffix == ".mp3" and path.read_bytes() == AUDIO
    assert fake.calls[-1][2]["format"] == ["raw"]
    assert list(tmp_path.iterdir()) == [path]
    path.unlink()
    fake.routes["stream"] = lambda r: _failed(50, "User is not authorized for the given operation.")
    assert "403" in str(_raises(AuthFailed, fake_provider.download, "t1", tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_stream_errors_sent_as_audio_and_the_raw_stream_fallback(fake, fake_provider):
    fake.routes["download"] = lambda r: _failed(70, "Song not found")
    _raises(NotFound, fake_provider.stream, "t1")
    fake.routes["download"] = lambda r: _failed(0, "file missing", xml=True)
    assert "file missing" in str(_raises(ProviderError, fake_provider.stream, "t1"))
    fake.routes["download"] = lambda r: Response("<html>login</html>", content_type="text/html")
    assert "instead of an audio file" in str(_raises(ProviderError, fake_provider.stream, "t1"))
    # the user may not download (error 50): stream format=raw, the original bytes
    fake.routes["download"] = lambda r: _failed(50, "User is not authorized for the given operation.")
    fake.routes["stream"] = _audio(content_type="audio/mpeg")
    audio = fake_provider.stream("t1", "bytes=0-9")
    assert (audio.status, audio.content_range, audio.content_type) == (206, f"bytes 0-9/{len(AUDIO)}", "audio/mpeg")
    assert _read(audio) == AUDIO[:10]
    method, called, values = fake.calls[-1]
    assert (method, called, values["format"]) == ("POST", "stream", ["raw"])   # credentials in the body


def test_navidrome_style_playlist_and_history(fake, fake_provider):
    fake.routes["createPlaylist"] = lambda r: _ok(playlist={"id": "pl-7", "name": r.values["name"],
                                                            "songCount": len(r.values.getlist("songId"))})
    fake.routes["getPlaylists"] = lambda r: _ok(playlists={})
    assert fake_provider.create_playlist("Mix", ["s1", "s2"]) == "pl-7"
    # the first create lists playlists before (in case the answer lacks the id); later ones do not
    del fake.calls[:]
    assert fake_provider.create_playlist("Mix", ["s1", "s2"]) == "pl-7"
    assert [name for _, name, _ in fake.calls] == ["createPlaylist"]
    assert fake.calls[-1][2]["songId"] == ["s1", "s2"]

    albums = {"a1": [{"id": "s1", "title": "One", "artist": "A", "playCount": 3,
                      "played": "2024-05-01T10:00:00Z"},
                     {"id": "s2", "title": "Two", "artist": "A"}],
              "a2": [{"id": "s3", "title": "Three", "artist": "B", "playCount": 7,
                      "played": "2024-06-01T10:00:00.000Z"}]}
    fake.routes["getAlbumList2"] = lambda r: _ok(albumList2={"album": [{"id": "a2", "name": "Two"},
                                                                       {"id": "a1", "name": "One"}]})
    fake.routes["getAlbum"] = lambda r: _ok(album={"id": r.values["id"], "name": "x",
                                                   "song": albums[r.values["id"]]})
    history = fake_provider.listening_history()
    assert [(h.track_id, h.play_count, h.last_played.month) for h in history] == [("s3", 7, 6), ("s1", 3, 5)]
    assert fake_provider.listening_history(limit=1)[0].track_id == "s3"


def test_replace_repairs_a_server_that_appends(fake):
    """A server whose createPlaylist(playlistId) appends instead of replacing is repaired."""
    songs = ["old1", "old2", "old3"]

    def create(request):
        songs.extend(request.values.getlist("songId"))
        return _ok()

    def update(request):
        drop = {int(i) for i in request.values.getlist("songIndexToRemove")}
        songs[:] = [s for i, s in enumerate(songs) if i not in drop] + request.values.getlist("songIdToAdd")
        return _ok()
    fake.routes.update(createPlaylist=create, updatePlaylist=update,
                       getPlaylist=lambda r: _ok(playlist={"id": "p1", "entry": [{"id": s} for s in songs]}))
    provider = NavidromeProvider(fake.url, USER, PASSWORD, auth="password", batch_size=2)
    assert provider.replace_playlist("p1", "Mix", ["n1", "n2", "n3"]) == "p1"
    assert songs == ["n1", "n2", "n3"]
