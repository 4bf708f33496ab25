"""The local folder provider on real files, odd ones included."""
import json
import os
import threading

import pytest

from mediaserver.base import DownloadTooLarge, NotFound, NotSupported, ProviderError
from mediaserver.local import LocalProvider, encode_id
from tests.audio import flac


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "music"
    old = root / "Old Artist" / "Old Album"
    flac(old / "02 second.flac", title="Second", artist="Old Artist", album="Old Album", tracknumber="2", date="1999")
    flac(old / "01 first.flac", title="First", artist="Old Artist", album="Old Album", tracknumber="1/10")
    new = root / "New"
    flac(new / "a.flac", title="A", artist="X", album="Album A", tracknumber="1")
    flac(new / "b.flac", title="B", artist="Y", album="Album B", tracknumber="1")
    flac(new / "untagged.flac", seconds=2.0)
    weird = os.fsdecode(os.fsencode(str(root / "Weird")) + b"/caf\xe9 \xff.flac")
    flac(root / "Weird" / "placeholder.flac")
    os.rename(root / "Weird" / "placeholder.flac", weird)
    os.symlink(old / "01 first.flac", new / "linked.flac")
    os.symlink(root / "gone.flac", new / "dangling.flac")
    os.mkfifo(new / "pipe.mp3")  # must be skipped, never opened (it would block)
    (new / "cover.jpg").write_bytes(b"\xff\xd8")
    for path, age in ((old, 3000), (root / "Weird", 2000), (new, 1000)):
        for file in path.iterdir():
            if file.is_file() and not file.is_symlink():
                os.utime(file, (os.path.getatime(file), os.path.getmtime(file) - age))
    provider = LocalProvider(root, tmp_path / "playlists")
    return provider, root


def test_albums_newest_first_by_folder_and_tag(library):
    provider, _ = library
    names = [album.name for album in provider.albums(0, 100)]
    # "New" holds untagged files (album named after the folder), two tagged albums and
    # a symlink to a track of "Old Album", which keeps its own album tag.
    assert names == ["New", "Album A", "Album B", "Old Album", "Weird", "Old Album"]
    assert [a.name for a in provider.albums(1, 2)] == names[1:3]
    assert [a.name for a in provider.iter_albums(page=2)] == names
    old = provider.albums(5, 1)[0]
    assert (old.artist, old.year, old.track_count) == ("Old Artist", 1999, 2)
    json.dumps([a.name for a in provider.albums()])  # every name is valid text


def test_album_tracks_in_order_with_fields(library):
    provider, _ = library
    old = provider.albums(5, 1)[0]
    tracks = provider.album_tracks(old.id)
    assert [(t.track_number, t.title) for t in tracks] == [(1, "First"), (2, "Second")]
    assert tracks[0].format == "flac" and tracks[0].duration == pytest.approx(1.0, abs=0.01)
    untagged_album = next(a for a in provider.albums() if a.name == "New")
    assert [t.title for t in provider.album_tracks(untagged_album.id)] == ["untagged"]  # title from the file name


def test_odd_names_symlinks_fifos(library):
    provider, root = library
    weird = next(a for a in provider.albums() if a.name == "Weird")
    [track] = provider.album_tracks(weird.id)
    assert "\ufffd" in track.title  # undecodable bytes shown, not crashed on
    assert provider.path_of(track.id).name.encode("utf-8", "surrogateescape") == b"caf\xe9 \xff.flac"
    new = [a for a in provider.albums() if a.name in ("Album A", "Album B", "New")]
    ids = {t.id for a in new for t in provider.album_tracks(a.id)}
    names = {provider.path_of(i).name for i in ids}
    assert "pipe.mp3" not in names and "dangling.flac" not in names


def test_ids_are_stable_and_confined(library, tmp_path):
    provider, root = library
    first = {t.title: t.id for a in provider.albums() for t in provider.album_tracks(a.id)}
    os.rename(root / "New" / "b.flac", root / "New" / "b-renamed.flac")
    again = LocalProvider(root, tmp_path / "playlists")
    second = {t.title: t.id for a in again.albums() for t in again.album_tracks(a.id)}
    assert first["A"] == second["A"] and first["First"] == second["First"]
    for bad in (encode_id(b"../../etc/passwd"), encode_id(b"/etc/passwd"), "!!not base64!!"):
        with pytest.raises(NotFound):
            provider.path_of(bad)


