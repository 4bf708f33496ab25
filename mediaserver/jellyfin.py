"""Jellyfin and Emby: one REST API, two dialects.

Emby is the parent of Jellyfin and both still answer the same calls, with
these differences (checked against the generated clients, PyPI
`jellyfin-sdk` 0.3.0 for Jellyfin 10.11 and `embyclient` 4.9.0.33 for Emby 4.9):

- Emby serves its API under ``/emby``; Jellyfin at the root (or its own base path,
  which is simply part of JELLYFIN_URL).
- Query parameter names: Jellyfin documents camelCase (``includeItemTypes``),
  Emby PascalCase (``IncludeItemTypes``).  Both servers match names without
  regard to case, but we send each its documented spelling.
- Listing items: Jellyfin 10.9+ documents ``GET /Items?userId=`` (the old
  ``/Users/{id}/Items`` survives only as a hidden legacy route); Emby documents
  ``GET /Users/{UserId}/Items``.  ``/Items?userId=`` also works on Jellyfin 10.8.
- Creating a playlist: Jellyfin takes a JSON body (CreatePlaylistDto: Name, Ids,
  UserId, MediaType); Emby takes ``Name``, ``Ids`` and ``MediaType`` as query
  parameters, no body and no UserId (the playlist belongs to the user the
  token authenticates: with Emby use a user's access token or an API key the
  server associates with that user).
- Ids: Jellyfin item ids are 32-hex GUIDs, Emby item ids are decimal strings;
  both are passed through as opaque strings.

The API key travels only in the ``X-Emby-Token`` header (Jellyfin also gets the
``Authorization: MediaBrowser ... Token=`` form its newer servers prefer), never in a
URL, message or log.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from pathlib import Path, PurePosixPath
from typing import Any, Iterable
from urllib.parse import quote, unquote

from mediaserver.base import (Album, AudioStream, AuthFailed, DEFAULT_DOWNLOAD_SECONDS,
                              DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_PAGE, MediaProvider, NotFound, PlayRecord,
                              ProviderError, RemotePlaylist, Track)
from mediaserver.http import HttpClient

log = logging.getLogger(__name__)

TICKS_PER_SECOND = 10_000_000
ID_BATCH = 100          # ids per request that carries them in the URL (keeps URLs ~4 kB at most)
LIST_PAGE = 500         # items per page when reading whole lists (tracks, playlists, entries)
_SUFFIX = re.compile(r"^[a-z0-9]{1,5}$")
_CONTENT_TYPES = {
    "audio/flac": "flac", "audio/x-flac": "flac", "audio/mpeg": "mp3", "audio/mp3": "mp3",
    "audio/ogg": "ogg", "audio/opus": "opus", "audio/wav": "wav", "audio/x-wav": "wav",
    "audio/wave": "wav", "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/aac": "aac",
    "audio/x-ms-wma": "wma", "audio/aiff": "aiff", "audio/x-aiff": "aiff", "audio/x-ape": "ape",
    "audio/x-wavpack": "wv", "audio/x-dsf": "dsf",
}


def _batches(items: list[str], size: int = ID_BATCH) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO time as the servers send it ("2024-05-01T12:34:56.1234567Z") → aware datetime (UTC if naive)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    # .NET sends 7 fractional digits; keep 6 so every Python 3.11 parser path accepts it.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    if when.year <= 1:          # .NET's DateTime.MinValue means "never"
        return None
    return when


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _suffix_from_disposition(header: str | None) -> str:
    if not header:
        return ""
    match = re.search(r"filename\*\s*=\s*[^']*'[^']*'([^;]+)", header, re.I)
    name = unquote(match.group(1)) if match else None
    if name is None:
        match = re.search(r'filename\s*=\s*"?([^";]+)"?', header, re.I)
        name = match.group(1) if match else ""
    suffix = PurePosixPath(name.strip()).suffix.lstrip(".").lower()
    return suffix if _SUFFIX.match(suffix) else ""


class JellyfinProvider(MediaProvider):
    """Jellyfin 10.8+ (written against the 10.11 OpenAPI document)."""

    type = "jellyfin"
    label = "Jellyfin"
    #: path prefix of the API under the base URL
    prefix = ""
    #: the setting names, for messages that tell the user what to fix
    settings_prefix = "JELLYFIN"
    #: the web client's page for one item (a playlist's id appended)
    web_item_path = "/web/#/details?id="

    def __init__(self, base_url: str, user_id: str, token: str, http: HttpClient | None = None):
        if not base_url or not user_id or not token:
            raise ProviderError(f"{self.label} needs {self.settings_prefix}_URL, {self.settings_prefix}_USER_ID "
                                f"and {self.settings_prefix}_TOKEN to be set")
        base_url = base_url.rstrip("/")
        if self.prefix and base_url.lower().endswith(self.prefix):
            base_url = base_url[:-len(self.prefix)]     # EMBY_URL given with /emby already
        self.base_url = base_url
        self.user_id = user_id.strip()
        if http is None:
            http = HttpClient(base_url, self.label, auth_hint="wrong API key")
        else:
            http.auth_hint = "wrong API key"
        http.session.headers.update(self._auth_headers(token))
        self.http = http
        # track id -> file suffix, learnt from album_tracks, used to name downloads
        self._formats: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> "JellyfinProvider":
        name = cls.settings_prefix.lower()
        return cls(getattr(settings, f"{name}_url", None) or "",
                   getattr(settings, f"{name}_user_id", None) or "",
                   getattr(settings, f"{name}_token", None) or "")

    # -- dialect -----------------------------------------------------------------
    def _auth_headers(self, token: str) -> dict[str, str]:
        return {
            "X-Emby-Token": token,
            "Authorization": f'MediaBrowser Client="Sonarium", Device="Sonarium", '
                             f'DeviceId="sonarium", Version="1", Token="{token}"',
        }

    def _q(self, **params: Any) -> dict[str, str]:
        """Query parameters given in PascalCase, spelt as this server documents them."""
        out = {}
        for name, value in params.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            out[self._name(name)] = str(value)
        return out

    @staticmethod
    def _name(pascal: str) -> str:
        return pascal[:1].lower() + pascal[1:]

    def _items_path(self) -> tuple[str, dict[str, str]]:
        """Where this user's item queries go: path and the user parameter."""
        return "/Items", {self._name("UserId"): self.user_id}

    def _items(self, **params: Any) -> dict:
        path, user = self._items_path()
        query = {**user, **self._q(**params)}
        answer = self.http.json("GET", self.prefix + path, params=query)
        if not isinstance(answer, dict) or not isinstance(answer.get("Items"), list):
            raise ProviderError(f"{self.label} sent an unexpected answer to an item query")
        return answer

    def _all_items(self, **params: Any) -> list[dict]:
        items: list[dict] = []
        while True:
            page = self._items(StartIndex=len(items), Limit=LIST_PAGE, **params)["Items"]
            items.extend(page)
            if len(page) < LIST_PAGE:
                return items

    # -- connection --------------------------------------------------------------
    def test_connection(self) -> str:
        info = self.http.json("GET", self.prefix + "/System/Info/Public") or {}
        version = info.get("Version") if isinstance(info, dict) else None
        message = f"{self.label} user id not found: check {self.settings_prefix}_USER_ID"
        try:
            user = self.http.json("GET", f"{self.prefix}/Users/{self.user_id}")
        except NotFound:
            raise NotFound(message) from None
        except AuthFailed:
            raise
        except ProviderError as error:
            # A malformed id makes the server answer 400; HttpClient does not expose the code.
            if str(error).startswith(f"{self.label} answered 400"):
                raise NotFound(message) from None
            raise
        name = user.get("Name") if isinstance(user, dict) else None
        if not name:
            raise NotFound(message)
        return f"{self.label} {version or '(unknown version)'} answered: user {name}"

    # -- library -----------------------------------------------------------------
    def albums(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> list[Album]:
        answer = self._items(IncludeItemTypes="MusicAlbum", Recursive=True, SortBy="DateCreated,SortName",
                             SortOrder="Descending", StartIndex=offset, Limit=limit,
                             Fields="DateCreated,ChildCount")
        return [self._album(item) for item in answer["Items"] if item.get("Id")]

    def _album(self, item: dict) -> Album:
        return Album(id=str(item["Id"]), name=item.get("Name") or "", artist=self._album_artist(item),
                     year=_int(item.get("ProductionYear")),
                     track_count=_int(item.get("ChildCount")) if item.get("ChildCount") is not None
                     else _int(item.get("RecursiveItemCount")),
                     added_at=parse_time(item.get("DateCreated")))

    @staticmethod
    def _album_artist(item: dict) -> str | None:
        if item.get("AlbumArtist"):
            return item["AlbumArtist"]
        names = [a.get("Name") for a in item.get("AlbumArtists") or [] if isinstance(a, dict) and a.get("Name")]
        return ", ".join(names) or None

    @staticmethod
    def _artist(item: dict) -> str | None:
        artists = [a for a in item.get("Artists") or [] if isinstance(a, str) and a]
        if artists:
            return ", ".join(artists)
        return JellyfinProvider._album_artist(item)

    def album_tracks(self, album_id: str) -> list[Track]:
        items = self._all_items(ParentId=album_id, IncludeItemTypes="Audio", Recursive=True,
                                SortBy="ParentIndexNumber,IndexNumber,SortName", SortOrder="Ascending",
                                Fields="MediaSources,Path")
        tracks = [self._track(item, album_id) for item in items if item.get("Id")]
        with self._lock:
            for track in tracks:
                if track.format:
                    self._formats[track.id] = track.format
        # The server sorts already; a stable sort keeps that order for unnumbered tracks.
        return sorted(tracks, key=lambda t: (t.disc_number if t.disc_number is not None else 0,
                                             t.track_number if t.track_number is not None else 1 << 30))

    def _track(self, item: dict, album_id: str | None = None) -> Track:
        ticks = _int(item.get("RunTimeTicks"))
        return Track(id=str(item["Id"]), title=item.get("Name"), artist=self._artist(item),
                     album=item.get("Album"), album_artist=self._album_artist(item),
                     track_number=_int(item.get("IndexNumber")), disc_number=_int(item.get("ParentIndexNumber")),
                     year=_int(item.get("ProductionYear")),
                     duration=ticks / TICKS_PER_SECOND if ticks is not None else None,
                     format=self._format(item), album_id=str(item.get("AlbumId") or album_id or "") or None)

    @staticmethod
    def _format(item: dict) -> str | None:
        """The file's suffix: from Path, else Container (a list like "mov,mp4,m4a" for MP4 audio)."""
        path = item.get("Path")
        path_suffix = ""
        if isinstance(path, str) and path:
            path_suffix = PurePosixPath(path.replace("\\", "/")).suffix.lstrip(".").lower()
        if _SUFFIX.match(path_suffix):
            return path_suffix
        sources = item.get("MediaSources") or []
        for container in (item.get("Container"),
                          sources[0].get("Container") if sources and isinstance(sources[0], dict) else None):
            if not isinstance(container, str) or not container.strip():
                continue
            names = [c.strip().lower() for c in container.split(",") if c.strip()]
            if len(names) > 1 and "m4a" in names:
                return "m4a"
            if names and _SUFFIX.match(names[0]):
                return names[0]
        return None

    def download(self, track_id: str, dest_dir: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 timeout: float = DEFAULT_DOWNLOAD_SECONDS) -> Path:
        with self._lock:
            known = self._formats.get(str(track_id), "")
        path = f"{self.prefix}/Items/{track_id}/Download"
        if known:
            return self.http.download(path, dest_dir, suffix="." + known, max_bytes=max_bytes, timeout=timeout)
        # Suffix unknown: read it from the answer's Content-Disposition (or Content-Type).
        seen: dict[str, str] = {}
        me = threading.get_ident()

        def remember(response, *args, **kwargs):
            if threading.get_ident() == me and response.url.split("?")[0].endswith(path):
                seen["disposition"] = response.headers.get("Content-Disposition", "")
                seen["type"] = response.headers.get("Content-Type", "")
            return response

        hooks = self.http.session.hooks["response"]
        hooks.append(remember)
        try:
            target = self.http.download(path, dest_dir, max_bytes=max_bytes, timeout=timeout)
        finally:
            hooks.remove(remember)
        suffix = (_suffix_from_disposition(seen.get("disposition"))
                  or _CONTENT_TYPES.get((seen.get("type") or "").split(";")[0].strip().lower(), ""))
        if not suffix:
            return target
        named = target.with_name(target.name + "." + suffix)
        try:
            os.link(target, named)      # fails instead of overwriting if the name is taken
        except OSError:
            return target
        target.unlink()
        return named

    def stream(self, track_id: str, byte_range: str | None = None) -> AudioStream:
        """The file as stored (``static``: never transcoded, so its length is known and ranges
        work), from the audio stream route that needs no download permission; the API key
        travels in the session's headers, as for every call."""
        return self.http.open_stream("GET", f"{self.prefix}/Audio/{quote(str(track_id), safe='')}/stream",
                                     byte_range, params=self._q(Static=True))

    # -- playlists ---------------------------------------------------------------
    def _create(self, name: str, first: list[str]) -> str:
        body = {"Name": name, "Ids": first, "UserId": self.user_id, "MediaType": "Audio"}
        return self._created_id(self.http.json("POST", self.prefix + "/Playlists", json=body))

    def _created_id(self, answer: Any) -> str:
        playlist_id = answer.get("Id") if isinstance(answer, dict) else None
        if not playlist_id:
            raise ProviderError(f"{self.label} did not return the new playlist's id")
        return str(playlist_id)

    def _append(self, playlist_id: str, ids: list[str]) -> None:
        for batch in _batches(ids):
            self.http.request("POST", f"{self.prefix}/Playlists/{playlist_id}/Items",
                              params=self._q(Ids=batch, UserId=self.user_id))

    def create_playlist(self, name: str, track_ids: list[str]) -> str:
        ids = [str(i) for i in track_ids]
        playlist_id = self._create(name, ids[:ID_BATCH])
        try:
            self._append(playlist_id, ids[ID_BATCH:])
        except ProviderError:
            # Do not leave a half-filled playlist behind.
            try:
                self.delete_playlist(playlist_id)
            except ProviderError:
                log.warning("%s: could not remove the incomplete playlist %s", self.label, playlist_id)
            raise
        log.info("%s: created playlist %s with %d tracks", self.label, playlist_id, len(ids))
        return playlist_id

    def replace_playlist(self, playlist_id: str, name: str, track_ids: list[str]) -> str:
        """Empty the playlist and refill it in order, keeping its id.

        Keeping the id keeps what users attached to the playlist (sharing, image,
        favourites, clients' links) and the id Sonarium stored.  Neither server
        has a "set items" call both support (Jellyfin 10.9+ has UpdatePlaylistDto,
        Emby and older Jellyfin do not), so: remove every entry by its
        PlaylistItemId, then append.  Renaming has no call common to both either,
        so a changed name means delete and create anew (the new id is returned).
        """
        found = self._items(Ids=playlist_id)["Items"]
        current = next((item for item in found if str(item.get("Id")) == str(playlist_id)), None)
        if current is None or current.get("Type") != "Playlist":
            raise NotFound(f"{self.label} has no playlist with id {playlist_id}")
        if (current.get("Name") or "") != name:
            new_id = self.create_playlist(name, track_ids)
            self.delete_playlist(playlist_id)
            return new_id
        entries: list[str] = []
        while True:
            page = self.http.json("GET", f"{self.prefix}/Playlists/{playlist_id}/Items",
                                  params=self._q(UserId=self.user_id, StartIndex=len(entries), Limit=LIST_PAGE))
            items = (page or {}).get("Items") or []
            entries.extend(str(item["PlaylistItemId"]) for item in items if item.get("PlaylistItemId"))
            if len(items) < LIST_PAGE:
                break
        for batch in _batches(entries):
            self.http.request("DELETE", f"{self.prefix}/Playlists/{playlist_id}/Items",
                              params=self._q(EntryIds=batch))
        self._append(playlist_id, [str(i) for i in track_ids])
        log.info("%s: replaced the tracks of playlist %s (%d removed, %d added)", self.label, playlist_id,
                 len(entries), len(track_ids))
        return str(playlist_id)

    def playlists(self) -> list[RemotePlaylist]:
        items = self._all_items(IncludeItemTypes="Playlist", Recursive=True, SortBy="SortName",
                                SortOrder="Ascending", Fields="ChildCount")
        return [RemotePlaylist(id=str(item["Id"]), name=item.get("Name") or "",
                               track_count=_int(item.get("ChildCount")))
                for item in items if item.get("Id")]

    def playlist_url(self, playlist_id: str) -> str | None:
        return f"{self.base_url}{self.web_item_path}{quote(playlist_id, safe='')}"

    def delete_playlist(self, playlist_id: str) -> None:
        self.http.request("DELETE", f"{self.prefix}/Items/{playlist_id}")

    # -- history -----------------------------------------------------------------
    def listening_history(self, limit: int = 500) -> list[PlayRecord]:
        answer = self._items(IncludeItemTypes="Audio", Recursive=True, Filters="IsPlayed",
                             SortBy="PlayCount,DatePlayed", SortOrder="Descending", EnableUserData=True,
                             Limit=limit)
        records = []
        for item in answer["Items"]:
            data = item.get("UserData") or {}
            count = _int(data.get("PlayCount")) or 0
            if not item.get("Id") or (count <= 0 and not data.get("Played")):
                continue
            records.append(PlayRecord(track_id=str(item["Id"]), play_count=count,
                                      last_played=parse_time(data.get("LastPlayedDate")),
                                      title=item.get("Name"), artist=self._artist(item)))
        return records


class EmbyProvider(JellyfinProvider):
    """Emby 4.x: the same API under /emby, PascalCase names, query-string playlist creation."""

    type = "emby"
    label = "Emby"
    prefix = "/emby"
    settings_prefix = "EMBY"
    web_item_path = "/web/index.html#!/item?id="

    def _auth_headers(self, token: str) -> dict[str, str]:
        return {"X-Emby-Token": token}

    @staticmethod
    def _name(pascal: str) -> str:
        return pascal

    def _items_path(self) -> tuple[str, dict[str, str]]:
        return f"/Users/{self.user_id}/Items", {}

    def _create(self, name: str, first: list[str]) -> str:
        # Emby's CreatePlaylist reads Name, Ids and MediaType from the query string only.
        answer = self.http.json("POST", self.prefix + "/Playlists",
                                params=self._q(Name=name, Ids=first or None, MediaType="Audio"))
        return self._created_id(answer)
