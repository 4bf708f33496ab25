"""BS.1770 loudness and the energy score (analysis/loudness.py)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal

from analysis.loudness import (
    LOUDNESS_FLOOR_LUFS,
    EnergyEstimate,
    energy_from_loudness,
    estimate_energy,
    k_weighting_sos,
)

SR = 16000


def sine(frequency: float, peak_dbfs: float, seconds: float, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (10 ** (peak_dbfs / 20) * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def pink_noise(rms_dbfs: float, seconds: float, seed: int = 0) -> np.ndarray:
    """Noise with a 1/f power spectrum (-3 dB/octave) at the given RMS level."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, spectrum.size))
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return (noise * 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(noise ** 2))).astype(np.float32)


def quiet_piano(seconds: float) -> np.ndarray:
    """Soft struck notes: a few harmonics decaying over 1 s, peaks near -17 dBFS, about -30 LUFS."""
    note_seconds = 1.0
    t = np.arange(int(note_seconds * SR)) / SR
    notes = []
    for midi in itertools.islice(itertools.cycle([60, 64, 67, 72, 67, 64]), int(seconds / note_seconds)):
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        note = sum(0.5 ** h * np.sin(2 * np.pi * (h + 1) * f0 * t) for h in range(4))
        notes.append(0.1 * note * np.exp(-3.0 * t))
    return np.concatenate(notes).astype(np.float32)


def test_k_weighting_at_48k_is_the_published_filter():
    sos = k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                        1.0, -1.69065929318241, 0.73248077421585], rtol=1e-9)
    np.testing.assert_allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], rtol=1e-9)


def test_k_weighting_at_16k_matches_48k_response_up_to_4khz():
    frequencies = np.geomspace(20.0, 4000.0, 40)

    def response_db(sr):
        _, h = signal.sosfreqz(k_weighting_sos(sr), worN=frequencies, fs=sr)
        return 20 * np.log10(np.abs(h))

    np.testing.assert_allclose(response_db(SR), response_db(48000), atol=0.1)


def test_sine_at_minus_20_dbfs_reads_minus_23_lufs():
    # A sine's mean square is peak^2 / 2: -20 dBFS peak gives -23.01 dB.
    # BS.1770 adds the K-weighting gain at the tone's frequency and -0.691
    # dB, chosen so that the two cancel at 997 Hz (+0.691 dB at 48 kHz):
    # expected -23.0 LUFS.  At 16 kHz the pre-warped shelf gives +0.65 dB
    # at 1 kHz, so this implementation reads -23.05 LUFS.
    estimate = estimate_energy([sine(1000.0, -20.0, 10.0)], SR)
    assert estimate.loudness_lufs == pytest.approx(-23.0, abs=0.5)
    assert estimate.loudness_lufs == pytest.approx(-23.05, abs=0.02)


def test_six_db_more_gain_is_six_lu_louder():
    quiet = estimate_energy([pink_noise(-30.0, 10.0)], SR)
    loud = estimate_energy([pink_noise(-30.0, 10.0) * np.float32(10 ** (6 / 20))], SR)
    assert loud.loudness_lufs - quiet.loudness_lufs == pytest.approx(6.0, abs=0.05)
    assert loud.energy > quiet.energy


def test_relative_gate_drops_passages_10_lu_below_the_rest():
    # Without the gate, 10 s at -23 LUFS and 10 s at -48 LUFS would average
    # to about -26 LUFS.  With it only the loud half (and the three blocks
    # straddling the step, partly loud) count.
    loud = sine(1000.0, -20.0, 10.0)
    with_quiet_part = estimate_energy([np.concatenate([loud, sine(1000.0, -45.0, 10.0)])], SR)
    assert with_quiet_part.loudness_lufs == pytest.approx(estimate_energy([loud], SR).loudness_lufs, abs=0.1)


@pytest.mark.parametrize("segments", [
    [np.zeros(10 * SR, dtype=np.float32)],
    [np.zeros(15 * SR, dtype=np.float32)] * 4,
    [],
    [np.zeros(0, dtype=np.float32)],
    [np.zeros(10, dtype=np.float32)],
    [sine(1000.0, -90.0, 5.0)],  # audible with headphones, but below the -70 LUFS gate
])
def test_silence_reads_the_floor_with_zero_energy(segments):
    assert estimate_energy(segments, SR) == EnergyEstimate(energy=0.0, loudness_lufs=LOUDNESS_FLOOR_LUFS)


def test_segment_shorter_than_a_block_is_still_measured():
    estimate = estimate_energy([sine(1000.0, -20.0, 0.25)], SR)
    assert estimate.loudness_lufs == pytest.approx(-23.05, abs=0.1)


def test_pink_noise_has_more_energy_than_quiet_piano():
    noise = estimate_energy([pink_noise(-15.0, 15.0)], SR)  # about -17.6 LUFS
    piano = estimate_energy([quiet_piano(15.0)], SR)
    assert noise.loudness_lufs > piano.loudness_lufs + 10
    assert 0.0 < piano.energy < noise.energy < 1.0


def test_order_of_segments_does_not_matter():
    segments = [pink_noise(-25.0, 15.0, seed=1), quiet_piano(15.0), sine(440.0, -12.0, 15.0),
                pink_noise(-40.0, 15.0, seed=2)]
    reference = estimate_energy(segments, SR)
    for order in itertools.permutations(range(4)):
        estimate = estimate_energy([segments[i] for i in order], SR)
        assert estimate.loudness_lufs == pytest.approx(reference.loudness_lufs, abs=1e-9)


def test_energy_mapping_is_linear_from_minus_40_to_minus_6_lufs_and_clipped():
    assert energy_from_loudness(LOUDNESS_FLOOR_LUFS) == 0.0
    assert energy_from_loudness(-40.0) == 0.0
    assert energy_from_loudness(-23.0) == pytest.approx(0.5)
    assert energy_from_loudness(-6.0) == 1.0
    assert energy_from_loudness(0.0) == 1.0
    levels = np.linspace(-80.0, 5.0, 200)
    assert np.all(np.diff([energy_from_loudness(level) for level in levels]) >= 0.0)
