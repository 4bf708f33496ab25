"""A changed analysis never leaves users without similarity: old vectors serve until replaced.

Same vector model, new values: replaced vectors are counted and taken in by one
rebuild (at the end of a run, or past REBUILD_REPLACED_SHARE).  A new vector
model: the index keeps serving the old one until every old track has a new
vector (or a whole-library run ends), then switches and the old rows go.
"""
import types

import numpy as np
from sqlalchemy import func, select, update

from analysis.labels import MSD_LABELS, MTT_LABELS
from analysis.vectors import VECTOR_MODEL
from db import tracks as track_store
from db.features import read_all
from db.models import MOOD_COLUMNS, Embedding, Track
from db.session import session_scope
from similarity import index as track_index
from tasks import store
from tests.conftest import wait_for
from tests.library import DIM, add_like, make_library
from tests.support import signed_in
from tests.test_library_analysis import library as write_songs, run

OLD_MODEL = "older.layer/mean"


def analysed(vector: np.ndarray) -> types.SimpleNamespace:
    """What analysis.features.analyze_file returns, as far as save_analysis reads it."""
    vector = np.asarray(vector, np.float32)
    return types.SimpleNamespace(
        tempo_bpm=120.0, energy=0.5, start_energy=0.5, end_energy=0.5, loudness_lufs=-12.0, key="C",
        scale="major", duration=200.0, moods=dict.fromkeys(MOOD_COLUMNS, 0.5), analysis_version="next",
        msd_tags=np.full(len(MSD_LABELS), 0.1, np.float32), mtt_tags=np.full(len(MTT_LABELS), 0.1, np.float32),
        vector=vector, start_vector=vector, end_vector=vector)


def stored_vector(track_id: int) -> np.ndarray:
    """The track's vector of the code's model."""
    with session_scope() as session:
        return np.frombuffer(session.get(Embedding, (track_id, VECTOR_MODEL)).vector, "<f4")


def rows_of(model: str) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Embedding).where(Embedding.model == model))


def point_is(index: track_index.TrackIndex, track_id: int, vector: np.ndarray) -> bool:
    """Whether the index holds `vector` (raw) as the track's point."""
    return np.allclose(index.unit_vectors([track_id])[0], index.prepare(vector[None, :])[0], atol=1e-5)


def reanalyse(library, names, vector_of) -> None:
    """Store the code's model's vectors for these tracks, as an album job does."""
    for name in names:
        track_store.save_analysis("local", library.item(name), analysed(vector_of(name)), VECTOR_MODEL)


def start_app():
    from app import create_app
    app = create_app({"TESTING": True})
    return app, signed_in(app.test_client())


def test_replaced_vectors_serve_old_until_the_run_ends(env):
    library = make_library()                       # 36 tracks: 20% is 7.2
    old = {name: stored_vector(track_id) for name, track_id in library.ids.items()}
    like_metal = lambda name: old["metal-" + name.split("-")[1]] + 0.01   # noqa: E731
    jazz = [f"jazz-{n}" for n in range(3)]
    reanalyse(library, jazz, like_metal)

    assert track_index.update() is None            # counted, not taken in: no new version, old points serve
    serving = track_index.load()
    assert all(point_is(serving, library.ids[name], old[name]) for name in jazz)
    assert serving.query(old["jazz-0"], k=1)[0][0] == library.ids["jazz-0"]
    add_like(library, ["metal-5"])                 # a new track: a new version, which records the count
    assert track_index.load().intake.replaced == 3 and track_index.load().size == 37
    add_like(library, ["ambient-5"], seed=2)
    assert track_index.load().intake.replaced == 3  # not counted twice

    rebuilt = track_index.update(run_ended=True)   # the run's end takes them in: one rebuild
    fresh = track_index.load()
    assert fresh.version == rebuilt and fresh.intake.replaced == 0 and fresh.size == 38
    assert all(point_is(fresh, library.ids[name], stored_vector(library.ids[name])) for name in jazz)
    nearest = [track_id for track_id, _ in fresh.query(stored_vector(library.ids["jazz-0"]), k=3)]
    assert library.ids["metal-0"] in nearest
    assert track_index.update(run_ended=True) is None   # nothing replaced since: no rebuild


