"""A labelled corpus analysed (cached) and loaded into a scratch library, for the benches that need one.

    entries, analyses = analyse(corpus, cache)
    with library("sonarium_my_bench", corpus, entries, analyses) as (ids, index):
        ...

`analyse` reads manifest.csv (as shared/corpus/build_dev_corpus.sh writes it)
and analyses each file once by the real pipeline (bench/clustering.py's
`track_analysis` cache).  `library` makes a scratch PostgreSQL database,
points this process's settings at it (local provider on the corpus folder),
stores the tracks as the local provider lists them with their analyses
(bench/feature_quality.py's `fill_database`), builds the index, and drops the
database afterwards.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from bench.clustering import track_analysis
from bench.feature_quality import fill_database
from bench.quality import read_manifest
from bench.scratch import scratch_database


def analyse(corpus: Path, cache: Path) -> tuple[list[tuple[str, Path]], list[dict]]:
    """The manifest's (group, file) entries and each file's cached analysis, in manifest order."""
    cache.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(corpus / "manifest.csv")
    analyses = []
    for number, (_, file) in enumerate(entries, 1):
        analyses.append(track_analysis(file, cache))
        print(f"\ranalysed {number}/{len(entries)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return entries, analyses


@contextlib.contextmanager
def library(name: str, corpus: Path, entries: list[tuple[str, Path]], analyses: list[dict],
            **environment: str) -> Iterator[tuple[list[int], object]]:
    """(track ids in manifest order, the loaded similarity index) of the corpus in a scratch database.

    `environment` adds settings (e.g. AI_PROVIDER="none").
    """
    with scratch_database(name) as url, tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                          MUSIC_DIR=str(corpus), SONARIUM_DATA_DIR=data_dir, LOG_LEVEL="WARNING", **environment)
        import runtime
        from similarity import index as track_index
        runtime.init()
        ids = fill_database(corpus, entries, [a["vector"] for a in analyses], analyses)
        track_index.update()
        yield ids, track_index.load()
