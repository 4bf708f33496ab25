"""The tracks behind index ids: what a result shows, finding a seed song, the autocomplete.

Every feature page works on analysed tracks only (those with a row in the
index); this module is the one place that turns track ids into what a page or
a playlist needs, and text a user typed into track ids.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from typing import Any, Iterable

from sqlalchemy import BigInteger, Text, and_, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from db.models import Track
from db.search import contains, fold
from db.session import read

MIN_SEARCH_CHARS = 3
SEARCH_LIMIT_MAX = 50
_SEARCH_CANDIDATES = 200   # rows read per search before ranking: bounds the work on short, common queries
_NAMES_BATCH = 20_000      # ids per query when the web process reads the indexed tracks' names

# Qualifiers that name another recording of the same song, not another song:
# "(Live at ...)", "[2011 Remaster]", " - Radio Edit", "feat. X".
_QUALIFIER = re.compile(r"[(\[][^)\]]*[)\]]|\s-\s.*$|\b(feat|ft|featuring)\b.*$")
_NOT_WORD = re.compile(r"[\W_]+")


@dataclasses.dataclass(frozen=True, slots=True)   # slots: the web process holds one per indexed track
class TrackInfo:
    id: int
    item_id: str
    provider: str
    title: str | None
    artist: str | None
    album: str | None
    duration_s: float | None

    @property
    def song_key(self) -> str:
        return song_key(self.title, self.artist)

    def as_json(self, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "item_id": self.item_id, "title": self.title, "artist": self.artist,
                "album": self.album, "duration_s": self.duration_s, **extra}


def _plain(text: str | None) -> str:
    """Lower case, accents removed, punctuation collapsed to single spaces."""
    letters = (text or "").casefold()
    if not letters.isascii():   # most names are: skip the per-character accent pass for them
        letters = "".join(c for c in unicodedata.normalize("NFKD", letters) if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", letters).strip()


@functools.lru_cache(maxsize=50_000)   # every similar/path/alchemy request keys a few hundred tracks
def song_key(title: str | None, artist: str | None) -> str:
    """What two recordings of one song share: title without qualifiers, and artist, folded.

    "Song (Live)", "Song - 2011 Remaster" and "SONG" by "Artist feat. X" all give one key.
    """
    bare_title = _QUALIFIER.sub("", (title or "").casefold()) or (title or "")
    return f"{_plain(bare_title)}\t{artist_key(artist)}"


@functools.lru_cache(maxsize=50_000)
def artist_key(artist: str | None) -> str:
    """An artist's name folded as song_key folds it ("Artist feat. X" -> "artist"); "" when unknown."""
    bare_artist = _QUALIFIER.sub("", (artist or "").casefold()) or (artist or "")
    return _plain(bare_artist)


_COLUMNS = (Track.id, Track.item_id, Track.provider, Track.title, Track.artist, Track.album, Track.duration_s)


def _info(row) -> TrackInfo:
    return TrackInfo(*row)


def _any(values: list, item_type):
    """`= ANY(:array)`: one bound array instead of an IN list SQLAlchemy coerces item by item."""
    return any_(bindparam("values", values, type_=ARRAY(item_type)))


class Names:
    """The indexed tracks' TrackInfo, held by the web process beside the index version it was read for.

    The feature APIs then name their results without a query per request
    (about 40 MiB per 100k tracks per web worker).  It is as current as the
    index: a track renamed on the server shows its new name with the next
    index version.  Lookups fall back to the database for anything missing.
    """

    def __init__(self, tracks: Iterable[TrackInfo]):
        self.by_id: dict[int, TrackInfo] = {}
        self.by_item_id: dict[str, TrackInfo] = {}
        for track in tracks:   # ordered oldest listing first: the most recently listed wins an item id
            self.by_id[track.id] = track
            self.by_item_id[track.item_id] = track

    @classmethod
    def load(cls, track_ids: list[int]) -> "Names":
        rows = []
        for start in range(0, len(track_ids), _NAMES_BATCH):
            rows += read(select(*_COLUMNS).where(Track.id == _any(track_ids[start:start + _NAMES_BATCH], BigInteger))
                          .order_by(Track.seen_at.asc().nulls_first(), Track.id.desc()))
        return cls(_info(row) for row in rows)


