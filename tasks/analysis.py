"""Library analysis: every album of the media server, one job per album.

The parent lists the albums (newest first; only the N newest when asked; the
last _TAIL_ALBUMS of the run biggest first, so it does not end on one long album),
keeps at most MAX_QUEUED_CHILDREN album jobs live, and reports albums
done/total, tracks analysed/skipped/failed (counted as each track finishes:
album jobs report their counts per track), the albums in progress, rate and
an ETA from the tracks left.  An album job lists its tracks, skips those
already analysed with the current analysis version (tracks an earlier attempt
of the same job analysed count as analysed, not skipped), and for each other
track downloads it (the next one downloading meanwhile), analyses it and
writes all its rows in one transaction; its temp files are always deleted.  It checks for cancellation inside a
track's analysis too, so a cancel stops it within a heartbeat or so.  A track
that fails is recorded under its file path (or artist / album / title on a
media server) with one plain reason, the decoder's own text going to the
task log, and the album goes on; transient network errors are retried with
backoff.  After a complete run
over the whole library, tracks the server no longer lists are deleted.

The similarity index follows along: every INDEX_UPDATE_SECONDS the parent adds
the tracks analysed so far (an incremental update, not a rebuild), and once
more at the end, when the vectors this run replaced are taken in (a rebuild)
and, after a run over the whole library, the index switches to a new vector
model even if some tracks failed (similarity.index); then it starts the music
map task (tasks.map).  Until a switch, the log says how many tracks the
index still waits for.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from sqlalchemy import select

import runtime
import settings_store
from analysis.decode import DecodeError
from analysis.features import DEFAULT_DEPTH, DEPTHS, VECTOR_MODEL, analysis_version, analyze_file
from db import tracks as track_store
from db.models import Track
from db.session import session_scope
from similarity import index as track_index
from mediaserver.base import MediaProvider, ProviderError, Unreachable
from mediaserver.local import decode_id, display
from tasks import queues, store
from tasks.prefetch import Prefetcher
from tasks.reconciler import job_scratch_dir
from tasks.registry import task_type
from tasks.runner import TaskContext
from tasks.submit import submit_main

log = logging.getLogger(__name__)
_COUNTS = ("analyzed", "skipped", "failed")
_FAILURES_KEPT = 100                    # per album and per run, shown on the home page
_RETRY_DELAYS = (2.0, 8.0, 30.0)        # s between attempts at a transient network error
DepthName = Literal[tuple(DEPTHS)]       # checked when the task is started (tasks.registry.args_model)
_TAIL_ALBUMS = 20                       # the run's last albums, started biggest first


def _transient(error: ProviderError) -> bool:
    return isinstance(error, Unreachable) or "server error" in str(error) or "broke off" in str(error)


def _with_retries(ctx: TaskContext, action, *args):
    for delay in (*_RETRY_DELAYS, None):
        try:
            return action(*args)
        except ProviderError as error:
            if delay is None or not _transient(error):
                raise
            ctx.log(f"{error}; retrying in {delay:g} s")
            ctx.wait(delay)


def _expected_tracks(album_sizes: list[int | None], seen: float, albums_done: int) -> float | None:
    """How many tracks the run will look at: the albums' listed sizes, an album
    of unknown size (some servers do not say) counting as the mean known size,
    or as the mean so far when none is known."""
    known = [size for size in album_sizes if size]
    typical = sum(known) / len(known) if known else (seen / albums_done if albums_done else None)
    return None if typical is None else max(seen, sum(size or typical for size in album_sizes))


@task_type("analysis", queue=queues.HIGH, job_timeout=14 * 24 * 3600, title="Library analysis", main=True)
def run_analysis(ctx: TaskContext, num_recent_albums: Annotated[int, Field(ge=0)] = 0,
                 depth: DepthName = DEFAULT_DEPTH) -> str:
    provider = settings_store.current_provider()
    started_db = track_store.database_now()
    started = time.monotonic()
    ctx.progress(0, f"listing albums from {provider.label}")
    listed = []
    for album in _with_retries(ctx, lambda: list(provider.iter_albums())):
        listed.append(album)
        if num_recent_albums and len(listed) >= num_recent_albums:
            break
    # The last albums start biggest first: a run that ends on one long album leaves
    # every other worker idle until it is done (13% of a 16-album corpus's time).
    listed[-_TAIL_ALBUMS:] = sorted(listed[-_TAIL_ALBUMS:], key=lambda album: -(album.track_count or 0))
    albums = [{"album_id": album.id, "album_name": album.name, "depth": depth} for album in listed]
    album_sizes = [album.track_count for album in listed]
    ctx.log(f"{len(albums)} albums to look at ({analysis_version(depth)})")
    ctx.set_details(albums_total=len(albums))
    _say_what_index_waits_for(ctx)
    index_every = runtime.settings().index_update_seconds
    last_index_update = [time.monotonic()]
    failures_seen = [0]

    def update_index(**run_end) -> None:
        version = track_index.update(**run_end)
        if version:
            ctx.log(f"similarity index updated to version {version}")
        _say_what_index_waits_for(ctx)

    def report(counts: dict[str, int]) -> None:
        totals = store.sum_child_details(ctx.task_id, _COUNTS, finished_only=False)
        done = sum(counts.get(s, 0) for s in ("SUCCESS", "FAILURE", "REVOKED"))
        elapsed = time.monotonic() - started
        rate = totals["analyzed"] / elapsed * 60 if elapsed > 0 else 0.0
        # From tracks, not albums: albums differ in size and the last ones start
        # biggest first, so an album-based estimate overshoots at the end.
        # Skipped tracks cost nothing, so the pace is that of tracks worked on.
        seen = sum(totals.values())
        worked = totals["analyzed"] + totals["failed"]
        expected = _expected_tracks(album_sizes, seen, done)
        eta = elapsed / worked * (expected - seen) if worked and expected is not None else None
        current = [c.message for c in store.children(ctx.task_id, ("STARTED", "PROGRESS"), 5)]
        ctx.set_details(albums_done=done, **{f"tracks_{k}": int(v) for k, v in totals.items()},
                        tracks_total=round(expected) if expected is not None else None,
                        tracks_per_minute=round(rate, 1), eta_seconds=round(eta) if eta is not None else None,
                        current=current)
        if totals["failed"] > failures_seen[0]:  # read the children's failure lists only when they grew
            failures_seen[0] = totals["failed"]
            ctx.set_details(failures=store.collect_child_detail_lists(ctx.task_id, "failures", _FAILURES_KEPT))
        if time.monotonic() - last_index_update[0] > index_every:
            update_index()
            last_index_update[0] = time.monotonic()
        ctx.progress(None, f"{done}/{len(albums)} albums · {int(totals['analyzed'])} analysed, "
                           f"{int(totals['skipped'])} skipped, {int(totals['failed'])} failed · "
                           f"{rate:.0f} tracks/min" + (f" · ETA {eta / 60:.0f} min" if eta is not None else ""))

    counts = ctx.run_children("analysis.album", ((a["album_id"], a) for a in albums),
                              total=len(albums), on_progress=report)
    report(counts)
    totals = store.sum_child_details(ctx.task_id, _COUNTS, finished_only=False)
    failures = store.collect_child_detail_lists(ctx.task_id, "failures", _FAILURES_KEPT)
    removed = 0
    whole_library = not num_recent_albums and set(counts) <= {"SUCCESS"}
    if whole_library:
        removed = track_store.delete_unseen(provider.type, started_db)
    update_index(run_ended=True, whole_library=whole_library)
    _start_map(ctx)
    result = {"albums": len(albums), **{f"tracks_{k}": int(v) for k, v in totals.items()},
              "tracks_removed": removed, "failed_albums": counts.get("FAILURE", 0), "failures": failures}
    ctx.set_details(result=result)
    return (f"{len(albums)} albums: {result['tracks_analyzed']} tracks analysed, {result['tracks_skipped']} "
            f"already done, {result['tracks_failed']} failed, {removed} removed from the library")


def _say_what_index_waits_for(ctx: TaskContext) -> None:
    """Log, while the code's vector model is not yet served, how many tracks the switch waits for."""
    awaiting = track_index.tracks_awaiting_switch()
    if awaiting:
        ctx.log(f"the similarity index keeps serving the previous analysis until {awaiting} more tracks "
                "are re-analysed")


