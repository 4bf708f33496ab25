"""Neighbourhood re-ranking of similar songs (similarity.smoothing)."""
import numpy as np
import pytest
import voyager

from analysis.standardize import Standardization
from similarity import smoothing
from similarity.index import TrackIndex


def _groups(count, size, spread, seed=0, dim=40):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (count, dim))
    labels = np.repeat(np.arange(count), size)
    points = centres[labels] + rng.normal(0, spread, (len(labels), dim))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32), labels


def _index(points):
    index = voyager.Index(voyager.Space.Cosine, num_dimensions=points.shape[1], M=16, ef_construction=200)
    index.add_items(points, np.arange(len(points), dtype=np.uint64))
    dim = points.shape[1]
    return TrackIndex(index, Standardization(np.zeros(dim, np.float32), np.ones(dim, np.float32)), 1, 0)


def _share_of_group(ranked, labels, query, k=5):
    return float(np.mean(labels[np.asarray(ranked[:k])] == labels[query]))


def test_ranking_by_neighbourhood_gathers_groups():
    points, labels = _groups(8, 12, 2.0)  # about 0.58 of the 5 nearest in the same group
    similarity = points @ points.T
    np.fill_diagonal(similarity, -np.inf)
    plain = [_share_of_group(np.argsort(-similarity[q])[:-1], labels, q) for q in range(len(points))]
    ranked = [_share_of_group(smoothing.ranking(similarity[q], points, q), labels, q) for q in range(len(points))]
    assert np.mean(ranked) > np.mean(plain) + 0.05
    order = smoothing.ranking(similarity[0], points, 0)
    assert sorted(order.tolist()) == list(range(1, len(points)))  # every other row once, never the query


def test_rerank_puts_the_seeds_group_first_and_keeps_direct_distances():
    points, labels = _groups(8, 12, 2.0, seed=2)
    index = _index(points)
    gained = 0.0
    for seed in range(0, len(points), 7):
        found = index.nearest(points[seed], 30, exclude={seed})
        ranked = smoothing.rerank(index, seed, found)
        assert sorted(ranked) == sorted(found)  # the same candidates, distances untouched
        gained += _share_of_group([i for i, _ in ranked], labels, seed) - \
            _share_of_group([i for i, _ in found], labels, seed)
    assert gained > 0


def test_the_product_ranks_as_the_benchmark_does():
    points, _ = _groups(6, 20, 1.5, seed=4)
    index = _index(points)
    similarity = points @ points.T
    np.fill_diagonal(similarity, -np.inf)
    for seed in (0, 33, 71):
        found = index.nearest(points[seed], 40, exclude={seed})
        served = [i for i, _ in smoothing.rerank(index, seed, found)]
        benchmark = [i for i in smoothing.ranking(similarity[seed], points, seed) if i in {j for j, _ in found}]
        assert served[:10] == benchmark[:10]


@pytest.mark.parametrize("count", [1, 2, 4])
def test_tiny_libraries_rank_with_what_there_is(count):
    points, _ = _groups(1, count, 0.5, seed=3)
    index = _index(points)
    found = index.nearest(points[0], 5, exclude={0})
    assert sorted(smoothing.rerank(index, 0, found)) == sorted(found)
    assert np.isfinite(smoothing.neighbourhood_closeness(points)).all()
