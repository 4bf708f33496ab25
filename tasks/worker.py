"""An RQ worker process: `python -m tasks.worker QUEUE [QUEUE ...] [--import MODULE]`.

Each job runs in a forked work horse, so a crash or a memory leak in one job
cannot take the worker down; the task modules are imported, and warmed up,
once, before the first job, so every horse inherits them.  That happens after
the worker has registered with RQ: a start is healthy (every queue has a
worker) within seconds, and jobs simply wait in the queue until the warm-up
is done.  A short worker TTL makes a dead worker disappear from the health
report within 30 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import threading
import time
from typing import Callable

from rq import Worker

import runtime
from tasks import queues, registry

WORKER_TTL_SECONDS = 30
JOB_MONITORING_INTERVAL_SECONDS = 5
_PREPARE_NICENESS = 10


class PromptStopWorker(Worker):
    """Stops at the first SIGTERM/SIGINT, taking its work horse down with it.

    RQ's default waits for the running job, and the horse lives in a session
    of its own, out of reach of supervisord's group kill: a long job would
    delay shutdown and then outlive it.  Jobs are idempotent, so the task is
    simply re-queued by the reconciler.

    `prepare` runs once, after the worker has registered and before it takes
    its first job.
    """

    def __init__(self, *args, prepare: Callable[[], None], **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare = prepare

    def request_stop(self, signum, frame):
        # RQ ignores a "second" signal within 1 s of the first; there is no first here.
        self._shutdown_requested_date = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
        self.request_force_stop(signum, frame)

    def bootstrap(self, *args, **kwargs):
        super().bootstrap(*args, **kwargs)
        started = time.monotonic()
        failed: list[BaseException] = []

        def prepare():
            # Niced (the nice value is per thread on Linux): a first start's compile
            # must not slow the web app, which is already answering by then.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _PREPARE_NICENESS)
            try:
                self._prepare()
            except BaseException as error:  # re-raised below, in the worker's own thread
                failed.append(error)
        # A first start compiles for longer than the worker TTL: keep the worker's
        # heartbeat going meanwhile, or it would drop out of the health report.
        preparing = threading.Thread(target=prepare, name="warm-up", daemon=True)
        preparing.start()
        while preparing.is_alive():
            preparing.join(WORKER_TTL_SECONDS / 3)
            self.heartbeat()
        if failed:
            self.register_death()  # it cannot run jobs: out of the health report at once
            raise failed[0]
        self.log.info("Worker %s: task modules ready in %.1f s", self.name, time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("queues", nargs="+", choices=queues.ALL_QUEUES)
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        help="extra module defining task types (tests)")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    options = parser.parse_args(argv)
    # With numba's default OpenMP layer, a work horse forked from a worker that has run parallel numba
    # code (a UMAP fit, as a warm-up would) dies ("fork() called from a process already using GNU
    # OpenMP"); numba's own thread pool does not.  Set before the task modules import numba.
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    settings = runtime.init()

    def prepare():
        registry.load_task_modules(tuple(options.imports))
        if set(options.queues) & {queues.DEFAULT, queues.CLUSTERING}:
            registry.warm_up()  # every forked work horse inherits the compiled code
    worker = PromptStopWorker([queues.queue(name) for name in options.queues], connection=queues.redis_connection(),
                              worker_ttl=WORKER_TTL_SECONDS, job_monitoring_interval=JOB_MONITORING_INTERVAL_SECONDS,
                              prepare=prepare)
    worker.work(burst=options.burst, logging_level=settings.log_level, with_scheduler=False)


if __name__ == "__main__":
    main()
