"""Better track vectors for the same analysis cost (issue 16): leave-one-out P@10 on a labelled corpus.

    python bench/vector_levers.py CORPUS [--cache DIR] [--depth fast] [--rerank 20 30 50]

CORPUS holds manifest.csv (`group`, `path`), as shared/corpus/build_dev_corpus.sh
writes.  Each file is analysed once at --depth as `analyze_file` plans it (the
same excerpts, decoded the same way) and what the shipped vector throws away is
cached in --cache under bench/feature_quality.py's cache key: every layer of
both models for every patch, the log-mel patches themselves (float16, for
bench/quantized_models.py) and a timbre descriptor of the decoded audio.  The
mean of the shipped layers is checked against the vector the real pipeline
gives (bench/clustering.py's cache) before anything is scored.

Scores are bench/quality.py's (`scores`: leave-one-out, standardized cosine,
macro P@10 / MAP / 1-NN).  The levers:

a. spread: the per-patch standard deviation of the shipped layers appended
   to their mean (each half standardized per dimension, as the index does);
b. timbre: MFCC (20) and spectral-contrast (7 bands) means and standard
   deviations (54-d) fused with the MusiCNN vector; each part standardized and
   L2-normalised, the timbre part scaled by a weight w.  w is chosen by nested
   leave-one-out: for every query track, w is the one that maximises P@10 over
   the *other* tracks (each of them a query among the rest), and the query is
   then ranked with that w, so no score helps choose its own weight;
c. re-ranking: the --rerank nearest tracks by the shipped vector re-ordered
   by a richer distance, the mean over the query's patches of the best cosine
   to the candidate's patches (standardized patch vectors).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import features, musicnn  # noqa: E402
from analysis.decode import SAMPLE_RATE, decode, probe_duration  # noqa: E402
from analysis.standardize import Standardization  # noqa: E402
from bench.clustering import track_analysis  # noqa: E402
from bench.feature_quality import cache_key  # noqa: E402
from bench.quality import read_manifest, scores  # noqa: E402

CACHE_VARIANT = "levers-1"
TIMBRE_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def depth_segments(path: Path, depth: str) -> list[np.ndarray]:
    """The 16 kHz audio stretches `analyze_file` decodes for `path` at `depth` (mono float32)."""
    duration = probe_duration(path)
    decoded = decode(path, features.plan_windows(duration, features.DEPTHS[depth]) if duration > 0 else None)
    return [s for s in decoded.segments if s.size >= musicnn.PATCH_SAMPLES] or [np.concatenate(decoded.segments)]


def timbre_descriptor(segments: list[np.ndarray]) -> np.ndarray:
    """MFCC and spectral-contrast statistics of decoded audio.

    Parameters
    ----------
    segments : mono float32 stretches at 16 kHz.

    Returns
    -------
    np.ndarray
        float32, 54 values: mean and standard deviation over all frames (2048-sample
        windows, 512-sample hop, i.e. 32 ms) of 20 MFCCs, then of the spectral
        contrast of 7 bands (dB).
    """
    import librosa
    mfcc = np.concatenate([librosa.feature.mfcc(y=s, sr=SAMPLE_RATE, n_mfcc=20) for s in segments], axis=1)
    contrast = np.concatenate([librosa.feature.spectral_contrast(y=s, sr=SAMPLE_RATE, fmin=100.0)
                               for s in segments], axis=1)
    return np.concatenate([mfcc.mean(1), mfcc.std(1), contrast.mean(1), contrast.std(1)]).astype(np.float32)


def track_levers(path: Path, cache: Path, depth: str = features.DEFAULT_DEPTH) -> dict[str, np.ndarray]:
    """Per-patch outputs of both models ("msd.dense", ... each (patches, width)), the log-mel
    patches ("mel", float16 (patches, 187, 96)) and the timbre descriptor ("timbre") of `path`
    analysed at `depth`, cached."""
    cached = cache / f"levers-{cache_key(path, f'{CACHE_VARIANT}.{depth}')}.npz"
    if cached.exists():
        with np.load(cached) as stored:
            return dict(stored)
    segments = depth_segments(path, depth)
    batch = np.concatenate([musicnn.patches(musicnn.log_mel(s)) for s in segments])
    data = {"mel": batch.astype(np.float16), "timbre": timbre_descriptor(segments)}
    for model in ("msd", "mtt"):
        for layer, value in musicnn.infer(model, batch).items():
            data[f"{model}.{layer}"] = value
    np.savez(cached, **data)
    return data


def shipped_names() -> list[str]:
    """The per-patch layers the shipped track vector pools ("msd.dense", "mtt.penultimate")."""
    return [f"{model}.{layer}" for model, layer in features.VECTOR_LAYERS]


def load_corpus(corpus: Path, cache: Path, depth: str) -> tuple[list[str], list[dict[str, np.ndarray]]]:
    """Every track's groups and cached levers; checks the pooled means against the real pipeline's vectors."""
    cache.mkdir(parents=True, exist_ok=True)
    entries = read_manifest(corpus / "manifest.csv")
    groups, levers, worst = [], [], 1.0
    for number, (group, path) in enumerate(entries, 1):
        found = track_levers(path, cache, depth)
        if depth == features.DEFAULT_DEPTH:
            mean = np.concatenate([found[name].mean(axis=0) for name in shipped_names()])
            real = track_analysis(path, cache)["vector"]
            worst = min(worst, float(mean @ real / np.linalg.norm(mean) / np.linalg.norm(real)))
        groups.append(group)
        levers.append(found)
        print(f"\ranalysed {number}/{len(entries)}", end="", file=sys.stderr)
    print(file=sys.stderr)
    if depth == features.DEFAULT_DEPTH:
        print(f"pooled cached patches against the real pipeline's vectors: lowest cosine {worst:.6f}")
    return groups, levers


def unit_standardized(vectors: np.ndarray) -> np.ndarray:
    """Each dimension z-scored over the tracks, each row L2-normalised (float64)."""
    return Standardization.fit(vectors).apply(vectors).astype(np.float64)


def precision_at_10(similarity: np.ndarray, labels: np.ndarray, queries: np.ndarray,
                    candidates: np.ndarray) -> np.ndarray:
    """P@10 of each query among `candidates` (itself excluded), by descending `similarity`.

    Returns
    -------
    np.ndarray
        One share (0-1) per query, in `queries` order.
    """
    sub = similarity[np.ix_(queries, candidates)].copy()
    sub[queries[:, None] == candidates[None, :]] = -np.inf
    top = np.argsort(-sub, axis=1)[:, :10]
    return (labels[candidates][top] == labels[queries][:, None]).mean(axis=1)


def nested_timbre_weights(musicnn_part: np.ndarray, timbre_part: np.ndarray, groups: list[str]
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Fused similarity with each query's timbre weight chosen without that query.

    Returns
    -------
    similarity : (n, n) float64; row i ranks the corpus for query i with w_i.
    weights : (n,) the w_i used (from TIMBRE_WEIGHTS).
    """
    labels = np.array(groups)
    group_names = sorted(set(groups))
    count = len(groups)
    everyone = np.arange(count)
    fused = {w: musicnn_part @ musicnn_part.T + w * w * (timbre_part @ timbre_part.T) for w in TIMBRE_WEIGHTS}
    # Macro P@10 per weight for every held-out query: the other tracks score each other among
    # themselves (the held-out track removed from the candidates too).
    similarity = np.empty((count, count))
    weights = np.empty(count)
    for held_out in range(count):
        rest = everyone[everyone != held_out]
        best, best_weight = -1.0, TIMBRE_WEIGHTS[0]
        for weight, matrix in fused.items():
            shares = precision_at_10(matrix, labels, rest, rest)
            macro = np.mean([shares[labels[rest] == g].mean() for g in group_names])
            if macro > best:
                best, best_weight = macro, weight
        weights[held_out] = best_weight
        similarity[held_out] = fused[best_weight][held_out]
    return similarity, weights


