"""Playlist order: each song flowing into the next, artists spaced, energy along a chosen shape.

Every playlist Sonarium makes is chosen as a set (the songs) and then ordered
here.  A *seam* is the join between two consecutive songs; its cost, 0 (a
perfect join) .. 1, weighs (SEAM_WEIGHTS):

- sound: the cosine distance between the outgoing song's END vector and the
  incoming song's START vector (MusiCNN over the first and last ~15 s,
  analysis.features.EDGE_PATCHES), standardized like the index, over
  SOUND_SCALE;
- tempo: how far apart the tempi are in octaves, half and double time counting
  as the same (a 70 BPM song flows into a 140 BPM one), over TEMPO_TOLERANCE;
- key: the Camelot wheel: the same key 0, a neighbour (a fifth apart, or the
  relative major/minor) KEY_NEIGHBOUR, two steps KEY_TWO_STEPS, anything else a
  clash, 1 (penalised, never excluded);
- energy: the outgoing song's energy over its last seconds against the incoming
  song's over its first (0..1, loudness-based; the whole song's where the edges
  were not measured), over ENERGY_TOLERANCE.

A measure a song lacks (no tempo found, no key) costs NEUTRAL, so it neither
attracts nor repels.  The order's objective adds, to the seams:

- ARTIST_PENALTY for each pair of songs by one artist fewer than `artist_gap`
  places apart (and ALBUM_PENALTY for one album within `album_gap`), soft, so a
  list that cannot be spaced is still ordered and the violations are counted;
- SHAPE_WEIGHT x |energy - target| per song, where the target follows the
  energy shape: "steady" (none), "rising" (the list's quietest to loudest), or
  "arc" (warm-up to a peak at ARC_PEAK of the way, then a release);
- for a ranked choice (the songs most like a seed first), RANK_WEIGHT x how far
  each song's place (a share of the list) lies from its relevance (its distance
  scaled to 0 for the best song and 1 for the worst), so the order smooths the
  joins among songs of like relevance without letting a far song jump ahead of
  close ones.

Search: a greedy walk from the first song (fixed when given, such as a seed;
otherwise the calmest for a rising or arc shape, else the song with the
cheapest greedy walk among up to GREEDY_STARTS), then local search by moving
single songs and swapping pairs, each candidate order scored exactly and in
batches with numpy, until no move improves or SEARCH_WORK is spent (counted in
song places scored, not in seconds, so the same songs always get the same
order, however busy the machine: a pushed playlist does not change by
itself).  Fixed ends
(a path's start and end songs) never move.
"""
from __future__ import annotations

import dataclasses
from typing import Literal, Sequence

import numpy as np
from sqlalchemy import BigInteger, and_, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from analysis.standardize import Standardization
from db.models import Embedding, Track
from db.session import read
from similarity.catalog import artist_key
from similarity.index import served_model

Shape = Literal["steady", "rising", "arc"]
SHAPES: tuple[str, ...] = ("steady", "rising", "arc")

SEAM_WEIGHTS = {"sound": 0.40, "tempo": 0.25, "key": 0.20, "energy": 0.15}
SOUND_SCALE = 1.2          # cosine distance (0..2) counted as a full miss
TEMPO_TOLERANCE = 0.25     # octaves (about 19 %) counted as a full miss
KEY_NEIGHBOUR = 0.25
KEY_TWO_STEPS = 0.6
ENERGY_TOLERANCE = 0.3
NEUTRAL = 0.5              # a measure one of the two songs lacks
ARTIST_GAP = 4             # default: no artist again within this many places
ALBUM_GAP = 2
ARTIST_PENALTY = 0.3
ALBUM_PENALTY = 0.15
SHAPE_WEIGHT = 0.5
RANK_WEIGHT = 3.0
ARC_PEAK = 0.65            # share of the list where the arc's peak falls
GREEDY_STARTS = 12
SEARCH_WORK = 20_000_000   # song places scored by the local search, at most (about 0.3 s here)

