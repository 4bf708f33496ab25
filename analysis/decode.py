"""Decoding audio files to mono float32 at 16 kHz, whole or as excerpts.

Two decoders, each the other's fallback: libsndfile (via soundfile; seeks
exactly, reads Ogg streams that ffmpeg 5.1 rejects) and an ffmpeg pipe
(m4a/aac/wma and anything libsndfile cannot open).  Formats libsndfile does
not read go to ffmpeg first.  The ffmpeg binary is the one bundled by PyPI
imageio-ffmpeg (a recent static build), so a machine with only Python
decodes m4a too.
"""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Sequence

import mutagen
import numpy as np
import soundfile
import soxr

SAMPLE_RATE = 16000  # Hz, what MusiCNN was trained on
AUDIO_EXTENSIONS = frozenset({".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".alac",
                              ".wav", ".aif", ".aiff", ".wma", ".wv", ".ape", ".mpc", ".webm", ".mka"})
_FFMPEG_FIRST = frozenset({".m4a", ".mp4", ".aac", ".alac", ".wma", ".ape", ".wv", ".mpc", ".webm", ".mka"})
_FFMPEG_TIMEOUT = 300.0  # s; a hung decoder must not hold a worker forever
_MAX_ERROR_CHARS = 300


# What a user is told when the decoders' own words are not for them (ffmpeg's
# "[out#0/f32le @ 0x55ed...]", libsndfile's "unimplemented format").
UNREADABLE = "the file is damaged or not in an audio format Sonarium can read"


class DecodeError(Exception):
    """The file could not be decoded.

    `str(error)` is the decoders' own text, for the log; `reason` is one plain
    sentence for the user (the same text when ours is plain already).
    """

    def __init__(self, detail: str, reason: str | None = None):
        super().__init__(detail)
        self.reason = reason or detail


@dataclasses.dataclass(frozen=True)
class Window:
    """A stretch of a track to decode: start and duration in seconds."""

    start: float
    duration: float


@dataclasses.dataclass(frozen=True)
class Decoded:
    """Mono float32 excerpts at SAMPLE_RATE, with what was learned about the file.

    `segments[i]` is the audio of `windows[i]` (shorter if the file ended early).
    """

    segments: list[np.ndarray]
    windows: list[Window]
    duration: float      # s, of the whole file
    sample_rate: int     # Hz, of the file
    channels: int
    decoder: str         # "libsndfile" or "ffmpeg"


def ffmpeg_binary() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _mono(frames: np.ndarray) -> np.ndarray:
    if frames.ndim == 2:
        # Channel by channel: numpy's mean over the short second axis is ~20 times
        # slower (8 ms for 6 s of stereo, 40 ms a track at the default depth).
        mono = frames[:, 0].astype(np.float32)
        for channel in range(1, frames.shape[1]):
            mono += frames[:, channel]
        mono *= np.float32(1.0 / frames.shape[1])
    else:
        mono = frames.astype(np.float32)
    return np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0, copy=False)


def _to_target_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE or mono.size == 0:
        return np.ascontiguousarray(mono, dtype=np.float32)
    return soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)


def _with_libsndfile(path: Path, windows: Sequence[Window] | None) -> Decoded:
    with soundfile.SoundFile(str(path)) as audio:
        rate, channels, total = audio.samplerate, audio.channels, audio.frames
        if total <= 0:
            raise DecodeError("the file holds no audio frames")
        duration = total / rate
        windows = list(windows) if windows is not None else [Window(0.0, duration)]
        segments = []
        for window in windows:
            start = min(int(window.start * rate), total)
            audio.seek(start)
            frames = audio.read(min(int(round(window.duration * rate)), total - start),
                                dtype="float32", always_2d=True)
            segments.append(_to_target_rate(_mono(frames), rate))
    return Decoded(segments, windows, duration, rate, channels, "libsndfile")


def _probe_with_mutagen(path: Path) -> tuple[float, int, int]:
    """(duration s, sample rate Hz, channels) from the container, without decoding."""
    try:
        info = mutagen.File(str(path)).info
        return float(info.length), int(getattr(info, "sample_rate", 0) or 0), int(getattr(info, "channels", 0) or 0)
    except Exception:  # mutagen raises many types for files it cannot parse
        return 0.0, 0, 0


