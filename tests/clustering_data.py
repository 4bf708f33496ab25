"""Synthetic libraries with known groups, for the clustering tests (no database).

Each group has its own direction in vector space, its own strong tags (MSD and
MTT, by name), a mood it leans to, a tempo and a few artists.  Tracks are the
group's direction plus noise, standardized and L2-normalised the way a
clustering snapshot is (analysis.standardize).
"""
from __future__ import annotations

import numpy as np

from analysis.labels import MSD_LABELS, MTT_LABELS
from analysis.standardize import Standardization
from db.features import TrackFeatures
from db.models import MOOD_COLUMNS

# Per group: (MSD tags, MTT tags, mood, tempo in BPM); groups beyond these reuse them in turn.
GROUP_STYLES = (
    (("ambient", "chillout"), ("ambient", "new age", "slow"), "relaxed", 75.0),
    (("electronic", "dance", "House"), ("techno", "beat", "synth"), "danceable", 128.0),
    (("metal", "hard rock"), ("metal", "loud", "guitar"), "aggressive", 150.0),
    (("jazz", "easy listening"), ("piano", "soft"), "happy", 100.0),
    (("folk", "acoustic"), ("guitar", "country"), "sad", 90.0),
    (("Hip-Hop", "rnb"), ("beats", "male vocal"), "party", 95.0),
)


def library(groups: int = 4, per_group: int = 30, *, dim: int = 24, spread: float = 0.6, seed: int = 0,
            artists_per_group: int = 6) -> tuple[TrackFeatures, np.ndarray]:
    """A library of `groups` x `per_group` tracks and each track's group (0..groups-1).

    `spread` is the noise's standard deviation per dimension relative to the group centres'
    (1.0: groups overlap a lot; 0.3: well apart).
    """
    rng = np.random.default_rng(seed)
    n = groups * per_group
    group_of = np.repeat(np.arange(groups), per_group)
    centres = rng.normal(size=(groups, dim))
    raw = centres[group_of] + spread * rng.normal(size=(n, dim))
    vectors = Standardization.fit(raw).apply(raw, normalize=True)

    msd = rng.uniform(0.0, 0.12, size=(n, len(MSD_LABELS))).astype(np.float32)
    mtt = rng.uniform(0.0, 0.12, size=(n, len(MTT_LABELS))).astype(np.float32)
    moods = rng.uniform(0.05, 0.3, size=(n, len(MOOD_COLUMNS))).astype(np.float32)
    tempo = np.empty(n, np.float32)
    for group in range(groups):
        msd_tags, mtt_tags, mood, bpm = GROUP_STYLES[group % len(GROUP_STYLES)]
        rows = group_of == group
        for tag in msd_tags:
            msd[rows, MSD_LABELS.index(tag)] = rng.uniform(0.4, 0.9, rows.sum())
        for tag in mtt_tags:
            mtt[rows, MTT_LABELS.index(tag)] = rng.uniform(0.4, 0.9, rows.sum())
        moods[rows, MOOD_COLUMNS.index(mood)] = rng.uniform(0.5, 0.9, rows.sum())
        tempo[rows] = bpm + 6 * rng.normal(size=rows.sum())
    artists = np.array([f"Artist {g}-{i % artists_per_group}" for i, g in enumerate(group_of)])
    titles = np.array([f"Song {i}" for i in range(n)])
    features = TrackFeatures(ids=np.arange(1, n + 1, dtype=np.int64) * 10, vectors=vectors, msd=msd, mtt=mtt,
                             moods=moods, tempo=tempo, energy=rng.uniform(0.3, 0.8, n).astype(np.float32),
                             artists=artists, titles=titles)
    return features, group_of
