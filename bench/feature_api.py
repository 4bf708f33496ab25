"""The instant features through gunicorn, on a large synthetic library.

    python bench/feature_api.py [--tracks 300000] [--indexed 100000] [--clients 8] [--requests 400]
                                [--web-threads N]

Fills a scratch database with --tracks analysed tracks (pseudo-word titles and
artists, for the autocomplete) of which --indexed carry a 400-d embedding
(clustered random vectors) and builds the similarity index from them.  Then
starts gunicorn as deployed (deployment/gunicorn.conf.py, WEB_WORKERS=2) and
sends, from --clients concurrent keep-alive clients, --requests requests per
client to each endpoint: similar tracks (n=25 and n=500), a song path of
length 25, alchemy (two added, one subtracted) and the autocomplete.  Reports
latency percentiles per endpoint, the CPU time spent per request by the
server (gunicorn, its workers) and by the client, the web workers' memory,
and the time to build the index.  The client threads run on the same 2 cores
as the server: with 8 clients always waiting on an answer, the latency is
the CPU time per request (server, client and PostgreSQL) times 8 over 2 cores.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DIM = 400
_SYLLABLES = ["ka", "lo", "mi", "ra", "ven", "tu", "sol", "der", "an", "bel", "cor", "dia", "el", "fa", "gri",
              "ho", "is", "jun", "kel", "mar", "nor", "os", "pel", "qui", "ros", "sen", "tam", "ul", "vi", "wen",
              "xa", "yor", "zu", "bra", "cle", "dro", "fle", "gla", "pri", "str"]


def _words(rng: np.random.Generator, count: int) -> list[str]:
    lengths = rng.integers(2, 4, count)
    picks = rng.integers(0, len(_SYLLABLES), (count, 3))
    return ["".join(_SYLLABLES[p] for p in row[:n]).capitalize() for row, n in zip(picks, lengths)]


def fill(tracks: int, indexed: int, seed: int = 0) -> None:
    """COPY `tracks` analysed tracks and `indexed` embeddings into the current database."""
    from db.session import engine
    rng = np.random.default_rng(seed)
    vocabulary = _words(rng, 3000)
    artists = [f"{a} {b}" for a, b in zip(_words(rng, 20000), _words(rng, 20000))]
    centres = rng.normal(0, 1, (300, DIM)).astype(np.float32)
    connection = engine().raw_connection()
    try:
        cursor = connection.cursor()
        for start in range(0, tracks, 20000):
            rows = io.StringIO()
            for n in range(start, min(start + 20000, tracks)):
                title = " ".join(vocabulary[w] for w in rng.integers(0, len(vocabulary), rng.integers(1, 4)))
                rows.write(f"{n + 1}\tlocal\titem-{n}\t{title}\t{artists[n % len(artists)]}\tAlbum {n // 12}\t"
                           f"{180 + n % 120}\tbench\tnow\tnow\n")
            rows.seek(0)
            cursor.copy_expert("COPY track (id, provider, item_id, title, artist, album, duration_s, "
                               "analysis_version, analyzed_at, seen_at) FROM STDIN", rows)
        from analysis.features import VECTOR_MODEL
        for start in range(0, indexed, 10000):
            rows = io.StringIO()
            count = min(10000, indexed - start)
            vectors = centres[rng.integers(0, len(centres), count)] + rng.normal(0, 0.6, (count, DIM)) + 2.0
            for offset, vector in enumerate(vectors.astype("<f4")):
                rows.write(f"{start + offset + 1}\t{VECTOR_MODEL}\t{DIM}\t\\\\x{vector.tobytes().hex()}\n")
            rows.seek(0)
            cursor.copy_expert("COPY embedding (track_id, model, dim, vector) FROM STDIN", rows)
        cursor.execute("SELECT setval('track_id_seq', %s)", (tracks,))
        cursor.execute("ANALYZE track")
        connection.commit()
    finally:
        connection.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50": pick(0.5), "p90": pick(0.9), "p99": pick(0.99), "max": ordered[-1] * 1000}


def load(base: str, name: str, make_request, clients: int, per_client: int, server=None,
         report: bool = True, token: str = "") -> None:
    """`clients` threads, each on one keep-alive connection, sending `per_client` requests in a row.

    Prints latency percentiles and the CPU time the server processes (`server`: a
    psutil.Process and its children) and this client spent per request.  Every
    request carries the API token, as a script's would (the guard's check included).
    """
    host, port = base.split("//", 1)[1].split(":")

    def client(number: int) -> list[float]:
        rng = np.random.default_rng(1000 + number)
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        timings = []
        for _ in range(per_client):
            method, path, body = make_request(rng)
            payload = json.dumps(body).encode() if body is not None else None
            started = time.perf_counter()
            headers = {"Authorization": f"Bearer {token}"}
            if payload:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=payload, headers=headers)
            answer = connection.getresponse()
            content = answer.read()
            timings.append(time.perf_counter() - started)
            if answer.status != 200:
                raise SystemExit(f"{name}: {path} answered {answer.status}: {content[:300]!r}")
        connection.close()
        return timings

    def cpu_seconds() -> tuple[float, float]:
        server_cpu = 0.0
        if server is not None:
            for process in [server, *server.children()]:
                times = process.cpu_times()
                server_cpu += times.user + times.system
        own = psutil.Process().cpu_times()
        return server_cpu, own.user + own.system

    server_before, client_before = cpu_seconds()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        samples = [t for timings in pool.map(client, range(clients)) for t in timings]
    wall = time.perf_counter() - started
    server_after, client_after = cpu_seconds()
    if not report:
        return
    figures = _percentiles(samples)
    count = len(samples)
    print(f"| {name} | {clients} | {count} | {figures['p50']:.1f} | {figures['p90']:.1f} | "
          f"{figures['p99']:.1f} | {figures['max']:.0f} | {count / wall:.0f} | "
          f"{(server_after - server_before) / count * 1000:.1f} | {(client_after - client_before) / count * 1000:.1f} |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=300_000)
    parser.add_argument("--indexed", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per client and endpoint")
    parser.add_argument("--web-threads", type=int, help="WEB_THREADS for gunicorn (default: the setting's)")
    options = parser.parse_args()
    from bench.scratch import scratch_database
    with scratch_database("sonarium_features") as url, tempfile.TemporaryDirectory() as data_dir:
        run(options, url, data_dir)


def run(options, url: str, data_dir: str) -> None:
    import requests
    port = _free_port()
    os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                      MUSIC_DIR=data_dir, SONARIUM_DATA_DIR=data_dir, LOG_LEVEL="WARNING", WEB_HOST="127.0.0.1",
                      WEB_PORT=str(port), WEB_WORKERS="2", PYTHONPATH=str(REPO))
    if options.web_threads:
        os.environ["WEB_THREADS"] = str(options.web_threads)
    import runtime
    from auth import accounts, tokens
    from similarity import index as track_index
    runtime.init()
    admin = accounts.create("bench", "bench-password", "admin")
    token = tokens.create(admin.id, "feature benchmark")[1]
    started = time.perf_counter()
    fill(options.tracks, options.indexed)
    print(f"filled {options.tracks} tracks, {options.indexed} embeddings in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    track_index.update()
    print(f"index built from {options.indexed} vectors in {time.perf_counter() - started:.0f} s")

    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deployment/gunicorn.conf.py",
                               "app:create_app()"], cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(base + "/api/health", headers={"Authorization": f"Bearer {token}"},
                                timeout=2).json()["index"].get("size"):
                    break
            except (requests.ConnectionError, requests.Timeout, KeyError, ValueError):
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("gunicorn did not come up with the index loaded")
            time.sleep(0.5)
        time.sleep(3)  # both workers loaded: the health answer came from one of them
        indexed = options.indexed
        words = ["kalo", "mira", "vento", "sol", "belcor", "dia", "marnor", "strgla", "fle", "rosen"]
        seed = lambda rng: f"item-{rng.integers(0, indexed)}"  # noqa: E731
        endpoints = {
            "similar_tracks n=25": lambda rng: ("GET", f"/api/similar_tracks?item_id={seed(rng)}&n=25", None),
            "similar_tracks n=500": lambda rng: ("GET", f"/api/similar_tracks?item_id={seed(rng)}&n=500", None),
            "find_path length=25": lambda rng: (
                "GET", f"/api/find_path?start_item_id={seed(rng)}&end_item_id={seed(rng)}&length=25", None),
            "alchemy 2 add, 1 subtract, n=25": lambda rng: (
                "POST", "/api/alchemy", {"add": [seed(rng), seed(rng)], "subtract": [seed(rng)], "n": 25}),
            f"search_tracks ({options.tracks} tracks)": lambda rng: (
                "GET", f"/api/search_tracks?q={words[rng.integers(0, len(words))][:int(rng.integers(3, 7))]}",
                None),
        }
        print("\n| endpoint | clients | requests | p50 ms | p90 ms | p99 ms | max ms | req/s "
              "| server CPU ms/req | client CPU ms/req |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        web = psutil.Process(server.pid)
        for name, make_request in endpoints.items():
            load(base, name, make_request, 2, 10, report=False, token=token)   # warm-up
            load(base, name, make_request, options.clients, options.requests, web, token=token)
        for name in ("similar_tracks n=25", "find_path length=25"):
            load(base, f"{name}, one client", endpoints[name], 1, options.requests, web, token=token)
        workers = web.children()
        print(f"\nweb workers' RSS: {', '.join(f'{w.memory_info().rss / 2**20:.0f} MiB' for w in workers)}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
