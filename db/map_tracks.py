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
    """SQL for the 0-based index of a vocabulary's highest score; NULL without scores of the expected width.

    The position of the maximum, rather than the first row of the scores sorted: half the time on 100k tracks.
    """
    scores = f"{vocabulary}.scores"
    return (f"CASE WHEN cardinality({scores}) = {width} THEN "
            f"array_position({scores}, (SELECT max(v) FROM unnest({scores}) AS v)) - 1 END AS {vocabulary}_top")


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
    with engine().connect().execution_options(stream_results=True, max_row_buffer=_FETCH_ROWS) as connection:
        rows = connection.execute(_QUERY, {"ids": [int(i) for i in track_ids]}).all()
    columns = list(zip(*rows)) or [()] * (5 + len(MOOD_COLUMNS) + 2)   # one tuple per column: C-speed numpy
    numbers = np.array(columns[3:5 + len(MOOD_COLUMNS)], dtype=np.float32).reshape(-1, len(rows))
    tops = np.array([[-1 if k is None else k for k in column] for column in columns[-2:]], np.int16).reshape(2, -1)
    return MapTracks(ids=np.array(columns[0], dtype=np.int64), titles=list(columns[1]), artists=list(columns[2]),
                     tempo=numbers[0], energy=numbers[1], moods=numbers[2:].T.copy(), msd_top=tops[0], mtt_top=tops[1])
