"""The one place that turns task rows into API JSON."""
from __future__ import annotations

import datetime as dt
from typing import Any

from db.models import LIVE_STATUSES, Task
from tasks import registry, store

CHILDREN_SHOWN = 20


def _time(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _title(task_type: str) -> str:
    try:
        return registry.get(task_type).title
    except KeyError:
        return task_type


def task_json(task: Task, *, with_children: bool = False, log_lines: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": task.id,
        "parent_id": task.parent_id,
        "type": task.type,
        "title": _title(task.type),
        "status": task.status,
        "live": task.status in LIVE_STATUSES,
        "progress": task.progress,
        "message": task.message,
        "log": task.log[-log_lines:] if log_lines else task.log,
        "details": task.details,
        "attempts": task.attempts,
        "created_at": _time(task.created_at),
        "started_at": _time(task.started_at),
        "finished_at": _time(task.finished_at),
    }
    if with_children:
        counts = store.child_counts(task.id)
        data["children"] = {
            "counts": counts,
            "total": sum(counts.values()),
            "running": [task_json(c, log_lines=3) for c in
                        store.children(task.id, ("STARTED", "PROGRESS"), CHILDREN_SHOWN)],
            "failed": [task_json(c, log_lines=3) for c in
                       store.children(task.id, ("FAILURE",), CHILDREN_SHOWN)],
        }
    return data
