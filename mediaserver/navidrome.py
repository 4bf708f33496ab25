"""Navidrome, or any Subsonic-API server (supysonic, gonic, Airsonic, ...).

Calls go to ``<base>/rest/<method>.view`` with ``f=json``.  Credentials travel
only as request parameters: token mode (``t = md5(password + salt)`` with a
fresh random salt per request, Navidrome's default) or password mode (plain
``p=``, for servers that cannot check tokens, such as supysonic).  The
reversible ``p=enc:<hex>`` form is never used.  API calls are sent as form
POSTs so credentials and long id lists stay out of URLs and access logs; a
server that answers 405 to POST is talked to with GET from then on.  File
downloads go through `HttpClient.download`, which only does GET.

Servers differ, and this module copes with:

* errors come as ``subsonic-response.status == "failed"`` usually with HTTP
  200, sometimes (supysonic's unknown methods) with HTTP 404;
* token auth refused: Navidrome/LDAP say error 41, OpenSubsonic servers 42,
  supysonic says error 10 "A required parameter is missing." (it only reads
  ``p=``); a code 10 in token mode is confirmed with a ping before it is
  reported as "set NAVIDROME_AUTH=password";
* ``createPlaylist`` returns the playlist on Navidrome but an empty ok on
  supysonic: the new id is then found by comparing ``getPlaylists`` before and
  after;
* no playlists: supysonic answers ``"playlists": {}`` with no ``playlist`` key;
* an error sent as JSON/XML with HTTP 200 where audio was expected.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import mimetypes
import os
import re
import secrets
import tempfile
import threading
import xml.etree.ElementTree as ElementTree
from email.message import Message
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar
from urllib.parse import quote

import requests

from mediaserver.base import (DEFAULT_DOWNLOAD_SECONDS, DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_PAGE, Album,
                              AudioStream, AuthFailed, MediaProvider, NotFound, NotSupported, PlayRecord,
                              ProviderError, RemotePlaylist, Track)
from mediaserver.http import HttpClient

log = logging.getLogger(__name__)

API_VERSION = "1.16.1"          # servers speaking 1.12.0 (supysonic) accept it too
MAX_ALBUM_PAGE = 500            # getAlbumList2 size limit
BATCH_SIZE = 200                # song ids per createPlaylist / updatePlaylist call
HISTORY_MAX_ALBUMS = 200        # albums read (getAlbum) per listening_history call
_SNIFF_BYTES = 64 * 1024        # answers smaller than this are checked for a Subsonic error
_SUFFIX_CACHE = 50_000          # track id -> suffix entries remembered from album_tracks

_CONTENT_TYPES = {
    "audio/flac": "flac", "audio/x-flac": "flac", "audio/ogg": "ogg", "application/ogg": "ogg",
    "audio/vorbis": "ogg", "audio/opus": "opus", "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/m4a": "m4a", "audio/aac": "aac",
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/aiff": "aiff",
    "audio/x-aiff": "aiff", "audio/x-ms-wma": "wma", "audio/x-ape": "ape", "audio/ape": "ape",
    "audio/x-wavpack": "wv", "audio/wavpack": "wv", "audio/x-musepack": "mpc", "audio/dsf": "dsf",
    "audio/x-dsf": "dsf", "audio/webm": "webm",
}
_SUFFIX_RE = re.compile(r"^[a-z0-9]{1,8}$")
Fetched = TypeVar("Fetched")    # what one way of fetching the original file gives: a Path, an AudioStream


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time from the server; naive times (supysonic) are taken as UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _suffix(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip().lstrip(".").lower()
    return value if _SUFFIX_RE.match(value) else None


def _as_list(value: Any) -> list:
    """Subsonic JSON gives a list, a single object, or nothing."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class _Forbidden(AuthFailed):
    """Subsonic error 50: the user lacks the role for this call (e.g. download)."""


class _Refused(ProviderError):
    """Internal: the server will not serve this endpoint; `error` is what to report otherwise."""

    def __init__(self, error: ProviderError):
        super().__init__(str(error))
        self.error = error


