"""The MusiCNN front end and inference: OpenVINO in bfloat16 where the CPU has it, else onnxruntime.

The front end is the one the models were trained on (16 kHz, 512-point STFT,
hop 256, 96 Slaney mel bands up to 8 kHz, log10(10000 x + 1)), except that the
log is computed in float32: the original code cast to float16 first, which
overflows to inf on ordinary loud music and turns every tag into noise.

Inference runs in bfloat16 on OpenVINO where the CPU has native bfloat16
arithmetic (AVX-512 BF16 or AMX): 1.7 times faster than float32 there, with
outputs that correlate with the float32 ones at r > 0.9999 (docs/PERFORMANCE.md).
Elsewhere, or with ANALYSIS_PRECISION=float32, onnxruntime runs float32.  The
two are close enough to share a library: the analysis version does not depend
on which ran, and each result names it.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Callable

import librosa
import numpy as np
import threadpoolctl

import config
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

log = logging.getLogger(__name__)
_sessions: dict = {}
_sessions_lock = threading.Lock()
_threads_limited: set[int] = set()


@functools.lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """The 96 x 257 Slaney filterbank, built once per process (librosa rebuilds it on every call)."""
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=MEL_BANDS, fmin=0.0, fmax=8000.0,
                               htk=False, norm="slaney").astype(np.float32)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram of mono 16 kHz audio.

    The same numbers as librosa.feature.melspectrogram with these settings
    (within 1e-6), at a third of its cost: the filterbank is built once and
    applied as one matrix product.

    Parameters
    ----------
    audio : float32 samples at 16 kHz.

    Returns
    -------
    np.ndarray
        float32, shape (frames, 96); one frame per 16 ms hop.
    """
    spectrum = librosa.stft(np.asarray(audio, dtype=np.float32), n_fft=N_FFT, hop_length=HOP, window="hann",
                            center=True)
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    mel = (_mel_basis() @ power).T
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
    """Threads per inference session (ANALYSIS_THREADS, default 1: workers run in parallel)."""
    return config.setting("ANALYSIS_THREADS")


def limit_threads() -> None:
    """Hold numpy's BLAS to ANALYSIS_THREADS threads in this process (once per process).

    Its default is one thread per core, spinning while it waits: with two analysis
    workers on two cores, their four BLAS threads fought and tempo, key and the
    mel spectrogram ran 2-4 times slower (docs/PERFORMANCE.md).
    """
    if os.getpid() not in _threads_limited:
        threadpoolctl.threadpool_limits(analysis_threads(), user_api="blas")
        _threads_limited.add(os.getpid())


def session_options():
    """The onnxruntime settings every float32 session runs with: ANALYSIS_THREADS intra-op threads,
    one inter-op thread, no memory arena (nothing held between calls), warnings silenced; the graph
    optimisation level and execution mode are onnxruntime's defaults (ORT_ENABLE_ALL, sequential)."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = analysis_threads()
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return options


@dataclasses.dataclass(frozen=True)
class Session:
    """One model ready to run: `run(batch)` gives OUTPUT_NAMES' arrays for a batch of
    patches; `backend` names the runtime and arithmetic ("openvino-bf16" or
    "onnxruntime-float32"), which analysis results report."""

    backend: str
    run: Callable[[np.ndarray], list[np.ndarray]]


def _onnxruntime_session(path: Path) -> Session:
    import onnxruntime
    runner = onnxruntime.InferenceSession(str(path), sess_options=session_options(),
                                          providers=["CPUExecutionProvider"])
    return Session("onnxruntime-float32",
                   lambda batch: runner.run(list(OUTPUT_NAMES), {INPUT_NAME: batch}))


def _import_openvino():
    """The OpenVINO runtime, without its model converter.

    `import openvino` also imports the converter (openvino.tools.ovc), whose import
    reports a usage event to Google Analytics from a forked process (seen with
    strace: a DNS query for www.google-analytics.com).  Sonarium talks to no one but
    the user's own servers, and needs only the runtime: the converter is marked
    absent, which openvino's __init__ skips.
    """
    sys.modules.setdefault("openvino.tools.ovc", None)
    import openvino
    return openvino


def openvino_config() -> dict:
    """How OpenVINO compiles the models: bfloat16, ANALYSIS_THREADS threads, one stream.

    Not pinned to cores: OpenVINO pins a one-thread stream to the first core, so two
    workers ran their inference on the same core while the other idled (1.98 tracks/s
    against 3.36 unpinned on the dev corpus; docs/PERFORMANCE.md).
    """
    return {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": analysis_threads(), "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}


def _openvino_bf16_session(path: Path) -> Session | None:
    """The model compiled by OpenVINO in bfloat16, or None where the CPU has no native
    bfloat16 (OpenVINO would emulate it or quietly run float32), OpenVINO is missing or
    it fails to compile the model (logged: the float32 path runs instead).

    One patch per call, as compiled: a static shape is 5-7% faster than a dynamic one.
    """
    try:
        openvino = _import_openvino()
    except ImportError:
        return None
    try:
        core = openvino.Core()
        if "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
            return None
        model = core.read_model(str(path))
        model.reshape({INPUT_NAME: [CHUNK_PATCHES, PATCH_FRAMES, MEL_BANDS]})
        compiled = core.compile_model(model, "CPU", openvino_config())
    except RuntimeError as error:  # what OpenVINO raises for a device or model it cannot handle
        log.warning("OpenVINO cannot run %s (%s); analysing in float32 on onnxruntime", path.name, error)
        return None
    request = compiled.create_infer_request()
    ports = [compiled.output(name) for name in OUTPUT_NAMES]

    def run(batch: np.ndarray) -> list[np.ndarray]:
        results = request.infer({0: batch})
        return [np.array(results[port]) for port in ports]  # copies: the request reuses its buffers
    return Session("openvino-bf16", run)


def session(model: str) -> Session:
    """The process's inference session for `model` ("msd" or "mtt"), created once.

    ANALYSIS_PRECISION "auto" takes OpenVINO's bfloat16 where the CPU computes it
    natively and onnxruntime's float32 elsewhere; "float32" always the latter.
    Created in the process that runs it (a forked worker makes its own): neither
    runtime's thread pools survive a fork.
    """
    key = (os.getpid(), model)
    with _sessions_lock:
        if key not in _sessions:
            path = MODELS_DIR / MODEL_FILES[model]
            fast = _openvino_bf16_session(path) if config.setting("ANALYSIS_PRECISION") == "auto" else None
            _sessions[key] = fast or _onnxruntime_session(path)
        return _sessions[key]


def backend() -> str:
    """Which runtime and arithmetic this process's analysis uses (see `session`)."""
    return session("msd").backend


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
    runner = session(model).run
    parts: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_NAMES}
    for start in range(0, len(batch), CHUNK_PATCHES):
        if checkpoint:
            checkpoint()
        outputs = runner(batch[start:start + CHUNK_PATCHES])
        for name, value in zip(OUTPUT_NAMES, outputs):
            parts[name].append(value)
    return {name: np.concatenate(values).astype(np.float32, copy=False) for name, values in parts.items()}
