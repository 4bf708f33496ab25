"""The README's run command, brought up and torn down for real (private PostgreSQL and Valkey)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from config import embedded_socket_dir
from launcher import leftovers
from tests.conftest import REPO, wait_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # the first start is busy compiling
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
    except OSError:
        return None, None


@pytest.fixture
def instance(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SERVICE_TYPE", "MEDIASERVER_TYPE")}
    port = _free_port()
    env.update(SONARIUM_DATA_DIR=str(tmp_path / "data"), MUSIC_DIR=str(tmp_path / "music"),
               WEB_PORT=str(port), WORKER_COUNT="1", WEB_WORKERS="1")
    (tmp_path / "music" / "album").mkdir(parents=True)
    (tmp_path / "music" / "album" / "broken.flac").write_text("not audio")
    started = []

    def start(*command):  # `python3 run.py` with these arguments
        log = open(tmp_path / f"run-{len(started)}.log", "wb")
        process = subprocess.Popen([sys.executable, "run.py", *command], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start, f"http://127.0.0.1:{port}", str(tmp_path / "data")
    for process in started:
        if process.poll() is None:
            process.kill()
    leftovers.stop(str(tmp_path / "data"), timeout=5)


def _holding_sockets(data_dir: str) -> dict[int, str]:
    """{pid: socket path} of processes holding a unix socket in the instance's socket folder,
    found independently of the launcher's own search (psutil rather than /proc parsing)."""
    import psutil
    folder = f"{embedded_socket_dir(Path(data_dir))}/"
    return {connection.pid: connection.laddr for connection in psutil.net_connections("unix")
            if connection.pid and connection.laddr.startswith(folder)}


def _naming(data_dir: str) -> list[str]:
    """Command lines of live processes that name the data dir or the socket folder."""
    import psutil
    names = (data_dir, str(embedded_socket_dir(Path(data_dir))))
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or ())
        if process.info["status"] != psutil.STATUS_ZOMBIE and any(name in line for name in names):
            found.append(line)
    return found


def _crash(launcher, data_dir: str) -> int:
    """kill -9 the launcher and supervisord, as a crash would; returns the old Valkey's pid.

    Their programs keep running.  Valkey rewrites its title over its
    environment, so only its socket tells whose it is."""
    supervisord = int((Path(data_dir) / "run" / "supervisord.pid").read_text())
    launcher.kill()
    os.kill(supervisord, signal.SIGKILL)
    launcher.wait(timeout=10)
    assert leftovers.find(data_dir)  # orphans hold the port and the database
    [valkey] = [pid for pid, path in _holding_sockets(data_dir).items() if path.endswith("/valkey.sock")]
    return valkey


def _gone(pid: int) -> bool:
    import psutil
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _healthy(base, token=None):
    status, report = _get(base + "/api/health", token)
    return status == 200 and report


def _first_start(base, console: Path) -> str:
    """What a newcomer does: read the setup code on the console, create the admin on
    the setup page, then make an API token there; returns the token."""
    code = wait_for(lambda: re.search(r"\b([A-Z2-9]{4}(?:-[A-Z2-9]{4}){3})\b", console.read_text()),
                    timeout=30, message="the setup code on the console").group(1)
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    same_site = {"Origin": base}
    form = urllib.parse.urlencode({"code": code, "username": "me", "password": "a long password",
                                   "confirm": "a long password"}).encode()
    with browser.open(urllib.request.Request(base + "/setup", data=form, headers=same_site), timeout=10) as page:
        assert page.url == base + "/" and b"Tasks" in page.read()
    made = urllib.request.Request(base + "/api/tokens", data=b'{"name": "test script"}', method="POST",
                                  headers={**same_site, "Content-Type": "application/json"})
    with browser.open(made, timeout=10) as response:
        return json.loads(response.read())["token"]


def test_one_command_start_stop_and_restart(instance):
    start, base, data_dir = instance
    first = start()
    bare = wait_for(lambda: _healthy(base), timeout=90, every=0.5, message="a healthy instance")
    assert bare["status"] == "ok" and bare["workers"] == {"ok": True}   # no details for strangers
    assert _get(base + "/api/tasks")[0] == 401   # nothing but the bare health answer without an account
    token = _first_start(base, Path(data_dir).parent / "run-0.log")
    report = _healthy(base, token)
    assert report["workers"]["count"] >= 2  # orchestrators plus the analysis worker

    request = urllib.request.Request(base + "/api/tasks", data=b'{"type": "library_scan"}', method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        task_id = json.loads(response.read())["task_id"]
    # Healthy is not yet warm: on this first start the analysis worker compiles
    # numba's kernels (half a minute, more on a busy machine) before its first job.
    wait_for(lambda: (_get(base + f"/api/status/{task_id}", token)[1] or {}).get("status") == "SUCCESS",
             timeout=180, message="the scan")

    first.send_signal(signal.SIGINT)  # what Ctrl-C does
    assert first.wait(timeout=60) == 0
    assert leftovers.find(data_dir) == []
    assert _get(base + "/api/health") == (None, None)

    second = start()
    wait_for(lambda: _healthy(base), timeout=90, every=0.5, message="a healthy restart")
    status, last = _get(base + "/api/last_result", token)
    assert status == 200 and last["id"] == task_id  # the data survived (the account too)
    assert "setup code" not in (Path(data_dir).parent / "run-1.log").read_text()
    assert last["details"]["result"]["unreadable"] == 1

    # A crash: the launcher and supervisord die, their programs keep running.
    supervisord = int((Path(data_dir) / "run" / "supervisord.pid").read_text())
    old_valkey = _crash(second, data_dir)
    third = start()
    pid_file = Path(data_dir) / "run" / "supervisord.pid"

    def new_supervisord():  # the orphans answer health until the new start has stopped them
        return pid_file.exists() and pid_file.read_text().strip() not in ("", str(supervisord))
    wait_for(new_supervisord, timeout=60, every=0.2, message="the new start to take over")
    wait_for(lambda: _healthy(base), timeout=90, every=0.5, message="a healthy start after a crash")
    assert _get(base + "/api/last_result", token)[1]["id"] == task_id
    assert _gone(old_valkey)  # the start after the crash stopped it

    # Another crash, then `run.py stop` from another shell: nothing may be left.
    old_valkey = _crash(third, data_dir)
    assert start("stop").wait(timeout=90) == 0
    assert _gone(old_valkey)
    assert leftovers.find(data_dir) == []
    assert _holding_sockets(data_dir) == {} and _naming(data_dir) == []


def test_compiled_code_and_filters_are_cached_in_the_data_dir(tmp_path, monkeypatch):
    """Only the very first start compiles librosa's kernels and builds the key's filters,
    wherever site-packages lives."""
    from config import load_settings
    from launcher.__main__ import supervisor_environment
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    settings = load_settings({"SONARIUM_DATA_DIR": str(tmp_path), "SECRET_KEY": "k"})
    assert supervisor_environment(settings)["NUMBA_CACHE_DIR"] == str(tmp_path / "cache" / "numba")
    monkeypatch.delenv("LIBROSA_CACHE_DIR", raising=False)
    assert supervisor_environment(settings)["LIBROSA_CACHE_DIR"] == str(tmp_path / "cache" / "librosa")
