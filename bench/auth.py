"""What access control costs: an Argon2 sign-in, and the guard's check on every API call.

    python bench/auth.py [--requests 2000]

Prints the time of one password hash and one verification with the
parameters accounts.py uses (and their memory), then, on a scratch database
through the Flask app in this process (no HTTP), the time per request of
`GET /api/health/live` with no credentials, with an API token, and with a
session cookie: the difference is what the guard adds to every call.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _per_call_ms(call, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    options = parser.parse_args()
    from bench.scratch import scratch_database
    with scratch_database("sonarium_auth") as url, tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                          MUSIC_DIR=data_dir, SONARIUM_DATA_DIR=data_dir, LOG_LEVEL="WARNING")
        run(options)


def run(options) -> None:
    from auth import accounts, tokens
    from auth.accounts import _hasher
    from app import create_app

    params = _hasher
    hash_ms = _per_call_ms(lambda: _hasher.hash("a password of twenty"), 20)[0]
    stored = _hasher.hash("a password of twenty")
    verify_ms = _per_call_ms(lambda: _hasher.verify(stored, "a password of twenty"), 20)[0]
    print(f"argon2id (time_cost={params.time_cost}, memory={params.memory_cost // 1024} MiB, "
          f"parallelism={params.parallelism}): hash {hash_ms:.0f} ms, verify {verify_ms:.0f} ms")

    app = create_app()
    person = accounts.create("bench", "a password of twenty", "admin")
    token = tokens.create(person.id, "bench")[1]
    anonymous, with_token, with_session = app.test_client(), app.test_client(), app.test_client()
    with_token.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    signed = with_session.post("/login", data={"username": "bench", "password": "a password of twenty"},
                               headers={"Origin": "http://localhost"})
    assert signed.status_code == 302, signed.status_code
    print(f"\n| GET /api/health/live | p50 ms | p99 ms |\n|---|---|---|")
    for name, client in (("no credentials", anonymous), ("API token", with_token), ("session cookie", with_session)):
        for _ in range(50):
            client.get("/api/health/live")   # warm-up
        p50, p99 = _per_call_ms(lambda: client.get("/api/health/live"), options.requests)
        print(f"| {name} | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
