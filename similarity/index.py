"""The Voyager similarity index over track embeddings, and how it is kept current.

Vectors are standardized with the library's per-dimension mean and spread
(analysis.standardize) and indexed in cosine space, so a query is a
"standardized cosine" search, the distance the quality benchmark chose.  The
standardization used at build time is stored with the index (blob metadata)
and reused for every vector added later, so the index stays consistent until
the next rebuild refits it.

Updates are incremental: `update()` adds tracks analysed since the stored
version and marks removed ones deleted.  A full rebuild happens only on
request or when deleted entries exceed REBUILD_DELETED_SHARE of the index.
A PostgreSQL advisory lock serialises writers; readers load the newest blob.
"""
from __future__ import annotations

import dataclasses
import io
import logging
from typing import Any

import numpy as np
import voyager
from sqlalchemy import select, text

from analysis.vectors import VECTOR_MODEL
from analysis.standardize import Standardization
from db import blobs
from db.models import Embedding
from db.session import engine, session_scope

log = logging.getLogger(__name__)

INDEX_NAME = "tracks"
M = 16                       # graph degree
EF_CONSTRUCTION = 200
EF_SEARCH = 100              # query-time candidate list (see docs/PERFORMANCE.md for recall)
REBUILD_DELETED_SHARE = 0.1  # rebuild when more than this share of entries is deleted
_LOCK_KEY = 0x49_4E_44_58    # arbitrary, constant: "the index writer lock"
_BATCH = 5000


