"""The music map's data: every analysed track's 2-D position, stored as a versioned blob.

A `Projection` is what the map task (tasks/map.py) computes on a worker and
what the web process serves (app_map.py): track ids and their (x, y), plus how
they were made.  It is stored through the blob store under BLOB_NAME, each
save a new version; `LiveProjection` holds the newest one in the web process
and picks up new versions the way similarity.live.LiveIndex does, so a map
refit or newly placed tracks appear without a restart.

Positions mean nothing on their own: only closeness does (close points sound
alike).  The axes have no units.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import threading
from typing import Any, Callable

import numpy as np

from db import blobs
from db.features import _ReadOnlyView

log = logging.getLogger(__name__)

BLOB_NAME = "map_projection"
FORMAT = 1
NO_MAP = "no music map yet: it is drawn after the library analysis (or start the map task)"


@dataclasses.dataclass
class Projection:
    """Every mapped track's position.

    ids : int64 (n,), track ids, ascending
    xy : float32 (n, 2), positions (unitless; only distances between points mean anything)
    meta : how the map was made, JSON-safe: "method" ("umap" | "pca"), "seed", "fitted_tracks"
        (tracks in the last full fit), "placed_tracks" (placed since among their neighbours), "neighbours_kept"
        (share of each track's 10 index neighbours among its 10 nearest map points, or None), "index_version"
        (the similarity index version it was made from)
    version : the blob version it was loaded from (0 before it is stored)
    """

    ids: np.ndarray
    xy: np.ndarray
    meta: dict[str, Any]
    version: int = 0

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self.xy = np.asarray(self.xy, dtype=np.float32).reshape(len(self.ids), 2)

    @property
    def size(self) -> int:
        return len(self.ids)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, format=np.array(FORMAT), ids=self.ids, xy=self.xy)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray, meta: dict[str, Any], version: int) -> "Projection":
        """Raises ValueError for a projection of another format."""
        with np.load(io.BufferedReader(_ReadOnlyView(data)), allow_pickle=False) as stored:
            if int(stored["format"]) != FORMAT:
                raise ValueError(f"map projection of format {int(stored['format'])}, expected {FORMAT}")
            return cls(stored["ids"], stored["xy"], dict(meta), version)


def save(projection: Projection) -> int:
    """Store `projection` as the next version; returns it (and sets projection.version)."""
    projection.version = blobs.store_blob(BLOB_NAME, io.BytesIO(projection.to_bytes()), meta=projection.meta)
    return projection.version


def load(version: int | None = None) -> Projection | None:
    """The newest stored projection (or `version`); None when there is none."""
    found = blobs.load_blob(BLOB_NAME, version)
    if found is None:
        return None
    info, data = found
    return Projection.from_bytes(data, info["meta"], info["version"])


class LiveProjection:
    """The newest projection, held by the web process; `refresh()` loads a newer stored version."""

    def __init__(self):
        self._current: Projection | None = None
        self._error: str | None = None
        self._lock = threading.Lock()
        self._on_load: Callable[[Projection], None] | None = None

    @property
    def current(self) -> Projection | None:
        return self._current

    def refresh(self) -> bool:
        """Load the newest stored version if it is not the one held; True if it changed."""
        with self._lock:
            try:
                info = blobs.latest_blob_info(BLOB_NAME)
                held = self._current.version if self._current else None
                if info is None or info["version"] == held:
                    self._error = None
                    return False
                self._current = load(info["version"])
                self._announce(self._current)
                self._error = None
                log.info("music map v%s loaded (%s tracks)", info["version"], self._current.size)
                return True
            except Exception as error:  # keep serving the old map; report the problem in health
                self._error = f"{type(error).__name__}: {error}"[:300]
                log.warning("map reload failed: %s", self._error)
                return False

    def on_load(self, callback: Callable[[Projection], None]) -> None:
        """Call `callback` with each projection loaded from now on, and the one held, each on a thread
        of its own (app_map builds its answers before any request asks)."""
        self._on_load = callback
        self._announce(self._current)

    def _announce(self, projection: Projection | None) -> None:
        if self._on_load is not None and projection is not None:
            threading.Thread(target=self._loaded, args=(self._on_load, projection), name="map-loaded",
                             daemon=True).start()

    @staticmethod
    def _loaded(callback: Callable[[Projection], None], projection: Projection) -> None:
        try:
            callback(projection)
        except Exception as error:   # a warm-up is a convenience: the first request builds it instead
            log.warning("map v%s warm-up failed: %s", projection.version, error)

    def status(self) -> dict[str, Any]:
        current = self._current
        report: dict[str, Any] = {"ok": self._error is None, "loaded": current is not None}
        if current is not None:
            report.update(version=current.version, size=current.size, method=current.meta.get("method"))
        else:
            report["reason"] = NO_MAP
        if self._error:
            report["error"] = self._error
        return report
