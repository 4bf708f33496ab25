"""Pushing Sonarium's playlists to the media server, and deleting only our own.

Every playlist Sonarium writes to a server is remembered in `playlist_push`
(provider, remote id, name, and for file-based providers a SHA-256 of what was
written).  Pushing a playlist under a name Sonarium already pushed replaces
that remote playlist if it still exists and, where the provider can tell,
still holds exactly what Sonarium wrote; otherwise (the user edited it, or a
user's playlist merely has the same name) it is left alone and a new playlist
is made beside it, and the answer says so.  Deletion goes by remembered id
only, never by name pattern.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

from db.models import Playlist, PlaylistItem, PlaylistPush, Track
from db.session import session_scope
from mediaserver.base import MediaProvider, ProviderError, RemotePlaylist


@dataclasses.dataclass(frozen=True)
class Pushed:
    remote_id: str
    #: For the user, when the playlist was made beside one of the same name
    #: that Sonarium would not touch; None otherwise.
    note: str | None = None


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


def _unchanged(provider: MediaProvider, remote_id: str, recorded_sha256: str | None) -> bool:
    """Whether the remote playlist still holds what Sonarium wrote (always, where ids alone prove it)."""
    fingerprint = provider.playlist_fingerprint(remote_id)
    return fingerprint is None or fingerprint == recorded_sha256


def _beside_note(provider: MediaProvider, name: str, remote_id: str, before: list[RemotePlaylist],
                 edited: bool) -> str | None:
    if edited:
        reason = f"The playlist “{name}” was changed since Sonarium wrote it"
    elif any(remote.name == name for remote in before):
        reason = f"{provider.label} already has a playlist named “{name}” that Sonarium did not write"
    else:
        return None
    written = next((remote.name for remote in provider.playlists() if remote.id == remote_id), name)
    where = f"saved as “{written}”" if written != name else "saved beside it under the same name"
    return f"{reason}; it is left alone and this one is {where}."


def push(provider: MediaProvider, playlist_id: int) -> Pushed:
    """Write the stored playlist `playlist_id` to the provider; the remote id, and a note if it
    had to go beside a playlist of the same name."""
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
        previous_id, previous_sha256 = (previous.remote_id, previous.content_sha256) if previous else (None, None)
    track_ids = [row.item_id for row in rows]
    if not track_ids:
        raise ProviderError(f"playlist {name!r} has no tracks from {provider.label}")
    before = provider.playlists()
    exists = previous_id in {remote.id for remote in before}
    edited = exists and not _unchanged(provider, previous_id, previous_sha256)
    if exists and not edited:
        remote_id, note = provider.replace_playlist(previous_id, name, track_ids), None
    else:
        remote_id = provider.create_playlist(name, track_ids)
        note = _beside_note(provider, name, remote_id, before, edited)
    fingerprint = provider.playlist_fingerprint(remote_id)
    with session_scope() as session:
        # The previous record is superseded (or its playlist is gone or no longer ours); a stale
        # record of the id just made would only block the new one.
        session.query(PlaylistPush).filter(
            PlaylistPush.provider == provider.type,
            PlaylistPush.remote_id.in_({remote_id, previous_id} - {None})).delete(synchronize_session=False)
        session.add(PlaylistPush(playlist_id=playlist_id, provider=provider.type, remote_id=remote_id,
                                 remote_name=name, content_sha256=fingerprint))
    return Pushed(remote_id, note)


def delete_owned(provider: MediaProvider, remote_id: str) -> None:
    """Delete a remote playlist Sonarium created; NotOwned for any other."""
    with session_scope() as session:
        push_row = session.scalars(select(PlaylistPush).where(
            PlaylistPush.provider == provider.type, PlaylistPush.remote_id == remote_id)).first()
        if push_row is None:
            raise NotOwned(f"Sonarium did not create the {provider.label} playlist {remote_id}; not deleting it")
        recorded_sha256 = push_row.content_sha256
    if not _unchanged(provider, remote_id, recorded_sha256):
        raise NotOwned(f"the {provider.label} playlist {remote_id} was changed since Sonarium wrote it; "
                       "not deleting it")
    provider.delete_playlist(remote_id)
    with session_scope() as session:
        session.query(PlaylistPush).filter_by(provider=provider.type, remote_id=remote_id).delete()