def _start_map(ctx: TaskContext) -> None:
    """Bring the music map in step with the index (tasks.map places new tracks or refits)."""
    try:
        submit_main("map")
    except store.TaskAlreadyRunning:
        ctx.log("the music map task is already running: this run's new tracks are placed by its next run")


def _analysed_since(provider_type: str, item_ids: list[str], since) -> set[str]:
    """Which of these tracks were analysed at or after `since`."""
    with session_scope() as session:
        return set(session.scalars(select(Track.item_id).where(
            Track.provider == provider_type, Track.item_id.in_(item_ids), Track.analyzed_at >= since)))


def _track_name(provider: MediaProvider, track) -> str:
    """A failed track as its owner finds it: the file for the local folder (tags may
    be what is wrong), else artist / album / title as the media server shows them."""
    if provider.type == "local":
        return display(os.fsdecode(decode_id(track.id)))
    return " / ".join(part for part in (track.artist, track.album, track.title) if part) or track.id


@task_type("analysis.album", queue=queues.DEFAULT, job_timeout=6 * 3600, title="Analyse album")
def analyze_album(ctx: TaskContext, album_id: str, album_name: str, depth: str = DEFAULT_DEPTH) -> str:
    provider = settings_store.current_provider()
    version = analysis_version(depth)
    listed = _with_retries(ctx, provider.album_tracks, album_id)
    versions = track_store.mark_listed(provider.type, listed)
    # A re-queued job (its worker died) finds the tracks its earlier attempts
    # analysed: this run analysed them, they were not "already done".
    earlier = _analysed_since(provider.type, [t.id for t in listed], store.get(ctx.task_id).started_at) \
        if ctx.attempt > 1 else set()
    counts = dict.fromkeys(_COUNTS, 0)
    failures: list[dict[str, str]] = []

    def tally(outcome: str) -> None:
        # Every track, so the run's totals grow as tracks finish, not as albums do.
        counts[outcome] += 1
        ctx.set_details(**counts, failures=list(failures))

    # This attempt's own folder: if the job is killed, the reconciler removes it.
    scratch = job_scratch_dir(ctx.task_id, ctx.attempt)
    scratch.mkdir(parents=True, exist_ok=True)

    def download(item_id: str) -> Path:
        """The track's file, alone in a new folder of the scratch dir (nothing left on failure)."""
        folder = Path(tempfile.mkdtemp(prefix="sonarium-", dir=scratch))
        try:
            return provider.download(item_id, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def delete(path: Path) -> None:
        shutil.rmtree(path.parent, ignore_errors=True)

    to_analyse = [track.id for track in listed if versions.get(track.id) != version]
    with Prefetcher(download, delete) as files:
        for number, track in enumerate(listed, 1):
            ctx.check_cancelled()
            ctx.progress(100 * (number - 1) / len(listed), f"{album_name}: {number}/{len(listed)} {track.title or ''}")
            if versions.get(track.id) == version:
                tally("analyzed" if track.id in earlier else "skipped")
                continue
            # The next track downloads while this one is analysed (tasks.prefetch).
            following = to_analyse[to_analyse.index(track.id) + 1:]
            if following:
                files.ahead(following[0])
            path = None
            try:
                try:
                    path = files.take(track.id)
                except ProviderError as error:
                    if not _transient(error):
                        raise
                    path = _with_retries(ctx, download, track.id)  # again here, with backoff and a log line
                result = analyze_file(path, depth, checkpoint=ctx.check_cancelled)
            except (DecodeError, ProviderError) as error:
                name = _track_name(provider, track)
                decoding = isinstance(error, DecodeError)
                reason = f"cannot decode: {error.reason}" if decoding else str(error)
                # The log keeps the decoders' own words; they name our temporary copy, so name the track instead.
                ctx.log(f"failed: {name}: " + (str(error).replace(str(path), name) if decoding else reason))
                if len(failures) < _FAILURES_KEPT:
                    failures.append({"album": album_name, "track": name, "item_id": track.id, "reason": reason})
                tally("failed")
                continue
            finally:
                if path is not None:
                    delete(path)
            track_store.save_analysis(provider.type, track.id, result, VECTOR_MODEL)
            tally("analyzed")
    return f"{album_name}: {counts['analyzed']} analysed, {counts['skipped']} skipped, {counts['failed']} failed"


@task_type("index_rebuild", queue=queues.CLUSTERING, job_timeout=6 * 3600, title="Rebuild similarity index",
           main=True)
def rebuild_index(ctx: TaskContext) -> str:
    ctx.progress(0, "rebuilding the similarity index from every embedding")
    version = track_index.update(rebuild=True)
    return f"index version {version} built" if version else "no analysed tracks yet: nothing to index"


def warm_up() -> None:
    """First calls that compile or load (numba, librosa), done once in the worker before it forks."""
    import numpy as np
    from analysis import loudness, rhythm, tonal
    noise = [np.random.default_rng(0).normal(0, 0.1, 16000 * 6).astype(np.float32)]
    rhythm.estimate_tempo(noise)
    tonal.estimate_key(noise)
    loudness.estimate_energy(noise)
