"""The automatic playlists' search, scoring and playlists on synthetic libraries (no database)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from config import CLUSTER_SCORE_WEIGHTS
from similarity import cluster_playlists, cluster_scoring, clustering
from similarity.cluster_playlists import build, match, plain_names
from similarity.clustering import ALGORITHMS, PRESETS, next_configs, run, sample_rows, search_space, solve
from similarity.neighbours import DUPLICATE_DISTANCE
from tests.clustering_data import library

DIM = 24   # the synthetic vectors' dimensions


def space_for(features, **kwargs):
    return search_space(len(features), dimensions=DIM, **kwargs)


def small_search(features, space, seed, runs=24, batch=8):
    """The task's loop in miniature: explore one generation, then mutate the elites."""
    rng = np.random.default_rng(seed)
    outcomes, elites = [], []
    while len(outcomes) < runs:
        configs = next_configs(space, elites, batch, rng, exploit=bool(outcomes))
        outcomes += [run(features, c, len(outcomes) + i, seed, space=space) for i, c in enumerate(configs)]
        elites = clustering.best_runs(outcomes, 4)
    return outcomes


def test_space_scales_with_the_library():
    small = search_space(170)
    assert (small.min_size, small.max_size) == (8, 30) and 4 <= small.playlists <= 8
    assert small.k_range[1] * small.min_size <= 170 and small.k_range[0] >= 2
    assert small.sample_size == 170
    huge = search_space(300_000)
    assert 90 <= huge.playlists <= 110 and huge.max_size <= 100
    assert huge.sample_size == clustering.SAMPLE_TRACKS and huge.k_range[1] >= huge.playlists
    assert set(ALGORITHMS) >= set(huge.algorithms) >= {"kmeans", "gmm", "dbscan"}
    json.dumps(huge.as_json())
    for name, preset in PRESETS.items():
        assert {"runs", "batch_size", "batches_per_generation", "patience", "elites", "explore_share"} <= set(preset)
        assert preset["runs"] >= preset["batch_size"] * preset["batches_per_generation"], name


def test_a_two_track_library_gets_a_clear_message():
    with pytest.raises(ValueError, match=r"2 analysed tracks are too few .* need 10"):
        search_space(2)
    with pytest.raises(ValueError, match="min_size must be at least 2"):
        search_space(100, min_size=1)
    with pytest.raises(ValueError, match="unknown algorithms"):
        search_space(100, algorithms=("kmeans", "hdbscan"))


