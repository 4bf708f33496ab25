"""Automatic playlists: an evolutionary search over clustering configurations, run in batch jobs.

The parent (orchestration queue) snapshots every analysed track's features
once, standardized, into the blob `clustering_snapshot` and hands batch jobs
(clustering queue) only the snapshot's version and their configurations; a
batch loads the snapshot once and never reads the database per run.

The search goes by generations: each generation's configurations are drawn
from the search space at random, or (after the preset's explore_share of the
budget) mostly mutated from the elites, with a generator seeded by (seed,
generation) so a seed makes the whole search reproducible.  After every
generation the parent keeps the best configurations (the elites) and the
search state in its own details; a re-queued parent resumes from them, and the
batches it had already finished are not run again (their keys are fixed).  It
stops when the run budget is spent or after `patience` generations without a
better score.

Then the best configuration is applied to the whole library, its clusters are
made playlists (similarity.cluster_playlists), matched by track overlap to the
previous run's automatic playlists (a match keeps its name, so pushing
replaces the same media-server playlist), named (plainly or by the AI) and
stored in one transaction.  With `push`, they go to the media server at once
and the previous run's retired playlists are deleted there (only Sonarium's).
"""
from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

import ai
import config
import settings_store
from analysis.standardize import Standardization
from db import blobs
from db import clustering as results
from db.features import SNAPSHOT_FORMAT, TrackFeatures, read_all
from db.models import LIVE_STATUSES
from similarity import cluster_playlists, clustering, exclusions, ordering
from similarity import index as track_index
from tasks import queues, store
from tasks.registry import task_type
from tasks.runner import TaskContext
from tasks.submit import child_task_id

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "clustering_snapshot"
_IMPROVEMENT = 1e-6          # a new best must beat the old one by more than this
_NAMING_EXAMPLES = 3         # typical songs the AI namer is shown per playlist
_HISTORY_KEPT = 200          # generations' best scores kept for the progress chart

PresetName = Literal[tuple(clustering.PRESETS)]
AlgorithmName = Literal[clustering.ALGORITHMS]


def _snapshot(ctx: TaskContext) -> tuple[int, int]:
    """Store the standardized features of every analysed track; (blob version, tracks)."""
    ctx.progress(0, "reading the analysed tracks")
    features = read_all(track_index.served_model())
    excluded = exclusions.excluded_ids(exclusions.current_rules())
    if excluded:   # the playlist rules (Settings, "Playlists") keep these out of every playlist
        features = features.subset(np.flatnonzero(~np.isin(features.ids, np.fromiter(excluded, np.int64))))
    if len(features):
        features.vectors = Standardization.fit(features.vectors).apply(features.vectors, normalize=True)
    version = blobs.store_blob(SNAPSHOT_NAME, _Stream(features.to_bytes()), keep=3,
                               meta={"format": SNAPSHOT_FORMAT, "tracks": len(features), "task_id": ctx.task_id})
    return version, len(features)


class _Stream:
    """bytes as the stream store_blob reads, without a second copy."""

    def __init__(self, data: bytes):
        self._view = memoryview(data)
        self._at = 0

    def read(self, size: int) -> bytes:
        chunk = self._view[self._at:self._at + size]
        self._at += len(chunk)
        return bytes(chunk)


def load_snapshot(version: int) -> TrackFeatures:
    """The snapshot a run stored; LookupError when it is gone (a later run replaced it)."""
    found = blobs.load_blob(SNAPSHOT_NAME, version)
    if found is None:
        raise LookupError(f"clustering snapshot v{version} is gone")
    return TrackFeatures.from_bytes(found[1])


@task_type("clustering", queue=queues.HIGH, job_timeout=24 * 3600, title="Automatic playlists", main=True)
def run_clustering(ctx: TaskContext, preset: PresetName = "quick",
                   runs: Annotated[int, Field(ge=1, le=5000)] | None = None,
                   algorithms: Annotated[list[AlgorithmName], Field(min_length=1, max_length=4)] | None = None,
                   min_size: Annotated[int, Field(ge=2, le=1000)] | None = None,
                   max_size: Annotated[int, Field(ge=2, le=5000)] | None = None,
                   playlists: Annotated[int, Field(ge=1, le=300)] | None = None,
                   max_per_artist: Annotated[int, Field(ge=1, le=1000)] | None = None,
                   seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None,
                   ai_names: bool = True, push: bool = False) -> str:
    plan = clustering.PRESETS[preset]
    state = dict(store.get(ctx.task_id).details or {})
    if seed is None:
        seed = state.get("seed") or int(np.random.SeedSequence().entropy % 2**31)
    version, tracks = state.get("snapshot_version"), state.get("tracks")
    if version is None or blobs.latest_blob_info(SNAPSHOT_NAME, version) is None:
        version, tracks = _snapshot(ctx)
        state = {}
    ctx.set_details(seed=seed, snapshot_version=version, tracks=tracks)
    if min_size and max_size and min_size > max_size:
        raise ValueError(f"min_size {min_size} is larger than max_size {max_size}")
    try:
        space = clustering.search_space(tracks, algorithms=tuple(algorithms or clustering.ALGORITHMS),
                                        min_size=min_size, max_size=max_size, playlists=playlists)
    except ValueError as error:   # too few tracks: a clear message, not a failure
        ctx.set_details(result={"playlists": 0, "message": str(error)})
        return str(error)
    ctx.log(f"{tracks} tracks, seed {seed}; searching {', '.join(space.algorithms)}")
    budget = runs or plan["runs"]
    elites = _search(ctx, plan, space, budget, seed, version, state)
    if not elites:
        raise RuntimeError("no run of the search produced a clustering (see the batch jobs' logs)")
    return _publish(ctx, space, elites[0], seed, version, max_per_artist=max_per_artist,
                    ai_names=ai_names, push=push)


