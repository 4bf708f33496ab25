"""The provider interface every media server implements, and its errors.

Every failure a user can meet is a `ProviderError` whose message is written
for that user ("Navidrome answered 401: wrong user or password", "cannot reach
http://host:4533: connection refused"); messages never contain credentials.
"""
from __future__ import annotations

import abc
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Callable, Iterator

from werkzeug.http import parse_range_header

DEFAULT_PAGE = 100
DEFAULT_MAX_DOWNLOAD_BYTES = 2 * 1024 ** 3   # 2 GiB: larger "tracks" are DJ sets or mistakes
DEFAULT_DOWNLOAD_SECONDS = 600.0             # whole download, not per read


class ProviderError(Exception):
    """A media-server failure, with a message meant for the user."""


class Unreachable(ProviderError):
    """The server did not answer (refused, DNS, timeout)."""


class AuthFailed(ProviderError):
    """The server refused our credentials."""


class NotFound(ProviderError):
    """The server does not know the item (or the user id)."""


class NotSupported(ProviderError):
    """This server cannot do that (e.g. no per-user listening history)."""


class DownloadTooLarge(ProviderError):
    """The file is larger than the allowed size; nothing was kept."""


class RangeNotSatisfiable(ProviderError):
    """The asked byte range starts past the end of the file; `size` is the file's length when known."""

    def __init__(self, message: str, size: int | None = None):
        super().__init__(message)
        self.size = size


@dataclasses.dataclass(frozen=True)
class Album:
    id: str
    name: str
    artist: str | None = None
    year: int | None = None
    track_count: int | None = None
    added_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class Track:
    id: str                        # the server's id, always a string
    title: str | None
    artist: str | None
    album: str | None
    album_artist: str | None = None
    track_number: int | None = None
    disc_number: int | None = None
    year: int | None = None
    duration: float | None = None  # seconds
    format: str | None = None      # file extension / suffix, lower case, no dot
    album_id: str | None = None


@dataclasses.dataclass(frozen=True)
class RemotePlaylist:
    id: str
    name: str
    track_count: int | None = None


@dataclasses.dataclass(frozen=True)
class PlayRecord:
    """How often and when a user played a track, for the sonic fingerprint."""

    track_id: str
    play_count: int
    last_played: dt.datetime | None = None
    title: str | None = None
    artist: str | None = None


@dataclasses.dataclass
class AudioStream:
    """An opened track, ready to be relayed: what to answer (200, or 206 for a range) and the bytes.

    `chunks` yields the bytes in pieces and raises ProviderError if the source
    breaks off; `close` releases the source (a file or a connection) and is
    safe to call more than once.
    """

    status: int
    content_type: str
    chunks: Iterator[bytes]
    close: Callable[[], None]
    length: int | None = None          # bytes in this answer
    size: int | None = None            # bytes in the whole file, when known
    content_range: str | None = None   # "bytes first-last/size" with status 206


def byte_span(byte_range: str | None, size: int) -> tuple[int, int] | None:
    """The [start, stop) slice a Range header asks of a file of `size` bytes; None means the whole file.

    As HTTP wants it: a header that does not parse, or asks several ranges, is
    ignored (the whole file is an allowed answer); one that starts at or past
    the end raises RangeNotSatisfiable.
    """
    if not byte_range:
        return None
    parsed = parse_range_header(byte_range)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    span = parsed.range_for_length(size)
    if span is None:
        raise RangeNotSatisfiable(f"the range {byte_range[:60]!r} lies outside the file ({size} bytes)", size)
    return span


class MediaProvider(abc.ABC):
    """What Sonarium needs from a media server.

    Implementations raise ProviderError subclasses, never library exceptions.
    """

    #: MEDIASERVER_TYPE value and the label used in messages.
    type: str = ""
    label: str = ""

    @abc.abstractmethod
    def test_connection(self) -> str:
        """Check reachability and credentials; returns a short human summary."""

    @abc.abstractmethod
    def albums(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> list[Album]:
        """One page of albums, most recently added first."""

    def iter_albums(self, page: int = DEFAULT_PAGE) -> Iterator[Album]:
        """Every album, newest first, one page at a time."""
        offset = 0
        while True:
            batch = self.albums(offset, page)
            yield from batch
            if len(batch) < page:
                return
            offset += page

    @abc.abstractmethod
    def album_tracks(self, album_id: str) -> list[Track]:
        """The tracks of one album, in disc/track order."""

    @abc.abstractmethod
    def download(self, track_id: str, dest_dir: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 timeout: float = DEFAULT_DOWNLOAD_SECONDS) -> Path:
        """Fetch the original file into a new file in `dest_dir`; the caller deletes it.

        Streamed; on any failure (too large, truncated, timeout) nothing is left behind.
        """

    @abc.abstractmethod
    def create_playlist(self, name: str, track_ids: list[str]) -> str:
        """Create a playlist with these tracks in this order; returns its id."""

    @abc.abstractmethod
    def replace_playlist(self, playlist_id: str, name: str, track_ids: list[str]) -> str:
        """Make an existing playlist hold exactly these tracks; returns its (possibly new) id."""

    @abc.abstractmethod
    def playlists(self) -> list[RemotePlaylist]:
        """The playlists the server shows this user."""

    @abc.abstractmethod
    def delete_playlist(self, playlist_id: str) -> None:
        """Delete one playlist by id (callers only pass ids Sonarium created)."""

    def stream(self, track_id: str, byte_range: str | None = None) -> AudioStream:
        """Open the track's audio to relay it to a browser, the caller's Range header passed on.

        The server's credentials stay in this process: the stream is fetched
        here and relayed.  The caller must `close()` the answer.
        """
        raise NotSupported(f"{self.label}: preview not supported")

    def playlist_fingerprint(self, playlist_id: str) -> str | None:
        """SHA-256 (hex) of the playlist as stored now; None where the id alone proves whose it is.

        File-based providers need it: a user can edit Sonarium's file, or have
        a file of the same name, while the id (a path) stays the same.
        """
        return None

    def playlist_url(self, playlist_id: str) -> str | None:
        """Where a person opens this playlist (a web page, or a file path for M3U); None if nowhere."""
        return None

    def listening_history(self, limit: int = 500) -> list[PlayRecord]:
        """Most-played tracks with play counts and last-played times, where the server keeps them."""
        raise NotSupported(f"{self.label} does not report listening history")
