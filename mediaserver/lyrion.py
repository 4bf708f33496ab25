"""Lyrion Music Server (formerly Logitech Media Server) over its JSON-RPC API.

Every call is ``POST /jsonrpc.js`` with
``{"id": n, "method": "slim.request", "params": ["", [command, args...]]}``.
The first element of ``params`` is the player id, and this module always sends
the empty string: it only uses server-level ("global") commands, so no player
is ever addressed, selected or changed.

Commands used (names, tags and answers as documented in Lyrion's CLI reference,
"Database commands and queries"; the needs-a-player flags are from the
server's dispatch table, where all of these are registered as not needing one):

- ``serverstatus 0 0``: ``version``, ``info total albums``, ``info total songs``.
- ``albums <start> <n> sort:new tags:lay``: ``albums_loop`` of ``id``, ``album``,
  ``artist``, ``year``; ``sort:new`` is newest added first.
- ``titles <start> <n> album_id:<id> sort:tracknum tags:alAtiydoe``: ``titles_loop``
  (``sort:tracknum`` orders by disc, track number, title).
- ``titles 0 1 track_id:<id> tags:u`` (or ``tags:o``): one track's ``url`` (or
  content ``type``, for the download's file suffix).
- ``titles <start> <n> tags:alO``: per-track ``playcount`` (tag ``O``) for the history.
- ``playlists <start> <n>``: ``playlists_loop`` of ``id``, ``playlist`` (the name).
- ``playlists tracks <start> <n> playlist_id:<id>``: the entries of a saved playlist.
- ``playlists new name:<name>``: ``playlist_id``, or ``overwritten_playlist_id`` when
  the name is taken (then nothing is created).
- ``playlists edit cmd:add playlist_id:<id> url:<track url>``: appends one track; the
  only documented way to add to a *saved* playlist (it takes a url, not a track id).
- ``playlists edit cmd:delete playlist_id:<id> index:<i>``: removes one entry.
- ``playlists rename playlist_id:<id> newname:<name> [dry_run:1]``.
- ``playlists delete playlist_id:<id>``.
- ``GET /music/<id>/download``: the original file.

Never used: ``playlist ...`` (the player's queue), ``playlistcontrol`` (loads
tracks onto a player; it needs a player, and the CLI documentation says the
server picks one when none is given: that is how "creating a playlist" took
over a user's player) and
``playlist save`` (saves a player's queue).  Nothing this provider offers needs
a player, so there is no player-dependent path to refuse with NotSupported.

Lyrion answers a command it rejects (unknown command, bad parameters, no
playlist folder configured, unknown playlist id) by closing the connection
without an answer; such failures are reported with the command named.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from mediaserver.base import (DEFAULT_DOWNLOAD_SECONDS, DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_PAGE, Album,
                              AudioStream, MediaProvider, NotFound, PlayRecord, ProviderError, RemotePlaylist,
                              Track, Unreachable)
from mediaserver.http import HttpClient

NO_PLAYER = ""      # the player id sent with every command: none
PAGE = 500          # items per request when reading a whole list

ALBUM_TAGS = "lay"             # album, artist (album artist), year
TRACK_TAGS = "alAtiydoe"       # artist, album, role names (albumartist), tracknum, disc, year,
                               # duration, content type, album_id
HISTORY_TAGS = "alO"           # artist, album, playcount

# Lyrion content types (its types.conf) whose usual file extension differs.
_SUFFIX_FOR_TYPE = {"flc": "flac", "alc": "m4a", "mp4": "m4a", "aif": "aiff", "wvp": "wv",
                    "ops": "opus", "mpc": "mpc", "dsf": "dsf", "dff": "dff"}


def suffix_for_type(content_type: str | None) -> str | None:
    """File extension (no dot) for a Lyrion content type such as ``flc`` or ``mp3``."""
    if not content_type:
        return None
    value = str(content_type).strip().lower()
    if not value.isalnum():
        return None
    return _SUFFIX_FOR_TYPE.get(value, value)


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number or None          # Lyrion reports unknown years etc. as 0


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


class LyrionProvider(MediaProvider):
    """Lyrion Music Server; see the module docstring for the commands used."""

    type = "lyrion"
    label = "Lyrion"

    def __init__(self, base_url: str, http: HttpClient | None = None):
        self.base_url = base_url.rstrip("/")
        self.http = http or HttpClient(
            self.base_url, self.label,
            auth_hint="Lyrion's password protection is on and Sonarium has no Lyrion login; "
                      "turn it off or allow this host in Lyrion's security settings")
        self._ids = itertools.count(1)
        self._types: dict[str, str] = {}   # track id -> content type seen in album_tracks

    @classmethod
    def from_settings(cls, settings: Any) -> "LyrionProvider":
        url = getattr(settings, "lyrion_url", None)
        if not url:
            raise ProviderError("MEDIASERVER_TYPE=lyrion needs LYRION_URL to be set")
        return cls(url)

    # -- JSON-RPC --------------------------------------------------------------
    def _call(self, *command: Any) -> dict[str, Any]:
        """Run one server-level command and return its ``result`` object."""
        words = [str(part) if not isinstance(part, int) else part for part in command]
        name = " ".join(str(w) for w in words[:2] if not str(w).isdigit() and ":" not in str(w))
        body = {"id": next(self._ids), "method": "slim.request", "params": [NO_PLAYER, words]}
        try:
            answer = self.http.json("POST", "/jsonrpc.js", json=body)
        except Unreachable as error:
            if str(error).endswith("connection failed"):
                raise Unreachable(f"{self.label} closed the connection on `{name}`: it does that when it "
                                  f"rejects a command (bad or unknown id, no playlist folder set in its "
                                  f"settings) or when the connection broke") from None
            raise
        if not isinstance(answer, dict):
            raise ProviderError(f"{self.label} sent a malformed answer to `{name}` (not a JSON object)")
        if answer.get("error"):
            raise ProviderError(f"{self.label} refused `{name}`: {str(answer['error'])[:200]}")
        if "result" not in answer:
            raise ProviderError(f"{self.label} sent a malformed answer to `{name}` (no result)")
        result = answer["result"]
        if result is None or result == []:      # commands without results may answer null / []
            return {}
        if not isinstance(result, dict):
            raise ProviderError(f"{self.label} sent a malformed answer to `{name}` (result is not an object)")
        return result

    def _loop(self, result: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
        items = result.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ProviderError(f"{self.label} sent a malformed answer to `{name}` ({key} is not a list)")
        return items

    def _count(self, result: dict[str, Any], name: str) -> int | None:
        count = result.get("count")
        if count is None:                    # e.g. `playlists 0 0` answers {} without a count
            return None
        try:
            return int(count)
        except (TypeError, ValueError):
            raise ProviderError(f"{self.label} sent a malformed answer to `{name}` (count {count!r})") from None

    def _all(self, command: tuple[str, ...], *args: Any, loop: str) -> list[dict[str, Any]]:
        """Every item of an extended query, PAGE at a time, until `count` (or a short page) is reached."""
        name = " ".join(command)
        page = PAGE
        items: list[dict[str, Any]] = []
        while True:
            result = self._call(*command, len(items), page, *args)
            batch = self._loop(result, loop, name)
            items.extend(batch)
            count = self._count(result, name)
            if not batch or (count is not None and len(items) >= count) or (count is None and len(batch) < page):
                return items

    # -- library -----------------------------------------------------------------
    def test_connection(self) -> str:
        result = self._call("serverstatus", 0, 0)
        version = _text(result.get("version"))
        if version is None:
            raise ProviderError(f"{self.label} sent a malformed answer to `serverstatus` (no version)")
        albums = _int(result.get("info total albums")) or 0
        songs = _int(result.get("info total songs")) or 0
        return f"{self.label} {version} answered: {albums} albums, {songs} songs"

    def albums(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> list[Album]:
        result = self._call("albums", int(offset), int(limit), "sort:new", f"tags:{ALBUM_TAGS}")
        albums = []
        for item in self._loop(result, "albums_loop", "albums"):
            if item.get("id") is None:
                raise ProviderError(f"{self.label} sent a malformed answer to `albums` (album without id)")
            albums.append(Album(id=str(item["id"]), name=_text(item.get("album")) or "",
                                artist=_text(item.get("artist")), year=_int(item.get("year"))))
        return albums

    def album_tracks(self, album_id: str) -> list[Track]:
        items = self._all(("titles",), f"album_id:{album_id}", "sort:tracknum", f"tags:{TRACK_TAGS}",
                          loop="titles_loop")
        if not items:
            raise NotFound(f"{self.label} has no tracks for album {album_id}")
        album_artist = next((_text(i.get("albumartist")) for i in items if _text(i.get("albumartist"))), None)
        if album_artist is None:
            # Without ALBUMARTIST tags, the album's artist is what `albums` reports (tag a).
            found = self._loop(self._call("albums", 0, 1, f"album_id:{album_id}", "tags:a"),
                               "albums_loop", "albums")
            album_artist = _text(found[0].get("artist")) if found else None
        tracks = []
        for item in items:
            if item.get("id") is None:
                raise ProviderError(f"{self.label} sent a malformed answer to `titles` (track without id)")
            track_id = str(item["id"])
            if _text(item.get("type")):
                self._types[track_id] = str(item["type"])
            tracks.append(Track(
                id=track_id, title=_text(item.get("title")), artist=_text(item.get("artist")),
                album=_text(item.get("album")), album_artist=album_artist,
                track_number=_int(item.get("tracknum")), disc_number=_int(item.get("disc")),
                year=_int(item.get("year")), duration=_float(item.get("duration")),
                format=suffix_for_type(item.get("type")), album_id=str(item.get("album_id") or album_id)))
        tracks.sort(key=lambda t: (t.disc_number or 0, t.track_number or 0))   # stable; server order kept
        return tracks

    def _track(self, track_id: str, tags: str) -> dict[str, Any]:
        found = self._loop(self._call("titles", 0, 1, f"track_id:{track_id}", f"tags:{tags}"),
                           "titles_loop", "titles")
        if not found or str(found[0].get("id")) != str(track_id):
            raise NotFound(f"{self.label} does not know track {track_id}")
        return found[0]

    def _numeric(self, track_id: str) -> str:
        track_id = str(track_id)
        if not track_id.isdigit():
            raise NotFound(f"{self.label} track ids are numbers, not {track_id[:40]!r}")
        return track_id

    def download(self, track_id: str, dest_dir: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 timeout: float = DEFAULT_DOWNLOAD_SECONDS) -> Path:
        track_id = self._numeric(track_id)
        content_type = self._types.get(track_id) or self._track(track_id, "o").get("type")
        suffix = suffix_for_type(content_type)
        return self.http.download(f"/music/{track_id}/download", Path(dest_dir),
                                  suffix=f".{suffix}" if suffix else "", max_bytes=max_bytes, timeout=timeout)

    def stream(self, track_id: str, byte_range: str | None = None) -> AudioStream:
        """The original file from ``/music/<id>/download``, the Range passed on (a server that
        sends the whole file anyway gets the range cut here, see HttpClient.open_stream)."""
        return self.http.open_stream("GET", f"/music/{self._numeric(track_id)}/download", byte_range)

    # -- saved playlists ---------------------------------------------------------
    def _urls(self, track_ids: list[str]) -> list[str]:
        """The library URL of each track (``playlists edit cmd:add`` takes a url, not an id)."""
        urls = []
        for track_id in track_ids:
            url = _text(self._track(str(track_id), "u").get("url"))
            if url is None:
                raise ProviderError(f"{self.label} reported no url for track {track_id}")
            urls.append(url)
        return urls

    def _add(self, playlist_id: str, urls: list[str]) -> None:
        # One track per command, in order.  No `title:` tag: Lyrion writes it into the
        # library track's own title.
        for url in urls:
            self._call("playlists", "edit", "cmd:add", f"playlist_id:{playlist_id}", f"url:{url}")

    @staticmethod
    def _unique(track_ids: list[str]) -> list[str]:
        # `cmd:add` skips a track already in the playlist, so a repeated id keeps its first place.
        return list(dict.fromkeys(str(t) for t in track_ids))

    def create_playlist(self, name: str, track_ids: list[str]) -> str:
        """Create a saved playlist (an .m3u in Lyrion's playlist folder) holding these tracks in order.

        Uses only server-level commands: ``playlists new`` then one
        ``playlists edit cmd:add url:`` per track; no player is used or
        touched, and nothing here needs one.  Lyrion keeps each track once
        per playlist, so repeated ids keep their first position.  An existing
        playlist of the same name is never reused or overwritten: that is an
        error.  Needs a playlist folder set in Lyrion's settings.
        """
        ids = self._unique(track_ids)
        urls = self._urls(ids)             # resolve first: an unknown id creates nothing
        result = self._call("playlists", "new", f"name:{name}")
        if result.get("overwritten_playlist_id") is not None:
            raise ProviderError(f"{self.label} already has a playlist named {name!r} "
                                f"(id {result['overwritten_playlist_id']}); it was left as it is")
        playlist_id = _text(result.get("playlist_id"))
        if playlist_id is None:
            raise ProviderError(f"{self.label} sent a malformed answer to `playlists new` (no playlist_id)")
        try:
            self._add(playlist_id, urls)
        except ProviderError:
            try:
                self.delete_playlist(playlist_id)   # do not leave a half-filled playlist behind
            except ProviderError:
                pass
            raise
        return playlist_id

    def replace_playlist(self, playlist_id: str, name: str, track_ids: list[str]) -> str:
        """Make a saved playlist hold exactly these tracks; its id stays the same.

        Chosen over delete-and-recreate so the id stays valid and nothing is lost
        if a step fails before the old tracks are removed: the new tracks' urls
        are resolved first, then the old entries are removed one by one from the
        end (``playlists edit cmd:delete index:``), the new ones appended
        (``cmd:add``), and the playlist renamed when `name` differs.  A rename
        onto a name another playlist already has would make Lyrion delete that
        playlist, so it is checked with ``dry_run:1`` and refused.  No player
        is involved.
        """
        playlist_id = str(playlist_id)
        urls = self._urls(self._unique(track_ids))
        current = self._find_playlist(playlist_id)
        if current.name != name:
            check = self._call("playlists", "rename", f"playlist_id:{playlist_id}", f"newname:{name}", "dry_run:1")
            other = check.get("overwritten_playlist_id")
            if other is not None and str(other) != playlist_id:
                raise ProviderError(f"{self.label} already has another playlist named {name!r} (id {other}); "
                                    f"it was left as it is")
        # Counted by reading the entries: a zero-sized `playlists tracks` page may come without a count.
        count = len(self._all(("playlists", "tracks"), f"playlist_id:{playlist_id}",
                              loop="playlisttracks_loop"))
        for index in range(count - 1, -1, -1):
            self._call("playlists", "edit", "cmd:delete", f"playlist_id:{playlist_id}", f"index:{index}")
        self._add(playlist_id, urls)
        if current.name != name:
            self._call("playlists", "rename", f"playlist_id:{playlist_id}", f"newname:{name}")
        return playlist_id

    def _find_playlist(self, playlist_id: str) -> RemotePlaylist:
        for playlist in self.playlists():
            if playlist.id == playlist_id:
                return playlist
        raise NotFound(f"{self.label} has no playlist {playlist_id}")

    def playlists(self) -> list[RemotePlaylist]:
        found = []
        for item in self._all(("playlists",), loop="playlists_loop"):
            if item.get("id") is None:
                raise ProviderError(f"{self.label} sent a malformed answer to `playlists` (playlist without id)")
            name = _text(item.get("playlist")) or _text(item.get("name")) or ""
            found.append(RemotePlaylist(id=str(item["id"]), name=name, track_count=_int(item.get("count"))))
        return found

    def delete_playlist(self, playlist_id: str) -> None:
        self._call("playlists", "delete", f"playlist_id:{playlist_id}")

    # -- history -------------------------------------------------------------------
    def listening_history(self, limit: int = 500) -> list[PlayRecord]:
        """Most-played tracks by Lyrion's play counts (``titles`` tag ``O``, playcount).

        Lyrion keeps no per-user history: these counts are server-wide (every
        player, every listener), and the CLI documents no last-played time, so
        `last_played` is None.  No sort by plays is documented either, so every
        track is read (500 per request) and sorted here.
        """
        records = []
        for item in self._all(("titles",), f"tags:{HISTORY_TAGS}", loop="titles_loop"):
            plays = _int(item.get("playcount")) or 0
            if plays > 0 and item.get("id") is not None:
                records.append(PlayRecord(track_id=str(item["id"]), play_count=plays, last_played=None,
                                          title=_text(item.get("title")), artist=_text(item.get("artist"))))
        records.sort(key=lambda r: -r.play_count)
        return records[:limit]
