"""The task framework with real RQ worker processes, and failures injected."""
import subprocess
import sys

import psutil
from rq import Queue
from rq.job import Job
from sqlalchemy import text

from db.session import session_scope
from tasks import reconciler, store, submit
from tasks.queues import redis_connection
from tests.audio import write_wav
from tests.conftest import REPO, wait_for


def status_of(task_id):
    return store.get(task_id).status


def test_library_scan_counts_files_and_tags(client, workers, music_dir):
    write_wav(music_dir / "Artist A" / "Album 1" / "01.wav", 2.0, "Song", "Artist A")
    write_wav(music_dir / "Artist A" / "Album 1" / "02.wav", 1.0, "Other", "Artist A")
    write_wav(music_dir / "Loose" / "untagged.wav", 1.0)
    (music_dir / "Loose" / "broken.mp3").write_text("this is not audio")
    (music_dir / "Loose" / "cover.jpg").write_bytes(b"\xff\xd8")
    (music_dir / "Empty").mkdir()
    workers.start("high")
    workers.start("default")
    response = client.post("/api/tasks", json={"type": "library_scan"})
    assert response.status_code == 202
    task_id = response.json["task_id"]
    wait_for(lambda: status_of(task_id) == "SUCCESS", message="scan to finish")
    result = client.get(f"/api/status/{task_id}").json
    assert result["details"]["result"] == {
        "files": 4, "tagged": 2, "untagged": 1, "unreadable": 1, "hours": 0.0,
        "formats": {"wav": 3, "mp3": 1}, "failed_folders": 0}
    assert result["children"]["counts"] == {"SUCCESS": 2}
    assert client.get("/api/last_result").json["id"] == task_id


def test_cancelling_a_parent_stops_its_running_children(client, workers):
    workers.start("high")
    workers.start("default")
    workers.start("default")
    parent_id = client.post("/api/tasks", json={"type": "test.parent", "args": {
        "children": 6, "count": 400, "seconds": 0.05}}).json["task_id"]
    wait_for(lambda: store.child_counts(parent_id).get("PROGRESS", 0) == 2, message="two running children")
    assert store.child_counts(parent_id).get("PENDING") == 1  # MAX_QUEUED_CHILDREN=3 bounds the queue
    running = [c.id for c in store.children(parent_id, ("PROGRESS",))]

    response = client.post(f"/api/cancel/{parent_id}")
    assert response.status_code == 200 and len(response.json["revoked"]) == 4
    assert status_of(parent_id) == "REVOKED"
    assert set(store.child_counts(parent_id)) == {"REVOKED"}
    assert Queue("default", connection=redis_connection()).count == 0

    def stopped(child_id):
        log = store.get(child_id).log
        return log and log[-1].endswith("stopped: task was cancelled")
    wait_for(lambda: all(stopped(c) for c in running), timeout=5, message="children to stop")
    assert sum(store.child_counts(parent_id).values()) == 3  # no new child after the cancel
    assert client.post(f"/api/cancel/{parent_id}").status_code == 409


