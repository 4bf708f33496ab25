"""From a clustering of the library to playlists: sizes, choice, profile, names, and matching the last run.

`build` turns cluster labels into playlist drafts:

1. Clusters of more than max_size tracks are split by k-means inside the
   cluster (into ceil(size / max_size) parts, again while a part is too big),
   never by slicing a list: each part is a coherent corner of its cluster.
2. In each part, tracks are ordered most central first (cosine similarity to
   the part's mean direction), and walked in that order: a track is left out
   when it is another recording of a song already kept (the same
   `similarity.catalog.song_key`, or closer than
   `similarity.neighbours.DUPLICATE_DISTANCE`: the similarity family's rule),
   or when its artist already has max_per_artist tracks (tracks without an
   artist are never capped).  Parts left with fewer than min_size tracks are
   dropped.
3. The `playlists` most distinct parts are kept, by greedy max-min on their
   centroids: the largest part first, then each time the part whose cosine
   distance to the nearest part already kept, times sqrt(size / max_size),
   is largest.  Unweighted, max-min kept 9-song parts over 28-song ones as
   often as not; weighted, a small part must be clearly more distinct to
   displace a full one (docs/QUALITY.md: coverage up, majority share kept).

Each draft has a profile (top tags, moods, tempo and energy ranges, its most
central tracks) and one sentence saying why it was kept; `plain_names` names
profiles without AI; `match` pairs a new run's playlists with the previous
run's by track overlap, so a playlist that persists keeps its name.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from db.features import TrackFeatures
from db.models import MOOD_COLUMNS
from similarity.catalog import song_key
from similarity.cluster_scoring import LABELS, label_scores
from similarity.neighbours import DUPLICATE_DISTANCE

TOP_TAGS = 5             # tags in a profile
TRACK_TAGS = 3           # a track "carries" the tags among its 3 highest scores
MIN_TAG_SHARE = 0.2      # a profile's tag is carried by at least this share of the playlist
NAME_TAG_SHARE = 0.25    # a tag names a playlist only when this share carries it (mixed ones say "Mix")
NAME_MOOD_MEAN = 0.35    # a mood names a playlist only when its mean score reaches this (0-1)
NAME_TEMPO_SPAN = 40     # BPM: a wider 10th-90th percentile tempo range says nothing, and stays out of the name
CENTRAL_TRACKS = 5
MAX_SPLIT_DEPTH = 6      # k-means splits of one cluster; a part still too big keeps its most central tracks
_LABEL_BLOCK = 20_000    # tracks whose tags are ranked at once (bounds memory on big libraries)


@dataclasses.dataclass
class Draft:
    """One automatic playlist before it is named and stored."""

    track_ids: list[int]   # most central first
    profile: dict          # JSON-able: top_tags, top_moods, tempo, energy, central_track_ids, size
    reason: str            # one sentence: why this playlist was kept


# ---------------------------------------------------------------------------
# build

def _by_centrality(unit: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`rows` ordered by cosine similarity to their mean direction, highest first."""
    centre = unit[rows].mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-12)
    return rows[np.argsort(-(unit[rows] @ centre), kind="stable")]


def _split(unit: np.ndarray, rows: np.ndarray, max_size: int, seed: int, starts: int,
           depth: int = 0) -> list[np.ndarray]:
    """`rows` as parts of at most max_size tracks, by k-means inside them."""
    if rows.size <= max_size:
        return [rows]
    if depth >= MAX_SPLIT_DEPTH:
        return [_by_centrality(unit, rows)[:max_size]]
    from sklearn.cluster import KMeans
    k = max(2, math.ceil(rows.size / max_size))
    labels = KMeans(n_clusters=k, n_init=starts, random_state=seed).fit(unit[rows]).labels_
    parts = [rows[labels == part] for part in np.unique(labels)]
    if len(parts) < 2:   # every track alike: k-means cannot split them
        return [_by_centrality(unit, rows)[:max_size]]
    return [piece for part in parts for piece in _split(unit, part, max_size, seed, starts, depth + 1)]