# Camelot numbers of the major keys (the B ring); a minor key is its relative major's number (A ring).
_MAJOR_NUMBER = {"B": 1, "F#": 2, "C#": 3, "G#": 4, "D#": 5, "A#": 6, "F": 7, "C": 8, "G": 9, "D": 10, "A": 11,
                 "E": 12}
_PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def camelot(key: str | None, scale: str | None) -> tuple[int, str] | None:
    """The Camelot code of a key, e.g. ("A", "minor") -> (8, "A"); None when unknown."""
    if key not in _PITCHES or scale not in ("major", "minor"):
        return None
    if scale == "major":
        return _MAJOR_NUMBER[key], "B"
    relative_major = _PITCHES[(_PITCHES.index(key) + 3) % 12]
    return _MAJOR_NUMBER[relative_major], "A"


def key_cost(a: tuple[int, str] | None, b: tuple[int, str] | None) -> float:
    """0 for the same key, KEY_NEIGHBOUR for a Camelot neighbour, KEY_TWO_STEPS, else 1; NEUTRAL if unknown."""
    if a is None or b is None:
        return NEUTRAL
    steps = min((a[0] - b[0]) % 12, (b[0] - a[0]) % 12)
    if a[1] != b[1]:
        steps += 1              # relative major/minor: one step
    return (0.0, KEY_NEIGHBOUR, KEY_TWO_STEPS)[steps] if steps < 3 else 1.0


@dataclasses.dataclass
class Songs:
    """What ordering needs of n songs, in any order.

    start, end : (n, d) unit vectors of the songs' first and last seconds (standardized); a row of
        zeros where unknown
    tempo : (n,) BPM, NaN where unknown
    energy : (n,) 0..1, NaN where unknown
    keys : Camelot codes, None where unknown
    artists, albums : normalised names ("" where unknown: never counted as a repeat)
    start_energy, end_energy : (n,) energy of the first and last seconds, NaN where not measured
        (the whole song's energy stands in); None: not measured at all
    """

    start: np.ndarray
    end: np.ndarray
    tempo: np.ndarray
    energy: np.ndarray
    keys: list[tuple[int, str] | None]
    artists: list[str]
    albums: list[str]
    start_energy: np.ndarray | None = None
    end_energy: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.keys)


@dataclasses.dataclass
class Ordering:
    """An order and what it costs.

    order : indices into the songs, in playing order
    seams : (n-1,) cost of each join, 0..1
    parts : each seam's parts by name ("sound", "tempo", "key", "energy"), 0..1 each
    artist_repeats, album_repeats : pairs closer than the gaps (0 when the spacing held)
    """

    order: list[int]
    seams: np.ndarray
    parts: dict[str, np.ndarray]
    artist_repeats: int
    album_repeats: int

    @property
    def mean_seam(self) -> float:
        return float(self.seams.mean()) if len(self.seams) else 0.0

    @property
    def worst_seam(self) -> float:
        return float(self.seams.max()) if len(self.seams) else 0.0


def seam_parts(songs: Songs) -> dict[str, np.ndarray]:
    """Each part of the cost of every possible seam: (n, n) arrays, [i, j] = song i followed by song j."""
    n = len(songs)
    known_end = np.linalg.norm(songs.end, axis=1) > 0
    known_start = np.linalg.norm(songs.start, axis=1) > 0
    distance = 1.0 - songs.end.astype(np.float64) @ songs.start.astype(np.float64).T
    sound = np.minimum(1.0, np.maximum(distance, 0.0) / SOUND_SCALE)
    sound[~known_end, :] = NEUTRAL
    sound[:, ~known_start] = NEUTRAL

    with np.errstate(invalid="ignore", divide="ignore"):
        octaves = np.abs(np.log2(songs.tempo[:, None] / songs.tempo[None, :]))
    octaves = np.abs(octaves - np.round(octaves))           # half and double time are the same pulse
    tempo = np.where(np.isnan(octaves), NEUTRAL, np.minimum(1.0, octaves / TEMPO_TOLERANCE))

    key = np.array([[key_cost(a, b) for b in songs.keys] for a in songs.keys], np.float64).reshape(n, n)

    def edge(measured: np.ndarray | None) -> np.ndarray:
        return songs.energy if measured is None else np.where(np.isnan(measured), songs.energy, measured)

    gap = np.abs(edge(songs.end_energy)[:, None] - edge(songs.start_energy)[None, :])
    energy = np.where(np.isnan(gap), NEUTRAL, np.minimum(1.0, gap / ENERGY_TOLERANCE))
    return {"sound": sound, "tempo": tempo, "key": key, "energy": energy}


