"""Tempo estimation on synthetic drum tracks (analysis/rhythm.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.rhythm import TempoEstimate, estimate_tempo

SR = 16000
TEMPI = (60, 90, 120, 150, 174)


def _unit_energy(hit: np.ndarray) -> np.ndarray:
    """Scale a drum hit to RMS 1 over its first 100 ms, so that levels in dB compare hits."""
    return hit / np.sqrt(np.mean(hit[: SR // 10] ** 2))


def _click() -> np.ndarray:
    t = np.arange(int(0.03 * SR)) / SR
    return _unit_energy(np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.004))


def _kick() -> np.ndarray:
    # A sine sweeping down from 150 to 50 Hz with a 50 ms decay.
    t = np.arange(int(0.15 * SR)) / SR
    frequency = 50 + 100 * np.exp(-t / 0.02)
    return _unit_energy(np.sin(2 * np.pi * np.cumsum(frequency) / SR) * np.exp(-t / 0.05))


def _snare(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.12 * SR)) / SR
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.03)
    return _unit_energy(rng.standard_normal(t.size) * np.exp(-t / 0.04) + body)


def _hihat(rng: np.random.Generator) -> np.ndarray:
    # Differentiated white noise (rising 6 dB/octave) with a 10 ms decay.
    t = np.arange(int(0.05 * SR)) / SR
    return _unit_energy(np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t / 0.01))


def _place(track: np.ndarray, hit: np.ndarray, times: np.ndarray, level_db: float) -> None:
    gain = 0.1 * 10 ** (level_db / 20)  # 0 dB = RMS 0.1 (-20 dBFS) over the hit's first 100 ms
    for time in times:
        start = int(round(time * SR))
        piece = hit[: max(0, track.size - start)]
        track[start:start + piece.size] += gain * piece


def drum_track(bpm: float, seconds: float = 30.0, beat: str = "kick", backbeat: bool = False,
               hihat_db: float | None = None, seed: int = 0) -> np.ndarray:
    """A drum loop at `bpm`.

    ``beat`` ("kick" or "click") sounds on every beat at 0 dB; with
    ``backbeat`` a kick plays beats 1 and 3 and a snare (also 0 dB) beats 2
    and 4 instead; ``hihat_db`` adds a hi-hat on every eighth note at that
    level relative to the beat.
    """
    rng = np.random.default_rng(seed)
    track = np.zeros(int(seconds * SR))
    beats = np.arange(0.1, seconds, 60.0 / bpm)
    if backbeat:
        _place(track, _kick(), beats[0::2], 0.0)
        _place(track, _snare(rng), beats[1::2], 0.0)
    else:
        _place(track, _kick() if beat == "kick" else _click(), beats, 0.0)
    if hihat_db is not None:
        _place(track, _hihat(rng), np.arange(0.1, seconds, 30.0 / bpm), hihat_db)
    return track.astype(np.float32)


def assert_tempo(estimate: TempoEstimate, bpm: float) -> None:
    assert estimate.bpm == pytest.approx(bpm, rel=0.02), estimate
    assert 0.5 < estimate.confidence <= 1.0, estimate


@pytest.mark.parametrize("bpm", TEMPI)
@pytest.mark.parametrize("beat", ["click", "kick"])
def test_one_sound_on_every_beat(bpm, beat):
    assert_tempo(estimate_tempo([drum_track(bpm, beat=beat)], SR), bpm)


@pytest.mark.parametrize("bpm", TEMPI)
@pytest.mark.parametrize("beat", ["click", "kick"])
def test_eighth_note_hihat_does_not_double_the_tempo(bpm, beat):
    # Hi-hats 6 dB below the beat fill every off-beat: the 2x level has real
    # onsets, but weaker ones than the beat's.
    assert_tempo(estimate_tempo([drum_track(bpm, beat=beat, hihat_db=-6.0)], SR), bpm)


@pytest.mark.parametrize("bpm", [90, 174])
@pytest.mark.parametrize("hihat_db", [None, -6.0, -12.0])
def test_kick_and_snare_backbeat_does_not_halve_the_tempo(bpm, hihat_db):
    # Same-sound onsets recur only every two beats (kick 1 and 3, snare 2
    # and 4), which tempts the half tempo.
    assert_tempo(estimate_tempo([drum_track(bpm, backbeat=True, hihat_db=hihat_db)], SR), bpm)


@pytest.mark.parametrize("bpm", [90, 174])
def test_four_separate_segments_agree_with_the_whole_track(bpm):
    track = drum_track(bpm, seconds=120.0, backbeat=True, hihat_db=-6.0)
    # 15 s every 30 s: the gaps mean the segments are not contiguous and no
    # segment starts on a beat.
    segments = [track[int((start + 7.3) * SR):int((start + 22.3) * SR)] for start in (0, 30, 60, 90)]
    whole = estimate_tempo([track], SR)
    split = estimate_tempo(segments, SR)
    assert_tempo(whole, bpm)
    assert split.bpm == pytest.approx(whole.bpm, rel=0.005)
    assert split.confidence == pytest.approx(whole.confidence, abs=0.1)


def test_segment_order_and_a_short_extra_segment_do_not_matter():
    track = drum_track(120, seconds=60.0, hihat_db=-6.0)
    segments = [track[i * 15 * SR:(i + 1) * 15 * SR] for i in range(4)]
    reference = estimate_tempo(segments, SR)
    assert estimate_tempo(segments[::-1], SR).bpm == pytest.approx(reference.bpm, rel=1e-6)
    assert estimate_tempo(segments + [track[:SR // 2]], SR).bpm == pytest.approx(reference.bpm, rel=0.005)


@pytest.mark.parametrize("gain", [0.01, 0.3, 1.9])
def test_tempo_does_not_depend_on_gain(gain):
    track = drum_track(150, backbeat=True, hihat_db=-6.0)
    reference = estimate_tempo([track], SR)
    scaled = estimate_tempo([track * np.float32(gain)], SR)
    assert scaled.bpm == pytest.approx(reference.bpm, rel=1e-3)
    assert scaled.confidence == pytest.approx(reference.confidence, abs=1e-3)


@pytest.mark.parametrize("seconds, segments", [(30.0, 1), (15.0, 4), (5.0, 1)])
def test_white_noise_has_no_tempo(seconds, segments):
    rng = np.random.default_rng(42)
    noise = [(0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32) for _ in range(segments)]
    estimate = estimate_tempo(noise, SR)
    assert estimate.confidence < 0.3
    assert math.isnan(estimate.bpm) == (estimate.confidence == 0.0)


@pytest.mark.parametrize("segments", [
    [np.zeros(30 * SR, dtype=np.float32)],
    [np.zeros(15 * SR, dtype=np.float32)] * 4,
    [],
    [np.zeros(0, dtype=np.float32)],
    [np.zeros(100, dtype=np.float32)],
])
def test_silence_gives_no_tempo_and_does_not_crash(segments):
    estimate = estimate_tempo(segments, SR)
    assert math.isnan(estimate.bpm) and estimate.confidence == 0.0


def test_steady_tones_and_too_short_audio_give_no_tempo():
    t = np.arange(30 * SR) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63)).astype(np.float32)
    assert math.isnan(estimate_tempo([0.2 * chord], SR).bpm)
    # 3 s hold barely more than one beat of the slowest in-range tempo.
    assert math.isnan(estimate_tempo([drum_track(120, seconds=3.0)], SR).bpm)


def test_range_folding_needs_onsets_at_the_new_level():
    # 45 BPM with eighth-note hi-hats: the 90 BPM level has onsets, so the
    # mild prior folds into range.
    assert_tempo(estimate_tempo([drum_track(45, hihat_db=-6.0)], SR), 90)
    # 45 BPM with nothing between the beats: no evidence for 90, so 45 stays.
    assert_tempo(estimate_tempo([drum_track(45)], SR), 45)
    # 240 BPM clicks fold down to 120.
    assert_tempo(estimate_tempo([drum_track(240, beat="click")], SR), 120)