@dataclasses.dataclass
class TrackIndex:
    index: voyager.Index
    standardization: Standardization
    version: int
    deleted: int
    #: catalog.Names of the indexed tracks, when the holder loaded them (the web process does)
    names: Any = None
    #: tracks the playlist rules keep out of every answer of `nearest` (similarity.exclusions)
    excluded: frozenset[int] = frozenset()

    @property
    def size(self) -> int:
        return len(self.index) - self.deleted

    def prepare(self, vectors: np.ndarray) -> np.ndarray:
        return self.standardization.apply(vectors)

    def query(self, vector: np.ndarray, k: int = 10, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """Nearest tracks to a raw track vector: [(track id, cosine distance)], closest first."""
        return self.nearest(self.prepare(vector[None, :])[0], k, exclude)

    def nearest(self, point: np.ndarray, k: int = 10, exclude: set[int] | None = None) -> list[tuple[int, float]]:
        """Nearest tracks to a point of the index space (a standardized vector, any length).

        Returns [(track id, cosine distance in 0..2)], closest first, without `exclude` nor the
        tracks in `excluded`.  The search widens (doubling) until it has k or has read everything,
        so a large `excluded` costs only where it bites.
        """
        exclude = exclude or set()
        wanted = min(k + len(exclude), self.size)
        while wanted > 0:
            ids, distances = self.index.query(point, k=wanted, query_ef=max(EF_SEARCH, wanted))
            found = [(int(i), float(d)) for i, d in zip(ids, distances)
                     if int(i) not in exclude and int(i) not in self.excluded]
            if len(found) >= k or wanted >= self.size:
                return found[:k]
            wanted = min(2 * wanted, self.size)
        return []

    def nearest_many(self, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest tracks to each row of `points` (index space), in one batched query.

        Returns (track ids int64 (m, k'), cosine distances float32 (m, k')), closest first, where
        k' = min(k, size); a point that is itself indexed finds itself first.
        """
        k = min(k, self.size)
        if k <= 0 or not len(points):
            return np.zeros((len(points), 0), np.int64), np.zeros((len(points), 0), np.float32)
        ids, distances = self.index.query(np.asarray(points, np.float32), k=k, query_ef=max(EF_SEARCH, k))
        return np.asarray(ids, np.int64), np.asarray(distances, np.float32)

    def live_ids(self) -> np.ndarray:
        """The ids of the tracks in the index (not those marked deleted), int64, ascending."""
        gone = _deleted_ids(self)
        return np.array(sorted(int(i) for i in self.index.ids if int(i) not in gone), np.int64)

    def __contains__(self, track_id: int) -> bool:
        try:
            self.index.get_vector(track_id)
        except RuntimeError:  # never added, or marked deleted
            return False
        return True

    def unit_vectors(self, track_ids: list[int]) -> np.ndarray:
        """The indexed tracks' points: standardized, unit length (Voyager normalises in cosine space).

        Raises KeyError naming the first track id that is not in the index.
        """
        if not track_ids:
            return np.zeros((0, self.index.num_dimensions), np.float32)
        try:
            return np.asarray(self.index.get_vectors(track_ids), np.float32)
        except RuntimeError:
            missing = next(t for t in track_ids if t not in self)
            raise KeyError(missing) from None


def current_standardization() -> Standardization | None:
    """The newest index's standardization, read from its header alone (no index load); None without one."""
    info = blobs.latest_blob_info(INDEX_NAME)
    if info is None or info["meta"].get("model") != VECTOR_MODEL:
        return None
    return _standardization(info["meta"])


def _standardization(meta: dict) -> Standardization:
    return Standardization(np.asarray(meta["mean"], np.float32), np.asarray(meta["scale"], np.float32))


def _embeddings(track_ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float32 vectors) of the shipped vector model, optionally for some tracks only."""
    query = select(Embedding.track_id, Embedding.vector).where(Embedding.model == VECTOR_MODEL)
    if track_ids is not None:
        query = query.where(Embedding.track_id.in_(track_ids))
    with session_scope() as session:
        rows = session.execute(query.order_by(Embedding.track_id)).all()
    if not rows:
        return np.zeros(0, np.uint64), np.zeros((0, 0), np.float32)
    ids = np.fromiter((row.track_id for row in rows), dtype=np.uint64, count=len(rows))
    vectors = np.stack([np.frombuffer(row.vector, dtype="<f4") for row in rows])
    return ids, vectors


def _save(track_index: TrackIndex, note: str) -> int:
    meta = {"model": VECTOR_MODEL, "mean": track_index.standardization.mean.tolist(),
            "scale": track_index.standardization.scale.tolist(), "deleted": track_index.deleted,
            "entries": len(track_index.index), "M": M, "ef_construction": EF_CONSTRUCTION, "note": note}
    version = blobs.store_blob(INDEX_NAME, io.BytesIO(track_index.index.as_bytes()), meta=meta)
    log.info("index v%s saved: %s (%s entries, %s deleted)", version, note, len(track_index.index),
             track_index.deleted)
    return version


def load() -> TrackIndex | None:
    """The newest stored index, or None when there is none (or it was built for another model)."""
    found = blobs.load_blob(INDEX_NAME)
    if found is None:
        return None
    info, data = found
    meta = info["meta"]
    if meta.get("model") != VECTOR_MODEL:
        return None
    index = voyager.Index.load(io.BytesIO(data))
    del data
    return TrackIndex(index, _standardization(meta), info["version"], int(meta.get("deleted", 0)))


def build() -> int | None:
    """A new index from every embedding, with a freshly fitted standardization."""
    ids, vectors = _embeddings()
    if not len(ids):
        return None
    standardization = Standardization.fit(vectors)
    index = voyager.Index(voyager.Space.Cosine, num_dimensions=vectors.shape[1], M=M,
                          ef_construction=EF_CONSTRUCTION)
    for start in range(0, len(ids), _BATCH):
        index.add_items(standardization.apply(vectors[start:start + _BATCH]), ids[start:start + _BATCH])
    return _save(TrackIndex(index, standardization, 0, 0), f"built from {len(ids)} tracks")


def update(rebuild: bool = False) -> int | None:
    """Bring the index in step with the embeddings; returns the new version (None if nothing changed).

    Serialised by an advisory lock: two updates never race on the same base version.
    """
    with engine().connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        try:
            current = None if rebuild else load()
            if current is None:
                return build()
            with session_scope() as session:
                present = set(session.scalars(select(Embedding.track_id).where(Embedding.model == VECTOR_MODEL)))
            indexed = {int(i) for i in current.index.ids}
            live = indexed - _deleted_ids(current)
            added = sorted(present - indexed)
            removed = sorted(live - present)
            revived = sorted((present & indexed) - live)
            if not (added or removed or revived):
                return None
            for track_id in removed:
                current.index.mark_deleted(track_id)
            for track_id in revived:
                current.index.unmark_deleted(track_id)
            current.deleted += len(removed) - len(revived)
            if current.deleted > REBUILD_DELETED_SHARE * max(len(current.index), 1):
                return build()
            if added:
                ids, vectors = _embeddings(added)
                current.index.add_items(current.prepare(vectors), ids)
            return _save(current, f"+{len(added)} -{len(removed)}")
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            lock.commit()


def _deleted_ids(track_index: TrackIndex) -> set[int]:
    """Entries marked deleted (Voyager keeps them in `ids`; they cannot be fetched)."""
    if not track_index.deleted:
        return set()
    gone = set()
    for track_id in track_index.index.ids:
        try:
            track_index.index.get_vector(track_id)
        except RuntimeError:
            gone.add(int(track_id))
    return gone