def seam_costs(parts: dict[str, np.ndarray]) -> np.ndarray:
    """The weighted seam cost (n, n), 0..1, from `seam_parts`."""
    return sum(SEAM_WEIGHTS[name] * part for name, part in parts.items())


def energy_targets(energies: np.ndarray, shape: Shape) -> np.ndarray | None:
    """The energy each place should have under `shape` (n,), or None for "steady" or unknown energies.

    The targets span the list's own quietest to loudest song (10th to 90th percentile), so a
    shape asks for an order, never for songs the list does not have.
    """
    known = energies[~np.isnan(energies)]
    if shape == "steady" or len(energies) < 3 or len(known) < 3:
        return None
    low, high = np.percentile(known, [10, 90])
    place = np.linspace(0.0, 1.0, len(energies))
    if shape == "rising":
        rise = place
    else:   # from 0.3 up to the peak at ARC_PEAK, then down to 0.4 at the end
        rise = np.where(place <= ARC_PEAK, 0.3 + 0.7 * place / ARC_PEAK,
                        1.0 - 0.6 * (place - ARC_PEAK) / (1.0 - ARC_PEAK))
    return low + (high - low) * rise


class _Objective:
    """The exact cost of orders, in batches: rows of an (m, n) index array."""

    def __init__(self, songs: Songs, costs: np.ndarray, shape: Shape, artist_gap: int, album_gap: int,
                 relevance: np.ndarray | None):
        self.costs = costs
        self.targets = energy_targets(songs.energy, shape)
        n = len(songs)
        self.places = np.arange(n) / max(n - 1, 1)     # a place as a share of the list: 0 first, 1 last
        self.rank = None
        if relevance is not None and n > 1:
            relevance = np.nan_to_num(np.asarray(relevance, np.float64), nan=float(np.nanmax(relevance)))
            spread = float(relevance.max() - relevance.min())
            self.rank = (relevance - relevance.min()) / spread if spread > 1e-12 else None
        self.energy = np.nan_to_num(songs.energy, nan=0.5)
        self.artist_gap, self.album_gap = artist_gap, album_gap
        self.artist = _codes(songs.artists)
        self.album = _codes(songs.albums)

    def repeats(self, orders: np.ndarray, codes: np.ndarray, gap: int) -> np.ndarray:
        found = np.zeros(len(orders))
        seq = codes[orders]
        for step in range(1, gap):
            if step >= orders.shape[1]:
                break
            found += ((seq[:, step:] == seq[:, :-step]) & (seq[:, step:] >= 0)).sum(axis=1)
        return found

    def __call__(self, orders: np.ndarray) -> np.ndarray:
        total = self.costs[orders[:, :-1], orders[:, 1:]].sum(axis=1)
        total += ARTIST_PENALTY * self.repeats(orders, self.artist, self.artist_gap)
        total += ALBUM_PENALTY * self.repeats(orders, self.album, self.album_gap)
        if self.targets is not None:
            total += SHAPE_WEIGHT * np.abs(self.energy[orders] - self.targets).sum(axis=1)
        if self.rank is not None:
            total += RANK_WEIGHT * np.abs(self.rank[orders] - self.places).sum(axis=1)
        return total


