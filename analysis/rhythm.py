"""Global tempo of a track from the periodicity of its onsets.

Pipeline
--------
1. Onset strength per segment: positive spectral flux of a compressed mel
   spectrogram, 10 ms hop (100 frames per second).
2. Autocorrelation of each segment's onset strength on its own, summed over
   segments lag by lag and divided by the number of frame pairs behind
   each lag.  Segments need not be contiguous: no lag spans two of them.
3. Salience of every period from 30 to 300 BPM: the mean autocorrelation
   at 1, 2, 3 and 4 periods (a comb).  A beat period has onsets at all its
   multiples; a subdivision scores lower because its odd multiples fall
   between beats.
4. Metrical level (octave) choice starting from the most salient period,
   see :func:`_choose_level`, then the confidence from how far the chosen
   period's salience stands above the median salience.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import librosa
import numpy as np

_HOP_SECONDS = 0.010
_WINDOW_SECONDS = 0.064
_N_MELS = 40
# Mel power is compressed as power ** 0.6 before the flux.  The exponent
# sets how much a quiet but broadband onset (a hi-hat, spread over many mel
# bands) counts against a loud narrow-band one (a kick): with a log
# compression, hi-hats 6 dB below the kick give onset peaks as high as the
# kick's, so the eighth-note level wins; with raw power, a snare as loud
# (BS.1770) as the kick barely registers.  At 0.6, kick and snare of equal
# loudness give peaks of similar height and such hi-hats well under half.
_COMPRESSION_EXPONENT = 0.6
_MIN_BPM, _MAX_BPM = 30.0, 300.0
_GRID_STEP = 0.002  # relative spacing of candidate periods (0.2 %)
_COMB_MULTIPLES = 4

#: Musical range into which the tempo is folded, BPM.  A tempo counts as
#: outside only when it is more than 3 % beyond a bound (a track at 60 BPM
#: measured at 59.9 must not be doubled).
RANGE_BPM = (60.0, 200.0)
_RANGE_TOLERANCE = 0.03
# A faster level is taken when the onsets it adds carry at least this
# fraction of the autocorrelation of the current level's own onsets ...
_SUPPORT_IN_RANGE = 0.70
# ... or this lower fraction when the current level is below RANGE_BPM.
_SUPPORT_BELOW_RANGE = 0.35

# "No rhythm" gates.  Below this RMS (about -100 dBFS) the input is silence.
_SILENCE_RMS = 1e-5
# Mean positive flux per frame relative to the mean compressed level: below
# 0.3 % the spectrum is steady (held tones, pads) and any periodicity left
# is leakage between FFT bins, not onsets.
_MIN_ONSET_ACTIVITY = 0.003
# The autocorrelation of noise at a lag read from n frame pairs scatters by
# about 1 / sqrt(n).  A prominence below 3.5 / sqrt(pairs at the longest
# lag), or below 0.05, is what white or pink noise reaches by chance.
_NOISE_PROMINENCE = 3.5
_MIN_CONFIDENCE = 0.05
# The slowest in-range beat (60 BPM) must fit three times into the usable
# lags (three quarters of the longest segment): segments all shorter than
# 4 s give no tempo.
_MIN_BEATS_IN_LAGS = 3


@dataclass(frozen=True)
class TempoEstimate:
    """Estimated global tempo.

    Attributes
    ----------
    bpm : float
        Tempo in beats per minute, or NaN when no periodicity was found
        (silence, noise, steady tones, too little audio).
    confidence : float
        0 (no evidence) to 1 (perfectly periodic onsets): how far the
        chosen period's comb salience stands above the median salience of
        all periods, as a fraction of the largest possible distance.
    """

    bpm: float
    confidence: float


@lru_cache(maxsize=4)
def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=_N_MELS, fmin=30.0, fmax=sr / 2.0)


def _mel_power(segment: np.ndarray, sr: int, hop: int) -> np.ndarray:
    n_fft = 1 << int(math.ceil(math.log2(_WINDOW_SECONDS * sr)))
    if segment.size < n_fft + hop:
        return np.zeros((_N_MELS, 0))
    # center=False: no zero padding, so a segment's first frame does not
    # read as an onset out of silence.
    spectrum = librosa.stft(segment, n_fft=n_fft, hop_length=hop, center=False)
    return _mel_basis(sr, n_fft) @ (np.square(spectrum.real) + np.square(spectrum.imag))


def onset_strength(segments: Sequence[np.ndarray], sr: int = 16000) -> tuple[list[np.ndarray], float]:
    """Onset-strength envelope of each segment, and the overall activity.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        Mono audio, float, each 1-D.
    sr : int, optional
        Sample rate in Hz (default 16000).

    Returns
    -------
    envelopes : list of numpy.ndarray
        One per segment, one value per 10 ms frame (100 frames per
        second), empty for segments shorter than about 75 ms.  Independent
        of the input gain: the mel power is taken relative to the loudest
        mel bin of the whole track.
    activity : float
        Total positive flux divided by the total compressed level, 0 when
        nothing changes (dimensionless, per frame).
    """
    hop = int(round(_HOP_SECONDS * sr))
    powers = [_mel_power(np.asarray(s, dtype=np.float32), sr, hop) for s in segments]
    reference = max((p.max() for p in powers if p.size), default=0.0)
    envelopes, flux_total, level_total = [], 0.0, 0.0
    for power in powers:
        if power.shape[1] < 2 or reference <= 0.0:
            envelopes.append(np.zeros(0))
            continue
        compressed = (power / reference) ** _COMPRESSION_EXPONENT
        flux = np.maximum(np.diff(compressed, axis=1), 0.0).sum(axis=0)
        envelopes.append(flux)
        flux_total += float(flux.sum())
        level_total += float(compressed[:, 1:].sum())
    return envelopes, (flux_total / level_total if level_total > 0 else 0.0)


def _autocorrelation(envelopes: Sequence[np.ndarray], max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pooled autocorrelation of the envelopes, and its frame-pair count per lag.

    Each segment is correlated on its own, zero-padded so that nothing
    wraps around: this is what keeps segment boundaries out of it.  The
    sum over segments is divided lag by lag by the number of frame pairs
    behind it, then normalised to 1 at lag 0.
    """
    sums = np.zeros(max_lag + 1)
    pairs = np.zeros(max_lag + 1)
    for envelope in envelopes:
        n = envelope.size
        if n < 2:
            continue
        centred = envelope - envelope.mean()
        size = 1 << int(math.ceil(math.log2(2 * n)))
        spectrum = np.fft.rfft(centred, size)
        lags = min(max_lag, n - 1) + 1
        sums[:lags] += np.fft.irfft(spectrum * np.conj(spectrum), size)[:lags]
        pairs[:lags] += n - np.arange(lags)
    acf = np.divide(sums, pairs, out=np.zeros_like(sums), where=pairs > 0)
    return (acf / acf[0] if acf[0] > 0 else acf), pairs