class NavidromeProvider(MediaProvider):
    """A Subsonic-API server; `type` "navidrome"."""

    type = "navidrome"
    label = "Navidrome"

    def __init__(self, base_url: str, user: str, password: str, auth: str = "token",
                 client: str = "sonarium", http: HttpClient | None = None, batch_size: int = BATCH_SIZE):
        if auth not in ("token", "password"):
            raise ValueError("auth must be 'token' or 'password'")
        if not base_url or not user or password is None:
            raise ProviderError("Navidrome needs NAVIDROME_URL, NAVIDROME_USER and NAVIDROME_PASSWORD")
        self.user = user
        self._password = password
        self.auth = auth
        self.client = client
        self.batch_size = max(1, int(batch_size))
        self.http = http or HttpClient(base_url, self.label, auth_hint="wrong user or password")
        self.base_url = self.http.base_url
        self._use_get = False                       # set after a server refused POST with 405
        self._create_returns_id: bool | None = None  # learned from the first createPlaylist
        self._suffixes: dict[str, str] = {}
        self._last = threading.local()              # the last HTTP response of this thread
        self.http.session.hooks.setdefault("response", []).append(self._remember_response)

    @classmethod
    def from_settings(cls, settings: Any) -> "NavidromeProvider":
        url, user, password = settings.navidrome_url, settings.navidrome_user, settings.navidrome_password
        missing = [name for name, value in (("NAVIDROME_URL", url), ("NAVIDROME_USER", user),
                                            ("NAVIDROME_PASSWORD", password)) if not value]
        if missing:
            raise ProviderError("Navidrome is selected but " + ", ".join(missing) + " is not set")
        return cls(url, user, password, auth=getattr(settings, "navidrome_auth", None) or "token")

    def __repr__(self) -> str:
        return f"NavidromeProvider({self.base_url!r}, user={self.user!r}, auth={self.auth!r})"

    # -- plumbing ------------------------------------------------------------------
    def _remember_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.status = response.status_code
        self._last.headers = response.headers

    def _auth_params(self) -> dict[str, str]:
        params = {"u": self.user, "v": API_VERSION, "c": self.client, "f": "json"}
        if self.auth == "token":
            salt = secrets.token_hex(8)
            params["t"] = hashlib.md5((self._password + salt).encode("utf-8")).hexdigest()
            params["s"] = salt
        else:
            params["p"] = self._password
        return params

    def _scrub(self, text: str) -> str:
        """Server text with the password removed, should a server ever echo it."""
        text = str(text)[:300]
        if len(self._password) >= 3:
            text = text.replace(self._password, "***")
        return text

    def _raw_call(self, method: str, params: list[tuple[str, Any]]) -> Any:
        data = list(self._auth_params().items()) + [(k, str(v)) for k, v in params if v is not None]
        path = f"/rest/{method}.view"
        log.debug("%s: %s", self.label, method)
        if not self._use_get:
            self._last.status = None
            try:
                return self.http.json("POST", path, data=data)
            except ProviderError:
                if getattr(self._last, "status", None) != 405:
                    raise
                log.info("%s refuses POST; using GET", self.label)
                self._use_get = True
        return self.http.json("GET", path, params=data)

    def _call(self, method: str, params: list[tuple[str, Any]] | None = None) -> dict:
        """One API call; returns the inside of ``subsonic-response`` or raises a ProviderError."""
        answer = self._raw_call(method, params or [])
        body = self._envelope(answer)
        if body.get("status") == "failed":
            raise self._error(method, body.get("error"))
        return body

    def _envelope(self, answer: Any) -> dict:
        body = answer.get("subsonic-response") if isinstance(answer, dict) else None
        if not isinstance(body, dict) or body.get("status") not in ("ok", "failed"):
            raise ProviderError(f"{self.label} sent a malformed answer (no subsonic-response)")
        return body

    def _error(self, method: str, error: Any) -> ProviderError:
        error = error if isinstance(error, dict) else {}
        code = _int(error.get("code"))
        message = self._scrub(error.get("message") or "no message")
        use_password = (f"{self.label} at {self.base_url} does not accept token authentication "
                        f"(error {code}: {message}); set NAVIDROME_AUTH=password")
        if code == 40:
            return AuthFailed(f"{self.label} answered 401: wrong user or password")
        if self.auth == "token" and (code in (41, 42) or (code == 10 and "token" in message.lower())):
            return AuthFailed(use_password)
        if self.auth == "token" and code == 10:
            # supysonic reads only p=: without it every call fails with "parameter missing".
            if method == "ping":
                return AuthFailed(use_password)
            try:
                self._call("ping")
            except AuthFailed as auth_error:
                return auth_error
            except ProviderError:
                pass
        if code == 41:
            return AuthFailed(f"{self.label} refused the login (error 41: {message})")
        if code == 50:
            return _Forbidden(f"{self.label} answered 403: user {self.user!r} may not do this ({message})")
        if code == 70:
            return NotFound(f"{self.label} answered 404: {message}")
        return ProviderError(f"{self.label} error {code if code is not None else '?'} in {method}: {message}")

    # -- interface -----------------------------------------------------------------
    def test_connection(self) -> str:
        body = self._call("ping")
        folders = _as_list((self._call("getMusicFolders").get("musicFolders") or {}).get("musicFolder"))
        server = " ".join(str(body[k]) for k in ("type", "serverVersion") if body.get(k))
        server = f" ({server})" if server else ""
        count = len(folders)
        return (f"{self.label} answered: Subsonic API {body.get('version', '?')}{server}, "
                f"{count} music folder{'' if count == 1 else 's'}")

    def albums(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> list[Album]:
        found: list[Album] = []
        while len(found) < limit:
            size = min(MAX_ALBUM_PAGE, limit - len(found))
            page = self._album_list("newest", offset + len(found), size)
            found.extend(self._album(item) for item in page)
            if len(page) < size:
                break
        return found

    def _album_list(self, kind: str, offset: int, size: int) -> list[dict]:
        body = self._call("getAlbumList2", [("type", kind), ("size", size), ("offset", offset)])
        return [a for a in _as_list((body.get("albumList2") or {}).get("album")) if isinstance(a, dict)]

    @staticmethod
    def _album(item: dict) -> Album:
        return Album(id=str(item.get("id")), name=item.get("name") or item.get("title") or "",
                     artist=item.get("artist"), year=_int(item.get("year")),
                     track_count=_int(item.get("songCount")), added_at=_time(item.get("created")))

    def _album_songs(self, album_id: str) -> tuple[dict, list[dict]]:
        album = self._call("getAlbum", [("id", album_id)]).get("album")
        if not isinstance(album, dict):
            raise ProviderError(f"{self.label} sent a malformed answer (getAlbum without album)")
        return album, [s for s in _as_list(album.get("song")) if isinstance(s, dict)]

    def album_tracks(self, album_id: str) -> list[Track]:
        album, songs = self._album_songs(str(album_id))
        tracks = []
        for song in songs:
            track = Track(
                id=str(song.get("id")), title=song.get("title"), artist=song.get("artist"),
                album=song.get("album") or album.get("name"),
                album_artist=song.get("albumArtist") or song.get("displayAlbumArtist") or album.get("artist"),
                track_number=_int(song.get("track")), disc_number=_int(song.get("discNumber")),
                year=_int(song.get("year")), duration=_float(song.get("duration")),
                format=_suffix(song.get("suffix")), album_id=str(song.get("albumId") or album.get("id") or album_id))
            tracks.append(track)
            if track.format:
                self._remember_suffix(track.id, track.format)
        order = {t.id: i for i, t in enumerate(tracks)}
        return sorted(tracks, key=lambda t: (t.disc_number if t.disc_number is not None else 1,
                                             t.track_number if t.track_number is not None else 1 << 30,
                                             order[t.id]))

    def _remember_suffix(self, track_id: str, suffix: str) -> None:
        if len(self._suffixes) >= _SUFFIX_CACHE:
            self._suffixes.pop(next(iter(self._suffixes)))
        self._suffixes[track_id] = suffix

    # -- download ------------------------------------------------------------------
    def download(self, track_id: str, dest_dir: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 timeout: float = DEFAULT_DOWNLOAD_SECONDS) -> Path:
        """The original file via ``download``; via ``stream`` with ``format=raw`` if the user
        may not download (error 50) or the server lacks the endpoint (HTTP 404).

        The suffix comes from the track (album_tracks, else getSong), else from the
        answer's Content-Disposition / Content-Type.  A Subsonic error sent with HTTP
        200 in place of the audio raises, and the file is removed.  (On supysonic the
        stream fallback counts as a play.)
        """
        track_id = str(track_id)
        dest_dir = Path(dest_dir)
        suffix = self._suffixes.get(track_id)
        if suffix is None:
            try:
                song = self._call("getSong", [("id", track_id)]).get("song") or {}
                suffix = _suffix(song.get("suffix"))
            except (NotFound, AuthFailed):
                raise
            except ProviderError:
                suffix = None        # no getSong: rely on the answer's headers
        return self._original(lambda method, extra: self._fetch(method, track_id, dest_dir, suffix, max_bytes,
                                                                timeout, extra))

    def _original(self, fetch: Callable[[str, list[tuple[str, str]]], Fetched]) -> Fetched:
        """``fetch("download", [])``, or ``fetch("stream", [("format", "raw")])`` when the user may
        not download (error 50) or the server lacks the endpoint (HTTP 404): the original file."""
        try:
            return fetch("download", [])
        except _Refused:
            log.info("%s refused download of a track; using stream format=raw", self.label)
        try:
            return fetch("stream", [("format", "raw")])
        except _Refused as refused:
            raise refused.error from None

    def stream(self, track_id: str, byte_range: str | None = None) -> AudioStream:
        """The original file, as `download` fetches it (``download``, else ``stream`` with
        ``format=raw``), so its length is known and the browser can seek; the credentials
        go in the POST body, as for every call.  (``download`` first: on supysonic only
        ``stream`` counts as a play, and a preview is not one.)"""
        track_id = str(track_id)
        return self._original(lambda method, extra: self._open(method, track_id, byte_range, extra))

    def _open(self, method: str, track_id: str, byte_range: str | None,
              extra: list[tuple[str, str]]) -> AudioStream:
        params = list(self._auth_params().items()) + [("id", track_id)] + extra
        body = {"params": params} if self._use_get else {"data": params}

        def refuse_errors(response: requests.Response) -> None:
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if "json" in content_type or "xml" in content_type or content_type.startswith("text/"):
                error = self._parse_error(response.raw.read(_SNIFF_BYTES, decode_content=True))
                failure = (self._error(method, error) if error is not None else
                           ProviderError(f"{self.label} sent {content_type} instead of an audio file"))
                raise _Refused(failure) if isinstance(failure, _Forbidden) else failure
        try:
            return self.http.open_stream("GET" if self._use_get else "POST", f"/rest/{method}.view", byte_range,
                                         inspect=refuse_errors, **body)
        except NotFound as error:
            if getattr(self._last, "status", None) == 404:   # HTTP 404: this server has no such endpoint
                raise _Refused(error) from None
            raise

    def _fetch(self, method: str, track_id: str, dest_dir: Path, suffix: str | None, max_bytes: int,
               timeout: float, extra: list[tuple[str, str]]) -> Path:
        params = list(self._auth_params().items()) + [("id", track_id)] + extra
        self._last.headers = None
        try:
            # POST keeps the credentials out of URLs and access logs, as for every other call.
            body = {"params": params} if self._use_get else {"data": params}
            path = self.http.download(f"/rest/{method}.view", dest_dir, suffix="." + suffix if suffix else "",
                                      max_bytes=max_bytes, timeout=timeout, **body)
        except NotFound as error:       # HTTP 404: this server has no such endpoint
            raise _Refused(error) from None
        headers = getattr(self._last, "headers", None) or {}
        try:
            self._check_not_an_error(method, path, headers)
            if suffix is None:
                found = self._suffix_from_headers(headers)
                if found:
                    path = self._rename_with_suffix(path, found)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    def _check_not_an_error(self, method: str, path: Path, headers: Any) -> None:
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type in ("application/zip", "application/x-zip-compressed"):
            raise ProviderError(f"{self.label} sent a zip archive: the id is an album or folder, not a track")
        declared = "json" in content_type or "xml" in content_type or content_type.startswith("text/")
        size = path.stat().st_size
        if not declared and size > _SNIFF_BYTES:
            return
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES + 1)
        start = head.lstrip()[:64]
        looks = start.startswith(b"{") or start.startswith(b"<?xml") or start.startswith(b"<subsonic-response")
        if not declared and not looks:
            return
        error = self._parse_error(head)
        if error is None:
            if declared:
                raise ProviderError(f"{self.label} sent {content_type or 'text'} instead of an audio file")
            return
        failure = self._error(method, error)
        if isinstance(failure, _Forbidden):
            raise _Refused(failure)      # error 50: this user may not download; try stream
        raise failure

    def _parse_error(self, head: bytes) -> dict | None:
        """The Subsonic error in a small JSON or XML answer, or None when it is not one."""
        text = head.strip()
        if text.startswith(b"{"):
            try:
                body = self._envelope(json.loads(text.decode("utf-8", "replace")))
            except (ValueError, ProviderError):
                return None
            return (body.get("error") or {"code": 0, "message": "no audio in the answer"}) \
                if body.get("status") == "failed" else {"code": 0, "message": "a JSON answer instead of audio"}
        if text.startswith(b"<"):
            try:
                root = ElementTree.fromstring(text)
            except ElementTree.ParseError:
                return None
            if not root.tag.endswith("subsonic-response"):
                return None
            for child in root:
                if child.tag.endswith("error"):
                    return {"code": child.get("code"), "message": child.get("message")}
            return {"code": 0, "message": "an XML answer instead of audio"}
        return None

    @staticmethod
    def _suffix_from_headers(headers: Any) -> str | None:
        disposition = headers.get("Content-Disposition")
        if disposition:
            message = Message()
            message["content-disposition"] = disposition
            filename = message.get_filename()
            if filename and "." in filename:
                found = _suffix(filename.rsplit(".", 1)[1])
                if found:
                    return found
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type in _CONTENT_TYPES:
            return _CONTENT_TYPES[content_type]
        guessed = mimetypes.guess_extension(content_type) if content_type.startswith("audio/") else None
        return _suffix(guessed)

    @staticmethod
    def _rename_with_suffix(path: Path, suffix: str) -> Path:
        fd, name = tempfile.mkstemp(prefix="sonarium-", suffix="." + suffix, dir=path.parent)
        os.close(fd)
        try:
            os.replace(path, name)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return Path(name)

    # -- playlists -----------------------------------------------------------------
    def playlists(self) -> list[RemotePlaylist]:
        return [RemotePlaylist(id=str(p.get("id")), name=p.get("name") or "", track_count=_int(p.get("songCount")))
                for p in self._playlist_items()]

    def _playlist_items(self) -> list[dict]:
        # supysonic answers "playlists": {} (no "playlist" key) when there are none
        listing = self._call("getPlaylists").get("playlists") or {}
        return [p for p in _as_list(listing.get("playlist")) if isinstance(p, dict)]

    def playlist_track_ids(self, playlist_id: str) -> list[str]:
        """The song ids of one playlist, in playlist order."""
        playlist = self._call("getPlaylist", [("id", str(playlist_id))]).get("playlist") or {}
        return [str(e.get("id")) for e in _as_list(playlist.get("entry")) if isinstance(e, dict)]

    def create_playlist(self, name: str, track_ids: list[str]) -> str:
        ids = [str(i) for i in track_ids]
        first = ids[:self.batch_size]
        before = None
        if self._create_returns_id is not True:
            before = {str(p.get("id")) for p in self._playlist_items()}
        body = self._call("createPlaylist", [("name", name)] + [("songId", i) for i in first])
        created = body.get("playlist") if isinstance(body.get("playlist"), dict) else None
        if created and created.get("id") is not None:
            self._create_returns_id = True
            playlist_id = str(created["id"])
        else:
            self._create_returns_id = False
            playlist_id = self._find_new_playlist(name, before, len(first))
        try:
            self._add_songs(playlist_id, ids[self.batch_size:])
        except BaseException:
            try:
                self.delete_playlist(playlist_id)   # do not leave a half-filled playlist behind
            except ProviderError:
                log.warning("%s: could not remove the incomplete playlist %r", self.label, name)
            raise
        return playlist_id

    def _find_new_playlist(self, name: str, before: set[str] | None, count: int) -> str:
        items = self._playlist_items()
        if before is None:      # a server that used to return the id stopped doing so
            before = set()
        new = [p for p in items if str(p.get("id")) not in before and p.get("name") == name
               and p.get("owner") in (None, self.user)]
        if not new:
            raise ProviderError(f"{self.label} accepted the playlist {name!r} but does not list it")
        new.sort(key=lambda p: (_int(p.get("songCount")) == count, p.get("created") or ""), reverse=True)
        return str(new[0].get("id"))

    def _add_songs(self, playlist_id: str, ids: list[str], name: str | None = None) -> None:
        for batch in _batches(ids, self.batch_size):
            params = [("playlistId", playlist_id)]
            if name is not None:
                params.append(("name", name))
                name = None
            self._call("updatePlaylist", params + [("songIdToAdd", i) for i in batch])
        if name is not None:
            self._call("updatePlaylist", [("playlistId", playlist_id), ("name", name)])

    def replace_playlist(self, playlist_id: str, name: str, track_ids: list[str]) -> str:
        """createPlaylist with playlistId (replaces the songs, per the Subsonic spec), then the
        rest in batches; checked with getPlaylist and repaired with updatePlaylist if the server
        appended instead of replacing."""
        ids = [str(i) for i in track_ids]
        playlist_id = str(playlist_id)
        body = self._call("createPlaylist", [("playlistId", playlist_id), ("name", name)]
                          + [("songId", i) for i in ids[:self.batch_size]])
        returned = body.get("playlist") if isinstance(body.get("playlist"), dict) else None
        if returned and returned.get("id") is not None:
            playlist_id = str(returned["id"])
        rename = None if returned and returned.get("name") == name else name
        self._add_songs(playlist_id, ids[self.batch_size:], name=rename)
        current = self.playlist_track_ids(playlist_id)
        if current != ids:
            log.info("%s: createPlaylist did not replace the songs; rebuilding with updatePlaylist", self.label)
            for high in range(len(current), 0, -self.batch_size):
                low = max(0, high - self.batch_size)
                self._call("updatePlaylist", [("playlistId", playlist_id)]
                           + [("songIndexToRemove", i) for i in range(low, high)])
            self._add_songs(playlist_id, ids)
            if self.playlist_track_ids(playlist_id) != ids:
                raise ProviderError(f"{self.label} did not store the playlist {name!r} as sent")
        return playlist_id

    def playlist_url(self, playlist_id: str) -> str | None:
        return f"{self.base_url}/app/#/playlist/{quote(playlist_id, safe='')}/show"   # Navidrome's web UI

    def delete_playlist(self, playlist_id: str) -> None:
        self._call("deletePlaylist", [("id", str(playlist_id))])

    # -- history -------------------------------------------------------------------
    def played_albums(self, limit: int = 50) -> list[Album]:
        """Albums with at least one play, most recently played first (getAlbumList2 type=recent)."""
        return [self._album(a) for a in self._album_list("recent", 0, min(limit, MAX_ALBUM_PAGE))]

    def listening_history(self, limit: int = 500) -> list[PlayRecord]:
        """Per-track play counts from the songs of the most played and most recent albums.

        Reads getAlbumList2 type=frequent and type=recent (at most HISTORY_MAX_ALBUMS
        albums) and each album's songs; a song with ``playCount`` > 0 becomes a
        PlayRecord (``last_played`` from ``played``).  Sorted by play count, then
        last play.  Navidrome reports both fields (it counts scrobbles, not streams).

        Servers that keep plays per track but report them only through album order
        (supysonic: counts rise on ``stream``, songs carry no ``playCount``) raise
        NotSupported naming the played albums: which tracks were played, and how
        often, cannot be derived from an album order, so no per-track records are
        made up.  `played_albums()` gives that album-level view.  With no plays at
        all the answer is an empty list.
        """
        recent = self._album_list("recent", 0, min(HISTORY_MAX_ALBUMS, MAX_ALBUM_PAGE))
        frequent = self._album_list("frequent", 0, min(HISTORY_MAX_ALBUMS, MAX_ALBUM_PAGE))
        # played albums first: if their songs carry no counts, no other album's will
        album_ids: list[str] = []
        for item in recent + frequent:
            album_id = str(item.get("id"))
            if album_id not in album_ids and _int(item.get("playCount")) != 0:
                album_ids.append(album_id)
        album_ids = album_ids[:HISTORY_MAX_ALBUMS]
        records: dict[str, PlayRecord] = {}
        counts_reported = False
        for index, album_id in enumerate(album_ids):
            try:
                _, songs = self._album_songs(album_id)
            except NotFound:
                continue
            for song in songs:
                if "playCount" in song or "played" in song:
                    counts_reported = True
                count = _int(song.get("playCount")) or 0
                if count > 0:
                    song_id = str(song.get("id"))
                    records[song_id] = PlayRecord(track_id=song_id, play_count=count,
                                                  last_played=_time(song.get("played")),
                                                  title=song.get("title"), artist=song.get("artist"))
            if not counts_reported and index + 1 >= max(1, len(recent)):
                break       # the played albums (or, with none, the first) report no counts
        if not records and recent and not counts_reported:
            names = ", ".join(repr(a.get("name")) for a in recent[:3])
            raise NotSupported(
                f"{self.label} at {self.base_url} reports no per-track play counts (its songs carry no "
                f"playCount/played); it only orders albums by plays ({len(recent)} played album"
                f"{'' if len(recent) == 1 else 's'}, most recent: {names}), so per-track listening "
                f"history is not available from this server")
        epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
        ordered = sorted(records.values(), key=lambda r: (r.play_count, r.last_played or epoch), reverse=True)
        return ordered[:limit]