def _ffmpeg_pcm(path: Path, window: Window | None) -> np.ndarray:
    command = [ffmpeg_binary(), "-nostdin", "-v", "error"]
    if window is not None:
        command += ["-ss", f"{window.start:.3f}", "-t", f"{window.duration:.3f}"]
    command += ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(SAMPLE_RATE),
                "-f", "f32le", "-"]
    try:
        result = subprocess.run(command, capture_output=True, timeout=_FFMPEG_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise DecodeError(f"ffmpeg took longer than {_FFMPEG_TIMEOUT:.0f} s") from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise DecodeError("ffmpeg: " + (message[-1] if message else f"exit code {result.returncode}"), UNREADABLE)
    return np.nan_to_num(np.frombuffer(result.stdout, dtype="<f4").copy(), nan=0.0, posinf=0.0, neginf=0.0)


def _with_ffmpeg(path: Path, windows: Sequence[Window] | None) -> Decoded:
    duration, rate, channels = _probe_with_mutagen(path)
    if windows is None or duration <= 0:
        # Unknown length: decode everything once, then cut the windows out of it.
        whole = _ffmpeg_pcm(path, None)
        if whole.size == 0:
            raise DecodeError("ffmpeg decoded no audio")
        duration = duration or whole.size / SAMPLE_RATE
        if windows is None:
            return Decoded([whole], [Window(0.0, duration)], duration, rate, channels, "ffmpeg")
        segments = [whole[int(w.start * SAMPLE_RATE):int((w.start + w.duration) * SAMPLE_RATE)] for w in windows]
    else:
        segments = [_ffmpeg_pcm(path, window) for window in windows]
    if not any(segment.size for segment in segments):
        raise DecodeError("ffmpeg decoded no audio")
    return Decoded(segments, list(windows), duration, rate, channels, "ffmpeg")


def probe_duration(path: Path) -> float:
    """Duration in seconds, read from the header (0.0 when unknown)."""
    try:
        info = soundfile.info(str(path))
        if info.frames > 0:
            return info.frames / info.samplerate
    except (RuntimeError, soundfile.LibsndfileError):
        pass
    return _probe_with_mutagen(path)[0]


def decode(path: str | Path, windows: Sequence[Window] | None = None) -> Decoded:
    """Decode `path` (whole file when `windows` is None) to mono float32 at 16 kHz.

    Parameters
    ----------
    path : file to read.
    windows : stretches to decode, in seconds; those past the end come back
        shorter or empty.

    Raises
    ------
    DecodeError
        When neither decoder can read the file; the message gives both
        decoders' reasons, `reason` the one to show a user.
    """
    path = Path(path)
    if not path.is_file():
        raise DecodeError("no such file")
    if path.stat().st_size == 0:
        raise DecodeError("the file is empty (0 bytes)")
    decoders = [_with_libsndfile, _with_ffmpeg]
    if path.suffix.lower() in _FFMPEG_FIRST:
        decoders.reverse()
    failures: list[DecodeError] = []
    for decoder in decoders:
        try:
            decoded = decoder(path, windows)
        except DecodeError as error:
            failures.append(error)
            continue
        except (RuntimeError, soundfile.LibsndfileError, OSError, ValueError) as error:
            failures.append(DecodeError(f"libsndfile: {error}", UNREADABLE))
            continue
        if sum(segment.size for segment in decoded.segments) == 0:
            failures.append(DecodeError(f"{decoded.decoder}: no audio in the requested stretch",
                                        "no audio where the track should have some"))
            continue
        return decoded
    # One reason for the user: a decoder's specific one ("no audio frames") says
    # more than the other's bare "cannot read it".
    reason = next((f.reason for f in failures if f.reason != UNREADABLE), UNREADABLE)
    raise DecodeError("; ".join(str(f)[:_MAX_ERROR_CHARS] for f in failures), reason)
