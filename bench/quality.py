"""Retrieval quality of track vectors on a labelled corpus.

    python bench/quality.py MANIFEST [--cache DIR] [--verify N]

MANIFEST is a CSV with `group` and `path` columns (paths relative to the
manifest's folder), as shared/corpus/build_dev_corpus.sh writes; any labelled
folder works.  Every file is analysed once at full depth (per-patch outputs of
every layer of both models, cached in --cache); then each configuration is
scored by leave-one-out retrieval: for every track, the other tracks ranked by
cosine similarity; P@10 = share of the 10 nearest from the same group, MAP =
mean average precision of same-group tracks over the whole ranking, 1-NN =
nearest track from the same group.  Scores are averaged per group, then over
groups (macro).  "standardized" z-scores each dimension over the corpus first,
as the library index does (analysis.standardize); the shipped vector is also
ranked as similar songs are (similarity.smoothing: the nearest tracks
re-ordered by neighbourhood closeness); for the default
depth it sweeps the number of neighbours and estimates the gain without
choosing that number on the same songs (each group scored with the count the
other groups preferred).

Excerpt plans ("fast" depth variants) are simulated from the cached
whole-track patches using the same `plan_windows` the analysis uses (excerpts
start on the patch grid, so their patches are exactly these).  --verify N runs
the real `analyze_file` at the default depth on N tracks per group and scores
its vectors too, as a check on the simulation.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import features, musicnn  # noqa: E402
from analysis.decode import decode, probe_duration  # noqa: E402
from analysis.standardize import Standardization  # noqa: E402
from similarity import smoothing  # noqa: E402

LAYERS = ("penultimate", "dense", "tags")


def read_manifest(manifest: Path) -> list[tuple[str, Path]]:
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"group", "path"} <= set(rows[0]):
        sys.exit(f"{manifest}: expected a CSV with 'group' and 'path' columns")
    return [(row["group"], (manifest.parent / row["path"]).resolve()) for row in rows]


def per_patch_outputs(path: Path, cache: Path) -> dict[str, np.ndarray]:
    """Every layer of both models for every whole-track patch, cached by file identity."""
    stat = path.stat()
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{features.MODEL_ID}|"
                       f"{features.FRONT_END_ID}".encode()).hexdigest()
    cached = cache / f"{key}.npz"
    if cached.exists():
        return dict(np.load(cached))
    windows = features.plan_windows(probe_duration(path), features.DEPTHS["full"])
    segments = [s for s in decode(path, windows).segments if s.size >= musicnn.PATCH_SAMPLES]
    batch = np.concatenate([musicnn.patches(musicnn.log_mel(s)) for s in segments])
    out = {}
    for model in ("msd", "mtt"):
        for layer, value in musicnn.infer(model, batch).items():
            out[f"{model}.{layer}"] = value.astype(np.float16 if layer != "tags" else np.float32)
    np.savez(cached, **out)
    return out


def patch_rows(count: int, excerpts: int | None, length: int) -> np.ndarray:
    """Patch indices a plan uses on a track of `count` grid patches (all when None)."""
    if excerpts is None:
        return np.arange(count)
    plan = features.plan_windows(count * features.PATCH_STEP + 0.5, features.Depth("x", excerpts, length))
    starts = sorted({int(round(w.start / features.PATCH_STEP)) for w in plan})
    rows = np.unique(np.concatenate([np.arange(s, min(s + length, count)) for s in starts]))
    return rows if rows.size else np.arange(count)


def group_scores(vectors: np.ndarray, groups: list[str], standardize: bool, neighbours: int = 0
                 ) -> dict[str, np.ndarray]:
    """Leave-one-out (P@10, MAP, 1-NN) averaged over each group's queries; `neighbours` > 0 ranks
    as similar songs are ranked: the nearest similarity.smoothing.POOL re-ordered by
    neighbourhood closeness with that many neighbours, then the rest."""
    if standardize:
        x = Standardization.fit(vectors).apply(vectors)
    else:
        x = vectors.astype(np.float32)
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    similarity = x.astype(np.float64) @ x.T.astype(np.float64)
    np.fill_diagonal(similarity, -np.inf)
    labels = np.array(groups)
    per_group: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for i, group in enumerate(groups):
        order = smoothing.ranking(similarity[i], x, i, neighbours) if neighbours else \
            np.argsort(-similarity[i])[:-1]  # without the track itself (ranked last)
        relevant = labels[order] == group
        hits = np.cumsum(relevant)
        precision_at = hits / np.arange(1, len(order) + 1)
        average_precision = float((precision_at * relevant).sum() / max(relevant.sum(), 1))
        per_group[group].append((float(relevant[:10].mean()), average_precision, float(relevant[0])))
    return {group: np.mean(rows, axis=0) for group, rows in per_group.items()}


def scores(vectors: np.ndarray, groups: list[str], standardize: bool, neighbours: int = 0) -> dict[str, float]:
    """Macro averages over groups of `group_scores`: "p10", "map", "nn1"."""
    means = np.array(list(group_scores(vectors, groups, standardize, neighbours).values()))
    return dict(zip(("p10", "map", "nn1"), means.mean(axis=0)))


def neighbour_sweep(vectors: np.ndarray, groups: list[str], counts=(2, 3, 4, 5, 6, 8, 10)) -> None:
    """P@10 for each number of smoothing neighbours, and an estimate free of choosing it on the
    same songs: for each group, the count that scores best over the *other* groups' queries,
    scored on this group's queries (leave one group out)."""
    table = {k: group_scores(vectors, groups, True, k) for k in (0, *counts)}
    print("\n| neighbours | " + " | ".join(str(k) for k in table) + " |\n|---|" + "---|" * len(table))
    print("| P@10 | " + " | ".join(f"{np.mean([v[0] for v in t.values()]):.3f}" for t in table.values()) + " |")
    held_out, chosen = [], []
    for group in sorted(set(groups)):
        best = max(counts, key=lambda k: np.mean([v[0] for g, v in table[k].items() if g != group]))
        chosen.append(best)
        held_out.append(table[best][group][0])
    print(f"leave one group out: P@10 {np.mean(held_out):.3f} (counts chosen: {chosen}; "
          f"unsmoothed {np.mean([v[0] for v in table[0].values()]):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    parser.add_argument("--verify", type=int, default=0, metavar="N")
    options = parser.parse_args()
    options.cache.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(options.manifest)
    groups, outputs, kept_paths = [], [], []
    for number, (group, path) in enumerate(entries, 1):
        try:
            outputs.append(per_patch_outputs(path, options.cache))
            groups.append(group)
            kept_paths.append(path)
        except Exception as error:  # report and go on: one bad file must not sink the run
            print(f"skipped {path}: {error}", file=sys.stderr)
        print(f"\ranalysed {number}/{len(entries)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    counts = {g: groups.count(g) for g in sorted(set(groups))}
    print(f"{len(groups)} tracks in {len(counts)} groups: " + ", ".join(f"{g} {n}" for g, n in counts.items()))

    combos = [("msd.tags",), ("msd.penultimate",), ("msd.dense",), ("mtt.penultimate",), ("mtt.dense",),
              ("msd.penultimate", "mtt.penultimate"), ("msd.dense", "mtt.dense"),
              ("msd.dense", "mtt.penultimate"), ("msd.penultimate", "mtt.dense")]
    plans = [("full", None, 0), ("4x5", 4, 5), ("4x4", 4, 4), ("3x5", 3, 5), ("4x3", 4, 3), ("3x4", 3, 4),
             ("6x2", 6, 2), ("5x2", 5, 2), ("4x2", 4, 2), ("3x3", 3, 3), ("2x5", 2, 5), ("10x1", 10, 1)]
    # Excerpt plans only for the contenders (whole-track figures decide those).
    shipped = tuple(f"{model}.{layer}" for model, layer in features.VECTOR_LAYERS)
    contenders = {("msd.dense", "mtt.penultimate"), ("msd.dense", "mtt.dense"),
                  ("msd.penultimate", "mtt.penultimate"), ("mtt.penultimate",), ("msd.dense",)}
    print("\n| vector | patches | distance | P@10 | MAP | 1-NN |\n|---|---|---|---|---|---|")
    for combo, (plan, excerpts, length) in itertools.product(combos, plans):
        if plan != "full" and combo not in contenders:
            continue
        vectors = []
        for out in outputs:
            rows = patch_rows(len(out[combo[0]]), excerpts, length)
            vectors.append(np.concatenate([out[name][rows].astype(np.float32).mean(axis=0) for name in combo]))
        for standardize, neighbours in ((False, 0), (True, 0), (True, smoothing.NEIGHBOURS)):
            if (not standardize and plan != "full") or (neighbours and combo != shipped):
                continue
            result = scores(np.stack(vectors), groups, standardize, neighbours)
            distance = ("standardized" if standardize else "plain") + " cosine" + \
                (f", ranked by neighbourhood ({neighbours})" if neighbours else "")
            print(f"| {'+'.join(combo)} | {plan} | {distance} | "
                  f"{result['p10']:.3f} | {result['map']:.3f} | {result['nn1']:.3f} |", flush=True)

    depth = features.DEPTHS[features.DEFAULT_DEPTH]
    names = [f"{model}.{layer}" for model, layer in features.VECTOR_LAYERS]
    default_vectors = np.stack([np.concatenate(
        [out[n][patch_rows(len(out[names[0]]), depth.excerpts, depth.patches_per_excerpt)].astype(np.float32)
         .mean(axis=0) for n in names]) for out in outputs])
    print(f"\nDefault depth ({features.DEFAULT_DEPTH}), ranked by neighbourhood with each number of neighbours:")
    neighbour_sweep(default_vectors, groups)

    if options.verify:
        # The shipped default, really decoded excerpt by excerpt, next to its simulation on the same tracks.
        taken: dict[str, int] = defaultdict(int)
        subset = []
        for index, group in enumerate(groups):
            if taken[group] < options.verify:
                taken[group] += 1
                subset.append(index)
        simulated = []
        for index in subset:
            out = outputs[index]
            rows = patch_rows(len(out[names[0]]), depth.excerpts, depth.patches_per_excerpt)
            simulated.append(np.concatenate([out[n][rows].astype(np.float32).mean(axis=0) for n in names]))
        real = [features.analyze_file(kept_paths[index]).vector for index in subset]
        labels = [groups[index] for index in subset]
        for (name, vectors), neighbours in itertools.product((("simulated", simulated), ("real analyze_file", real)),
                                                             (0, smoothing.NEIGHBOURS)):
            result = scores(np.stack(vectors), labels, True, neighbours)
            space = f"ranked by neighbourhood ({neighbours})" if neighbours else "by the vectors"
            print(f"{name}, default depth ({features.VECTOR_MODEL}, {features.DEFAULT_DEPTH}), {space}, "
                  f"{len(subset)} tracks: P@10 {result['p10']:.3f} MAP {result['map']:.3f} 1-NN {result['nn1']:.3f}")
        print(f"inference: {musicnn.backend()}")

if __name__ == "__main__":
    main()
