"""The music map's API and page on large synthetic maps.

    python bench/map_api.py [--tracks 100000 300000] [--browser-tracks 100000 ...] [--repeat 5]

For each --tracks size: fills a scratch database with that many analysed
tracks (bench/feature_api.py's pseudo-word titles and artists) with random
tag scores, moods, tempo and energy, stores a map of them (random 2-D blobs:
the API's cost does not depend on where points lie) and a small similarity
index (/api/map needs one to exist, not to hold every track).  Then, through
the app in this process (Flask's test client: server time without a
network), it measures for each sample: the answer's size raw and gzipped,
the cold time (the first request after a new map version: the database read
and colour keys for the first sample asked, then that sample's JSON and
gzip) and the time from the cache (median of --repeat).

For each --browser-tracks size it also serves the app on a local port and
times, in headless Chromium (/usr/bin/chromium), the page's first draw: from
opening /map to the plot holding the default 25% sample, then from choosing
100% to the plot holding every point.
"""
from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

INDEXED = 2000   # tracks in the similarity index: /api/map only needs one to exist
PASSWORD = "bench-password-1"


def describe_tracks() -> None:
    """Random tag scores, moods, tempo and energy for every track, in SQL (seconds, not minutes of COPY)."""
    from sqlalchemy import text
    from db.session import engine
    with engine().begin() as connection:
        connection.execute(text(
            "UPDATE track SET tempo_bpm = 60 + random() * 120, energy = random(), danceable = random(), "
            "aggressive = random(), happy = random(), party = random(), relaxed = random(), sad = random()"))
        for vocabulary in ("msd", "mtt"):
            # the reference to t.id makes PostgreSQL draw new scores for every row
            connection.execute(text(
                "INSERT INTO track_tags (track_id, vocabulary, scores) SELECT t.id, :vocabulary, "
                "ARRAY(SELECT random()::real FROM generate_series(1, 50) WHERE t.id IS NOT NULL) FROM track t"),
                {"vocabulary": vocabulary})


def store_map(tracks: int) -> int:
    from similarity import projection
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 8, (40, 2))
    xy = centres[rng.integers(0, len(centres), tracks)] + rng.normal(0, 1, (tracks, 2))
    return projection.save(projection.Projection(np.arange(1, tracks + 1), xy,
                                                 {"method": "umap", "seed": 0, "fitted_tracks": tracks,
                                                  "placed_tracks": 0, "neighbours_kept": None}))


def time_api(app, token: str, repeat: int) -> None:
    from similarity.map_view import SAMPLES
    client = app.test_client()   # a new app holds nothing: its first request is cold
    headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    print("| sample | points | raw JSON | gzipped | cold (ms) | from cache (ms) |")
    print("|---|---|---|---|---|---|")
    for sample in SAMPLES:
        started = time.perf_counter()
        answer = client.get(f"/api/map?sample={sample}", headers=headers)
        cold = time.perf_counter() - started
        assert answer.status_code == 200, answer.data[:300]
        warm = []
        for _ in range(repeat):
            started = time.perf_counter()
            client.get(f"/api/map?sample={sample}", headers=headers)
            warm.append(time.perf_counter() - started)
        raw = gzip.decompress(answer.data)
        count = json.loads(raw)["count"]
        print(f"| {sample}% | {count:,} | {len(raw) / 2**20:.1f} MiB | {len(answer.data) / 2**20:.2f} MiB | "
              f"{cold * 1000:.0f} | {statistics.median(warm) * 1000:.1f} |", flush=True)


def time_page(app, tracks: int) -> None:
    from werkzeug.serving import make_server
    from playwright.sync_api import sync_playwright
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # not a line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(base + "/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url(lambda url: "/login" not in url)
            page.goto(base + "/map")
            page.wait_for_selector("#map-plot[data-points]", timeout=300_000)
            first = page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done(performance.now())))")
            shown = page.get_attribute("#map-plot", "data-points")
            print(f"first draw, {int(shown):,} points (25%): {first / 1000:.2f} s from opening /map")
            whole = page.evaluate("""(expected) => new Promise((done) => {
                const plot = document.getElementById("map-plot");
                const started = performance.now();
                new MutationObserver(() => {
                    if (plot.dataset.points === expected) requestAnimationFrame(() => done(performance.now() - started));
                }).observe(plot, {attributes: true});
                const select = document.getElementById("sample");
                select.value = "100";
                select.dispatchEvent(new Event("change"));
            })""", str(tracks))
            print(f"all {tracks:,} points (100%): {whole / 1000:.2f} s from choosing 100%")
            page.screenshot(path=str(REPO / "test-artifacts" / f"map-bench-{tracks}.png"))
            browser.close()
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--browser-tracks", type=int, nargs="*", default=[100_000],
                        help="the --tracks sizes also timed in the browser (none: no browser timing)")
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    from bench.scratch import scratch_database
    for tracks in options.tracks:
        with scratch_database("sonarium_map") as url, tempfile.TemporaryDirectory() as data_dir:
            run(tracks, options, url, data_dir)


def run(tracks: int, options, url: str, data_dir: str) -> None:
    os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                      MUSIC_DIR=data_dir, SONARIUM_DATA_DIR=data_dir, LOG_LEVEL="WARNING", INDEX_RELOAD_SECONDS="0")
    import runtime
    from app import create_app
    from auth import accounts, tokens
    from bench.feature_api import fill
    from similarity import index as track_index
    runtime.init()
    admin = accounts.create("bench", PASSWORD, "admin")
    token = tokens.create(admin.id, "map benchmark")[1]
    started = time.perf_counter()
    fill(tracks, INDEXED)
    describe_tracks()
    track_index.update()
    version = store_map(tracks)
    print(f"\n{tracks:,} tracks: library, tags, index of {INDEXED} and map v{version} made in "
          f"{time.perf_counter() - started:.0f} s")
    app = create_app({"TESTING": True})
    time_api(app, token, options.repeat)
    if tracks in options.browser_tracks:
        time_page(app, tracks)


if __name__ == "__main__":
    main()
