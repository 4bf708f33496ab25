"""The Voyager similarity index over track embeddings, and how it is kept current.

Vectors are standardized with the library's per-dimension mean and spread
(analysis.standardize) and indexed in cosine space, so a query is a
"standardized cosine" search, the distance the quality benchmark chose.  The
standardization used at build time is stored with the index (blob metadata)
and reused for every vector added later, so the index stays consistent until
the next rebuild refits it.

Updates are incremental: `update()` adds tracks analysed since the stored
version and marks removed ones deleted.  A full rebuild happens on request,
when deleted entries exceed REBUILD_DELETED_SHARE of the index, or when
vectors were replaced (see below).  A PostgreSQL advisory lock serialises
writers; readers load the newest blob.

A changed analysis must not leave users without similarity, so old vectors
serve until the re-analysis has replaced them:

- Same vector model, new values (a new analysis version): Voyager cannot take
  a new vector under an indexed id, so an update only counts the indexed
  tracks whose stored vector changed (`Intake`, kept in the blob's meta) and
  keeps serving their old points.  They are taken in by one rebuild when the
  analysis run ends, or earlier when they pass REBUILD_REPLACED_SHARE of the
  index: never a rebuild per periodic update (one costs 83 s at 300k tracks).
- A new vector model (analysis.vectors.VECTOR_MODEL renamed): the index keeps
  serving the model it was built for (`served_model()`, what every reader of
  vectors asks), the new model's vectors are written beside the old ones, and
  the index switches, with one rebuild, when every track with an old vector
  has a new one, or when an analysis run over the whole library ends (tracks
  that failed in it then leave similarity until analysed).  Tracks analysed
  for the first time meanwhile have only the new vector: they join at the
  switch.  The old vectors are deleted right after it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
from typing import Any

import numpy as np
import voyager
from sqlalchemy import text

from analysis.vectors import VECTOR_MODEL
from analysis.standardize import Standardization
from db import blobs, embeddings
from db import tracks as track_store
from db.session import engine

log = logging.getLogger(__name__)

INDEX_NAME = "tracks"
M = 16                       # graph degree
EF_CONSTRUCTION = 200
EF_SEARCH = 100              # query-time candidate list (see docs/PERFORMANCE.md for recall)
REBUILD_DELETED_SHARE = 0.1  # rebuild when more than this share of entries is deleted
REBUILD_REPLACED_SHARE = 0.2  # rebuild when more than this share of tracks serves a replaced vector
# Vectors written up to this long before an update are known to it: longer than any
# save_analysis transaction, whose rows carry its start time but appear at its commit.
_WRITE_MARGIN = dt.timedelta(seconds=60)
_SAME_POINT = 1e-5           # an indexed point this close to the stored vector's is that vector
_LOCK_KEY = 0x49_4E_44_58    # arbitrary, constant: "the index writer lock"
_BATCH = 5000


@dataclasses.dataclass
class Intake:
    """How far the index has taken in the stored vectors of its model (kept in the blob's meta).

    seen_until : vectors written up to then were compared with the index (None: none yet)
    replaced : indexed tracks whose stored vector is newer than their point (served until the next build)
    recent : those of them written after seen_until: compared again next time, so not counted twice
    """

    seen_until: dt.datetime | None = None
    replaced: int = 0
    recent: frozenset[int] = frozenset()

    def to_meta(self) -> dict[str, Any]:
        return {"seen_until": self.seen_until.isoformat() if self.seen_until else None,
                "replaced": self.replaced, "replaced_recent": sorted(self.recent)}

    @classmethod
    def from_meta(cls, meta: dict) -> "Intake":
        seen = meta.get("seen_until")
        return cls(dt.datetime.fromisoformat(seen) if seen else None, int(meta.get("replaced", 0)),
                   frozenset(meta.get("replaced_recent", ())))


@dataclasses.dataclass
class TrackIndex:
    index: voyager.Index
    standardization: Standardization
    version: int
    deleted: int
    #: the vector model it was built from: what similarity serves (`served_model`)
    model: str = VECTOR_MODEL
    intake: Intake = dataclasses.field(default_factory=Intake)
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

    def nearest_many(self, points: np.ndarray, k: int, ef: int = EF_SEARCH, threads: int = -1
                     ) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest tracks to each row of `points` (index space), in one batched query.

        `ef` is the query's candidate list (recall against cost), `threads` Voyager's threads
        (-1: one per core, for bulk work; 1 in a web request, where the other threads would
        only contend with the other requests).

        Returns (track ids int64 (m, k'), cosine distances float32 (m, k')), closest first, where
        k' = min(k, size); a point that is itself indexed finds itself first.
        """
        k = min(k, self.size)
        if k <= 0 or not len(points):
            return np.zeros((len(points), 0), np.int64), np.zeros((len(points), 0), np.float32)
        ids, distances = self.index.query(np.asarray(points, np.float32), k=k, query_ef=max(ef, k),
                                          num_threads=threads)
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


def served_model() -> str:
    """The vector model similarity serves: the newest index's, or the code's own before there is one.

    The one answer for every reader of track vectors (feature queries, ordering, clustering):
    while a re-analysis writes a new model's vectors, the old model keeps serving until `update()`
    switches.  One small query, no index load.
    """
    return blobs.latest_meta_value(INDEX_NAME, "model") or VECTOR_MODEL


def pending_model(served: str) -> str | None:
    """The code's vector model when similarity still serves another one (`served`), else None."""
    return VECTOR_MODEL if served != VECTOR_MODEL else None


def tracks_awaiting_switch() -> int | None:
    """How many tracks still lack a vector of the code's model before the index switches to it;
    None when the index serves that model already."""
    served = served_model()
    return embeddings.count_lacking(served, VECTOR_MODEL) if pending_model(served) else None


def current_standardization() -> Standardization | None:
    """The newest index's standardization, read from its header alone (no index load); None without one."""
    info = blobs.latest_blob_info(INDEX_NAME)
    return None if info is None else _standardization(info["meta"])


def _standardization(meta: dict) -> Standardization:
    return Standardization(np.asarray(meta["mean"], np.float32), np.asarray(meta["scale"], np.float32))


def _save(track_index: TrackIndex, note: str) -> int:
    meta = {"model": track_index.model, "mean": track_index.standardization.mean.tolist(),
            "scale": track_index.standardization.scale.tolist(), "deleted": track_index.deleted,
            "entries": len(track_index.index), "M": M, "ef_construction": EF_CONSTRUCTION, "note": note,
            **track_index.intake.to_meta()}
    version = blobs.store_blob(INDEX_NAME, io.BytesIO(track_index.index.as_bytes()), meta=meta)
    log.info("index v%s saved: %s (%s entries, %s deleted, %s replaced vectors pending)", version, note,
             len(track_index.index), track_index.deleted, track_index.intake.replaced)
    return version


def load() -> TrackIndex | None:
    """The newest stored index (of the model it was built from), or None when there is none."""
    found = blobs.load_blob(INDEX_NAME)
    if found is None:
        return None
    info, data = found
    meta = info["meta"]
    index = voyager.Index.load(io.BytesIO(data))
    del data
    return TrackIndex(index, _standardization(meta), info["version"], int(meta.get("deleted", 0)),
                      meta.get("model", VECTOR_MODEL), Intake.from_meta(meta))


def _horizon() -> dt.datetime:
    """The write time up to which every vector is visible now (see _WRITE_MARGIN)."""
    return track_store.database_now() - _WRITE_MARGIN


def build(model: str) -> int | None:
    """A new index from every vector of `model`, with a freshly fitted standardization.

    Built for the code's model, it is the switch: other models' vectors are deleted once it is stored.
    """
    horizon = _horizon()   # before reading: what is written later is compared by the next update
    ids, vectors = embeddings.read(model)
    if not len(ids):
        return None
    standardization = Standardization.fit(vectors)
    index = voyager.Index(voyager.Space.Cosine, num_dimensions=vectors.shape[1], M=M,
                          ef_construction=EF_CONSTRUCTION)
    for start in range(0, len(ids), _BATCH):
        index.add_items(standardization.apply(vectors[start:start + _BATCH]), ids[start:start + _BATCH])
    del vectors
    version = _save(TrackIndex(index, standardization, 0, 0, model, Intake(horizon)),
                    f"built from {len(ids)} tracks of {model}")
    if model == VECTOR_MODEL:
        dropped = embeddings.delete_other_models(model)
        if dropped:
            log.info("%s vectors of earlier models deleted: the index serves %s", dropped, model)
    return version


def _model_to_serve(whole_library: bool) -> str:
    """The served model, or the code's once the re-analysis has replaced the served model's vectors."""
    served = served_model()
    if not pending_model(served):
        return served
    lacking = embeddings.count_lacking(served, VECTOR_MODEL)
    if lacking and not whole_library:
        return served
    log.info("similarity switches from %s to %s%s", served, VECTOR_MODEL,
             f" ({lacking} tracks without a new vector leave it until analysed)" if lacking else "")
    return VECTOR_MODEL


def update(rebuild: bool = False, run_ended: bool = False, whole_library: bool = False) -> int | None:
    """Bring the index in step with the embeddings; returns the new version (None if nothing changed).

    Parameters
    ----------
    rebuild : build afresh (standardization refitted) even if nothing changed
    run_ended : an analysis run ended: replaced vectors are taken in now (one rebuild) rather than
        when they pass REBUILD_REPLACED_SHARE
    whole_library : that run looked at every track the server lists: switch to the code's vector
        model even if some tracks (those that failed) still have only a vector of the served one

    Serialised by an advisory lock: two updates never race on the same base version.
    """
    with engine().connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
        try:
            model = _model_to_serve(whole_library)
            current = None if rebuild else load()
            if current is None or current.model != model:
                return build(model)
            return _update(current, run_ended)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
            lock.commit()


def _update(current: TrackIndex, run_ended: bool) -> int | None:
    """The incremental update of `update`: new tracks added, removed ones marked deleted, replaced
    vectors counted; a rebuild instead when deletions or replacements pass their share."""
    present = embeddings.track_ids(current.model)
    indexed = {int(i) for i in current.index.ids}
    live = indexed - _deleted_ids(current)
    added = sorted(present - indexed)
    removed = sorted(live - present)
    revived = sorted((present & indexed) - live)
    first_look = current.intake.seen_until is None   # an index of before migration 0009: compares every row
    replaced = _count_replaced(current, live)
    for track_id in removed:
        current.index.mark_deleted(track_id)
    for track_id in revived:
        current.index.unmark_deleted(track_id)
    current.deleted += len(removed) - len(revived)
    if (current.deleted > REBUILD_DELETED_SHARE * max(len(current.index), 1)
            or current.intake.replaced > REBUILD_REPLACED_SHARE * max(current.size, 1)
            or (run_ended and current.intake.replaced)):
        return build(current.model)
    if not (added or removed or revived or first_look):
        # Replaced vectors alone change no point: no new version for the web to reload (500 MiB at
        # 300k tracks).  Unsaved, the intake is counted again from the same start next time (the
        # first look is saved, so that start is not "every row" again).
        return None
    if added:
        ids, vectors = embeddings.read(current.model, added)
        current.index.add_items(current.prepare(vectors), ids)
    return _save(current, f"+{len(added)} -{len(removed)}, {replaced} more vectors replaced")


def _count_replaced(current: TrackIndex, live: set[int]) -> int:
    """Count the indexed tracks whose stored vector changed since the index took it in (into
    `current.intake`); returns how many more there are.

    Reads only the vectors written since the stored version's look, and compares each indexed one
    with the track's point: Voyager cannot take a new vector under an indexed id, so the old point
    serves until the next build.  Until then the window grows with the replaced vectors, at most
    REBUILD_REPLACED_SHARE of the index.
    """
    horizon = _horizon()
    ids, vectors, written = embeddings.written_after(current.model, current.intake.seen_until)
    rows = np.flatnonzero(np.isin(ids.astype(np.int64), np.fromiter(live, np.int64, len(live))))
    changed: dict[int, dt.datetime] = {}
    for start in range(0, len(rows), _BATCH):   # in batches: after migration 0009 every row is read once
        batch = rows[start:start + _BATCH]
        points = current.unit_vectors([int(i) for i in ids[batch]])
        moved = batch[np.abs(points - current.prepare(vectors[batch])).max(axis=1) > _SAME_POINT]
        changed.update((int(ids[row]), written[row]) for row in moved)
    more = len(changed.keys() - current.intake.recent)
    current.intake = Intake(horizon, current.intake.replaced + more,
                            frozenset(t for t, when in changed.items() if when > horizon))
    return more


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
