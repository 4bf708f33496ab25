"""The MusiCNN front end and inference on onnxruntime.

The front end is the one the models were trained on (16 kHz, 512-point STFT,
hop 256, 96 Slaney mel bands up to 8 kHz, log10(10000 x + 1)), except that the
log is computed in float32: the original code cast to float16 first, which
overflows to inf on ordinary loud music and turns every tag into noise.
"""
from __future__ import annotations

import os
import threading
from typing import Callable

import librosa
import numpy as np
import onnxruntime

from analysis.decode import SAMPLE_RATE
from analysis.labels import INPUT_NAME, MEL_BANDS, MODEL_FILES, MODELS_DIR, OUTPUT_NAMES, PATCH_FRAMES

N_FFT = 512
HOP = 256  # samples; one mel frame = 16 ms
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + 1  # the fewest samples that give one whole patch
PATCH_SECONDS = PATCH_SAMPLES / SAMPLE_RATE  # ~2.98 s
# Patches per inference call.  One at a time is both the fastest on one thread
# (28.5 ms/patch against 46.6 at 16: the activations stay in cache) and the
# leanest; with the memory arena off nothing is held between calls
# (docs/PERFORMANCE.md).
CHUNK_PATCHES = 1

_sessions: dict = {}
_sessions_lock = threading.Lock()


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram of mono 16 kHz audio.

    Parameters
    ----------
    audio : float32 samples at 16 kHz.

    Returns
    -------
    np.ndarray
        float32, shape (frames, 96); one frame per 16 ms hop.
    """
    power = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
        window="hann", center=True, power=2.0, n_mels=MEL_BANDS, fmin=0.0, fmax=8000.0,
        htk=False, norm="slaney")
    mel = power.T.astype(np.float32, copy=False)
    return np.log10(np.float32(10000.0) * mel + np.float32(1.0), dtype=np.float32)


def patches(mel: np.ndarray) -> np.ndarray:
    """Cut a log-mel spectrogram into non-overlapping 187-frame patches.

    Leftover frames are dropped; a clip shorter than one patch is repeated
    until it fills one (as in training).

    Returns
    -------
    np.ndarray
        float32, shape (n_patches, 187, 96), n_patches >= 1 (0 only for an empty input).
    """
    frames = mel.shape[0]
    if frames == 0:
        return np.zeros((0, PATCH_FRAMES, MEL_BANDS), dtype=np.float32)
    if frames < PATCH_FRAMES:
        mel = np.tile(mel, (int(np.ceil(PATCH_FRAMES / frames)), 1))[:PATCH_FRAMES]
        frames = PATCH_FRAMES
    count = frames // PATCH_FRAMES
    return np.ascontiguousarray(mel[:count * PATCH_FRAMES].reshape(count, PATCH_FRAMES, MEL_BANDS))


def analysis_threads() -> int:
    """Threads per inference session: ANALYSIS_THREADS, else 1 (workers run in parallel)."""
    return max(1, int(os.environ.get("ANALYSIS_THREADS", "1") or 1))


def session_options() -> onnxruntime.SessionOptions:
    """The settings every inference session runs with: ANALYSIS_THREADS intra-op threads, one
    inter-op thread, no memory arena (nothing held between calls), warnings silenced; the graph
    optimisation level and execution mode are onnxruntime's defaults (ORT_ENABLE_ALL, sequential)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = analysis_threads()
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return options


def session(model: str) -> onnxruntime.InferenceSession:
    """The process's inference session for `model` ("msd" or "mtt"), created once."""
    key = (os.getpid(), model)
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = onnxruntime.InferenceSession(
                str(MODELS_DIR / MODEL_FILES[model]), sess_options=session_options(),
                providers=["CPUExecutionProvider"])
        return _sessions[key]


def infer(model: str, batch: np.ndarray, checkpoint: Callable[[], None] | None = None
          ) -> dict[str, np.ndarray]:
    """Run a model on patches in chunks of CHUNK_PATCHES.

    Parameters
    ----------
    model : "msd" or "mtt".
    batch : float32 log-mel patches, shape (n, 187, 96).
    checkpoint : called before each chunk; it may raise to abandon the work
        (a cancelled task: a long track's inference takes seconds).

    Returns
    -------
    dict
        "tags" (n, 50) probabilities, "penultimate" (n, 200), "dense" (n, 200).
    """
    runner = session(model)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
    for start in range(0, len(batch), CHUNK_PATCHES):
        if checkpoint:
            checkpoint()
        outputs = runner.run(list(OUTPUT_NAMES), {INPUT_NAME: batch[start:start + CHUNK_PATCHES]})
        for name, value in zip(OUTPUT_NAMES, outputs):
            parts[name].append(value)
    return {name: np.concatenate(values).astype(np.float32, copy=False) for name, values in parts.items()}
