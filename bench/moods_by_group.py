"""Mean mood scores, tempo and energy per group of a labelled corpus.

    python bench/moods_by_group.py MANIFEST RESULTS.jsonl

RESULTS.jsonl is what `bench/analysis_speed.py --save` writes.  Shows whether
the scores rank sources sensibly (e.g. electronic more danceable than orchestral).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.moods import MOODS  # noqa: E402
from bench.quality import read_manifest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("results", type=Path)
    options = parser.parse_args()
    group_of = {str(path): group for group, path in read_manifest(options.manifest)}
    by_group: dict[str, list[dict]] = defaultdict(list)
    for line in options.results.read_text().splitlines():
        result = json.loads(line)
        if result["path"] in group_of:
            by_group[group_of[result["path"]]].append(result)
    columns = list(MOODS) + ["energy", "tempo_bpm"]
    print("| group | tracks | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for group in sorted(by_group, key=lambda g: -np.mean([r["moods"]["danceable"] for r in by_group[g]])):
        rows = by_group[group]
        cells = [np.mean([r["moods"][m] for r in rows]) for m in MOODS]
        cells.append(np.mean([r["energy"] for r in rows]))
        cells.append(np.median([r["tempo_bpm"] for r in rows if r["tempo_bpm"]] or [np.nan]))
        print(f"| {group} | {len(rows)} | " + " | ".join(f"{c:.2f}" if i < len(MOODS) + 1 else f"{c:.0f}"
                                                       for i, c in enumerate(cells)) + " |")


if __name__ == "__main__":
    main()