def test_a_twenty_track_library_gets_its_two_groups():
    features, groups = library(groups=2, per_group=10, spread=0.4, seed=3)
    space = space_for(features)
    assert space.k_range[0] == 2 and space.min_size == 5
    outcomes = small_search(features, space, seed=1, runs=16)
    best = clustering.best_runs(outcomes, 1)[0]
    labels = solve(features, best["config"], 1)
    drafts = build(features, labels, min_size=space.min_size, max_size=space.max_size, playlists=space.playlists,
                   max_per_artist=None, seed=1)
    assert len(drafts) >= 2
    for draft in drafts:
        assert len(draft.track_ids) >= space.min_size
        assert len({groups[(i // 10) - 1] for i in draft.track_ids}) == 1   # ids are 10 x (row + 1)


def test_the_search_finds_known_groups_and_is_reproducible():
    features, groups = library(groups=5, per_group=30, spread=0.8, seed=0)
    space = space_for(features)
    first = small_search(features, space, seed=7)
    again = small_search(features, space, seed=7)
    strip = lambda outcomes: [{k: v for k, v in o.items() if k != "seconds"} for o in outcomes]   # noqa: E731
    assert strip(first) == strip(again)
    json.dumps(first)
    best = clustering.best_runs(first, 1)[0]
    labels = solve(features, best["config"], 7)
    assert np.array_equal(labels, solve(features, best["config"], 7))
    placed = labels >= 0
    assert placed.mean() > 0.7 and adjusted_mutual_info_score(groups[placed], labels[placed]) > 0.8


def test_a_config_that_cannot_cluster_fails_softly():
    features, _ = library(groups=3, per_group=20, seed=1)
    space = space_for(features)
    for config in ({"algorithm": "dbscan", "eps": 5.0, "min_samples": 3, "pca": 0},        # one cluster
                   {"algorithm": "kmeans", "k": 500, "pca": 0},
                   {"algorithm": "gmm", "k": 4, "covariance": "diag", "pca": 64}):       # more components than dims
        outcome = run(features, config, 0, 0, space=space)
        assert outcome["score"] == clustering.FAILED_SCORE and outcome["failed"]
        json.dumps(outcome)
    with pytest.raises(ValueError, match="fewer than two clusters"):
        solve(features, {"algorithm": "dbscan", "eps": 5.0, "min_samples": 3, "pca": 0}, 0)


def test_configs_stay_in_the_space_and_every_parameter_mutates():
    features, _ = library(groups=4, per_group=40, seed=2)
    space = space_for(features)
    rng = np.random.default_rng(0)
    elites = [{"algorithm": "gmm", "k": 8, "covariance": "diag", "pca": 8},
              {"algorithm": "dbscan", "eps": 0.9, "min_samples": 5, "pca": 0},
              {"algorithm": "spectral", "k": 6, "neighbours": 12, "pca": 16}]
    changed: set[tuple[str, str]] = set()
    for config in next_configs(space, elites, 600, rng, exploit=True):
        assert config["algorithm"] in space.algorithms and config["pca"] in space.pca_choices
        if "k" in config:
            assert space.k_range[0] <= config["k"] <= space.k_range[1]
        if "eps" in config:
            assert space.eps_range[0] <= config["eps"] <= space.eps_range[1]
        for elite in elites:
            if elite["algorithm"] == config["algorithm"]:
                changed |= {(elite["algorithm"], key) for key in elite if config.get(key) != elite[key]}
    assert changed == {(e["algorithm"], key) for e in elites for key in e if key != "algorithm"}


def test_samples_are_stratified_by_top_tag_and_rotate():
    features, groups = library(groups=4, per_group=500, seed=4)
    space = search_space(len(features), dimensions=DIM)
    space = clustering.SearchSpace(**{**space.as_json(), "sample_size": 400})
    first, second = (sample_rows(features, space, run, 5) for run in (0, 1))
    assert first.size == second.size == 400
    assert np.array_equal(first, sample_rows(features, space, 0, 5))
    assert 0.7 <= np.intersect1d(first, second).size / 400 <= 0.9     # ROTATE_SHARE of it replaced
    assert np.bincount(groups[first]).min() >= 90                      # each group's share kept


def test_scoring_ranks_labels_by_score_not_position():
    """Clusters whose strongest tags sit at the end of the vocabulary are as pure as any."""
    rng = np.random.default_rng(0)
    n = 60
    labels = np.repeat([0, 1], n // 2)
    scores = rng.uniform(0, 0.1, size=(n, len(cluster_scoring.LABELS)))
    own = {0: ("weird", "sitar", "opera"), 1: ("cello", "harp", "flute")}   # all late in LABELS
    for cluster, tags in own.items():
        for tag in tags:
            scores[labels == cluster, cluster_scoring.LABELS.index(tag)] = rng.uniform(0.6, 1.0, n // 2)
    ranks = cluster_scoring.percentiles(scores)
    _, ranked = cluster_scoring.top_labels(ranks, labels)
    for cluster, tags in own.items():
        assert {cluster_scoring.LABELS[j] for j in ranked[cluster, :3]} == set(tags)
    unit = np.eye(2)[labels] + rng.normal(0, 0.3, size=(n, 2))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    _, breakdown = cluster_scoring.score(unit, ranks, labels, weights=CLUSTER_SCORE_WEIGHTS, seed=0, min_size=5,
                                         max_size=30, playlists=2)
    assert breakdown["purity"]["normalised"] > 0.9 and breakdown["diversity"]["normalised"] > 0.9
    features, _ = library(groups=2, per_group=20, seed=0)
    drafts = build(features, np.repeat([0, 1], 20), min_size=5, max_size=40, playlists=2, max_per_artist=None,
                   seed=0)
    tags = {tag for draft in drafts for tag, _ in draft.profile["top_tags"][:2]}
    assert tags <= {"ambient", "chillout", "new age", "slow", "electronic", "dance", "house", "techno", "beats",
                    "synth"} and len(tags) >= 3


def test_a_random_partition_scores_about_zero():
    features, groups = library(groups=5, per_group=40, spread=0.8, seed=6)
    ranks = cluster_scoring.percentiles(cluster_scoring.label_scores(features.msd, features.mtt))
    shuffled = np.random.default_rng(1).permutation(groups)
    sizes = {"min_size": 8, "max_size": 40, "playlists": 5}
    total, breakdown = cluster_scoring.score(features.vectors, ranks, shuffled, weights=CLUSTER_SCORE_WEIGHTS,
                                             seed=2, **sizes)
    assert abs(total) < 0.1 * sum(CLUSTER_SCORE_WEIGHTS.values())
    for measure in ("purity", "diversity", "silhouette", "davies_bouldin"):
        assert abs(breakdown[measure]["normalised"]) < 0.15, (measure, breakdown[measure])
    true_total, breakdown = cluster_scoring.score(features.vectors, ranks, groups, weights=CLUSTER_SCORE_WEIGHTS,
                                                  seed=2, **sizes)
    assert true_total > 0.5 * sum(CLUSTER_SCORE_WEIGHTS.values()) and breakdown["placeable_share"] == 1.0
    crumbs, breakdown = cluster_scoring.score(features.vectors, ranks, groups, weights=CLUSTER_SCORE_WEIGHTS,
                                              seed=2, **dict(sizes, min_size=41))
    assert crumbs == 0.0 and breakdown["placeable_share"] == 0.0   # no cluster big enough to be a playlist


def test_placeable_share_counts_what_the_playlists_asked_for_can_hold():
    share = cluster_scoring.placeable_share
    assert share(np.array([30, 30, 30]), tracks=90, min_size=8, max_size=30, playlists=3) == 1.0
    assert share(np.array([90]), tracks=90, min_size=8, max_size=30, playlists=3) == 1.0      # split in three
    assert share(np.array([10] * 9), tracks=90, min_size=8, max_size=30, playlists=3) == pytest.approx(1 / 3)
    assert share(np.array([5] * 18), tracks=90, min_size=8, max_size=30, playlists=3) == 0.0
    assert share(np.array([30, 30]), tracks=90, min_size=8, max_size=30, playlists=3) == pytest.approx(2 / 3)


def test_oversize_clusters_are_split_by_subclustering():
    features, groups = library(groups=3, per_group=30, spread=0.5, seed=8)
    drafts = build(features, np.zeros(90, np.int64), min_size=10, max_size=35, playlists=5, max_per_artist=None,
                   seed=0)
    assert len(drafts) == 3
    for draft in drafts:
        assert 10 <= len(draft.track_ids) <= 35
        assert len({groups[i // 10 - 1] for i in draft.track_ids}) == 1   # a group each, not a slice of rows
        assert draft.profile["size"] == len(draft.track_ids)
        assert draft.profile["central_track_ids"] == draft.track_ids[:5]
        assert draft.reason.endswith(".") and "songs" in draft.reason
    json.dumps([d.profile for d in drafts])


def test_artist_cap_and_duplicates_are_dropped():
    features, groups = library(groups=2, per_group=30, spread=0.5, seed=9, artists_per_group=3)
    features.titles[5] = "Song 4 (Live)"                       # another recording of row 4's song...
    features.artists[5] = features.artists[4]
    features.vectors[7] = features.vectors[6]                  # ...and the same master under another name
    features.artists[6], features.artists[7] = "", ""
    capped = build(features, groups, min_size=3, max_size=40, playlists=2, max_per_artist=4, seed=0)
    row = {int(i): r for r, i in enumerate(features.ids)}
    for draft in capped:
        artists = [features.artists[row[i]] for i in draft.track_ids]
        named = [a for a in artists if a]
        assert max(named.count(a) for a in set(named)) <= 4
    free = build(features, groups, min_size=3, max_size=40, playlists=2, max_per_artist=None, seed=0)
    kept = {row[i] for draft in free for i in draft.track_ids}
    assert len({4, 5} & kept) == 1 and len({6, 7} & kept) == 1
    assert len(kept) == 58
    points = features.vectors[sorted(kept)]
    assert (points @ points.T - np.eye(len(kept)) < 1 - DUPLICATE_DISTANCE).all()


def test_names_are_distinct_and_readable():
    features, groups = library(groups=6, per_group=20, spread=0.6, seed=10)
    drafts = build(features, groups, min_size=5, max_size=30, playlists=6, max_per_artist=None, seed=0)
    names = plain_names([d.profile for d in drafts])
    assert len({n.casefold() for n in names}) == 6
    assert all(re.fullmatch(r"[A-Z][A-Za-z&' -]+(, \d+-\d+ BPM|, around \d+ BPM)?", n) for n in names), names
    same = dict(drafts[0].profile)
    twins = plain_names([same, same, same, dict(same, top_tags=[])])
    assert len({n.casefold() for n in twins}) == 4
    assert not any(re.search(r"\s\d+$", n) for n in twins), twins        # no bare "2" to tell them apart
    assert plain_names([{"top_tags": [], "top_moods": [], "tempo": None, "energy": None}]) == ["Mix"]


def test_match_pairs_one_to_one_above_the_overlap():
    previous = [set(range(0, 20)), set(range(20, 40)), set(range(40, 60))]
    new = [set(range(22, 40)) | {100}, set(range(0, 15)), set(range(45, 47)) | set(range(200, 220)),
           set(range(0, 20))]
    pairs = match(new, previous)
    assert pairs == {0: 1, 3: 0}            # new 1 loses previous 0 to new 3, which overlaps it more
    assert len(set(pairs.values())) == len(pairs)
    assert match(new, previous, min_overlap=0.95) == {3: 0}
    assert match([], previous) == {} and match(new, []) == {}


def test_the_fast_indices_agree_with_sklearn():
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 8))
    labels = rng.integers(0, 7, 300) * 3 + 1   # unsorted, gaps in the numbering
    assert cluster_scoring.davies_bouldin(points, labels) == pytest.approx(davies_bouldin_score(points, labels))
    assert cluster_scoring.calinski_harabasz(points, labels) == pytest.approx(calinski_harabasz_score(points, labels))


def test_tiny_inputs_give_empty_results_not_crashes():
    features, _ = library(groups=2, per_group=1, seed=11)
    assert build(features, np.array([0, 1]), min_size=5, max_size=10, playlists=2, max_per_artist=None,
                 seed=0) == []
    assert build(features, np.array([-1, -1]), min_size=1, max_size=10, playlists=2, max_per_artist=None,
                 seed=0) == []
    assert plain_names([]) == []
    twenty, _ = library(groups=2, per_group=10, seed=12)
    space = space_for(twenty)
    for config in next_configs(space, [], 12, np.random.default_rng(0), exploit=False):
        outcome = run(twenty, config, 0, 0, space=space)
        assert outcome["score"] > clustering.FAILED_SCORE or outcome["failed"]