def _codes(names: Sequence[str]) -> np.ndarray:
    """Names as small ints, -1 for unknown ("")."""
    seen: dict[str, int] = {}
    return np.array([seen.setdefault(name, len(seen)) if name else -1 for name in names], np.int64)


def _greedy(objective: _Objective, n: int, first: int, last: int | None) -> list[int]:
    """A walk from `first`, each step to the song whose seam (and spacing and shape) costs least."""
    order = [first]
    left = [i for i in range(n) if i != first and i != last]
    costs = objective.costs
    while left:
        place = len(order)
        candidates = np.array(left)
        step = costs[order[-1], candidates].copy()
        for back in range(1, min(objective.artist_gap, place + 1)):
            mine = objective.artist[order[-back]]
            step += ARTIST_PENALTY * ((objective.artist[candidates] == mine) & (mine >= 0))
        if objective.targets is not None:
            step += SHAPE_WEIGHT * np.abs(objective.energy[candidates] - objective.targets[place])
        if objective.rank is not None:
            step += RANK_WEIGHT * np.abs(objective.rank[candidates] - objective.places[place])
        chosen = int(candidates[int(np.argmin(step))])
        order.append(chosen)
        left.remove(chosen)
    if last is not None:
        order.append(last)
    return order


def _improve(objective: _Objective, order: list[int], fixed_first: bool, fixed_last: bool,
             work: int) -> list[int]:
    """Local search: move one song elsewhere, or swap two, while the objective falls and time is left."""
    current = np.array(order)
    n = len(current)
    low = 1 if fixed_first else 0
    high = n - 1 if fixed_last else n            # movable places: low .. high-1
    if high - low < 2:
        return current.tolist()
    best = float(objective(current[None, :])[0])
    improved = True
    while improved and work > 0:
        improved = False
        for i in range(low, high):
            # every move of the song at place i to place j, and every swap of places i and j
            targets = np.arange(low, high)
            rest = np.delete(current, i)
            places = np.arange(n)[None, :]
            source = np.where(places < targets[:, None], places, places - 1)
            moved = rest[np.clip(source, 0, n - 2)]
            moved[places == targets[:, None]] = current[i]
            swapped = np.repeat(current[None, :], len(targets), axis=0)
            swapped[np.arange(len(targets)), targets] = current[i]
            swapped[np.arange(len(targets)), i] = current[targets]
            candidates = np.vstack([moved, swapped])
            scores = objective(candidates)
            pick = int(np.argmin(scores))
            if scores[pick] < best - 1e-9:
                best = float(scores[pick])
                current = candidates[pick].copy()
                improved = True
            work -= candidates.size
            if work <= 0:
                break
    return current.tolist()