class _Periodicity:
    """Autocorrelation read at fractional lags (in frames)."""

    def __init__(self, acf: np.ndarray):
        self.acf = acf
        self.max_lag = acf.size - 1

    def salience(self, periods: np.ndarray) -> np.ndarray:
        """Comb salience: mean autocorrelation at the first multiples that fit.

        -inf for a period longer than the last lag.
        """
        lags = np.outer(periods, np.arange(1, _COMB_MULTIPLES + 1))
        values = np.interp(lags, np.arange(self.acf.size), self.acf, right=np.nan)
        fitting = (~np.isnan(values)).sum(axis=1)
        totals = np.where(np.isnan(values), 0.0, values).sum(axis=1)
        return np.divide(totals, fitting, out=np.full(totals.shape, -np.inf), where=fitting > 0)

    def peak(self, lag: float) -> float:
        """Highest autocorrelation within +-2 % (at least +-1.5 frames) of `lag`.

        The tolerance absorbs onsets quantised to 10 ms frames and the drift
        of multiples of a slightly wrong period.  NaN beyond the last lag.
        """
        half_width = max(1.5, 0.02 * lag)
        if lag + half_width > self.max_lag:
            return math.nan
        lo, hi = int(math.floor(lag - half_width)), int(math.ceil(lag + half_width))
        return float(self.acf[max(lo, 0):hi + 1].max())

    def support(self, period: float, factor: int) -> float:
        """How strongly onsets fill the subdivision of ``factor * period`` into `period`.

        Mean autocorrelation at the multiples of `period` below
        ``2 * factor * period`` that are not multiples of the slower period
        (the positions the faster level adds), over that at 1 and 2 slower
        periods.  About 1 when the added positions carry onsets as strong as
        the slower level's, about 0 when nothing happens between them.
        NaN when the lags needed are beyond the last one.
        """
        added = [self.peak(m * period) for m in range(1, 2 * factor) if m % factor]
        kept = [self.peak(m * factor * period) for m in (1, 2)]
        if any(math.isnan(v) for v in added + kept):
            return math.nan
        kept_mean = np.mean(np.maximum(kept, 0.0))
        # Nothing periodic at the slower level: the faster one is no worse.
        return float(np.mean(np.maximum(added, 0.0)) / kept_mean) if kept_mean > 0 else math.inf

    def refine(self, period: float) -> float:
        """Period of highest salience within +-3 % of `period` (frames)."""
        candidates = period * np.exp(np.linspace(-0.03, 0.03, 61))
        return float(candidates[int(np.argmax(self.salience(candidates)))])


