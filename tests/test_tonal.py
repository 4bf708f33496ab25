"""Key estimation on synthetic scales and chord progressions (analysis/tonal.py)."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.tonal import PITCH_CLASSES, KeyEstimate, estimate_key, key_from_chroma

SR = 16000
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11, 12)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 12)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11, 12)
# Triads as semitones above the tonic: I-IV-V-I and i-iv-V-i (the minor
# key's dominant is major, with the raised leading tone).
MAJOR_CADENCE = ((0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7))
MINOR_CADENCE = ((0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7))


def harmonic_tone(midi_notes, seconds: float) -> np.ndarray:
    """Notes with 6 harmonics (amplitude 0.6^(h-1), higher ones decaying faster), 5 ms attack."""
    t = np.arange(int(seconds * SR)) / SR
    tone = np.zeros_like(t)
    for note in np.atleast_1d(midi_notes):
        f0 = 440.0 * 2 ** ((note - 69) / 12)
        for h in range(1, 7):
            if h * f0 < SR / 2:
                tone += 0.6 ** (h - 1) * np.sin(2 * np.pi * h * f0 * t) * np.exp(-t * (2.0 + h))
    envelope = np.minimum(1.0, t / 0.005) * np.minimum(1.0, (seconds - t) / 0.01)
    return 0.1 * tone * envelope


def up_and_down(tonic: int, steps, seconds_per_note: float = 0.3) -> np.ndarray:
    """Ascending then descending scale from the tonic's note in octave 4 (C4 = MIDI 60)."""
    notes = [60 + tonic + s for s in steps]
    melody = notes + notes[-2::-1]
    return np.concatenate([harmonic_tone(n, seconds_per_note) for n in melody]).astype(np.float32)


def cadence(tonic: int, chords, seconds_per_chord: float = 0.5) -> np.ndarray:
    """Triads in close position with the tonic's root in octave 3 (C3 = MIDI 48)."""
    return np.concatenate([harmonic_tone([48 + tonic + i for i in chord], seconds_per_chord)
                           for chord in chords]).astype(np.float32)


def assert_key(estimate: KeyEstimate, key: str, scale: str) -> None:
    assert (estimate.key, estimate.scale) == (key, scale), estimate
    assert 0.6 < estimate.strength <= 1.0, estimate


@pytest.mark.parametrize("key", ["C", "G", "D#", "F#"])
def test_major_scales(key):
    tonic = PITCH_CLASSES.index(key)
    assert_key(estimate_key([up_and_down(tonic, MAJOR_SCALE)], SR), key, "major")


@pytest.mark.parametrize("steps", [NATURAL_MINOR_SCALE, HARMONIC_MINOR_SCALE], ids=["natural", "harmonic"])
@pytest.mark.parametrize("key", ["A", "E", "C#"])
def test_minor_scales(key, steps):
    tonic = PITCH_CLASSES.index(key)
    assert_key(estimate_key([up_and_down(tonic, steps)], SR), key, "minor")


@pytest.mark.parametrize("key", ["C", "D", "E", "F", "G#", "A#", "B"])
def test_major_cadences(key):
    tonic = PITCH_CLASSES.index(key)
    assert_key(estimate_key([cadence(tonic, MAJOR_CADENCE)], SR), key, "major")


@pytest.mark.parametrize("key", ["A", "C", "D", "F#", "G", "A#"])
def test_minor_cadences(key):
    tonic = PITCH_CLASSES.index(key)
    assert_key(estimate_key([cadence(tonic, MINOR_CADENCE)], SR), key, "minor")


def test_segments_are_pooled_whatever_their_order():
    # Split into uneven pieces, no piece holding the whole scale.
    audio = up_and_down(PITCH_CLASSES.index("E"), HARMONIC_MINOR_SCALE)
    pieces = np.split(audio, [SR, 3 * SR])
    whole = estimate_key([audio], SR)
    forward = estimate_key(pieces, SR)
    backward = estimate_key(pieces[::-1], SR)
    for estimate in (forward, backward):
        assert_key(estimate, "E", "minor")
        assert estimate.strength == pytest.approx(whole.strength, abs=0.02)


@pytest.mark.parametrize("gain", [1e-3, 0.05, 8.0])
def test_key_does_not_depend_on_gain(gain):
    audio = cadence(PITCH_CLASSES.index("D"), MINOR_CADENCE)
    reference = estimate_key([audio], SR)
    scaled = estimate_key([audio * np.float32(gain)], SR)
    assert (scaled.key, scaled.scale) == (reference.key, reference.scale) == ("D", "minor")
    assert scaled.strength == pytest.approx(reference.strength, abs=1e-3)


@pytest.mark.parametrize("segments", [
    [np.zeros(10 * SR, dtype=np.float32)],
    [np.zeros(5 * SR, dtype=np.float32)] * 3,
    [],
    [np.zeros(0, dtype=np.float32)],
    [np.zeros(50, dtype=np.float32)],
])
def test_silence_has_no_key_and_does_not_crash(segments):
    assert estimate_key(segments, SR) == KeyEstimate(key=None, scale=None, strength=0.0)


def test_very_short_audio_does_not_crash():
    # 12.5 ms of C4, shorter than the lowest filters: padded, not an error, and the
    # one note heard is the tonic (the mode cannot be told from a single note).
    estimate = estimate_key([up_and_down(0, MAJOR_SCALE)[:200]], SR)
    assert estimate.key == "C" and estimate.scale in ("major", "minor")
    assert 0.0 < estimate.strength <= 1.0


def test_profiles_rotate_with_the_tonic():
    # A chroma with weight only on the tones of the A major triad.
    chroma = np.zeros(12)
    chroma[[9, 1, 4]] = [1.0, 0.8, 0.9]
    assert (key_from_chroma(chroma).key, key_from_chroma(chroma).scale) == ("A", "major")
    assert key_from_chroma(np.ones(12)) == KeyEstimate(key=None, scale=None, strength=0.0)
