"""Songs that never enter a generated playlist: too short, too long, or marked by words or tags.

The rules are settings (PLAYLIST_MIN_SECONDS, PLAYLIST_MAX_SECONDS,
PLAYLIST_EXCLUDE_WORDS, PLAYLIST_EXCLUDE_TAGS), edited on the Settings page.
`excluded_ids(rules)` answers them with one query over the analysed tracks
(and, for local files, a look at their folders); the web process keeps the
answer on the loaded index (`TrackIndex.excluded`, recomputed by
similarity.live when the rules or the index change), so every candidate the
index hands out -- similar songs, paths, alchemy, fingerprints, the chat --
skips them, and the clustering task applies the same rules to its snapshot.

A song a person names (a seed, a path's ends, a song to add) is still
accepted: the rules keep songs out of what Sonarium picks, not out of reach.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from analysis.labels import MSD_LABELS, MTT_LABELS, TAG_PRESENT
from db.models import Track, TrackTags
from db.search import contains
from db.session import read
from mediaserver.base import NotFound
from mediaserver.local import decode_id


@dataclasses.dataclass(frozen=True)
class Rules:
    """min_seconds / max_seconds: 0 for no limit; words: folded phrases; tags: vocabulary tags."""

    min_seconds: int = 0
    max_seconds: int = 0
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> "Rules":
        return cls(settings.playlist_min_seconds, settings.playlist_max_seconds,
                   tuple(settings.playlist_exclude_words), tuple(settings.playlist_exclude_tags))

    @property
    def empty(self) -> bool:
        return not (self.min_seconds or self.max_seconds or self.words or self.tags)

    def describe(self) -> list[str]:
        """The rules in words, for a page or an answer."""
        said = []
        if self.min_seconds:
            said.append(f"shorter than {self.min_seconds} s")
        if self.max_seconds:
            said.append(f"longer than {self.max_seconds} s")
        if self.words:
            said.append("with " + ", ".join(repr(w) for w in self.words) + " in the title, artist, album or folder")
        if self.tags:
            said.append("tagged " + ", ".join(repr(t) for t in self.tags))
        return said


def _tag_condition(tags: tuple[str, ...]):
    msd, mtt = aliased(TrackTags), aliased(TrackTags)
    tagged = []
    for tag in tags:
        if tag in MSD_LABELS:   # PostgreSQL arrays count from 1
            tagged.append(msd.scores[MSD_LABELS.index(tag) + 1] >= TAG_PRESENT)
        if tag in MTT_LABELS:
            tagged.append(mtt.scores[MTT_LABELS.index(tag) + 1] >= TAG_PRESENT)
    return msd, mtt, or_(*tagged)


def current_rules() -> Rules:
    """The rules as the settings store has them now (config.ConfigError for a bad saved value)."""
    import settings_store   # settings_store imports the media-server registry: load it only when asked
    return Rules.from_settings(settings_store.effective())


def excluded_ids(rules: Rules) -> frozenset[int]:
    """The ids of analysed tracks the rules keep out of generated playlists."""
    if rules.empty:
        return frozenset()
    conditions = []
    if rules.min_seconds:
        conditions.append(Track.duration_s < rules.min_seconds)
    if rules.max_seconds:
        conditions.append(Track.duration_s > rules.max_seconds)
    for word in rules.words:
        conditions += [contains(Track.title, word), contains(Track.artist, word), contains(Track.album, word)]
    statement = select(Track.id).where(Track.analyzed_at.isnot(None))
    if rules.tags:
        msd, mtt, tagged = _tag_condition(rules.tags)
        statement = (statement.outerjoin(msd, and_(msd.track_id == Track.id, msd.vocabulary == "msd"))
                     .outerjoin(mtt, and_(mtt.track_id == Track.id, mtt.vocabulary == "mtt")))
        conditions.append(tagged)
    found = {row.id for row in read(statement.where(or_(*conditions)))} if conditions else set()
    if rules.words:
        found |= _local_folders_with(rules.words)
    return frozenset(found)


def _local_folders_with(words: tuple[str, ...]) -> set[int]:
    """Local files whose relative path holds one of `words` (their folders name what they are)."""
    found = set()
    for row in read(select(Track.id, Track.item_id).where(Track.provider == "local", Track.analyzed_at.isnot(None))):
        try:
            path = decode_id(row.item_id).decode("utf-8", "replace").casefold()
        except NotFound:
            continue
        if any(word in path for word in words):
            found.add(row.id)
    return found
