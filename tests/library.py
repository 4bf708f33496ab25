"""A small analysed library for feature tests: tracks with embeddings in known clusters, and their index.

`make_library()` adds tracks in groups ("genres") whose vectors are spread
around one centre each, optionally a near-duplicate (same song, another
album), and builds the similarity index; the web app fixture loads it at start.

Tracks are named "jazz-0", "jazz-1"...  Without `music_dir` that name is also
the track's item id.  With `music_dir` (the local provider's MUSIC_DIR) each
track is a real (silent) WAV file there and its item id is the local
provider's id for that file, so playlists can be pushed as .m3u8:
`library.item("jazz-0")` gives the item id either way.  `write_play_log()`
writes a LOCAL_PLAY_LOG naming such tracks.
"""
from __future__ import annotations

import dataclasses
import wave
from pathlib import Path

import numpy as np

from analysis.features import VECTOR_MODEL
from db import tracks as track_store
from analysis.labels import MSD_LABELS, MTT_LABELS
from db.models import MOOD_COLUMNS, Embedding, Track, TrackTags
from db.session import session_scope
from mediaserver.local import encode_id
from similarity import index as track_index

DIM = 400


@dataclasses.dataclass
class Library:
    ids: dict[str, int]                 # track name ("jazz-0") -> track id
    groups: dict[str, list[str]]        # group name -> track names
    version: int | None
    item_ids: dict[str, str] = dataclasses.field(default_factory=dict)   # track name -> item id

    def item(self, name: str) -> str:
        return self.item_ids.get(name, name)

    def group_of(self, name: str) -> str:
        return next(group for group, members in self.groups.items() if name in members)


def _silent_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 800)


def _group_features(rng: np.random.Generator, group_number: int) -> dict:
    """Tag probabilities, moods, tempo and energy for one track of a group: each group has its own
    top tags (the group's number picks them), mood and tempo, plus noise."""
    msd = rng.uniform(0, 0.15, len(MSD_LABELS))
    msd[(group_number * 7) % len(MSD_LABELS)] = rng.uniform(0.6, 0.9)
    mtt = rng.uniform(0, 0.15, len(MTT_LABELS))
    mtt[(group_number * 5 + 1) % len(MTT_LABELS)] = rng.uniform(0.5, 0.8)
    moods = {mood: float(rng.uniform(0, 0.2)) for mood in MOOD_COLUMNS}
    moods[MOOD_COLUMNS[group_number % len(MOOD_COLUMNS)]] = float(rng.uniform(0.6, 0.9))
    return {"msd": msd, "mtt": mtt, "moods": moods, "tempo": 70.0 + 25 * group_number + float(rng.normal(0, 3)),
            "energy": float(np.clip(0.15 + 0.2 * group_number + rng.normal(0, 0.05), 0, 1))}


def make_library(groups: dict[str, int] | None = None, spread: float = 0.35, seed: int = 0,
                 artists_per_group: int = 3, extra: list[dict] | None = None,
                 music_dir: Path | None = None, with_tags: bool = False) -> Library:
    """Tracks named "<group> <n>" by "<group> artist <n % artists_per_group>", one cluster per group.

    `extra` adds tracks given as {"item_id", "title", "artist", "album", "like": item_id, "noise": float}:
    a copy of another track's vector plus a little noise (a live or best-of version).
    `with_tags` also gives every track tag probabilities, moods, tempo and energy typical of its
    group (what clustering profiles and scores).
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
    ids, item_ids = {}, {}
    now = track_store.database_now()
    with session_scope() as session:
        for name, title, artist, album in rows:
            item_id = name
            if music_dir is not None:
                relative = f"{album}/{name}.wav"
                _silent_wav(Path(music_dir) / relative)
                item_id = item_ids[name] = encode_id(relative.encode())
            track = Track(provider="local", item_id=item_id, title=title, artist=artist, album=album,
                          duration_s=200.0, analysis_version="test", analyzed_at=now, seen_at=now)
            if with_tags:
                group_number = list(groups).index(name.rsplit("-", 1)[0]) if name.rsplit("-", 1)[0] in groups else 0
                typical = _group_features(rng, group_number)
                track.tempo_bpm, track.energy = typical["tempo"], typical["energy"]
                for mood, value in typical["moods"].items():
                    setattr(track, mood, value)
            session.add(track)
            session.flush()
            if with_tags:
                session.add_all([TrackTags(track_id=track.id, vocabulary="msd", scores=typical["msd"].tolist()),
                                 TrackTags(track_id=track.id, vocabulary="mtt", scores=typical["mtt"].tolist())])
            # The first and last seconds sound like the whole, give or take (what ordering joins).
            start, end = (vectors[name] + 3.0 + rng.normal(0, spread, DIM) for _ in range(2))
            session.add(Embedding(track_id=track.id, model=VECTOR_MODEL, dim=DIM,
                                  vector=(vectors[name] + 3.0).astype("<f4").tobytes(),
                                  start_vector=start.astype("<f4").tobytes(), end_vector=end.astype("<f4").tobytes()))
            ids[name] = track.id
    return Library(ids, members, track_index.update(), item_ids)


def write_play_log(path, plays):
    """plays: [(track name like "jazz-0", or a path relative to MUSIC_DIR; datetime)], as LOCAL_PLAY_LOG expects.

    make_library(music_dir=...) keeps track "jazz-0" in "Jazz album/jazz-0.wav".
    """
    def relative(name):
        return name if "/" in name else f"{name.split('-')[0].title()} album/{name}.wav"
    path.write_text("".join(f"{when.isoformat()}\t{relative(name)}\n" for name, when in plays), encoding="utf-8")


def add_like(library: Library, names: list[str], noise: float = 0.05, seed: int = 1) -> dict[str, int]:
    """Add a new track like each named one (its stored vector plus a little noise, named "<name>-like",
    in the same group) and update the index; returns the new tracks' ids by name."""
    rng = np.random.default_rng(seed)
    now = track_store.database_now()
    added = {}
    with session_scope() as session:
        for name in names:
            stored = session.get(Embedding, (library.ids[name], VECTOR_MODEL))
            vector = np.frombuffer(stored.vector, dtype="<f4") + rng.normal(0, noise, stored.dim)
            track = Track(provider="local", item_id=f"{name}-like", title=f"Like {name}", artist="Like artist",
                          album="Likes", duration_s=200.0, analysis_version="test", analyzed_at=now, seen_at=now)
            session.add(track)
            session.flush()
            session.add(Embedding(track_id=track.id, model=VECTOR_MODEL, dim=stored.dim,
                                  vector=vector.astype("<f4").tobytes()))
            added[f"{name}-like"] = track.id
            library.groups[library.group_of(name)].append(f"{name}-like")
    library.ids.update(added)
    library.version = track_index.update()
    return added