def _search(ctx: TaskContext, plan: dict, space, budget: int, seed: int, version: int, state: dict) -> list[dict]:
    """The generations of batch jobs; returns the elites, best first."""
    generation = int(state.get("generation", 0))
    runs_done = int(state.get("runs_done", 0))
    elites: list[dict] = list(state.get("elites", []))
    stale = int(state.get("stale_generations", 0))
    history: list[dict] = list(state.get("history", []))
    per_generation = plan["batch_size"] * plan["batches_per_generation"]
    if generation:
        ctx.log(f"resuming after generation {generation} ({runs_done} runs) with {len(elites)} elites")
    started = time.monotonic()
    runs_at_start = runs_done

    def report(counts: dict[str, int]) -> None:
        finished = min(budget, _runs_finished(ctx.task_id))
        elapsed = time.monotonic() - started
        pace = elapsed / (finished - runs_at_start) if finished > runs_at_start else None
        eta = pace * (budget - finished) if pace else None
        best = elites[0]["score"] if elites else None
        ctx.set_details(runs_finished=round(finished), runs_total=budget,
                        eta_seconds=round(eta) if eta is not None else None)
        ctx.progress(90 * finished / budget,
                     f"run {round(finished)} of at most {budget}, generation {generation + 1}"
                     + (f" · best score {best:.3f}" if best is not None else "")
                     + (f" · ETA {eta / 60:.1f} min" if eta is not None else ""))

    while runs_done < budget and stale < plan["patience"]:
        ctx.check_cancelled()
        count = min(per_generation, budget - runs_done)
        rng = np.random.default_rng([seed, generation])
        exploit = bool(elites) and runs_done >= plan["explore_share"] * budget
        configs = clustering.next_configs(space, [e["config"] for e in elites], count, rng, exploit)
        numbered = [{"run": runs_done + i, "config": c} for i, c in enumerate(configs)]
        batches = [(f"g{generation}b{start // plan['batch_size']}",
                    {"snapshot_version": version, "seed": seed, "space": space.as_json(),
                     "runs": numbered[start:start + plan["batch_size"]]})
                   for start in range(0, len(numbered), plan["batch_size"])]
        ctx.run_children("clustering.batch", batches, on_progress=report)
        outcomes = []
        for key, _ in batches:
            child = store.get(child_task_id(ctx.task_id, key))
            if child.status != "SUCCESS":
                ctx.log(f"batch {key} ended {child.status}: its runs are left out")
            outcomes += (child.details or {}).get("outcomes", [])
        previous_best = elites[0]["score"] if elites else None
        elites = clustering.best_runs(elites + outcomes, plan["elites"])
        improved = bool(elites) and (previous_best is None or elites[0]["score"] > previous_best + _IMPROVEMENT)
        stale = 0 if improved else stale + 1
        generation += 1
        runs_done += count
        history = (history + [{"generation": generation, "runs": runs_done,
                               "best": elites[0]["score"] if elites else None}])[-_HISTORY_KEPT:]
        ctx.set_details(generation=generation, runs_done=runs_done, elites=elites, stale_generations=stale,
                        history=history, best=elites[0] if elites else None)
        if improved:
            best = elites[0]
            ctx.log(f"generation {generation}: best {best['score']:.3f} ({best['config']['algorithm']}, "
                    f"{best['clusters']} clusters)")
    if stale >= plan["patience"]:
        ctx.log(f"stopped after {runs_done} runs: {stale} generations without a better score")
    return elites


def _runs_finished(task_id: str) -> float:
    """Runs done by the batches so far, a running batch counting its share (each batch's own size)."""
    return sum(len(child.args.get("runs", [])) * (child.progress if child.status in LIVE_STATUSES else 100) / 100
               for child in store.children(task_id, limit=100_000))