def test_sigkilled_worker_task_is_requeued_by_the_reconciler(env, workers, tmp_path):
    worker = workers.start("default")
    task_id = submit.submit_main("test.steps", {"count": 60, "seconds": 0.1})
    wait_for(lambda: status_of(task_id) == "PROGRESS", message="the task to run")
    workers.kill(worker)

    log = open(tmp_path / "reconciler.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "tasks.reconciler"], cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        # dead after 3 s of silence, checked every 0.5 s
        wait_for(lambda: store.get(task_id).attempts == 2, timeout=8, message="re-queue")
        row = store.get(task_id)
        assert row.status == "PENDING"
        assert "re-queued (attempt 2): no heartbeat for" in row.log[-1]
        workers.start("default")
        wait_for(lambda: status_of(task_id) == "SUCCESS", timeout=30, message="the retry to finish")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_killed_work_horse_is_noticed_through_rq(env, workers):
    worker = workers.start("default")
    task_id = submit.submit_main("test.steps", {"count": 50, "seconds": 0.1})
    wait_for(lambda: status_of(task_id) == "PROGRESS", message="the task to run")
    horse = psutil.Process(worker.pid).children()[0]
    horse.kill()
    job = Job.fetch(submit.rq_job_id(task_id, 1), connection=redis_connection())
    wait_for(lambda: job.get_status(refresh=True) == "failed", message="RQ to fail the job")
    actions = reconciler.reconcile_once()  # well before the heartbeat would have gone stale
    assert actions and "the worker was killed" in actions[0]
    wait_for(lambda: status_of(task_id) == "SUCCESS", timeout=30, message="the retry to finish")
    assert store.get(task_id).attempts == 2


def _age_heartbeat(task_id):
    with session_scope() as session:
        session.execute(text("UPDATE task SET heartbeat_at = now() - interval '1 hour', "
                             "enqueued_at = now() - interval '1 hour' WHERE id = :id"), {"id": task_id})


def test_task_fails_with_reason_after_max_attempts(env, monkeypatch):
    monkeypatch.setenv("TASK_MAX_ATTEMPTS", "2")
    import runtime
    runtime.init(migrate=False)
    task_id = submit.submit_main("test.steps", {})
    for attempt in (1, 2):
        store.claim(task_id, attempt)
        _age_heartbeat(task_id)
        reconciler.reconcile_once()
    row = store.get(task_id)
    assert row.status == "FAILURE" and row.finished_at is not None
    assert row.message.startswith("gave up after 2 attempts: no heartbeat for")


def test_job_vanished_from_redis_is_requeued(env):
    task_id = submit.submit_main("test.steps", {})
    connection = redis_connection()
    connection.delete(*connection.scan_iter("rq:*"))   # every job gone, the test session's claim kept
    assert reconciler.reconcile_once() == []  # within the grace period nothing happens
    _age_heartbeat(task_id)
    actions = reconciler.reconcile_once()
    assert "its job vanished from Redis" in actions[0]
    assert Job.fetch(submit.rq_job_id(task_id, 2), connection=redis_connection()).get_status() == "queued"


def test_revoked_job_that_ignores_cancel_is_force_stopped(env, workers, monkeypatch):
    monkeypatch.setattr(reconciler, "STOP_GRACE_SECONDS", 0.5)
    workers.start("default")
    task_id = submit.submit_main("test.stubborn", {"seconds": 120})
    wait_for(lambda: status_of(task_id) == "PROGRESS", message="the task to run")
    from tasks import control
    control.cancel(task_id)
    job = Job.fetch(submit.rq_job_id(task_id, 1), connection=redis_connection())

    def stopped():
        reconciler.reconcile_once()
        return job.get_status(refresh=True) == "stopped"
    wait_for(stopped, timeout=10, every=0.5, message="the force-stop")
    assert status_of(task_id) == "REVOKED"


def test_sigterm_stops_a_busy_worker_at_once_horse_included(env, workers):
    import signal
    worker = workers.start("default")
    task_id = submit.submit_main("test.steps", {"count": 600, "seconds": 0.1})
    wait_for(lambda: status_of(task_id) == "PROGRESS", message="the task to run")
    horse = psutil.Process(worker.pid).children()[0]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=5) is not None
    assert not horse.is_running() or horse.status() == psutil.STATUS_ZOMBIE
    _age_heartbeat(task_id)  # as if TASK_DEAD_AFTER_SECONDS had passed
    assert "re-queued" in reconciler.reconcile_once()[0]


def test_a_worker_registers_before_its_warm_up(env):
    """Health counts a worker from its registration: a first start's numba compile must not delay it."""
    import threading
    from rq import Worker
    from tasks import queues
    from tasks.worker import PromptStopWorker
    release = threading.Event()
    worker = PromptStopWorker([queues.queue(queues.DEFAULT)], connection=redis_connection(),
                              prepare=lambda: release.wait(30))
    starting = threading.Thread(target=worker.bootstrap)
    starting.start()
    try:
        wait_for(lambda: worker.name in {w.name for w in Worker.all(connection=redis_connection())},
                 timeout=10, message="the worker's registration")
        assert starting.is_alive()  # still warming up: no job can be taken yet
    finally:
        release.set()
        starting.join(timeout=30)
    assert not starting.is_alive()
    worker.register_death()
