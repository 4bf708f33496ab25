"""The sonic fingerprint: what a user plays most, lately, and the library's songs that sound like it.

1. The provider's listening history (at most HISTORY_LIMIT records: track id,
   play count, last played) is matched to analysed, indexed tracks of that
   provider in one query.
2. Each matched track gets a weight (`play_weight`):

       weight = log1p(play count) x 0.5 ** (age in days / HALF_LIFE_DAYS)

   * log1p, not the raw count: play counts are heavy-tailed (one song on repeat
     200 times would otherwise outweigh fifty songs played four times each).
     With log1p, 1 play gives 0.69, 10 plays 2.4, 100 plays 4.6: more plays
     count more, with diminishing returns.  A track marked played with a count
     of 0 (Jellyfin allows it) counts as one play.
   * The decay halves a track's weight every HALF_LIFE_DAYS (90) since its last
     play: a play today counts fully, three months ago half, a year ago about
     1/16.  Ninety days follows taste over seasons without letting
     one week of a new album take over.  Servers report only the *last* play
     and a lifetime count, so an old favourite played again yesterday counts
     fully with all its plays.
   * Ages are measured from the newest play among the matched tracks, not from
     today: a dormant account keeps readable weights (a common factor would
     cancel in the normalised mean anyway).
     Records without a date count as one half-life old.
3. fingerprint = the normalised weighted mean of the matched tracks' unit
   vectors (index space).
4. The playlist: the heaviest matched tracks first ("seeds", at most
   SEED_SHARE x n, one recording per song), then the fingerprint's nearest
   neighbours, without repeats or a second recording of a song, up to n.

Costs: the provider's history call, then two catalog queries (the history's
ids, the neighbour pool) and numpy over at most HISTORY_LIMIT points.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any, Mapping

import numpy as np

from mediaserver.base import MediaProvider, PlayRecord
from similarity import catalog
from similarity.alchemy import unit
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex

DEFAULT_N = 100
MIN_N = 40
MAX_N = 200
HISTORY_LIMIT = 500        # history records read from the media server
HALF_LIFE_DAYS = 90.0
UNDATED_AGE_DAYS = HALF_LIFE_DAYS
SEED_SHARE = 0.25          # at most this share of the playlist are the user's own most-played songs
POOL_MARGIN = 2            # neighbours read per free place: room for skipped second recordings

# Per-user credentials a request may carry, by media-server type: body key -> setting.
CREDENTIAL_SETTINGS = {
    "navidrome": {"user": "NAVIDROME_USER", "password": "NAVIDROME_PASSWORD"},
    "jellyfin": {"user_id": "JELLYFIN_USER_ID", "token": "JELLYFIN_TOKEN"},
    "emby": {"user_id": "EMBY_USER_ID", "token": "EMBY_TOKEN"},
}


class FingerprintError(ValueError):
    """Nothing to build a fingerprint from; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Seed:
    track: TrackInfo
    play_count: int
    last_played: dt.datetime | None
    weight: float


@dataclasses.dataclass
class Fingerprint:
    seeds: list[Seed]                                  # heaviest first
    neighbours: list[tuple[TrackInfo, float]]          # (track, cosine distance to the fingerprint)
    records: int                                       # history records read
    matched: int                                       # of those, analysed and indexed

    def as_json(self) -> dict[str, Any]:
        def seed_json(seed: Seed) -> dict[str, Any]:
            return seed.track.as_json(play_count=seed.play_count, weight=round(seed.weight, 4),
                                      last_played=seed.last_played.isoformat() if seed.last_played else None)
        return {
            "seeds": [seed_json(s) for s in self.seeds],
            "tracks": ([s.track.as_json(distance=None, seed=True) for s in self.seeds]
                       + [t.as_json(distance=round(d, 4), seed=False) for t, d in self.neighbours]),
            "history": {"records": self.records, "matched": self.matched},
            "half_life_days": HALF_LIFE_DAYS,
        }


