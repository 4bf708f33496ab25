"""Writing tracks and their analysis results.

A track's analysis (its row, its two tag vectors, its embedding) is written
in one transaction: a worker killed half-way leaves either all of it or none.
The embedding replaces only the row of its own vector model.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from db.models import MOOD_COLUMNS, Embedding, Track, TrackTags
from db.session import session_scope

_METADATA = ("title", "artist", "album", "album_artist", "year", "duration_s", "file_format")


def _metadata(listed) -> dict:
    """Columns from a provider's Track (mediaserver.base.Track)."""
    return {"title": listed.title, "artist": listed.artist, "album": listed.album,
            "album_artist": listed.album_artist or listed.artist,
            "year": listed.year if listed.year and 0 < listed.year < 32768 else None,
            "duration_s": listed.duration, "file_format": (listed.format or "")[:16] or None}


def mark_listed(provider: str, listed_tracks: Iterable) -> dict[str, str | None]:
    """Record that the provider lists these tracks now (metadata refreshed, seen_at = now).

    Returns {item_id: analysis_version or None} for them.
    """
    # seen_at is the database's clock, like the run start it is compared with.
    rows = [{"provider": provider, "item_id": t.id, **_metadata(t), "seen_at": func.now()} for t in listed_tracks]
    if not rows:
        return {}
    with session_scope() as session:
        statement = insert(Track).values(rows)
        session.execute(statement.on_conflict_do_update(
            index_elements=["provider", "item_id"],
            set_={name: statement.excluded[name] for name in _METADATA + ("seen_at",)}))
        found = session.execute(select(Track.item_id, Track.analysis_version).where(
            Track.provider == provider, Track.item_id.in_([r["item_id"] for r in rows]))).all()
        return {row.item_id: row.analysis_version for row in found}


def save_analysis(provider: str, item_id: str, result, vector_model: str) -> int:
    """Store one track's analysis (analysis.features.TrackAnalysis) atomically; returns the track id."""
    with session_scope() as session:
        track = session.scalars(select(Track).where(Track.provider == provider, Track.item_id == item_id)
                                .with_for_update()).one()
        track.tempo_bpm = result.tempo_bpm
        track.energy = result.energy
        track.start_energy, track.end_energy = result.start_energy, result.end_energy
        track.loudness_lufs = result.loudness_lufs
        track.musical_key = result.key
        track.scale = result.scale
        if not track.duration_s:
            track.duration_s = result.duration
        for mood in MOOD_COLUMNS:
            setattr(track, mood, result.moods[mood])
        track.analysis_version = result.analysis_version
        track.analyzed_at = dt.datetime.now(dt.timezone.utc)
        session.execute(delete(TrackTags).where(TrackTags.track_id == track.id))
        # Only this model's row: another model's vector keeps serving until the
        # similarity index switches models (similarity.index deletes it then).
        session.execute(delete(Embedding).where(Embedding.track_id == track.id, Embedding.model == vector_model))
        session.add_all([TrackTags(track_id=track.id, vocabulary="msd", scores=result.msd_tags.tolist()),
                         TrackTags(track_id=track.id, vocabulary="mtt", scores=result.mtt_tags.tolist())])
        session.add(Embedding(track_id=track.id, model=vector_model, dim=int(result.vector.size),
                              vector=result.vector.astype("<f4").tobytes(),
                              start_vector=result.start_vector.astype("<f4").tobytes(),
                              end_vector=result.end_vector.astype("<f4").tobytes()))
        return track.id


def database_now() -> dt.datetime:
    with session_scope() as session:
        return session.scalar(select(func.now()))


def delete_unseen(provider: str, before: dt.datetime) -> int:
    """Remove the provider's tracks not listed since `before` (gone from the server); returns how many."""
    with session_scope() as session:
        result = session.execute(delete(Track).where(
            Track.provider == provider, (Track.seen_at < before) | Track.seen_at.is_(None)))
        return result.rowcount
