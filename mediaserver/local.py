"""The local folder as a media server (the embedded default).

- Track ids encode the file's path relative to MUSIC_DIR (URL-safe base64 of
  the raw bytes, so names that are not UTF-8 survive): stable across runs,
  unaffected by renaming other files, and resolvable without an index.  A
  decoded id must stay inside MUSIC_DIR.
- Albums are the files of one folder sharing an album tag (files without one
  form an album named after the folder); "newest" is the newest file time.
- Playlists are .m3u8 files in PLAYLIST_DIR, written atomically, readable by
  all (mode 0644: the media server may run as another user), each entry the
  exact bytes of the track's path.  A playlist's id is its absolute path, so an
  id recorded under one PLAYLIST_DIR never names a file of the same name in
  another.
- Listening history comes from an optional play log (LOCAL_PLAY_LOG: one line
  per play, "<ISO time><TAB><path>", path absolute or relative to MUSIC_DIR).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections import Counter
from pathlib import Path
from typing import Iterator

import mutagen
from mutagen.id3 import ID3

from analysis.decode import AUDIO_EXTENSIONS
from mediaserver.base import (Album, AudioStream, DownloadTooLarge, MediaProvider, NotFound, NotSupported,
                              PlayRecord, ProviderError, RemotePlaylist, Track, byte_span,
                              DEFAULT_DOWNLOAD_SECONDS, DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_PAGE)

_ID3_FRAMES = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "albumartist": "TPE2",
               "tracknumber": "TRCK", "discnumber": "TPOS", "date": "TDRC"}
_PLAYLIST_SUFFIXES = (".m3u8", ".m3u")
# Written out rather than asked of `mimetypes`, whose answers depend on the host's /etc/mime.types.
_CONTENT_TYPES = {".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg",
                  ".opus": "audio/ogg", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".alac": "audio/mp4",
                  ".aac": "audio/aac", ".wav": "audio/wav", ".aif": "audio/aiff", ".aiff": "audio/aiff",
                  ".wma": "audio/x-ms-wma", ".wv": "audio/x-wavpack", ".ape": "audio/x-ape",
                  ".mpc": "audio/x-musepack", ".webm": "audio/webm", ".mka": "audio/x-matroska"}
_STREAM_CHUNK = 256 * 1024


def encode_id(relative: bytes) -> str:
    return base64.urlsafe_b64encode(relative).decode().rstrip("=")


def decode_id(item_id: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(item_id + "=" * (-len(item_id) % 4))
    except (ValueError, TypeError):
        raise NotFound(f"not a local track id: {item_id[:40]!r}") from None


def display(name: str) -> str:
    """A file name fit for JSON: undecodable bytes shown as U+FFFD."""
    return os.fsencode(name).decode("utf-8", errors="replace")


def read_tags(path: Path) -> dict[str, str]:
    """title, artist, album, albumartist, tracknumber, discnumber, date: those present.

    Easy (format-neutral) tags, plus raw ID3 frames for WAV/AIFF, whose ID3
    tags mutagen's easy mode does not translate.  Unreadable files give {}.
    """
    try:
        audio = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types for damaged or unreadable files
        return {}
    tags = getattr(audio, "tags", None)
    if not tags:
        return {}
    found = {}
    for key, frame in _ID3_FRAMES.items():
        values = tags.getall(frame) if isinstance(tags, ID3) else tags.get(key)
        if values:
            first = values[0]
            text = str(first.text[0]) if hasattr(first, "text") and first.text else str(first)
            if text.strip():
                found[key] = text.strip()
    return found


def _entries(playlist: Path) -> int | None:
    """How many entries an M3U file lists; None if it cannot be read (another user's file)."""
    try:
        content = playlist.read_bytes()  # entries are paths, in whatever bytes they were written
    except OSError:
        return None
    return sum(1 for line in content.splitlines() if line.strip() and not line.startswith(b"#"))


def _file_chunks(handle, count: int) -> Iterator[bytes]:
    """`count` bytes from where `handle` stands, a piece at a time; closes the file when done."""
    try:
        while count > 0:
            chunk = handle.read(min(_STREAM_CHUNK, count))
            if not chunk:
                return      # the file shrank while it was read: the answer ends short
            count -= len(chunk)
            yield chunk
    except OSError as error:
        raise ProviderError(f"reading the file failed: {error.strerror or error}") from None
    finally:
        handle.close()


def _number(value: str | None) -> int | None:
    match = re.match(r"\s*(\d+)", value or "")
    return int(match.group(1)) if match else None


class LocalProvider(MediaProvider):
    type = "local"
    label = "Music folder"

    def __init__(self, music_dir: Path, playlist_dir: Path, play_log: Path | None = None):
        self.root = Path(music_dir)
        self.playlist_dir = Path(os.path.abspath(playlist_dir))
        self.play_log = play_log
        self._album_cache: dict[tuple[bytes, int], list[tuple[Album, list[Path]]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> "LocalProvider":
        return cls(settings.music_dir, settings.playlist_dir, settings.local_play_log)

    # -- paths ------------------------------------------------------------------
    def _relative(self, path: Path) -> bytes:
        return os.fsencode(os.path.relpath(path, self.root))

    def path_of(self, item_id: str) -> Path:
        """The file a track id names; NotFound unless it is an audio file inside MUSIC_DIR."""
        relative = decode_id(item_id)
        if os.path.isabs(relative) or b".." in relative.split(b"/"):
            raise NotFound("track id points outside the music folder")
        path = Path(os.fsdecode(os.path.join(os.fsencode(self.root), relative)))
        if not path.is_file() or path.suffix.lower() not in AUDIO_EXTENSIONS:
            raise NotFound(f"no such track in the music folder: {display(str(path.name))}")
        return path

    def _folders_newest_first(self) -> list[tuple[Path, float]]:
        if not self.root.is_dir():
            raise ProviderError(f"the music folder {self.root} does not exist or is not a folder")
        folders = []
        for current, dirs, files in os.walk(self.root, followlinks=False):
            dirs.sort()
            newest = 0.0
            for name in files:
                if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                    try:
                        stat = os.stat(os.path.join(current, name))  # follows file symlinks
                    except OSError:
                        continue  # dangling symlink
                    newest = max(newest, stat.st_mtime)
            if newest:
                folders.append((Path(current), newest))
        folders.sort(key=lambda item: (-item[1], str(item[0])))
        return folders

    def _audio_files(self, folder: Path) -> list[Path]:
        files = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if os.path.splitext(entry.name)[1].lower() in AUDIO_EXTENSIONS:
                    try:
                        if entry.is_file():  # follows symlinks; FIFOs and folders are skipped
                            files.append(Path(entry.path))
                    except OSError:
                        continue
        return sorted(files)

    def _folder_albums(self, folder: Path, newest: float) -> list[tuple[Album, list[Path]]]:
        key = (self._relative(folder), int(newest))
        with self._lock:
            if key in self._album_cache:
                return self._album_cache[key]
        groups: dict[str, list[tuple[Path, dict]]] = {}
        for file in self._audio_files(folder):
            tags = read_tags(file)
            groups.setdefault(tags.get("album", ""), []).append((file, tags))
        albums = []
        for album_tag, members in sorted(groups.items()):
            artists = Counter(t.get("albumartist") or t.get("artist") for _, t in members if
                              t.get("albumartist") or t.get("artist"))
            years = [_number(t.get("date")) for _, t in members if _number(t.get("date"))]
            album_id = encode_id(key[0] + b"\0" + album_tag.encode())
            albums.append((Album(
                id=album_id, name=album_tag or display(folder.name if folder != self.root else "Music"),
                artist=artists.most_common(1)[0][0] if artists else None,
                year=min(years) if years else None, track_count=len(members),
                added_at=dt.datetime.fromtimestamp(newest, dt.timezone.utc)), [f for f, _ in members]))
        with self._lock:
            self._album_cache[key] = albums
        return albums

    # -- interface ----------------------------------------------------------------
    def test_connection(self) -> str:
        folders = self._folders_newest_first()
        return f"Music folder {self.root}: {len(folders)} folders with audio files"

    def albums(self, offset: int = 0, limit: int = DEFAULT_PAGE) -> list[Album]:
        page: list[Album] = []
        seen = 0
        for folder, newest in self._folders_newest_first():
            for album, _ in self._folder_albums(folder, newest):
                if seen >= offset:
                    page.append(album)
                    if len(page) == limit:
                        return page
                seen += 1
        return page

    def album_tracks(self, album_id: str) -> list[Track]:
        folder_bytes, _, album_tag = decode_id(album_id).partition(b"\0")
        folder = Path(os.fsdecode(os.path.join(os.fsencode(self.root), folder_bytes)))
        if os.path.isabs(folder_bytes) or b".." in folder_bytes.split(b"/") or not folder.is_dir():
            raise NotFound("no such album in the music folder")
        tracks = []
        for file in self._audio_files(folder):
            tags = read_tags(file)
            if tags.get("album", "") != album_tag.decode():
                continue
            try:
                info = mutagen.File(file)
                duration = float(info.info.length) if info is not None else None
            except Exception:  # unreadable or damaged: listed, without a duration
                duration = None
            tracks.append(Track(
                id=encode_id(self._relative(file)), title=tags.get("title") or display(file.stem),
                artist=tags.get("artist"), album=tags.get("album") or display(folder.name),
                album_artist=tags.get("albumartist"), track_number=_number(tags.get("tracknumber")),
                disc_number=_number(tags.get("discnumber")), year=_number(tags.get("date")),
                duration=duration, format=file.suffix.lower().lstrip("."), album_id=album_id))
        if not tracks:
            raise NotFound("no such album in the music folder")
        return sorted(tracks, key=lambda t: (t.disc_number or 0, t.track_number or 0, t.title or ""))

    def download(self, track_id: str, dest_dir: Path, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 timeout: float = DEFAULT_DOWNLOAD_SECONDS) -> Path:
        source = self.path_of(track_id)
        size = source.stat().st_size
        if size > max_bytes:
            raise DownloadTooLarge(f"the file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit")
        fd, name = tempfile.mkstemp(prefix="sonarium-", suffix=source.suffix.lower(), dir=dest_dir)
        target = Path(name)
        try:
            with open(source, "rb") as read, os.fdopen(fd, "wb") as write:
                shutil.copyfileobj(read, write, 1024 * 1024)
        except OSError as error:
            target.unlink(missing_ok=True)
            raise ProviderError(f"cannot read {display(source.name)}: {error.strerror or error}") from None
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target

    def stream(self, track_id: str, byte_range: str | None = None) -> AudioStream:
        source = self.path_of(track_id)     # NotFound for anything outside MUSIC_DIR
        try:
            handle = open(source, "rb")
        except OSError as error:
            raise ProviderError(f"cannot read {display(source.name)}: {error.strerror or error}") from None
        try:
            size = os.fstat(handle.fileno()).st_size
            span = byte_span(byte_range, size)
            start, stop = span or (0, size)
            handle.seek(start)
        except BaseException:
            handle.close()
            raise
        content_type = _CONTENT_TYPES.get(source.suffix.lower(), "application/octet-stream")
        return AudioStream(206 if span else 200, content_type, _file_chunks(handle, stop - start), handle.close,
                           stop - start, size, f"bytes {start}-{stop - 1}/{size}" if span else None)

    # -- playlists -----------------------------------------------------------------
    def _playlist_path(self, playlist_id: str) -> Path:
        path = Path(playlist_id)
        if (path.parent != self.playlist_dir or path.name.startswith(".")
                or not path.name.lower().endswith(_PLAYLIST_SUFFIXES)):
            raise NotFound(f"no such playlist: {display(playlist_id)}")
        return path

    def _write(self, path: Path, track_ids: list[str]) -> None:
        lines = [b"#EXTM3U"]
        for track_id in track_ids:
            file = self.path_of(track_id)
            tags = read_tags(file)
            title = f"{tags.get('artist', '')} - {tags.get('title') or display(file.stem)}"
            # One line whatever the tags hold; the path line is the file's own bytes, so
            # a name that is not UTF-8 still opens.
            lines.append(b"#EXTINF:-1," + " ".join(title.splitlines()).encode("utf-8", "replace"))
            lines.append(os.fsencode(file))
        self.playlist_dir.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".sonarium-", suffix=".m3u8", dir=self.playlist_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(b"\n".join(lines) + b"\n")
            os.chmod(temporary, 0o644)  # mkstemp made it 0600, unreadable by a media server of another user
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def create_playlist(self, name: str, track_ids: list[str]) -> str:
        stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]', "_", name).strip(" .") or "playlist"
        candidate, number = f"{stem}.m3u8", 2
        while os.path.lexists(self.playlist_dir / candidate):  # a dangling symlink is someone's too
            candidate, number = f"{stem} ({number}).m3u8", number + 1
        self._write(self.playlist_dir / candidate, track_ids)
        return str(self.playlist_dir / candidate)

    def replace_playlist(self, playlist_id: str, name: str, track_ids: list[str]) -> str:
        path = self._playlist_path(playlist_id)
        if not path.exists():
            raise NotFound(f"no such playlist: {display(playlist_id)}")
        self._write(path, track_ids)
        return playlist_id

    def playlists(self) -> list[RemotePlaylist]:
        if not self.playlist_dir.is_dir():
            return []
        found = []
        for path in sorted(self.playlist_dir.iterdir()):
            if path.suffix.lower() in _PLAYLIST_SUFFIXES and not path.name.startswith(".") and path.is_file():
                found.append(RemotePlaylist(id=str(path), name=display(path.stem), track_count=_entries(path)))
        return found

    def playlist_fingerprint(self, playlist_id: str) -> str:
        path = self._playlist_path(playlist_id)
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            raise NotFound(f"no such playlist: {display(playlist_id)}") from None
        except OSError as error:
            raise ProviderError(f"cannot read the playlist {display(path.name)}: {error.strerror or error}") from None

    def playlist_url(self, playlist_id: str) -> str | None:
        return str(self._playlist_path(playlist_id))

    def delete_playlist(self, playlist_id: str) -> None:
        path = self._playlist_path(playlist_id)
        if not path.exists():
            raise NotFound(f"no such playlist: {display(playlist_id)}")
        path.unlink()

    def listening_history(self, limit: int = 500) -> list[PlayRecord]:
        if self.play_log is None:
            raise NotSupported("the music folder keeps no listening history: set LOCAL_PLAY_LOG to a "
                               "play log (one line per play: ISO time, a tab, the file path)")
        try:
            lines = Path(self.play_log).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as error:
            raise ProviderError(f"cannot read the play log {self.play_log}: {error.strerror}") from None
        counts: Counter[str] = Counter()
        last: dict[str, dt.datetime] = {}
        for line in lines:
            when, _, raw_path = line.partition("\t")
            if not raw_path.strip():
                continue
            path = Path(raw_path.strip())
            path = path if path.is_absolute() else self.root / path
            try:
                played = dt.datetime.fromisoformat(when.strip())
            except ValueError:
                continue
            played = played if played.tzinfo else played.replace(tzinfo=dt.timezone.utc)
            track_id = encode_id(self._relative(path))
            counts[track_id] += 1
            last[track_id] = max(last.get(track_id, played), played)
        return [PlayRecord(track_id=track_id, play_count=count, last_played=last[track_id])
                for track_id, count in counts.most_common(limit)]
