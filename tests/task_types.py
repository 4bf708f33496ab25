"""Task types used only by the tests: units of work whose length the test controls."""
from __future__ import annotations

from tasks import queues
from tasks.registry import task_type
from tasks.runner import TaskContext


@task_type("test.steps", queue=queues.DEFAULT, job_timeout=600, title="Test steps", main=True)
def steps(ctx: TaskContext, count: int = 10, seconds: float = 0.1, fail_at: int | None = None) -> str:
    for step in range(count):
        ctx.check_cancelled()
        if step == fail_at:
            raise RuntimeError(f"failing on purpose at step {step}")
        ctx.log(f"step {step + 1}")
        ctx.progress(100 * (step + 1) / count, f"step {step + 1}/{count}")
        ctx.wait(seconds)  # one unit of work; wakes at once when the task is revoked
    return f"{count} steps done"


@task_type("test.parent", queue=queues.HIGH, job_timeout=600, title="Test parent", main=True)
def parent(ctx: TaskContext, children: int = 4, count: int = 100, seconds: float = 0.1) -> str:
    counts = ctx.run_children("test.steps", ((f"child-{n}", {"count": count, "seconds": seconds})
                                             for n in range(children)), total=children)
    return f"children: {counts}"


@task_type("test.stubborn", queue=queues.DEFAULT, job_timeout=600, title="Test stubborn", main=True)
def stubborn(ctx: TaskContext, seconds: float = 60) -> str:
    """Never checks for cancellation: only a force-stop ends it early."""
    import time
    ctx.progress(1, "busy")
    time.sleep(seconds)
    return "finished anyway"