def play_weight(play_count: int, age_days: float) -> float:
    """A played track's share in the fingerprint.

    Parameters
    ----------
    play_count : plays reported by the server (0 counts as 1: the track was played)
    age_days : days between its last play and the newest play in the history (>= 0)

    Returns
    -------
    log1p(play_count) x 0.5 ** (age_days / HALF_LIFE_DAYS), unitless, > 0.
    """
    return math.log1p(max(play_count, 1)) * 0.5 ** (max(age_days, 0.0) / HALF_LIFE_DAYS)


def weigh(records: list[PlayRecord]) -> list[float]:
    """`play_weight` of each record, ages measured from the newest last-played time among them."""
    dated = [r.last_played for r in records if r.last_played is not None]
    newest = max(dated) if dated else None
    weights = []
    for record in records:
        if record.last_played is None or newest is None:
            age_days = UNDATED_AGE_DAYS
        else:
            age_days = (newest - record.last_played).total_seconds() / 86400.0
        weights.append(play_weight(record.play_count, age_days))
    return weights


def credential_overrides(settings_type: str, credentials: Mapping[str, Any] | None) -> dict[str, str]:
    """The setting overrides for one request's credentials (nothing is saved).

    Parameters
    ----------
    settings_type : the configured MEDIASERVER_TYPE
    credentials : e.g. {"user": ..., "password": ...} for Navidrome; empty values keep the saved ones

    Raises ValueError (never echoing a value) for keys this server type does not take
    or values that are not strings.
    """
    if credentials is None:
        return {}
    if not isinstance(credentials, Mapping):
        raise ValueError('"credentials" must be an object')
    accepted = CREDENTIAL_SETTINGS.get(settings_type, {})
    unknown = sorted(set(credentials) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "none"
        raise ValueError(f"the {settings_type} media server takes no credential {', '.join(unknown)} "
                         f"(accepted: {takes})")
    overrides = {}
    for key, value in credentials.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f'credential "{key}" must be a string')
        overrides[accepted[key]] = value
    return overrides


def build(index: TrackIndex, provider: MediaProvider, n: int = DEFAULT_N) -> Fingerprint:
    """Read the provider's history and make the fingerprint playlist of up to `n` tracks.

    Provider errors (mediaserver.base.ProviderError) pass through for the caller to
    answer.  Raises FingerprintError when the history is empty or none of its
    tracks is analysed and indexed.
    """
    history = provider.listening_history(HISTORY_LIMIT)
    if not history:
        raise FingerprintError(f"{provider.label} reports no listening history yet: play some music first")
    known = catalog.by_item_ids((r.track_id for r in history), provider=provider.type, names=index.names)
    matched = [(r, known[r.track_id]) for r in history if r.track_id in known and known[r.track_id].id in index]
    if not matched:
        raise FingerprintError(f"none of the {len(history)} played tracks is analysed yet: "
                               "run the library analysis first")
    weights = np.asarray(weigh([r for r, _ in matched]), np.float64)
    points = index.unit_vectors([t.id for _, t in matched]).astype(np.float64)
    fingerprint = unit(weights @ points / weights.sum())

    order = sorted(range(len(matched)), key=lambda i: (-weights[i], -matched[i][0].play_count, matched[i][1].id))
    seeds: list[Seed] = []
    used_keys: set[str] = set()
    used_ids: set[int] = set()
    for i in order:
        record, track = matched[i]
        if len(seeds) >= max(1, int(n * SEED_SHARE)):
            break
        key = track.song_key
        if key in used_keys or track.id in used_ids:
            continue
        seeds.append(Seed(track, record.play_count, record.last_played, float(weights[i])))
        used_keys.add(key)
        used_ids.add(track.id)

    free = n - len(seeds)
    pool = index.nearest(fingerprint, POOL_MARGIN * free + len(seeds), exclude=used_ids) if free > 0 else []
    described = catalog.describe((track_id for track_id, _ in pool), index.names)
    neighbours: list[tuple[TrackInfo, float]] = []
    for track_id, distance in pool:
        track = described.get(track_id)
        key = track.song_key if track is not None else None
        if key is None or key in used_keys:
            continue
        neighbours.append((track, distance))
        used_keys.add(key)
        if len(neighbours) >= free:
            break
    return Fingerprint(seeds, neighbours, len(history), len(matched))
