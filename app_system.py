"""System API.

- GET /api/health  200 when the database, Redis and a worker for every queue are up,
                   503 (same JSON) when any is not; never an HTML error.  Open to anyone
                   (container probes), but only signed-in callers see the details.
- GET /api/health/live  200 while the web process answers (for container probes; checks nothing else).
- GET /api/docs    the API contract as a page (Swagger UI); GET /api/openapi.json, the contract itself.
- GET /api/config  the effective non-secret settings, saved values included (secrets show
                   only as *_set: true/false); admin only.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template
from rq import Worker
from spectree import Response
from sqlalchemy import text

import settings_store
from api_contract import Anything, ApiError, answers, spec
from auth.policy import admin_only, public
from db import migrate
from db.session import engine
from tasks import queues

bp = Blueprint("system", __name__)


def _check(probe) -> dict:
    try:
        return {"ok": True, **probe()}
    except Exception as error:  # health reports every failure instead of raising
        return {"ok": False, "error": f"{type(error).__name__}: {error}".strip()[:300]}


def _database() -> dict:
    with engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    current = migrate.current_revision()
    head = migrate.head_revision()
    if current != head:
        raise RuntimeError(f"schema at {current}, code expects {head}")
    return {"schema": current}


def _redis() -> dict:
    queues.redis_connection().ping()
    return {}


def _workers() -> dict:
    workers = Worker.all(connection=queues.redis_connection())
    listening = sorted({name for worker in workers for name in worker.queue_names()})
    if not workers:
        raise RuntimeError("no worker is running")
    missing = [name for name in queues.ALL_QUEUES if name not in listening]
    if missing:
        raise RuntimeError("no worker listens on queue " + ", ".join(missing))
    return {"count": len(workers), "queues": listening}


@bp.get("/api/health/live")
@public
@spec.validate(resp=answers(Anything))
def alive():
    """The web process answers: what a liveness or readiness probe needs, checking nothing else."""
    return jsonify({"status": "alive"})


@bp.get("/api/health")
@public
@spec.validate(resp=Response(HTTP_200=Anything, HTTP_503=Anything, HTTP_400=ApiError, HTTP_401=ApiError))
def health():
    report = {
        "database": _check(_database),
        "redis": _check(_redis),
        "workers": _check(_workers),
        # Reported, not required: a new library has no index until its first analysis.
        "index": current_app.extensions["sonarium.index"].status(),
    }
    healthy = all(part["ok"] for part in report.values())
    report["status"] = "ok" if healthy else "degraded"
    if g.person is None:   # container probes need no account; the error texts are for people signed in
        report = {part: {"ok": value["ok"]} if isinstance(value, dict) else value for part, value in report.items()}
    return jsonify(report), 200 if healthy else 503


@bp.get("/api/openapi.json")
def contract():
    """The OpenAPI 3.1 document made from the routes' declarations (api_contract.py)."""
    return jsonify(spec.spec)


@bp.get("/api/docs")
def api_docs():
    """The API contract, readable: Swagger UI on /api/openapi.json (api_contract.py publishes it)."""
    return render_template("api_docs.html")


@bp.get("/api/config")
@admin_only
@spec.validate(resp=answers(Anything))
def config():
    return jsonify(settings_store.effective().public())
