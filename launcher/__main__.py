"""`python -m launcher start|stop|status`: run Sonarium under supervisord.

start   stops leftovers of a killed earlier run, then runs supervisord in the
        foreground; Ctrl-C (or `stop` from another shell, or SIGTERM) stops
        everything, and whatever outlived supervisord is stopped after it.
stop    asks a running supervisord to shut down and waits for it.
status  prints whether Sonarium runs for this data dir.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import ConfigError, embedded_socket_dir, load_settings
from launcher import INSTANCE_MARKER, leftovers

HOME = Path(__file__).resolve().parent.parent
CONF = HOME / "deployment" / "supervisord.conf"


def _supervisord_pid(settings) -> int | None:
    try:
        pid = int((settings.run_dir / "supervisord.pid").read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    environ = Path(f"/proc/{pid}/environ")
    marker = f"{INSTANCE_MARKER}={settings.sonarium_data_dir}".encode()
    try:
        return pid if marker in environ.read_bytes().split(b"\0") else None
    except OSError:
        return None


def supervisor_environment(settings) -> dict[str, str]:
    """The variables deployment/supervisord.conf expands, plus the instance marker."""
    service = settings.service_type
    instance = str(settings.sonarium_data_dir)
    return {
        INSTANCE_MARKER: instance,
        "SONARIUM_HOME": str(HOME),
        "SONARIUM_PYTHON": sys.executable,
        "SONARIUM_RUN_DIR": str(settings.run_dir),
        "SONARIUM_LOG_DIR": str(settings.log_dir),
        "SONARIUM_DATA_DIR": instance,
        "SONARIUM_RUN_POSTGRES": str(settings.embedded_database and service == "all").lower(),
        "SONARIUM_RUN_VALKEY": str(settings.embedded_redis and service == "all").lower(),
        "SONARIUM_RUN_WEB": str(service in ("all", "web")).lower(),
        "SONARIUM_RUN_WORKERS": str(service in ("all", "worker")).lower(),
        "WORKER_COUNT": str(settings.worker_count),
        # numba compiles librosa's kernels on a worker's first start (half a minute
        # a worker); kept in the data dir, its cache serves every later start,
        # whoever owns site-packages.
        "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR") or str(settings.sonarium_data_dir / "cache" / "numba"),
        # librosa rebuilds the key estimate's constant-Q filters for every track
        # (three quarters of the key's time); with a cache folder it reads them back.
        "LIBROSA_CACHE_DIR": os.environ.get("LIBROSA_CACHE_DIR") or str(settings.sonarium_data_dir / "cache" / "librosa"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HOME), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }


def start(settings) -> None:
    if _supervisord_pid(settings):
        sys.exit(f"Sonarium is already running for {settings.sonarium_data_dir} "
                 f"(stop it with: python3 run.py stop)")
    instance = str(settings.sonarium_data_dir)
    stopped = leftovers.stop(instance)
    if stopped:
        print(f"stopped {len(stopped)} process(es) left over from an earlier run", flush=True)
    for folder in (settings.sonarium_data_dir, settings.run_dir, settings.log_dir,
                   embedded_socket_dir(settings.sonarium_data_dir)):
        folder.mkdir(parents=True, exist_ok=True)
    if settings.mediaserver_type == "local":
        settings.music_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(supervisor_environment(settings))
    if settings.service_type == "all":
        print(f"Sonarium starting: http://{settings.web_host}:{settings.web_port} "
              f"(data in {instance}; Ctrl-C stops everything)", flush=True)
    supervisord = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(CONF)],
                                   cwd=HOME, env=env)

    def forward(signum, frame):
        # A terminal's Ctrl-C reaches supervisord too; a signal sent to us
        # alone (docker stop, kill) must be passed on.  A repeat is harmless.
        if supervisord.poll() is None:
            supervisord.terminate()
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = supervisord.wait()
    stragglers = leftovers.stop(instance)
    if stragglers:
        print(f"stopped {len(stragglers)} process(es) that outlived supervisord", flush=True)
    sys.exit(code)


def stop(settings, timeout: float = 60.0) -> None:
    pid = _supervisord_pid(settings)
    if pid is None:
        stopped = leftovers.stop(str(settings.sonarium_data_dir))
        print(f"Sonarium was not running; stopped {len(stopped)} leftover process(es)" if stopped
              else "Sonarium is not running")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _supervisord_pid(settings):
        time.sleep(0.2)
    leftovers.stop(str(settings.sonarium_data_dir))
    print("Sonarium stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("start", "stop", "status"), nargs="?", default="start")
    options = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        sys.exit(f"Configuration error: {error}")
    if options.command == "start":
        start(settings)
    elif options.command == "stop":
        stop(settings)
    else:
        pid = _supervisord_pid(settings)
        print(f"running (supervisord pid {pid})" if pid else "not running")
        sys.exit(0 if pid else 3)


if __name__ == "__main__":
    main()
