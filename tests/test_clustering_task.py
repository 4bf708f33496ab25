"""Automatic playlists through the real queue: the parent on "high", batches on "clustering"."""
import subprocess
import sys
from pathlib import Path

import pytest

from db import clustering as results
from db.models import LIVE_STATUSES
from tasks import store
from tests.conftest import wait_for
from tests.library import make_library
from tests.support import signed_in

GROUPS = {"jazz": 14, "metal": 14, "ambient": 14, "techno": 14}


def start(client, status=202, **body):
    answer = client.post("/api/clustering", json=body)
    assert answer.status_code == status, answer.json
    return answer.json.get("task_id")


def finish(task_id, timeout=240):
    wait_for(lambda: store.get(task_id).status not in LIVE_STATUSES, timeout=timeout, every=0.5,
             message="the clustering run to end")
    task = store.get(task_id)
    assert task.status == "SUCCESS", (task.message, task.log[-10:])
    return task


def group_sets(library, playlist):
    names = {track_id: name for name, track_id in library.ids.items()}
    return {library.group_of(names[t]) for t in playlist.track_ids}


@pytest.fixture
def clustering_workers(workers):
    workers.start("high")
    workers.start("clustering")
    return workers


def test_a_run_finds_the_groups_and_a_second_run_keeps_names_and_server_playlists(
        client, playlist_dir, music_dir, clustering_workers):
    library = make_library(GROUPS, music_dir=music_dir, with_tags=True, spread=0.3)
    task = finish(start(client, seed=11, runs=24, push=True))
    first = results.current_set()
    assert task.details["result"]["playlists"] == len(first) >= 3
    # Each playlist is one group's songs (the vectors and tags say so).
    assert all(len(group_sets(library, p)) == 1 for p in first)
    assert len({p.name for p in first}) == len(first)
    assert all(p.name.endswith(" (auto)") for p in first)
    files = sorted(Path(playlist_dir).glob("*.m3u8"))
    assert len(files) == len(first)
    before = {f.name: f.read_text() for f in files}
    pushes = results.remote_copies([p.id for p in first], "local")

    again = finish(start(client, seed=11, runs=24, push=True))
    second = results.current_set()
    assert again.details["result"]["kept"] == len(second) == len(first)
    assert again.details["result"]["retired"] == []
    # the same playlists, named the same, their songs in the same playing order (their own order in the
    # set may differ: a tie between configurations can number the same clusters differently)
    assert {p.name: p.track_ids for p in second} == {p.name: p.track_ids for p in first}
    assert sorted(results.remote_copies([p.id for p in second], "local").values()) == sorted(pushes.values())
    assert {f.name: f.read_text() for f in Path(playlist_dir).glob("*.m3u8")} == before
    # The same seed made the same search.
    assert again.details["best"]["config"] == task.details["best"]["config"]
    assert again.details["best"]["score"] == pytest.approx(task.details["best"]["score"])


def test_the_api_shows_the_playlists_runs_and_pushes_some(client, playlist_dir, music_dir, clustering_workers):
    make_library(GROUPS, music_dir=music_dir, with_tags=True)
    assert client.post("/api/clustering/push", json={}).status_code == 409
    task_id = start(client, seed=3, runs=12, ai_names=False)
    finish(task_id)
    overview = client.get("/api/clustering").json
    assert overview["running"] is None and overview["last"]["id"] == task_id
    cards = overview["playlists"]
    assert cards and all(card["status"] == "added" and card["tracks"] and card["profile"] for card in cards)
    assert all(card["size"] == len(card["tracks"]) for card in cards)
    runs = client.get("/api/clustering/runs").json
    assert runs["task_id"] == task_id and runs["total"] >= 1
    scores = [run["score"] for run in runs["runs"] if not run.get("failed")]
    assert scores == sorted(scores, reverse=True) and "breakdown" in runs["runs"][0]
    assert client.get("/api/clustering/runs?task_id=nope").status_code == 404

    answer = client.post("/api/clustering/push", json={"playlist_ids": [cards[0]["id"]]})
    assert answer.status_code == 200, answer.json
    assert [p["id"] for p in answer.json["pushed"]] == [cards[0]["id"]] and answer.json["failed"] == []
    assert len(list(Path(playlist_dir).glob("*.m3u8"))) == 1
    missing = client.post("/api/clustering/push", json={"playlist_ids": [cards[0]["id"] + 10_000]})
    assert missing.status_code == 400 and "not in the current" in missing.json["error"]


