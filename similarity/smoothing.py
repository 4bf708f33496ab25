"""Neighbourhood re-ranking: similar songs ranked by the company both songs keep.

Around a seed, take its POOL nearest tracks.  Each of them (and the seed) gets
a *smoothed* point: its own point in the index (standardized, unit length)
plus those of its NEIGHBOURS nearest tracks within that pool, renormalised
(database-side augmentation, from image retrieval, kept local to the seed).
Candidates are then ranked by how close their smoothed point is to the seed's.
Two songs whose neighbourhoods overlap (an album, a soundtrack, one artist's
sound) rank closer than their own excerpts alone would say, and a song whose
excerpts caught an odd passage is placed by the company it keeps.  On the dev
corpus the share of same-source songs among a song's 10 nearest rose from
0.657 to 0.697 at the default depth (docs/QUALITY.md, bench/quality.py).

The index keeps the songs' own points: distances shown to users, duplicate
tests, paths, alchemy, radio, the map and the clustering are unchanged.  The
cost is one more index query for the pool and a few small matrix products
(about a millisecond), so neighbourhoods come from the pool rather than the
whole library: looking up every candidate's own neighbours in the index cost
6-15 ms a request and scored 0.698, the pool 0.697.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from similarity.index import TrackIndex

#: Nearest tracks blended into each point (chosen by leave-one-source-out on the dev corpus:
#: 6 won in four of six folds; 5 to 8 all scored within 0.015 of it).
NEIGHBOURS = 6
#: The seed's nearest tracks within which every neighbourhood is looked up (dev corpus,
#: default depth, 6 neighbours: 30 gave 0.662, 50 0.686, 75 0.691, 100 0.697).
POOL = 100


def _unit(points: np.ndarray) -> np.ndarray:
    return (points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def neighbourhood_closeness(points: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """How close each point's smoothed point is to the first one's (the seed's).

    Parameters
    ----------
    points : float32 (m, d), unit vectors of the seed (row 0) and its pool.
    k : neighbours within the rows blended into each point (fewer when there are fewer rows).

    Returns
    -------
    np.ndarray
        float64 (m - 1,), cosine similarity (-1..1) of rows 1.. to row 0 after smoothing.
    """
    points = np.asarray(points, np.float32)
    k = min(k, len(points) - 1)
    if k <= 0:
        return (points[1:] @ points[0]).astype(np.float64)
    similarity = points @ points.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    smoothed = _unit(points + points[nearest].sum(axis=1))
    return (smoothed[1:] @ smoothed[0]).astype(np.float64)


def rerank(index: TrackIndex, seed_id: int, candidates: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """`candidates` [(track id, distance to the seed)] re-ordered by neighbourhood closeness to
    the seed (stable: ties keep the index's order); the distances stay the direct ones."""
    if len(candidates) < 2:
        return candidates
    seed_point = index.unit_vectors([seed_id])[0]
    ranked = [track_id for track_id, _ in candidates]
    pool_ids, _ = index.nearest_many(seed_point[None, :], POOL + 1, threads=1)
    listed = set(ranked)
    extra = [int(i) for i in pool_ids[0] if int(i) != seed_id and int(i) not in listed]
    points = index.unit_vectors([seed_id] + ranked + extra)
    closeness = neighbourhood_closeness(points)[:len(ranked)]
    return [candidates[i] for i in np.argsort(-closeness, kind="stable")]


def ranking(similarity_row: np.ndarray, points: np.ndarray, query: int, k: int = NEIGHBOURS) -> np.ndarray:
    """Every other row ranked as similar songs rank them (for benchmarks): the query's POOL
    nearest by `similarity_row` re-ordered by neighbourhood closeness, then the rest.

    Parameters
    ----------
    similarity_row : float (n,), the query's similarity to every row (its own entry -inf).
    points : float32 (n, d), unit vectors.
    query : the query's row.
    k : neighbours blended into each point.
    """
    order = np.argsort(-similarity_row)[:-1]  # the query itself, at -inf, last
    pool = order[:POOL]
    closeness = neighbourhood_closeness(points[np.concatenate([[query], pool])], k)
    return np.concatenate([pool[np.argsort(-closeness, kind="stable")], order[POOL:]])
