"""Cost of the task framework itself, against the local PostgreSQL and Redis.

    python bench/task_overhead.py [--children 2000]

Measures: creating + queueing children (per second), one reconciler pass over
that many live tasks, and how much a job's reporting costs (progress + log
calls per second, which only buffer; the database sees one UPDATE per heartbeat).
Uses a scratch database and Redis db 14, both removed afterwards.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=2000)
    options = parser.parse_args()
    from bench.scratch import scratch_database
    with scratch_database() as url:
        run(options.children, url)


def run(children: int, url: str) -> None:
    os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/14", LOG_LEVEL="WARNING",
                      SONARIUM_DATA_DIR="/tmp/sonarium-bench")
    import runtime
    from tasks import queues, reconciler, registry, runner, store, submit
    try:
        runtime.init()
        queues.redis_connection().flushdb()
        registry.load_task_modules()
        parent = submit.submit_main("library_scan")
        store.claim(parent, 1)
        started = time.perf_counter()
        for n in range(children):
            submit.spawn_child(parent, "library_scan.folder", f"folder-{n}", {"folder": f"f{n}"})
        spawn = time.perf_counter() - started
        started = time.perf_counter()
        reconciler.reconcile_once()
        reconcile = time.perf_counter() - started
        ctx = runner.TaskContext(parent, 1, {})
        calls = 200_000
        started = time.perf_counter()
        for n in range(calls):
            ctx.progress(n / calls * 100, "working")
            if n % 10 == 0:
                ctx.log(f"line {n}")
        report = time.perf_counter() - started
        started = time.perf_counter()
        ctx.flush()
        flush = time.perf_counter() - started
        print(f"spawn + queue {children} children: {spawn:.2f} s "
              f"({children / spawn:.0f} children/s)")
        print(f"one reconciler pass over {children + 1} live tasks: {reconcile * 1000:.0f} ms")
        print(f"{calls} progress calls + {calls // 10} log lines: {report:.2f} s "
              f"({calls / report / 1000:.0f}k calls/s); the flush that writes them: {flush * 1000:.1f} ms")
    finally:
        queues.redis_connection().flushdb()


if __name__ == "__main__":
    main()