@pytest.mark.parametrize("body, message", [
    ({"preset": "slow"}, "preset"),
    ({"runs": 0}, "runs"),
    ({"algorithms": ["kmeans", "birch"]}, "algorithms"),
    ({"min_size": 40, "max_size": 10}, "min_size"),
    ({"seed": -1}, "seed"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_parameters_are_400(client, body, message):
    answer = client.post("/api/clustering", json=body)
    assert answer.status_code == 400 and message in answer.json["error"]


def test_listeners_see_the_playlists_but_do_not_start_runs(app, env):
    listener = signed_in(app.test_client(), "listener")
    assert listener.post("/api/clustering", json={}).status_code == 403
    assert listener.get("/api/clustering").status_code == 200


def test_one_run_at_a_time_then_cancel(client, clustering_workers, music_dir):
    make_library({f"g{n}": 25 for n in range(8)}, with_tags=True)
    task_id = start(client, preset="thorough", seed=1)
    assert start(client, status=409) == task_id   # the 409 names the run that is going
    wait_for(lambda: any(c.status == "SUCCESS" for c in store.children(task_id)), timeout=120,
             message="a batch to finish")
    assert client.post(f"/api/cancel/{task_id}").status_code == 200
    wait_for(lambda: all(c.status not in LIVE_STATUSES for c in store.children(task_id)), timeout=10,
             message="every batch to stop")
    assert store.get(task_id).status == "REVOKED"
    assert results.current_set() == []


def test_a_killed_batch_worker_is_replaced_and_the_run_finishes(client, workers, music_dir):
    from tasks import reconciler
    make_library({f"g{n}": 40 for n in range(6)}, with_tags=True)
    workers.start("high")
    victim = workers.start("clustering")
    task_id = start(client, seed=5, runs=40, algorithms=["gmm", "spectral"])
    wait_for(lambda: any(c.details.get("outcomes") for c in store.children(task_id, ("STARTED", "PROGRESS"))),
             timeout=120, every=0.02, message="a batch half-way")
    workers.kill(victim)
    workers.start("clustering")
    wait_for(lambda: reconciler.reconcile_once() or store.get(task_id).status not in LIVE_STATUSES,
             timeout=240, every=1.0, message="the run to finish after the re-queue")
    task = finish(task_id)
    assert any(child.attempts > 1 for child in store.children(task_id))
    assert task.details["elites"] and task.details["result"]["playlists"] >= 1


def test_a_killed_parent_resumes_from_its_stored_elites(client, workers, music_dir):
    from tasks import reconciler
    make_library({f"g{n}": 30 for n in range(6)}, with_tags=True)
    victim = workers.start("high")
    workers.start("clustering")
    task_id = start(client, seed=9, runs=60, ai_names=False)
    wait_for(lambda: store.get(task_id).details.get("generation", 0) >= 1, timeout=120, every=0.05,
             message="a generation stored")
    workers.kill(victim)
    stored = store.get(task_id).details
    workers.start("high")
    wait_for(lambda: reconciler.reconcile_once() or store.get(task_id).status not in LIVE_STATUSES,
             timeout=240, every=1.0, message="the run to finish after the re-queue")
    task = finish(task_id)
    assert task.attempts >= 2   # more when a loaded machine delays a heartbeat past TASK_DEAD_AFTER_SECONDS
    assert any(f"resuming after generation {stored['generation']} " in line for line in task.log) or \
        task.attempts > 2
    assert task.details["seed"] == 9 and task.details["snapshot_version"] == stored["snapshot_version"]
    assert task.details["best"]["score"] >= stored["best"]["score"]


@pytest.mark.parametrize("size", [2, 20])
def test_tiny_libraries_get_a_clear_answer(client, clustering_workers, size):
    make_library({"jazz": size // 2, "metal": size - size // 2}, with_tags=True)
    task = finish(start(client, seed=2, runs=8))
    result = task.details["result"]
    if result["playlists"]:
        assert all(len(p.track_ids) >= 2 for p in results.current_set())
    else:
        assert str(size) in result["message"] or "track" in result["message"]
        assert task.message == result["message"]


def test_the_command_line_starts_a_run_with_checked_arguments(env):
    bad = subprocess.run([sys.executable, "-m", "tasks", "start", "clustering", "runs=0"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode != 0 and "runs" in bad.stderr
    good = subprocess.run([sys.executable, "-m", "tasks", "start", "clustering", "preset=quick", "seed=4"],
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    task = store.get(good.stdout.strip())
    assert task.type == "clustering" and task.args["seed"] == 4
