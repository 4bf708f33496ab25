"""Which runtime runs the models, how close bfloat16 stays to float32, and the cheaper front end."""
from pathlib import Path

import librosa
import numpy as np
import pytest
import threadpoolctl

from analysis import musicnn
from analysis.features import analyze_file
from analysis.labels import OUTPUT_NAMES
from tests.audio import music

GOLDEN = Path(__file__).parent / "fixtures" / "musicnn_golden.npz"
MODELS = ("msd", "mtt")


@pytest.fixture()
def fresh_sessions(monkeypatch):
    """Sessions made anew under this test's settings (the module keeps one per process)."""
    monkeypatch.setattr(musicnn, "_sessions", {})


def _bf16_cpu() -> bool:
    import openvino
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _golden_mel() -> np.ndarray:
    with np.load(GOLDEN) as data:
        return data["mel"]


def test_float32_setting_runs_onnxruntime(monkeypatch, fresh_sessions):
    monkeypatch.setenv("ANALYSIS_PRECISION", "float32")
    assert musicnn.backend() == "onnxruntime-float32"


def test_auto_takes_bfloat16_only_where_the_cpu_computes_it(monkeypatch, fresh_sessions):
    monkeypatch.setenv("ANALYSIS_PRECISION", "auto")
    assert musicnn.backend() == ("openvino-bf16" if _bf16_cpu() else "onnxruntime-float32")


def test_a_cpu_without_bfloat16_falls_back_to_float32(monkeypatch, fresh_sessions):
    import openvino
    real = openvino.Core.get_property

    def no_bf16(core, device, name):
        value = real(core, device, name)
        return [c for c in value if c != "BF16"] if name == "OPTIMIZATION_CAPABILITIES" else value
    monkeypatch.setattr(openvino.Core, "get_property", no_bf16)
    monkeypatch.setenv("ANALYSIS_PRECISION", "auto")
    assert musicnn.backend() == "onnxruntime-float32"


def test_a_bad_precision_setting_is_refused_by_name(monkeypatch, fresh_sessions):
    from config import ConfigError
    monkeypatch.setenv("ANALYSIS_PRECISION", "int4")
    with pytest.raises(ConfigError, match="ANALYSIS_PRECISION"):
        musicnn.session("msd")


@pytest.mark.parametrize("model", MODELS)
def test_bfloat16_outputs_stay_close_to_float32(model, monkeypatch, fresh_sessions):
    if not _bf16_cpu():
        pytest.skip(reason="this CPU has no native bfloat16: auto runs float32 here")
    mel = _golden_mel()
    monkeypatch.setenv("ANALYSIS_PRECISION", "float32")
    exact = musicnn.infer(model, mel)
    monkeypatch.setattr(musicnn, "_sessions", {})
    monkeypatch.setenv("ANALYSIS_PRECISION", "auto")
    fast = musicnn.infer(model, mel)
    assert musicnn.session(model).backend == "openvino-bf16"
    for name in OUTPUT_NAMES:
        assert fast[name].shape == exact[name].shape and fast[name].dtype == np.float32
        assert np.corrcoef(fast[name].ravel(), exact[name].ravel())[0, 1] > 0.9995, name
    assert np.abs(fast["tags"] - exact["tags"]).max() < 0.02
    pooled_fast, pooled_exact = fast["dense"].mean(axis=0), exact["dense"].mean(axis=0)
    cosine = pooled_fast @ pooled_exact / np.linalg.norm(pooled_fast) / np.linalg.norm(pooled_exact)
    assert cosine > 0.9999


def test_each_result_names_the_runtime_that_ran(tmp_path, monkeypatch, fresh_sessions):
    import soundfile
    path = tmp_path / "song.wav"
    soundfile.write(path, music(40, 44100), 44100)
    monkeypatch.setenv("ANALYSIS_PRECISION", "float32")
    result = analyze_file(path)
    assert result.inference == "onnxruntime-float32" and result.to_json()["inference"] == result.inference


def test_log_mel_matches_librosa_melspectrogram():
    audio = music(7, 16000)
    reference = librosa.feature.melspectrogram(
        y=audio, sr=16000, n_fft=musicnn.N_FFT, hop_length=musicnn.HOP, window="hann", center=True,
        power=2.0, n_mels=96, fmin=0.0, fmax=8000.0, htk=False, norm="slaney").T
    expected = np.log10(np.float32(10000.0) * reference.astype(np.float32) + np.float32(1.0))
    np.testing.assert_allclose(musicnn.log_mel(audio), expected, rtol=0, atol=1e-5)


def test_analysis_holds_numpy_blas_to_its_threads(tmp_path, monkeypatch):
    import soundfile
    path = tmp_path / "song.wav"
    soundfile.write(path, music(10, 44100), 44100)
    monkeypatch.setattr(musicnn, "_threads_limited", set())
    monkeypatch.setenv("ANALYSIS_THREADS", "1")
    with threadpoolctl.threadpool_limits(None):  # restores the test process's own limits afterwards
        analyze_file(path)
        blas = [pool for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]
        assert blas and all(pool["num_threads"] == 1 for pool in blas)


def test_openvino_runs_without_reporting_usage(tmp_path):
    """`import openvino` would import its converter, which reports to Google Analytics;
    the session loads the runtime alone, so nothing is sent and nothing lands in $HOME."""
    import subprocess
    import sys
    from tests.conftest import REPO
    script = ("import sys\nfrom analysis import musicnn\nmusicnn.session('msd')\n"
              "print('openvino_telemetry' in sys.modules, sys.modules.get('openvino.tools.ovc'))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO),
                               "ANALYSIS_PRECISION": "auto"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "None"], done.stdout
    assert list(tmp_path.iterdir()) == []


def test_openvino_leaves_workers_free_to_use_every_core(monkeypatch):
    """A pinned one-thread stream lands on the first core in every worker: two workers then
    share one core (1.98 tracks/s against 3.36 unpinned, docs/PERFORMANCE.md)."""
    monkeypatch.setenv("ANALYSIS_THREADS", "1")
    config = musicnn.openvino_config()
    assert config["ENABLE_CPU_PINNING"] is False
    assert (config["INFERENCE_NUM_THREADS"], config["NUM_STREAMS"], config["INFERENCE_PRECISION_HINT"]) == (1, 1, "bf16")


def test_openvino_failing_to_compile_falls_back_to_float32(monkeypatch, fresh_sessions, caplog):
    import openvino

    def broken(*args, **kwargs):
        raise RuntimeError("Exception from src/inference/src/cpp/core.cpp: no kernel for this CPU")
    monkeypatch.setattr(openvino.Core, "compile_model", broken)
    monkeypatch.setenv("ANALYSIS_PRECISION", "auto")
    assert musicnn.backend() == "onnxruntime-float32"
    if _bf16_cpu():
        assert "float32 on onnxruntime" in caplog.text
