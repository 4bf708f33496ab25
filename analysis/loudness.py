"""Programme loudness and a 0-1 energy score for one track.

Loudness follows ITU-R BS.1770-4 for a single (mono) channel: K-weighting,
mean square over 400 ms blocks with 75 % overlap, an absolute gate at
-70 LUFS and a relative gate 10 LU below the loudness of the blocks that
pass the absolute gate.  The result is absolute (not normalised per track),
so tracks can be compared with each other.

The standard publishes the K-weighting biquads only for 48 kHz.  We turn
them back into their analog prototypes (inverse bilinear transform at
48 kHz) and digitise those again at the rate we are given, pre-warping each
biquad at its own natural frequency so the corner lands where it did at
48 kHz.  At 48 kHz this gives back the published coefficients exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy import signal

#: Reported loudness when no block passes the absolute gate (silence or
#: near-silence).  Measured loudness is always above the gate, so this value
#: is never ambiguous; it is a finite number so that it can be stored and
#: serialised as JSON, unlike ``-inf``.
LOUDNESS_FLOOR_LUFS = -70.0

#: Energy mapping: loudness (LUFS) that maps to energy 0 and to energy 1.
#: -40 LUFS is a very quiet recording (soft solo piano, ambient); broadcast
#: and streaming targets sit around -23 to -14 LUFS; heavily limited modern
#: masters reach -8 to -5 LUFS.  A linear ramp over that 34 LU span keeps
#: every realistic track inside (0, 1) while still separating quiet
#: acoustic material from loud electronic or rock masters.
ENERGY_QUIET_LUFS = -40.0
ENERGY_LOUD_LUFS = -6.0

_BLOCK_SECONDS = 0.4
_BLOCK_OVERLAP = 0.75
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
# BS.1770 offsets the log mean square by -0.691 dB so that a 997 Hz sine,
# boosted by about +0.691 dB by the K-weighting, reads its own RMS level.
_LOUDNESS_OFFSET_DB = -0.691

# ITU-R BS.1770-4, tables 1 and 2: the two K-weighting stages at 48 kHz,
# as (b, a).  Stage 1 is a high shelf (+4 dB above about 1.7 kHz, the
# acoustic effect of the head); stage 2 is the "RLB" high-pass near 38 Hz.
_REFERENCE_RATE = 48000
_STAGES_48K = (
    ((1.53512485958697, -2.69169618940638, 1.19839281085285),
     (1.0, -1.69065929318241, 0.73248077421585)),
    ((1.0, -2.0, 1.0),
     (1.0, -1.99004745483398, 0.99007225036621)),
)


@dataclass(frozen=True)
class EnergyEstimate:
    """Loudness of a track and the energy score derived from it.

    Attributes
    ----------
    energy : float
        0 (silent or very quiet) to 1 (very loud), a clipped linear
        function of `loudness_lufs`; see :func:`energy_from_loudness`.
    loudness_lufs : float
        Gated integrated loudness in LUFS (= LKFS), or
        ``LOUDNESS_FLOOR_LUFS`` (-70) when nothing passes the absolute gate.
    """

    energy: float
    loudness_lufs: float


def _biquad_to_analog(b: Sequence[float], a: Sequence[float], rate: float):
    """Analog (s-domain) biquad whose bilinear transform at `rate` is (b, a).

    Substituting z = (k + s) / (k - s), k = 2 * rate, into
    (c0 z^2 + c1 z + c2) and clearing (k - s)^2 gives
    (c0 - c1 + c2) s^2 + 2k (c0 - c2) s + k^2 (c0 + c1 + c2).
    """
    k = 2.0 * rate

    def polynomial(c):
        c0, c1, c2 = c
        return np.array([c0 - c1 + c2, 2.0 * k * (c0 - c2), k * k * (c0 + c1 + c2)])

    return polynomial(b), polynomial(a)


@lru_cache(maxsize=8)
def k_weighting_sos(sr: int) -> np.ndarray:
    """Second-order sections of the K-weighting filter at `sr` Hz.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Shape (2, 6): shelf then high-pass, for :func:`scipy.signal.sosfilt`.
    """
    sections = []
    for b48, a48 in _STAGES_48K:
        b_s, a_s = _biquad_to_analog(b48, a48, _REFERENCE_RATE)
        # The natural frequency of the analog denominator, as it appears
        # after 48 kHz warping; undo that warping, then pre-warp for `sr`,
        # by scaling s (a frequency scaling keeps the filter's shape).
        w_warped48 = np.sqrt(a_s[2] / a_s[0])
        w_true = 2.0 * _REFERENCE_RATE * np.arctan(w_warped48 / (2.0 * _REFERENCE_RATE))
        w_target = 2.0 * sr * np.tan(w_true / (2.0 * sr))
        scale = w_target / w_warped48
        powers = scale ** np.arange(3)  # H(s / scale): coefficient of s^(2-i) times scale^i
        b_z, a_z = signal.bilinear(b_s * powers, a_s * powers, fs=sr)
        sections.append(np.concatenate([b_z / a_z[0], a_z / a_z[0]]))
    return np.array(sections)


def _block_mean_squares(x: np.ndarray, sr: int) -> np.ndarray:
    """Mean square of each 400 ms block (hop 100 ms) of K-weighted `x`.

    A segment shorter than one block yields a single block of its own
    length, so very short excerpts are still measured.
    """
    block = int(round(_BLOCK_SECONDS * sr))
    hop = int(round(_BLOCK_SECONDS * (1.0 - _BLOCK_OVERLAP) * sr))
    if x.size < block:
        return np.array([np.mean(x * x)]) if x.size else np.empty(0)
    # A running sum of squares makes every block O(1) instead of O(block).
    cumulative = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, x.size - block + 1, hop)
    return (cumulative[starts + block] - cumulative[starts]) / block


def _loudness(mean_square: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return _LOUDNESS_OFFSET_DB + 10.0 * np.log10(mean_square)


def integrated_loudness(segments: Sequence[np.ndarray], sr: int = 16000) -> float:
    """Gated integrated loudness of all segments taken together.

    Blocks never straddle two segments (segments need not be contiguous),
    and the gating is done on the pooled blocks of every segment, so the
    order of the segments does not matter.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        Mono audio, float, full scale = 1.0, each 1-D.
    sr : int, optional
        Sample rate in Hz (default 16000).

    Returns
    -------
    float
        Loudness in LUFS, or ``LOUDNESS_FLOOR_LUFS`` when no 400 ms block
        is louder than -70 LUFS.
    """
    sos = k_weighting_sos(sr)
    blocks = [
        _block_mean_squares(signal.sosfilt(sos, np.asarray(segment, dtype=np.float64)), sr)
        for segment in segments if len(segment)
    ]
    mean_squares = np.concatenate(blocks) if blocks else np.empty(0)
    levels = _loudness(mean_squares)
    above_absolute = levels > _ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return LOUDNESS_FLOOR_LUFS
    relative_gate = _loudness(mean_squares[above_absolute].mean()) + _RELATIVE_GATE_LU
    gated = above_absolute & (levels > relative_gate)
    return float(_loudness(mean_squares[gated].mean()))


def energy_from_loudness(loudness_lufs: float) -> float:
    """Map loudness to an energy score in [0, 1].

    ``energy = clip((L - ENERGY_QUIET_LUFS) / (ENERGY_LOUD_LUFS - ENERGY_QUIET_LUFS), 0, 1)``,
    i.e. linear from -40 LUFS (0) to -6 LUFS (1).  Monotonic, so louder
    always means at least as energetic.

    Parameters
    ----------
    loudness_lufs : float
        Integrated loudness in LUFS.

    Returns
    -------
    float
        Energy, 0 to 1.
    """
    span = ENERGY_LOUD_LUFS - ENERGY_QUIET_LUFS
    return float(np.clip((loudness_lufs - ENERGY_QUIET_LUFS) / span, 0.0, 1.0))


def estimate_energy(segments: Sequence[np.ndarray], sr: int = 16000) -> EnergyEstimate:
    """Loudness (LUFS) and energy (0-1) of a track given as audio segments.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        One or more excerpts of the track: mono, float32, full scale = 1.0.
    sr : int, optional
        Sample rate in Hz (default 16000).

    Returns
    -------
    EnergyEstimate
        ``energy`` 0-1 and ``loudness_lufs`` in LUFS.  Silence gives
        energy 0.0 and loudness ``LOUDNESS_FLOOR_LUFS`` (-70 LUFS).
    """
    loudness = integrated_loudness(segments, sr)
    return EnergyEstimate(energy=energy_from_loudness(loudness), loudness_lufs=loudness)
