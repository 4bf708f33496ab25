"""How well similar songs, song path and song alchemy follow the groups of a labelled corpus.

    python bench/feature_quality.py CORPUS [--cache DIR] [--pairs 40] [--length 12] [--recipes 500] [--copies 2]

CORPUS holds manifest.csv (`group`, `path` relative to CORPUS), as
shared/corpus/build_dev_corpus.sh writes.  Each file is analysed once by the real
pipeline (analysis.features.analyze_file, default depth) and its vector cached
in --cache (bench/quality.py's folder).  The tracks, named as the local provider
names them, and their vectors go into a scratch PostgreSQL database, the index
is built by similarity.index.update(), and the features run as the web API runs
them.  The groups are the ground truth; random draws have fixed seeds.

1. Similar songs, each track a seed: P@10 (share of the 10 results from the
   seed's group; by group, then the macro mean) of the plain nearest tracks,
   `similar_tracks(n=10)`, and the same with max_per_artist=2.
2. Song path between --pairs random tracks of two groups: `find_path` against
   the nearest unused track to each backbone point (in backbone order, and
   ordered by progress as find_path orders).  Steps are cosine distances
   (0..2); "nearing the end": steps after which the end track is closer.
3. Song alchemy, --recipes random recipes per kind (X, Y: two groups): the mean
   share of the top 10 from X and from Y, with no filter (threshold 0) and with
   the default rule.  Subtracting works when Y falls and X holds.
4. Duplicates: --copies tracks per group re-encoded to 128 kb/s MP3: distance to
   the original, and of every track to its nearest other track.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import features  # noqa: E402
from bench.quality import read_manifest  # noqa: E402


def cache_key(path: Path, variant: str = "") -> str:
    """Names what one analysis of `path` gave: the file's identity, the analysis version, `variant`."""
    stat = path.stat()
    return hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{features.analysis_version()}|"
                        f"{features.VECTOR_MODEL}|{variant}".encode()).hexdigest()


def track_vector(path: Path, cache: Path, reencoded: bool = False) -> np.ndarray:
    """The analysed track vector of `path` (of its 128 kb/s MP3 copy if `reencoded`), cached."""
    cached = cache / f"vector-{cache_key(path, 'mp3-128k' if reencoded else '')}.npy"
    if cached.exists():
        return np.load(cached)
    shared = cache / f"clustering-{cache_key(path, 'clustering-3')}.npz"   # bench/clustering.py's cache
    if shared.exists() and not reencoded:
        with np.load(shared) as stored:
            return stored["vector"]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "copy.mp3" if reencoded else path
        if reencoded:
            subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-c:a", "libmp3lame", "-b:a", "128k",
                            str(source)], check=True)
        vector = features.analyze_file(source).vector
    np.save(cached, vector)
    return vector


def fill_database(corpus: Path, entries: list[tuple[str, Path]], vectors: list[np.ndarray],
                  analyses: list[dict[str, np.ndarray]] | None = None) -> list[int]:
    """Insert the corpus as analysed local tracks 1..n with their embeddings; the track ids, in order.

    Titles, artists, albums, years and durations are read from the files as the local provider
    lists them.  `analyses` (bench/clustering.py's `track_analysis`, one per entry) also stores
    each track's tags, moods, tempo, key, scale and energy, and its first and last seconds' vectors,
    for what filters on them (the chat's plans) and what orders by them (playlist order).
    """
    import mutagen
    from db.models import MOOD_COLUMNS, Embedding, Track, TrackTags
    from db.session import session_scope
    from mediaserver.local import _number, read_tags
    now = dt.datetime.now(dt.timezone.utc)
    ids = list(range(1, len(entries) + 1))
    with session_scope() as session:
        for number, (track_id, (_, file)) in enumerate(zip(ids, entries)):
            tags = read_tags(file)
            audio = mutagen.File(file)
            analysed = {}
            if analyses is not None:
                found = analyses[number]
                analysed = {"tempo_bpm": None if np.isnan(found["tempo"]) else float(found["tempo"]),
                            "energy": float(found["energy"]), "musical_key": str(found["key"]) or None,
                            "start_energy": float(found["start_energy"]), "end_energy": float(found["end_energy"]),
                            "scale": str(found["scale"]) or None,
                            **{mood: float(score) for mood, score in zip(MOOD_COLUMNS, found["moods"])}}
            session.add(Track(id=track_id, provider="local", item_id=str(file.relative_to(corpus)),
                              title=tags.get("title") or file.stem, artist=tags.get("artist"),
                              album=tags.get("album") or file.parent.name, year=_number(tags.get("date")),
                              duration_s=float(audio.info.length) if audio is not None else None,
                              analysis_version=features.analysis_version(), analyzed_at=now, seen_at=now,
                              **analysed))
        session.flush()   # the tracks first: embeddings and tags refer to them
        for number, (track_id, vector) in enumerate(zip(ids, vectors)):
            edges = {}
            if analyses is not None:
                edges = {"start_vector": analyses[number]["start"].astype("<f4").tobytes(),
                         "end_vector": analyses[number]["end"].astype("<f4").tobytes()}
            session.add(Embedding(track_id=track_id, model=features.VECTOR_MODEL, dim=vector.size,
                                  vector=vector.astype("<f4").tobytes(), **edges))
        for track_id, found in zip(ids, analyses or []):
            session.add_all([TrackTags(track_id=track_id, vocabulary="msd", scores=found["msd"].tolist()),
                             TrackTags(track_id=track_id, vocabulary="mtt", scores=found["mtt"].tolist())])
    return ids


