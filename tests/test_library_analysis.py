"""Library analysis through the real queue: per-album jobs, failures recorded, re-runs resumable."""
import numpy as np
from sqlalchemy import func, select

from db.models import Embedding, Track, TrackTags
from db.session import session_scope
from tasks import store
from tests.audio import song
from tests.conftest import wait_for


def run(client, **args):
    task_id = client.post("/api/tasks", json={"type": "analysis", "args": args}).json["task_id"]
    wait_for(lambda: not store.get(task_id).status in ("PENDING", "STARTED", "PROGRESS"),
             timeout=180, every=0.5, message="the analysis to finish")
    task = client.get(f"/api/status/{task_id}").json
    assert task["status"] == "SUCCESS", task["message"]
    return task["details"]["result"]


def test_analysis_end_to_end_then_resume_then_forget_removed(client, workers, music_dir):
    for n in (1, 2, 3):
        song(music_dir / "First" / f"{n}.flac", "First", f"Song {n}", 90 + 20 * n)
    for n in (1, 2):
        song(music_dir / "Second" / f"{n}.flac", "Second", f"Tune {n}", 128)
    (music_dir / "Second" / "broken.flac").write_bytes(b"fLaC" + bytes(5000))
    workers.start("high")
    workers.start("default")

    result = run(client)
    assert (result["albums"], result["tracks_analyzed"], result["tracks_failed"]) == (3, 5, 1)
    [failure] = result["failures"]
    # Named by its file (its tags may be what is wrong), with one plain reason;
    # the decoders' own words, memory addresses and all, stay in the album's log.
    assert failure["track"] == "Second/broken.flac"
    assert failure["reason"] == "cannot decode: the file is damaged or not in an audio format Sonarium can read"
    [album] = [c for c in store.children(client.get("/api/last_result").json["id"]) if c.details.get("failed")]
    assert any("failed: Second/broken.flac: libsndfile: " in line and "ffmpeg: " in line for line in album.log)
    with session_scope() as session:
        analysed = session.scalars(select(Track).where(Track.analysis_version.is_not(None))).all()
        assert len(analysed) == 5
        assert all(t.tempo_bpm and 0 <= t.danceable <= 1 and t.loudness_lufs for t in analysed)
        assert session.scalar(select(func.count()).select_from(TrackTags)) == 10
        embedding = session.scalars(select(Embedding)).first()
        assert embedding.dim == 400 and len(np.frombuffer(embedding.vector, "<f4")) == 400
        broken = session.scalars(select(Track).where(Track.title == "broken")).one()
        assert broken.analysis_version is None  # listed, not analysed: no partial rows

    from similarity import index as track_index
    built = track_index.load()
    assert built.size == 5
    with session_scope() as session:
        some = session.scalars(select(Embedding)).first()
        probe = np.frombuffer(some.vector, "<f4")
    assert built.query(probe, k=1)[0][0] == some.track_id
    assert store.live_main_task_id("map")  # the music map follows the index (no map worker runs here)

    again = run(client)
    assert (again["tracks_analyzed"], again["tracks_skipped"], again["tracks_failed"]) == (0, 5, 1)

    (music_dir / "First" / "3.flac").unlink()
    third = run(client)
    assert third["tracks_removed"] == 1
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Track)) == 5
        assert session.scalar(select(func.count()).select_from(Embedding)) == 4
    assert track_index.load().size == 4  # the removed track left the index


def test_recent_albums_only_and_bad_depth(client, workers, music_dir):
    song(music_dir / "Only" / "1.flac", "Only", "Song 1", 100)
    workers.start("high")
    workers.start("default")
    result = run(client, num_recent_albums=1)
    assert result["albums"] == 1 and result["tracks_analyzed"] == 1 and result["tracks_removed"] == 0
    bad = client.post("/api/tasks", json={"type": "analysis", "args": {"surprise": 1}})
    assert bad.status_code == 400


def library(music_dir, albums, tracks_per_album):
    for a in range(albums):
        for t in range(1, tracks_per_album + 1):
            song(music_dir / f"Album {a}" / f"{t}.flac", f"Album {a}", f"Song {t}", 100 + 10 * a)


def analysed_consistently():
    """Every analysed track has exactly its rows: two tag vectors and one embedding; returns the count."""
    with session_scope() as session:
        analysed = session.scalar(select(func.count()).select_from(Track).where(Track.analysis_version.is_not(None)))
        assert session.scalar(select(func.count()).select_from(Embedding)) == analysed
        assert session.scalar(select(func.count()).select_from(TrackTags)) == 2 * analysed
        assert session.scalar(select(func.count(Track.item_id.distinct()))) == \
            session.scalar(select(func.count()).select_from(Track))
        return analysed


def test_cancel_mid_run_then_resume(client, workers, music_dir):
    library(music_dir, albums=6, tracks_per_album=2)
    workers.start("high")
    workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "analysis"}).json["task_id"]
    wait_for(lambda: store.child_counts(task_id).get("SUCCESS", 0) >= 1, timeout=120, message="an album done")
    assert client.post(f"/api/cancel/{task_id}").status_code == 200
    from rq.registry import StartedJobRegistry
    from tasks.queues import redis_connection
    running = StartedJobRegistry("default", connection=redis_connection())
    # REVOKED is immediate; the job drops its current track (nothing of it is written) and stops.
    wait_for(lambda: running.count == 0, timeout=5, message="the album jobs to stop")
    assert store.get(task_id).status == "REVOKED"
    partial = analysed_consistently()
    assert 2 <= partial < 12
    result = run(client)
    assert result["tracks_analyzed"] == 12 - partial and result["tracks_skipped"] == partial
    assert analysed_consistently() == 12


