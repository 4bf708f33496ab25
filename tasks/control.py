"""Cancelling a task tree."""
from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from tasks import queues, store
from tasks.submit import rq_job_id

log = logging.getLogger(__name__)

_WAITING = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def cancel(task_id: str, reason: str = "cancelled by user") -> list[str]:
    """Revoke a task and its live descendants; returns the ids revoked.

    Queued jobs are removed from RQ at once.  Running ones see the REVOKED
    status at their next heartbeat and stop at their next unit of work; the
    reconciler force-stops any that are still running after a grace period.
    """
    revoked = store.revoke_tree(task_id, reason)
    for revoked_id, attempts in revoked:
        drop_waiting_job(revoked_id, attempts)
    return [revoked_id for revoked_id, _ in revoked]


def drop_waiting_job(task_id: str, attempt: int) -> None:
    """Take a job off its queue if it has not started; Redis errors are logged."""
    if attempt < 1:
        return
    try:
        job = Job.fetch(rq_job_id(task_id, attempt), connection=queues.redis_connection())
        if job.get_status() in _WAITING:
            job.cancel()
    except (NoSuchJobError, InvalidJobOperation):
        pass
    except RedisError as error:
        log.warning("could not drop the queued job of task %s: %s", task_id, error)