def share(ids: list[int], group: str, group_of: dict[int, str]) -> float:
    """Share of `ids` from `group` (0 for no ids)."""
    return float(np.mean([group_of[i] == group for i in ids])) if ids else 0.0


def similar_songs(index, infos: dict, group_of: dict[int, str]) -> None:
    """Part 1: P@10 by group of the plain nearest, `similar_tracks` and its artist cap, every track a seed."""
    from similarity.neighbours import similar_tracks
    by_group: dict[str, list[list[float]]] = defaultdict(list)
    for track_id, seed in infos.items():
        group = group_of[track_id]
        nearest = index.nearest(index.unit_vectors([track_id])[0], 10, exclude={track_id})
        similar = similar_tracks(index, seed, 10)
        per_artist = similar_tracks(index, seed, 10, max_per_artist=2)
        found = [[i for i, _ in nearest], [t.id for t, _ in similar.tracks], [t.id for t, _ in per_artist.tracks]]
        by_group[group].append([share(ids, group, group_of) for ids in found])
    print("\n| group | tracks | nearest P@10 | similar P@10 | similar, ≤ 2 per artist P@10 |\n|---|---|---|---|---|")
    means = {group: np.mean(scores, axis=0) for group, scores in sorted(by_group.items())}
    for group, mean in [*means.items(), ("**macro mean**", np.mean(list(means.values()), axis=0))]:
        print(f"| {group} | {len(by_group.get(group, infos))} | " + " | ".join(f"{m:.3f}" for m in mean) + " |")


def nearest_to_backbone(index, start: int, end: int, length: int, by_progress: bool) -> list[int]:
    """The baseline path: the nearest unused track to each backbone point, in backbone order or by progress."""
    from similarity.path import progress, slerp
    a, b = index.unit_vectors([start, end])
    used = [start, end]
    for point in slerp(a, b, np.linspace(0.0, 1.0, length))[1:-1]:
        used.append(index.nearest(point, 1, exclude=set(used))[0][0])
    inner = used[2:]
    if by_progress:
        inner = [inner[i] for i in np.argsort(progress(index.unit_vectors(inner), a, b), kind="stable")]
    return [start, *inner, end]


def song_paths(index, infos: dict, group_of: dict[int, str], pairs: int, length: int) -> None:
    """Part 2: `find_path` between random pairs of tracks from two groups, against the baseline."""
    from similarity.path import find_path
    rng = np.random.default_rng(0)
    ids = list(infos)
    ends = []
    while len(ends) < pairs:
        start, end = (int(i) for i in rng.choice(ids, 2, replace=False))
        if group_of[start] != group_of[end]:
            ends.append((start, end))
    print(f"\n| path (length {length}, {pairs} pairs) | incomplete | mean step | mean longest step | longest step "
          "| steps nearing the end | paths within the two groups | inner tracks from the two groups |\n"
          "|---|---|---|---|---|---|---|---|")
    methods = {"`find_path`": lambda s, e: [t.id for t, _ in find_path(index, infos[s], infos[e], length).tracks],
               "nearest track to each backbone point": lambda s, e: nearest_to_backbone(index, s, e, length, False),
               "the same, ordered by progress": lambda s, e: nearest_to_backbone(index, s, e, length, True)}
    for name, make_path in methods.items():
        steps, longest, nearing, within, inner_shares, incomplete = [], [], [], 0, [], 0
        for start, end in ends:
            path = make_path(start, end)
            points = index.unit_vectors(path)
            path_steps = 1 - np.sum(points[1:] * points[:-1], axis=1)
            steps += path_steps.tolist()
            longest.append(path_steps.max())
            nearing += (np.diff(1 - points @ points[-1]) < 0).tolist()
            inner = [group_of[t] in (group_of[start], group_of[end]) for t in path[1:-1]]
            within += all(inner)
            inner_shares += inner
            incomplete += len(path) < length
        print(f"| {name} | {incomplete} | {np.mean(steps):.2f} | {np.mean(longest):.2f} | {max(longest):.2f} | "
              f"{np.mean(nearing):.0%} | {within} of {pairs} | {np.mean(inner_shares):.0%} |")


SWEEP_WEIGHTS = (0.0, 0.25, 0.5, 0.75)
SWEEP_MARGINS = (0.0, 0.1)


