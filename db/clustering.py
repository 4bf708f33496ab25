"""Every SQL statement on automatic playlists: the sets clustering runs store, read and push.

A clustering run's playlists are `playlist` rows of kind "automatic" whose
task_id is the run; the newest run that stored any is the current set.  Each
row's params hold its profile, the reason it was kept, and the previous
run's playlist it continues (None for a new one).
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import delete, select

from db.models import Playlist, PlaylistItem, PlaylistPush, Track
from db.session import session_scope
from mediaserver import playlists as pushing
from mediaserver.base import MediaProvider, ProviderError

log = logging.getLogger(__name__)

KIND = "automatic"


@dataclasses.dataclass(frozen=True)
class NewPlaylist:
    name: str
    track_ids: list[int]
    profile: dict[str, Any]
    reason: str
    previous_id: int | None     # the previous run's playlist this one continues


@dataclasses.dataclass(frozen=True)
class StoredPlaylist:
    id: int
    name: str
    track_ids: list[int]
    params: dict[str, Any]


def current_task_id(exclude_task: str | None = None) -> str | None:
    """The clustering run whose playlists are current (the newest that stored any)."""
    query = select(Playlist.task_id).where(Playlist.kind == KIND, Playlist.task_id.isnot(None))
    if exclude_task is not None:
        query = query.where(Playlist.task_id != exclude_task)
    with session_scope() as session:
        return session.scalar(query.order_by(Playlist.created_at.desc(), Playlist.id.desc()).limit(1))


def playlists_of(task_id: str | None) -> list[StoredPlaylist]:
    """A run's automatic playlists in the order it stored them, with their tracks in order."""
    if task_id is None:
        return []
    with session_scope() as session:
        rows = session.scalars(select(Playlist).where(Playlist.kind == KIND, Playlist.task_id == task_id)
                               .order_by(Playlist.id)).all()
        items = session.execute(select(PlaylistItem.playlist_id, PlaylistItem.track_id)
                                .where(PlaylistItem.playlist_id.in_([row.id for row in rows]))
                                .order_by(PlaylistItem.playlist_id, PlaylistItem.position)).all()
    tracks: dict[int, list[int]] = {}
    for item in items:
        tracks.setdefault(item.playlist_id, []).append(item.track_id)
    return [StoredPlaylist(row.id, row.name, tracks.get(row.id, []), dict(row.params)) for row in rows]


def current_set(exclude_task: str | None = None) -> list[StoredPlaylist]:
    return playlists_of(current_task_id(exclude_task))


def save_set(task_id: str, new: list[NewPlaylist]) -> list[int]:
    """Store a run's playlists in one transaction (replacing what an earlier attempt of the run stored)."""
    with session_scope() as session:
        session.execute(delete(Playlist).where(Playlist.kind == KIND, Playlist.task_id == task_id))
        ids = []
        for playlist in new:
            row = Playlist(name=playlist.name, kind=KIND, task_id=task_id,
                           params={"profile": playlist.profile, "reason": playlist.reason,
                                   "previous_id": playlist.previous_id})
            session.add(row)
            session.flush()
            session.add_all(PlaylistItem(playlist_id=row.id, position=position, track_id=track_id)
                            for position, track_id in enumerate(playlist.track_ids))
            ids.append(row.id)
        return ids


def retired(task_id: str) -> list[StoredPlaylist]:
    """The previous run's playlists that this run did not continue."""
    current = playlists_of(task_id)
    continued = {p.params.get("previous_id") for p in current}
    previous_task = _previous_task_id(task_id)
    return [p for p in playlists_of(previous_task) if p.id not in continued]


def _previous_task_id(task_id: str) -> str | None:
    with session_scope() as session:
        created = session.scalar(select(Playlist.created_at).where(Playlist.kind == KIND, Playlist.task_id == task_id)
                                 .order_by(Playlist.id).limit(1))
        if created is None:
            return None
        return session.scalar(select(Playlist.task_id).where(
            Playlist.kind == KIND, Playlist.task_id.isnot(None), Playlist.task_id != task_id,
            Playlist.created_at <= created).order_by(Playlist.created_at.desc(), Playlist.id.desc()).limit(1))


def remote_copies(playlist_ids: list[int], provider_type: str) -> dict[int, str]:
    """playlist id -> the remote id Sonarium wrote it under on this provider."""
    with session_scope() as session:
        rows = session.execute(select(PlaylistPush.playlist_id, PlaylistPush.remote_id).where(
            PlaylistPush.playlist_id.in_(playlist_ids), PlaylistPush.provider == provider_type)).all()
    return {row.playlist_id: row.remote_id for row in rows}


def push_set(provider: MediaProvider, task_id: str, playlist_ids: list[int] | None = None) -> dict[str, list]:
    """Push a run's playlists (all, or those listed); pushing all also deletes the retired ones' remote copies.

    Retired copies go first, so a new playlist that took a retired one's name
    is written afresh.  Only playlists Sonarium wrote are deleted
    (mediaserver.playlists.delete_owned); one failure does not stop the rest.
    """
    report: dict[str, list] = {"pushed": [], "failed": [], "deleted": []}
    gone = retired(task_id) if playlist_ids is None else []
    for playlist_id, remote_id in remote_copies([p.id for p in gone], provider.type).items():
        name = next(p.name for p in gone if p.id == playlist_id)
        try:
            pushing.delete_owned(provider, remote_id)
            report["deleted"].append({"id": playlist_id, "name": name})
        except ProviderError as error:
            report["failed"].append({"id": playlist_id, "name": name, "error": str(error)})
    for playlist in playlists_of(task_id):
        if playlist_ids is not None and playlist.id not in playlist_ids:
            continue
        try:
            pushed = pushing.push(provider, playlist.id)
        except ProviderError as error:
            report["failed"].append({"id": playlist.id, "name": playlist.name, "error": str(error)})
            continue
        report["pushed"].append({"id": playlist.id, "name": playlist.name, "remote_id": pushed.remote_id,
                                 "url": provider.playlist_url(pushed.remote_id), "note": pushed.note})
    return report


def track_rows(track_ids: list[int]) -> dict[int, Any]:
    """id -> (item_id, title, artist, album) for showing a set's tracks."""
    with session_scope() as session:
        rows = session.execute(select(Track.id, Track.item_id, Track.title, Track.artist, Track.album)
                               .where(Track.id.in_(track_ids))).all()
    return {row.id: row for row in rows}