def test_many_replaced_vectors_rebuild_before_the_run_ends(env):
    library = make_library()
    shifted = {name: stored_vector(track_id) + 0.5 for name, track_id in library.ids.items()}
    reanalyse(library, [f"ambient-{n}" for n in range(8)], shifted.get)   # 8 of 36: past 20%
    track_index.update()
    fresh = track_index.load()
    assert fresh.intake.replaced == 0
    assert point_is(fresh, library.ids["ambient-0"], shifted["ambient-0"])


def test_an_index_of_before_vectors_had_a_time_is_compared_once(env):
    from sqlalchemy import text
    library = make_library()
    with session_scope() as session:   # its meta as stored before migration 0009, two vectors since replaced
        session.execute(text("UPDATE index_blob SET meta = meta - 'seen_until' - 'replaced' - 'replaced_recent'"))
    reanalyse(library, ["jazz-0", "metal-0"], lambda name: stored_vector(library.ids[name]) + 0.5)
    first = track_index.update()                   # every row compared once, and that look saved
    assert first is not None and track_index.load().intake.replaced == 2
    assert track_index.update() is None
    track_index.update(run_ended=True)
    assert point_is(track_index.load(), library.ids["jazz-0"], stored_vector(library.ids["jazz-0"]))


def new_model_vector(library, rng):
    """Vectors of 'another model': the same groups around other centres."""
    centres = {group: rng.normal(0, 1, DIM) for group in library.groups}
    return lambda name: centres[library.group_of(name)] + rng.normal(0, 0.3, DIM) + 2.0


def serve_old_model() -> None:
    """As if the library had been analysed with OLD_MODEL and indexed for it."""
    with session_scope() as session:
        session.execute(update(Embedding).values(model=OLD_MODEL))
    track_index.build(OLD_MODEL)


def titles(client, item_id) -> list[str]:
    answer = client.get("/api/similar_tracks", query_string={"item_id": item_id, "n": 5, "order": "smooth"})
    assert answer.status_code == 200, answer.get_json()
    return [track["title"] for track in answer.get_json()["tracks"]]


def test_a_new_vector_model_serves_after_every_track_has_one(env):
    library = make_library()
    serve_old_model()
    app, client = start_app()
    assert track_index.served_model() == OLD_MODEL and track_index.tracks_awaiting_switch() == 36
    health = client.get("/api/health").json["index"]
    assert (health["model"], health["pending_model"], health["size"]) == (OLD_MODEL, VECTOR_MODEL, 36)

    new_vector = new_model_vector(library, np.random.default_rng(5))
    reanalyse(library, library.groups["jazz"], new_vector)
    with session_scope() as session:                 # first analysed during the move: a new vector only
        session.add(Track(provider="local", item_id="newcomer", title="Newcomer", artist="New"))
    track_store.save_analysis("local", "newcomer", analysed(new_vector("jazz-0")), VECTOR_MODEL)
    assert track_index.update() is None            # nothing changed for the served model
    serving = track_index.load()
    assert serving.model == OLD_MODEL and serving.size == 36 and track_index.tracks_awaiting_switch() == 24
    assert (rows_of(OLD_MODEL), rows_of(VECTOR_MODEL)) == (36, 13)
    for name in ("jazz-0", "metal-0"):               # every old track still answers, ordering included
        assert all(title.startswith(name.split("-")[0].title()) for title in titles(client, name))
    assert len(read_all(track_index.served_model())) == 36

    reanalyse(library, library.groups["metal"] + library.groups["ambient"], new_vector)
    switched = track_index.update()
    fresh = track_index.load()
    assert fresh.version == switched and fresh.model == VECTOR_MODEL and fresh.size == 37   # the newcomer joined
    assert track_index.served_model() == VECTOR_MODEL and track_index.tracks_awaiting_switch() is None
    assert (rows_of(OLD_MODEL), rows_of(VECTOR_MODEL)) == (0, 37)
    assert point_is(fresh, library.ids["metal-3"], stored_vector(library.ids["metal-3"]))
    assert app.extensions["sonarium.index"].refresh()
    assert all(title.startswith("Jazz") for title in titles(client, "newcomer"))
    health = client.get("/api/health").json["index"]
    assert (health["model"], health["pending_model"]) == (VECTOR_MODEL, None)


