"""Radio: the next songs after what was just played, for a player that keeps the music going.

The contract of Lyrion's "Don't Stop The Music" mixers: the player sends the
last few songs it played (seeds, oldest first) and up to MAX_AVOID songs
played recently, and asks for the next n.  `next_songs`:

1. aims at the seeds' blend, the latest weighing most (each seed counts
   SEED_DECAY times the one after it), so the station drifts with the music
   rather than circling the first seed;
2. reads the index's nearest songs to that point, leaving out the seeds, the
   songs to avoid and any other recording of them (same song_key, or closer
   than DUPLICATE_DISTANCE);
3. keeps each artist to at most max(1, ARTIST_SHARE x n) songs and away from
   the artists of the last RECENT_ARTISTS seeds, relaxing those two rules in
   steps (the seeds' artists first, then the share) when the library runs
   short, and saying which rule it relaxed;
4. orders the songs to follow the last seed (similarity/craft.py).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from similarity import catalog, craft, ordering
from similarity.alchemy import unit
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex
from similarity.neighbours import DUPLICATE_DISTANCE

DEFAULT_N = 10
MAX_N = 100
MAX_SEEDS = 20
MAX_AVOID = 100
SEED_DECAY = 0.6
ARTIST_SHARE = 0.125        # of the songs asked for, per artist (seed 000's production rule)
RECENT_ARTISTS = 2          # the artists of the last this many seeds are not played again at once
POOL_FACTOR = 10
MIN_POOL = 200


@dataclasses.dataclass
class Station:
    """What `next_songs` found: songs in playing order (crafted), the seeds used, and what was relaxed."""

    crafted: craft.Crafted
    seeds: list[TrackInfo]
    unknown_seeds: list[str]
    relaxed: list[str]


def _blend(index: TrackIndex, seeds: list[TrackInfo]) -> np.ndarray:
    weights = SEED_DECAY ** np.arange(len(seeds))[::-1]          # the last seed weighs 1
    points = index.unit_vectors([t.id for t in seeds]).astype(np.float64)
    return unit((weights[:, None] * points).sum(axis=0))


def next_songs(index: TrackIndex, seed_ids: list[str], avoid_ids: list[str], n: int = DEFAULT_N, *,
               order: craft.Order = "smooth", shape: ordering.Shape = "steady") -> Station:
    """The next `n` songs after `seed_ids` (item ids, oldest first), none of `avoid_ids`.

    `order` and `shape` choose how they are ordered after the last seed (similarity/craft.py).

    Raises LookupError when no seed is analysed and indexed.
    """
    found = catalog.by_item_ids([*seed_ids, *avoid_ids], names=index.names)
    seeds = [found[i] for i in dict.fromkeys(seed_ids) if i in found and found[i].id in index]
    unknown = [i for i in dict.fromkeys(seed_ids) if i not in found or found[i].id not in index]
    if not seeds:
        raise LookupError("none of the seeds is analysed and in the similarity index yet")
    avoid = [found[i] for i in avoid_ids if i in found]
    blocked_ids = {t.id for t in seeds} | {t.id for t in avoid}
    blocked_keys = {t.song_key for t in seeds} | {t.song_key for t in avoid}
    blend = _blend(index, seeds)
    pool = index.nearest(blend, max(POOL_FACTOR * n, MIN_POOL), exclude=blocked_ids)
    described = catalog.describe((i for i, _ in pool), index.names)
    candidates = [(described[i], d) for i, d in pool if i in described and described[i].song_key not in blocked_keys]
    recent = {catalog.artist_key(t.artist) for t in seeds[-RECENT_ARTISTS:]} - {""}
    share = max(1, math.floor(ARTIST_SHARE * n))
    relaxed: list[str] = []
    for rule in ("all", "seed artists", "share"):
        chosen = _choose(index, candidates, n, recent if rule == "all" else set(),
                         share if rule != "share" else n)
        if len(chosen) >= n or rule == "share":
            break
        relaxed.append({"all": "the artists just played may come back",
                        "seed artists": f"an artist may have more than {share} of the songs"}[rule])
    crafted = craft.craft(index, [t for t, _ in chosen], [d for _, d in chosen], reference=seeds, lead=seeds[-1],
                          order=order, shape=shape)
    return Station(crafted, seeds, unknown, relaxed)


def _choose(index: TrackIndex, candidates: list[tuple[TrackInfo, float]], n: int, banned_artists: set[str],
            per_artist: int) -> list[tuple[TrackInfo, float]]:
    """The closest candidates, one recording per song, within the artist rules."""
    kept: list[tuple[TrackInfo, float]] = []
    keys: set[str] = set()
    counts: dict[str, int] = {}
    points = index.unit_vectors([t.id for t, _ in candidates]) if candidates else np.zeros((0, 1), np.float32)
    kept_rows: list[int] = []
    for row, (track, distance) in enumerate(candidates):
        artist = catalog.artist_key(track.artist)
        if track.song_key in keys or (artist and (artist in banned_artists or counts.get(artist, 0) >= per_artist)):
            continue
        if kept_rows and float((points[kept_rows] @ points[row]).max()) > 1 - DUPLICATE_DISTANCE:
            continue
        kept.append((track, distance))
        kept_rows.append(row)
        keys.add(track.song_key)
        counts[artist] = counts.get(artist, 0) + 1
        if len(kept) == n:
            break
    return kept