def split_oversize(unit: np.ndarray, labels: np.ndarray, max_size: int, seed: int, starts: int = 3) -> np.ndarray:
    """`labels` with every cluster of more than max_size rows split by k-means inside it.

    Parameters
    ----------
    unit : np.ndarray
        (n, d) unit vectors of the rows.
    labels : np.ndarray
        (n,) cluster per row, -1 for unplaced.
    max_size : int
        Most rows in a part.
    seed : int
        Seeds the k-means.
    starts : int
        k-means starts per split (the best is kept); a search's runs, which only score the
        parts, use one.

    Returns
    -------
    np.ndarray
        int64 (n,) part per row, numbered from 0 in cluster order; -1 where it was, and for the
        rare rows a part that cannot be split further leaves out (MAX_SPLIT_DEPTH).
    """
    labels = np.asarray(labels)
    parts = np.full(labels.shape, -1, np.int64)
    number = 0
    for cluster in np.unique(labels[labels >= 0]):
        for rows in _split(unit, np.flatnonzero(labels == cluster), max_size, seed, starts):
            parts[rows] = number
            number += 1
    return parts


def _keep(features: TrackFeatures, ordered: np.ndarray, max_per_artist: int | None) -> np.ndarray:
    """`ordered` without other recordings of a kept song and beyond the artist cap, order kept."""
    points = features.vectors[ordered]
    near = points @ points.T > 1.0 - DUPLICATE_DISTANCE
    kept: list[int] = []
    keys: set[str] = set()
    per_artist: dict[str, int] = {}
    for i, row in enumerate(ordered.tolist()):
        key = song_key(str(features.titles[row]), str(features.artists[row]))
        artist = key.split("\t", 1)[1]
        if key in keys or near[i, kept].any():
            continue
        if max_per_artist is not None and artist and per_artist.get(artist, 0) >= max_per_artist:
            continue
        kept.append(i)
        keys.add(key)
        per_artist[artist] = per_artist.get(artist, 0) + 1
    return ordered[kept]


def _direction(unit: np.ndarray, rows: np.ndarray) -> np.ndarray:
    centre = unit[rows].mean(axis=0)
    return centre / max(float(np.linalg.norm(centre)), 1e-12)


def _most_distinct(unit: np.ndarray, parts: list[np.ndarray], count: int,
                   max_size: int) -> list[tuple[int, float]]:
    """Greedy max-min, size-weighted: (part index, cosine distance to the nearest part chosen before).

    The largest part first (distance 0); then each time the part whose distance to the nearest
    chosen part, times sqrt(size / max_size), is largest.
    """
    if not parts:
        return []
    centres = np.stack([_direction(unit, rows) for rows in parts])
    sizes = np.array([rows.size for rows in parts])
    weight = np.sqrt(np.minimum(sizes / max_size, 1.0))
    first = int(np.argmax(sizes))
    chosen = [(first, 0.0)]
    nearest = 1.0 - centres @ centres[first]
    while len(chosen) < min(count, len(parts)):
        merit = nearest * weight
        merit[[c for c, _ in chosen]] = -np.inf
        best = int(np.lexsort((sizes, merit))[-1])   # most distinct for its size, then largest
        chosen.append((best, float(nearest[best])))
        nearest = np.minimum(nearest, 1.0 - centres @ centres[best])
    return chosen


def build(features: TrackFeatures, labels: np.ndarray, *, min_size: int, max_size: int, playlists: int,
          max_per_artist: int | None, seed: int) -> list[Draft]:
    """The playlists of a clustering of the library.

    Parameters
    ----------
    features : TrackFeatures
        The whole library (standardized unit vectors).
    labels : np.ndarray
        (n,) cluster per track from `clustering.solve`, -1 for unplaced.
    min_size, max_size : int
        Songs in a playlist: smaller parts are dropped, larger clusters split.
    playlists : int
        Most playlists returned.
    max_per_artist : int or None
        Most tracks of one artist in a playlist (None: no cap).
    seed : int
        Seeds the splitting k-means.

    Returns
    -------
    list of Draft
        In the order kept (most distinct first after the largest); empty when no part reaches
        min_size.
    """
    unit = features.vectors
    with threadpool_limits(1):   # hundreds of small k-means: threads only contend (15 s against 90 at 100k tracks)
        split = split_oversize(unit, labels, max_size, seed)
    parts = [np.flatnonzero(split == part) for part in range(split.max(initial=-1) + 1)]
    candidates = [kept for kept in (_keep(features, _by_centrality(unit, rows), max_per_artist) for rows in parts)
                  if kept.size >= min_size]
    chosen = _most_distinct(unit, candidates, playlists, max_size)
    context = _LibraryTags(features)
    drafts = []
    for rank, (index, distance) in enumerate(chosen):
        rows = candidates[index]
        drafts.append(Draft(track_ids=[int(i) for i in features.ids[rows]], profile=context.profile(rows),
                            reason=_reason(rank, len(candidates), rows.size, distance, min_size)))
    return drafts


