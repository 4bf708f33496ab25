"""An RQ worker process: `python -m tasks.worker QUEUE [QUEUE ...] [--import MODULE]`.

Each job runs in a forked work horse, so a crash or a memory leak in one job
cannot take the worker down; the task modules are imported once, before
forking.  A short worker TTL makes a dead worker disappear from the health
report within 30 s.
"""
from __future__ import annotations

import argparse
import datetime as dt

from rq import Worker

import runtime
from tasks import queues, registry

WORKER_TTL_SECONDS = 30
JOB_MONITORING_INTERVAL_SECONDS = 5


class PromptStopWorker(Worker):
    """Stops at the first SIGTERM/SIGINT, taking its work horse down with it.

    RQ's default waits for the running job, and the horse lives in a session
    of its own, out of reach of supervisord's group kill: a long job would
    delay shutdown and then outlive it.  Jobs are idempotent, so the task is
    simply re-queued by the reconciler.
    """

    def request_stop(self, signum, frame):
        # RQ ignores a "second" signal within 1 s of the first; there is no first here.
        self._shutdown_requested_date = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
        self.request_force_stop(signum, frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("queues", nargs="+", choices=queues.ALL_QUEUES)
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        help="extra module defining task types (tests)")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    options = parser.parse_args(argv)
    settings = runtime.init()
    registry.load_task_modules(tuple(options.imports))
    if set(options.queues) & {queues.DEFAULT, queues.CLUSTERING}:
        registry.warm_up()  # every forked work horse inherits the compiled code
    worker = PromptStopWorker([queues.queue(name) for name in options.queues], connection=queues.redis_connection(),
                    worker_ttl=WORKER_TTL_SECONDS, job_monitoring_interval=JOB_MONITORING_INTERVAL_SECONDS)
    worker.work(burst=options.burst, logging_level=settings.log_level, with_scheduler=False)


if __name__ == "__main__":
    main()
