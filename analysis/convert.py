"""Convert the MusiCNN checkpoints of PyPI ``musicnn`` 0.1.0 to ONNX (build time only).

Sonarium tags and embeds audio with MusiCNN (Pons & Serra, 2019), models
trained by the Music Technology Group of Universitat Pompeu Fabra and
published under the ISC licence. The only offline source of their weights is
the ``musicnn`` wheel on PyPI, which ships TensorFlow 1 checkpoints. Running
TensorFlow in the workers would cost 1.3 GB of install and seconds of start-up
per process, so this script converts the checkpoints once, at build time, into
small ONNX files (~3.2 MB each) that are committed under ``analysis/models``
and run on onnxruntime. TensorFlow is needed here and nowhere else.

For each of ``MSD_musicnn`` and ``MTT_musicnn`` the script

1. builds the network with ``musicnn.models.define_model`` in TF1 graph mode
   inside ``tf.name_scope("model")``, on a float32 placeholder of shape
   ``[None, None, 96]`` (batch and time are dynamic: the network is fully
   convolutional and pools over time), and adds a sigmoid on the logits;
2. restores the weights with the explicit checkpoint prefix
   ``<site-packages>/musicnn/<name>/`` (the wheel's ``checkpoint`` file points
   at the author's home directory), checks the tensor names and shapes, and
   freezes the variables into constants;
3. converts the frozen graph with tf2onnx (opset 17), renaming the tensors so
   that the graph has one input ``mel`` ([batch, time, 96]) and three outputs
   ``tags`` (sigmoid, [batch, 50]), ``penultimate`` (batch norm after the
   200-unit dense layer and its ReLU, [batch, 200]) and ``dense`` (the same
   layer before its ReLU, [batch, 200]);
4. puts the ONNX graph in a canonical form (see :func:`_canonicalize`), checks
   that onnxruntime reproduces TensorFlow on a test input, and writes
   ``<name>.onnx``, ``SHA256SUMS`` and ``LICENSE-musicnn.txt`` to the output
   directory. Re-running it in the pinned build environment gives the same
   bytes.

With ``--golden PATH`` it also writes the test fixture: four log-mel patches
computed from a synthetic signal with the documented front end, and the
TensorFlow outputs (from the checkpoints, not from the ONNX files) for them.

Notes
-----
Only the network is converted, never musicnn's own front end: it computes the
log-mel in float16, where any mel bin above ~6.55 overflows (``10000 * x``
exceeds the float16 maximum, 65504) to inf on ordinary loud music, and the
network then returns NaN (onnxruntime) or input-independent tags
(TensorFlow). Sonarium computes the same log-mel in float32 instead (see
:mod:`analysis.musicnn`); the golden patches include such loud bins.

Examples
--------
From the repository root, in a separate build environment (Python 3.11)::

    python3.11 -m venv /path/to/build-venv
    /path/to/build-venv/bin/pip install -r requirements-build.txt
    /path/to/build-venv/bin/pip install --no-deps -r requirements-build-nodeps.txt
    /path/to/build-venv/bin/python -m analysis.convert [--out DIR] [--golden PATH]

``DIR`` defaults to ``analysis/models``. ``TF_USE_LEGACY_KERAS=1`` is set by
the script itself (``tf.compat.v1.layers`` needs Keras 2, from ``tf-keras``).
The tests rebuild the models when ``SONARIUM_BUILD_PYTHON`` names that venv's
python (``pytest -m build_models``).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import heapq
import importlib.metadata
import os
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

from analysis.labels import (
    INPUT_NAME, MEL_BANDS, MODEL_FILES, MODELS_DIR, MSD_LABELS, MTT_LABELS, OUTPUT_NAMES,
    PATCH_FRAMES,
)

#: Checkpoint directory in the musicnn package -> ONNX file name.
MODELS = {"MSD_musicnn": MODEL_FILES["msd"], "MTT_musicnn": MODEL_FILES["mtt"]}
LABELS = {"MSD_musicnn": MSD_LABELS, "MTT_musicnn": MTT_LABELS}
#: Golden-fixture key prefix of each model.
FIXTURE_PREFIX = {"MSD_musicnn": "msd", "MTT_musicnn": "mtt"}

#: Tensor names in the frozen TensorFlow graph (as built by :func:`_build_session`).
TF_INPUT = "model/Placeholder:0"
TF_OUTPUTS = {
    "tags": "model/Sigmoid:0",
    "penultimate": "model/batch_normalization_10/batchnorm/add_1:0",
    "dense": "model/dense/BiasAdd:0",
}
OUTPUT_WIDTHS = {"tags": 50, "penultimate": 200, "dense": 200}

OPSET = 17
LICENSE_FILE = "LICENSE-musicnn.txt"
SUMS_FILE = "SHA256SUMS"

#: Front end the models were trained on (float32 log, see the module docstring).
SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
GOLDEN_PATCHES = 4
GOLDEN_SEED = 20190707

INSTALL_HINT = """\
analysis.convert needs the build environment (TensorFlow, tf2onnx, onnx, onnxruntime,
librosa, tf-keras and musicnn), which the Sonarium runtime does not install. Create it with:

    python3.11 -m venv /path/to/build-venv
    /path/to/build-venv/bin/pip install -r requirements-build.txt
    /path/to/build-venv/bin/pip install --no-deps -r requirements-build-nodeps.txt

