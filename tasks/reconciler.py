"""Finds tasks nobody is running any more and re-queues or fails them.

Runs beside the workers (`python -m tasks.reconciler`) every
RECONCILE_INTERVAL_SECONDS.  A live task is judged dead when:
- it is running but its heartbeat is older than TASK_DEAD_AFTER_SECONDS (the
  whole worker died, or its host did);
- its RQ job ended (failed, stopped, finished) without the task reaching a
  final state (the work horse was killed);
- its RQ job vanished (Redis restarted or was flushed), or it was never queued.
A dead task is re-queued until it has had TASK_MAX_ATTEMPTS attempts, then
failed with the reason.  Revoked tasks still running after a grace period are
force-stopped, and live children of ended parents are revoked.  A database
advisory lock lets only one reconciler act at a time.

Jobs keep their temporary files in a folder of their own (`job_scratch_dir`);
a killed or force-stopped job cannot delete it, so every reconciler removes,
from its own machine's data dir, the folders of attempts no longer running.
"""
from __future__ import annotations

import logging
import shutil
import signal
import threading
from pathlib import Path

from redis.exceptions import RedisError
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import text

import runtime
from config import Settings
from db.session import engine
from tasks import control, queues, store, submit

log = logging.getLogger(__name__)

_LOCK_KEY = 0x52_45_43_4F  # arbitrary, constant: "the reconciler lock"
_ENDED = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED)
_REVOKED_WINDOW_SECONDS = 3600
STOP_GRACE_SECONDS = 10.0  # a revoked job gets this long to stop by itself


def _job_status(task_id: str, attempt: int) -> JobStatus | None:
    try:
        return Job.fetch(submit.rq_job_id(task_id, attempt), connection=queues.redis_connection()).get_status()
    except (NoSuchJobError, InvalidJobOperation):
        return None


def _force_stop(task_id: str, attempt: int) -> None:
    try:
        send_stop_job_command(queues.redis_connection(), submit.rq_job_id(task_id, attempt))
    except (RedisError, InvalidJobOperation, NoSuchJobError) as error:
        log.debug("stop command for %s not delivered: %s", task_id, error)


def _requeue_or_fail(row, reason: str, settings: Settings) -> str:
    if row.attempts >= settings.task_max_attempts:
        message = f"gave up after {row.attempts} attempts: {reason}"
        if store.end(row.id, "FAILURE", message, expected_attempts=row.attempts):
            control.cancel(row.id, "parent task failed")  # its live children, if any
            return f"failed {row.id}: {message}"
        return f"left {row.id}: it changed meanwhile"
    attempt = submit.enqueue(row.id, expected_attempts=row.attempts,
                             note=f"re-queued (attempt {row.attempts + 1}): {reason}")
    return f"re-queued {row.id} as attempt {attempt}: {reason}" if attempt else f"left {row.id}: it changed"


def _diagnose(row, settings: Settings) -> str | None:
    """Why a live task is dead, or None if it looks alive."""
    grace = settings.task_dead_after_seconds
    if row.attempts == 0:
        return "it was never queued" if row.age > grace else None
    status = _job_status(row.id, row.attempts)
    if row.status == "PENDING":
        if status is None and row.since_enqueued > grace:
            return "its job vanished from Redis"
        if status in _ENDED:
            return f"its job ended in RQ ({status.value}) before it started"
        return None
    if row.silent_for is None or row.silent_for > grace:
        _force_stop(row.id, row.attempts)
        return f"no heartbeat for {row.silent_for or 0:.0f} s: its worker died"
    if status is None:
        return "its job vanished from Redis"
    if status in _ENDED:
        return f"its job ended in RQ ({status.value}) without the task finishing: the worker was killed"
    return None


def reconcile_once(settings: Settings | None = None) -> list[str]:
    """One pass; returns a line per action taken (empty when all is well)."""
    settings = settings or runtime.settings()
    actions: list[str] = []
    for row in store.live_for_reconcile():
        reason = _diagnose(row, settings)
        if reason:
            actions.append(_requeue_or_fail(row, reason, settings))
    for orphan in store.live_children_of_ended_parents():
        if control.cancel(orphan, "parent task ended"):
            actions.append(f"revoked {orphan}: parent task ended")
    for row in store.recently_revoked(_REVOKED_WINDOW_SECONDS):
        status = _job_status(row.id, row.attempts)
        if status == JobStatus.STARTED and row.revoked_for > STOP_GRACE_SECONDS:
            _force_stop(row.id, row.attempts)
            actions.append(f"force-stopped {row.id}: still running {row.revoked_for:.0f} s after cancel")
        elif status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            control.drop_waiting_job(row.id, row.attempts)
    for line in actions:
        log.info("reconciler: %s", line)
    return actions


def _scratch_root() -> Path:
    return runtime.settings().sonarium_data_dir / "tmp"


def job_scratch_dir(task_id: str, attempt: int) -> Path:
    """Where one attempt of a task keeps temporary files: <data dir>/tmp/<task id>-<attempt>."""
    return _scratch_root() / f"{task_id}-{attempt}"


def sweep_scratch() -> list[str]:
    """Remove the scratch folders (and anything else in <data dir>/tmp) of attempts no longer
    running; returns the names removed."""
    root = _scratch_root()
    # Listed before the live tasks are read: a folder is made only after its job
    # claimed its attempt, so a folder seen here belongs to a row the read sees.
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return []
    if not entries:
        return []
    running = {job_scratch_dir(row.id, row.attempts).name for row in store.live_for_reconcile()}
    removed = []
    for entry in entries:
        if entry.name in running:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def run_forever(stop: threading.Event) -> None:
    settings = runtime.settings()
    with engine().connect() as lock_connection:
        while not stop.is_set():
            try:
                # Outside the lock: each machine's reconciler sweeps its own data dir.
                for name in sweep_scratch():
                    log.debug("reconciler: removed the temporary files of %s", name)
                got = lock_connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar()
                lock_connection.commit()
                if got:
                    try:
                        reconcile_once(settings)
                    finally:
                        lock_connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                        lock_connection.commit()
            except Exception:  # keep reconciling through database or Redis outages
                log.exception("reconcile pass failed")
                lock_connection.rollback()
            stop.wait(settings.reconcile_interval_seconds)


def main() -> None:
    runtime.init()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("reconciler running every %s s", runtime.settings().reconcile_interval_seconds)
    run_forever(stop)


if __name__ == "__main__":
    main()
