"""`python -m tasks start TYPE [NAME=VALUE ...] [--wait]`: start a main task from the server's shell.

Each NAME=VALUE is one of the task's arguments; VALUE is read as JSON when it
parses (3, true, ["kmeans","gmm"]) and as a plain string otherwise, e.g.

    python -m tasks start clustering preset=thorough seed=7 --wait
    python -m tasks start analysis num_recent_albums=20

The arguments are checked as the API checks them.  With --wait the command
prints the task's progress until it ends and exits non-zero unless it
succeeded.  The workers must be running (`python run.py` starts them).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import runtime
from db.models import LIVE_STATUSES
from tasks import registry, store, submit

_POLL_SECONDS = 2.0


def _arguments(pairs: list[str]) -> dict:
    args = {}
    for pair in pairs:
        name, equals, raw = pair.partition("=")
        if not equals or not name:
            sys.exit(f"{pair!r}: expected NAME=VALUE")
        try:
            args[name] = json.loads(raw)
        except json.JSONDecodeError:
            args[name] = raw
    return args


def _follow(task_id: str) -> int:
    shown = None
    while True:
        task = store.get(task_id)
        line = f"{task.status} {task.progress}% {task.message}"
        if line != shown:
            print(line, flush=True)
            shown = line
        if task.status not in LIVE_STATUSES:
            return 0 if task.status == "SUCCESS" else 1
        time.sleep(_POLL_SECONDS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tasks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start a main task")
    start.add_argument("type", choices=[t.name for t in registry.main_types()])
    start.add_argument("args", nargs="*", metavar="NAME=VALUE")
    start.add_argument("--wait", action="store_true", help="print progress until the task ends")
    options = parser.parse_args(argv)
    runtime.init(wait=10)
    try:
        task_id = submit.submit_main(options.type, _arguments(options.args))
    except store.TaskAlreadyRunning as running:
        sys.exit(f"{running} (task {running.task_id})")
    except TypeError as error:
        sys.exit(f"bad arguments: {error}")
    print(task_id, flush=True)
    if options.wait:
        sys.exit(_follow(task_id))


if __name__ == "__main__":
    main()
