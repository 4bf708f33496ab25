"""What the web process serves of the music map: sampled, coloured, compact, gzipped once per version.

`/api/map` answers a 300k-track map in a few hundred milliseconds only
because the answer is built once: `MapPayloads` keeps, for the current
(map version, clustering run), the gzipped JSON of each sample size asked
for, and forgets them all when either changes.

Sampling is deterministic and nested: every track gets a fixed rank in [0, 1)
from a hash of its id, and the p% sample is the tracks ranked below p/100.
The same map therefore always gives the same sample, the 25% sample is inside
the 50% one, and a track keeps its place in the samples when the map grows.

Each point's colour keys are small integers into the answer's `legends`
(-1: no value): its top tag in each tag vocabulary, its strongest mood, its
band of energy and of tempo, and the automatic playlist of the last
clustering run that holds it.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import math
import threading
from typing import Any, Callable, Hashable

import numpy as np

from analysis.labels import MSD_LABELS, MTT_LABELS
from db import map_tracks
from db.models import MOOD_COLUMNS
from similarity.projection import Projection

SAMPLES = (25, 50, 75, 100)          # percent of the mapped tracks an answer holds
DEFAULT_SAMPLE = 25                  # what loads first: a quarter of 300k points draws in a second or two
GZIP_LEVEL = 4                       # 100k points: 0.34 s, 2.12 MB; level 6: 0.6-0.8 s for 7% less
COORDINATE_DIGITS = 4                # significant digits of x and y across the map's spread
ENERGY_BANDS = (0.2, 0.4, 0.6, 0.8)  # energy is 0..1: five equal bands
TEMPO_BANDS = (80, 100, 120, 140, 160)   # beats per minute: slow ballads to fast dance music
COLOUR_KEYS = ("msd_tag", "mtt_tag", "mood", "energy", "tempo", "playlist")


def sample_rank(track_ids: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random rank in [0, 1) per track id (splitmix64), the same on every machine."""
    z = track_ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _band_labels(edges: tuple[float, ...], unit: str, digits: int) -> list[str]:
    bounds = [f"{edge:.{digits}f}" for edge in edges]
    return ([f"below {bounds[0]}{unit}"] + [f"{low}–{high}{unit}" for low, high in zip(bounds, bounds[1:])]
            + [f"{bounds[-1]}{unit} and above"])