then run, from the repository root:

    /path/to/build-venv/bin/python -m analysis.convert [--out DIR] [--golden PATH]
"""


class BuildEnvironmentMissing(RuntimeError):
    """A package of the build environment cannot be imported."""


def _import_build_packages():
    """Import TensorFlow, tf2onnx, onnx, onnxruntime and musicnn, or explain how to get them."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
        import tf2onnx
        import onnx
        import onnxruntime
        import musicnn.models
    except ImportError as exc:
        raise BuildEnvironmentMissing(f"cannot import {exc.name or exc}: {exc}") from exc
    tf.get_logger().setLevel("ERROR")
    return tf, tf2onnx, onnx, onnxruntime, musicnn


def _checkpoint_prefix(musicnn_module, name: str) -> str:
    """The explicit checkpoint prefix ``<site-packages>/musicnn/<name>/`` (files ``.index`` etc.)."""
    directory = Path(musicnn_module.__file__).resolve().parent / name
    if not (directory / ".index").is_file():
        raise FileNotFoundError(f"no checkpoint in {directory}: is musicnn==0.1.0 installed?")
    return str(directory) + os.sep


def _session_config(tf):
    # One thread each: the build machines are small and shared, and it keeps TF's sums in one order.
    return tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)


def _build_session(tf, musicnn, name: str):
    """Build ``name`` in a new graph, restore its checkpoint and return ``(session, placeholder)``."""
    graph = tf.Graph()
    with graph.as_default(), warnings.catch_warnings():
        # musicnn's tf.compat.v1.layers calls each print a deprecation warning.
        warnings.simplefilter("ignore", UserWarning)
        with tf.name_scope("model"):
            mel = tf.compat.v1.placeholder(tf.float32, [None, None, MEL_BANDS])
            logits = musicnn.models.define_model(mel, False, name, len(LABELS[name]))[0]
            tf.nn.sigmoid(logits)
        saver = tf.compat.v1.train.Saver()
    session = tf.compat.v1.Session(graph=graph, config=_session_config(tf))
    saver.restore(session, _checkpoint_prefix(musicnn, name))
    _check_tensors(graph, mel)
    return session, mel


def _check_tensors(graph, placeholder) -> None:
    """Fail loudly if the graph's tensor names or shapes are not the documented ones."""
    if placeholder.name != TF_INPUT:
        raise RuntimeError(f"input tensor is {placeholder.name!r}, expected {TF_INPUT!r}")
    for role, tensor_name in TF_OUTPUTS.items():
        shape = graph.get_tensor_by_name(tensor_name).shape.as_list()
        if shape != [None, OUTPUT_WIDTHS[role]]:
            raise RuntimeError(f"{role} tensor {tensor_name} has shape {shape}, "
                               f"expected [None, {OUTPUT_WIDTHS[role]}]")


def _run_tf(session, placeholder, mel: np.ndarray) -> dict[str, np.ndarray]:
    """TensorFlow outputs for a batch of log-mel patches, keyed by ONNX output name."""
    fetches = [session.graph.get_tensor_by_name(TF_OUTPUTS[role]) for role in OUTPUT_NAMES]
    values = session.run(fetches, {placeholder: mel})
    return {role: np.asarray(value, dtype=np.float32) for role, value in zip(OUTPUT_NAMES, values)}


