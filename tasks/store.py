"""Every SQL statement on task rows.

State changes are conditional on the row's `attempts` (a fencing token): when
the reconciler re-queues a task it bumps `attempts`, and any write from the
superseded run matches no row, so a zombie job can never overwrite the new
run's state.  Status changes out of a terminal state never happen.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from db.models import LIVE_STATUSES, Task
from db.session import session_scope

_LIVE = "(" + ", ".join(f"'{status}'" for status in LIVE_STATUSES) + ")"  # for SQL text


class TaskAlreadyRunning(Exception):
    """A live main task of this type exists; `task_id` names it."""

    def __init__(self, task_type: str, task_id: str | None):
        super().__init__(f"a {task_type} task is already running")
        self.task_type = task_type
        self.task_id = task_id


class ParentEnded(Exception):
    """A child cannot be created: its parent is no longer live."""


def create(task_id: str, task_type: str, queue: str, job_timeout: int, args: dict,
           parent_id: str | None) -> bool:
    """Insert a PENDING task; False if a task with this id already exists.

    A child is only inserted while its parent is live, so a cancelled parent
    racing its own loop cannot add children after the cancel.

    Raises TaskAlreadyRunning for a second live main task of a type, and
    ParentEnded for a child of a parent that ended.
    """
    params = {"id": task_id, "parent": parent_id, "type": task_type, "queue": queue,
              "timeout": job_timeout, "args": json.dumps(args)}
    try:
        with session_scope() as session:
            created = session.execute(text(
                "INSERT INTO task (id, parent_id, type, queue, job_timeout, args) "
                "SELECT :id, :parent, :type, :queue, :timeout, CAST(:args AS jsonb) "
                "WHERE CAST(:parent AS text) IS NULL OR EXISTS ("
                f"  SELECT 1 FROM task WHERE id = :parent AND status IN {_LIVE}) "
                "ON CONFLICT (id) DO NOTHING RETURNING id"), params).first()
            if created is None and parent_id is not None:
                parent_live = session.scalar(text(
                    f"SELECT status IN {_LIVE} FROM task WHERE id = :parent"), params)
                if not parent_live:
                    raise ParentEnded(parent_id)
            return created is not None
    except IntegrityError as error:
        if "task_one_live_main_per_type" not in str(error.orig):
            raise
        raise TaskAlreadyRunning(task_type, live_main_task_id(task_type)) from None


def live_main_task_id(task_type: str) -> str | None:
    with session_scope() as session:
        return session.scalar(text(
            f"SELECT id FROM task WHERE type = :type AND parent_id IS NULL AND status IN {_LIVE}"),
            {"type": task_type})


def next_attempt(task_id: str, expected_attempts: int | None = None, note: str | None = None) -> Any:
    """Count one more hand-over to RQ and reset the row to PENDING.

    With `expected_attempts`, only if nobody else re-queued it meanwhile.
    Returns (attempts, type, queue, job_timeout), or None if the task is no longer live.
    """
    with session_scope() as session:
        return session.execute(text(
            "UPDATE task SET attempts = attempts + 1, enqueued_at = now(), status = 'PENDING', "
            "heartbeat_at = NULL, "
            "log = CASE WHEN CAST(:note AS text) IS NULL THEN log ELSE log || CAST(:note AS text) END "
            f"WHERE id = :id AND status IN {_LIVE} "
            "AND (CAST(:expected AS integer) IS NULL OR attempts = :expected) "
            "RETURNING attempts, type, queue, job_timeout"),
            {"id": task_id, "expected": expected_attempts, "note": stamp(note) if note else None}).first()


def claim(task_id: str, attempt: int) -> Task | None:
    """Mark the task STARTED for this attempt; None if it is not ours to run."""
    with session_scope() as session:
        row = session.execute(text(
            "UPDATE task SET status = 'STARTED', started_at = coalesce(started_at, now()), "
            "heartbeat_at = now() "
            f"WHERE id = :id AND attempts = :attempt AND status IN {_LIVE} RETURNING id"),
            {"id": task_id, "attempt": attempt}).first()
        return session.get(Task, task_id) if row else None


def write(task_id: str, attempt: int, *, progress: int | None = None, message: str | None = None,
          lines: Iterable[str] = (), details: dict | None = None, final_status: str | None = None,
          keep_lines: int = 200) -> str | None:
    """Heartbeat plus buffered progress, message, log lines and details, in one statement.

    `final_status` ends the task (only from a live state).  Returns the row's
    status after the write, or None when this attempt has been superseded.
    """
    with session_scope() as session:
        return session.scalar(text(
            "UPDATE task SET heartbeat_at = now(), "
            "progress = CASE WHEN status NOT IN " + _LIVE + " THEN progress "
            "  WHEN CAST(:final AS text) = 'SUCCESS' THEN 100 "
            "  ELSE coalesce(CAST(:progress AS smallint), progress) END, "
            "message = CASE WHEN status IN " + _LIVE + " THEN coalesce(CAST(:message AS text), message) "
            "  ELSE message END, "
            "log = (log || CAST(:lines AS text[]))"
            "  [greatest(1, cardinality(log || CAST(:lines AS text[])) - :keep + 1):], "
            "details = details || CAST(:details AS jsonb), "
            "status = CASE WHEN status NOT IN " + _LIVE + " THEN status "
            "  WHEN CAST(:final AS text) IS NOT NULL THEN CAST(:final AS text) "
            "  WHEN status = 'STARTED' AND CAST(:progress AS smallint) IS NOT NULL THEN 'PROGRESS' "
            "  ELSE status END, "
            "finished_at = CASE WHEN status IN " + _LIVE + " AND CAST(:final AS text) IS NOT NULL "
            "  THEN now() ELSE finished_at END "
            "WHERE id = :id AND attempts = :attempt RETURNING status"),
            {"id": task_id, "attempt": attempt, "progress": progress, "message": message,
             "lines": list(lines), "details": json.dumps(details or {}), "final": final_status,
             "keep": keep_lines})


def end(task_id: str, status: str, message: str, expected_attempts: int | None = None) -> bool:
    """End a live task from outside its job (reconciler, cancellation)."""
    with session_scope() as session:
        row = session.execute(text(
            "UPDATE task SET status = :status, message = :message, finished_at = now(), "
            "log = log || CAST(:line AS text) "
            f"WHERE id = :id AND status IN {_LIVE} "
            "AND (CAST(:expected AS integer) IS NULL OR attempts = :expected) RETURNING id"),
            {"id": task_id, "status": status, "message": message, "line": stamp(message),
             "expected": expected_attempts}).first()
        return row is not None


def revoke_tree(task_id: str, reason: str) -> list[tuple[str, int]]:
    """Mark a task and all its live descendants REVOKED; returns (id, attempts) of each."""
    with session_scope() as session:
        rows = session.execute(text(
            "WITH RECURSIVE tree AS ("
            "  SELECT id FROM task WHERE id = :id"
            "  UNION ALL SELECT t.id FROM task t JOIN tree ON t.parent_id = tree.id) "
            "UPDATE task SET status = 'REVOKED', finished_at = now(), message = :reason, "
            "log = log || CAST(:line AS text) "
            f"WHERE id IN (SELECT id FROM tree) AND status IN {_LIVE} RETURNING id, attempts"),
            {"id": task_id, "reason": reason, "line": stamp(reason)}).all()
        return [(row.id, row.attempts) for row in rows]


def get(task_id: str) -> Task | None:
    with session_scope() as session:
        return session.get(Task, task_id)


def child_counts(parent_id: str) -> dict[str, int]:
    return child_summary(parent_id)[0]


def child_summary(parent_id: str) -> tuple[dict[str, int], int]:
    """Children counted by status, and the sum of their progress (ended ones count 100)."""
    with session_scope() as session:
        rows = session.execute(text(
            "SELECT status, count(*) AS n, "
            f"sum(CASE WHEN status IN {_LIVE} THEN progress ELSE 100 END) AS done "
            "FROM task WHERE parent_id = :id GROUP BY status"), {"id": parent_id}).all()
        return {row.status: row.n for row in rows}, int(sum(row.done for row in rows))


def children(parent_id: str, statuses: tuple[str, ...] | None = None, limit: int = 100) -> list[Task]:
    with session_scope() as session:
        query = session.query(Task).filter(Task.parent_id == parent_id)
        if statuses:
            query = query.filter(Task.status.in_(statuses))
        return query.order_by(Task.created_at).limit(limit).all()


def sum_child_details(parent_id: str, numeric_keys: tuple[str, ...], *, finished_only: bool = True
                      ) -> dict[str, float]:
    """Totals of numeric detail fields over a parent's successful children, or
    over all of them (running, failed and cancelled too) without `finished_only`."""
    select_list = ", ".join(
        f"coalesce(sum((details ->> '{key}')::numeric), 0) AS \"{key}\"" for key in numeric_keys)
    with session_scope() as session:
        row = session.execute(text(
            f"SELECT {select_list} FROM task WHERE parent_id = :id "
            "AND (status = 'SUCCESS' OR NOT :finished_only)"),
            {"id": parent_id, "finished_only": finished_only}).first()
        return {key: float(row._mapping[key]) for key in numeric_keys}


def live_main_tasks() -> list[Task]:
    with session_scope() as session:
        return (session.query(Task).filter(Task.parent_id.is_(None), Task.status.in_(LIVE_STATUSES))
                .order_by(Task.created_at).all())


def last_finished_main_task(task_type: str | None = None) -> Task | None:
    with session_scope() as session:
        query = session.query(Task).filter(Task.parent_id.is_(None), Task.status.notin_(LIVE_STATUSES))
        if task_type:
            query = query.filter(Task.type == task_type)
        return query.order_by(Task.finished_at.desc().nulls_last()).first()


def recently_revoked(within_seconds: float) -> list[Any]:
    """REVOKED tasks ended within the window, with seconds since they were revoked."""
    with session_scope() as session:
        return session.execute(text(
            "SELECT id, attempts, extract(epoch FROM now() - finished_at) AS revoked_for FROM task "
            "WHERE status = 'REVOKED' AND finished_at > now() - make_interval(secs => :window)"),
            {"window": within_seconds}).all()


def live_children_of_ended_parents() -> list[str]:
    with session_scope() as session:
        return list(session.scalars(text(
            "SELECT c.id FROM task c JOIN task p ON p.id = c.parent_id "
            f"WHERE c.status IN {_LIVE} AND p.status NOT IN {_LIVE}")))


def live_for_reconcile() -> list[Any]:
    """Live tasks with ages computed by the database clock (workers may run on other hosts)."""
    with session_scope() as session:
        return session.execute(text(
            "SELECT id, parent_id, type, queue, status, attempts, enqueued_at, "
            "extract(epoch FROM now() - created_at) AS age, "
            "extract(epoch FROM now() - coalesce(enqueued_at, created_at)) AS since_enqueued, "
            "extract(epoch FROM now() - heartbeat_at) AS silent_for "
            f"FROM task WHERE status IN {_LIVE} ORDER BY created_at")).all()


def stamp(line: str) -> str:
    """A log line prefixed with its UTC time."""
    return dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S ") + line


def sum_child_detail_map(parent_id: str, field: str) -> dict[str, int]:
    """Per-key totals of a {key: count} detail field over successful children."""
    with session_scope() as session:
        rows = session.execute(text(
            "SELECT entry.key, sum(entry.value::numeric) AS n FROM task, "
            "jsonb_each_text(coalesce(task.details -> :field, '{}'::jsonb)) AS entry "
            "WHERE task.parent_id = :id AND task.status = 'SUCCESS' GROUP BY entry.key ORDER BY n DESC"),
            {"id": parent_id, "field": field}).all()
        return {row.key: int(row.n) for row in rows}


def collect_child_detail_lists(parent_id: str, field: str, limit: int) -> list[Any]:
    """The first `limit` entries of a list-valued detail field over all of a parent's children."""
    with session_scope() as session:
        return list(session.scalars(text(
            "SELECT entry FROM task, jsonb_array_elements(coalesce(task.details -> :field, '[]'::jsonb)) AS entry "
            "WHERE task.parent_id = :id ORDER BY task.created_at LIMIT :limit"),
            {"id": parent_id, "field": field, "limit": limit}))
