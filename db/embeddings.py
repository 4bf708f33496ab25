"""Track vectors (the embedding table) as the similarity index reads them: by model, in bulk.

A track has one row per vector model; two models coexist only while a
re-analysis moves the library to a new one (similarity.index serves the old
model until then).  created_at is the database's clock at the writing
transaction's start.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import aliased

from db.models import Embedding
from db.session import session_scope


def _arrays(rows) -> tuple[np.ndarray, np.ndarray]:
    if not rows:
        return np.zeros(0, np.uint64), np.zeros((0, 0), np.float32)
    ids = np.fromiter((row.track_id for row in rows), dtype=np.uint64, count=len(rows))
    return ids, np.stack([np.frombuffer(row.vector, dtype="<f4") for row in rows])


def read(model: str, track_ids: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(track ids uint64, float32 vectors) of `model`, by track id; all tracks or only `track_ids`."""
    query = select(Embedding.track_id, Embedding.vector).where(Embedding.model == model)
    if track_ids is not None:
        query = query.where(Embedding.track_id.in_(track_ids))
    with session_scope() as session:
        return _arrays(session.execute(query.order_by(Embedding.track_id)).all())


def written_after(model: str, after: dt.datetime | None) -> tuple[np.ndarray, np.ndarray, list[dt.datetime]]:
    """(track ids, vectors, created_at) of `model`'s rows written after `after` (all rows when None)."""
    query = select(Embedding.track_id, Embedding.vector, Embedding.created_at).where(Embedding.model == model)
    if after is not None:
        query = query.where(Embedding.created_at > after)
    with session_scope() as session:
        rows = session.execute(query.order_by(Embedding.track_id)).all()
    ids, vectors = _arrays(rows)
    return ids, vectors, [row.created_at for row in rows]


def track_ids(model: str) -> set[int]:
    """The tracks that have a vector of `model`."""
    with session_scope() as session:
        return set(session.scalars(select(Embedding.track_id).where(Embedding.model == model)))


def count_lacking(model: str, other: str) -> int:
    """How many tracks have a vector of `model` and none of `other`."""
    theirs = aliased(Embedding)
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Embedding).where(
            Embedding.model == model,
            ~select(theirs.track_id).where(theirs.track_id == Embedding.track_id, theirs.model == other).exists()))


def delete_other_models(model: str) -> int:
    """Remove every vector not of `model`; returns how many."""
    with session_scope() as session:
        return session.execute(delete(Embedding).where(Embedding.model != model)).rowcount
