"""int8 MusiCNN models and onnxruntime settings against today's float sessions, on real patches.

    PYTHONPATH=ONNX_DIR python bench/quantized_models.py CORPUS [--cache DIR] [--out DIR]
        [--calibration-every 5] [--variants dynamic-matmul ...] [--limit N]
        [--settings-patches 150] [--block 10]

onnxruntime.quantization needs the `onnx` package, which only the build-time
requirements have (requirements-build.txt); `pip install --target ONNX_DIR
--no-deps onnx==1.23.2 ml_dtypes` keeps it out of the runtime venv.

The patches are the dev corpus's, at the default depth, from
bench/vector_levers.py's cache (run it first).  Every --calibration-every-th
track is the calibration set for static quantization; the others are the
evaluation set.  Quantized models are written to --out (never to
analysis/models):

- dynamic-matmul: dynamic int8, MatMul/Gemm only (the dense layers);
- dynamic-all: dynamic int8 of every op onnxruntime supports (convolutions
  become ConvInteger);
- static-qdq: static QDQ int8, per-channel weights, int8 activations
  calibrated (MinMax) on the calibration patches;
- static-qdq-u8s8: the same with uint8 activations (the x86 kernels'
  preferred pairing);
- static-qdq-conv: static-qdq of the convolutions and dense layers only
  (batch norms, pooling and the rest stay float);
- openvino-bf16: the float model on OpenVINO in bfloat16, as the analysis
  runs it where the CPU has bfloat16;
- openvino-int8-conv: static-qdq-conv's file on OpenVINO, which runs its
  quantized convolutions in int8 (VNNI) and the rest in bfloat16.

"float" (the reference every variant is compared with) is onnxruntime's float32.

For each model and variant, on the evaluation patches: Pearson correlation
of the tag probabilities with the float model's and their largest absolute
difference (per patch and for the track means); the correlation of each
track's pooled vector with the float one (mean and lowest); leave-one-out
P@10 of the pooled vectors among the evaluation tracks (bench/quality.py's
`scores`), float and int8 on the same tracks; and the time per patch.

Timing: every block of --block consecutive patches (10: one fast-depth
track) runs through every variant in turn, the order rotated from block to
block, one thread, one patch per call (as the workers run), so a busy machine
slows all variants alike; report ratios to float, not absolute times.  Blocks
of 1 (every patch through every session in turn) favoured the BASIC graph
level by 15-20%, blocks of 10 reversed it: keep the block a track's worth.
Then the float model under other session settings (graph optimisation level,
intra-op threads, execution mode) is timed the same way against today's
settings (`analysis.musicnn.session_options`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import features, musicnn  # noqa: E402
from analysis.labels import INPUT_NAME, MODEL_FILES, MODELS_DIR, OUTPUT_NAMES  # noqa: E402
from bench.quality import scores  # noqa: E402
from bench.vector_levers import load_corpus  # noqa: E402

MODELS = ("msd", "mtt")
VARIANTS = ("float", "dynamic-matmul", "dynamic-all", "static-qdq", "static-qdq-u8s8", "static-qdq-conv",
            "openvino-bf16", "openvino-int8-conv")
# Variants run by OpenVINO (bfloat16 where an op stays float): the float model as the analysis runs it
# where the CPU has bfloat16, and static-qdq-conv's file, whose int8 convolutions OpenVINO runs as such.
OPENVINO_FILES = {"openvino-bf16": "float", "openvino-int8-conv": "static-qdq-conv"}


class PatchReader:
    """Feeds calibration patches one at a time (onnxruntime's CalibrationDataReader protocol)."""

    def __init__(self, patches: np.ndarray):
        self._rows = iter(patches.astype(np.float32))

    def get_next(self) -> dict[str, np.ndarray] | None:
        row = next(self._rows, None)
        return None if row is None else {INPUT_NAME: row[None]}


def quantize(model: str, variant: str, calibration: np.ndarray, out: Path) -> Path:
    """Write `model` quantized as `variant` into `out`; the file's path (the float file for "float")."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    original = MODELS_DIR / MODEL_FILES[model]
    if variant == "float":
        return original
    target = out / f"{original.stem}.{variant}.onnx"
    if target.exists():
        return target
    # onnxruntime's recommended pre-processing: shapes inferred, batch norms folded into the convolutions.
    source = out / f"{original.stem}.preprocessed.onnx"
    if not source.exists():
        quant_pre_process(str(original), str(source), skip_symbolic_shape=True)
    if variant == "dynamic-matmul":
        quantize_dynamic(source, target, op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8)
    elif variant == "dynamic-all":
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
    elif variant.startswith("static-qdq"):
        activations = QuantType.QUInt8 if variant == "static-qdq-u8s8" else QuantType.QInt8
        only = {"op_types_to_quantize": ["Conv", "MatMul", "Gemm"]} if variant == "static-qdq-conv" else {}
        quantize_static(source, target, PatchReader(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=activations, weight_type=QuantType.QInt8, **only)
    else:
        raise ValueError(variant)
    return target


class OpenVinoSession:
    """A model compiled by OpenVINO as analysis.musicnn compiles it (bfloat16 hint, one thread,
    one patch per call), behind onnxruntime's `run(output names, feeds)`."""

    def __init__(self, path: Path):
        openvino = musicnn._import_openvino()
        core = openvino.Core()
        model = core.read_model(str(path))
        model.reshape({INPUT_NAME: [1, 187, 96]})
        self._compiled = core.compile_model(model, "CPU", {**musicnn.openvino_config(), "INFERENCE_NUM_THREADS": 1})
        self._request = self._compiled.create_infer_request()

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        results = self._request.infer({0: feeds[INPUT_NAME]})
        return [np.array(results[self._compiled.output(name)]) for name in names]


def open_variant(model: str, variant: str, calibration: np.ndarray, out: Path):
    """A session of `model` as `variant`: onnxruntime for the quantized files, OpenVINO for its own."""
    if variant in OPENVINO_FILES:
        return OpenVinoSession(quantize(model, OPENVINO_FILES[variant], calibration, out))
    return open_session(quantize(model, variant, calibration, out))


def open_session(path: Path, adjust: Callable[[onnxruntime.SessionOptions], None] | None = None
                 ) -> onnxruntime.InferenceSession:
    """An inference session on `path` with today's settings, changed by `adjust` if given."""
    options = musicnn.session_options()
    options.intra_op_num_threads = 1
    if adjust:
        adjust(options)
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def run_interleaved(sessions: dict[str, onnxruntime.InferenceSession], patches: np.ndarray, block: int
                    ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Every block of `block` consecutive patches through every session in turn (order rotated per
    block), one patch per call, as a worker runs a track's patches.

    Returns
    -------
    outputs : per session, OUTPUT_NAMES -> (patches, width) float32.
    seconds : per session, the wall time of each patch (s).
    """
    names = list(sessions)
    outputs = {n: {o: [] for o in OUTPUT_NAMES} for n in names}
    seconds = {n: [] for n in names}
    patches = patches.astype(np.float32)
    for index, start in enumerate(range(0, len(patches), block)):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            for patch in patches[start:start + block]:
                started = time.perf_counter()
                values = sessions[name].run(list(OUTPUT_NAMES), {INPUT_NAME: patch[None]})
                seconds[name].append(time.perf_counter() - started)
                for output, value in zip(OUTPUT_NAMES, values):
                    outputs[name][output].append(value[0])
    return ({n: {o: np.stack(v) for o, v in per.items()} for n, per in outputs.items()},
            {n: np.array(v) for n, v in seconds.items()})


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def compare_variants(groups: list[str], levers: list[dict[str, np.ndarray]], variants: list[str], every: int,
                     out: Path, block: int) -> None:
    """Part 1: quantized models against float on the evaluation patches, interleaved in blocks of `block`."""
    calibration_tracks = [i for i in range(len(levers)) if i % every == 0]
    evaluation = [i for i in range(len(levers)) if i % every != 0]
    calibration = np.concatenate([levers[i]["mel"] for i in calibration_tracks])
    patches = np.concatenate([levers[i]["mel"] for i in evaluation])
    bounds = np.cumsum([0] + [len(levers[i]["mel"]) for i in evaluation])
    labels = [groups[i] for i in evaluation]
    print(f"calibration: {len(calibration)} patches of {len(calibration_tracks)} tracks; evaluation: "
          f"{len(patches)} patches of {len(evaluation)} tracks")
    pooled: dict[str, list[np.ndarray]] = {v: [] for v in variants}
    print("\n| model | variant | ms per patch (median) | time vs float | tags r | tags max abs diff (patch / track) "
          "| vector r, track mean / lowest |\n|---|---|---|---|---|---|---|")
    for model in MODELS:
        sessions = {v: open_variant(model, v, calibration, out) for v in variants}
        outputs, seconds = run_interleaved(sessions, patches, block)
        layer = dict(features.VECTOR_LAYERS)[model]
        for variant in variants:
            got, ref = outputs[variant], outputs["float"]
            track_tags = [got["tags"][a:b].mean(0) - ref["tags"][a:b].mean(0) for a, b in zip(bounds, bounds[1:])]
            vectors = [got[layer][a:b].mean(0) for a, b in zip(bounds, bounds[1:])]
            pooled[variant].append(np.stack(vectors))
            vector_r = [correlation(v, ref[layer][a:b].mean(0)) for v, a, b in zip(vectors, bounds, bounds[1:])]
            print(f"| {model} | {variant} | {np.median(seconds[variant]) * 1000:.1f} | "
                  f"{np.median(seconds[variant] / seconds['float']):.2f}× | "
                  f"{correlation(got['tags'], ref['tags']):.4f} | {np.abs(got['tags'] - ref['tags']).max():.3f} / {np.abs(track_tags).max():.3f} | "
                  f"{np.mean(vector_r):.4f} / {np.min(vector_r):.4f} |", flush=True)
    print(f"\n| variant | P@10 | MAP | 1-NN | ({len(evaluation)} evaluation tracks, {features.VECTOR_MODEL}, "
          "standardized cosine) |\n|---|---|---|---|---|")
    for variant in variants:
        result = scores(np.hstack(pooled[variant]), labels, True)
        print(f"| {variant} | {result['p10']:.3f} | {result['map']:.3f} | {result['nn1']:.3f} | |")


SETTINGS: dict[str, Callable[[onnxruntime.SessionOptions], None] | None] = {
    "today (ORT_ENABLE_ALL, 1 thread, sequential)": None,
    "ORT_ENABLE_EXTENDED": lambda o: setattr(o, "graph_optimization_level",
                                             onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
    "ORT_ENABLE_BASIC": lambda o: setattr(o, "graph_optimization_level",
                                          onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC),
    "intra_op threads 2": lambda o: setattr(o, "intra_op_num_threads", 2),
    "ORT_PARALLEL execution, 2 inter-op threads": lambda o: (
        setattr(o, "execution_mode", onnxruntime.ExecutionMode.ORT_PARALLEL), setattr(o, "inter_op_num_threads", 2)),
    "memory arena on": lambda o: setattr(o, "enable_cpu_mem_arena", True),
}


def compare_settings(levers: list[dict[str, np.ndarray]], count: int, block: int) -> None:
    """Part 2: the float models under other session settings, interleaved with today's in blocks of
    `block` patches."""
    patches = np.concatenate([track["mel"] for track in levers])
    patches = patches[np.linspace(0, len(patches) - 1, count).round().astype(int)]
    print(f"\n| model | session settings | ms per patch (median) | time vs today | largest abs diff of any output "
          f"| ({count} patches, blocks of {block}) |\n|---|---|---|---|---|---|")
    for model in MODELS:
        sessions = {name: open_session(MODELS_DIR / MODEL_FILES[model], adjust) for name, adjust in SETTINGS.items()}
        outputs, seconds = run_interleaved(sessions, patches, block)
        today = next(iter(SETTINGS))
        for name, values in seconds.items():
            drift = max(float(np.abs(outputs[name][o] - outputs[today][o]).max()) for o in OUTPUT_NAMES)
            print(f"| {model} | {name} | {np.median(values) * 1000:.1f} | {np.median(values / seconds[today]):.2f}× "
                  f"| {drift:.1e} | |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".cache/quality"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/sonarium-int8"), help="where quantized models go")
    parser.add_argument("--calibration-every", type=int, default=5, metavar="K",
                        help="every K-th track calibrates, the rest evaluate")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--limit", type=int, default=0, help="only N tracks spread over the corpus (0: all)")
    parser.add_argument("--settings-patches", type=int, default=150, help="patches timed per setting (0: skip)")
    parser.add_argument("--block", type=int, default=10, metavar="B",
                        help="consecutive patches per session before the next one runs (10: a fast-depth track)")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    groups, levers = load_corpus(options.corpus.resolve(), options.cache, features.DEFAULT_DEPTH)
    if options.limit:
        kept = np.linspace(0, len(levers) - 1, options.limit).round().astype(int)
        groups, levers = [groups[i] for i in kept], [levers[i] for i in kept]
    variants = ["float", *[v for v in options.variants if v != "float"]]
    if len(variants) > 1:
        compare_variants(groups, levers, variants, options.calibration_every, options.out, options.block)
    if options.settings_patches:
        compare_settings(levers, options.settings_patches, options.block)


if __name__ == "__main__":
    main()
