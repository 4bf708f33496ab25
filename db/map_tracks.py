"""What the music map shows of each mapped track, read in one streamed query.

The map page colours 300k points by top tag, mood, energy, tempo and
automatic playlist, and names each on hover; this reads those facts for the
projection's track ids.  Each vocabulary's top tag is picked in PostgreSQL
(the index of the largest score), so 100 tag floats per track never cross
the wire or become Python objects; the ids arrive as one array joined with
`unnest` (`= ANY` over a 300k-element array would scan it for every row).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY

from analysis.labels import MSD_LABELS, MTT_LABELS
from db.models import MOOD_COLUMNS
from db.session import engine

_FETCH_ROWS = 5000


def _top_tag(vocabulary: str, width: int) -> str:
    """SQL for the 0-based index of a vocabulary's highest score; NULL without scores of the expected width."""
    return (f"CASE WHEN cardinality({vocabulary}.scores) = {width} THEN "
            f"(SELECT s.i - 1 FROM unnest({vocabulary}.scores) WITH ORDINALITY AS s(v, i) "
            f"ORDER BY s.v DESC NULLS LAST LIMIT 1) END AS {vocabulary}_top")


_QUERY = text(
    "SELECT t.id, coalesce(t.title, '') AS title, coalesce(t.artist, '') AS artist, t.tempo_bpm, t.energy, "
    + ", ".join(f"t.{mood}" for mood in MOOD_COLUMNS) + ", "
    + _top_tag("msd", len(MSD_LABELS)) + ", " + _top_tag("mtt", len(MTT_LABELS)) + " "
    "FROM unnest(:ids) AS mapped(id) JOIN track t ON t.id = mapped.id "
    "LEFT JOIN track_tags msd ON msd.track_id = t.id AND msd.vocabulary = 'msd' "
    "LEFT JOIN track_tags mtt ON mtt.track_id = t.id AND mtt.vocabulary = 'mtt' "
    "ORDER BY t.id").bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


@dataclasses.dataclass
class MapTracks:
    """Row i of every array is one track still in the library; missing numbers are NaN, missing tags -1."""

    ids: np.ndarray        # int64, ascending
    titles: list[str]      # "" when unknown
    artists: list[str]
    tempo: np.ndarray      # float32 beats per minute
    energy: np.ndarray     # float32 0..1
    moods: np.ndarray      # float32 (n, len(MOOD_COLUMNS)), 0..1
    msd_top: np.ndarray    # int16 index into MSD_LABELS
    mtt_top: np.ndarray    # int16 index into MTT_LABELS

    def __len__(self) -> int:
        return int(self.ids.size)


def read(track_ids: np.ndarray) -> MapTracks:
    """The tracks of `track_ids` that still exist, ordered by id (deleted ones are left out)."""
    ids, titles, artists, numbers, tops = [], [], [], [], []
    with engine().connect().execution_options(stream_results=True, max_row_buffer=_FETCH_ROWS) as connection:
        for row in connection.execute(_QUERY, {"ids": [int(i) for i in track_ids]}):
            ids.append(row.id)
            titles.append(row.title)
            artists.append(row.artist)
            numbers.append([row.tempo_bpm, row.energy, *(row._mapping[mood] for mood in MOOD_COLUMNS)])
            tops.append([-1 if row.msd_top is None else row.msd_top, -1 if row.mtt_top is None else row.mtt_top])
    table = np.array(numbers, dtype=np.float32).reshape(len(ids), 2 + len(MOOD_COLUMNS))
    top = np.array(tops, dtype=np.int16).reshape(len(ids), 2)
    return MapTracks(ids=np.array(ids, dtype=np.int64), titles=titles, artists=artists, tempo=table[:, 0],
                     energy=table[:, 1], moods=table[:, 2:], msd_top=top[:, 0], mtt_top=top[:, 1])