def _freeze(tf, session):
    """The graph with its variables folded into constants, pruned to the three outputs."""
    output_ops = [TF_OUTPUTS[role].split(":")[0] for role in OUTPUT_NAMES]
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        session, session.graph.as_graph_def(), output_ops)
    names = {node.name for node in frozen.node}
    missing = [op for op in [TF_INPUT.split(":")[0], *output_ops] if op not in names]
    if missing or any(node.op in ("VariableV2", "VarHandleOp") for node in frozen.node):
        raise RuntimeError(f"frozen graph is incomplete (missing {missing}) or still has variables")
    return frozen


def _to_onnx(tf2onnx, onnx, frozen, name: str):
    """Convert a frozen graph to an ONNX model with the public tensor names and dynamic axes."""
    renames = {TF_INPUT: INPUT_NAME, **{TF_OUTPUTS[role]: role for role in OUTPUT_NAMES}}
    with _stable_node_hash(tf2onnx):
        model, _ = tf2onnx.convert.from_graph_def(
            frozen, name=name, input_names=[TF_INPUT],
            output_names=[TF_OUTPUTS[role] for role in OUTPUT_NAMES],
            opset=OPSET, tensors_to_rename=renames)
    graph = model.graph
    graph.name = name
    inputs = [value.name for value in graph.input]
    outputs = [value.name for value in graph.output]
    if inputs != [INPUT_NAME] or outputs != list(OUTPUT_NAMES):
        raise RuntimeError(f"ONNX graph has inputs {inputs} and outputs {outputs}, "
                           f"expected [{INPUT_NAME!r}] and {list(OUTPUT_NAMES)}")
    # Name the dynamic axes (tf2onnx leaves numbered "unk__N" placeholders).
    _set_shape(graph.input[0], ["batch", "time", MEL_BANDS])
    for value in graph.output:
        _set_shape(value, ["batch", OUTPUT_WIDTHS[value.name]])
    model.doc_string = (
        f"MusiCNN {name} (PyPI musicnn 0.1.0, ISC licence, Copyright (c) Music Technology Group, "
        f"Universitat Pompeu Fabra 2019), converted by analysis/convert.py. Input '{INPUT_NAME}': "
        f"float32 log10(10000*mel+1) patches [batch, time ({PATCH_FRAMES}), {MEL_BANDS}]. "
        f"Outputs: 'tags' [batch, 50] probabilities, 'penultimate' and 'dense' [batch, 200].")
    del model.metadata_props[:]
    labels = model.metadata_props.add()
    labels.key, labels.value = "labels", ",".join(LABELS[name])
    _canonicalize(onnx, model)
    onnx.checker.check_model(model, full_check=True)
    return model


