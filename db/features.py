"""Every analysed track's features in bulk, as arrays: what clustering, the map and the chat read.

One query streams the rows (a server-side cursor, so 300k tracks never sit in
memory twice); tag arrays arrive as PostgreSQL's text form and are parsed by
numpy in C rather than turned into 30 million Python floats.  The result is a
`TrackFeatures` whose arrays are aligned by row; `to_bytes` / `from_bytes`
write and read it as an uncompressed .npz, the versioned snapshot a
clustering run's batch jobs load once (db.blobs keeps it).
"""
from __future__ import annotations

import dataclasses
import io

import numpy as np
from sqlalchemy import text

from analysis.labels import MSD_LABELS, MTT_LABELS
from db.models import MOOD_COLUMNS
from db.session import engine

SNAPSHOT_FORMAT = 1      # bump when TrackFeatures' fields change: old snapshots are then refused
_FETCH_ROWS = 5000

_QUERY = text(
    "SELECT t.id, coalesce(t.artist, '') AS artist, coalesce(t.title, '') AS title, t.tempo_bpm, t.energy, "
    + ", ".join(f"t.{mood}" for mood in MOOD_COLUMNS) + ", e.vector, "
    "CAST(msd.scores AS text) AS msd, CAST(mtt.scores AS text) AS mtt "
    "FROM track t JOIN embedding e ON e.track_id = t.id AND e.model = :model "
    "LEFT JOIN track_tags msd ON msd.track_id = t.id AND msd.vocabulary = 'msd' "
    "LEFT JOIN track_tags mtt ON mtt.track_id = t.id AND mtt.vocabulary = 'mtt' "
    "WHERE t.analyzed_at IS NOT NULL ORDER BY t.id")


@dataclasses.dataclass
class TrackFeatures:
    """Row i of every array is one track; missing numbers are NaN."""

    ids: np.ndarray        # int64 track ids, ascending
    vectors: np.ndarray    # float32 (n, dim): the raw track vectors (of the served model)
    msd: np.ndarray        # float32 (n, len(MSD_LABELS)): tag probabilities, 0..1
    mtt: np.ndarray        # float32 (n, len(MTT_LABELS))
    moods: np.ndarray      # float32 (n, len(MOOD_COLUMNS)), 0..1
    tempo: np.ndarray      # float32 (n,), beats per minute
    energy: np.ndarray     # float32 (n,), 0..1
    artists: np.ndarray    # str (n,), "" when unknown
    titles: np.ndarray     # str (n,)

    def __len__(self) -> int:
        return int(self.ids.size)

    def subset(self, rows: np.ndarray) -> "TrackFeatures":
        return TrackFeatures(**{field.name: getattr(self, field.name)[rows] for field in dataclasses.fields(self)})

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, format=np.array(SNAPSHOT_FORMAT),
                 **{field.name: getattr(self, field.name) for field in dataclasses.fields(self)})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray) -> "TrackFeatures":
        """Raises ValueError for a snapshot of another format.

        Reads through a view of `data`: io.BytesIO would first copy it whole
        (203 MiB more peak memory for a 100k-track snapshot).
        """
        with np.load(io.BufferedReader(_ReadOnlyView(data)), allow_pickle=False) as stored:
            if int(stored["format"]) != SNAPSHOT_FORMAT:
                raise ValueError(f"track feature snapshot of format {int(stored['format'])}, "
                                 f"expected {SNAPSHOT_FORMAT}")
            return cls(**{field.name: stored[field.name] for field in dataclasses.fields(cls)})


class _ReadOnlyView(io.RawIOBase):
    """A seekable file over a bytes-like object, reading without copying it first."""

    def __init__(self, data: bytes | bytearray):
        self._view = memoryview(data)
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), len(self._view) - self._at))
        buffer[:count] = self._view[self._at:self._at + count]
        self._at += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: len(self._view)}[whence]
        self._at = max(0, start + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def close(self) -> None:
        self._view.release()
        super().close()


def _scores(text_array: str | None, width: int) -> np.ndarray:
    """'{0.1,0.2,...}' as float32; NaN when absent or of another width."""
    if text_array:
        values = np.array(text_array[1:-1].split(","), dtype=np.float32)
        if values.size == width:
            return values
    return np.full(width, np.nan, np.float32)


def read_all(model: str) -> TrackFeatures:
    """Every analysed track with a vector of `model` (similarity.index.served_model()), ordered by id."""
    ids, artists, titles, numbers, vectors, msd, mtt = [], [], [], [], [], [], []
    with engine().connect().execution_options(stream_results=True, max_row_buffer=_FETCH_ROWS) as connection:
        for row in connection.execute(_QUERY, {"model": model}):
            ids.append(row.id)
            artists.append(row.artist)
            titles.append(row.title)
            numbers.append([row.tempo_bpm, row.energy, *(row._mapping[mood] for mood in MOOD_COLUMNS)])
            vectors.append(np.frombuffer(row.vector, dtype="<f4"))
            msd.append(_scores(row.msd, len(MSD_LABELS)))
            mtt.append(_scores(row.mtt, len(MTT_LABELS)))
    table = np.array(numbers, dtype=np.float32).reshape(len(ids), 2 + len(MOOD_COLUMNS))
    dim = vectors[0].size if vectors else 0
    return TrackFeatures(
        ids=np.array(ids, dtype=np.int64),
        vectors=np.stack(vectors).astype(np.float32, copy=False) if vectors else np.zeros((0, dim), np.float32),
        msd=np.stack(msd) if msd else np.zeros((0, len(MSD_LABELS)), np.float32),
        mtt=np.stack(mtt) if mtt else np.zeros((0, len(MTT_LABELS)), np.float32),
        moods=table[:, 2:], tempo=table[:, 0], energy=table[:, 1],
        artists=np.array(artists, dtype=str), titles=np.array(titles, dtype=str))
