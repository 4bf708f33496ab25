"""The task framework in-process: state rules that need no worker."""
import pytest

from tasks import control, runner, store, submit
from tasks.store import TaskAlreadyRunning
from tests.conftest import wait_for


def test_submit_queues_one_job_per_attempt(env):
    task_id = submit.submit_main("test.steps", {"count": 2})
    row = store.get(task_id)
    assert (row.status, row.attempts, row.queue) == ("PENDING", 1, "default")
    from rq.job import Job
    from tasks.queues import redis_connection
    job = Job.fetch(submit.rq_job_id(task_id, 1), connection=redis_connection())
    assert job.args == (task_id, 1) and job.get_status() == "queued"
    with pytest.raises(TaskAlreadyRunning) as running:
        submit.submit_main("test.steps", {})
    assert running.value.task_id == task_id


def test_execute_runs_to_success_and_is_idempotent(env):
    task_id = submit.submit_main("test.steps", {"count": 3, "seconds": 0})
    runner.execute(task_id, 1)
    row = store.get(task_id)
    assert (row.status, row.progress, row.message) == ("SUCCESS", 100, "3 steps done")
    assert [line.split(" ", 1)[1] for line in row.log] == ["step 1", "step 2", "step 3"]
    runner.execute(task_id, 1)  # a duplicate delivery changes nothing
    assert store.get(task_id).finished_at == row.finished_at


def test_failure_is_recorded_with_its_reason(env):
    task_id = submit.submit_main("test.steps", {"count": 3, "seconds": 0, "fail_at": 1})
    runner.execute(task_id, 1)
    row = store.get(task_id)
    assert row.status == "FAILURE"
    assert row.message == "failed: RuntimeError: failing on purpose at step 1"
    assert row.progress == 33


def test_superseded_attempt_cannot_write(env):
    task_id = submit.submit_main("test.steps", {"count": 1, "seconds": 0})
    assert submit.enqueue(task_id, expected_attempts=1) == 2
    runner.execute(task_id, 1)  # the stale job
    assert store.get(task_id).status == "PENDING"
    assert store.write(task_id, 1, progress=50) is None
    runner.execute(task_id, 2)
    assert store.get(task_id).status == "SUCCESS"


def test_log_is_bounded(env, monkeypatch):
    monkeypatch.setenv("TASK_LOG_LINES", "10")
    import runtime
    runtime.init(migrate=False)
    task_id = submit.submit_main("test.steps", {"count": 25, "seconds": 0})
    runner.execute(task_id, 1)
    log = store.get(task_id).log
    assert len(log) == 10 and log[-1].endswith("step 25")


def test_reports_are_buffered_until_the_heartbeat(env):
    task_id = submit.submit_main("test.steps", {})
    store.claim(task_id, 1)
    ctx = runner.TaskContext(task_id, 1, {})
    for step in range(500):
        ctx.progress(step / 5, f"unit {step}")
        ctx.log(f"unit {step}")
    assert store.get(task_id).progress == 0  # nothing written yet: one UPDATE per heartbeat
    assert ctx.flush() == "PROGRESS"
    row = store.get(task_id)
    assert row.progress == 99 and row.message == "unit 499" and len(row.log) == 200


def test_cancel_revokes_the_tree_and_unqueues(env):
    parent_id = submit.submit_main("test.parent", {})
    store.claim(parent_id, 1)
    children = [submit.spawn_child(parent_id, "test.steps", f"k{n}", {})[0] for n in range(3)]
    assert submit.spawn_child(parent_id, "test.steps", "k0", {}) == (children[0], False)
    revoked = control.cancel(parent_id)
    assert set(revoked) == {parent_id, *children}
    assert {store.get(i).status for i in revoked} == {"REVOKED"}
    from rq import Queue
    from tasks.queues import redis_connection
    assert Queue("default", connection=redis_connection()).count == 0
    assert control.cancel(parent_id) == []


def test_revoked_task_stops_at_its_next_unit(env):
    import threading
    task_id = submit.submit_main("test.steps", {"count": 1000, "seconds": 0.05})
    thread = threading.Thread(target=runner.execute, args=(task_id, 1))
    thread.start()
    wait_for(lambda: store.get(task_id).progress > 0, message="progress")
    control.cancel(task_id)
    thread.join(timeout=5)
    assert not thread.is_alive()
    row = store.get(task_id)
    assert row.status == "REVOKED" and row.log[-1].endswith("stopped: task was cancelled")
