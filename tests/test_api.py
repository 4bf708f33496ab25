"""Every /api route answers JSON, with 4xx for the caller's mistakes and 503 for outages."""
import pytest

from db import session as db_session
from tests.support import signed_in


def test_unknown_routes_and_methods_answer_json(client):
    for response in (client.get("/api/nothing"), client.delete("/api/tasks"), client.get("/api/cancel/x")):
        assert response.status_code in (404, 405)
        assert response.is_json and response.json["error"]


@pytest.mark.parametrize("body, message", [
    ("not json", "expected a JSON object"),
    ([1, 2], "expected a JSON object"),
    ({"type": 5}, "type: Input should be a valid string"),
    ({"type": "nope"}, "unknown task type 'nope'"),
    ({"type": "library_scan.folder"}, "unknown task type"),  # children cannot be started alone
    ({"type": "library_scan", "args": []}, "args: Input should be a valid dictionary"),
    ({"type": "library_scan", "args": {"surprise": 1}}, "bad args"),
    ({"type": "analysis", "args": {"num_recent_albums": "abc"}}, "num_recent_albums: Input should be a valid integer"),
    ({"type": "analysis", "args": {"num_recent_albums": -1}}, "num_recent_albums: Input should be greater than"),
    ({"type": "analysis", "args": {"depth": ["fast"]}}, "depth: Input should be 'fast', 'balanced' or 'full'"),
    ({"type": "analysis", "args": {"depth": "deep"}}, "depth: Input should be"),
])
def test_bad_start_requests_are_400(client, body, message):
    response = client.post("/api/tasks", json=body) if not isinstance(body, str) else \
        client.post("/api/tasks", data=body, content_type="application/json")
    assert response.status_code == 400 and message in response.json["error"]


def test_status_and_cancel_of_unknown_tasks_are_404(client):
    assert client.get("/api/status/" + "x" * 500).status_code == 404
    response = client.post("/api/cancel/does-not-exist")
    assert response.status_code == 404 and response.json == {"error": "no task does-not-exist", "status": 404}


def test_second_scan_is_409_and_names_the_running_one(client):
    first = client.post("/api/tasks", json={"type": "library_scan"}).json["task_id"]
    response = client.post("/api/tasks", json={"type": "library_scan"})
    assert response.status_code == 409 and response.json["task_id"] == first
    active = client.get("/api/active_tasks").json
    assert [task["id"] for task in active] == [first]
    assert active[0]["status"] == "PENDING" and active[0]["children"]["total"] == 0
    assert client.get("/api/last_result").status_code == 404


def test_health_reports_each_part(client):
    response = client.get("/api/health")
    assert response.status_code == 503  # no worker runs in this test
    report = response.json
    assert report["database"]["ok"] and report["redis"]["ok"]
    assert report["workers"] == {"ok": False, "error": "RuntimeError: no worker is running"}
    assert report["status"] == "degraded" and report["index"]["loaded"] is False


def test_health_with_a_worker(client, workers):
    from tests.conftest import wait_for
    workers.start("default")
    partial = wait_for(lambda: "queue" in client.get("/api/health").json["workers"].get("error", "")
                       and client.get("/api/health").json, message="the default worker")
    assert partial["workers"]["error"] == "RuntimeError: no worker listens on queue high, clustering"
    workers.stop_all()
    workers.start("high", "default", "clustering")
    report = wait_for(lambda: client.get("/api/health").status_code == 200 and client.get("/api/health").json,
                      message="a healthy report")
    # the killed worker may still be listed until its 30 s registration expires
    assert report["workers"]["ok"] and report["workers"]["queues"] == ["clustering", "default", "high"]


def test_config_shows_settings_but_no_secrets(env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "top-secret-key")
    monkeypatch.setenv("JELLYFIN_TOKEN", "jf-token-value")
    from app import create_app
    config = signed_in(create_app({"TESTING": True}).test_client()).get("/api/config")
    assert config.status_code == 200
    assert config.json["music_dir"] == env["MUSIC_DIR"] and config.json["jellyfin_token_set"] is True
    assert "top-secret-key" not in config.text and "jf-token-value" not in config.text


def test_database_outage_is_503_not_500(client):
    db_session.configure("postgresql://postgres@127.0.0.1:1/none")
    response = client.get("/api/active_tasks")
    assert response.status_code == 503
    assert response.json["error"] == "the database is unavailable; try again shortly"
    health = client.get("/api/health")
    assert health.status_code == 503 and health.json["database"]["ok"] is False


def test_redis_outage_is_503(client):
    from tasks import queues
    queues.configure("redis://127.0.0.1:1/0")
    response = client.post("/api/cancel/x")
    assert response.status_code == 404  # database-only routes keep working
    task = client.post("/api/tasks", json={"type": "library_scan"})
    assert task.status_code == 202  # queued for the reconciler to hand over when Redis is back
    assert client.get("/api/health").json["redis"]["ok"] is False


def test_home_page_renders(client):
    page = client.get("/")
    assert page.status_code == 200 and b"Start library scan" in page.data
    assert client.get("/static/js/api.js").status_code == 200
