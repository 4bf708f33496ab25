"""Pushing playlists: replace only what Sonarium created, delete only by remembered id."""
import os

import pytest

from db.models import Playlist, PlaylistItem, PlaylistPush, Track
from db.session import session_scope
from mediaserver.local import LocalProvider
from mediaserver.playlists import NotOwned, delete_owned, push, record
from tests.audio import flac


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
    first = push(provider, playlist_id).remote_id
    assert first == str(tmp_path / "playlists" / "Evening (2).m3u8")
    assert push(provider, playlist_id).remote_id == first  # replaced, not duplicated
    assert sorted(p.name for p in provider.playlists()) == ["Evening", "Evening (2)"]
    assert "users/own" in (tmp_path / "playlists" / "Evening.m3u8").read_text()
    lines = [l for l in (tmp_path / "playlists" / first).read_text().splitlines() if not l.startswith("#")]
    assert [l.rsplit("/", 1)[1] for l in lines] == ["2.flac", "1.flac", "0.flac"]  # order kept
    with session_scope() as session:
        assert session.query(PlaylistPush).count() == 1


def test_delete_only_what_we_created(setup, tmp_path):
    provider, playlist_id, _ = setup
    remote = push(provider, playlist_id).remote_id
    users = provider.create_playlist("User list", [])
    with pytest.raises(NotOwned, match="did not create"):
        delete_owned(provider, users)
    delete_owned(provider, remote)
    assert [p.id for p in provider.playlists()] == [users]
    with session_scope() as session:
        assert session.query(PlaylistPush).count() == 0


def test_a_deleted_remote_playlist_is_created_again(setup, tmp_path):
    provider, playlist_id, _ = setup
    remote = push(provider, playlist_id).remote_id
    provider.delete_playlist(remote)  # the user removed it on the server
    assert push(provider, playlist_id).remote_id == remote
    with session_scope() as session:
        assert [p.remote_id for p in session.query(PlaylistPush)] == [remote]


def _road_trip() -> int:
    with session_scope() as session:
        track_ids = [row.id for row in session.query(Track).order_by(Track.id)]
    return record("Road trip", "manual", track_ids)


def test_a_users_file_in_a_new_playlist_dir_is_never_replaced(setup, tmp_path, music_dir):
    """Sonarium wrote "Road trip" in one folder; PLAYLIST_DIR then moves to a folder with the user's own."""
    first_dir, users_dir = tmp_path / "sonarium-lists", tmp_path / "my-lists"
    playlist_id = _road_trip()
    assert push(LocalProvider(music_dir, first_dir), playlist_id).note is None
    users_dir.mkdir()
    users = users_dir / "Road trip.m3u8"
    users.write_bytes(b"#EXTM3U\r\n/home/me/road/song.mp3\r\n")
    os.utime(users, (1_500_000_000, 1_500_000_000))

    provider = LocalProvider(music_dir, users_dir)
    pushed = push(provider, playlist_id)
    assert pushed.remote_id == str(users_dir / "Road trip (2).m3u8")
    assert "did not write" in pushed.note and "Road trip (2)" in pushed.note
    assert users.read_bytes() == b"#EXTM3U\r\n/home/me/road/song.mp3\r\n"
    assert users.stat().st_mtime == 1_500_000_000
    assert len((users_dir / "Road trip (2).m3u8").read_text().splitlines()) == 7  # header + 3 tracks

    again = push(provider, playlist_id)  # Sonarium's own file is replaced, no "(3)"
    assert (again.remote_id, again.note) == (pushed.remote_id, None)
    assert sorted(p.name for p in users_dir.iterdir()) == ["Road trip (2).m3u8", "Road trip.m3u8"]
    assert users.read_bytes() == b"#EXTM3U\r\n/home/me/road/song.mp3\r\n"


def test_a_users_edit_to_sonariums_file_is_kept(setup, tmp_path, music_dir):
    provider = setup[0]
    playlist_id = _road_trip()
    mine = push(provider, playlist_id).remote_id
    edited = open(mine, "rb").read() + b"/home/me/extra.flac\n"
    with open(mine, "wb") as out:  # the user adds a song to the file Sonarium wrote
        out.write(edited)

    pushed = push(provider, playlist_id)
    assert pushed.remote_id == str(tmp_path / "playlists" / "Road trip (2).m3u8")
    assert "changed" in pushed.note and "Road trip (2)" in pushed.note
    assert open(mine, "rb").read() == edited
    with pytest.raises(NotOwned):  # no longer Sonarium's to delete either
        delete_owned(provider, mine)
    assert os.path.exists(mine)
    assert push(provider, playlist_id).remote_id == pushed.remote_id
