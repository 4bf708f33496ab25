"""The music map task: lays the similarity index's tracks out in 2-D and stores the map.

`run_map` reads the newest index and the newest stored map (similarity.projection)
and either

- fits the whole map afresh (similarity.map_layout.fit: seeded UMAP, PCA for a
  small library) when there is no map yet, when asked (`refit`), when the
  index holds MAP_REFIT_GROWTH more tracks than the last fit laid out, when
  the index switched to another vector model (neighbourhoods of a new model
  are new), or when a new track has no neighbour on the map to be placed by; or
- keeps every mapped track where it is, drops the tracks the index no longer
  holds and places the new ones among their index neighbours (map_layout.place).

Either way it measures how well the map keeps the index's neighbourhoods
(map_layout.neighbours_kept) and stores the result as a new version, which the
web process picks up (LiveProjection).  Its meta: "method" ("umap" | "pca"),
"seed", "fitted_tracks" (in the last full fit), "placed_tracks" (placed
since), "neighbours_kept" (0..1, or None), "index_version" and "index_model"
(the index version and vector model it was made from).  Nothing is stored when nothing changed.
A failed or cancelled run stores nothing, so the old map keeps serving; a
re-queued run starts over (the same index gives the same map).

The library analysis starts this task when it has updated the index.
"""
from __future__ import annotations

import numpy as np

import runtime
from similarity import index as track_index
from similarity import map_layout
from similarity.projection import Projection, load, save
from tasks import queues
from tasks.registry import task_type
from tasks.runner import TaskContext


@task_type("map", queue=queues.CLUSTERING, job_timeout=6 * 3600, title="Music map", main=True)
def run_map(ctx: TaskContext, refit: bool = False) -> str:
    ctx.progress(0, "loading the similarity index")
    index = track_index.load()
    if index is None:
        return "no similarity index yet: nothing to map"
    ids = index.live_ids()
    ctx.check_cancelled()
    stored = None if refit else load()
    reason = "asked for" if refit else (_model_switched(stored, index)
                                        or _refit_reason(stored, ids, runtime.settings().map_refit_growth))
    if reason is None:
        projection, message = _update(ctx, index, stored, ids)
        if projection is None:
            return message
    else:
        ctx.log(f"fitting the whole map: {reason}")
        projection, message = _fit(ctx, index, ids), f"map of {len(ids)} tracks fitted ({reason})"
    ctx.progress(90, "measuring how well the map keeps each track's neighbours")
    projection.meta.update(neighbours_kept=_neighbours_kept(index, projection), index_version=index.version,
                           index_model=index.model)
    ctx.check_cancelled()
    version = save(projection)
    ctx.set_details(result={"version": version, **projection.meta})
    kept = projection.meta["neighbours_kept"]
    return f"{message}; version {version}" + (f", neighbours kept {kept:.0%}" if kept is not None else "")


def _model_switched(stored: Projection | None, index: track_index.TrackIndex) -> str | None:
    """Why the map is refitted when the index serves another vector model than the map was made from."""
    made_from = stored.meta.get("index_model") if stored is not None else None
    if made_from is None or made_from == index.model:   # maps of before this key: of the served model
        return None
    return f"the similarity index switched to the vector model {index.model}"


def _refit_reason(stored: Projection | None, ids: np.ndarray, growth: float) -> str | None:
    """Why the map must be fitted afresh rather than updated, or None."""
    if stored is None:
        return "no map yet"
    fitted = int(stored.meta.get("fitted_tracks") or 0)
    if len(ids) > fitted * (1 + growth):
        return f"the library grew from {fitted} to {len(ids)} tracks since the last fit"
    if stored.meta.get("method") == "pca" and len(ids) >= map_layout.UMAP_MIN_TRACKS:
        return f"{len(ids)} tracks are enough for UMAP"
    return None


def _fit(ctx: TaskContext, index: track_index.TrackIndex, ids: np.ndarray) -> Projection:
    ctx.progress(5, f"laying out {len(ids)} tracks")
    layout = map_layout.fit(index.unit_vectors(ids.tolist()), map_layout.SEED)
    ctx.check_cancelled()
    return Projection(ids, layout.xy, {"method": layout.method, "seed": map_layout.SEED,
                                       "fitted_tracks": len(ids), "placed_tracks": 0})


def _update(ctx: TaskContext, index: track_index.TrackIndex, stored: Projection,
            ids: np.ndarray) -> tuple[Projection | None, str]:
    """The stored map without removed tracks and with new ones placed; (None, why) when nothing changed.

    Falls back to a full fit when a new track has no neighbour on the map.
    """
    kept = np.isin(stored.ids, ids)
    new_ids = np.setdiff1d(ids, stored.ids)
    removed = int((~kept).sum())
    if not removed and not len(new_ids):
        return None, f"the map is up to date ({len(ids)} tracks)"
    mapped_ids, mapped_xy = stored.ids[kept], stored.xy[kept]
    xy = np.zeros((0, 2), np.float32)
    if len(new_ids):
        ctx.progress(5, f"placing {len(new_ids)} new tracks")
        neighbours, distances = index.nearest_many(index.unit_vectors(new_ids.tolist()),
                                                   map_layout.PLACE_CANDIDATES)
        xy, placed = map_layout.place(neighbours, distances, mapped_ids, mapped_xy)
        if not placed.all():
            ctx.log(f"fitting the whole map: {int((~placed).sum())} new tracks have no neighbour on the map")
            return _fit(ctx, index, ids), f"map of {len(ids)} tracks fitted (new tracks far from the map)"
    order = np.argsort(np.concatenate([mapped_ids, new_ids]), kind="stable")
    meta = {**stored.meta, "placed_tracks": int(stored.meta.get("placed_tracks") or 0) + len(new_ids)}
    projection = Projection(np.concatenate([mapped_ids, new_ids])[order],
                            np.concatenate([mapped_xy, xy])[order], meta)
    return projection, f"{len(new_ids)} tracks placed, {removed} removed"


def _neighbours_kept(index: track_index.TrackIndex, projection: Projection) -> float | None:
    """map_layout.neighbours_kept over a fixed sample, with each sampled track's index neighbours."""
    rows = map_layout.sample_rows(projection.size)
    if not len(rows):
        return None
    neighbours, _ = index.nearest_many(index.unit_vectors(projection.ids[rows].tolist()),
                                       map_layout.QUALITY_NEIGHBOURS + 1)
    positions = np.searchsorted(projection.ids, neighbours).clip(0, projection.size - 1)
    on_map = projection.ids[positions] == neighbours
    expected = [positions[i][on_map[i] & (neighbours[i] != projection.ids[row])][:map_layout.QUALITY_NEIGHBOURS]
                for i, row in enumerate(rows)]
    kept = map_layout.neighbours_kept(projection.xy, rows, expected)
    return None if kept is None else round(kept, 4)
