"""The schema as SQLAlchemy 2.0 models.

Design choices:
- Tag probabilities live in `track_tags` as one float array per (track,
  vocabulary) rather than one row per tag: every reader (mood formulas,
  clustering features, the tag display) wants the whole vector of a track,
  and 300k tracks x 100 tags as rows would cost ~30M rows and their indexes.
  The label order is fixed by the vocabulary, which the analysis code names.
- Vectors are raw little-endian float32 bytes (`numpy.frombuffer` reads them
  without copying through Python lists); their length is checked against
  `dim`, so no dimension is hard-coded in the schema.
- Index blobs are split into chunks so neither writing nor reading needs the
  whole blob several times in memory (see db/blobs.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer,
                        LargeBinary, SmallInteger, String, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL, TIMESTAMP
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TASK_STATUSES = ("PENDING", "STARTED", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED")
LIVE_STATUSES = ("PENDING", "STARTED", "PROGRESS")
TERMINAL_STATUSES = ("SUCCESS", "FAILURE", "REVOKED")
PLAYLIST_KINDS = ("automatic", "similar", "path", "alchemy", "chat", "fingerprint", "manual", "map")
KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SCALES = ("major", "minor")
ROLES = ("admin", "listener")   # admin: settings, tasks, accounts, tokens; listener: the feature pages
MOOD_COLUMNS = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")  # analysis.moods.MOODS


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _now() -> Any:
    return mapped_column(TIMESTAMP(timezone=True), nullable=False, server_default=func.now())


class Base(DeclarativeBase):
    pass


class Track(Base):
    __tablename__ = "track"
    __table_args__ = (
        UniqueConstraint("provider", "item_id"),
        CheckConstraint(_in("musical_key", KEYS), name="track_key_valid"),
        CheckConstraint(_in("scale", SCALES), name="track_scale_valid"),
        CheckConstraint("energy BETWEEN 0 AND 1", name="track_energy_range"),
        CheckConstraint("tempo_bpm > 0", name="track_tempo_positive"),
        # Accent- and case-insensitive search; queries must use db.search.fold
        # so that they match these expressions.
        Index("track_artist_fold_trgm", text("sonarium_fold(artist) gin_trgm_ops"), postgresql_using="gin"),
        Index("track_title_fold_trgm", text("sonarium_fold(title) gin_trgm_ops"), postgresql_using="gin"),
        Index("track_album_fold", text("sonarium_fold(album)")),
        Index("track_analysis_version", "analysis_version"),
        Index("track_provider_seen", "provider", "seen_at"),
        Index("track_item_id", "item_id"),   # feature APIs look songs up by item id alone
        *(CheckConstraint(f"{mood} BETWEEN 0 AND 1", name=f"track_{mood}_range") for mood in MOOD_COLUMNS),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    artist: Mapped[str | None] = mapped_column(Text)
    album: Mapped[str | None] = mapped_column(Text)
    album_artist: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(SmallInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    file_format: Mapped[str | None] = mapped_column(String(16))
    tempo_bpm: Mapped[float | None] = mapped_column(Float)
    energy: Mapped[float | None] = mapped_column(Float)
    start_energy: Mapped[float | None] = mapped_column(REAL)   # of the first and last seconds (migration 0008)
    end_energy: Mapped[float | None] = mapped_column(REAL)
    musical_key: Mapped[str | None] = mapped_column(String(2))
    scale: Mapped[str | None] = mapped_column(String(5))
    loudness_lufs: Mapped[float | None] = mapped_column(REAL)
    danceable: Mapped[float | None] = mapped_column(REAL)
    aggressive: Mapped[float | None] = mapped_column(REAL)
    happy: Mapped[float | None] = mapped_column(REAL)
    party: Mapped[float | None] = mapped_column(REAL)
    relaxed: Mapped[float | None] = mapped_column(REAL)
    sad: Mapped[float | None] = mapped_column(REAL)
    analysis_version: Mapped[str | None] = mapped_column(Text)
    analyzed_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    seen_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))  # last listed by the provider
    created_at: Mapped[dt.datetime] = _now()


class TrackTags(Base):
    __tablename__ = "track_tags"
    __table_args__ = (CheckConstraint("cardinality(scores) > 0", name="track_tags_not_empty"),)

    track_id: Mapped[int] = mapped_column(ForeignKey("track.id", ondelete="CASCADE"), primary_key=True)
    vocabulary: Mapped[str] = mapped_column(String(16), primary_key=True)
    scores: Mapped[list[float]] = mapped_column(ARRAY(REAL))


class Embedding(Base):
    __tablename__ = "embedding"
    __table_args__ = (
        CheckConstraint("dim > 0", name="embedding_dim_positive"),
        CheckConstraint("length(vector) = 4 * dim", name="embedding_vector_dim"),
        CheckConstraint("start_vector IS NULL OR length(start_vector) = 4 * dim", name="embedding_start_dim"),
        CheckConstraint("end_vector IS NULL OR length(end_vector) = 4 * dim", name="embedding_end_dim"),
        Index("embedding_model_created", "model", "created_at"),
    )

    # One row per model: a new model's vectors are written beside the served one's
    # until the similarity index switches to it (similarity.index, migration 0009).
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    start_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    end_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = _now()   # when written: which vectors the index has not taken in


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint(_in("status", TASK_STATUSES), name="task_status_valid"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="task_progress_range"),
        CheckConstraint("attempts >= 0", name="task_attempts_positive"),
        # At most one live main task of each type, enforced by the database.
        Index("task_one_live_main_per_type", "type", unique=True,
              postgresql_where=text("parent_id IS NULL AND " + _in("status", LIVE_STATUSES))),
        Index("task_parent_status", "parent_id", "status"),
        Index("task_live", "status", postgresql_where=text(_in("status", LIVE_STATUSES))),
        Index("task_main_created", "created_at", postgresql_where=text("parent_id IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str] = mapped_column(String(32))
    job_timeout: Mapped[int] = mapped_column(Integer)  # seconds; with queue, all a re-queue needs
    args: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16), server_default="PENDING")
    progress: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    message: Mapped[str] = mapped_column(Text, server_default="")
    log: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    details: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = _now()
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    started_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))


class Playlist(Base):
    __tablename__ = "playlist"
    __table_args__ = (CheckConstraint(_in("kind", PLAYLIST_KINDS), name="playlist_kind_valid"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    task_id: Mapped[str | None] = mapped_column(ForeignKey("task.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _now()


class PlaylistItem(Base):
    __tablename__ = "playlist_item"

    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id", ondelete="CASCADE"), index=True)


class PlaylistPush(Base):
    """Where a playlist was written; the remote id lets us replace or delete
    only what Sonarium itself created."""

    __tablename__ = "playlist_push"
    __table_args__ = (UniqueConstraint("provider", "remote_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    remote_id: Mapped[str] = mapped_column(Text)
    remote_name: Mapped[str] = mapped_column(Text)
    # What was written, so a file-based provider can tell its own file from a
    # user's file of the same name before replacing it.
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    pushed_at: Mapped[dt.datetime] = _now()


class IndexBlob(Base):
    __tablename__ = "index_blob"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[dt.datetime] = _now()


class IndexBlobChunk(Base):
    __tablename__ = "index_blob_chunk"

    blob_id: Mapped[int] = mapped_column(ForeignKey("index_blob.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AppSetting(Base):
    """A setting saved from the UI; it overrides the environment variable of the same name."""

    __tablename__ = "app_setting"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    encrypted: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))  # value is a Fernet token
    updated_at: Mapped[dt.datetime] = _now()


class Account(Base):
    """A person who may sign in; `session_epoch` grows when the password changes,
    which ends every session signed under the old one."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="account_role_valid"),
        CheckConstraint("username = lower(username)", name="account_username_lower"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    session_epoch: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = _now()
    password_changed_at: Mapped[dt.datetime] = _now()


class ApiToken(Base):
    """A bearer token for scripts and players; only its SHA-256 is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))   # the token's first characters, to tell tokens apart
    created_at: Mapped[dt.datetime] = _now()
    last_used_at: Mapped[dt.datetime | None] = mapped_column(TIMESTAMP(timezone=True))


class SetupCode(Base):
    """The one-time code that creates the first admin account (one row at most)."""

    __tablename__ = "setup_code"
    __table_args__ = (CheckConstraint("id = 1", name="setup_code_single"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="1")
    code_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = _now()
