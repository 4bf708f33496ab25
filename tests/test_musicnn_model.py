"""The committed MusiCNN ONNX models: outputs, interface, checksums, labels, rebuild.

The golden fixture (tests/fixtures/musicnn_golden.npz, written by
``python -m analysis.convert --golden``) holds four log-mel patches of a
synthetic signal and the outputs TensorFlow computed for them from the
original musicnn checkpoints; the committed ONNX files must reproduce them.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from analysis.labels import (
    INPUT_NAME, MEL_BANDS, MODEL_FILES, MODELS_DIR, MSD_LABELS, MTT_LABELS, OUTPUT_NAMES,
    PATCH_FRAMES,
)

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "fixtures" / "musicnn_golden.npz"
WIDTHS = {"tags": 50, "penultimate": 200, "dense": 200}
MODELS = sorted(MODEL_FILES)  # "msd", "mtt"


def _session(path: Path) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), sess_options=options,
                                        providers=["CPUExecutionProvider"])


def _run(session: onnxruntime.InferenceSession, mel: np.ndarray) -> dict[str, np.ndarray]:
    return dict(zip(OUTPUT_NAMES, session.run(list(OUTPUT_NAMES), {INPUT_NAME: mel})))


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def sessions() -> dict[str, onnxruntime.InferenceSession]:
    return {model: _session(MODELS_DIR / MODEL_FILES[model]) for model in MODELS}


def test_golden_fixture_is_float32_patches(golden):
    assert golden["mel"].dtype == np.float32
    assert golden["mel"].shape == (4, PATCH_FRAMES, MEL_BANDS)
    for model in MODELS:
        for role in OUTPUT_NAMES:
            assert golden[f"{model}_{role}"].shape == (4, WIDTHS[role])
            assert golden[f"{model}_{role}"].dtype == np.float32


@pytest.mark.parametrize("model", MODELS)
def test_onnx_reproduces_tensorflow(model, golden, sessions):
    outputs = _run(sessions[model], golden["mel"])
    for role in OUTPUT_NAMES:
        np.testing.assert_allclose(outputs[role], golden[f"{model}_{role}"], rtol=0, atol=1e-4,
                                   err_msg=f"{model} {role}")


@pytest.mark.parametrize("model", MODELS)
def test_interface_names_and_dynamic_axes(model, sessions):
    session = sessions[model]
    (mel,) = session.get_inputs()
    assert mel.name == INPUT_NAME
    assert mel.type == "tensor(float)"
    assert isinstance(mel.shape[0], str) and isinstance(mel.shape[1], str)  # batch, time: dynamic
    assert mel.shape[2] == MEL_BANDS
    outputs = session.get_outputs()
    assert tuple(output.name for output in outputs) == OUTPUT_NAMES
    for output in outputs:
        assert isinstance(output.shape[0], str)
        assert output.shape[1] == WIDTHS[output.name]


@pytest.mark.parametrize("model", MODELS)
def test_batch_of_one_equals_batch_of_four(model, golden, sessions):
    together = _run(sessions[model], golden["mel"])
    for index in range(len(golden["mel"])):
        alone = _run(sessions[model], golden["mel"][index:index + 1])
        for role in OUTPUT_NAMES:
            assert alone[role].shape == (1, WIDTHS[role])
            np.testing.assert_allclose(alone[role][0], together[role][index], rtol=0, atol=1e-5,
                                       err_msg=f"{model} {role} patch {index}")


@pytest.mark.parametrize("model", MODELS)
def test_time_axis_is_dynamic(model, golden, sessions):
    # Two patches joined in time: one 374-frame input, pooled over time to one row.
    longer = golden["mel"][:2].reshape(1, 2 * PATCH_FRAMES, MEL_BANDS)
    outputs = _run(sessions[model], longer)
    for role in OUTPUT_NAMES:
        assert outputs[role].shape == (1, WIDTHS[role])
        assert np.all(np.isfinite(outputs[role]))
    assert np.all((outputs["tags"] >= 0) & (outputs["tags"] <= 1))


def test_sha256sums_match_committed_models():
    lines = (MODELS_DIR / "SHA256SUMS").read_text().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split(maxsplit=1)
        listed[name.lstrip("*")] = digest
    assert sorted(listed) == sorted(MODEL_FILES.values())
    for name, digest in listed.items():
        assert hashlib.sha256((MODELS_DIR / name).read_bytes()).hexdigest() == digest, name


def test_licence_notice_is_shipped_with_the_models():
    text = (MODELS_DIR / "LICENSE-musicnn.txt").read_text()
    assert "Music Technology Group, Universitat Pompeu Fabra" in text
    assert "Permission to use, copy, modify, and/or distribute this software" in text
    assert "analysis/convert.py" in text


def test_labels():
    for labels in (MSD_LABELS, MTT_LABELS):
        assert isinstance(labels, tuple)
        assert len(labels) == 50
        assert len(set(labels)) == 50
    assert MSD_LABELS[0] == "rock"
    assert MSD_LABELS[17] == "Mellow"
    assert MSD_LABELS[33] == "Hip-Hop"
    assert MSD_LABELS[-1] == "happy"
    assert MTT_LABELS[0] == "guitar"
    assert MTT_LABELS[1] == "classical"
    assert MTT_LABELS[-1] == "choral"
    assert MODEL_FILES == {"msd": "MSD_musicnn.onnx", "mtt": "MTT_musicnn.onnx"}
    assert OUTPUT_NAMES == ("tags", "penultimate", "dense")


@pytest.mark.build_models
def test_rebuild_from_checkpoints_matches_committed_models(tmp_path, golden, sessions):
    python = os.environ.get("SONARIUM_BUILD_PYTHON")
    if not python:
        pytest.skip(reason=(
            "set SONARIUM_BUILD_PYTHON to the python of a build venv made with "
            "`pip install -r requirements-build.txt` then "
            "`pip install --no-deps -r requirements-build-nodeps.txt` to rebuild the models"))
    probe = subprocess.run([python, "-c", "import tensorflow, tf2onnx, musicnn"],
                           capture_output=True, text=True, env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    if probe.returncode != 0:
        pytest.fail(f"SONARIUM_BUILD_PYTHON={python} lacks the build packages "
                    f"(requirements-build*.txt):\n{probe.stderr[-2000:]}")
    built = subprocess.run([python, "-m", "analysis.convert", "--out", str(tmp_path)], cwd=REPO,
                           capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, f"conversion failed:\n{built.stdout}\n{built.stderr[-4000:]}"
    for model in MODELS:
        rebuilt = _run(_session(tmp_path / MODEL_FILES[model]), golden["mel"])
        committed = _run(sessions[model], golden["mel"])
        for role in OUTPUT_NAMES:
            np.testing.assert_allclose(rebuilt[role], committed[role], rtol=0, atol=1e-5,
                                       err_msg=f"{model} {role}")
