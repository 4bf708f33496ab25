"""A small analysed library for feature tests: tracks with embeddings in known clusters, and their index.

`make_library()` adds tracks in groups ("genres") whose vectors are spread
around one centre each, optionally a near-duplicate (same song, another
album), and builds the similarity index; the web app fixture loads it at start.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from analysis.features import VECTOR_MODEL
from db import tracks as track_store
from db.models import Embedding, Track
from db.session import session_scope
from similarity import index as track_index

DIM = 400


@dataclasses.dataclass
class Library:
    ids: dict[str, int]                 # item_id -> track id
    groups: dict[str, list[str]]        # group name -> item ids
    version: int | None

    def group_of(self, item_id: str) -> str:
        return next(name for name, members in self.groups.items() if item_id in members)


def make_library(groups: dict[str, int] | None = None, spread: float = 0.35, seed: int = 0,
                 artists_per_group: int = 3, extra: list[dict] | None = None) -> Library:
    """Tracks named "<group> <n>" by "<group> artist <n % artists_per_group>", one cluster per group.

    `extra` adds tracks given as {"item_id", "title", "artist", "album", "like": item_id, "noise": float}:
    a copy of another track's vector plus a little noise (a live or best-of version).
    """
    groups = groups or {"jazz": 12, "metal": 12, "ambient": 12}
    rng = np.random.default_rng(seed)
    centres = {name: rng.normal(0, 1, DIM) for name in groups}
    vectors: dict[str, np.ndarray] = {}
    rows: list[tuple[str, str, str, str]] = []
    members: dict[str, list[str]] = {}
    for name, count in groups.items():
        for n in range(count):
            item_id = f"{name}-{n}"
            members.setdefault(name, []).append(item_id)
            vectors[item_id] = centres[name] + rng.normal(0, spread, DIM)
            rows.append((item_id, f"{name.title()} {n}", f"{name.title()} artist {n % artists_per_group}",
                         f"{name.title()} album"))
    for copy in extra or []:
        vectors[copy["item_id"]] = vectors[copy["like"]] + rng.normal(0, copy.get("noise", 0.01), DIM)
        rows.append((copy["item_id"], copy["title"], copy["artist"], copy.get("album", "Live")))
        members[f"copy-of-{copy['like']}"] = [copy["item_id"]]
    ids = {}
    now = track_store.database_now()
    with session_scope() as session:
        for item_id, title, artist, album in rows:
            track = Track(provider="local", item_id=item_id, title=title, artist=artist, album=album,
                          duration_s=200.0, analysis_version="test", analyzed_at=now, seen_at=now)
            session.add(track)
            session.flush()
            session.add(Embedding(track_id=track.id, model=VECTOR_MODEL, dim=DIM,
                                  vector=(vectors[item_id] + 3.0).astype("<f4").tobytes()))
            ids[item_id] = track.id
    return Library(ids, members, track_index.update())
