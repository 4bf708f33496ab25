"""Playlist craft: a chosen list put in playing order, and each song's place explained in words.

Every feature first chooses its songs (similar, alchemy, fingerprint, chat...),
then calls `craft`: the songs are ordered by similarity.ordering (unless the
caller asks for "ranked", the closest first) and each gets a `why`:

- how close it is to what was asked for, as a share and in words
  (CLOSENESS_WORDS, calibrated on the dev corpus: two songs of one source lie a
  median 0.66 apart in cosine distance, of two sources 1.10, and a song's 10th
  nearest neighbour at 0.49);
- the tags it shares with the songs it was chosen for (both at or above
  TAG_PRESENT);
- how it follows the song before it: tempo (half and double time named),
  key (Camelot), energy.
"""
from __future__ import annotations

import dataclasses
from typing import Literal, Sequence

import numpy as np
from sqlalchemy import BigInteger, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY

from analysis.labels import MSD_LABELS, MTT_LABELS, TAG_PRESENT
from db.models import TrackTags
from db.session import read
from similarity import ordering
from similarity.catalog import TrackInfo, artist_key
from similarity.index import TrackIndex
from similarity.ordering import Shape

Order = Literal["smooth", "ranked"]
ORDERS: tuple[str, ...] = ("smooth", "ranked")
# (largest cosine distance, words), closest first; beyond the last: "far"
CLOSENESS_WORDS = ((0.35, "very close"), (0.55, "close"), (0.8, "related"), (1.0, "loosely related"))
SHARED_TAGS_SHOWN = 3
SAME_TEMPO_OCTAVES = 0.03      # within ~2 %: the same tempo
STEADY_ENERGY = 0.08


def closeness(distance: float | None) -> tuple[int | None, str | None]:
    """(share 0..100, words) for a cosine distance (0..2); (None, None) when there is none."""
    if distance is None or not np.isfinite(distance):
        return None, None
    percent = int(round(100 * max(0.0, 1.0 - distance / 2)))
    words = next((said for limit, said in CLOSENESS_WORDS if distance <= limit), "far")
    return percent, words


