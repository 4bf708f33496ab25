"""Pushing Sonarium's playlists to the media server, and deleting only our own.

Every playlist Sonarium writes to a server is remembered in `playlist_push`
(provider, remote id, name).  Pushing a playlist under a name Sonarium already
pushed replaces that remote playlist (if it still exists); a user's playlist
that merely has the same name is never touched, and deletion goes by remembered
id only, never by name pattern.
"""
from __future__ import annotations

from sqlalchemy import select

from db.models import Playlist, PlaylistItem, PlaylistPush, Track
from db.session import session_scope
from mediaserver.base import MediaProvider, ProviderError


class NotOwned(ProviderError):
    """Sonarium did not create this remote playlist, so it will not delete it."""


def record(name: str, kind: str, track_ids: list[int], params: dict | None = None,
           task_id: str | None = None) -> int:
    """Store a playlist and its tracks, in this order, in one transaction; returns its id."""
    with session_scope() as session:
        playlist = Playlist(name=name, kind=kind, params=params or {}, task_id=task_id)
        session.add(playlist)
        session.flush()
        session.add_all(PlaylistItem(playlist_id=playlist.id, position=position, track_id=track_id)
                        for position, track_id in enumerate(track_ids))
        return playlist.id


def push(provider: MediaProvider, playlist_id: int) -> str:
    """Write the stored playlist `playlist_id` to the provider; returns the remote id."""
    with session_scope() as session:
        playlist = session.get(Playlist, playlist_id)
        if playlist is None:
            raise ProviderError(f"no playlist {playlist_id}")
        rows = session.execute(
            select(Track.item_id).join(PlaylistItem, PlaylistItem.track_id == Track.id)
            .where(PlaylistItem.playlist_id == playlist_id, Track.provider == provider.type)
            .order_by(PlaylistItem.position)).all()
        name = playlist.name
        previous = session.scalars(select(PlaylistPush).where(
            PlaylistPush.provider == provider.type, PlaylistPush.remote_name == name)
            .order_by(PlaylistPush.pushed_at.desc())).first()
        previous_id = previous.remote_id if previous else None
    track_ids = [row.item_id for row in rows]
    if not track_ids:
        raise ProviderError(f"playlist {name!r} has no tracks from {provider.label}")
    remote_ids = {remote.id for remote in provider.playlists()}
    if previous_id in remote_ids:
        remote_id = provider.replace_playlist(previous_id, name, track_ids)
    else:
        remote_id = provider.create_playlist(name, track_ids)
    with session_scope() as session:
        if previous_id is not None:
            session.query(PlaylistPush).filter_by(provider=provider.type, remote_id=previous_id).delete()
        session.add(PlaylistPush(playlist_id=playlist_id, provider=provider.type, remote_id=remote_id,
                                 remote_name=name))
    return remote_id


def delete_owned(provider: MediaProvider, remote_id: str) -> None:
    """Delete a remote playlist Sonarium created; NotOwned for any other."""
    with session_scope() as session:
        push_row = session.scalars(select(PlaylistPush).where(
            PlaylistPush.provider == provider.type, PlaylistPush.remote_id == remote_id)).first()
        if push_row is None:
            raise NotOwned(f"Sonarium did not create the {provider.label} playlist {remote_id}; not deleting it")
    provider.delete_playlist(remote_id)
    with session_scope() as session:
        session.query(PlaylistPush).filter_by(provider=provider.type, remote_id=remote_id).delete()