def _publish(ctx: TaskContext, space, best: dict, seed: int, version: int, *, max_per_artist: int | None,
             ai_names: bool, push: bool) -> str:
    """Apply the best configuration to the whole library and store (and maybe push) its playlists."""
    ctx.progress(91, "clustering the whole library with the best configuration")
    features = load_snapshot(version)
    labels = clustering.solve(features, best["config"], seed)
    drafts = cluster_playlists.build(features, labels, min_size=space.min_size, max_size=space.max_size,
                                     playlists=space.playlists, max_per_artist=max_per_artist, seed=seed)
    row_of = {int(track_id): row for row, track_id in enumerate(features.ids)}
    naming_profiles = [_naming_profile(features, row_of, draft) for draft in drafts]
    del features
    if not drafts:
        message = "the best clustering left no group large enough for a playlist"
        ctx.set_details(result={"playlists": 0, "message": message})
        return message
    ctx.progress(95, f"naming {len(drafts)} playlists")
    previous = results.current_set(exclude_task=ctx.task_id)
    matched = cluster_playlists.match([set(d.track_ids) for d in drafts], [set(p.track_ids) for p in previous])
    plain = cluster_playlists.plain_names([d.profile for d in drafts])
    fresh = [i for i in range(len(drafts)) if i not in matched]
    naming = ai.name_playlists([naming_profiles[i] for i in fresh], [plain[i] for i in fresh]) \
        if ai_names and fresh else ai.Naming([plain[i] for i in fresh], False, None)
    suffix = settings_store.effective().clustering_name_suffix or ""
    kept_names = {previous[j].name.casefold() for j in matched.values()}
    names = {}
    for i, name in zip(fresh, naming.names):
        candidate = name if name.casefold() + suffix.casefold() not in kept_names else plain[i]
        names[i] = candidate + suffix
    for i, j in matched.items():
        names[i] = previous[j].name
    ctx.progress(96, "putting each playlist in playing order")
    standardization = track_index.current_standardization()
    stored = results.save_set(ctx.task_id, [
        results.NewPlaylist(name=names[i], track_ids=_in_playing_order(draft.track_ids, standardization),
                            profile=draft.profile, reason=draft.reason,
                            previous_id=previous[matched[i]].id if i in matched else None)
        for i, draft in enumerate(drafts)])
    retired = [{"id": p.id, "name": p.name} for j, p in enumerate(previous) if j not in matched.values()]
    summary = {"playlists": len(stored), "kept": len(matched), "added": len(fresh), "retired": retired,
               "best": best, "naming": {"used_ai": naming.used_ai, "note": naming.note}}
    ctx.set_details(result=summary)
    if naming.note:
        ctx.log(naming.note)
    message = (f"{len(stored)} playlists: {len(matched)} kept from the last run, {len(fresh)} new, "
               f"{len(retired)} retired")
    if push:
        ctx.progress(97, "pushing the playlists to the media server")
        pushed = results.push_set(settings_store.current_provider(), ctx.task_id)
        ctx.set_details(pushed=pushed)
        message += f"; pushed {len(pushed['pushed'])}, {len(pushed['failed'])} failed"
    return message


def _in_playing_order(track_ids: list[int], standardization) -> list[int]:
    """A playlist's songs ordered to flow (similarity/ordering.py; a set, so no song's rank counts)."""
    if standardization is None or len(track_ids) < 3:
        return list(track_ids)
    found = ordering.order(ordering.load_songs(track_ids, standardization))
    return [track_ids[i] for i in found.order]


def _naming_profile(features: TrackFeatures, row_of: dict[int, int], draft: cluster_playlists.Draft) -> dict:
    """What the namer is told about one playlist: its profile, size and a few typical songs."""
    examples = [[str(features.artists[row_of[t]]), str(features.titles[row_of[t]])]
                for t in draft.profile.get("central_track_ids", [])[:_NAMING_EXAMPLES] if t in row_of]
    return {**draft.profile, "size": len(draft.track_ids), "examples": examples}


@task_type("clustering.batch", queue=queues.CLUSTERING, job_timeout=4 * 3600, title="Clustering batch")
def run_batch(ctx: TaskContext, snapshot_version: int, seed: int, space: dict, runs: list[dict]) -> str:
    """Run and score each configuration on the snapshot; outcomes go to this task's details.

    A re-queued attempt keeps the outcomes its earlier attempts reported and runs only the rest.
    """
    features = load_snapshot(snapshot_version)
    search = clustering.SearchSpace(**space)
    outcomes = list((store.get(ctx.task_id).details or {}).get("outcomes", [])) if ctx.attempt > 1 else []
    done = {outcome["run"] for outcome in outcomes}
    for number, item in enumerate(runs, 1):
        ctx.check_cancelled()
        if item["run"] in done:
            continue
        ctx.progress(100 * (number - 1) / len(runs), f"run {item['run']}: {item['config']['algorithm']}")
        outcomes.append(clustering.run(features, item["config"], item["run"], seed,
                                       config.CLUSTER_SCORE_WEIGHTS, space=search))
        ctx.set_details(outcomes=outcomes)
    best = max((o for o in outcomes if not o.get("failed")), key=lambda o: o["score"], default=None)
    return f"{len(outcomes)} runs" + (f", best score {best['score']:.3f}" if best else ", none clustered")