def describe(track_ids: Iterable[int], names: Names | None = None) -> dict[int, TrackInfo]:
    """TrackInfo for each id that still exists: from `names` where it has them, the rest in one query."""
    wanted = list(dict.fromkeys(track_ids))
    found = {}
    if names is not None:
        found = {i: names.by_id[i] for i in wanted if i in names.by_id}
        wanted = [i for i in wanted if i not in found]
    if wanted:
        found.update((row.id, _info(row)) for row in read(select(*_COLUMNS).where(Track.id == _any(wanted, BigInteger))))
    return found


def by_item_ids(item_ids: Iterable[str], provider: str | None = None, names: Names | None = None
                ) -> dict[str, TrackInfo]:
    """Analysed tracks for media-server item ids (of one provider, if given).

    When several providers share an item id (a library moved between servers),
    the most recently listed track wins.  Ids with no analysed track are absent.
    `names` answers for indexed tracks; the rest cost one query.
    """
    wanted = list(dict.fromkeys(item_ids))
    found: dict[str, TrackInfo] = {}
    if names is not None:
        for item_id in wanted:
            track = names.by_item_id.get(item_id)
            if track is not None and provider in (None, track.provider):
                found[item_id] = track
        wanted = [i for i in wanted if i not in found]
    if not wanted:
        return found
    query = (select(*_COLUMNS).where(Track.item_id == _any(wanted, Text), Track.analyzed_at.isnot(None))
             .order_by(Track.seen_at.desc().nulls_last(), Track.id))
    if provider is not None:
        query = query.where(Track.provider == provider)
    for row in read(query):
        found.setdefault(row.item_id, _info(row))
    return found


def by_item_id(item_id: str, names: Names | None = None) -> TrackInfo | None:
    """The analysed track with this media-server id (see `by_item_ids`)."""
    return by_item_ids([item_id], names=names).get(item_id)


def by_title_artist(title: str, artist: str | None = None) -> TrackInfo | None:
    """An analysed track whose title (and artist, if given) equal these, ignoring case and accents.

    When several match, the one with the shortest album name wins (the studio album more
    often than "Greatest Hits - Deluxe Edition"); ties go to the lowest id, so it is stable.
    """
    condition = [fold(Track.title) == fold(title), Track.analyzed_at.isnot(None)]
    if artist:
        condition.append(fold(Track.artist) == fold(artist))
    rows = read(select(*_COLUMNS).where(*condition)
                 .order_by(func.length(func.coalesce(Track.album, "")), Track.id).limit(1))
    return _info(rows[0]) if rows else None


def search(text: str, limit: int = 20) -> list[TrackInfo]:
    """Analysed tracks whose artist or title contain every word typed, best matches first.

    Matching ignores case and accents and uses the trigram indexes.  At most
    _SEARCH_CANDIDATES rows are read and then ranked: a title or artist that starts
    with the text first, then one that contains it whole, then the rest.
    Raises ValueError below MIN_SEARCH_CHARS characters.
    """
    needle = " ".join(text.split())
    if len(needle) < MIN_SEARCH_CHARS:
        raise ValueError(f"type at least {MIN_SEARCH_CHARS} characters")
    words = [w for w in needle.split(" ") if w]
    each_word = [or_(contains(Track.title, w), contains(Track.artist, w)) for w in words]
    found = [_info(row) for row in read(select(*_COLUMNS).where(and_(*each_word), Track.analyzed_at.isnot(None))
                                         .limit(_SEARCH_CANDIDATES))]
    folded = _plain(needle)

    def rank(track: TrackInfo) -> tuple:
        title, artist = _plain(track.title), _plain(track.artist)
        starts = title.startswith(folded) or artist.startswith(folded)
        whole = folded in title or folded in artist or folded in f"{artist} {title}"
        return (not starts, not whole, len(title), title, artist, track.id)
    return sorted(found, key=rank)[:max(1, min(limit, SEARCH_LIMIT_MAX))]
