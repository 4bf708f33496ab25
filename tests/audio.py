"""Audio files for tests: synthetic music, tagged FLAC and WAV files written where a test wants them."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soundfile
from mutagen.flac import FLAC
from mutagen.id3 import TIT2, TPE1
from mutagen.wave import WAVE


def music(seconds: float, rate: int = 44100, channels: int = 1, bpm: float = 120.0) -> np.ndarray:
    """A chord with a kick on every beat: enough structure for every feature."""
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63))
    beat = (t % (60.0 / bpm)) < 0.03
    kick = 0.5 * np.sin(2 * np.pi * 60 * t) * beat
    mono = (tone + kick).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


def song(path: Path, album: str, title: str, bpm: float, seconds: float = 40) -> None:
    """A tagged FLAC of `music` by "Tester"; the track number is the title's last character."""
    rate = 22050
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, music(seconds, rate=rate, bpm=bpm), rate, format="FLAC")
    tags = FLAC(path)
    tags.update({"album": album, "title": title, "artist": "Tester", "tracknumber": title[-1]})
    tags.save()


def flac(path: Path, seconds: float = 1.0, **tags: str) -> Path:
    """A quiet FLAC (a constant 0.01) with these tags."""
    rate = 22050
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(int(rate * seconds), np.float32) + 0.01, rate, format="FLAC")
    if tags:
        audio = FLAC(path)
        for key, value in tags.items():
            audio[key] = value
        audio.save()
    return path


def write_wav(path: Path, seconds: float = 1.0, title: str | None = None, artist: str | None = None) -> None:
    """An 8 kHz mono WAV of a constant tone, ID3-tagged when a title is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))
    if title:
        audio = WAVE(path)
        audio.add_tags()
        audio.tags.add(TIT2(encoding=3, text=title))
        audio.tags.add(TPE1(encoding=3, text=artist))
        audio.save()
