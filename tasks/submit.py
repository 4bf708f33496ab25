"""Creating tasks and handing them to RQ.

The RQ job id carries the attempt number, so each hand-over is a distinct
job and a superseded one can be told apart from the current one.
"""
from __future__ import annotations

import logging
import uuid

from redis.exceptions import RedisError

from tasks import queues, registry, store

log = logging.getLogger(__name__)

JOB_RESULT_TTL = 3600           # s: RQ's copy of a result is only for debugging
JOB_FAILURE_TTL = 7 * 24 * 3600


def rq_job_id(task_id: str, attempt: int) -> str:
    return f"{task_id}_a{attempt}"


def child_task_id(parent_id: str, key: str) -> str:
    """Deterministic, so re-running a parent finds the children it already made."""
    return str(uuid.uuid5(uuid.UUID(parent_id), key))


def enqueue(task_id: str, *, note: str | None = None, expected_attempts: int | None = None) -> int | None:
    """Count an attempt and push the job; returns the attempt, or None if the
    task is no longer live (or someone else re-queued it first).

    Everything needed comes from the task row, so the reconciler can re-queue
    any task without importing its code.  A Redis failure is logged, not
    raised: the row stays PENDING and the reconciler hands it over again.
    """
    row = store.next_attempt(task_id, expected_attempts, note)
    if row is None:
        return None
    try:
        queues.queue(row.queue).enqueue_call(
            "tasks.runner.execute", args=(task_id, row.attempts), job_id=rq_job_id(task_id, row.attempts),
            timeout=row.job_timeout, result_ttl=JOB_RESULT_TTL, failure_ttl=JOB_FAILURE_TTL,
            description=f"{row.type} {task_id} attempt {row.attempts}")
    except RedisError as error:
        log.warning("could not queue %s %s (the reconciler will retry): %s", row.type, task_id, error)
    return row.attempts


def submit_main(task_type: str, args: dict | None = None) -> str:
    """Start a main task.

    Raises store.TaskAlreadyRunning if one of its type is live, and TypeError
    when `args` do not fit the task function.
    """
    spec = registry.get(task_type)
    if not spec.main:
        raise ValueError(f"{task_type} cannot be started on its own")
    args = registry.check_args(spec, args or {})
    task_id = str(uuid.uuid4())
    store.create(task_id, task_type, spec.queue, spec.job_timeout, args, parent_id=None)
    enqueue(task_id)
    return task_id


def spawn_child(parent_id: str, task_type: str, key: str, args: dict) -> tuple[str, bool]:
    """Create and queue a child once; returns (child id, whether it is new).

    An existing child is left alone: finished ones are done, live ones are
    the reconciler's to watch.
    """
    spec = registry.get(task_type)
    child_id = child_task_id(parent_id, key)
    created = store.create(child_id, task_type, spec.queue, spec.job_timeout, args, parent_id=parent_id)
    if created:
        enqueue(child_id)
    return child_id, created
