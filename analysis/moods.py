"""Mood and character scores in 0-1, derived from tag probabilities.

The MusiCNN tag outputs are per-tag probabilities (one sigmoid, averaged over
patches; never a second sigmoid, which squeezed the reference system's moods
into 0.50-0.56).  Each mood combines the tags that describe it with a
weighted noisy-OR,

    evidence = 1 - prod_i (1 - w_i * p_i),

the probability that at least one of its descriptions applies when tag i
counts with weight w_i (0-1).  Tags that speak against the mood scale it down
by (1 - w_j * p_j), and tempo or energy scale it where they carry meaning:

- danceable: dance, House, electro, techno, beat(s), party ... x a tempo factor
  (1 inside 88-140 BPM, falling linearly to 0.5 at 60 and 200 BPM; 1 when the
  tempo is unknown) x (1 - 0.6 p(classical)).
- aggressive: metal, heavy metal, hard rock, punk, loud ... x (0.5 + 0.5 energy).
- happy: happy, catchy, party, dance, pop ... x (1 - 0.7 p(sad)).
- party: party, dance, House, Hip-Hop, catchy, electro ... x (0.6 + 0.4 energy).
- relaxed: chillout, chill, Mellow, easy listening, ambient, slow, soft, quiet ...
  x (1 - 0.8 aggressive evidence).
- sad: sad, Mellow, slow, quiet, beautiful ... x (1 - 0.7 p(happy)).
"""
from __future__ import annotations

import math
from typing import Mapping

MOODS = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")

# (vocabulary, tag) -> weight; vocabularies are "msd" and "mtt".
_EVIDENCE: dict[str, dict[tuple[str, str], float]] = {
    "danceable": {("msd", "dance"): 1.0, ("msd", "House"): 1.0, ("msd", "electro"): 0.8,
                  ("msd", "party"): 0.7, ("msd", "funk"): 0.6, ("msd", "electronica"): 0.4,
                  ("mtt", "dance"): 1.0, ("mtt", "techno"): 1.0, ("mtt", "beat"): 0.7, ("mtt", "beats"): 0.7},
    "aggressive": {("msd", "metal"): 1.0, ("msd", "heavy metal"): 1.0, ("msd", "hard rock"): 0.9,
                   ("msd", "punk"): 0.9, ("mtt", "metal"): 1.0, ("mtt", "loud"): 0.7, ("mtt", "rock"): 0.3},
    "happy": {("msd", "happy"): 1.0, ("msd", "catchy"): 0.7, ("msd", "party"): 0.6, ("msd", "dance"): 0.4,
              ("msd", "pop"): 0.4, ("msd", "funk"): 0.4, ("mtt", "pop"): 0.3},
    "party": {("msd", "party"): 1.0, ("msd", "dance"): 0.8, ("msd", "House"): 0.8, ("msd", "Hip-Hop"): 0.6,
              ("msd", "catchy"): 0.5, ("msd", "electro"): 0.6, ("mtt", "dance"): 0.8, ("mtt", "techno"): 0.6},
    "relaxed": {("msd", "chillout"): 1.0, ("msd", "chill"): 1.0, ("msd", "Mellow"): 0.9,
                ("msd", "easy listening"): 0.8, ("msd", "ambient"): 0.8, ("msd", "beautiful"): 0.5,
                ("msd", "acoustic"): 0.4, ("mtt", "slow"): 0.7, ("mtt", "soft"): 0.8, ("mtt", "quiet"): 0.8,
                ("mtt", "ambient"): 0.8, ("mtt", "new age"): 0.7},
    "sad": {("msd", "sad"): 1.0, ("msd", "Mellow"): 0.5, ("msd", "beautiful"): 0.3, ("mtt", "slow"): 0.4,
            ("mtt", "quiet"): 0.3, ("mtt", "soft"): 0.3},
}
_AGAINST: dict[str, dict[tuple[str, str], float]] = {
    "danceable": {("mtt", "classical"): 0.6},
    "happy": {("msd", "sad"): 0.7},
    "sad": {("msd", "happy"): 0.7},
}


def _noisy_or(weights: Mapping[tuple[str, str], float], tags: Mapping[tuple[str, str], float]) -> float:
    keep = 1.0
    for key, weight in weights.items():
        keep *= 1.0 - weight * tags.get(key, 0.0)
    return 1.0 - keep


def _tempo_factor(bpm: float | None) -> float:
    if bpm is None or not math.isfinite(bpm) or bpm <= 0:
        return 1.0
    if bpm < 88:
        return max(0.5, 1.0 - 0.5 * (88 - bpm) / 28)
    if bpm > 140:
        return max(0.5, 1.0 - 0.5 * (bpm - 140) / 60)
    return 1.0


def mood_scores(tags: Mapping[tuple[str, str], float], tempo_bpm: float | None,
                energy: float | None) -> dict[str, float]:
    """The six mood scores in 0-1.

    Parameters
    ----------
    tags : probability (0-1) per (vocabulary, label), vocabulary "msd" or "mtt".
    tempo_bpm : tempo in BPM, or None/nan when unknown.
    energy : loudness-based energy in 0-1, or None when unknown (treated as 0.5).
    """
    energy = 0.5 if energy is None or not math.isfinite(energy) else energy
    scores = {}
    for mood in MOODS:
        score = _noisy_or(_EVIDENCE[mood], tags)
        for key, weight in _AGAINST.get(mood, {}).items():
            score *= 1.0 - weight * tags.get(key, 0.0)
        scores[mood] = score
    scores["danceable"] *= _tempo_factor(tempo_bpm)
    scores["aggressive"] *= 0.5 + 0.5 * energy
    scores["party"] *= 0.6 + 0.4 * energy
    scores["relaxed"] *= 1.0 - 0.8 * _noisy_or(_EVIDENCE["aggressive"], tags)
    return {mood: round(min(1.0, max(0.0, value)), 4) for mood, value in scores.items()}
