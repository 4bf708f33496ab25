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


def _precision_at(points, labels, k=5):
    similarity = points @ points.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())


def _index(points):
    index = voyager.Index(voyager.Space.Cosine, num_dimensions=points.shape[1], M=16, ef_construction=200)
    index.add_items(points, np.arange(len(points), dtype=np.uint64))
    dim = points.shape[1]
    return TrackIndex(index, Standardization(np.zeros(dim, np.float32), np.ones(dim, np.float32)), 1, 0)


def test_smoothing_draws_groups_together_and_keeps_unit_length():
    points, labels = _groups(8, 12, 2.0)  # about 0.58 of the 5 nearest in the same group
    smoothed = smoothing.smooth_all(points)
    assert smoothed.dtype == np.float32 and smoothed.shape == points.shape
    assert np.allclose(np.linalg.norm(smoothed, axis=1), 1.0, atol=1e-5)
    assert _precision_at(smoothed, labels) > _precision_at(points, labels) + 0.05


def test_the_index_smooths_as_the_exact_search_does():
    points, _ = _groups(6, 20, 1.0, seed=1)
    exact = smoothing.smooth_all(points)
    from_index = smoothing.smoothed_points(_index(points), list(range(len(points))))
    assert np.mean(np.sum(exact * from_index, axis=1) > 0.9999) > 0.95


def test_rerank_puts_the_seeds_group_first_and_keeps_direct_distances():
    points, labels = _groups(8, 12, 2.0, seed=2)
    index = _index(points)
    better = 0
    for seed in range(0, len(points), 7):
        found = index.nearest(points[seed], 30, exclude={seed})
        ranked = smoothing.rerank(index, seed, found)
        assert sorted(ranked) == sorted(found)  # the same candidates, distances untouched
        before = np.mean([labels[i] == labels[seed] for i, _ in found[:5]])
        after = np.mean([labels[i] == labels[seed] for i, _ in ranked[:5]])
        better += after - before
    assert better > 0


@pytest.mark.parametrize("count", [1, 2, 4])
def test_tiny_libraries_rank_with_what_there_is(count):
    points, _ = _groups(1, count, 0.5, seed=3)
    assert np.isfinite(smoothing.smooth_all(points)).all()
    index = _index(points)
    found = index.nearest(points[0], 5, exclude={0})
    assert sorted(smoothing.rerank(index, 0, found)) == sorted(found)