def _canonicalize(onnx, model) -> None:
    """Give the graph an order and names that depend only on its structure.

    tf2onnx numbers the nodes it creates ("Conv__173") in an order that varies
    from run to run, and when it merges equal constants it keeps one of their
    names at random; the node order varies with it. To make the output
    reproducible byte for byte, every node gets a structural key (a hash of its
    op, attributes and the keys of its inputs, constants hashed by value), the
    nodes are sorted topologically with ties broken by that key, and internal
    nodes, tensors and constants are renamed by position. The public input and
    output names are kept; opset imports no node uses (tf2onnx adds ai.onnx.ml)
    are dropped.
    """
    from onnx import numpy_helper

    graph = model.graph
    public = {value.name for value in graph.input} | {value.name for value in graph.output}
    constants = {tensor.name: tensor for tensor in graph.initializer}
    keys = {"": ""}
    for value in graph.input:
        keys[value.name] = "input:" + value.name
    for tensor_name, tensor in constants.items():
        array = numpy_helper.to_array(tensor)
        digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes())
        keys[tensor_name] = "const:" + digest.hexdigest()

    nodes = list(graph.node)  # in a valid topological order (the checker requires one)
    node_keys = []
    for node in nodes:
        digest = hashlib.sha256(f"{node.domain}/{node.op_type}".encode())
        for attribute in sorted(node.attribute, key=lambda a: a.name):
            digest.update(attribute.SerializeToString(deterministic=True))
        for tensor_name in node.input:
            digest.update(b"|" + keys[tensor_name].encode())
        key = digest.hexdigest()
        node_keys.append(key)
        for slot, tensor_name in enumerate(node.output):
            keys[tensor_name] = f"{key}:{slot}"

    # Kahn's algorithm, always taking the ready node with the smallest key.
    producers = {out: index for index, node in enumerate(nodes) for out in node.output if out}
    waiting = [len({producers[i] for i in node.input if i in producers}) for node in nodes]
    consumers: dict[int, set[int]] = {index: set() for index in range(len(nodes))}
    for index, node in enumerate(nodes):
        for tensor_name in node.input:
            if tensor_name in producers:
                consumers[producers[tensor_name]].add(index)
    ready = [(node_keys[i], i) for i in range(len(nodes)) if waiting[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, index = heapq.heappop(ready)
        order.append(index)
        for consumer in consumers[index]:
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, (node_keys[consumer], consumer))
    if len(order) != len(nodes):
        raise RuntimeError("the ONNX graph has a cycle")

    renamed = {}
    new_nodes = []
    constant_order = []
    for position, index in enumerate(order):
        node = onnx.NodeProto()
        node.CopyFrom(nodes[index])
        node.name = f"n{position:03d}_{node.op_type}"
        node.doc_string = ""
        attributes = sorted(node.attribute, key=lambda a: a.name)
        del node.attribute[:]
        node.attribute.extend(attributes)
        for slot, tensor_name in enumerate(node.input):
            if tensor_name in constants and tensor_name not in renamed:
                renamed[tensor_name] = f"{node.name}/in{slot}"
                constant_order.append(tensor_name)
            node.input[slot] = renamed.get(tensor_name, tensor_name)
        for slot, tensor_name in enumerate(node.output):
            if tensor_name and tensor_name not in public:
                renamed[tensor_name] = node.output[slot] = f"{node.name}:{slot}"
        new_nodes.append(node)
    if len(constant_order) != len(constants):
        raise RuntimeError("the ONNX graph has unused initializers")
    new_constants = []
    for tensor_name in constant_order:
        tensor = onnx.TensorProto()
        tensor.CopyFrom(constants[tensor_name])
        tensor.name = renamed[tensor_name]
        new_constants.append(tensor)
    del graph.node[:]
    graph.node.extend(new_nodes)
    del graph.initializer[:]
    graph.initializer.extend(new_constants)
    del graph.value_info[:]
    used_domains = {node.domain for node in graph.node}
    opsets = sorted((o for o in model.opset_import if o.domain in used_domains), key=lambda o: o.domain)
    kept = [onnx.OperatorSetIdProto(domain=o.domain, version=o.version) for o in opsets]
    del model.opset_import[:]
    model.opset_import.extend(kept)


@contextlib.contextmanager
def _stable_node_hash(tf2onnx):
    """Make tf2onnx's graph optimizers deterministic while converting.

    tf2onnx's transpose optimizer iterates over sets of its ``Node`` objects,
    whose default hash is their memory address, so the order in which it
    rewrites the graph (and the graph it ends with) changes from run to run.
    Hashing a node by its name (unique in a graph, and fixed for the life of a
    node) gives the same order every time. Restored afterwards.
    """
    node_class = tf2onnx.graph.Node
    saved = node_class.__dict__.get("__hash__")
    node_class.__hash__ = lambda node: zlib.crc32(node.name.encode("utf-8"))
    try:
        yield
    finally:
        if saved is None:
            del node_class.__hash__
        else:
            node_class.__hash__ = saved


def _set_shape(value_info, dims) -> None:
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for dim in dims:
        entry = shape.dim.add()
        if isinstance(dim, str):
            entry.dim_param = dim
        else:
            entry.dim_value = dim


def _run_onnx(onnxruntime, model_bytes: bytes, mel: np.ndarray) -> dict[str, np.ndarray]:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model_bytes, sess_options=options,
                                           providers=["CPUExecutionProvider"])
    values = session.run(list(OUTPUT_NAMES), {INPUT_NAME: mel})
    return dict(zip(OUTPUT_NAMES, values))


def _check_onnx(onnxruntime, model_bytes: bytes, expected: dict[str, np.ndarray],
                mel: np.ndarray, name: str) -> float:
    """Assert onnxruntime matches TensorFlow on ``mel``; return the largest absolute difference."""
    actual = _run_onnx(onnxruntime, model_bytes, mel)
    worst = 0.0
    for role in OUTPUT_NAMES:
        if actual[role].shape != expected[role].shape:
            raise RuntimeError(f"{name} {role}: ONNX shape {actual[role].shape}, "
                               f"TF shape {expected[role].shape}")
        diff = float(np.max(np.abs(actual[role] - expected[role])))
        if not diff <= 1e-4:
            raise RuntimeError(f"{name} {role}: ONNX differs from TensorFlow by {diff:.3g}")
        worst = max(worst, diff)
    return worst