def test_killed_worker_mid_album_then_rerun(client, workers, music_dir, env):
    import runtime
    from tasks import reconciler
    library(music_dir, albums=3, tracks_per_album=4)
    workers.start("high")
    victim = workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "analysis"}).json["task_id"]
    wait_for(lambda: any("2/4" in (c.message or "") for c in store.children(task_id, ("PROGRESS",))),
             timeout=120, every=0.05, message="an album half-way")
    workers.kill(victim)
    analysed_consistently()  # whatever was written is whole
    scratch = runtime.settings().sonarium_data_dir / "tmp"
    assert any(any(folder.iterdir()) for folder in scratch.iterdir())  # the killed job's track copy
    workers.start("default")
    # The reconciler re-queues the album once its heartbeat is 3 s old.
    wait_for(lambda: reconciler.reconcile_once() or store.get(task_id).status == "SUCCESS",
             timeout=180, every=1.0, message="the run to finish after the re-queue")
    wait_for(lambda: store.get(task_id).status == "SUCCESS", timeout=180, every=0.5, message="the run")
    assert analysed_consistently() == 12
    # The killed album's second attempt finds the tracks its first one analysed: this run's work, not "already done".
    result = store.get(task_id).details["result"]
    assert (result["tracks_analyzed"], result["tracks_skipped"]) == (12, 0)
    reconciler.sweep_scratch()
    assert list(scratch.iterdir()) == []  # the killed attempt's folder too
    again = run(client)
    assert (again["tracks_analyzed"], again["tracks_skipped"]) == (0, 12)


def test_provider_failing_half_way_fails_that_album_only(client, workers, music_dir):
    import shutil
    library(music_dir, albums=6, tracks_per_album=1)
    workers.start("high")
    workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "analysis"}).json["task_id"]
    wait_for(lambda: store.get(task_id).details.get("albums_total"), timeout=60, every=0.05,
             message="the album listing")
    shutil.rmtree(music_dir / "Album 0")  # the oldest album: its job runs last and finds nothing
    wait_for(lambda: store.get(task_id).status == "SUCCESS", timeout=180, every=0.5, message="the run")
    result = client.get(f"/api/status/{task_id}").json["details"]["result"]
    assert result["failed_albums"] == 1 and result["tracks_analyzed"] == 5
    assert result["tracks_removed"] == 0  # an incomplete run removes nothing
    assert analysed_consistently() == 5


def test_the_last_albums_start_biggest_first(client, workers, music_dir):
    import os
    import time
    for age, (album, size) in enumerate((("Small", 1), ("Middle", 2), ("Large", 3))):  # Small is the newest
        for n in range(1, size + 1):
            song(music_dir / album / f"{n}.flac", album, f"{album} {n}", 100)
            os.utime(music_dir / album / f"{n}.flac", (time.time() - 100 * age, time.time() - 100 * age))
    workers.start("high")
    workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "analysis"}).json["task_id"]
    wait_for(lambda: not store.get(task_id).status in ("PENDING", "STARTED", "PROGRESS"),
             timeout=180, every=0.5, message="the analysis to finish")
    spawned = [child.args["album_name"] for child in store.children(task_id, None, 10)]
    assert spawned == ["Large", "Middle", "Small"]   # a run never ends on one long album


def test_cancel_stops_album_jobs_in_the_middle_of_a_track(client, workers, music_dir):
    import time
    from rq.registry import StartedJobRegistry
    from tasks.queues import redis_connection
    for album in ("One", "Two"):
        for n in (1, 2, 3):   # 200 s at full depth: several seconds of inference per track
            song(music_dir / album / f"{n}.flac", album, f"Song {n}", 100, seconds=200)
    workers.start("high")
    workers.start("default")
    workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "analysis", "args": {"depth": "full"}}).json["task_id"]
    wait_for(lambda: len([c for c in store.children(task_id, ("PROGRESS",)) if " 1/3 " in c.message]) == 2,
             timeout=120, every=0.05, message="both albums on their first track")
    time.sleep(1.0)   # well inside the first track's analysis
    running = [c.id for c in store.children(task_id, ("PROGRESS",))]
    cancelled = time.monotonic()
    assert client.post(f"/api/cancel/{task_id}").status_code == 200
    jobs = StartedJobRegistry("default", connection=redis_connection())
    wait_for(lambda: jobs.count == 0, timeout=5, every=0.05, message="the album jobs to stop")
    assert time.monotonic() - cancelled < 5
    for child_id in running:
        child = store.get(child_id)
        assert child.status == "REVOKED" and child.log[-1].endswith("stopped: task was cancelled")
        assert child.details.get("analyzed", 0) == 0   # stopped inside the first track, not after it
    assert analysed_consistently() == 0


def test_tracks_are_counted_as_they_finish(client, workers, music_dir):
    library(music_dir, albums=1, tracks_per_album=5)
    workers.start("high")
    workers.start("default")
    task_id = client.post("/api/tasks", json={"type": "analysis"}).json["task_id"]

    def mid_album():
        details = store.get(task_id).details
        album_live = not store.child_counts(task_id).get("SUCCESS")
        return album_live and details.get("tracks_analyzed", 0) >= 2 and details
    details = wait_for(mid_album, timeout=120, every=0.05, message="tracks counted before the album ends")
    assert details["albums_done"] == 0 and details["tracks_total"] == 5
    # From the tracks' pace: what is left is about (5 - done) tracks of it, not "one album of one".
    done = details["tracks_analyzed"] + details["tracks_skipped"] + details["tracks_failed"]
    assert details["eta_seconds"] is not None and 0 <= details["eta_seconds"] <= 60 * (5 - done)
    wait_for(lambda: store.get(task_id).status == "SUCCESS", timeout=120, every=0.5, message="the run")
