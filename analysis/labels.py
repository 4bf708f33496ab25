"""Facts about the MusiCNN models: tag labels, file names, tensor names, input shape.

This module is the one place for them: :mod:`analysis.convert` (build time)
and the runtime inference code both read these constants, so the ONNX files,
the label order and the patch geometry cannot drift apart.

The label order is the order of the models' 50 outputs (as in
``musicnn.configuration`` of PyPI musicnn 0.1.0); it matters, index ``i`` of a
``tags`` row is the probability of ``*_LABELS[i]``.
"""
from __future__ import annotations

from pathlib import Path

#: Tags of the model trained on the Million Song Dataset (last.fm tags), in output order.
MSD_LABELS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
    "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
    "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
    "sad", "House", "happy",
)

#: Tags of the model trained on MagnaTagATune, in output order.
MTT_LABELS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird",
    "country", "metal", "female voice", "choral",
)

#: ONNX file of each model, inside :data:`MODELS_DIR`.
MODEL_FILES: dict[str, str] = {"msd": "MSD_musicnn.onnx", "mtt": "MTT_musicnn.onnx"}

#: The one input of both ONNX graphs: float32 log-mel patches, shape [batch, time, 96].
INPUT_NAME = "mel"

#: The outputs of both ONNX graphs, in this order:
#: ``tags`` (sigmoid probabilities, [batch, 50]), ``penultimate`` (batch norm after the
#: 200-unit dense layer and its ReLU, [batch, 200]) and ``dense`` (the same 200-unit
#: layer before its ReLU, [batch, 200]).
OUTPUT_NAMES: tuple[str, ...] = ("tags", "penultimate", "dense")

#: Frames per patch the models were trained on (187 hops of 256 samples at 16 kHz, ~3 s).
PATCH_FRAMES = 187

#: Mel bands per frame.
MEL_BANDS = 96

#: Where the committed ONNX files, their SHA256SUMS and the musicnn licence live.
MODELS_DIR: Path = Path(__file__).resolve().parent / "models"

#: A tag probability at or above this counts as the track having the tag (the chat's conditions,
#: playlist exclusions, the tags a song is said to share); at or below TAG_ABSENT, as not having it.
TAG_PRESENT = 0.3
TAG_ABSENT = 0.2
