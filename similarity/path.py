"""Song paths: a playlist that moves step by step from one song to another.

How a path is built (`find_path`):

1. Backbone.  The start and end tracks are unit vectors a and b of the index
   space (angular: cosine distance = 1 - cos of the angle between them).  The
   backbone is `length` points spaced evenly along the great circle from a to
   b (spherical interpolation, "slerp"): tracks lie on that sphere, and a
   straight line between a and b would cut through it.  Candidates are the
   tracks nearest the backbone points: one batched index query, one catalog
   query for them all.
2. Places.  Each inner backbone point is a slot with a target progress t_i
   (`progress`: the projection on the chord from a to b, 0 at the start, 1
   at the end).  How well a track x fits slot i:
       place_i(x) = off(x)^2 + ALONG_WEIGHT * ((t(x) - t_i) * |b - a|)^2,
   off(x) being its distance from the chord: being at the right place along
   the way counts more than hugging the line.  (Weight 1 is simply the
   nearest track to each backbone point; near the ends those points lean on
   the end tracks' own quirks, so the picks crowd there and the middle is
   crossed in a few long steps.)  4 was chosen on the dev corpus and the test
   libraries: 8 evens the steps along a gradient a little more but sends a
   path between two clusters through a third one; 1 and 2 leave the crowding.
3. Chain.  The path is the chain of one candidate per slot, progress
   strictly increasing (so it never turns back and never repeats a track),
   that minimises  sum of squared steps + sum of place costs  (dynamic
   programming over the CHAIN_CANDIDATES best-placed candidates of each slot:
   at most a few hundred small matrix products).  Squared steps keep the
   steps even and forbid detours: a far-off track that is "halfway" on paper
   costs two long steps.  Rules: no two recordings of one song (same song
   key, or closer than neighbours.DUPLICATE_DISTANCE; start and end included);
   a chain that breaks them loses the offending track and is solved again.
   Figures on the dev corpus (`bench/feature_quality.py`, docs/QUALITY.md:
   170 tracks, 40 random pairs, length 12), against taking the nearest unused
   track to each backbone point: longest step 0.56 against 0.85 on average,
   mean step 0.33 against 0.44, distance to the end falling at 79% of the
   steps against 62% (75% when the nearest picks are put in order of progress).
   When no chain exists (a small library), the slots are filled one
   by one instead (best place among tracks ahead of the previous pick) and
   the picks put in order of progress; when the candidates run out, every
   point asks again with twice as many, up to the whole index.
4. Realistic step.  The typical distance between a track and its close
   neighbours (median of the LOCAL_NEIGHBOURS nearest) is what one step of a
   smooth playlist can be.  When even evenly spaced steps along the backbone
   would be longer than that near the two ends (JUMP_RATIO), the ends are
   far apart for so few songs; when a step of the finished path is longer
   than GAP_RATIO times that around its two tracks, the library has little
   between them (two clusters with nothing between).  `reason` says both.
5. Honest answer.  Slots that the whole library cannot fill are dropped: the
   path is shorter, `complete` is false and `reason` says why (a library of 3
   tracks gives a 3-track path, "the library has only 3 analysed tracks").
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from similarity import catalog
from similarity.catalog import TrackInfo
from similarity.index import EF_SEARCH, TrackIndex
from similarity.neighbours import DUPLICATE_DISTANCE

MIN_LENGTH = 2
MAX_LENGTH = 200
DEFAULT_LENGTH = 25
MIN_CANDIDATES = 16      # candidates per backbone point in the first query...
CANDIDATE_FACTOR = 2     # ...or this many per track of the path, if more
ALONG_WEIGHT = 4.0       # being at the right place along the way, against being near the line (see 2.)
CHAIN_CANDIDATES = 32    # best-placed candidates per slot that the chain chooses among
CHAIN_RETRIES = 5        # chains solved again after dropping a duplicate, before filling slot by slot
LOCAL_NEIGHBOURS = 10    # neighbours of a track that set the realistic step around it
JUMP_RATIO = 1.0         # backbone step / realistic step at the ends above which the ends are "far apart"
GAP_RATIO = 2.5          # a path step this many local realistic steps long is a gap in the library
GAP_SUSPECTS = 3         # longest steps of a path checked for being a gap


@dataclasses.dataclass
class PathResult:
    tracks: list[tuple[TrackInfo, float]]   # (track, cosine distance from the previous track; 0 first)
    requested_length: int
    complete: bool
    reason: str | None
    backbone_step: float                    # cosine distance between neighbouring backbone points
    typical_step: float                     # realistic step near the two ends (cosine distance)


def slerp(a: np.ndarray, b: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points on the great circle from unit vector `a` to unit vector `b`.

    Parameters
    ----------
    a, b : ndarray, shape (d,)
        Unit vectors.
    fractions : ndarray, shape (m,)
        Where each point lies, 0 (at a) to 1 (at b), as a share of the angle.

    Returns
    -------
    ndarray, shape (m, d), float32
        Unit vectors.  When a and b (nearly) coincide every point is a.
    """
    angle = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    if angle < 1e-6:
        return np.repeat(a[None, :], len(fractions), axis=0).astype(np.float32)
    weights_a = np.sin((1 - fractions) * angle) / math.sin(angle)
    weights_b = np.sin(fractions * angle) / math.sin(angle)
    points = weights_a[:, None] * a[None, :] + weights_b[:, None] * b[None, :]
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def progress(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How far along the way from a to b each point lies: 0 at a, 1 at b (unitless, may leave 0..1).

    The projection of the point on the chord from a to b, as a share of the
    chord: ((x - a) . (b - a)) / |b - a|^2.  A track's own quirks (the part
    of it off the chord) are, in 400 dimensions, nearly orthogonal to the
    chord and barely move its projection, so this orders tracks by how far
    they have really moved from a towards b, weighing leaving a and nearing
    b equally.  (Angles to a and b do not: every track is at least its own
    "noise" angle away from both, which crowds near-start tracks together.)
    All zeros when a and b coincide.
    """
    chord = b - a
    squared = float(chord @ chord)
    if squared < 1e-12:
        return np.zeros(len(points))
    return (points - a) @ chord / squared


def realistic_steps(index: TrackIndex, points: np.ndarray) -> np.ndarray:
    """For each point, the median cosine distance (0..2) to its LOCAL_NEIGHBOURS nearest tracks.

    Meant for points that are tracks: the nearest hit (the track itself, at
    ~0) is left out.  One batched index query, on this thread (as every query
    here: the web server already runs requests side by side, and a thread
    pool per query only adds overhead).  Zeros when the index holds nothing else.
    """
    k = min(LOCAL_NEIGHBOURS + 1, index.size)
    if k < 2 or len(points) == 0:
        return np.zeros(len(points))
    _, distances = index.index.query(points, k=k, num_threads=1, query_ef=max(EF_SEARCH, k))
    return np.median(np.asarray(distances).reshape(len(points), k)[:, 1:], axis=1)


def _candidates(index: TrackIndex, points: np.ndarray, k: int) -> set[int]:
    """Track ids among the k nearest of any point (one batched index query)."""
    if len(points) == 0:
        return set()
    ids, _ = index.index.query(points, k=k, num_threads=1, query_ef=max(EF_SEARCH, k))
    return {int(i) for i in np.asarray(ids).ravel()}


class _Pool:
    """The candidate tracks as arrays, and the two ways of choosing a path among them.

    Rows index `ids`; `usable` marks the rows a path may still use (not the
    start or end, not another recording of either).
    """

    def __init__(self, ids: list[int], points: np.ndarray, info: dict[int, TrackInfo], start: TrackInfo,
                 end: TrackInfo, a: np.ndarray, b: np.ndarray, targets: np.ndarray):
        self.ids, self.points, self.a, self.b = ids, points, a, b
        self.along = progress(points, a, b)
        chord = b - a
        off_squared = np.sum((points - a - self.along[:, None] * chord) ** 2, axis=1)
        # place[i, row]: how well each track fits slot i (see the module docstring, 2.)
        self.place = off_squared[None, :] + ALONG_WEIGHT * float(chord @ chord) * \
            (self.along[None, :] - targets[:, None]) ** 2
        key_ids: dict[str, int] = {}
        self.keys = np.array([key_ids.setdefault(info[t].song_key, len(key_ids)) for t in ids], dtype=np.int64)
        end_keys = {key_ids.get(start.song_key, -1), key_ids.get(end.song_key, -1)}
        near_ends = (points @ np.stack([a, b]).T).max(axis=1) > 1 - DUPLICATE_DISTANCE
        self.usable = ~np.isin(self.keys, list(end_keys)) & ~near_ends

    def chain(self) -> list[int] | None:
        """The best chain of one row per slot (module docstring, 3.), or None when there is none."""
        usable = self.usable.copy()
        for _ in range(CHAIN_RETRIES + 1):
            rows = self._solve(usable)
            if rows is None:
                return None
            clash = self._first_duplicate(rows)
            if clash is None:
                return rows
            usable[clash] = False
        return None

    def _solve(self, usable: np.ndarray) -> list[int] | None:
        """Dynamic programming over the slots; progress strictly increasing, ends fixed."""
        inside = usable & (self.along > 0) & (self.along < 1)
        if inside.sum() < len(self.place):
            return None
        previous = np.array([-1])                     # -1: the start track
        previous_points, previous_along, previous_keys = self.a[None, :], np.zeros(1), np.array([-1])
        total = np.zeros(1)
        slots, back = [], []
        for place in self.place:
            ranked = np.where(inside, place, np.inf)
            top = np.argpartition(ranked, min(CHAIN_CANDIDATES, len(ranked)) - 1)[:CHAIN_CANDIDATES]
            top = top[np.isfinite(ranked[top])]
            if not top.size:
                return None
            steps = 1 - previous_points @ self.points[top].T
            cost = total[:, None] + steps ** 2 + place[top][None, :]
            cost[(self.along[top][None, :] <= previous_along[:, None]) | (steps < DUPLICATE_DISTANCE)
                 | (self.keys[top][None, :] == previous_keys[:, None])] = np.inf
            best = np.argmin(cost, axis=0)
            total = cost[best, np.arange(len(top))]
            slots.append(top)
            back.append(best)
            previous, previous_points = top, self.points[top]
            previous_along, previous_keys = self.along[top], self.keys[top]
        total = total + (1 - previous_points @ self.b) ** 2
        at = int(np.argmin(total))
        if not np.isfinite(total[at]):
            return None
        rows = []
        for top, best in zip(reversed(slots), reversed(back)):
            rows.append(int(top[at]))
            at = int(best[at])
        return rows[::-1]

    def _first_duplicate(self, rows: list[int]) -> int | None:
        """The later row of the first pair in `rows` that are two recordings of one song, if any."""
        keys = self.keys[rows]
        close = np.triu(self.points[rows] @ self.points[rows].T > 1 - DUPLICATE_DISTANCE, k=1)
        for later in range(1, len(rows)):
            if (keys[:later] == keys[later]).any() or close[:later, later].any():
                return rows[later]
        return None

    def fill(self) -> list[int | None]:
        """Slot by slot: the best-placed usable row ahead of the previous pick, else any usable row.

        None for a slot no candidate can fill.  For libraries too small for a chain.
        """
        usable = self.usable.copy()
        chosen = [self.a, self.b]
        taken_keys: set[int] = set()
        last = 0.0
        picks: list[int | None] = []
        for place in self.place:
            ranked_all = np.where(usable, place, np.inf)
            row = None
            for ranked in (np.where(self.along > last, ranked_all, np.inf), ranked_all):
                for candidate in np.argsort(ranked):
                    if not np.isfinite(ranked[candidate]):
                        break
                    if int(self.keys[candidate]) in taken_keys or \
                            float((np.asarray(chosen) @ self.points[candidate]).max()) > 1 - DUPLICATE_DISTANCE:
                        usable[candidate] = False          # a copy of a chosen song: never usable again
                        continue
                    row = int(candidate)
                    break
                if row is not None:
                    break
            picks.append(row)
            if row is not None:
                usable[row] = False
                taken_keys.add(int(self.keys[row]))
                chosen.append(self.points[row])
                last = max(last, float(self.along[row]))
        return picks


def find_path(index: TrackIndex, start: TrackInfo, end: TrackInfo, length: int = DEFAULT_LENGTH) -> PathResult:
    """A path of up to `length` tracks (both ends included) from `start` to `end`.

    Parameters
    ----------
    index : TrackIndex
        The loaded similarity index; both ends must be in it (KeyError otherwise).
    start, end : TrackInfo
        Different songs (ValueError when they share a song key).
    length : int
        Tracks wanted, MIN_LENGTH..MAX_LENGTH, counting start and end.

    Returns
    -------
    PathResult
        The tracks in order with the cosine distance (0..2) of each from the
        previous one; shorter than `length` (complete False, with the reason)
        when the library cannot fill it.
    """
    if start.song_key == end.song_key:
        raise ValueError("start and end are the same song: choose two different songs")
    a, b = index.unit_vectors([start.id, end.id])
    backbone = slerp(a, b, np.linspace(0.0, 1.0, length))[1:-1]
    targets = progress(backbone, a, b)
    backbone_step = float(1 - math.cos(math.acos(float(np.clip(a @ b, -1, 1))) / (length - 1)))

    info: dict[int, TrackInfo] = {start.id: start, end.id: end}
    looked_up: set[int] = set()
    ids: list[int] = []
    points = np.zeros((0, a.size), np.float32)
    rows: list[int] = []
    k = min(max(MIN_CANDIDATES, CANDIDATE_FACTOR * length), index.size)
    while len(backbone):
        new = sorted(_candidates(index, backbone, k) - looked_up - {start.id, end.id})
        looked_up.update(new)
        info.update(catalog.describe(new, index.names))
        present = [t for t in new if t in info]         # tracks gone from the catalog are skipped
        ids += present
        points = np.concatenate([points, index.unit_vectors(present)])
        pool = _Pool(ids, points, info, start, end, a, b, targets)
        chain = pool.chain()
        if chain is not None:
            rows = chain
            break
        picks = pool.fill()
        rows = sorted((row for row in picks if row is not None), key=lambda row: pool.along[row])
        if len(rows) == len(picks) or k >= index.size:
            break
        k = min(2 * k, index.size)

    path_ids = [start.id, *(ids[row] for row in rows), end.id]
    path_points = np.stack([a, *(points[row] for row in rows), b])
    steps = [0.0, *np.maximum(0.0, 1 - np.sum(path_points[1:] * path_points[:-1], axis=1)).tolist()]
    tracks = [(info[t], step) for t, step in zip(path_ids, steps)]
    typical, gap = _realistic_figures(index, path_points, np.array(steps[1:]))
    reason = _reason(index, tracks, length, backbone_step, typical, gap)
    return PathResult(tracks, length, len(tracks) == length, reason, backbone_step, typical)


def _realistic_figures(index: TrackIndex, points: np.ndarray, steps: np.ndarray) -> tuple[float, tuple | None]:
    """The realistic step at the ends, and the step that is the most realistic steps long.

    Only the GAP_SUSPECTS longest steps are weighed against the realistic
    step around them (the mean of their two tracks'), so one batched query of
    a few points serves any length.  Returns (typical step at the ends,
    (step position, step, realistic step around it) or None for a 2-track path).
    """
    suspects = np.argsort(steps)[::-1][:GAP_SUSPECTS] if len(points) > 2 else np.zeros(0, int)
    wanted = sorted({0, len(points) - 1, *suspects.tolist(), *(suspects + 1).tolist()})
    local = dict(zip(wanted, realistic_steps(index, points[wanted]).tolist()))
    typical = (local[0] + local[len(points) - 1]) / 2
    gaps = [(int(n), float(steps[n]), max((local[n] + local[n + 1]) / 2, 1e-6)) for n in suspects]
    return typical, max(gaps, key=lambda gap: gap[1] / gap[2], default=None)


def _reason(index: TrackIndex, tracks: list[tuple[TrackInfo, float]], length: int, backbone_step: float,
            typical: float, gap: tuple | None) -> str | None:
    """What the listener should know about this path, in a sentence (None: nothing to say).

    A path shorter than asked for says why; then a step more than GAP_RATIO
    realistic steps long names the two songs around the gap; then a backbone
    whose even steps are longer than the realistic step at the ends says the
    ends are far apart for so few songs.
    """
    notes = []
    if len(tracks) < length:
        if index.size < length:
            notes.append(f"the library has only {index.size} analysed tracks")
        else:
            notes.append(f"only {len(tracks)} different songs fit between start and end: the rest of the "
                         f"library is other recordings of songs already on the path")
    if length > 2 and len(tracks) > 2 and typical > 0:
        if gap is not None and gap[1] > GAP_RATIO * gap[2]:
            position, step, around = gap
            before, after = tracks[position][0], tracks[position + 1][0]
            notes.append(f"the library has little between “{before.title}” and “{after.title}”: that step "
                         f"spans {step:.2f} where close neighbours there are about {around:.2f} apart")
        if backbone_step > JUMP_RATIO * typical:
            notes.append(f"start and end are far apart for {length} songs: even evenly spaced, each step "
                         f"would span {backbone_step:.2f} where close neighbours are about {typical:.2f} apart")
    return "; ".join(notes) or None