def order(songs: Songs, *, first: int | None = None, last: int | None = None, shape: Shape = "steady",
          artist_gap: int = ARTIST_GAP, album_gap: int = ALBUM_GAP, relevance: np.ndarray | None = None,
          search_work: int = SEARCH_WORK) -> Ordering:
    """The order in which `songs` flow best.

    Parameters
    ----------
    songs : the songs (any order)
    first : index of the song that must open the list (a seed, a path's start), or None
    last : index of the song that must close it (a path's end), or None
    shape : energy along the list: "steady", "rising" or "arc" (warm-up, peak, release)
    artist_gap, album_gap : places within which one artist (album) should not return; 1 turns it off
    relevance : (n,) how far each song is from what was asked for (lower is better, any unit; NaN:
        the worst), or None: the order keeps songs of unlike relevance apart, best first
    search_work : song places the local search may score (the greedy walk always completes)

    Returns
    -------
    Ordering
        The order, each seam's cost and parts, and how many spacing rules could not be kept.
    """
    n = len(songs)
    parts = seam_parts(songs)
    costs = seam_costs(parts)
    if n == 0:
        return Ordering([], np.zeros(0), {k: np.zeros(0) for k in parts}, 0, 0)
    objective = _Objective(songs, costs, shape, artist_gap, album_gap, relevance)
    if first is not None:
        starts = [first]
    elif objective.targets is not None and not np.isnan(songs.energy).all():
        starts = [int(np.nanargmin(np.where(np.arange(n) == last, np.nan, songs.energy)))]
    else:
        starts = [i for i in range(n) if i != last][:GREEDY_STARTS]
    walks = [_greedy(objective, n, start, last) for start in starts] if n > 1 else [[0]]
    scores = objective(np.array(walks))
    walk = walks[int(np.argmin(scores))]
    if n > 2:
        walk = _improve(objective, walk, first is not None, last is not None, search_work)
    chosen = np.array(walk)
    seam_parts_in_order = {name: part[chosen[:-1], chosen[1:]] for name, part in parts.items()}
    artist_repeats = int(objective.repeats(chosen[None, :], objective.artist, artist_gap)[0])
    album_repeats = int(objective.repeats(chosen[None, :], objective.album, album_gap)[0])
    return Ordering(walk, costs[chosen[:-1], chosen[1:]], seam_parts_in_order, artist_repeats, album_repeats)


# Names that say nothing about who made a song: never counted as an artist returning.
UNSPACED_ARTISTS = frozenset({"various artists", "various", "va", "unknown artist", "unknown"})


def load_songs(track_ids: Sequence[int], standardization: Standardization) -> Songs:
    """`Songs` for tracks, in the order given, from the database.

    Parameters
    ----------
    track_ids : the tracks' ids
    standardization : the similarity index's (TrackIndex.standardization, or
        similarity.index.current_standardization() where no index is loaded), applied to the start
        and end vectors so they are compared as the index compares tracks
    """
    ids = [int(i) for i in track_ids]
    rows = {row.id: row for row in read(
        select(Track.id, Track.artist, Track.album, Track.album_artist, Track.tempo_bpm, Track.energy,
               Track.start_energy, Track.end_energy, Track.musical_key, Track.scale, Embedding.start_vector, Embedding.end_vector, Embedding.dim)
        .outerjoin(Embedding, and_(Embedding.track_id == Track.id, Embedding.model == served_model()))
        .where(Track.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))))}
    dim = len(standardization.mean)
    start = np.zeros((len(ids), dim), np.float32)
    end = np.zeros((len(ids), dim), np.float32)
    for place, track_id in enumerate(ids):
        row = rows.get(track_id)
        if row is not None and row.start_vector is not None and row.dim == dim:
            start[place] = np.frombuffer(row.start_vector, "<f4")
        if row is not None and row.end_vector is not None and row.dim == dim:
            end[place] = np.frombuffer(row.end_vector, "<f4")
    known_start, known_end = start.any(axis=1), end.any(axis=1)
    start[known_start] = standardization.apply(start[known_start])
    end[known_end] = standardization.apply(end[known_end])

    def value(row, name) -> float:
        found = getattr(row, name) if row is not None else None
        return float(found) if found is not None else np.nan

    def artist(row) -> str:
        name = artist_key(row.artist) if row is not None else ""
        return "" if name in UNSPACED_ARTISTS else name

    def album(row) -> str:
        if row is None or not row.album:
            return ""
        return artist_key(row.album_artist or row.artist) + "\t" + artist_key(row.album)

    found = [rows.get(track_id) for track_id in ids]
    return Songs(start, end, np.array([value(r, "tempo_bpm") for r in found], np.float64),
                 np.array([value(r, "energy") for r in found], np.float64),
                 [camelot(r.musical_key, r.scale) if r is not None else None for r in found],
                 [artist(r) for r in found], [album(r) for r in found],
                 np.array([value(r, "start_energy") for r in found], np.float64),
                 np.array([value(r, "end_energy") for r in found], np.float64))
