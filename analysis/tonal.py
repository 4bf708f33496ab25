"""Musical key of a track (Krumhansl-Schmuckler key finding).

The audio is reduced to one 12-bin pitch-class profile (constant-Q chroma
averaged over all frames of all segments), which is correlated with the
Krumhansl-Kessler probe-tone profiles rotated to each of the 12 tonics, for
major and minor; the best-correlated of the 24 wins.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import librosa
import numpy as np

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first (Krumhansl,
# "Cognitive Foundations of Musical Pitch", 1990, table 2.1).
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

# Chroma is computed at 8 kHz: key information lives in the fundamentals
# and low harmonics (below 2 kHz), and the constant-Q transform is about
# three times faster there than at 16 kHz.
_ANALYSIS_RATE = 8000
# 5 octaves from C2 (65.4 Hz) up to just below C7 (2093 Hz): bass line to
# melody.  Lower notes need > 1 s filters and are mostly poorly resolved.
_FMIN_HZ = 65.40639132514966
_N_OCTAVES = 5
# Three bins per semitone, folded into one pitch class, so that the tuning
# can stay fixed at A4 = 440 Hz (estimating it crashed inside numba with
# librosa 0.11 / numpy 2.4): a note up to about 30 cents off still peaks in
# its own pitch class, though it leaks into the neighbour (about 45 % at
# 30 cents), which can tip borderline keys in recordings tuned that far off.
_BINS_PER_OCTAVE = 36
# 2048 samples at 8 kHz = 256 ms per frame; the chroma is averaged anyway,
# and the hop must be divisible by 2^(n_octaves - 1) for the CQT.
_HOP = 2048
# Below this RMS (about -100 dBFS) the input is treated as silence.
_SILENCE_RMS = 1e-5


@dataclass(frozen=True)
class KeyEstimate:
    """Estimated key of a track.

    Attributes
    ----------
    key : str or None
        Tonic pitch class, one of ``PITCH_CLASSES`` (sharps only), or None
        for silence.
    scale : str or None
        ``"major"`` or ``"minor"``, or None for silence.
    strength : float
        Pearson correlation (-1 to 1) between the track's chroma and the
        winning key profile; 0.0 for silence.
    """

    key: Optional[str]
    scale: Optional[str]
    strength: float


def _zscore(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=-1, keepdims=True)


# Row 12 * m + k is the profile of mode m (0 major, 1 minor) with tonic k:
# the value for pitch class p is the profile's entry for degree (p - k).
_KEY_TEMPLATES = _zscore(np.array([
    np.roll(profile, tonic) for profile in (_MAJOR_PROFILE, _MINOR_PROFILE) for tonic in range(12)
]))


def mean_chroma(segments: Sequence[np.ndarray], sr: int = 16000) -> np.ndarray:
    """Average constant-Q chroma of all segments, weighted by their length.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        Mono audio, float, each 1-D.
    sr : int, optional
        Sample rate in Hz (default 16000).

    Returns
    -------
    numpy.ndarray
        Shape (12,), index 0 = C; summed CQT magnitude per pitch class per
        frame (arbitrary units, proportional to the input's amplitude).
    """
    pieces = [np.asarray(s, dtype=np.float32) for s in segments if len(s)]
    if not pieces:
        return np.zeros(12)
    # One CQT over all segments is much cheaper than one per segment (the
    # filters are built per call).  A second of silence between segments
    # keeps the longest filters (about 0.8 s at 65 Hz) from straddling two
    # of them; silent frames add nothing to the sum.
    gap = np.zeros(_ANALYSIS_RATE, dtype=np.float32)
    resampled = [librosa.resample(p, orig_sr=sr, target_sr=_ANALYSIS_RATE, res_type="soxr_hq")
                 if sr != _ANALYSIS_RATE else p for p in pieces]
    joined = np.concatenate([part for p in resampled for part in (gap, p)][1:])
    # The lowest octave is analysed after four halvings of the rate; below
    # about 2 s it would be shorter than its FFT.  Zeros add nothing.
    joined = np.pad(joined, (0, max(0, 2 * _ANALYSIS_RATE - joined.size)))
    chroma = librosa.feature.chroma_cqt(
        y=joined, sr=_ANALYSIS_RATE, hop_length=_HOP, fmin=_FMIN_HZ,
        n_octaves=_N_OCTAVES, bins_per_octave=_BINS_PER_OCTAVE,
        tuning=0.0, norm=None,
    )
    # Dividing by the number of audio frames (not all frames) weights each
    # segment by its length and leaves the silent gaps out.
    audio_frames = sum(len(p) for p in resampled) / _HOP
    return chroma.sum(axis=1) / max(audio_frames, 1.0)


def key_from_chroma(chroma: np.ndarray) -> KeyEstimate:
    """Krumhansl-Schmuckler key of a 12-bin pitch-class profile.

    Parameters
    ----------
    chroma : numpy.ndarray
        Shape (12,), index 0 = C, non-negative, any scale.

    Returns
    -------
    KeyEstimate
        The best-correlated of the 24 major/minor keys; key/scale None and
        strength 0.0 when the profile is flat (no pitch information).
    """
    chroma = np.asarray(chroma, dtype=np.float64)
    if not np.isfinite(chroma).all() or np.ptp(chroma) <= 1e-9 * max(np.abs(chroma).max(), 1e-30):
        return KeyEstimate(key=None, scale=None, strength=0.0)
    correlations = _KEY_TEMPLATES @ _zscore(chroma)
    best = int(np.argmax(correlations))
    return KeyEstimate(
        key=PITCH_CLASSES[best % 12],
        scale="major" if best < 12 else "minor",
        strength=float(correlations[best]),
    )


def estimate_key(segments: Sequence[np.ndarray], sr: int = 16000) -> KeyEstimate:
    """Key and mode of a track given as audio segments.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        One or more excerpts of the track: mono, float32, full scale = 1.0.
    sr : int, optional
        Sample rate in Hz (default 16000).

    Returns
    -------
    KeyEstimate
        Tonic (sharps only), ``"major"``/``"minor"`` and the correlation of
        the winning profile.  Silence (RMS below about -100 dBFS) gives key
        and scale None and strength 0.0.  Gain does not change the result:
        the correlation ignores the chroma's scale.
    """
    total = sum(float(np.sum(np.square(s, dtype=np.float64))) for s in segments)
    samples = sum(len(s) for s in segments)
    if samples == 0 or np.sqrt(total / samples) < _SILENCE_RMS:
        return KeyEstimate(key=None, scale=None, strength=0.0)
    return key_from_chroma(mean_chroma(segments, sr))
