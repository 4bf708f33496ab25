"""LyrionProvider against a fake Lyrion Music Server.

The fake answers ``POST /jsonrpc.js`` and ``GET /music/<id>/download`` the way
Lyrion documents them (JSON-RPC 1.0 ``slim.request``; ``albums_loop``,
``titles_loop``, ``playlists_loop``, ``count``, ``playlist_id``...), over a
small in-memory library with real WAV and FLAC bytes.  It implements only the
server-level commands the provider is meant to use, checks every tagged
argument against the documented names, tag letters and sort orders, and
rejects everything else the way Lyrion rejects a command: by closing the
connection without an answer.  A request naming a player, and every player
command (``playlist ...``, ``playlistcontrol``, ``play``...), is rejected and
recorded; each test ends by checking nothing was rejected and that the
connected user's player still has its queue, so a passing suite shows the
provider never addresses, let alone takes over, a player.
"""
from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
import time
import wave

import numpy as np
import pytest
import requests
import soundfile
from flask import Flask, Response, request
from werkzeug.serving import make_server

from config import load_settings
from mediaserver import lyrion as lyrion_module
from mediaserver.base import (AuthFailed, DownloadTooLarge, NotFound, PlayRecord, ProviderError,
                              RangeNotSatisfiable, Unreachable)
from mediaserver.http import HttpClient
from mediaserver.lyrion import LyrionProvider

logging.getLogger("werkzeug").setLevel(logging.ERROR)

PLAYER = "00:04:20:12:34:56"     # the user's player connected to the fake server

# Documented vocabulary (Lyrion CLI reference, "Database commands and queries").
ALBUM_TAG_LETTERS = set("lyjtiqwWaSsERX24")
SONG_TAG_LETTERS = set("aABcCKWdefgGiIjJkLlmMnNoQpPDUqrROsStTuvwxEXyYV4")
ALBUM_SORTS = {"album", "new", "changed", "artflow", "artistalbum", "yearalbum", "yearartistalbum", "random"}
TITLE_SORTS = {"title", "tracknum", "albumtrack"}
TAGGED = re.compile(r"^([a-z_]+):(.+)$", re.S)


def sine(seconds=0.2, rate=8000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), rate


def wav_bytes(seconds=0.2):
    samples, rate = sine(seconds)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return out.getvalue()


def flac_bytes(seconds=0.2):
    samples, rate = sine(seconds)
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="FLAC")
    return out.getvalue()


class Rejected(Exception):
    """A command real Lyrion would not answer (it closes the connection)."""


