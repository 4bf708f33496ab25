"""Pushing playlists: replace only what Sonarium created, delete only by remembered id."""
import pytest

from db.models import Playlist, PlaylistItem, PlaylistPush, Track
from db.session import session_scope
from mediaserver.local import LocalProvider
from mediaserver.playlists import NotOwned, delete_owned, push
from tests.test_local_provider import flac


@pytest.fixture
def setup(env, tmp_path, music_dir):
    for n in range(3):
        flac(music_dir / "Album" / f"{n}.flac", title=f"T{n}", artist="A", album="Album", tracknumber=str(n + 1))
    provider = LocalProvider(music_dir, tmp_path / "playlists")
    tracks = provider.album_tracks(provider.albums()[0].id)
    with session_scope() as session:
        rows = [Track(provider="local", item_id=t.id, title=t.title) for t in tracks]
        session.add_all(rows)
        session.flush()
        playlist = Playlist(name="Evening", kind="similar")
        session.add(playlist)
        session.flush()
        session.add_all([PlaylistItem(playlist_id=playlist.id, position=i, track_id=row.id)
                         for i, row in enumerate(reversed(rows))])
        return provider, playlist.id, [t.id for t in tracks]


def test_push_creates_then_replaces_our_own(setup, tmp_path):
    provider, playlist_id, ids = setup
    # A user's own playlist with the same name must survive.
    (tmp_path / "playlists").mkdir()
    (tmp_path / "playlists" / "Evening.m3u8").write_text("#EXTM3U\n/users/own/song.flac\n")
    first = push(provider, playlist_id)
    assert first == "Evening (2).m3u8"
    assert push(provider, playlist_id) == first  # replaced, not duplicated
    assert sorted(p.id for p in provider.playlists()) == ["Evening (2).m3u8", "Evening.m3u8"]
    assert "users/own" in (tmp_path / "playlists" / "Evening.m3u8").read_text()
    lines = [l for l in (tmp_path / "playlists" / first).read_text().splitlines() if not l.startswith("#")]
    assert [l.rsplit("/", 1)[1] for l in lines] == ["2.flac", "1.flac", "0.flac"]  # order kept
    with session_scope() as session:
        assert session.query(PlaylistPush).count() == 1


def test_delete_only_what_we_created(setup, tmp_path):
    provider, playlist_id, _ = setup
    remote = push(provider, playlist_id)
    provider.create_playlist("User list", [])
    with pytest.raises(NotOwned, match="did not create"):
        delete_owned(provider, "User list.m3u8")
    delete_owned(provider, remote)
    assert [p.id for p in provider.playlists()] == ["User list.m3u8"]
    with session_scope() as session:
        assert session.query(PlaylistPush).count() == 0


def test_a_deleted_remote_playlist_is_created_again(setup, tmp_path):
    provider, playlist_id, _ = setup
    remote = push(provider, playlist_id)
    provider.delete_playlist(remote)  # the user removed it on the server
    assert push(provider, playlist_id) == remote
    with session_scope() as session:
        assert [p.remote_id for p in session.query(PlaylistPush)] == [remote]
