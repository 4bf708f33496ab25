"""Automatic playlists: the page and JSON API of the clustering search (tasks/clustering.py).

Routes and their errors:
- GET  /clustering               the page: presets and advanced parameters, live progress, the
                                 playlists as cards, push all or some, what the search does
- POST /api/clustering           (admin) {"preset": "quick"|"thorough", "runs", "algorithms",
                                 "min_size", "max_size", "playlists", "max_per_artist", "seed",
                                 "ai_names", "push"} (all optional) starts a run: 202 {task_id,
                                 status_url}; 400 a bad parameter or min_size > max_size;
                                 403 for a listener; 409 a run is already going (its task_id given)
- GET  /api/clustering           the live run (if any) and the current playlists: {"running": task
                                 or null, "last": the last ended run or null (each with only the
                                 details the page shows), "playlists": [{"id",
                                 "name", "size", "profile", "reason", "status": "kept"|"added",
                                 "tracks": [track]}], "retired": [{"id", "name"}], "naming"}
- GET  /api/clustering/runs      ?task_id= (default: the newest run): every scored run of the search,
                                 best first, with its configuration and score breakdown; 404 no run
- POST /api/clustering/push      {"playlist_ids": [...]} (omitted: all) pushes the current playlists;
                                 pushing all also deletes the retired ones Sonarium had pushed:
                                 200 {"pushed", "failed", "deleted"} (a media server's refusal is
                                 reported per playlist under "failed"); 400 ids not in the current
                                 set; 409 no playlists yet
"""
from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, jsonify, render_template, request
from pydantic import BaseModel, Field

import settings_store
from api_contract import Anything, Strict, answers, spec
from api_errors import api_error
from auth.policy import admin_only
from db import clustering as results
from db.models import LIVE_STATUSES
from similarity import clustering
from tasks import registry, store, submit
from tasks.clustering import run_clustering
from tasks.serialize import task_json

bp = Blueprint("clustering", __name__)

TASK_TYPE = "clustering"
_RUNS_SHOWN = 1000
# What the page needs of a run's details; the elites and history stay in /api/status.
_DETAILS_SHOWN = ("seed", "tracks", "runs_finished", "runs_total", "eta_seconds", "generation", "best", "result",
                  "pushed")


def _start_model() -> type[BaseModel]:
    """The body of POST /api/clustering: exactly the task's own arguments, as the task declares them."""
    model = registry.args_model(run_clustering)
    return type("StartClustering", (model,), {"__doc__": "Parameters of a clustering run; all optional."})


StartClustering = _start_model()


class RunsQuery(BaseModel):
    task_id: Annotated[str, Field(max_length=64)] | None = None


class PushBody(Strict):
    playlist_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(min_length=1, max_length=500)] \
        | None = None


def _track_json(row) -> dict:
    return {"item_id": row.item_id, "title": row.title, "artist": row.artist, "album": row.album}


def _run_json(task) -> dict | None:
    if task is None:
        return None
    shown = task_json(task, log_lines=30)
    shown["details"] = {key: shown["details"][key] for key in _DETAILS_SHOWN if key in shown["details"]}
    return shown


def _current() -> dict:
    task_id = results.current_task_id()
    playlists = results.playlists_of(task_id)
    rows = results.track_rows([t for p in playlists for t in p.track_ids])
    task = store.get(task_id) if task_id else None
    result = (task.details or {}).get("result", {}) if task else {}
    return {
        "task_id": task_id,
        "playlists": [_playlist_json(p, [_track_json(rows[t]) for t in p.track_ids if t in rows]) for p in playlists],
        "retired": result.get("retired", []),
        "naming": result.get("naming"),
    }


def _playlist_json(playlist: results.StoredPlaylist, tracks: list[dict]) -> dict:
    """One card; its size counts the songs still in the library (a deleted track drops out)."""
    return {"id": playlist.id, "name": playlist.name, "size": len(tracks), "profile": playlist.params.get("profile"),
            "reason": playlist.params.get("reason"),
            "status": "kept" if playlist.params.get("previous_id") else "added", "tracks": tracks}


@bp.get("/clustering")
def page():
    return render_template("clustering.html", presets=clustering.PRESETS, algorithms=clustering.ALGORITHMS)


@bp.post("/api/clustering")
@admin_only
@spec.validate(json=StartClustering, resp=answers(Anything, 409, status=202))
def start():
    body = request.context.json.model_dump(exclude_none=True)
    if body.get("min_size") and body.get("max_size") and body["min_size"] > body["max_size"]:
        return api_error(400, "min_size must not be larger than max_size")
    try:
        task_id = submit.submit_main(TASK_TYPE, body)
    except store.TaskAlreadyRunning as running:
        return api_error(409, "an automatic-playlist run is already going", task_id=running.task_id)
    return jsonify({"task_id": task_id, "status_url": f"/api/status/{task_id}"}), 202


@bp.get("/api/clustering")
@spec.validate(resp=answers(Anything))
def overview():
    running_id = store.live_main_task_id(TASK_TYPE)
    running = store.get(running_id) if running_id else None
    last = store.last_finished_main_task(TASK_TYPE)
    return jsonify({"running": _run_json(running), "last": _run_json(last), **_current()})


@bp.get("/api/clustering/runs")
@spec.validate(query=RunsQuery, resp=answers(Anything, 404))
def runs():
    task_id = request.context.query.task_id
    task = store.get(task_id) if task_id else None
    if task_id is None:
        task = store.get(store.live_main_task_id(TASK_TYPE) or "") or store.last_finished_main_task(TASK_TYPE)
    if task is None or task.type != TASK_TYPE:
        return api_error(404, "no automatic-playlist run" + (f" {task_id}" if task_id else " yet"))
    outcomes = [outcome for child in store.children(task.id, limit=10_000)
                for outcome in (child.details or {}).get("outcomes", [])]
    outcomes.sort(key=lambda o: (o.get("failed") is not None, -o.get("score", 0.0), o["run"]))
    return jsonify({"task_id": task.id, "live": task.status in LIVE_STATUSES, "total": len(outcomes),
                    "runs": outcomes[:_RUNS_SHOWN]})


@bp.post("/api/clustering/push")
@spec.validate(json=PushBody, resp=answers(Anything, 409))
def push():
    wanted = request.context.json.playlist_ids
    task_id = results.current_task_id()
    if task_id is None:
        return api_error(409, "no automatic playlists yet: run the search first")
    if wanted is not None:
        known = {p.id for p in results.playlists_of(task_id)}
        unknown = sorted(set(wanted) - known)
        if unknown:
            return api_error(400, f"playlist_ids: not in the current automatic playlists: "
                                  f"{', '.join(map(str, unknown[:5]))}")
    report = results.push_set(settings_store.current_provider(), task_id, wanted)
    return jsonify(report)