def query_precisions(similarity: np.ndarray, groups: list[str]) -> np.ndarray:
    """Leave-one-out P@10 of every track as the query of a precomputed (n, n) similarity."""
    everyone = np.arange(len(groups))
    return precision_at_10(similarity, np.array(groups), everyone, everyone)


def macro(shares: np.ndarray, labels: np.ndarray) -> float:
    """Mean per group, then over groups."""
    return float(np.mean([shares[labels == g].mean() for g in np.unique(labels)]))


def difference_interval(shares: np.ndarray, reference: np.ndarray, groups: list[str], draws: int = 2000
                        ) -> tuple[float, float]:
    """95% paired bootstrap interval of macro P@10 minus the reference's (tracks resampled within groups)."""
    labels = np.array(groups)
    rng = np.random.default_rng(0)
    members = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    differences = []
    for _ in range(draws):
        picked = [rng.choice(m, m.size) for m in members]
        differences.append(np.mean([shares[i].mean() - reference[i].mean() for i in picked]))
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


def rerank_similarity(levers: list[dict[str, np.ndarray]], base: np.ndarray, shortlist: int) -> np.ndarray:
    """`base` similarity with each query's `shortlist` nearest re-scored by patch matching.

    The richer score of candidate c for query q: the mean over q's patches of the best cosine to
    any of c's patches (patch vectors = the shipped layers, standardized over all patches of the
    corpus, unit length).  Re-scored candidates are lifted above the rest, so only their order
    within the shortlist changes.
    """
    names = shipped_names()
    rows = [np.concatenate([track[n] for n in names], axis=1) for track in levers]
    unit = unit_standardized(np.concatenate(rows))
    bounds = np.cumsum([0] + [len(r) for r in rows])
    patches = [unit[bounds[i]:bounds[i + 1]] for i in range(len(rows))]
    result = base.copy()
    for query in range(len(rows)):
        order = np.argsort(-np.where(np.arange(len(rows)) == query, -np.inf, base[query]))[:shortlist]
        for candidate in order:
            matched = (patches[query] @ patches[candidate].T).max(axis=1).mean()
            result[query, candidate] = 10.0 + matched
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    parser.add_argument("--depth", choices=tuple(features.DEPTHS), default=features.DEFAULT_DEPTH)
    parser.add_argument("--rerank", type=int, nargs="+", default=[20, 30, 50],
                        help="candidates re-ranked per query (lever c), one run each")
    options = parser.parse_args()
    groups, levers = load_corpus(options.corpus.resolve(), options.cache, options.depth)
    labels = np.array(groups)
    names = shipped_names()
    mean = np.stack([np.concatenate([t[n].mean(axis=0) for n in names]) for t in levers])
    spread = np.stack([np.concatenate([t[n].std(axis=0) for n in names]) for t in levers])
    timbre = np.stack([t["timbre"] for t in levers])
    # Weighted parts: each standardized and unit-normalised on its own, then scaled; every part
    # has unit length, so the dot product of the concatenations ranks as their cosine does.
    mean_part, spread_part, timbre_part = (unit_standardized(v) for v in (mean, spread, timbre))
    base = mean_part @ mean_part.T
    reference = query_precisions(base, groups)
    check = scores(mean, groups, True)["p10"]
    print(f"\n{len(groups)} tracks, depth {options.depth}; shipped vector by bench/quality.py's scores: "
          f"P@10 {check:.3f}\n\n| vector and distance | P@10 | change, 95% interval | 1-NN |\n|---|---|---|---|")

    def row(name: str, similarity: np.ndarray) -> None:
        shares = query_precisions(similarity, groups)
        low, high = difference_interval(shares, reference, groups)
        masked = np.where(np.eye(len(groups), dtype=bool), -np.inf, similarity)
        nearest = (labels[masked.argmax(axis=1)] == labels).astype(float)
        print(f"| {name} | {macro(shares, labels):.3f} | {macro(shares, labels) - macro(reference, labels):+.3f} "
              f"[{low:+.3f}, {high:+.3f}] | {macro(nearest, labels):.3f} |", flush=True)

    def fused(*parts: np.ndarray) -> np.ndarray:
        joined = np.hstack(parts)
        return joined @ joined.T

    row("shipped: mean of msd.dense+mtt.penultimate, standardized cosine", base)
    row("(a) mean ‖ std, standardized together", fused(unit_standardized(np.hstack([mean, spread]))))
    for weight in (0.25, 0.5, 0.75):
        row(f"(a) mean ‖ {weight} × std", fused(mean_part, weight * spread_part))
    row("timbre descriptor alone (54-d)", timbre_part @ timbre_part.T)
    for weight in (0.2, 0.3, 0.4, 0.5, 0.6):
        row(f"(b) mean ‖ {weight} × timbre, fixed weight (tuned on this score: orientation only)",
            fused(mean_part, weight * timbre_part))
    nested, weights = nested_timbre_weights(mean_part, timbre_part, groups)
    chosen = ", ".join(f"{w:g}: {int((weights == w).sum())}" for w in TIMBRE_WEIGHTS if (weights == w).any())
    row(f"(b) mean ‖ w × timbre, w by nested leave-one-out (tracks per chosen w: {chosen})", nested)
    for shortlist in options.rerank:
        row(f"(c) shipped, top {shortlist} re-ranked by patch matching", rerank_similarity(levers, base, shortlist))
    row(f"(a)+(c) mean ‖ 0.75 × std, top {options.rerank[-1]} re-ranked by patch matching",
        rerank_similarity(levers, fused(mean_part, 0.75 * spread_part), options.rerank[-1]))


if __name__ == "__main__":
    main()
