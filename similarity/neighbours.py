"""Similar songs: the nearest tracks to a seed, without repeats of one song, optionally few per artist.

`similar_tracks(index, seed, n, max_per_artist)` walks the seed's nearest
neighbours (closest first, re-ranked by neighbourhood) and keeps a track unless it is

- another recording of a song already kept, or of the seed: the same
  `song_key` (title without "(Live)", "- Remaster", "feat. X"..., and artist,
  folded), or a point closer than DUPLICATE_DISTANCE to a kept track (the same
  master on a best-of or a re-encode, whatever its title says);
- by an artist who already has `max_per_artist` tracks in the list (when a cap
  is asked for; the seed does not count, and tracks without an artist are
  never capped: "unknown" is not one artist).

Each batch of candidates is ranked by neighbourhood (similarity.smoothing): the
songs whose own nearest tracks overlap the seed's come first; the distance
reported stays the direct one between the two songs.

Candidates come from the index in batches that grow until `n` are kept or the
index has nothing more to give: the first batch asks for CANDIDATE_FACTOR * n
(at most CANDIDATE_MARGIN beyond n), which is enough unless many neighbours
are duplicates or capped, and each further batch doubles.  Each batch costs
one index query and one catalog query, and a few matrix products for the
duplicate test, never a query per candidate.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from similarity import catalog, smoothing
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex

MIN_N = 1
MAX_N = 500
DEFAULT_N = 25
CANDIDATE_FACTOR = 3   # first batch: this many candidates per wanted track...
CANDIDATE_MARGIN = 200 # ...but no more than this many beyond n (n=500 asks for 700, not 1500)
BLOCK = 128            # candidates compared with each other in one matrix product

# Cosine distance (index space: standardized, 0..2) under which two tracks are
# one recording.  Measured on the dev corpus (170 real tracks, default "fast"
# depth, standardized over the corpus) with copies of 24 of them (4 per source):
#   re-encoded to 128k MP3                          0.0002-0.0043 (median 0.0018)
#   "remaster": 1.5 s later start, +2 dB, 15 kHz lowpass, MP3   0.0045-0.078 (median 0.035)
#   "edit": first 8 s cut                           0.011-0.16 (median 0.038)
#   nearest *other* track, per track                0.098 min, 0.123 5th percentile, 0.26 median
# (the closest distinct pair, 0.098, is a menu theme and its "enhanced" version).
# Shifting the start moves the fast depth's excerpts, hence the spread of the
# last two rows.  0.06 catches every re-encode, 22 of 24 remasters and 18 of
# 24 edits while staying well under the closest pair of distinct songs; copies
# with the same title and artist (most best-of and live versions) are caught
# by the song key whatever their distance.
DUPLICATE_DISTANCE = 0.06


@dataclasses.dataclass
class SimilarResult:
    tracks: list[tuple[TrackInfo, float]]   # (track, cosine distance to the seed), nearest first (by neighbourhood)
    duplicates: int                         # candidates left out as another copy of a kept song
    artist_cap: int                         # candidates left out because their artist was full


def similar_tracks(index: TrackIndex, seed: TrackInfo, n: int = DEFAULT_N,
                   max_per_artist: int | None = None) -> SimilarResult:
    """Up to `n` tracks most similar to `seed`, one per song, at most `max_per_artist` per artist.

    Parameters
    ----------
    index : TrackIndex
        The loaded similarity index; `seed.id` must be in it (KeyError otherwise).
    seed : TrackInfo
        The song to start from; it and its other recordings are never returned.
    n : int
        Tracks wanted, MIN_N..MAX_N.  Fewer come back only when the index runs out.
    max_per_artist : int or None
        Most tracks any one artist may have in the list (None: no limit).

    Returns
    -------
    SimilarResult
        The tracks with their cosine distance to the seed (0..2, unitless),
        nearest first by neighbourhood, and how many candidates each rule left out on the way.
    """
    seed_point = index.unit_vectors([seed.id])[0]
    kept: list[tuple[TrackInfo, float]] = []
    kept_points = np.zeros((n + 1, seed_point.size), np.float32)   # the seed, then each kept track
    kept_points[0] = seed_point
    kept_keys = {seed.song_key}
    per_artist: dict[str, int] = {}
    seen = {seed.id}
    duplicates = capped = 0
    k = min(CANDIDATE_FACTOR * n, n + CANDIDATE_MARGIN)
    while len(kept) < n:
        found = [(track_id, distance) for track_id, distance in index.nearest(seed_point, k, exclude={seed.id})
                 if track_id not in seen]
        if not found:
            break
        seen.update(track_id for track_id, _ in found)
        infos = catalog.describe((track_id for track_id, _ in found), index.names)
        found = [(track_id, distance) for track_id, distance in found if track_id in infos]  # gone from the db
        found = smoothing.rerank(index, seed.id, found)
        # Blocks of candidates, closest first: the work stays proportional to the candidates
        # actually examined (a batch of 700 for n=500 usually stops after ~510).
        for block_start in range(0, len(found), BLOCK):
            block = found[block_start:block_start + BLOCK]
            points = index.unit_vectors([track_id for track_id, _ in block])
            keys = [infos[track_id].song_key for track_id, _ in block]   # computed once: it is not cached
            near_kept = ((points @ kept_points[:len(kept) + 1].T).max(axis=1) > 1 - DUPLICATE_DISTANCE).tolist()
            close_pairs = np.argwhere(np.triu(points @ points.T > 1 - DUPLICATE_DISTANCE, k=1))
            close_to_earlier: dict[int, list[int]] = {}
            for earlier, later in close_pairs.tolist():
                close_to_earlier.setdefault(later, []).append(earlier)
            kept_here: set[int] = set()
            for i, (track_id, distance) in enumerate(block):
                if near_kept[i] or keys[i] in kept_keys or any(j in kept_here for j in close_to_earlier.get(i, ())):
                    duplicates += 1
                    continue
                artist = keys[i].split("\t", 1)[1]
                if max_per_artist is not None and artist and per_artist.get(artist, 0) >= max_per_artist:
                    capped += 1
                    continue
                kept.append((infos[track_id], distance))
                kept_points[len(kept)] = points[i]
                kept_here.add(i)
                kept_keys.add(keys[i])
                per_artist[artist] = per_artist.get(artist, 0) + 1
                if len(kept) == n:
                    break
            if len(kept) == n:
                break
        if k >= index.size:
            break
        k *= 2
    return SimilarResult(kept, duplicates, capped)