def synthetic_signal(seconds: float, sr: int = SAMPLE_RATE, seed: int = GOLDEN_SEED) -> np.ndarray:
    """A deterministic music-like test signal, float32 mono at ``sr``.

    Harmonic tones (a melody and a bass line, with vibrato), a kick-like pulse
    at 120 BPM, hi-hat-like noise bursts and a few broadband noise bursts. Each
    3-second section has a different mix and level, from quiet tones alone to
    a loud full mix whose mel bins exceed the float16 range of the original
    front end.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr

    def tone_track(notes_hz, note_seconds, harmonics, vibrato_depth, vibrato_rate, level):
        note_index = np.minimum((t // note_seconds).astype(int), len(notes_hz) - 1)
        f0 = np.asarray(notes_hz, dtype=float)[note_index]
        f0 = f0 * (1.0 + vibrato_depth * np.sin(2 * np.pi * vibrato_rate * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        position = (t % note_seconds) / note_seconds
        envelope = np.minimum(1.0, position * 20.0) * np.exp(-1.5 * position)
        signal = sum(np.sin(k * phase) / k**1.2 for k in range(1, harmonics + 1))
        return level * envelope * signal

    a_minor = [220.0, 261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33]
    melody = rng.choice(a_minor, size=int(np.ceil(seconds / 0.25)) + 1)
    bass = rng.choice([55.0, 65.41, 73.42, 82.41, 98.0], size=int(np.ceil(seconds / 1.0)) + 1)
    tones = tone_track(melody, 0.25, 8, 0.006, 5.5, 0.25) + tone_track(bass, 1.0, 5, 0.002, 4.0, 0.35)

    kick = np.zeros(n)
    length = int(0.15 * sr)
    kt = np.arange(length) / sr
    sweep = 2 * np.pi * np.cumsum(45.0 + 75.0 * np.exp(-kt / 0.03)) / sr
    pulse = np.sin(sweep) * np.exp(-kt / 0.05)
    for start in range(0, n - length, int(0.5 * sr)):
        kick[start:start + length] += pulse

    hats = np.zeros(n)
    hat_length = int(0.05 * sr)
    hat_env = np.exp(-np.arange(hat_length) / (0.01 * sr))
    for start in range(int(0.25 * sr), n - hat_length, int(0.5 * sr)):
        hats[start:start + hat_length] += np.diff(rng.standard_normal(hat_length + 1)) * hat_env

    bursts = np.zeros(n)
    burst_length = int(0.3 * sr)
    for start in rng.integers(0, n - burst_length, size=int(seconds / 2)):
        bursts[start:start + burst_length] += rng.standard_normal(burst_length) * np.hanning(burst_length)

    section = np.minimum((t // 3.0).astype(int), 3)
    mixes = np.array([  # tones, kick, hats, bursts, overall gain; one row per 3-second section
        [1.0, 0.0, 0.0, 0.0, 0.1],
        [1.0, 0.8, 0.0, 0.0, 0.4],
        [0.8, 0.8, 0.15, 0.2, 0.5],
        [1.0, 1.0, 0.25, 0.3, 1.0],
    ])
    m = mixes[section]
    out = m[:, 4] * (m[:, 0] * tones + m[:, 1] * kick + m[:, 2] * hats + m[:, 3] * bursts)
    out = out / max(1.0, float(np.max(np.abs(out))) / 0.99)
    return out.astype(np.float32)


def log_mel(audio: np.ndarray) -> np.ndarray:
    """The documented front end: (frames, 96) float32 ``log10(10000 * mel + 1)``, computed in float32."""
    try:
        import librosa
    except ImportError as exc:
        raise BuildEnvironmentMissing(f"cannot import librosa: {exc}") from exc
    power = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP,
        n_mels=MEL_BANDS, fmin=0, fmax=8000, htk=False, norm="slaney", power=2.0,
        window="hann", center=True)
    mel = np.ascontiguousarray(power.T, dtype=np.float32)
    return np.log10(np.float32(10000.0) * mel + np.float32(1.0), dtype=np.float32)


def golden_mel() -> np.ndarray:
    """Four consecutive (187, 96) float32 log-mel patches of :func:`synthetic_signal`."""
    frames = GOLDEN_PATCHES * PATCH_FRAMES
    audio = synthetic_signal(frames * HOP / SAMPLE_RATE)
    mel = log_mel(audio)[:frames]
    return np.ascontiguousarray(mel.reshape(GOLDEN_PATCHES, PATCH_FRAMES, MEL_BANDS))


def _check_input() -> np.ndarray:
    """A small fixed log-mel-like batch (two patches, 250 frames: not the patch length on purpose)."""
    rng = np.random.default_rng(0)
    return rng.uniform(0.0, 4.0, size=(2, 250, MEL_BANDS)).astype(np.float32)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sums(directory: Path, names) -> Path:
    """Write ``SHA256SUMS`` (``sha256sum`` format, text mode) for ``names`` in ``directory``."""
    lines = [f"{sha256(directory / name)}  {name}\n" for name in sorted(names)]
    path = directory / SUMS_FILE
    path.write_text("".join(lines))
    return path


def write_license(directory: Path) -> Path:
    """Copy musicnn's ISC licence notice from the installed distribution, plus a provenance line."""
    dist = importlib.metadata.distribution("musicnn")
    text = None
    for file in dist.files or ():
        if file.name.upper().startswith("LICENSE"):
            text = file.read_text()
            break
    if not text:
        raise RuntimeError("the installed musicnn distribution has no LICENSE file")
    path = directory / LICENSE_FILE
    path.write_text(
        text.rstrip() + "\n\n"
        f"The files {', '.join(sorted(MODELS.values()))} in this directory are converted from the "
        f"checkpoints of musicnn {dist.version} (PyPI) by analysis/convert.py.\n")
    return path