def alchemy_recipes(index, infos: dict, group_of: dict[int, str], recipes: int) -> None:
    """Part 3: the groups in alchemy's top 10 for random recipes, with and without the subtract filter."""
    from similarity.alchemy import mix
    rng = np.random.default_rng(0)
    groups = sorted(set(group_of.values()))
    members = {group: [t for t, its in group_of.items() if its == group] for group in groups}
    print("\n| recipe (X, Y: two groups) | subtract filter | X in top 10 | Y in top 10 | runs short "
          "| filtered per recipe |\n|---|---|---|---|---|---|")
    for kind in ("add x, subtract y", "add x1 + y1, subtract y2", "add x1 + x2, subtract y"):
        drawn = []
        for _ in range(recipes):
            x_group, y_group = rng.choice(groups, 2, replace=False)
            x, x2 = (int(i) for i in rng.choice(members[x_group], 2, replace=False))
            y1, y2 = (int(i) for i in rng.choice(members[y_group], 2, replace=False))
            add, subtract = {"add x, subtract y": ([x], [y1]), "add x1 + y1, subtract y2": ([x, y1], [y2]),
                             "add x1 + x2, subtract y": ([x, x2], [y1])}[kind]
            drawn.append(([infos[i] for i in add], [infos[i] for i in subtract], x_group, y_group))
        rules = [("none", {"subtract_distance": 0.0, "subtract_weight": 0.0})]
        rules += [(f"aim A - {w} S, drop d(S) < d(A) - {m}", {"subtract_weight": w, "subtract_margin": m})
                  for w in SWEEP_WEIGHTS for m in SWEEP_MARGINS]
        for rule, options in rules:
            x_shares, y_shares, short, filtered = [], [], 0, 0
            for add, subtract, x_group, y_group in drawn:
                mixture = mix(index, add, subtract, n=10, **options)
                results = [t.id for t, _ in mixture.results]
                x_shares.append(share(results, x_group, group_of))
                y_shares.append(share(results, y_group, group_of))
                short += len(results) < 10
                filtered += mixture.filtered_total
            print(f"| {kind} | {rule} | {np.mean(x_shares):.0%} | {np.mean(y_shares):.0%} | {short} | "
                  f"{filtered / recipes:.1f} |")


def duplicates(index, entries: list[tuple[str, Path]], ids: list[int], cache: Path, copies: int) -> None:
    """Part 4: distance from `copies` tracks per group to their re-encoded copy, and to the nearest other."""
    from similarity.neighbours import DUPLICATE_DISTANCE
    taken: dict[str, int] = defaultdict(int)
    copy_distances = []
    for (group, file), track_id in zip(entries, ids):
        if taken[group] < copies:   # the first `copies` of each group
            taken[group] += 1
            point = index.prepare(track_vector(file, cache, reencoded=True)[None, :])[0]
            copy_distances.append(1 - float(point @ index.unit_vectors([track_id])[0]) / float(np.linalg.norm(point)))
    nearest_other = [index.nearest(index.unit_vectors([t])[0], 1, exclude={t})[0][1] for t in ids]
    print(f"\n| distance (DUPLICATE_DISTANCE {DUPLICATE_DISTANCE}) | tracks | min | median | max | under it |\n"
          "|---|---|---|---|---|---|")
    for name, values in (("to its 128 kb/s MP3 copy", copy_distances), ("to the nearest other track", nearest_other)):
        values = np.asarray(values)
        print(f"| {name} | {len(values)} | {values.min():.4f} | {np.median(values):.4f} | {values.max():.4f} | "
              f"{int((values < DUPLICATE_DISTANCE).sum())} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    parser.add_argument("--pairs", type=int, default=40, help="song paths measured")
    parser.add_argument("--length", type=int, default=12, help="tracks per song path")
    parser.add_argument("--recipes", type=int, default=500, help="alchemy recipes of each kind")
    parser.add_argument("--copies", type=int, default=2, help="tracks per group re-encoded (0: skip part 4)")
    options = parser.parse_args()
    started = time.perf_counter()
    corpus = options.corpus.resolve()
    options.cache.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(corpus / "manifest.csv")
    vectors = []
    for number, (_, file) in enumerate(entries, 1):
        vectors.append(track_vector(file, options.cache))
        print(f"\ranalysed {number}/{len(entries)}", end="", file=sys.stderr)
    print(file=sys.stderr)

    from bench.scratch import scratch_database
    with scratch_database("sonarium_feature_quality") as url, tempfile.TemporaryDirectory() as data_dir:
        os.environ.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:6379/12", MEDIASERVER_TYPE="local",
                          MUSIC_DIR=str(corpus), SONARIUM_DATA_DIR=data_dir, LOG_LEVEL="WARNING")
        import runtime
        from similarity import catalog, index as track_index
        runtime.init()
        ids = fill_database(corpus, entries, vectors)
        track_index.update()
        index = track_index.load()
        infos = catalog.describe(ids)
        group_of = {track_id: group for track_id, (group, _) in zip(ids, entries)}
        print(f"{index.size} tracks in {len(set(group_of.values()))} groups, {features.VECTOR_MODEL}, "
              f"{features.DEFAULT_DEPTH} depth")
        similar_songs(index, infos, group_of)
        song_paths(index, infos, group_of, options.pairs, options.length)
        alchemy_recipes(index, infos, group_of, options.recipes)
        if options.copies:
            duplicates(index, entries, ids, options.cache, options.copies)
    print(f"\nrun time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