def test_download_copies_and_cleans_up(library, tmp_path):
    provider, root = library
    old = provider.albums(5, 1)[0]
    track = provider.album_tracks(old.id)[0]
    dest = tmp_path / "dest"
    dest.mkdir()
    copy = provider.download(track.id, dest)
    assert copy.read_bytes() == (root / "Old Artist" / "Old Album" / "01 first.flac").read_bytes()
    assert copy.suffix == ".flac"
    copy.unlink()
    with pytest.raises(DownloadTooLarge, match="over the"):
        provider.download(track.id, dest, max_bytes=100)
    assert list(dest.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_gives_a_clear_error(library, tmp_path):
    provider, root = library
    target = root / "New" / "a.flac"
    target.chmod(0)
    try:
        track_id = encode_id(b"New/a.flac")
        dest = tmp_path / "dest"
        dest.mkdir()
        with pytest.raises(ProviderError, match="cannot read a.flac"):
            provider.download(track_id, dest)
        assert list(dest.iterdir()) == []
    finally:
        target.chmod(0o644)


def test_playlists_written_replaced_listed_deleted(library, tmp_path):
    provider, root = library
    tracks = provider.album_tracks(provider.albums(5, 1)[0].id)
    ids = [tracks[1].id, tracks[0].id]
    playlist_id = provider.create_playlist("Mix: best/of", ids)
    assert playlist_id == str(tmp_path / "playlists" / "Mix_ best_of.m3u8")  # ids are absolute paths
    lines = (tmp_path / "playlists" / "Mix_ best_of.m3u8").read_text().splitlines()
    assert lines[0] == "#EXTM3U" and lines[2].endswith("02 second.flac") and lines[4].endswith("01 first.flac")
    second = provider.create_playlist("Mix: best/of", ids[:1])
    assert second == str(tmp_path / "playlists" / "Mix_ best_of (2).m3u8")
    assert provider.replace_playlist(playlist_id, "Mix", ids[:1]) == playlist_id
    listed = {p.id: (p.name, p.track_count) for p in provider.playlists()}
    assert listed == {playlist_id: ("Mix_ best_of", 1), second: ("Mix_ best_of (2)", 1)}
    provider.delete_playlist(playlist_id)
    assert [p.id for p in provider.playlists()] == [second]
    elsewhere = tmp_path / "music" / "x.m3u8"
    elsewhere.write_text("#EXTM3U\n")
    for bad in ("../music/x.m3u8", str(elsewhere), str(tmp_path / "playlists" / ".." / "music" / "x.m3u8"),
                "Mix_ best_of (2).m3u8", "nope.txt", str(tmp_path / "playlists" / "missing.m3u8")):
        with pytest.raises(NotFound):
            provider.delete_playlist(bad)
    with pytest.raises(NotFound):
        provider.create_playlist("bad", [encode_id(b"../outside.flac")])
    assert not any(p.name.startswith(".sonarium-") for p in (tmp_path / "playlists").iterdir())


def test_listening_history_from_a_play_log(library, tmp_path):
    provider, root = library
    with pytest.raises(NotSupported, match="LOCAL_PLAY_LOG"):
        provider.listening_history()
    log = tmp_path / "plays.log"
    log.write_text("2026-11-01T10:00:00\tNew/a.flac\n"
                   f"2026-11-02T10:00:00+00:00\t{root}/New/a.flac\n"
                   "garbage line\n"
                   "2026-11-03T09:00:00\tNew/b.flac\n")
    provider = LocalProvider(root, tmp_path / "playlists", log)
    history = provider.listening_history()
    assert [(r.track_id, r.play_count) for r in history] == [(encode_id(b"New/a.flac"), 2),
                                                            (encode_id(b"New/b.flac"), 1)]
    assert history[0].last_played.isoformat() == "2026-11-02T10:00:00+00:00"


def test_connection_messages(library, tmp_path):
    provider, root = library
    assert provider.test_connection().endswith(": 3 folders with audio files")  # New, Weird, Old Album
    with pytest.raises(ProviderError, match="does not exist"):
        LocalProvider(tmp_path / "nowhere", tmp_path).test_connection()


def test_listing_never_blocks_on_a_fifo(library):
    provider, _ = library
    done = threading.Event()
    thread = threading.Thread(target=lambda: (provider.albums(), done.set()), daemon=True)
    thread.start()
    assert done.wait(10)


def test_read_failure_during_download_leaves_nothing(library, tmp_path, monkeypatch):
    """The same path as an unreadable file, reachable as root too: the read itself fails."""
    import builtins
    provider, root = library
    real_open = builtins.open

    def refusing_open(path, *args, **kwargs):
        if str(path).endswith("a.flac"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(builtins, "open", refusing_open)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ProviderError, match="cannot read a.flac: Permission denied"):
        provider.download(encode_id(b"New/a.flac"), dest)
    assert list(dest.iterdir()) == []
    monkeypatch.undo()
    album = next(a for a in provider.albums() if a.name == "Album A")
    assert [t.title for t in provider.album_tracks(album.id)] == ["A"]


def test_playlist_files_are_world_readable_whatever_the_umask(library, tmp_path):
    """A media server running as another user must be able to read the playlists."""
    provider, _ = library
    tracks = provider.album_tracks(provider.albums(5, 1)[0].id)
    old_umask = os.umask(0o077)
    try:
        made = provider.create_playlist("Shared", [tracks[0].id])
        written = tmp_path / "playlists" / "Shared.m3u8"
        assert written.stat().st_mode & 0o777 == 0o644
        provider.replace_playlist(made, "Shared", [t.id for t in tracks])
        assert written.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old_umask)


def test_a_path_that_is_not_utf8_is_written_as_its_exact_bytes(library, tmp_path):
    provider, root = library
    latin1 = os.fsencode(str(root / "Weird")) + b"/caf\xe9.flac"
    flac(tmp_path / "plain.flac", title="Caf\u00e9", artist="Edith")
    os.rename(tmp_path / "plain.flac", latin1)
    made = provider.create_playlist("Paris", [encode_id(b"Weird/caf\xe9.flac"), encode_id(b"Weird/caf\xe9 \xff.flac")])
    lines = (tmp_path / "playlists" / "Paris.m3u8").read_bytes().split(b"\n")
    assert lines[1] == "#EXTINF:-1,Edith - Café".encode()
    assert lines[2] == latin1 and lines[4] == os.fsencode(str(root / "Weird")) + b"/caf\xe9 \xff.flac"
    for entry in (lines[2], lines[4]):
        with open(entry, "rb") as opened:  # the entry opens the track itself
            assert opened.read(4) == b"fLaC"
    assert {p.id: p.track_count for p in provider.playlists()} == {made: 2}
