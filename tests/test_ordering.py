"""similarity/ordering.py: seams, Camelot keys, spacing, energy shapes, fixed ends, and the songs from the database."""
from __future__ import annotations

import numpy as np
import pytest

from similarity import ordering
from similarity.ordering import NEUTRAL, Songs, camelot, key_cost, order, seam_costs, seam_parts


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _songs(n: int, *, seed: int = 0, tempo=None, energy=None, keys=None, artists=None, albums=None,
           chain: bool = False) -> Songs:
    """n songs; with `chain`, song i's end sounds like song i+1's start (the best order is 0, 1, ..., n-1)."""
    rng = np.random.default_rng(seed)
    if chain:
        points = _unit(rng.standard_normal((n + 1, 32)))
        start, end = points[:-1], points[1:] + 0.05 * rng.standard_normal((n, 32))
    else:
        start, end = _unit(rng.standard_normal((n, 32))), _unit(rng.standard_normal((n, 32)))
    return Songs(start.astype(np.float32), _unit(end).astype(np.float32),
                 np.full(n, np.nan) if tempo is None else np.asarray(tempo, float),
                 np.full(n, np.nan) if energy is None else np.asarray(energy, float),
                 keys or [None] * n, artists or [""] * n, albums or [""] * n)


def test_camelot_codes_and_key_costs():
    assert camelot("A", "minor") == (8, "A") and camelot("C", "major") == (8, "B")
    assert camelot("E", "minor") == (9, "A") and camelot("F#", "major") == (2, "B")
    assert camelot(None, "major") is None and camelot("H", "major") is None
    assert key_cost(camelot("C", "major"), camelot("C", "major")) == 0.0
    assert key_cost(camelot("C", "major"), camelot("G", "major")) == ordering.KEY_NEIGHBOUR     # a fifth
    assert key_cost(camelot("C", "major"), camelot("A", "minor")) == ordering.KEY_NEIGHBOUR     # relative
    assert key_cost(camelot("C", "major"), camelot("D", "major")) == ordering.KEY_TWO_STEPS
    assert key_cost(camelot("C", "major"), camelot("F#", "major")) == 1.0                       # a clash
    assert key_cost(camelot("C", "major"), None) == NEUTRAL


def test_tempo_counts_half_and_double_time_as_the_same_pulse_and_unknowns_are_neutral():
    parts = seam_parts(_songs(4, tempo=[70, 140, 100, np.nan]))
    assert parts["tempo"][0, 1] == pytest.approx(0.0) and parts["tempo"][1, 0] == pytest.approx(0.0)
    assert parts["tempo"][0, 2] == 1.0                       # 70 -> 100 BPM: half an octave off
    assert parts["tempo"][0, 3] == NEUTRAL and parts["energy"][0, 1] == NEUTRAL
    costs = seam_costs(parts)
    assert costs.shape == (4, 4) and (0 <= costs).all() and (costs <= 1).all()


def test_a_chain_is_found_from_a_shuffle():
    songs = _songs(30, chain=True)
    found = order(songs, first=0)
    assert found.order == list(range(30))
    shuffled = np.random.default_rng(1).permutation(30)
    sound = seam_parts(songs)["sound"]
    assert found.parts["sound"].mean() < sound[shuffled[:-1], shuffled[1:]].mean() / 5


def test_fixed_ends_stay_and_every_song_is_played_once():
    songs = _songs(20, seed=3)
    found = order(songs, first=7, last=2)
    assert found.order[0] == 7 and found.order[-1] == 2 and sorted(found.order) == list(range(20))
    assert len(found.seams) == 19 and set(found.parts) == {"sound", "tempo", "key", "energy"}


def test_artists_are_spaced_when_they_can_be_and_counted_when_not():
    artists = [f"artist {i % 3}" for i in range(12)]
    found = order(_songs(12, seed=4, artists=artists), artist_gap=3)
    played = [artists[i] for i in found.order]
    assert found.artist_repeats == 0
    assert all(len(set(played[i:i + 3])) == 3 for i in range(10))
    crowded = order(_songs(6, seed=4, artists=["one"] * 5 + ["two"]), artist_gap=4)
    assert crowded.artist_repeats > 0 and sorted(crowded.order) == list(range(6))
    unknown = order(_songs(6, seed=4, artists=[""] * 6), artist_gap=4)
    assert unknown.artist_repeats == 0                        # an unknown artist is never a repeat


@pytest.mark.parametrize("shape", ["rising", "arc"])
def test_energy_shapes(shape):
    energy = np.linspace(0.05, 0.95, 16)[np.random.default_rng(5).permutation(16)]
    found = order(_songs(16, seed=6, energy=energy), shape=shape)
    played = energy[found.order]
    if shape == "rising":
        assert np.corrcoef(np.arange(16), played)[0, 1] > 0.9
    else:
        peak = int(np.argmax(played))
        assert 6 <= peak <= 13 and played[0] < played[peak] and played[-1] < played[peak]


def test_small_lists():
    assert order(_songs(0)).order == []
    assert order(_songs(1)).order == [0] and order(_songs(1)).mean_seam == 0.0
    assert sorted(order(_songs(2), last=0).order) == [0, 1] and order(_songs(2), last=0).order[-1] == 0


def test_songs_from_the_database(env):
    from similarity import index as track_index
    from tests.library import make_library
    made = make_library({"jazz": 4, "metal": 4}, with_tags=True)
    index = track_index.load()
    ids = [made.ids["jazz-0"], made.ids["metal-1"], made.ids["jazz-3"], 987654321]
    songs = ordering.load_songs(ids, index.standardization)
    assert len(songs) == 4 and songs.start.shape == (4, index.standardization.mean.size)
    assert np.allclose(np.linalg.norm(songs.start[:3], axis=1), 1.0, atol=1e-4)
    assert not songs.start[3].any() and np.isnan(songs.tempo[3]) and songs.artists[3] == ""
    assert songs.artists[:3] == ["jazz artist 0", "metal artist 1", "jazz artist 0"]
    assert songs.albums[0] == songs.albums[2] != songs.albums[1]
    assert not np.isnan(songs.tempo[:3]).any() and not np.isnan(songs.energy[:3]).any()
    found = order(songs, first=0)
    assert found.order[0] == 0 and sorted(found.order) == [0, 1, 2, 3]


def test_the_energy_seam_joins_an_ending_to_a_beginning():
    # song 0 ends quiet, song 1 starts quiet but is loud overall: they join well
    songs = _songs(3, energy=[0.3, 0.5, 0.3])
    songs.end_energy = np.array([0.1, np.nan, np.nan])
    songs.start_energy = np.array([np.nan, 0.1, np.nan])
    energy = seam_parts(songs)["energy"]
    assert energy[0, 1] == pytest.approx(0.0)                  # 0.1 out, 0.1 in
    assert energy[1, 2] == pytest.approx(0.2 / ordering.ENERGY_TOLERANCE)   # not measured: the whole songs
    assert energy[0, 2] == pytest.approx(0.2 / ordering.ENERGY_TOLERANCE)   # 0.1 out, 0.3 (whole) in


def test_the_same_songs_always_get_the_same_order():
    """The search is bounded by work, not time: a busy machine never changes a playlist's order."""
    songs = _songs(120, seed=9, energy=np.random.default_rng(9).uniform(0, 1, 120),
                   artists=[f"artist {i % 30}" for i in range(120)])
    assert order(songs, first=0).order == order(songs, first=0).order
    assert order(songs, shape="arc").order == order(songs, shape="arc").order
