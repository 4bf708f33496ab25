"""From an audio file to everything the features need: `analyze_file(path)`.

Depths (how much of a track is listened to):
- "fast" (default): `excerpts` stretches of `patches_per_excerpt` 3-second
  patches (5 x 2), spread evenly from the very start to the very end of the track.
  Only those stretches are decoded.  The first and last stretches give the
  start and end segment vectors for transition-aware ordering.
- "balanced": 6 x 2 patches, between the two.
- "full": the whole track, decoded block by block so memory stays bounded
  however long the file is.
A track too short for its depth's excerpts is analysed whole.  Excerpts start
on the whole-track patch grid, so their patches are those a full decode gives.

`ANALYSIS_VERSION` names model, front end and feature code; change it (and
`FEATURES_REVISION`) whenever any of them changes what is computed.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from analysis import loudness, moods, musicnn, rhythm, tonal
from analysis.decode import SAMPLE_RATE, Window, decode, probe_duration
from analysis.labels import MSD_LABELS, MTT_LABELS, PATCH_FRAMES
from analysis.vectors import VECTOR_LAYERS, VECTOR_MODEL  # noqa: F401  (VECTOR_MODEL: re-exported for callers)

MODEL_ID = "musicnn-onnx1"
FRONT_END_ID = "fe1"           # float32 log-mel, excerpts on the patch grid
FEATURES_REVISION = "feat2"    # vector layers, pooling, moods, tempo/key/energy code
EDGE_PATCHES = 5               # patches (~15 s) behind the start and end vectors
PATCH_STEP = PATCH_FRAMES * musicnn.HOP / SAMPLE_RATE  # s between patch starts (~2.99 s)
FULL_BLOCK_PATCHES = 20        # "full" decodes ~60 s at a time


@dataclasses.dataclass(frozen=True)
class Depth:
    name: str
    excerpts: int | None           # None: the whole track
    patches_per_excerpt: int


# fast: 5 excerpts x 2 patches (10 patches, ~30 s of audio), the fastest plan
# that kept P@10 >= 0.65 on the dev corpus: 1.8 tracks/s on 2 cores against
# 0.3 for the whole track (docs/QUALITY.md has the measured trade-off curve).
# balanced: 6 x 2 (12 patches) costs 14% more and gets tempo and key closer to
# the whole-track estimates (longer total excerpt audio).
DEPTHS = {"fast": Depth("fast", 5, 2), "balanced": Depth("balanced", 6, 2),
          "full": Depth("full", None, FULL_BLOCK_PATCHES)}
DEFAULT_DEPTH = "fast"


def analysis_version(depth: str = DEFAULT_DEPTH) -> str:
    return f"{MODEL_ID}.{FRONT_END_ID}.{FEATURES_REVISION}.{depth}"


@dataclasses.dataclass
class TrackAnalysis:
    """What one track yields.  Vectors are float32; tags are probabilities in 0-1."""

    path: str
    analysis_version: str
    duration: float                      # s
    sample_rate: int                     # Hz, of the file
    channels: int
    decoder: str
    inference: str                       # runtime and arithmetic of the models (analysis.musicnn.backend)
    patches: int                         # 3-second patches the models saw
    vector: np.ndarray                   # VECTOR_MODEL, raw (standardised later, per library)
    start_vector: np.ndarray
    end_vector: np.ndarray
    msd_tags: np.ndarray                 # (50,), MSD_LABELS order
    mtt_tags: np.ndarray                 # (50,), MTT_LABELS order
    moods: dict[str, float]
    tempo_bpm: float | None
    tempo_confidence: float
    key: str | None
    scale: str | None
    key_strength: float
    energy: float
    start_energy: float                  # 0-1, of the first and last seconds (EDGE_PATCHES), where songs join
    end_energy: float
    loudness_lufs: float | None
    timings: dict[str, float]            # s per stage

    def to_json(self, top_tags: int = 10, vectors: bool = False) -> dict[str, Any]:
        def ranked(scores: np.ndarray, labels: tuple[str, ...]) -> dict[str, float]:
            order = np.argsort(-scores)[:top_tags]
            return {labels[i]: round(float(scores[i]), 4) for i in order}
        data: dict[str, Any] = {
            "path": self.path, "analysis_version": self.analysis_version,
            "duration": round(self.duration, 2), "sample_rate": self.sample_rate, "channels": self.channels,
            "decoder": self.decoder, "inference": self.inference, "patches": self.patches,
            "tempo_bpm": None if self.tempo_bpm is None else round(self.tempo_bpm, 1),
            "tempo_confidence": round(self.tempo_confidence, 3),
            "key": self.key, "scale": self.scale, "key_strength": round(self.key_strength, 3),
            "energy": round(self.energy, 3), "start_energy": round(self.start_energy, 3),
            "end_energy": round(self.end_energy, 3),
            "loudness_lufs": None if self.loudness_lufs is None else round(self.loudness_lufs, 1),
            "moods": self.moods,
            "msd_tags": ranked(self.msd_tags, MSD_LABELS), "mtt_tags": ranked(self.mtt_tags, MTT_LABELS),
            "vector_model": VECTOR_MODEL, "vector_dim": int(self.vector.size),
            "timings": {stage: round(seconds, 4) for stage, seconds in self.timings.items()},
        }
        if vectors:
            data.update(vector=self.vector.tolist(), start_vector=self.start_vector.tolist(),
                        end_vector=self.end_vector.tolist())
        return data


def plan_windows(duration: float, depth: Depth) -> list[Window]:
    """The stretches of a `duration`-second track to decode, on the patch grid."""
    grid = max(1, int(duration // PATCH_STEP))  # whole patches in the track
    if depth.excerpts is not None and grid > depth.excerpts * depth.patches_per_excerpt:
        length = depth.patches_per_excerpt
        starts = np.linspace(0, grid - length, depth.excerpts).round().astype(int)
        return [Window(start * PATCH_STEP, length * PATCH_STEP) for start in starts]
    block = FULL_BLOCK_PATCHES
    return [Window(start * PATCH_STEP, block * PATCH_STEP) for start in range(0, grid, block)] or \
        [Window(0.0, max(duration, PATCH_STEP))]


class _Clock:
    def __init__(self):
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._last
        self._last = now


def analyze_file(path: str | Path, depth: str = DEFAULT_DEPTH,
                 checkpoint: Callable[[], None] | None = None) -> TrackAnalysis:
    """Analyse one audio file.

    `checkpoint` is called between stages and between the models' patches; it
    may raise to abandon the analysis, so a cancelled task stops within a
    fraction of a second rather than after the whole track (15 s for five
    minutes at "full" depth).

    Raises
    ------
    analysis.decode.DecodeError
        When the file cannot be decoded (the message says why).
    """
    check = checkpoint or (lambda: None)
    musicnn.limit_threads()
    clock = _Clock()
    spec = DEPTHS[depth]
    duration = probe_duration(Path(path))
    decoded = decode(path, plan_windows(duration, spec) if duration > 0 else None)
    segments = [s for s in decoded.segments if s.size >= musicnn.PATCH_SAMPLES] or \
        [np.concatenate(decoded.segments)]
    clock.lap("decode")
    check()

    per_segment = [musicnn.patches(musicnn.log_mel(segment)) for segment in segments]
    batch = np.concatenate(per_segment)
    clock.lap("mel")
    outputs = {}
    for model in ("msd", "mtt"):
        outputs[model] = musicnn.infer(model, batch, checkpoint)
        clock.lap(model)

    def pooled(rows: slice) -> np.ndarray:
        return np.concatenate([outputs[m][layer][rows].mean(axis=0) for m, layer in VECTOR_LAYERS]).astype(np.float32)
    # Excerpts are separate stretches: the edge vectors come from the first and
    # last excerpt alone.  A tiled decode is one stretch in blocks.
    tiled = spec.excerpts is None or len(segments) != spec.excerpts
    first = min(EDGE_PATCHES, len(batch) if tiled else len(per_segment[0]))
    last = min(EDGE_PATCHES, len(batch) if tiled else len(per_segment[-1]))

    check()
    tempo = rhythm.estimate_tempo(segments, SAMPLE_RATE)
    clock.lap("tempo")
    check()
    key = tonal.estimate_key(segments, SAMPLE_RATE)
    clock.lap("key")
    check()
    energy = loudness.estimate_energy(segments, SAMPLE_RATE)
    edge = int(EDGE_PATCHES * PATCH_STEP * SAMPLE_RATE)
    whole = np.concatenate(segments) if tiled else None
    head, tail = (whole[:edge], whole[-edge:]) if tiled else (segments[0][:edge], segments[-1][-edge:])
    start_energy = loudness.estimate_energy([head], SAMPLE_RATE).energy
    end_energy = loudness.estimate_energy([tail], SAMPLE_RATE).energy
    clock.lap("energy")

    msd_tags = outputs["msd"]["tags"].mean(axis=0)
    mtt_tags = outputs["mtt"]["tags"].mean(axis=0)
    tag_map = {**{("msd", label): float(p) for label, p in zip(MSD_LABELS, msd_tags)},
               **{("mtt", label): float(p) for label, p in zip(MTT_LABELS, mtt_tags)}}
    tempo_bpm = tempo.bpm if math.isfinite(tempo.bpm) and tempo.bpm > 0 else None
    lufs = energy.loudness_lufs if math.isfinite(energy.loudness_lufs) else None
    return TrackAnalysis(
        path=str(path), analysis_version=analysis_version(depth), duration=decoded.duration,
        sample_rate=decoded.sample_rate, channels=decoded.channels, decoder=decoded.decoder,
        inference=musicnn.backend(), patches=len(batch), vector=pooled(slice(None)), start_vector=pooled(slice(0, first)),
        end_vector=pooled(slice(len(batch) - last, None)), msd_tags=msd_tags, mtt_tags=mtt_tags,
        moods=moods.mood_scores(tag_map, tempo_bpm, energy.energy), tempo_bpm=tempo_bpm,
        tempo_confidence=tempo.confidence, key=key.key, scale=key.scale, key_strength=key.strength,
        energy=energy.energy, start_energy=start_energy, end_energy=end_energy, loudness_lufs=lufs,
        timings=clock.timings)
