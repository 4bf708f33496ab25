"""How well playlist order joins songs, on a labelled corpus: ours against the given, random and greedy orders.

    python bench/ordering.py CORPUS [--cache DIR] [--lists 40] [--size 20]

CORPUS holds manifest.csv (as shared/corpus/build_dev_corpus.sh writes).  Each
file is analysed once by the real pipeline (bench/clustering.py's cache: vector,
first and last seconds' vectors, tempo, key, scale, energy) and goes into a
scratch PostgreSQL database as the local provider lists it; the index is built
by similarity.index.update().  Three kinds of list, --lists of each:

- similar: `similar_tracks(seed, --size)` for random seeds, ranked closest first
  (ordered after the seed, keeping far songs behind close ones, as the page does);
- set: --size random songs of one source (an automatic playlist's kind of set;
  no song's rank counts);
- path: `find_path` of --size songs between random songs of two sources (its
  ends fixed; ours keeps each song near its place along the path). The pages
  keep a path as found: this row shows what reordering it would buy.

Each list is scored in four orders: as given (ranked, or the set's random draw),
random (the mean over 20 shuffles, fixed ends kept), a greedy nearest-neighbour
walk on the seam cost from the same first song, and similarity.ordering.order
(the one the features use).  Per order: the mean and the worst seam cost
(similarity.ordering.seam_costs, 0..1), the mean of its sound part, and artist
repeats within ARTIST_GAP places.  For similar lists, the share of the list's
closest half that the order keeps in its first half (ranking kept).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SHUFFLES = 20


def _repeats(artists: list[str], order: list[int], gap: int) -> int:
    played = [artists[i] for i in order]
    return sum(1 for p, name in enumerate(played) if name and name in played[max(0, p - gap + 1):p])


def _greedy(costs: np.ndarray, first: int, last: int | None) -> list[int]:
    order, left = [first], [i for i in range(len(costs)) if i not in (first, last)]
    while left:
        chosen = min(left, key=lambda j: costs[order[-1], j])
        order.append(chosen)
        left.remove(chosen)
    return order + ([last] if last is not None else [])


def _score(songs, parts: dict, costs: np.ndarray, order: list[int], gap: int) -> list[float]:
    seams = costs[order[:-1], order[1:]]
    sound = parts["sound"][order[:-1], order[1:]]
    return [float(seams.mean()), float(seams.max()), float(sound.mean()), _repeats(songs.artists, order, gap)]


def measure(kind: str, lists: list[tuple[list[int], bool, np.ndarray | None]],
            standardization) -> dict[str, np.ndarray]:
    """Scores per order for lists of (track ids, fixed ends, relevance); a similar list starts with its seed."""
    from similarity import ordering
    rng = np.random.default_rng(1)
    scored: dict[str, list] = {"given": [], "random": [], "greedy": [], "ours": []}
    kept_rank: list[float] = []
    for ids, fixed_ends, relevance in lists:
        songs = ordering.load_songs(ids, standardization)
        parts = ordering.seam_parts(songs)
        costs = ordering.seam_costs(parts)
        n = len(ids)
        first = 0 if kind in ("similar", "path") else None
        last = n - 1 if fixed_ends else None
        given = list(range(n))
        shuffles = []
        for _ in range(SHUFFLES):
            middle = [i for i in rng.permutation(n) if i not in (first, last)]
            shuffles.append(([first] if first is not None else []) + middle + ([last] if last is not None else []))
        ours = ordering.order(songs, first=first, last=last, relevance=relevance).order
        scored["given"].append(_score(songs, parts, costs, given, ordering.ARTIST_GAP))
        scored["random"].append(np.mean([_score(songs, parts, costs, s, ordering.ARTIST_GAP) for s in shuffles],
                                        axis=0))
        scored["greedy"].append(_score(songs, parts, costs, _greedy(costs, first if first is not None else 0, last),
                                       ordering.ARTIST_GAP))
        scored["ours"].append(_score(songs, parts, costs, ours, ordering.ARTIST_GAP))
        if kind == "similar":
            half = set(range(1, (n + 1) // 2 + 1))
            kept_rank.append(len(half & set(ours[1:len(half) + 1])) / len(half))
    result = {name: np.mean(rows, axis=0) for name, rows in scored.items()}
    if kept_rank:
        result["kept_rank"] = np.array([np.mean(kept_rank)])
    return result


def timing(sizes=(25, 100, 200, 500), repeat: int = 3) -> None:
    """The time `ordering.order` takes per list (median of `repeat`), on synthetic songs (400-d edges)."""
    from similarity import ordering
    rng = np.random.default_rng(2)
    print(f"\n| songs | greedy walk + local search (ms, median; SEARCH_WORK {ordering.SEARCH_WORK:,}) |\n|---|---|")
    for n in sizes:
        def unit(rows):
            return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
        songs = ordering.Songs(unit(rng.standard_normal((n, 400))), unit(rng.standard_normal((n, 400))),
                               rng.uniform(60, 180, n), rng.uniform(0, 1, n),
                               [ordering.camelot(k, s) for k, s in zip(rng.choice(ordering._PITCHES, n),
                                                                      rng.choice(["major", "minor"], n))],
                               [f"artist {i}" for i in rng.integers(0, n // 3 + 1, n)], [""] * n)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            ordering.order(songs, first=0, relevance=np.sort(rng.uniform(0.3, 1.0, n)))
            times.append((time.perf_counter() - started) * 1000)
        print(f"| {n} | {np.median(times):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    parser.add_argument("--lists", type=int, default=40, help="lists of each kind")
    parser.add_argument("--size", type=int, default=20, help="songs per list")
    options = parser.parse_args()
    started = time.perf_counter()
    corpus = options.corpus.resolve()
    from bench.corpus import analyse, library
    entries, analyses = analyse(corpus, options.cache)
    with library("sonarium_ordering", corpus, entries, analyses) as (ids, index):
        from similarity import catalog
        from similarity.neighbours import similar_tracks
        from similarity.path import find_path
        infos = catalog.describe(ids)
        group_of = {track_id: group for track_id, (group, _) in zip(ids, entries)}
        groups = sorted(set(group_of.values()))
        members = {g: [t for t in ids if group_of[t] == g] for g in groups}
        rng = np.random.default_rng(0)
        lists = {"similar": [], "set": [], "path": []}
        for _ in range(options.lists):
            seed = int(rng.choice(ids))
            found = similar_tracks(index, infos[seed], options.size - 1)
            # as the page orders it (similarity/craft.py): far songs kept behind close ones, the seed first
            distances = [d for _, d in found.tracks]
            lists["similar"].append(([seed] + [t.id for t, _ in found.tracks], False,
                                     np.array([min(distances)] + distances)))
            group = str(rng.choice([g for g in groups if len(members[g]) >= options.size]))
            lists["set"].append(([int(i) for i in rng.choice(members[group], options.size, replace=False)], False,
                                 None))
            a, b = rng.choice(groups, 2, replace=False)
            start, end = int(rng.choice(members[a])), int(rng.choice(members[b]))
            path = find_path(index, infos[start], infos[end], options.size)
            lists["path"].append(([t.id for t, _ in path.tracks], True, np.arange(len(path.tracks), dtype=float)))
        print(f"{index.size} tracks in {len(groups)} sources; {options.lists} lists of each kind, "
              f"{options.size} songs each")
        print("\n| lists | order | mean seam | worst seam | mean sound part | artist repeats | ranking kept |\n"
              "|---|---|---|---|---|---|---|")
        for kind, chosen in lists.items():
            result = measure(kind, chosen, index.standardization)
            kept = f"{result['kept_rank'][0]:.0%}" if "kept_rank" in result else ""
            for name in ("given", "random", "greedy", "ours"):
                mean, worst, sound, repeats = result[name]
                label = {"given": "ranked" if kind == "similar" else "as found" if kind == "path" else "drawn",
                         "random": "random", "greedy": "greedy nearest", "ours": "ordering.order"}[name]
                print(f"| {kind} | {label} | {mean:.3f} | {worst:.3f} | {sound:.3f} | {repeats:.1f} | "
                      f"{kept if name == 'ours' else ''} |")
    timing()
    print(f"\nrun time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