def _reason(rank: int, candidates: int, size: int, distance: float, min_size: int) -> str:
    if rank == 0:
        return (f"Kept first: the largest of the {candidates} groups of at least {min_size} songs "
                f"({size} songs).")
    return (f"Kept as the {_ordinal(rank + 1)} most distinct of {candidates} groups of at least {min_size} "
            f"songs: {size} songs, cosine distance {distance:.2f} from the nearest playlist kept before it.")


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


# ---------------------------------------------------------------------------
# profiles

class _LibraryTags:
    """Each track's TRACK_TAGS strongest tags (merged vocabulary), and how common each is in the library."""

    def __init__(self, features: TrackFeatures):
        self.features = features
        n = len(features)
        self.top = np.full((n, TRACK_TAGS), -1, np.int16)
        for start in range(0, n, _LABEL_BLOCK):
            block = label_scores(features.msd[start:start + _LABEL_BLOCK], features.mtt[start:start + _LABEL_BLOCK])
            tagged = ~np.isnan(block).all(axis=1)
            order = np.argsort(-np.nan_to_num(block, nan=-1.0), axis=1, kind="stable")[:, :TRACK_TAGS]
            self.top[start:start + block.shape[0]][tagged] = order[tagged]
        self.library_share = self._shares(np.arange(n))
        with np.errstate(all="ignore"):
            self.library_moods = np.nan_to_num(np.nanmean(features.moods, axis=0)) if n else np.zeros(len(MOOD_COLUMNS))

    def _shares(self, rows: np.ndarray) -> np.ndarray:
        top = self.top[rows]
        tagged = top[:, 0] >= 0
        counts = np.bincount(top[tagged].ravel(), minlength=len(LABELS))
        return counts / max(int(tagged.sum()), 1)

    def profile(self, rows: np.ndarray) -> dict[str, Any]:
        """The profile of the playlist `rows`.

        top_tags: the tags at least MIN_TAG_SHARE of its tracks carry, ranked by how much more often
        than the library's tracks (tags no more common than in the library say nothing about it);
        top_moods: ranked the same way by mean score.
        """
        share = self._shares(rows)
        excess = share - self.library_share
        ranked = [j for j in np.argsort(-excess, kind="stable") if share[j] >= MIN_TAG_SHARE and excess[j] > 0]
        moods = self.features.moods[rows]
        with np.errstate(all="ignore"):
            mood_means = np.nanmean(moods, axis=0) if rows.size else np.full(len(MOOD_COLUMNS), np.nan)
        mood_order = [m for m in np.argsort(-np.nan_to_num(mood_means - self.library_moods, nan=-np.inf),
                                            kind="stable") if np.isfinite(mood_means[m])]
        ids = self.features.ids[rows]
        return {
            "top_tags": [[LABELS[j], round(float(share[j]), 2)] for j in ranked[:TOP_TAGS]],
            "top_moods": [[MOOD_COLUMNS[m], round(float(mood_means[m]), 2)] for m in mood_order[:3]],
            "tempo": _range(self.features.tempo[rows], 0),
            "energy": _range(self.features.energy[rows], 2),
            "central_track_ids": [int(i) for i in ids[:CENTRAL_TRACKS]],
            "size": int(rows.size),
        }


def _range(values: np.ndarray, decimals: int) -> list[float] | None:
    """[10th, 90th percentile] of the known values, rounded; None when none is known."""
    known = values[np.isfinite(values)]
    if not known.size:
        return None
    low, high = np.percentile(known, [10, 90])
    return [round(float(low), decimals), round(float(high), decimals)] if decimals else [int(round(low)),
                                                                                          int(round(high))]


# ---------------------------------------------------------------------------
# names

# Tags that read as a describing word before another ("Mellow Piano"); the
# others read as what the playlist is ("Piano", "Hip-Hop").
_ADJECTIVES = {
    "mellow": "Mellow", "beautiful": "Beautiful", "sad": "Sad", "happy": "Happy", "catchy": "Catchy",
    "sexy": "Sultry", "slow": "Slow", "fast": "Fast", "loud": "Loud", "quiet": "Quiet", "soft": "Soft",
    "weird": "Strange", "experimental": "Experimental", "instrumental": "Instrumental", "acoustic": "Acoustic",
    "party": "Party", "easy listening": "Easy", "chillout": "Chilled", "00s": "2000s", "90s": "90s",
    "80s": "80s", "70s": "70s", "60s": "60s", "oldies": "Vintage",
}
_NOUNS = {"hip-hop": "Hip-Hop", "rnb": "R&B", "house": "House", "new age": "New Age", "female vocals": "Female Vocals",
          "male vocals": "Male Vocals", "indie": "Indie", "beats": "Beats"}
