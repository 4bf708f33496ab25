"""Song alchemy: songs to add, songs to subtract, and the library's answer.

The work happens in the index space (`TrackIndex.unit_vectors`: standardized
embeddings, unit length), where cosine distance = 1 - dot product:

1. add-centroid = the normalised mean of the add songs' points; the
   subtract-centroid likewise (none without subtract songs).
2. The candidates are aimed at the add-centroid moved away from the
   subtract-centroid, unit(A - SUBTRACT_WEIGHT x S) (alchemy as vector sums):
   the max(POOL_FACTOR * n, MIN_POOL) tracks nearest that point, minus the add
   and subtract songs and any other recording of them (same `song_key`), and
   only the closest recording of each song; they are ranked by their distance
   to that point, and each reports its distance to the add-centroid.
3. A candidate "like the subtracted songs" is dropped ("filtered"): by default
   when it lies nearer the subtract-centroid than the add-centroid by more than
   SUBTRACT_MARGIN, so a song nearer what was added is never dropped, nor one
   that shares nothing with the subtracted songs (SUBTRACT_MAX_DISTANCE,
   orthogonal, or farther).  A caller
   may give an absolute threshold instead (drop when closer than it to the
   subtract-centroid).  An earlier rule dropped songs closer to S than 1.5
   times their distance to A (capped at 1.0), which also dropped songs nearer
   what was added ("Underground", 0.378 from A and 0.472 from S, was left out).
   On the dev corpus (170 tracks, 6 sources; `bench/feature_quality.py`, 500
   random recipes per kind, top 10, docs/QUALITY.md) the sound rule with this
   aim removes as much of the subtracted kind and keeps about as much of the
   added one:
                                  add x, subtract y   add x1 + y1, subtract y2   add x1 + x2, subtract y
       rule                       X      Y            X      Y                   X      Y
       none                       65%    7%           40%    34%                 73%    5%
       earlier ratio rule         65%    3%           50%    14%                 71%    2%
       aim A - 0.5 S, margin 0.1  63%    3%           52%    15%                 70%    2%
   A weight of 0.25 keeps 1-2 points more of X and 1-6 more of Y; 0.75 takes
   3-4 points of X for little; a margin of 0 drops more songs for the same shares.
4. Temperature 0 keeps the n closest; above 0, n are drawn without replacement
   with p ~ exp(-distance / temperature) (a softmax over negative distances),
   from a seedable numpy Generator, and shown closest first.

Each request costs two batched catalog queries (the requested ids, then the
pool) and vectorised numpy over at most a few hundred points; the plot is a
PCA of the points it shows (`plot_coordinates`), which the web app replaces
with their places on the music map once they all have one
(similarity.map_view.alchemy_plot_on_map).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from similarity import catalog
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex

DEFAULT_N = 25
MAX_N = 200
MAX_TEMPERATURE = 5.0
MAX_SONGS_PER_SIDE = 50          # add or subtract songs per request: a recipe, not a library dump
POOL_FACTOR = 4                  # candidates read per result wanted ...
MIN_POOL = 200                   # ... and at least this many, so filtering rarely leaves too few
PCA_ITERATIONS = 30              # subspace-iteration rounds for the plot (plot_coordinates)
# The default subtract rule (module docstring, steps 2 and 3).
SUBTRACT_WEIGHT = 0.5
SUBTRACT_MARGIN = 0.1
SUBTRACT_MAX_DISTANCE = 1.0     # at or beyond this (orthogonal) a song shares nothing with S: never dropped


class AlchemyError(ValueError):
    """A request the caller got wrong; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Mixture:
    """What `mix` found; distances are cosine distances in 0..2."""

    add: list[TrackInfo]
    subtract: list[TrackInfo]
    results: list[tuple[TrackInfo, float]]        # (track, distance to the add-centroid), closest first
    filtered: list[tuple[TrackInfo, float, float]]  # (track, distance to the add-, to the subtract-centroid)
    filtered_total: int                           # candidates dropped; `filtered` shows the n closest of them
    subtract_distance: float | None               # the caller's absolute threshold, None for the default rule
    plot: dict

    def as_json(self) -> dict:
        return {
            "results": [t.as_json(distance=round(d, 4)) for t, d in self.results],
            "filtered": [t.as_json(distance=round(d, 4), distance_to_subtract=round(s, 4))
                         for t, d, s in self.filtered],
            "filtered_total": self.filtered_total,
            "subtract_distance": self.subtract_distance,
            "plot": self.plot,
        }


