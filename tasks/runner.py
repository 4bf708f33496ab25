"""The RQ entry point and the context a task function works through.

A task function is `fn(ctx, **args)`.  It reports through `ctx.progress()`,
`ctx.log()` and `ctx.set_details()`, which only buffer: a heartbeat thread
writes the buffer, the heartbeat and reads the task's status in one UPDATE
every TASK_HEARTBEAT_SECONDS, so a busy job costs the database one statement
per period however often it reports.  Between units of work the function
calls `ctx.check_cancelled()`, which raises once the task was revoked (or this
attempt superseded), so its `finally` blocks clean up.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable

import runtime
from db.models import LIVE_STATUSES, TERMINAL_STATUSES
from tasks import registry, store, submit

log = logging.getLogger(__name__)

_WAIT_POLL_SECONDS = 0.5


class TaskRevoked(Exception):
    """The task was cancelled; raised by `check_cancelled` to unwind the job."""


class TaskSuperseded(TaskRevoked):
    """The reconciler re-queued this task; this run must stop without writing."""


class TaskContext:
    def __init__(self, task_id: str, attempt: int, args: dict):
        settings = runtime.settings()
        self.task_id = task_id
        self.attempt = attempt
        self.args = args
        self._interval = settings.task_heartbeat_seconds
        self._keep_lines = settings.task_log_lines
        self.max_queued_children = settings.max_queued_children
        self._lock = threading.Lock()
        self._progress: int | None = None
        self._message: str | None = None
        self._lines: list[str] = []
        self._details: dict[str, Any] = {}
        self._revoked = threading.Event()
        self._superseded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{task_id}", daemon=True)

    # -- reporting (buffered) -------------------------------------------
    def progress(self, percent: float | None, message: str | None = None) -> None:
        """Report percent done (None keeps the last value) and a status message."""
        with self._lock:
            if percent is not None:
                self._progress = max(0, min(100, int(percent)))
            if message is not None:
                self._message = message

    def log(self, line: str) -> None:
        with self._lock:
            self._lines.append(store.stamp(line))
            del self._lines[:-self._keep_lines]

    def set_details(self, **values: Any) -> None:
        with self._lock:
            self._details.update(values)

    # -- cancellation ----------------------------------------------------
    @property
    def revoked(self) -> bool:
        return self._revoked.is_set()

    def check_cancelled(self) -> None:
        if self._superseded:
            raise TaskSuperseded(self.task_id)
        if self._revoked.is_set():
            raise TaskRevoked(self.task_id)

    def wait(self, seconds: float) -> None:
        """Sleep that wakes up and raises as soon as the task is revoked."""
        self._revoked.wait(seconds)
        self.check_cancelled()

    # -- children ----------------------------------------------------------
    def run_children(self, task_type: str, items: Iterable[tuple[str, dict]], total: int | None = None,
                     on_progress: Callable[[dict[str, int]], None] | None = None) -> dict[str, int]:
        """Spawn one child per (key, args), keeping at most `max_queued_children`
        live at once, and wait for all of them.  Returns counts by status.

        Children are idempotent by key: a re-run parent skips the ones done.
        """
        def report() -> dict[str, int]:
            counts, progress_sum = store.child_summary(self.task_id)
            done = sum(counts.get(s, 0) for s in TERMINAL_STATUSES)
            if total:
                self.progress(progress_sum / total, f"{done} of {total} done")
            if on_progress:
                on_progress(counts)
            return counts

        for key, args in items:
            self.check_cancelled()
            while _live(report()) >= self.max_queued_children:
                self.wait(_WAIT_POLL_SECONDS)
            try:
                submit.spawn_child(self.task_id, task_type, key, args)
            except store.ParentEnded:
                self.flush()  # learn whether we were revoked or superseded
                self.check_cancelled()
                raise TaskRevoked(self.task_id) from None
        while _live(counts := report()):
            self.wait(_WAIT_POLL_SECONDS)
        return counts

    # -- heartbeat ---------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # a database hiccup must not kill the job; the reconciler judges
                log.warning("heartbeat of task %s failed", self.task_id, exc_info=True)

    def flush(self, final_status: str | None = None) -> str | None:
        with self._lock:
            pending = dict(progress=self._progress, message=self._message, lines=self._lines,
                           details=self._details)
            self._progress, self._message, self._lines, self._details = None, None, [], {}
        status = store.write(self.task_id, self.attempt, final_status=final_status,
                             keep_lines=self._keep_lines, **pending)
        if status is None:
            self._superseded = True
            self._revoked.set()
        elif status == "REVOKED":
            self._revoked.set()
        return status

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)


def _live(counts: dict[str, int]) -> int:
    return sum(counts.get(s, 0) for s in LIVE_STATUSES)


def execute(task_id: str, attempt: int) -> None:
    """Run one attempt of a task (the function every RQ job calls).

    A job whose attempt is stale, or whose task already ended, does nothing:
    jobs are idempotent by (task id, attempt).
    """
    row = store.claim(task_id, attempt)
    if row is None:
        log.info("task %s attempt %s is not live any more; nothing to do", task_id, attempt)
        return
    ctx = TaskContext(task_id, attempt, row.args)
    ctx.start()
    try:
        spec = registry.get(row.type)
        message = spec.function(ctx, **row.args)
        ctx.progress(100, message or "done")
        ctx.flush(final_status="SUCCESS")
    except TaskSuperseded:
        log.warning("task %s attempt %s was superseded; stopping", task_id, attempt)
    except TaskRevoked:
        ctx.log("stopped: task was cancelled")
        ctx.flush()
    except Exception as error:
        log.exception("task %s (%s) failed", task_id, row.type)
        ctx.log(f"failed: {type(error).__name__}: {error}")
        ctx.progress(None, f"failed: {type(error).__name__}: {error}")
        ctx.flush(final_status="FAILURE")
    finally:
        ctx.stop()
