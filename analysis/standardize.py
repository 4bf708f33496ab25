"""Library-level standardization of track vectors (z-score per dimension).

Raw vectors are stored; the mean and spread of each dimension over the
library are data, recomputed as the library changes, and applied before
cosine similarity (it improves retrieval: docs/QUALITY.md).  Some MusiCNN
dimensions are nearly constant across tracks (a dead ReLU followed by batch
norm); dividing by their tiny spread would blow noise up, so those keep a
scale of 1.
"""
from __future__ import annotations

import dataclasses

import numpy as np

_RELATIVE_FLOOR = 1e-6  # spreads below this share of the largest are treated as constant


@dataclasses.dataclass(frozen=True)
class Standardization:
    mean: np.ndarray   # float32, per dimension
    scale: np.ndarray  # float32, per dimension (1 where the spread is ~0)

    @classmethod
    def fit(cls, vectors: np.ndarray) -> "Standardization":
        """Per-dimension mean and spread of `vectors` (tracks x dimensions)."""
        data = np.asarray(vectors, dtype=np.float64)
        spread = data.std(axis=0)
        floor = _RELATIVE_FLOOR * max(float(spread.max(initial=0.0)), 1e-12)
        scale = np.where(spread > floor, spread, 1.0)
        return cls(data.mean(axis=0).astype(np.float32), scale.astype(np.float32))

    def apply(self, vectors: np.ndarray, normalize: bool = True) -> np.ndarray:
        """Standardized float32 vectors, L2-normalised when `normalize` (ready for cosine)."""
        out = (np.asarray(vectors, dtype=np.float32) - self.mean) / self.scale
        if normalize:
            norms = np.linalg.norm(out, axis=-1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        return out.astype(np.float32, copy=False)
