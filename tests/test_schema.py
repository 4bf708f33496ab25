import io

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from db import blobs, migrate
from db.models import Embedding, Task, Track
from db.search import contains
from db.session import session_scope


def test_migrations_go_down_and_up_again(env):
    assert migrate.current_revision() == migrate.head_revision()
    migrate.downgrade("base")
    with session_scope() as session:
        assert session.scalar(text("SELECT to_regclass('track')")) is None
    migrate.upgrade()
    assert migrate.current_revision() == migrate.head_revision()


def test_search_ignores_case_and_accents(env):
    with session_scope() as session:
        session.add_all([Track(provider="local", item_id="1", artist="Björk", title="Jóga"),
                         Track(provider="local", item_id="2", artist="Sigur Rós", title="Hoppípolla"),
                         Track(provider="local", item_id="3", artist="100%_Pure", title="x")])
    with session_scope() as session:
        assert session.scalars(select(Track.item_id).where(contains(Track.artist, "BJORK"))).all() == ["1"]
        assert session.scalars(select(Track.item_id).where(contains(Track.title, "hoppipo"))).all() == ["2"]
        assert session.scalars(select(Track.item_id).where(contains(Track.artist, "%_"))).all() == ["3"]
        # The trigram index serves the very query a search makes.  On three rows a
        # sequential scan is cheaper, so the planner is told to avoid one if it can.
        session.execute(text("SET LOCAL enable_seqscan = off"))
        query = select(Track.item_id).where(contains(Track.artist, "BJORK"))
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.scalars(text(f"EXPLAIN {compiled}")))
    assert "track_artist_fold_trgm" in plan, plan


def test_constraints_reject_bad_rows(env):
    with pytest.raises(IntegrityError):
        with session_scope() as session:
            session.add(Track(provider="local", item_id="1", musical_key="H"))
    with session_scope() as session:
        track = Track(provider="local", item_id="1")
        session.add(track)
        session.flush()
        track_id = track.id
    with pytest.raises(IntegrityError):  # 3 floats where dim says 4
        with session_scope() as session:
            session.add(Embedding(track_id=track_id, model="m", dim=4, vector=b"\0" * 12))
    with session_scope() as session:
        session.add(Embedding(track_id=track_id, model="m", dim=3, vector=b"\0" * 12, end_vector=b"\1" * 12))
    with pytest.raises(IntegrityError):
        with session_scope() as session:
            session.add(Task(id="t1", type="x", queue="default", job_timeout=60, status="DONE"))


def test_one_live_main_task_per_type(env):
    with session_scope() as session:
        session.add(Task(id="a", type="scan", queue="high", job_timeout=60))
    with pytest.raises(IntegrityError, match="task_one_live_main_per_type"):
        with session_scope() as session:
            session.add(Task(id="b", type="scan", queue="high", job_timeout=60))
    with session_scope() as session:
        session.add(Task(id="c", type="scan", queue="high", job_timeout=60, parent_id="a"))  # children are not limited
        session.get(Task, "a").status = "SUCCESS"
    with session_scope() as session:
        session.add(Task(id="d", type="scan", queue="high", job_timeout=60))


def test_blobs_round_trip_in_chunks_and_keep_two_versions(env, monkeypatch):
    monkeypatch.setattr(blobs, "CHUNK_BYTES", 1000)
    payload = bytes(range(256)) * 40  # 10240 bytes: 11 chunks
    for _ in range(3):
        version = blobs.store_blob("index", io.BytesIO(payload), meta={"n": 1})
    assert version == 3
    info, data = blobs.load_blob("index")
    assert bytes(data) == payload and info["version"] == 3 and info["meta"] == {"n": 1}
    with session_scope() as session:
        versions = session.scalars(text("SELECT version FROM index_blob ORDER BY version")).all()
        chunks = session.scalar(text("SELECT count(*) FROM index_blob_chunk"))
    assert versions == [2, 3] and chunks == 22
    assert blobs.load_blob("missing") is None


def test_damaged_blob_is_detected(env):
    blobs.store_blob("index", io.BytesIO(b"abc" * 100))
    with session_scope() as session:
        session.execute(text("UPDATE index_blob_chunk SET data = 'xyz'"))
    with pytest.raises(ValueError, match="damaged"):
        blobs.load_blob("index")
