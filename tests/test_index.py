"""The similarity index: built, updated incrementally, reloaded live by the web process."""
import numpy as np
from sqlalchemy import delete

from analysis.features import VECTOR_MODEL
from db.models import Embedding, Track
from db.session import session_scope
from similarity import index as track_index

DIM = 400


def add_tracks(count, start=0, seed=0):
    """Tracks in 5 clusters; returns their ids."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1, (5, DIM))
    ids = []
    with session_scope() as session:
        for n in range(start, start + count):
            track = Track(provider="local", item_id=f"t{n}", title=f"T{n}")
            session.add(track)
            session.flush()
            vector = (centres[n % 5] + rng.normal(0, 0.3, DIM) + 5.0).astype("<f4")
            session.add(Embedding(track_id=track.id, model=VECTOR_MODEL, dim=DIM, vector=vector.tobytes()))
            ids.append(track.id)
    return ids


def vector_of(track_id):
    with session_scope() as session:
        return np.frombuffer(session.get(Embedding, (track_id, VECTOR_MODEL)).vector, "<f4")


def test_build_query_and_incremental_update(env):
    assert track_index.update() is None  # nothing analysed yet
    ids = add_tracks(50)
    first = track_index.update()
    loaded = track_index.load()
    assert loaded.version == first and loaded.size == 50
    neighbours = loaded.query(vector_of(ids[0]), k=5)
    assert neighbours[0] == (ids[0], neighbours[0][1]) and neighbours[0][1] < 1e-4
    assert all((ids.index(i) % 5) == 0 for i, _ in neighbours)  # its own cluster
    assert [i for i, _ in loaded.query(vector_of(ids[0]), k=3, exclude={ids[0]})][0] != ids[0]
    assert track_index.update() is None  # unchanged: no new version

    more = add_tracks(10, start=50, seed=1)
    second = track_index.update()
    grown = track_index.load()
    assert second == first + 1 and grown.size == 60
    assert grown.standardization.mean.tolist() == loaded.standardization.mean.tolist()  # kept, not refitted
    assert grown.query(vector_of(more[3]), k=1)[0][0] == more[3]


def test_deleted_tracks_leave_and_many_deletions_rebuild(env):
    ids = add_tracks(40)
    track_index.update()
    with session_scope() as session:
        session.execute(delete(Track).where(Track.id.in_(ids[:2])))
    track_index.update()
    current = track_index.load()
    assert (current.size, current.deleted) == (38, 2)
    assert ids[0] not in [i for i, _ in current.query(vector_of(ids[5]), k=40)]
    with session_scope() as session:
        session.execute(delete(Track).where(Track.id.in_(ids[2:10])))
    track_index.update()  # 10 of 40 deleted: past the threshold, rebuilt clean
    rebuilt = track_index.load()
    assert (rebuilt.size, rebuilt.deleted, len(rebuilt.index)) == (30, 0, 30)


def test_web_process_picks_up_new_versions(client, app):
    live = app.extensions["sonarium.index"]
    assert client.get("/api/health").json["index"]["loaded"] is False
    add_tracks(20)
    track_index.update()
    assert live.refresh() is True and live.refresh() is False
    report = client.get("/api/health").json["index"]
    assert (report["loaded"], report["size"], report["version"]) == (True, 20, 1)
    old = live.current
    add_tracks(5, start=20, seed=2)
    track_index.update()
    live.refresh()
    assert live.current is not old and live.current.size == 25
    assert old.size == 20 and old.query(np.ones(DIM, np.float32), k=3)  # the old copy still answers
