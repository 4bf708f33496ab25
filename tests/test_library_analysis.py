"""Library analysis through the real queue: per-album jobs, failures recorded, re-runs resumable."""
import numpy as np
import soundfile
from mutagen.flac import FLAC
from sqlalchemy import func, select

from db.models import Embedding, Track, TrackTags
from db.session import session_scope
from tasks import store
from tests.conftest import wait_for
from tests.test_analysis import music

RATE = 22050


def song(path, album, title, bpm):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, music(40, rate=RATE, bpm=bpm), RATE, format="FLAC")
    tags = FLAC(path)
    tags.update({"album": album, "title": title, "artist": "Tester", "tracknumber": title[-1]})
    tags.save()


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
    assert failure["track"] == "broken" and failure["reason"].startswith("cannot decode")
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