def _tag_profiles(track_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Each track's probabilities over MSD_LABELS + MTT_LABELS (100 values), for those that have tags."""
    profiles: dict[int, np.ndarray] = {}
    rows = read(select(TrackTags.track_id, TrackTags.vocabulary, TrackTags.scores).where(
        TrackTags.track_id == any_(bindparam("ids", [int(i) for i in track_ids], type_=ARRAY(BigInteger)))))
    for row in rows:
        profile = profiles.setdefault(row.track_id, np.zeros(len(MSD_LABELS) + len(MTT_LABELS), np.float32))
        scores = np.asarray(row.scores, np.float32)
        if row.vocabulary == "msd":
            profile[:len(MSD_LABELS)] = scores[:len(MSD_LABELS)]
        else:
            profile[len(MSD_LABELS):] = scores[:len(MTT_LABELS)]
    return profiles


_TAG_NAMES = (*MSD_LABELS, *MTT_LABELS)


def shared_tags(profile: np.ndarray | None, reference: np.ndarray | None) -> list[str]:
    """Up to SHARED_TAGS_SHOWN tags both profiles have, strongest first, each named once."""
    if profile is None or reference is None:
        return []
    both = np.minimum(profile, reference)
    named: list[str] = []
    for i in np.argsort(-both):
        if both[i] < TAG_PRESENT or len(named) == SHARED_TAGS_SHOWN:
            break
        name = _TAG_NAMES[i].lower()
        if name not in named:
            named.append(name)
    return named


def _tempo_words(before: float, after: float) -> str | None:
    if not (np.isfinite(before) and np.isfinite(after)) or before <= 0 or after <= 0:
        return None
    octaves = float(np.log2(after / before))
    if abs(octaves) < SAME_TEMPO_OCTAVES:
        return "same tempo"
    if abs(abs(octaves) - 1) < SAME_TEMPO_OCTAVES:
        return "double time" if octaves > 0 else "half time"
    return f"tempo {'+' if octaves > 0 else '-'}{abs(after / before - 1) * 100:.0f}%"


def _key_words(before: tuple[int, str] | None, after: tuple[int, str] | None) -> str | None:
    if before is None or after is None:
        return None
    cost = ordering.key_cost(before, after)
    if cost == 0:
        return "same key"
    if cost <= ordering.KEY_NEIGHBOUR:
        return f"neighbouring key ({before[0]}{before[1]} to {after[0]}{after[1]})"
    return f"key change ({before[0]}{before[1]} to {after[0]}{after[1]})"


def _energy_words(before: float, after: float) -> str | None:
    if not (np.isfinite(before) and np.isfinite(after)):
        return None
    if abs(after - before) <= STEADY_ENERGY:
        return "energy steady"
    return "energy lifts" if after > before else "energy drops"


def seam_words(songs: ordering.Songs, before: int, after: int) -> list[str]:
    """How song `after` follows song `before`, as short phrases (tempo, key, energy), known ones only."""
    said = [_tempo_words(songs.tempo[before], songs.tempo[after]),
            _key_words(songs.keys[before], songs.keys[after]),
            _energy_words(songs.energy[before], songs.energy[after])]
    return [phrase for phrase in said if phrase]


def _relevance(with_lead: bool, distances: list[float | None]) -> np.ndarray:
    """The songs' distances as ordering takes them: a lead song first, at the best; NaN where unknown."""
    values = [np.nan if d is None else d for d in distances]
    known = [d for d in values if not np.isnan(d)]
    lead = [min(known) if known else 0.0] if with_lead else []
    return np.array(lead + values, np.float64)


def choose(index: TrackIndex, candidates: Sequence[tuple[TrackInfo, float]], n: int, *,
           diversity: float = 0.0, max_share: float | None = None) -> tuple[list[tuple[TrackInfo, float]], list[str]]:
    """`n` of the candidates (best first), spread out by maximal marginal relevance and an artist share.

    Parameters
    ----------
    index : the loaded similarity index (the candidates' points)
    candidates : (track, cosine distance 0..2 to what was asked for), best first, one recording per song
    n : songs wanted
    diversity : 0 keeps the closest; up to 1, each next song is picked by
        (1 - diversity) x its closeness - diversity x its likeness to the closest song already picked
    max_share : the most of the list one artist may have (e.g. 0.125), at least one song; None: no limit

    Returns
    -------
    (chosen, relaxed)
        The chosen songs, best first by the pick; `relaxed` names the share rule when the candidates
        could not fill the list under it, so a list is never silently short.
    """
    candidates = list(candidates)
    if not candidates or (diversity <= 0 and max_share is None):
        return candidates[:n], []
    points = index.unit_vectors([t.id for t, _ in candidates]).astype(np.float64)
    closeness_to_ask = 1.0 - np.array([d for _, d in candidates]) / 2
    artists = [artist_key(t.artist) for t, _ in candidates]
    cap = max(1, int(np.floor(max_share * n))) if max_share is not None else len(candidates)
    wanted = min(n, len(candidates))
    picked = _pick(points, closeness_to_ask, artists, wanted, diversity, cap)
    if len(picked) == wanted:
        return [candidates[i] for i in picked], []
    picked = _pick(points, closeness_to_ask, artists, wanted, diversity, len(candidates))
    return [candidates[i] for i in picked], [f"an artist may have more than {cap} of the songs"]


def _pick(points: np.ndarray, closeness_to_ask: np.ndarray, artists: list[str], wanted: int, diversity: float,
          per_artist: int) -> list[int]:
    """Maximal marginal relevance under a per-artist limit: indices of up to `wanted` candidates."""
    picked: list[int] = []
    likeness = np.zeros(len(points))          # to the closest song already picked (0 before any)
    counts: dict[str, int] = {}
    open_ = np.ones(len(points), bool)
    while len(picked) < wanted and open_.any():
        score = np.where(open_, (1 - diversity) * closeness_to_ask - diversity * likeness, -np.inf)
        best = int(np.argmax(score))
        picked.append(best)
        open_[best] = False
        artist = artists[best]
        if artist:
            counts[artist] = counts.get(artist, 0) + 1
            if counts[artist] >= per_artist:
                open_ &= np.array([a != artist for a in artists])
        likeness = np.maximum(likeness, np.maximum(points @ points[best], 0.0))
    return picked


@dataclasses.dataclass
class Crafted:
    """The songs in playing order, each with why it is there; `seams` sums up the joins."""

    tracks: list[TrackInfo]
    distances: list[float | None]
    why: list[dict]
    seams: dict

    def as_json(self, distance_field: str = "distance") -> list[dict]:
        return [track.as_json(**{distance_field: None if d is None else round(d, 4)}, why=why)
                for track, d, why in zip(self.tracks, self.distances, self.why)]


def craft(index: TrackIndex, tracks: Sequence[TrackInfo], distances: Sequence[float | None], *,
          reference: Sequence[TrackInfo] = (), lead: TrackInfo | None = None, fixed_ends: bool = False,
          order: Order = "smooth", shape: Shape = "steady", ranked: bool = True,
          relevance: Sequence[float] | None = None, artist_gap: int = ordering.ARTIST_GAP,
          steps: bool = False) -> Crafted:
    """Order `tracks` for listening and explain each one.

    Parameters
    ----------
    index : the loaded similarity index (for the start/end vectors' standardization)
    tracks, distances : the chosen songs and each one's cosine distance (0..2) to what was asked for
        (None where there is none), in the feature's own order (best first)
    reference : the songs the list was chosen for (a seed, songs added, played songs); their tags
        are what a song "shares"
    lead : a song the list follows (a seed): the first song is chosen to flow out of it
    fixed_ends : keep the first and last songs where they are (a path)
    order : "smooth" (ordered) or "ranked" (kept as given)
    ranked : a smooth order keeps far songs behind close ones (by `relevance`); False for a set
        without a ranking, such as an automatic playlist
    relevance : how far each song is from what was asked for, lower is better (default: `distances`;
        the chat gives its plan's scores)
    steps : `distances` are each song's step from the one before (a path), and are said so
    shape : the energy shape of a smooth order ("steady", "rising", "arc")
    artist_gap : places within which one artist should not return

    Returns
    -------
    Crafted
        `seams` holds {"order", "shape", "mean", "worst", "artist_repeats"}, costs 0..1.
    """
    tracks, distances = list(tracks), list(distances)
    ids = [t.id for t in tracks]
    lead_ids = [lead.id] if lead is not None else []
    songs = ordering.load_songs(lead_ids + ids, index.standardization)
    if order == "smooth" and len(tracks) > 1:
        found = ordering.order(songs, first=0 if lead is not None else (0 if fixed_ends else None),
                               last=len(songs) - 1 if fixed_ends else None, shape=shape, artist_gap=artist_gap,
                               relevance=_relevance(lead is not None, list(relevance if relevance is not None
                                                                           else distances)) if ranked else None)
        sequence = [i for i in found.order if i >= len(lead_ids)]
    else:
        sequence = list(range(len(lead_ids), len(songs)))
    played = ([0] if lead_ids else []) + sequence
    costs = ordering.seam_costs(ordering.seam_parts(songs)) if len(songs) > 1 else np.zeros((1, 1))
    joins = [float(costs[a, b]) for a, b in zip(played[:-1], played[1:])]
    artists = [songs.artists[i] for i in played]
    repeats = sum(1 for p, name in enumerate(artists) if name and name in artists[max(0, p - artist_gap + 1):p])

    profiles = _tag_profiles(ids + [t.id for t in reference])
    reference_profiles = [profiles[t.id] for t in reference if t.id in profiles]
    reference_tags = np.mean(reference_profiles, axis=0) if reference_profiles else None
    ordered = [i - len(lead_ids) for i in sequence]
    why = []
    for place, (position, song) in enumerate(zip(ordered, sequence)):
        percent, words = closeness(distances[position])
        before = played[played.index(song) - 1] if played.index(song) > 0 else None
        after = seam_words(songs, before, song) if before is not None else []
        tags = shared_tags(profiles.get(ids[position]), reference_tags)
        parts = [(f"a {words} step ({percent}%)" if steps else f"{words} ({percent}%)").capitalize()] if words else []
        if tags:
            parts.append("shares " + ", ".join(tags))
        if after:
            parts.append(("after the seed: " if before == 0 and lead_ids else "after the last: ") + ", ".join(after))
        why.append({"closeness": words, "percent": percent, "shared_tags": tags, "follows": after,
                    "text": " · ".join(parts)})
    summary = {"order": order if len(tracks) > 1 else "ranked", "shape": shape if order == "smooth" else "steady",
               "mean": round(float(np.mean(joins)), 3) if joins else 0.0,
               "worst": round(float(np.max(joins)), 3) if joins else 0.0, "artist_repeats": repeats}
    return Crafted([tracks[p] for p in ordered], [distances[p] for p in ordered], why, summary)