_MOOD_WORDS = {"danceable": "Danceable", "aggressive": "Aggressive", "happy": "Upbeat", "party": "Party",
               "relaxed": "Relaxed", "sad": "Melancholy"}
_ENERGY_WORDS = ((0.35, "Calm"), (0.55, "Steady"), (0.7, "Lively"), (1.01, "Driving"))   # by mean energy, 0-1


def _noun(tag: str) -> str:
    return _NOUNS.get(tag) or " ".join(word.capitalize() for word in tag.split())


def _variants(profile: dict) -> list[str]:
    """Names for one profile, each a little more specific than the one before."""
    tags = [tag for tag, share in profile.get("top_tags") or [] if share >= NAME_TAG_SHARE]
    nouns = [_noun(t) for t in tags if t not in _ADJECTIVES]
    adjectives = [_ADJECTIVES[t] for t in tags if t in _ADJECTIVES]
    moods = [_MOOD_WORDS[m] for m, mean in profile.get("top_moods") or [] if mean >= NAME_MOOD_MEAN]
    describing = (adjectives + moods)[:1]
    head = nouns[0] if nouns else "Mix"
    tempo = profile.get("tempo")
    if tempo and tempo[1] - tempo[0] > NAME_TEMPO_SPAN:
        tempo = None
    bpm = ""
    if tempo:
        low, high = 10 * math.floor(tempo[0] / 10), 10 * math.ceil(tempo[1] / 10)
        bpm = f", around {low} BPM" if low == high else f", {low}-{high} BPM"
    base = " ".join(describing + [head])
    names = [base + bpm]
    if len(nouns) > 1:
        base = f"{base} & {nouns[1]}"
        names.append(base + bpm)
    extra = [w for w in adjectives[1:] + moods if w not in describing][:1]
    if extra:
        base = f"{extra[0]} {base}"
        names.append(base + bpm)
    energy = profile.get("energy")
    if energy:
        word = next(w for limit, w in _ENERGY_WORDS if (energy[0] + energy[1]) / 2 < limit)
        base = f"{word} {base}" if word not in base else base
        names.append(base + bpm)
    if tempo and tempo[0] != tempo[1]:
        names.append(f"{base}, {tempo[0]}-{tempo[1]} BPM")
    return list(dict.fromkeys(names))


def plain_names(profiles: list[dict]) -> list[str]:
    """Distinct, readable names made from profiles, e.g. "Mellow Ambient, 70-90 BPM".

    Each profile gets its plainest name; where names collide, every profile in the collision
    takes its next, more specific name (a second tag, a second describing word, an energy
    word, the exact tempo range), and when those run out a side letter ("Side B").

    Parameters
    ----------
    profiles : list of dict
        `Draft.profile`s.

    Returns
    -------
    list of str
        One name per profile, in order, no two alike (compared without case).
    """
    variants = [_variants(p) for p in profiles]
    level = [0] * len(profiles)
    names = [v[0] for v in variants]
    while True:
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            groups.setdefault(name.casefold(), []).append(i)
        clashes = [members for members in groups.values() if len(members) > 1]
        if not clashes:
            return names
        for members in clashes:
            if all(level[i] + 1 >= len(variants[i]) for i in members):
                for side, i in enumerate(members):
                    names[i] = f"{names[i]} (Side {_side(side)})"
                continue
            for i in members:
                if level[i] + 1 < len(variants[i]):
                    level[i] += 1
                    names[i] = variants[i][level[i]]


def _side(number: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"..."""
    letters = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# ---------------------------------------------------------------------------
# stability across runs

def match(new: list[set[int]], previous: list[set[int]], min_overlap: float = 0.3) -> dict[int, int]:
    """Pair new playlists with previous ones by shared tracks, one-to-one.

    Parameters
    ----------
    new, previous : list of set of int
        Track ids of each playlist.
    min_overlap : float
        Smallest Jaccard overlap (shared tracks / tracks in either, 0-1) of a pair.

    Returns
    -------
    dict
        New index -> previous index, for the pairing of largest total overlap (Hungarian
        method), pairs below min_overlap left out.
    """
    if not new or not previous:
        return {}
    from scipy.optimize import linear_sum_assignment
    overlap = np.array([[len(a & b) / len(a | b) if a | b else 0.0 for b in previous] for a in new])
    rows, columns = linear_sum_assignment(overlap, maximize=True)
    return {int(r): int(c) for r, c in zip(rows, columns) if overlap[r, c] >= min_overlap}
