"""The bulk reader of track features and its snapshot form."""
import numpy as np
import pytest

from analysis.labels import MSD_LABELS, MTT_LABELS
from db.features import TrackFeatures, read_all
from db.models import MOOD_COLUMNS, Track
from db.session import session_scope
from similarity.index import served_model
from tests.library import DIM, make_library


def test_every_analysed_track_in_id_order_with_aligned_arrays(env):
    library = make_library({"jazz": 3, "metal": 2}, with_tags=True)
    with session_scope() as session:   # listed but never analysed: not read
        session.add(Track(provider="local", item_id="new", title="New"))
    features = read_all(served_model())
    assert features.ids.tolist() == sorted(library.ids.values())
    assert features.vectors.shape == (5, DIM) and features.vectors.dtype == np.float32
    assert features.msd.shape == (5, len(MSD_LABELS)) and features.mtt.shape == (5, len(MTT_LABELS))
    assert features.moods.shape == (5, len(MOOD_COLUMNS))
    assert np.isfinite(features.msd).all() and np.isfinite(features.tempo).all()
    by_id = {int(i): row for row, i in enumerate(features.ids)}
    row = by_id[library.ids["metal-1"]]
    assert features.titles[row] == "Metal 1" and features.artists[row] == "Metal artist 1"


def test_missing_tags_and_moods_are_nan(env):
    make_library({"jazz": 2})
    features = read_all(served_model())
    assert np.isnan(features.msd).all() and np.isnan(features.moods).all() and np.isnan(features.tempo).all()


def test_an_empty_library_reads_as_empty_arrays(env):
    features = read_all(served_model())
    assert len(features) == 0 and features.msd.shape == (0, len(MSD_LABELS))


def test_the_snapshot_round_trips_and_refuses_another_format(env, monkeypatch):
    make_library({"jazz": 3}, with_tags=True)
    features = read_all(served_model())
    stored = features.to_bytes()
    copy = TrackFeatures.from_bytes(stored)
    for name in ("ids", "vectors", "msd", "mtt", "moods", "tempo", "energy", "artists", "titles"):
        np.testing.assert_array_equal(getattr(copy, name), getattr(features, name))
    assert copy.subset(np.array([0, 2])).ids.tolist() == features.ids[[0, 2]].tolist()
    monkeypatch.setattr("db.features.SNAPSHOT_FORMAT", 99)
    with pytest.raises(ValueError, match="format 1, expected 99"):
        TrackFeatures.from_bytes(stored)
