"""Time and peak memory of storing and loading a large index blob in PostgreSQL.

    python bench/blob_store.py --mib 180 [--database-url URL]

Each phase runs in a fresh process so its peak RSS is its own; "extra" is the
peak minus the RSS the phase had before it touched the blob (for load, the
blob's own buffer is part of the extra, so about 1x the size is the floor).
Default database: a scratch database created on the local server and dropped after.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(name: str, url: str, file: str) -> dict:
    from db import blobs
    from db import session as db_session
    db_session.configure(url)
    db_session.engine().connect().close()
    before = _rss_mib()
    started = time.perf_counter()
    if name == "store":
        with open(file, "rb") as stream:
            blobs.store_blob("bench", stream)
    else:
        info, data = blobs.load_blob("bench")
        assert len(data) == info["size"]
    return {"phase": name, "seconds": round(time.perf_counter() - started, 2),
            "rss_before_mib": round(before), "peak_mib": round(_peak_mib()),
            "extra_mib": round(_peak_mib() - before)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=180)
    parser.add_argument("--database-url")
    parser.add_argument("--phase", choices=("store", "load"), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.phase:
        print(json.dumps(phase(options.phase, options.database_url, options.file)))
        return

    if options.database_url:
        run(options.mib, options.database_url)
    else:
        from bench.scratch import scratch_database
        with scratch_database() as url:
            run(options.mib, url)


def run(mib: int, url: str) -> None:
    from db import migrate
    from db import session as db_session
    db_session.configure(url)
    migrate.upgrade()
    with tempfile.NamedTemporaryFile() as blob:
        for _ in range(mib):
            blob.write(os.urandom(1024 * 1024))
        blob.flush()
        print(f"blob: {mib} MiB, chunk 8 MiB")
        for name in ("store", "load"):
            out = subprocess.run([sys.executable, __file__, "--phase", name, "--database-url", url,
                                  "--file", blob.name], check=True, capture_output=True, text=True)
            print(out.stdout.strip())

if __name__ == "__main__":
    main()
