"""Long-running work: a task framework on RQ, with PostgreSQL as the one source of truth.

- `tasks.store`: every SQL statement on task rows.
- `tasks.submit`: creating tasks and handing them to RQ (`rq_job_id` fences attempts).
- `tasks.runner`: the RQ entry point and the `TaskContext` a task function receives.
- `tasks.control`: cancelling a task tree.
- `tasks.reconciler`: re-queues or fails tasks whose job vanished or whose worker died.
- `tasks.worker`: the worker process command.
- Task types register themselves with `tasks.registry.task_type`; `TASK_MODULES`
  lists the modules that define them.
"""
TASK_MODULES = ("tasks.library_scan", "tasks.analysis", "tasks.clustering", "tasks.map")
