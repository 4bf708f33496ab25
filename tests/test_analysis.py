"""Analysis of real files, odd ones included: features or a clear per-file error, never a crash."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from analysis import decode as decoding
from analysis.decode import DecodeError
from analysis.features import DEPTHS, analysis_version, analyze_file, plan_windows
from tests.audio import music
from tests.conftest import REPO

RATE = 44100


def ffmpeg_encode(source, target, *args):
    subprocess.run([decoding.ffmpeg_binary(), "-v", "error", "-y", "-i", str(source), *args, str(target)],
                   check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    made = {}

    def wav(name, seconds, rate=RATE, channels=1, **kw):
        made[name] = folder / name
        data = music(seconds, rate, channels) if seconds else np.zeros(0, np.float32)
        soundfile.write(made[name], data, rate, **kw)

    wav("stereo.wav", 40, channels=2)
    wav("mono.wav", 40)
    wav("surround.wav", 40, channels=6)
    wav("8k.wav", 40, rate=8000)
    wav("96k.wav", 40, rate=96000)
    wav("one_second.wav", 1)
    wav("track.flac", 200, channels=2)
    wav("track.aiff", 40, format="AIFF")
    wav("track.ogg", 40, format="OGG", subtype="VORBIS")
    wav("matlab.mat", 40, format="MAT5", subtype="FLOAT")  # libsndfile reads it, ffmpeg does not
    made["silent.wav"] = folder / "silent.wav"
    soundfile.write(made["silent.wav"], np.zeros(RATE * 20, np.float32), RATE)
    for name, codec in (("track.mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
                        ("track.m4a", ["-c:a", "aac", "-b:a", "128k"]),
                        ("track.opus", ["-c:a", "libopus", "-b:a", "64k"])):
        made[name] = folder / name
        ffmpeg_encode(made["stereo.wav"], made[name], *codec)
    made["empty.mp3"] = folder / "empty.mp3"
    made["empty.mp3"].write_bytes(b"")
    made["text.mp3"] = folder / "text.mp3"
    made["text.mp3"].write_text("this is a shopping list, not a song\n" * 50)
    made["corrupt.flac"] = folder / "corrupt.flac"
    made["corrupt.flac"].write_bytes(b"fLaC" + np.random.default_rng(1).bytes(20000))
    made["truncated.flac"] = folder / "truncated.flac"
    made["truncated.flac"].write_bytes(made["track.flac"].read_bytes()[:len(made["track.flac"].read_bytes()) // 3])
    made["truncated.mp3"] = folder / "truncated.mp3"
    made["truncated.mp3"].write_bytes(made["track.mp3"].read_bytes()[:40000])
    return made


def check_features(result, duration):
    assert result.duration == pytest.approx(duration, abs=0.5)
    assert result.vector.dtype == np.float32 and result.vector.shape == (400,)
    assert np.isfinite(result.vector).all() and np.isfinite(result.start_vector).all()
    assert result.msd_tags.shape == (50,) and 0 <= result.msd_tags.min() and result.msd_tags.max() <= 1
    assert set(result.moods) == {"danceable", "aggressive", "happy", "party", "relaxed", "sad"}
    assert all(0 <= v <= 1 for v in result.moods.values())
    assert 0 <= result.energy <= 1 and 0 <= result.start_energy <= 1 and 0 <= result.end_energy <= 1


@pytest.mark.parametrize("name, duration, decoder", [
    ("stereo.wav", 40, "libsndfile"), ("mono.wav", 40, "libsndfile"), ("surround.wav", 40, "libsndfile"),
    ("8k.wav", 40, "libsndfile"), ("96k.wav", 40, "libsndfile"), ("track.flac", 200, "libsndfile"),
    ("track.aiff", 40, "libsndfile"), ("track.ogg", 40, "libsndfile"), ("track.mp3", 40, "libsndfile"),
    ("track.m4a", 40, "ffmpeg"), ("track.opus", 40, "libsndfile"), ("matlab.mat", 40, "libsndfile"),
])
def test_formats_rates_and_layouts_give_features(files, name, duration, decoder):
    result = analyze_file(files[name])
    check_features(result, duration)
    assert result.decoder == decoder
    assert result.tempo_bpm == pytest.approx(120, rel=0.03)
    assert result.analysis_version == analysis_version("fast")


def test_ffmpeg_cannot_read_the_matlab_file_but_libsndfile_can(files):
    with pytest.raises(DecodeError, match="ffmpeg"):
        decoding._ffmpeg_pcm(files["matlab.mat"], None)
    assert decoding.decode(files["matlab.mat"]).decoder == "libsndfile"


def test_short_and_silent_files(files):
    short = analyze_file(files["one_second.wav"])
    check_features(short, 1.0)
    assert short.patches == 1  # repeat-padded to one patch
    silent = analyze_file(files["silent.wav"])
    assert silent.energy == 0.0 and silent.tempo_bpm is None and silent.key is None


@pytest.mark.parametrize("depth", ["fast", "full"])
def test_edge_energy_hears_a_fade_in(tmp_path, depth):
    """Playlist order joins songs by their first and last seconds: a track that fades in from near
    silence starts quieter than it ends, at an excerpt depth and when decoded whole."""
    audio = music(120.0, rate=16000) * np.linspace(0.02, 1.0, 120 * 16000, dtype=np.float32)
    soundfile.write(tmp_path / "fade.wav", audio, 16000)
    result = analyze_file(tmp_path / "fade.wav", depth)
    assert result.start_energy < result.energy < result.end_energy


@pytest.mark.parametrize("name, reason", [
    ("empty.mp3", "the file is empty"), ("text.mp3", "ffmpeg"), ("corrupt.flac", "libsndfile"),
])
def test_broken_files_give_a_clear_error(files, name, reason):
    with pytest.raises(DecodeError, match=reason):
        analyze_file(files[name])


@pytest.mark.parametrize("name", ["truncated.flac", "truncated.mp3"])
def test_truncated_files_give_features_or_a_clear_error(files, name):
    try:
        result = analyze_file(files[name])
    except DecodeError as error:
        assert str(error)
    else:
        assert np.isfinite(result.vector).all()


def test_excerpts_are_spread_over_the_whole_track():
    windows = plan_windows(200.0, DEPTHS["fast"])
    assert len(windows) == 5 and windows[0].start == 0
    assert windows[-1].start + windows[-1].duration == pytest.approx(200.0, abs=3.0)
    assert len(plan_windows(25.0, DEPTHS["fast"])) == 1  # short: whole track
    assert len(plan_windows(1800.0, DEPTHS["full"])) == 31  # 30 min in ~60 s blocks
    assert len(plan_windows(200.0, DEPTHS["balanced"])) == 6
    assert len({analysis_version(depth) for depth in DEPTHS}) == len(DEPTHS)


def test_start_and_end_vectors_differ_when_the_track_changes(tmp_path):
    first = music(100, bpm=90)
    second = np.random.default_rng(0).normal(0, 0.2, 100 * RATE).astype(np.float32)
    soundfile.write(tmp_path / "change.wav", np.concatenate([first, second]), RATE)
    result = analyze_file(tmp_path / "change.wav")

    def cosine(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cosine(result.start_vector, result.end_vector) < 0.95
    assert result.patches == 10


def test_thirty_minute_file_stays_within_the_memory_budget(tmp_path):
    long_file = tmp_path / "long.flac"
    with soundfile.SoundFile(long_file, "w", RATE, 2) as out:
        block = music(60, channels=2)
        for _ in range(30):
            out.write(block)
    measure = ("import resource, sys; from analysis.__main__ import main; code = main(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")
    for depth in ("fast", "full"):
        out = subprocess.run([sys.executable, "-c", measure, "analyze", "--depth", depth, str(long_file)],
                             cwd=REPO, capture_output=True, text=True, check=True,
                             env={**os.environ, "ANALYSIS_THREADS": "1"})
        assert json.loads(out.stdout)[0]["duration"] == pytest.approx(1800, abs=1)
        peak_mib = int(out.stderr.strip().splitlines()[-1]) / 1024
        assert peak_mib < 1024, f"{depth}: peak RSS {peak_mib:.0f} MiB"


def test_cli_prints_json_and_reports_failures(files):
    out = subprocess.run([sys.executable, "-m", "analysis", "analyze", str(files["mono.wav"]),
                          str(files["text.mp3"])], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 1
    results = json.loads(out.stdout)
    assert results[0]["tempo_bpm"] == pytest.approx(120, rel=0.03) and len(results[0]["msd_tags"]) == 10
    assert results[1]["error"].startswith("cannot decode: ")


def test_standardization_guards_constant_dimensions():
    from analysis.standardize import Standardization
    rng = np.random.default_rng(3)
    vectors = rng.normal(5.0, 2.0, (50, 4)).astype(np.float32)
    vectors[:, 1] = 0.7  # a dead unit: the same value for every track
    fitted = Standardization.fit(vectors)
    assert fitted.scale[1] == 1.0
    out = fitted.apply(vectors)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5) and np.isfinite(out).all()
    assert np.allclose(fitted.apply(vectors, normalize=False)[:, 0].std(), 1.0, atol=1e-4)


def test_session_options_are_one_thread_per_worker_without_an_arena(monkeypatch):
    import onnxruntime
    from analysis import musicnn
    monkeypatch.setenv("ANALYSIS_THREADS", "2")
    options = musicnn.session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 1)
    assert not options.enable_cpu_mem_arena
    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert options.execution_mode == onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    monkeypatch.delenv("ANALYSIS_THREADS")
    assert musicnn.session_options().intra_op_num_threads == 1
