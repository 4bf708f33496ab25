"""Home page and task API.

Routes and their errors (starting and cancelling need an admin: 403 for a listener):
- GET  /                       home page (watch tasks; admins also start and cancel them)
- GET  /api/task_types         main task types a user may start
- POST /api/tasks              {"type": ..., "args": {...}} -> 202 {task_id};
                               400 bad body or unknown type, 409 one of that type is already running
- GET  /api/status/<task_id>   the task with its children summary; 404 unknown id
- POST /api/cancel/<task_id>   revoke it and its children; 404 unknown id, 409 already ended
- GET  /api/active_tasks       live main tasks with their children
- GET  /api/last_result        the last ended main task (?type=...); 404 when none has ended
"""
from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, jsonify, render_template, request
from pydantic import BaseModel, Field, RootModel

from api_contract import Anything, Strict, answers, spec
from api_errors import api_error
from auth.policy import admin_only
from db.models import LIVE_STATUSES
from tasks import control, registry, store, submit
from tasks.serialize import task_json

bp = Blueprint("tasks", __name__)
_TASK_ID_MAX = 64


class StartTask(Strict):
    type: Annotated[str, Field(max_length=64, examples=["library_scan"])]
    args: dict[str, Any] = Field(default_factory=dict, description="the task type's arguments, typed per type")


class TaskKind(BaseModel):
    type: str
    title: str


class TaskStarted(BaseModel):
    task_id: str
    status_url: str


class LastResultQuery(BaseModel):
    type: Annotated[str, Field(max_length=64)] | None = None


def _known_task(task_id: str):
    if len(task_id) > _TASK_ID_MAX:
        return None
    return store.get(task_id)


@bp.get("/")
def home():
    return render_template("home.html", task_types=registry.main_types())


@bp.get("/api/task_types")
@spec.validate(resp=answers(RootModel[list[TaskKind]]))
def task_types():
    return jsonify([{"type": t.name, "title": t.title} for t in registry.main_types()])


@bp.post("/api/tasks")
@admin_only
@spec.validate(json=StartTask, resp=answers(TaskStarted, 409, status=202))
def start_task():
    body = request.context.json
    startable = {t.name for t in registry.main_types()}
    if body.type not in startable:
        return api_error(400, f"unknown task type {body.type!r}", known=sorted(startable))
    try:
        task_id = submit.submit_main(body.type, body.args)
    except store.TaskAlreadyRunning as running:
        return api_error(409, str(running), task_id=running.task_id)
    except TypeError as error:
        return api_error(400, f"bad args: {error}")
    return jsonify({"task_id": task_id, "status_url": f"/api/status/{task_id}"}), 202


@bp.get("/api/status/<task_id>")
@spec.validate(resp=answers(Anything, 404))
def status(task_id: str):
    task = _known_task(task_id)
    if task is None:
        return api_error(404, f"no task {task_id}")
    return jsonify(task_json(task, with_children=True))


@bp.post("/api/cancel/<task_id>")
@admin_only
@spec.validate(resp=answers(Anything, 404, 409))
def cancel(task_id: str):
    task = _known_task(task_id)
    if task is None:
        return api_error(404, f"no task {task_id}")
    if task.status not in LIVE_STATUSES:
        return api_error(409, f"task {task_id} already ended ({task.status})")
    revoked = control.cancel(task_id)
    return jsonify({"task_id": task_id, "revoked": revoked})


@bp.get("/api/active_tasks")
@spec.validate(resp=answers(RootModel[list[dict[str, Any]]]))
def active_tasks():
    return jsonify([task_json(t, with_children=True, log_lines=20) for t in store.live_main_tasks()])


@bp.get("/api/last_result")
@spec.validate(query=LastResultQuery, resp=answers(Anything, 404))
def last_result():
    task = store.last_finished_main_task(request.context.query.type)
    if task is None:
        return api_error(404, "no task has finished yet")
    return jsonify(task_json(task, with_children=True, log_lines=50))