def _choose_level(periodicity: _Periodicity, period: float, fps: float) -> float:
    """Pick the beat among the metrical levels related to `period` (frames).

    The octave-error rule.  Levels are related by factors 2 and 3 (duple
    and triple groupings; together they also reach the 3/2 and 2/3
    relations).  "Support" of a faster level is
    :meth:`_Periodicity.support`: the strength of the onsets it adds
    between the slower level's onsets, relative to the slower level's own.

    1. Slower: while the current level is only a weak subdivision (support
       below 0.70 as a half or a third) of a slower level, move to the
       slower level whose grouping is the most evident.
    2. Faster: while a half or a third of the current period has support
       of at least 0.70 and stays within 200 BPM, move to the better
       supported of the two.  Off-beats clearly weaker than the beats (an
       eighth-note hi-hat) stay well below 0.70; kick and snare of similar
       loudness alternating on the beats sit near 1.
    3. Fold, the mild prior: above 200 BPM, move to the slower level with
       the most evident grouping until in range; below 60 BPM, move to a
       half or third period with support of at least 0.35.  With no such
       level (a click every 1.2 s and nothing between) the tempo stays
       below 60 BPM: the prior never overrides the absence of onsets.

    Bounds are widened by 3 % to allow for measurement error.
    """
    def bpm(p: float) -> float:
        return 60.0 * fps / p

    lowest = RANGE_BPM[0] * (1.0 - _RANGE_TOLERANCE)
    highest = RANGE_BPM[1] * (1.0 + _RANGE_TOLERANCE)

    # Levels whose support cannot be read (lags beyond the last one) or
    # that leave 30-300 BPM are not candidates.
    def slower(p: float, threshold: float) -> float | None:
        options = [(periodicity.support(p, f), f * p) for f in (2, 3) if bpm(f * p) >= _MIN_BPM]
        options = [option for option in options if option[0] < threshold]
        return min(options)[1] if options else None

    def faster(p: float, threshold: float) -> float | None:
        options = [(periodicity.support(p / f, f), p / f) for f in (2, 3) if bpm(p / f) <= highest]
        options = [option for option in options if option[0] >= threshold]
        return max(options)[1] if options else None

    while (step := slower(period, _SUPPORT_IN_RANGE)) is not None:
        period = periodicity.refine(step)
    while (step := faster(period, _SUPPORT_IN_RANGE)) is not None:
        period = periodicity.refine(step)
    while bpm(period) > highest and (step := slower(period, math.inf)) is not None:
        period = periodicity.refine(step)
    while bpm(period) < lowest and (step := faster(period, _SUPPORT_BELOW_RANGE)) is not None:
        period = periodicity.refine(step)
    return period


def estimate_tempo(segments: Sequence[np.ndarray], sr: int = 16000) -> TempoEstimate:
    """Global tempo of a track given as audio segments.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        One or more excerpts of the track: mono, float32, full scale = 1.0.
        They need not be contiguous; each is analysed on its own and the
        evidence pooled.  At least one must be 4 s or longer.
    sr : int, optional
        Sample rate in Hz (default 16000).

    Returns
    -------
    TempoEstimate
        Tempo in BPM, normally within 60-200 BPM (see
        :func:`_choose_level` for the octave rule), and a confidence 0-1.
        Silence, noise, steady tones or segments all shorter than 4 s
        give ``bpm=nan`` and ``confidence=0.0``.  The overall gain
        does not change the result.
    """
    no_tempo = TempoEstimate(bpm=math.nan, confidence=0.0)
    samples = sum(len(s) for s in segments)
    energy = sum(float(np.sum(np.square(s, dtype=np.float64))) for s in segments)
    if samples == 0 or math.sqrt(energy / samples) < _SILENCE_RMS:
        return no_tempo

    fps = sr / int(round(_HOP_SECONDS * sr))
    envelopes, activity = onset_strength(segments, sr)
    if activity < _MIN_ONSET_ACTIVITY:
        return no_tempo
    # Lags up to 4 periods of 30 BPM (8 s), but only as far as the longest
    # segment still gives a usable number of frame pairs.
    max_lag = int(min(4 * 60.0 * fps / _MIN_BPM, 0.75 * max(e.size for e in envelopes)))
    if max_lag < _MIN_BEATS_IN_LAGS * 60.0 * fps / RANGE_BPM[0]:
        return no_tempo
    acf, pairs = _autocorrelation(envelopes, max_lag)
    periodicity = _Periodicity(acf)

    shortest = 60.0 * fps / _MAX_BPM
    longest = min(60.0 * fps / _MIN_BPM, max_lag)
    periods = shortest * np.exp(np.arange(0.0, math.log(longest / shortest), _GRID_STEP))
    salience = periodicity.salience(periods)
    baseline = float(np.median(salience))
    strongest = periodicity.refine(float(periods[int(np.argmax(salience))]))

    period = _choose_level(periodicity, strongest, fps)
    prominence = float(periodicity.salience(np.array([period]))[0]) - baseline
    confidence = float(np.clip(prominence / (1.0 - baseline), 0.0, 1.0)) if baseline < 1.0 else 0.0
    if confidence < max(_MIN_CONFIDENCE, _NOISE_PROMINENCE / math.sqrt(pairs[max_lag])):
        return no_tempo
    return TempoEstimate(bpm=60.0 * fps / period, confidence=confidence)
