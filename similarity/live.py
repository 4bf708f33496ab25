"""The index as the web process holds it: loaded at start, replaced when a new version is stored.

A background thread compares the newest stored version with the loaded one
every INDEX_RELOAD_SECONDS and loads a newer one beside the current, with
the names of the tracks it holds (catalog.Names); the swap is a single
reference assignment, so queries during a reload keep using the old index and
never wait.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Sequence

from config import ConfigError
from db import blobs
from similarity import catalog, exclusions
from similarity import index as track_index

log = logging.getLogger(__name__)

NO_INDEX = "no similarity index yet: run the library analysis"


class NoIndex(LookupError):
    """No index is loaded (nothing analysed yet); the web app answers 503."""


class LiveIndex:
    def __init__(self):
        self._current: track_index.TrackIndex | None = None
        self._rules: exclusions.Rules | None = None       # the rules `_current.excluded` answers
        self._error: str | None = None
        self._refresh_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def current(self) -> track_index.TrackIndex | None:
        return self._current

    def require(self) -> track_index.TrackIndex:
        """The loaded index; NoIndex when there is none yet."""
        current = self._current
        if current is None:
            raise NoIndex(NO_INDEX)
        return current

    def refresh(self) -> bool:
        """Load the newest stored version if it is not the one held; True if it changed."""
        with self._refresh_lock:
            try:
                info = blobs.latest_blob_info(track_index.INDEX_NAME)
                held = self._current.version if self._current else None
                if info is None or info["version"] == held:
                    self._exclude(self._current, reload=False)
                    self._error = None
                    return False
                fresh = track_index.load()
                if fresh is not None:
                    fresh.names = catalog.Names.load([int(i) for i in fresh.index.ids])
                    self._exclude(fresh, reload=True)
                self._current = fresh
                self._error = None
                log.info("similarity index v%s loaded (%s tracks)", fresh.version if fresh else None,
                         fresh.size if fresh else 0)
                return True
            except Exception as error:  # keep serving the old index; report the problem in health
                self._error = f"{type(error).__name__}: {error}"[:300]
                log.warning("index reload failed: %s", self._error)
                return False

    def _exclude(self, index: track_index.TrackIndex | None, reload: bool) -> None:
        """Set `index.excluded` when the playlist rules changed, or for a newly loaded index."""
        if index is None:
            return
        try:
            rules = exclusions.current_rules()
        except ConfigError as error:   # a bad saved setting: keep the rules in force, say why
            log.warning("playlist exclusions unchanged: %s", error)
            rules = self._rules or exclusions.Rules()
        if reload or rules != self._rules:
            index.excluded = exclusions.excluded_ids(rules)
            self._rules = rules
            if index.excluded:
                log.info("%d tracks kept out of generated playlists (%s)", len(index.excluded),
                         "; ".join(rules.describe()))

    def start(self, every: float, also: Sequence[Any] = ()) -> None:
        """Refresh every `every` seconds on a thread, and each of `also` (anything with refresh()) after it."""
        if self._thread is not None or every <= 0:
            return

        def loop():
            while not self._stop.is_set():
                self.refresh()
                for follower in also:
                    follower.refresh()
                self._stop.wait(every)
        self._thread = threading.Thread(target=loop, name="index-reload", daemon=True)
        self._thread.start()

    def status(self) -> dict[str, Any]:
        current = self._current
        report: dict[str, Any] = {"ok": self._error is None, "loaded": current is not None}
        if current is not None:
            report.update(version=current.version, size=current.size, deleted=current.deleted,
                          excluded=len(current.excluded), model=current.model,
                          pending_model=track_index.pending_model(current.model))
        else:
            report["reason"] = NO_INDEX
        if self._error:
            report["error"] = self._error
        return report