def unit(vector: np.ndarray) -> np.ndarray:
    """`vector` scaled to length 1 (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 1e-12 else vector


def centroid(points: np.ndarray) -> np.ndarray:
    """The normalised mean of unit vectors (rows of `points`): the direction they share."""
    return unit(points.mean(axis=0))


def softmax_sample(distances: np.ndarray, n: int, temperature: float, seed: int | None) -> np.ndarray:
    """Indices of `n` draws without replacement, p ~ exp(-distance / temperature).

    Parameters
    ----------
    distances : cosine distances (0..2) of the candidates
    n : how many to draw (all when there are fewer candidates)
    temperature : > 0, in cosine-distance units: candidates `temperature` farther
        than the closest are e (2.7) times less likely to be drawn first
    seed : seeds numpy's Generator, for repeatable draws
    """
    if n >= len(distances):
        return np.arange(len(distances))
    logits = -(distances - distances.min()) / temperature   # shifted: exp never overflows
    weights = np.exp(logits)
    rng = np.random.default_rng(seed)
    return rng.choice(len(distances), size=n, replace=False, p=weights / weights.sum())


def plot_coordinates(points: np.ndarray) -> np.ndarray:
    """2-D PCA coordinates of the rows of `points` (m x d, unitless, like the points).

    The top two principal axes come from subspace iteration (PCA_ITERATIONS rounds
    of multiplying by the covariance, from a fixed start, then a 2 x 2
    eigen-decomposition to order them): on 450 x 400 points that takes about 3 ms
    against 70-150 ms for a full numpy SVD, and on the dev corpus it captures the
    same variance as the SVD to 4 digits.  Each axis's sign is fixed so that its
    largest loading is positive, so the same points always give the same picture.
    Directions without spread (fewer than 3 points) give zeros.
    """
    coordinates = np.zeros((len(points), 2), np.float64)
    if len(points) < 2:
        return coordinates
    centred = points.astype(np.float64) - points.mean(axis=0)
    basis = np.random.default_rng(0).standard_normal((centred.shape[1], 2))
    for _ in range(PCA_ITERATIONS):
        basis, _ = np.linalg.qr(centred.T @ (centred @ basis))
    projected = centred @ basis
    variances, rotation = np.linalg.eigh(projected.T @ projected)
    for k, which in enumerate(np.argsort(variances)[::-1]):
        if variances[which] <= 1e-12:   # no spread along it: numerically zero for unit vectors
            continue
        axis = basis @ rotation[:, which]
        axis *= np.sign(axis[np.argmax(np.abs(axis))])
        coordinates[:, k] = centred @ axis
    return coordinates


def _plot(roles: list[tuple[TrackInfo, str]], points: np.ndarray, add_centre: np.ndarray,
          subtract_centre: np.ndarray | None) -> dict:
    centres = [add_centre] + ([subtract_centre] if subtract_centre is not None else [])
    coordinates = plot_coordinates(np.vstack([points, *centres]))
    plotted = [{"item_id": track.item_id, "title": track.title, "artist": track.artist, "role": role,
                "x": round(float(x), 4), "y": round(float(y), 4)}
               for (track, role), (x, y) in zip(roles, coordinates)]
    at = len(roles)
    add_xy = {"x": round(float(coordinates[at, 0]), 4), "y": round(float(coordinates[at, 1]), 4)}
    subtract_xy = None
    if subtract_centre is not None:
        subtract_xy = {"x": round(float(coordinates[at + 1, 0]), 4), "y": round(float(coordinates[at + 1, 1]), 4)}
    return {"points": plotted, "centroids": {"add": add_xy, "subtract": subtract_xy}}


def resolve(index: TrackIndex, add_item_ids: list[str],
            subtract_item_ids: list[str]) -> tuple[list[TrackInfo], list[TrackInfo]]:
    """The add and subtract songs, in the order given, duplicates dropped, in one query.

    Raises AlchemyError 404 naming the first id that is unknown, not analysed, or
    not in the similarity index yet.
    """
    found = catalog.by_item_ids([*add_item_ids, *subtract_item_ids], names=index.names)
    for item_id in [*add_item_ids, *subtract_item_ids]:
        track = found.get(item_id)
        if track is None:
            raise AlchemyError(f"no analysed track with id {item_id!r}", 404)
        if track.id not in index:
            raise AlchemyError(f"track {item_id!r} is not in the similarity index yet", 404)
    add = [found[i] for i in dict.fromkeys(add_item_ids)]
    subtract = [found[i] for i in dict.fromkeys(subtract_item_ids)]
    return add, subtract


def mix(index: TrackIndex, add: list[TrackInfo], subtract: list[TrackInfo], n: int = DEFAULT_N,
        temperature: float = 0.0, seed: int | None = None, subtract_distance: float | None = None,
        subtract_weight: float = SUBTRACT_WEIGHT, subtract_margin: float = SUBTRACT_MARGIN) -> Mixture:
    """Songs near the add songs and away from the subtract songs.

    Parameters
    ----------
    index : the loaded similarity index
    add, subtract : resolved songs (`resolve`); at least one add song that is not also subtracted
    n : results wanted, 1..MAX_N (fewer when the library runs out)
    temperature : 0 for the n closest; > 0 draws n at random, favouring close ones (`softmax_sample`)
    seed : seeds the draw
    subtract_distance : cosine distance (0..2) to the subtract-centroid under which a candidate
        counts as "like the subtracted songs" and is dropped; None for the default, relative rule
        (module docstring, step 3)
    subtract_weight, subtract_margin : the default rule's figures (module docstring, steps 2 and 3)

    Raises AlchemyError 400 when every add song is also subtracted, or the add songs
    cancel out (a zero mean: no direction to look in).
    """
    subtract_ids = {t.id for t in subtract}
    if all(t.id in subtract_ids for t in add):
        raise AlchemyError("every song to add is also subtracted: nothing is left to look for")
    add_points = index.unit_vectors([t.id for t in add])
    subtract_points = index.unit_vectors([t.id for t in subtract])
    if float(np.linalg.norm(add_points.mean(axis=0))) < 1e-6:
        raise AlchemyError("the songs to add cancel each other out: add another song")
    add_centre = centroid(add_points)
    subtract_centre = centroid(subtract_points) if subtract else None

    given = {t.id for t in add} | subtract_ids
    given_keys = {t.song_key for t in add} | {t.song_key for t in subtract}
    aim = add_centre
    if subtract_centre is not None and float(np.linalg.norm(add_centre - subtract_weight * subtract_centre)) > 1e-6:
        aim = unit(add_centre - subtract_weight * subtract_centre)
    pool = index.nearest(aim, max(POOL_FACTOR * n, MIN_POOL), exclude=given)
    described = catalog.describe((track_id for track_id, _ in pool), index.names)
    candidates: list[TrackInfo] = []
    distances: list[float] = []
    seen_keys = set(given_keys)
    for track_id, distance in pool:            # closest first: the first recording of a song wins
        track = described.get(track_id)
        key = track.song_key if track is not None else None
        if key is None or key in seen_keys:
            continue
        seen_keys.add(key)
        candidates.append(track)
        distances.append(distance)
    distance_to_aim = np.asarray(distances, np.float64)
    candidate_points = index.unit_vectors([t.id for t in candidates])
    distance_to_add = 1.0 - candidate_points.astype(np.float64) @ add_centre if candidates else distance_to_aim

    keep = np.ones(len(candidates), bool)
    distance_to_subtract = np.full(len(candidates), np.nan)
    if subtract_centre is not None:
        distance_to_subtract = 1.0 - candidate_points.astype(np.float64) @ subtract_centre
        if subtract_distance is not None:
            keep = distance_to_subtract >= subtract_distance
        else:   # like the subtracted songs: nearer them than the added ones, by the margin
            keep = (distance_to_subtract >= distance_to_add - subtract_margin) | (
                distance_to_subtract >= SUBTRACT_MAX_DISTANCE)
    dropped = np.flatnonzero(~keep)
    shown_dropped = dropped[:n]                 # candidates are closest first: the n closest dropped ones

    kept = np.flatnonzero(keep)
    if temperature > 0:
        chosen = np.sort(kept[softmax_sample(distance_to_aim[kept], n, temperature, seed)])
    else:
        chosen = kept[:n]

    results = [(candidates[i], float(distance_to_add[i])) for i in chosen]
    filtered = [(candidates[i], float(distance_to_add[i]), float(distance_to_subtract[i])) for i in shown_dropped]
    roles = ([(t, "add") for t in add] + [(t, "subtract") for t in subtract]
             + [(candidates[i], "result") for i in chosen] + [(candidates[i], "filtered") for i in shown_dropped])
    points = np.vstack([add_points, subtract_points, candidate_points[chosen], candidate_points[shown_dropped]])
    return Mixture(add, subtract, results, filtered, len(dropped), subtract_distance,
                   _plot(roles, points, add_centre, subtract_centre))