def _bands(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    keys = np.searchsorted(np.asarray(edges, np.float32), values, side="right").astype(np.int16)
    keys[np.isnan(values)] = -1
    return keys


def _strongest(scores: np.ndarray) -> np.ndarray:
    """Index of each row's largest score; -1 for a row without any."""
    empty = np.isnan(scores).all(axis=1)
    keys = np.argmax(np.nan_to_num(scores, nan=-1.0), axis=1).astype(np.int16)
    keys[empty] = -1
    return keys


def _by_frequency(keys: np.ndarray, labels: tuple[str, ...] | list[str]) -> tuple[np.ndarray, list[str]]:
    """Keys renumbered so the legend lists only the labels in use, the most common first."""
    used = keys[keys >= 0]
    counts = np.bincount(used, minlength=len(labels))
    order = [int(k) for k in np.argsort(-counts, kind="stable") if counts[k] > 0]
    renumber = np.full(len(labels) + 1, -1, np.int16)   # the extra slot maps -1 to -1
    renumber[order] = np.arange(len(order), dtype=np.int16)
    return renumber[keys], [labels[k] for k in order]


@dataclasses.dataclass
class MapTable:
    """Every mapped track that still exists, with what a point shows; rows ordered by track id."""

    tracks: map_tracks.MapTracks
    xy: np.ndarray                      # float32 (n, 2)
    rank: np.ndarray                    # sample_rank of each row
    keys: dict[str, np.ndarray]         # colour key -> int16 per row
    legends: dict[str, list[str]]
    artists: list[str]                  # distinct artist names; points refer to them by position
    artist_keys: np.ndarray             # int32 per row
    meta: dict[str, Any]

    @classmethod
    def build(cls, projection: Projection, playlists: list[tuple[str, list[int]]]) -> "MapTable":
        """`playlists`: the last clustering run's automatic playlists as (name, track ids)."""
        tracks = map_tracks.read(projection.ids)
        rows = np.searchsorted(projection.ids, tracks.ids)   # both ascending; every read id is mapped
        keys, legends = {}, {}
        keys["msd_tag"], legends["msd_tag"] = _by_frequency(tracks.msd_top, MSD_LABELS)
        keys["mtt_tag"], legends["mtt_tag"] = _by_frequency(tracks.mtt_top, MTT_LABELS)
        keys["mood"], legends["mood"] = _by_frequency(_strongest(tracks.moods), MOOD_COLUMNS)
        keys["energy"], legends["energy"] = _bands(tracks.energy, ENERGY_BANDS), _band_labels(ENERGY_BANDS, "", 1)
        keys["tempo"], legends["tempo"] = _bands(tracks.tempo, TEMPO_BANDS), _band_labels(TEMPO_BANDS, " bpm", 0)
        in_playlist = np.full(len(tracks), -1, np.int16)
        for number, (_, members) in enumerate(playlists):
            member_rows = np.searchsorted(tracks.ids, members)
            found = member_rows < len(tracks)
            member_rows = member_rows[found][tracks.ids[member_rows[found]] == np.asarray(members)[found]]
            unclaimed = member_rows[in_playlist[member_rows] < 0]   # a track in two playlists shows the first
            in_playlist[unclaimed] = number
        keys["playlist"], legends["playlist"] = in_playlist, [name for name, _ in playlists]
        artists, artist_keys = np.unique(np.asarray(tracks.artists, dtype=object), return_inverse=True)
        return cls(tracks, projection.xy[rows], sample_rank(tracks.ids), keys, legends, list(artists),
                   artist_keys.astype(np.int32), dict(projection.meta, version=projection.version))

    def payload(self, sample: int) -> dict[str, Any]:
        """The JSON answer for a p% sample (columnar: one list per field, row i is one point)."""
        rows = np.flatnonzero(self.rank < sample / 100.0)
        xy = self.xy[rows].astype(np.float64)
        spread = float(np.ptp(self.xy, axis=0).max()) if len(self.xy) else 1.0
        digits = max(0, COORDINATE_DIGITS - math.floor(math.log10(spread))) if spread > 0 else COORDINATE_DIGITS
        used_artists = np.unique(self.artist_keys[rows])   # only the artists of this sample travel
        artist_of = np.searchsorted(used_artists, self.artist_keys[rows])
        return {
            "version": self.meta["version"], "method": self.meta.get("method"),
            "neighbours_kept": self.meta.get("neighbours_kept"), "sample": sample,
            "total": len(self.tracks), "count": int(rows.size), "legends": self.legends,
            "artists": [self.artists[k] for k in used_artists],
            "points": {
                "id": self.tracks.ids[rows].tolist(),
                "x": np.round(xy[:, 0], digits).tolist(), "y": np.round(xy[:, 1], digits).tolist(),
                "title": [self.tracks.titles[r] for r in rows], "artist": artist_of.tolist(),
                **{key: self.keys[key][rows].tolist() for key in COLOUR_KEYS},
            },
        }


class MapPayloads:
    """The gzipped answers of the current map state, built on first demand; one state at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state: Hashable = None
        self._table: MapTable | None = None
        self._gzipped: dict[int, bytes] = {}

    def get(self, state: Hashable, sample: int, build_table: Callable[[], MapTable]) -> bytes:
        """The gzipped JSON for `sample` of `state`; a new state drops everything held for the old one."""
        with self._lock:   # concurrent cold requests build once; the others wait for it
            if state != self._state:
                self._state, self._table, self._gzipped = state, None, {}
            if sample not in self._gzipped:
                if self._table is None:
                    self._table = build_table()
                body = json.dumps(self._table.payload(sample), separators=(",", ":"), ensure_ascii=False)
                self._gzipped[sample] = gzip.compress(body.encode(), compresslevel=GZIP_LEVEL, mtime=0)
            return self._gzipped[sample]

    @property
    def held(self) -> tuple[Hashable, tuple[int, ...]]:
        """The state and the samples held (what the tests and the benchmark look at)."""
        return self._state, tuple(sorted(self._gzipped))


def positions(projection: Projection | None, track_ids: list[int]) -> list[tuple[float, float] | None]:
    """Each track's map position, None for one not on the map (or without a map)."""
    if projection is None or not projection.size:
        return [None] * len(track_ids)
    wanted = np.asarray(track_ids, np.int64)
    rows = np.minimum(np.searchsorted(projection.ids, wanted), projection.size - 1)
    found = projection.ids[rows] == wanted
    return [(float(projection.xy[r, 0]), float(projection.xy[r, 1])) if hit else None
            for r, hit in zip(rows, found)]


def alchemy_plot_on_map(plot: dict, track_ids: dict[str, int], projection: Projection | None) -> dict:
    """Song alchemy's plot (similarity.alchemy) moved onto the music map, when every song in it is mapped.

    `track_ids` maps the plot's item ids to track ids.  Each side's centre is
    the mean map position of its songs (a centroid of sound has no place of
    its own on the map).  "space" says which picture the plot is: "map", or
    "pca" (alchemy's own projection of just these songs) when some song is
    not on the map yet or there is no map.
    """
    where = positions(projection, [track_ids[point["item_id"]] for point in plot["points"]])
    if not plot["points"] or any(at is None for at in where):
        return {**plot, "space": "pca"}
    points = [{**point, "x": round(at[0], 4), "y": round(at[1], 4)} for point, at in zip(plot["points"], where)]

    def centre(role: str) -> dict | None:
        side = [(p["x"], p["y"]) for p in points if p["role"] == role]
        return {"x": round(float(np.mean([x for x, _ in side])), 4),
                "y": round(float(np.mean([y for _, y in side])), 4)} if side else None
    return {"points": points, "centroids": {"add": centre("add"), "subtract": centre("subtract")}, "space": "map"}