def test_a_whole_library_run_switches_without_the_tracks_it_could_not_analyse(env):
    library = make_library()
    serve_old_model()
    reanalyse(library, library.groups["jazz"] + library.groups["metal"], new_model_vector(library,
                                                                                     np.random.default_rng(6)))
    track_index.update(run_ended=True)               # a partial run (recent albums, cancelled): no switch
    assert track_index.load().model == OLD_MODEL and rows_of(OLD_MODEL) == 36
    track_index.update(run_ended=True, whole_library=True)
    switched = track_index.load()
    assert switched.model == VECTOR_MODEL and switched.size == 24 and rows_of(OLD_MODEL) == 0
    assert library.ids["ambient-0"] not in switched


def test_a_rebuild_during_the_move_keeps_the_old_model(env):
    library = make_library()
    serve_old_model()
    reanalyse(library, library.groups["jazz"], new_model_vector(library, np.random.default_rng(7)))
    track_index.update(rebuild=True)
    rebuilt = track_index.load()
    assert rebuilt.model == OLD_MODEL and rebuilt.size == 36 and rows_of(OLD_MODEL) == 36


def test_a_library_reanalysis_takes_in_its_new_vectors_at_its_end(client, workers, music_dir):
    write_songs(music_dir, albums=2, tracks_per_album=2)
    workers.start("high")
    workers.start("default")
    run(client)
    rng = np.random.default_rng(8)
    with session_scope() as session:   # as if an earlier analysis version had computed slightly other vectors
        for row in session.scalars(select(Embedding)):
            vector = np.frombuffer(row.vector, "<f4")
            row.vector = (vector + rng.normal(0, 0.3 * vector.std(), vector.size)).astype("<f4").tobytes()
        session.execute(update(Track).values(analysis_version="older"))
    track_index.update(rebuild=True)
    before = track_index.load()
    assert run(client)["tracks_analyzed"] == 4
    after = track_index.load()
    assert after.version > before.version and after.size == 4 and after.intake.replaced == 0
    for track_id in after.live_ids().tolist():
        assert point_is(after, track_id, stored_vector(track_id))
        assert not point_is(before, track_id, stored_vector(track_id))


def test_a_cancelled_reanalysis_keeps_the_old_model_serving_and_the_next_run_switches(client, workers, music_dir):
    from rq.registry import StartedJobRegistry
    from tasks.queues import redis_connection
    write_songs(music_dir, albums=4, tracks_per_album=2)
    workers.start("high")
    workers.start("default")
    run(client)
    with session_scope() as session:   # as if analysed and indexed with the previous vector model
        session.execute(update(Embedding).values(model=OLD_MODEL))
        session.execute(update(Track).values(analysis_version="older"))
    track_index.build(OLD_MODEL)
    task_id = client.post("/api/tasks", json={"type": "analysis"}).json["task_id"]
    wait_for(lambda: store.child_counts(task_id).get("SUCCESS", 0) >= 1, timeout=120, message="an album done")
    assert client.post(f"/api/cancel/{task_id}").status_code == 200
    running = StartedJobRegistry("default", connection=redis_connection())
    wait_for(lambda: running.count == 0, timeout=5, message="the album jobs to stop")
    assert any("keeps serving the previous analysis until 8 more tracks are re-analysed" in line
               for line in store.get(task_id).log)
    serving = track_index.load()
    assert serving.model == OLD_MODEL and serving.size == 8 and rows_of(OLD_MODEL) == 8
    assert 2 <= rows_of(VECTOR_MODEL) < 8

    run(client)
    switched = track_index.load()
    assert switched.model == VECTOR_MODEL and switched.size == 8
    assert (rows_of(OLD_MODEL), rows_of(VECTOR_MODEL)) == (0, 8)