def convert(out_dir: Path, golden_path: Path | None = None) -> dict[str, Path]:
    """Convert both models into ``out_dir``; with ``golden_path``, also write the test fixture."""
    tf, tf2onnx, onnx, onnxruntime, musicnn = _import_build_packages()
    tf.compat.v1.disable_eager_execution()
    out_dir.mkdir(parents=True, exist_ok=True)
    check_mel = _check_input()
    gold_mel = golden_mel() if golden_path is not None else None
    fixture = {"mel": gold_mel} if gold_mel is not None else {}
    written = {}
    for name, file_name in MODELS.items():
        started = time.perf_counter()
        session, placeholder = _build_session(tf, musicnn, name)
        try:
            expected = _run_tf(session, placeholder, check_mel)
            if gold_mel is not None:
                for role, value in _run_tf(session, placeholder, gold_mel).items():
                    fixture[f"{FIXTURE_PREFIX[name]}_{role}"] = value
            frozen = _freeze(tf, session)
        finally:
            session.close()
        model_bytes = _to_onnx(tf2onnx, onnx, frozen, name).SerializeToString()
        worst = _check_onnx(onnxruntime, model_bytes, expected, check_mel, name)
        if gold_mel is not None:
            prefix = FIXTURE_PREFIX[name]
            golden = {role: fixture[f"{prefix}_{role}"] for role in OUTPUT_NAMES}
            worst = max(worst, _check_onnx(onnxruntime, model_bytes, golden, gold_mel, name))
        path = out_dir / file_name
        path.write_bytes(model_bytes)
        written[name] = path
        print(f"{name}: wrote {path} ({len(model_bytes) / 1e6:.2f} MB, onnxruntime vs TensorFlow "
              f"max |diff| {worst:.2g}, {time.perf_counter() - started:.1f} s)")
    print(f"wrote {write_sums(out_dir, MODELS.values())}")
    print(f"wrote {write_license(out_dir)}")
    if golden_path is not None:
        golden_path.parent.mkdir(parents=True, exist_ok=True)
        with open(golden_path, "wb") as handle:
            np.savez_compressed(handle, **fixture)
        written["golden"] = golden_path
        print(f"wrote {golden_path} ({golden_path.stat().st_size / 1e3:.0f} kB)")
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.convert",
        description="Convert the MusiCNN checkpoints of PyPI musicnn 0.1.0 to ONNX (build time only).")
    parser.add_argument("--out", type=Path, default=MODELS_DIR,
                        help=f"output directory (default: {MODELS_DIR})")
    parser.add_argument("--golden", type=Path, default=None, metavar="PATH",
                        help="also write the golden test fixture (.npz) to PATH")
    args = parser.parse_args(argv)
    try:
        convert(args.out, args.golden)
    except BuildEnvironmentMissing as exc:
        print(f"error: {exc}\n\n{INSTALL_HINT}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