class FakeLyrion:
    """An in-memory Lyrion library behind a Flask app on 127.0.0.1."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = None            # "401", "500", "slow", "html", "no-result", "not-json-object"
        self.download_mode = None   # "truncated", "chunked"
        self.playlist_dir = True    # Lyrion's playlist folder setting
        self.rejected: list[tuple[str, list]] = []
        self.commands: list[list] = []
        self.player_queue = [101, 102]
        self.player_commands = 0
        self.albums: dict[int, dict] = {}
        self.tracks: dict[int, dict] = {}
        self.playlists: dict[int, dict] = {}
        self.next_id = 900
        self._library()
        self.app = self._app()

    # -- library ------------------------------------------------------------------
    def _album(self, album_id, name, artist, year, added):
        self.albums[album_id] = {"id": album_id, "album": name, "artist": artist, "year": year, "added": added}

    def _track(self, track_id, album_id, title, tracknum, disc, kind="wav", albumartist=None, artist=None,
               playcount=0, data=None):
        album = self.albums[album_id]
        data = data if data is not None else (flac_bytes() if kind == "flc" else wav_bytes())
        self.tracks[track_id] = {
            "id": track_id, "title": title, "artist": artist or album["artist"], "album": album["album"],
            "album_id": album_id, "tracknum": tracknum, "disc": disc, "year": album["year"],
            "duration": 0.2, "type": kind, "albumartist": albumartist, "playcount": playcount,
            "url": f"file:///music/{album['album'].replace(' ', '%20')}/{track_id}.{kind}", "data": data}

    def _library(self):
        self._album(11, "Blue Hours", "Ada North", 2019, added=5)
        self._album(12, "Field Notes", "Brook Vale", 2021, added=6)
        self._album(13, "Old Roads", "Cato Lind", 0, added=1)       # year unknown: Lyrion says 0
        self._album(14, "Night Bus", "Dee Rao", 2023, added=4)
        self._album(15, "Salt", "Eli Moss", 2015, added=3)
        self._album(16, "Many Small Things", "Various Artists", 2020, added=2)
        flac = flac_bytes()
        # inserted out of order on purpose: the answer must be in disc/track order
        self._track(103, 11, "Harbour", 1, 2, "flc", albumartist="Ada North", data=flac, playcount=7)
        self._track(101, 11, "Morning", 1, 1, "flc", albumartist="Ada North", data=flac, playcount=2)
        self._track(102, 11, "Noon", 2, 1, "flc", albumartist="Ada North", artist="Ada North & Friends",
                    data=flac, playcount=7)
        self._track(201, 12, "Gravel", 1, None, playcount=1)
        self._track(202, 12, "Fern", 2, None)
        self._track(301, 13, "Dust", 1, None, playcount=3)
        for n in range(1, 161):
            self._track(1000 + n, 16, f"Thing {n}", n, None, artist=f"Artist {n % 7}", data=b"RIFF" + bytes(60))

    # -- JSON-RPC -----------------------------------------------------------------
    def _reject(self, reason, params):
        self.rejected.append((reason, params))
        raise Rejected(reason)

    @staticmethod
    def _number(value):
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
        raise ValueError(f"not a number: {value!r}")

    def _tagged(self, args, allowed, params):
        tagged = {}
        for arg in args:
            match = TAGGED.match(arg) if isinstance(arg, str) else None
            if not match:
                self._reject(f"not a tag:value argument: {arg!r}", params)
            name, value = match.groups()
            if name not in allowed:
                self._reject(f"undocumented tag {name!r}", params)
            if name in tagged:
                self._reject(f"tag {name!r} given twice", params)
            tagged[name] = value
        return tagged

    def _extended(self, words, params, allowed):
        """<command...> <start> <itemsPerResponse> <tagged...>"""
        if len(words) < 2:
            self._reject("missing start / itemsPerResponse", params)
        try:
            start, quantity = self._number(words[0]), self._number(words[1])
        except ValueError as error:
            self._reject(str(error), params)
        return start, quantity, self._tagged(words[2:], allowed, params)

    def _letters(self, tags, documented, params):
        if not set(tags) <= documented:
            self._reject(f"undocumented tag letters in {tags!r}", params)
        return tags

    def handle(self, body):
        if not isinstance(body, dict) or body.get("method") != "slim.request" or "id" not in body:
            self._reject("not a slim.request", body)
        params = body.get("params")
        if not (isinstance(params, list) and len(params) == 2 and isinstance(params[1], list) and params[1]):
            self._reject("params must be [player, [command...]]", params)
        player, words = params
        if player != "":
            self.player_commands += 1
            self._reject(f"a player was addressed: {player!r}", params)
        if not all(isinstance(w, (str, int)) for w in words):
            self._reject("command words must be strings or numbers", params)
        head = words[0]
        if head in ("playlist", "playlistcontrol", "play", "pause", "stop", "power", "mixer", "status", "button",
                    "time", "sync", "displaynow", "show"):
            self.player_commands += 1
            self._reject(f"player command {head!r}", params)
        self.commands.append(words)
        if head == "serverstatus":
            self._extended(words[1:], params, set())
            return {"version": "9.0.3", "uuid": "c0ffee", "lastscan": "1789653231",
                    "info total albums": len(self.albums), "info total artists": 5,
                    "info total genres": 2, "info total songs": len(self.tracks), "player count": 1,
                    "players_loop": [{"playerid": PLAYER, "name": "Kitchen", "connected": 1, "isplaying": 1}]}
        if head == "albums":
            return self._albums(words[1:], params)
        if head in ("titles", "songs", "tracks"):
            return self._titles(words[1:], params)
        if head == "playlists":
            return self._playlists(words[1:], params)
        self._reject(f"unknown command {head!r}", params)

    def _albums(self, words, params):
        start, quantity, tags = self._extended(
            words, params, {"search", "genre_id", "artist_id", "track_id", "album_id", "role_id", "library_id",
                            "year", "compilation", "sort", "tags"})
        if tags.get("sort", "album") not in ALBUM_SORTS:
            self._reject(f"undocumented albums sort {tags['sort']!r}", params)
        letters = self._letters(tags.get("tags", "l"), ALBUM_TAG_LETTERS, params)
        albums = list(self.albums.values())
        if "album_id" in tags:
            albums = [a for a in albums if str(a["id"]) == tags["album_id"]]
        key = {"new": lambda a: -a["added"]}.get(tags.get("sort"), lambda a: a["album"])
        albums.sort(key=key)
        loop = []
        for album in albums[start:start + quantity]:
            item = {"id": album["id"]}
            for letter, field in (("l", "album"), ("a", "artist"), ("y", "year")):
                if letter in letters:
                    item[field] = album[field]
            loop.append(item)
        return {"count": len(albums), "albums_loop": loop}

    def _song(self, track, letters):
        item = {"id": track["id"], "title": track["title"]}
        simple = {"a": "artist", "l": "album", "t": "tracknum", "i": "disc", "y": "year", "d": "duration",
                  "o": "type", "e": "album_id", "u": "url", "O": "playcount"}
        for letter, field in simple.items():
            if letter in letters and track.get(field) is not None:
                if field == "tracknum" or field == "disc":
                    item[field] = str(track[field])       # Lyrion returns these as strings
                elif field == "playcount" and not track[field]:
                    continue
                else:
                    item[field] = track[field]
        if "A" in letters:
            item["artist"] = track["artist"]
            if track["albumartist"]:
                item["albumartist"] = track["albumartist"]
        return item

    def _titles(self, words, params):
        start, quantity, tags = self._extended(
            words, params, {"genre_id", "artist_id", "album_id", "track_id", "role_id", "release_type",
                            "library_id", "year", "search", "tags", "sort"})
        if tags.get("sort", "title") not in TITLE_SORTS:
            self._reject(f"undocumented titles sort {tags['sort']!r}", params)
        letters = self._letters(tags.get("tags", "gald"), SONG_TAG_LETTERS, params)
        tracks = list(self.tracks.values())
        if "track_id" in tags:
            tracks = [t for t in tracks if str(t["id"]) == tags["track_id"]]
        if "album_id" in tags:
            tracks = [t for t in tracks if str(t["album_id"]) == tags["album_id"]]
        if tags.get("sort") == "tracknum":
            letters += "t"
            tracks.sort(key=lambda t: (t["disc"] or 0, t["tracknum"] or 0, t["title"]))
        else:
            tracks.sort(key=lambda t: t["title"])
        return {"count": len(tracks), "titles_loop": [self._song(t, letters) for t in tracks[start:start + quantity]]}

    def _playlist(self, tags, params):
        try:
            return self.playlists[int(tags.get("playlist_id", ""))]
        except (KeyError, ValueError):
            self._reject("unknown playlist_id", params)     # Lyrion: setStatusBadParams

    def _playlists(self, words, params):
        sub = words[0] if words and isinstance(words[0], str) and not words[0].isdigit() else None
        if sub is None:
            start, quantity, tags = self._extended(words, params, {"search", "tags"})
            self._letters(tags.get("tags", ""), set("suEx"), params)
            found = sorted(self.playlists.values(), key=lambda p: p["name"].lower())
            if quantity == 0:
                return {}                     # as observed on a real server: no count for `playlists 0 0`
            return {"count": len(found), "playlists_loop": [{"id": p["id"], "playlist": p["name"]}
                                                            for p in found[start:start + quantity]]}
        if sub == "tracks":
            start, quantity, tags = self._extended(words[1:], params, {"playlist_id", "tags"})
            playlist = self._playlist(tags, params)
            entries = [dict(self._song(self.tracks[t], "gald"), **{"playlist index": i})
                       for i, t in enumerate(playlist["tracks"])][start:start + quantity]
            if quantity == 0:
                return {}
            return {"count": len(playlist["tracks"]), "playlisttracks_loop": entries}
        if sub == "new":
            tags = self._tagged(words[1:], {"name"}, params)
            if not self.playlist_dir:
                self._reject("no playlist folder set (setStatusBadConfig)", params)
            if "name" not in tags:
                self._reject("playlists new without name", params)
            for playlist in self.playlists.values():
                if playlist["name"] == tags["name"]:
                    return {"overwritten_playlist_id": playlist["id"]}
            self.next_id += 1
            self.playlists[self.next_id] = {"id": self.next_id, "name": tags["name"], "tracks": []}
            return {"playlist_id": self.next_id}
        if sub == "edit":
            tags = self._tagged(words[1:], {"playlist_id", "cmd", "index", "toindex", "title", "url"}, params)
            if tags.get("cmd") not in ("up", "down", "delete", "add", "move"):
                self._reject("cmd must be up, down, delete, add or move", params)
            playlist = self._playlist(tags, params)
            if tags["cmd"] == "add":
                track = next((t for t in self.tracks.values() if t["url"] == tags.get("url")), None)
                if track is None:
                    self._reject("cmd:add needs the url of a library track", params)
                if track["id"] not in playlist["tracks"]:      # Lyrion adds a track only once
                    playlist["tracks"].append(track["id"])
                if "title" in tags:                            # ... and renames the library track
                    track["title"] = tags["title"]
            elif tags["cmd"] == "delete":
                try:
                    del playlist["tracks"][self._number(tags.get("index"))]
                except (ValueError, IndexError):
                    self._reject("cmd:delete needs a valid index", params)
            else:
                self._reject("this fake only implements cmd:add and cmd:delete", params)
            return {}
        if sub == "rename":
            tags = self._tagged(words[1:], {"playlist_id", "newname", "dry_run"}, params)
            playlist = self._playlist(tags, params)
            if "newname" not in tags:
                self._reject("playlists rename without newname", params)
            result = {}
            other = next((p for p in self.playlists.values() if p["name"] == tags["newname"]), None)
            if other is not None:
                result["overwritten_playlist_id"] = other["id"]
            if tags.get("dry_run") not in ("1",):
                if other is not None and other is not playlist:
                    del self.playlists[other["id"]]
                playlist["name"] = tags["newname"]
            return result
        if sub == "delete":
            tags = self._tagged(words[1:], {"playlist_id"}, params)
            playlist = self._playlist(tags, params)
            del self.playlists[playlist["id"]]
            return {}
        self._reject(f"unknown playlists subcommand {sub!r}", params)

    # -- HTTP -----------------------------------------------------------------------
    @staticmethod
    def _drop_connection():
        """What Lyrion does with a request it rejects: close the socket, no answer."""
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return Response(b"", status=200)

    def _gate(self):
        if self.mode == "401":
            return Response("Authorization required", status=401,
                            headers={"WWW-Authenticate": 'Basic realm="Lyrion Music Server"'})
        if self.mode == "500":
            return Response("boom", status=500)
        if self.mode == "slow":
            time.sleep(1.6)
        return None

    def _app(self):
        app = Flask("fake-lyrion")

        @app.post("/jsonrpc.js")
        def jsonrpc():
            gated = self._gate()
            if gated is not None:
                return gated
            if self.mode == "html":
                return Response("<html><body>Lyrion</body></html>", content_type="text/html")
            try:
                body = json.loads(request.get_data())
            except ValueError:
                return self._drop_connection()
            with self.lock:
                try:
                    result = self.handle(body)
                except Rejected:
                    return self._drop_connection()
            if self.mode == "no-result":
                return Response(json.dumps({"id": body["id"], "method": "slim.request"}),
                                content_type="application/json")
            if self.mode == "not-json-object":
                return Response(json.dumps([1, 2]), content_type="application/json")
            answer = {"id": body["id"], "method": body["method"], "params": body["params"], "result": result}
            return Response(json.dumps(answer), content_type="application/json")

        @app.get("/music/<int:track_id>/download")
        def download(track_id):
            gated = self._gate()
            if gated is not None:
                return gated
            track = self.tracks.get(track_id)
            if track is None:
                return Response("not found", status=404)
            data = track["data"]
            if self.download_mode == "truncated":
                response = Response(data[: len(data) // 2], content_type="application/octet-stream")
                response.headers["Content-Length"] = str(len(data))   # announces more than it sends
                response.headers["Connection"] = "close"
                return response
            if self.download_mode == "chunked":         # no Content-Length: only counting catches size
                return Response((data[i:i + 256] for i in range(0, len(data), 256)),
                                content_type="application/octet-stream")
            return Response(data, content_type="application/octet-stream")

        return app


@pytest.fixture
def fake():
    server_fake = FakeLyrion()
    server = make_server("127.0.0.1", 0, server_fake.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server_fake.url = f"http://127.0.0.1:{server.server_port}"
    yield server_fake
    server.shutdown()
    server.server_close()
    # the guarantee every test checks: no player addressed, no command rejected
    assert server_fake.player_commands == 0
    assert server_fake.player_queue == [101, 102]
    assert server_fake.rejected == []


@pytest.fixture
def provider(fake):
    return LyrionProvider(fake.url)


def files_in(path):
    return sorted(p.name for p in path.iterdir())


# -- the fake itself ---------------------------------------------------------------------------

def test_the_fake_drops_any_request_that_names_a_player_or_is_a_player_command(fake):
    attempts = [
        [PLAYER, ["playlistcontrol", "cmd:load", "playlist_id:1"]],
        ["", ["playlistcontrol", "cmd:add", "track_id:101"]],
        ["", ["playlist", "play", "file:///music/x.flac"]],
        ["", ["playlist", "save", "Mine"]],
        [PLAYER, ["titles", 0, 1]],
        ["", ["titles", 0, 1, "sort:popular"]],        # undocumented sort
        ["", ["titles", 0, 1, "tags:Z"]],              # undocumented tag letter
        ["", ["albums", 0, 1, "newest"]],              # not a tag:value pair
        ["", ["playlists", "edit", "cmd:add", "playlist_id:1", "track_id:101"]],
    ]
    for params in attempts:
        with pytest.raises(requests.ConnectionError):
            requests.post(fake.url + "/jsonrpc.js", json={"id": 1, "method": "slim.request", "params": params},
                          timeout=5)
    assert len(fake.rejected) == len(attempts)
    assert fake.player_commands == 5
    fake.rejected.clear()
    fake.player_commands = 0


# -- the interface ---------------------------------------------------------------------------

def test_connection_summary(provider, fake):
    assert provider.test_connection() == "Lyrion 9.0.3 answered: 6 albums, 166 songs"
    assert fake.commands == [["serverstatus", 0, 0]]


def test_from_settings(tmp_path, fake):
    settings = load_settings({"SONARIUM_DATA_DIR": str(tmp_path), "SECRET_KEY": "k",
                              "MEDIASERVER_TYPE": "lyrion", "LYRION_URL": fake.url + "/"})
    provider = LyrionProvider.from_settings(settings)
    assert provider.type == "lyrion" and provider.label == "Lyrion"
    assert provider.test_connection().startswith("Lyrion 9.0.3")


def test_albums_are_paged_newest_first(provider, fake):
    first, second, third = provider.albums(0, 2), provider.albums(2, 2), provider.albums(4, 2)
    assert [a.id for a in first + second + third] == ["12", "11", "14", "15", "16", "13"]
    assert provider.albums(6, 2) == []
    assert first[0].name == "Field Notes" and first[0].artist == "Brook Vale" and first[0].year == 2021
    assert third[1].year is None                                      # Lyrion's 0 = unknown
    assert [a.id for a in provider.iter_albums(page=4)] == ["12", "11", "14", "15", "16", "13"]
    assert fake.commands[0] == ["albums", 0, 2, "sort:new", "tags:lay"]


def test_album_tracks_fields_and_disc_track_order(provider):
    tracks = provider.album_tracks("11")
    assert [(t.disc_number, t.track_number, t.title) for t in tracks] == [
        (1, 1, "Morning"), (1, 2, "Noon"), (2, 1, "Harbour")]
    noon = tracks[1]
    assert noon.id == "102" and noon.artist == "Ada North & Friends" and noon.album == "Blue Hours"
    assert noon.album_artist == "Ada North" and noon.year == 2019 and noon.duration == pytest.approx(0.2)
    assert noon.format == "flac" and noon.album_id == "11"


def test_album_artist_falls_back_to_the_albums_artist(provider, fake):
    tracks = provider.album_tracks("12")
    assert [t.title for t in tracks] == ["Gravel", "Fern"]
    assert all(t.album_artist == "Brook Vale" and t.format == "wav" and t.disc_number is None for t in tracks)
    assert ["albums", 0, 1, "album_id:12", "tags:a"] in fake.commands


def test_album_tracks_of_an_unknown_album(provider):
    with pytest.raises(NotFound):
        provider.album_tracks("999")


def test_download_keeps_the_original_bytes_and_suffix(provider, fake, tmp_path):
    path = provider.download("101", tmp_path)                  # type looked up with titles track_id: tags:o
    assert path.suffix == ".flac" and path.read_bytes() == fake.tracks[101]["data"]
    assert path.read_bytes().startswith(b"fLaC")
    assert soundfile.info(str(path)).samplerate == 8000
    provider.album_tracks("12")
    other = provider.download("201", tmp_path)                 # type known from album_tracks
    assert other.suffix == ".wav" and other.read_bytes() == fake.tracks[201]["data"]
    assert ["titles", 0, 1, "track_id:201", "tags:o"] not in fake.commands


def test_download_of_an_unknown_track(provider, tmp_path):
    with pytest.raises(NotFound):
        provider.download("4242", tmp_path)
    assert files_in(tmp_path) == []


def _read(audio) -> bytes:
    try:
        return b"".join(audio.chunks)
    finally:
        audio.close()


def test_stream_for_preview(provider, fake):
    """The fake sends the whole file whatever the Range (as a server that ignores it would):
    the provider cuts the asked range itself, so the browser can seek all the same."""
    content = fake.tracks[101]["data"]
    size = len(content)
    whole = provider.stream("101")
    assert (whole.status, whole.size, whole.content_range) == (200, size, None) and _read(whole) == content
    part = provider.stream("101", "bytes=10-19")
    assert (part.status, part.length, part.content_range) == (206, 10, f"bytes 10-19/{size}")
    assert _read(part) == content[10:20]
    with pytest.raises(RangeNotSatisfiable):
        provider.stream("101", f"bytes={size + 5}-")
    fake.download_mode = "chunked"                 # no length: the range cannot be cut, the whole file it is
    unsized = provider.stream("101", "bytes=10-19")
    assert (unsized.status, unsized.size) == (200, None) and _read(unsized) == content
    with pytest.raises(NotFound):
        provider.stream("4242")
    with pytest.raises(NotFound):
        provider.stream("../jsonrpc.js")
    fake.download_mode = "truncated"               # announces more than it sends
    broken = provider.stream("101")
    with pytest.raises(ProviderError, match="the stream from Lyrion broke off"):
        _read(broken)


def test_create_playlist_keeps_the_order_and_uses_no_player(provider, fake):
    titles_before = {t["id"]: t["title"] for t in fake.tracks.values()}
    playlist_id = provider.create_playlist("Sonarium mix", ["301", "103", "101", "201", "103"])
    assert fake.playlists[int(playlist_id)]["tracks"] == [301, 103, 101, 201]   # repeat keeps first place
    assert fake.playlists[int(playlist_id)]["name"] == "Sonarium mix"
    assert {t["id"]: t["title"] for t in fake.tracks.values()} == titles_before  # no title: tag sent
    used = {tuple(w for w in c[:2] if isinstance(w, str) and ":" not in w) for c in fake.commands}
    assert used == {("titles",), ("playlists", "new"), ("playlists", "edit")}
    assert ["playlists", "new", "name:Sonarium mix"] in fake.commands
    assert ["playlists", "edit", "cmd:add", f"playlist_id:{playlist_id}", f"url:{fake.tracks[301]['url']}"] \
        in fake.commands


def test_create_a_long_playlist(provider, fake):
    ids = [str(1000 + n) for n in range(160, 0, -1)]
    playlist_id = provider.create_playlist("Long one", ids)
    assert fake.playlists[int(playlist_id)]["tracks"] == [int(i) for i in ids]


def test_create_does_not_touch_a_playlist_with_the_same_name(provider, fake):
    mine = provider.create_playlist("Kitchen favourites", ["101"])
    with pytest.raises(ProviderError, match="already has a playlist named 'Kitchen favourites'"):
        provider.create_playlist("Kitchen favourites", ["201", "202"])
    assert fake.playlists[int(mine)]["tracks"] == [101]


def test_create_with_an_unknown_track_creates_nothing(provider, fake):
    with pytest.raises(NotFound, match="track 4242"):
        provider.create_playlist("Broken", ["101", "4242"])
    assert fake.playlists == {}


def test_create_without_a_playlist_folder_names_the_command(provider, fake):
    fake.playlist_dir = False
    with pytest.raises(Unreachable, match="closed the connection on `playlists new`.*playlist folder"):
        provider.create_playlist("Nowhere", ["101"])
    assert fake.playlists == {}
    fake.rejected.clear()


def test_replace_playlist_keeps_the_id(provider, fake):
    playlist_id = provider.create_playlist("Old name", ["101", "102", "103"])
    assert provider.replace_playlist(playlist_id, "New name", ["202", "101"]) == playlist_id
    assert fake.playlists[int(playlist_id)] == {"id": int(playlist_id), "name": "New name", "tracks": [202, 101]}
    assert provider.replace_playlist(playlist_id, "New name", []) == playlist_id
    assert fake.playlists[int(playlist_id)]["tracks"] == []


def test_replace_refuses_to_rename_onto_another_playlist(provider, fake):
    keep = provider.create_playlist("Users own", ["301"])
    ours = provider.create_playlist("Ours", ["101"])
    with pytest.raises(ProviderError, match="another playlist named 'Users own'"):
        provider.replace_playlist(ours, "Users own", ["102"])
    assert fake.playlists[int(keep)]["tracks"] == [301]
    assert fake.playlists[int(ours)]["tracks"] == [101]


def test_replace_an_unknown_playlist(provider):
    with pytest.raises(NotFound):
        provider.replace_playlist("31337", "x", ["101"])


def test_playlists_are_listed_across_pages(provider, fake, monkeypatch):
    monkeypatch.setattr(lyrion_module, "PAGE", 2)
    made = [provider.create_playlist(name, ["101"]) for name in ("c", "a", "b", "e", "d")]
    listed = provider.playlists()
    assert [(p.id, p.name) for p in listed] == sorted(zip(made, "cabed"), key=lambda x: x[1])
    assert [c[1:3] for c in fake.commands if c[0] == "playlists" and isinstance(c[1], int)] == [
        [0, 2], [2, 2], [4, 2]]


def test_delete_playlist(provider, fake):
    gone = provider.create_playlist("Gone", ["101"])
    kept = provider.create_playlist("Kept", ["102"])
    provider.delete_playlist(gone)
    assert [p.id for p in provider.playlists()] == [kept]


def test_listening_history_uses_lyrions_play_counts(provider, fake):
    history = provider.listening_history()
    assert history == [
        PlayRecord("103", 7, None, "Harbour", "Ada North"),
        PlayRecord("102", 7, None, "Noon", "Ada North & Friends"),
        PlayRecord("301", 3, None, "Dust", "Cato Lind"),
        PlayRecord("101", 2, None, "Morning", "Ada North"),
        PlayRecord("201", 1, None, "Gravel", "Brook Vale"),
    ]
    assert provider.listening_history(limit=2) == history[:2]


# -- failures ------------------------------------------------------------------------------------

def test_server_down(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = LyrionProvider(f"http://127.0.0.1:{port}")
    with pytest.raises(Unreachable) as error:
        provider.test_connection()
    assert str(error.value) == f"cannot reach http://127.0.0.1:{port}: connection refused"
    with pytest.raises(Unreachable):
        provider.download("101", tmp_path)
    assert files_in(tmp_path) == []


def test_password_protected_server(provider, fake, tmp_path):
    fake.mode = "401"
    with pytest.raises(AuthFailed, match="Lyrion answered 401: Lyrion's password protection is on"):
        provider.test_connection()
    provider._types["101"] = "flc"
    with pytest.raises(AuthFailed):
        provider.download("101", tmp_path)
    assert files_in(tmp_path) == []


def test_server_error(provider, fake, tmp_path):
    fake.mode = "500"
    with pytest.raises(ProviderError, match="Lyrion answered 500: server error"):
        provider.albums()
    provider._types["101"] = "flc"
    with pytest.raises(ProviderError, match="500"):
        provider.download("101", tmp_path)
    assert files_in(tmp_path) == []


def test_timeout(fake, tmp_path):
    provider = LyrionProvider(fake.url, http=HttpClient(fake.url, "Lyrion", read_timeout=1.0))
    fake.mode = "slow"
    started = time.monotonic()
    with pytest.raises(Unreachable, match=f"Lyrion at {fake.url} did not answer within 1 s"):
        provider.test_connection()
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("mode, message", [
    ("html", "malformed answer \\(not JSON\\)"),
    ("no-result", "malformed answer to `albums` \\(no result\\)"),
    ("not-json-object", "malformed answer to `albums` \\(not a JSON object\\)"),
])
def test_malformed_answers(provider, fake, mode, message):
    fake.mode = mode
    with pytest.raises(ProviderError, match=message):
        provider.albums()


def test_truncated_download_leaves_nothing(provider, fake, tmp_path):
    fake.download_mode = "truncated"
    with pytest.raises(ProviderError, match="truncated|broke off"):
        provider.download("101", tmp_path)
    assert files_in(tmp_path) == []


def test_too_large_by_header_leaves_nothing(provider, fake, tmp_path):
    size = len(fake.tracks[101]["data"])
    with pytest.raises(DownloadTooLarge):
        provider.download("101", tmp_path, max_bytes=size - 1)
    assert files_in(tmp_path) == []


def test_too_large_by_count_leaves_nothing(provider, fake, tmp_path):
    fake.download_mode = "chunked"
    with pytest.raises(DownloadTooLarge):
        provider.download("101", tmp_path, max_bytes=500)
    assert files_in(tmp_path) == []
    assert provider.download("101", tmp_path).read_bytes() == fake.tracks[101]["data"]
