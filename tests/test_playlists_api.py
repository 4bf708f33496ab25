"""Autocomplete and "create playlist", shared by the feature pages: real database, local provider on disk."""
import pytest
from sqlalchemy import select

from db.models import PLAYLIST_KINDS, Playlist, PlaylistItem, PlaylistPush
from db.session import session_scope
from tests.library import make_library
from tests.support import signed_in


@pytest.fixture
def library(env, music_dir):
    return make_library({"jazz": 4, "metal": 3}, music_dir=music_dir)


@pytest.fixture
def client(library, app):
    return signed_in(app.test_client(), "listener")   # creating playlists is a listener's right


@pytest.fixture
def playlist_dir(env):
    from pathlib import Path
    return Path(env["SONARIUM_DATA_DIR"]) / "playlists"


def test_search_tracks(client):
    answer = client.get("/api/search_tracks?q=jaz&limit=3")
    assert answer.status_code == 200
    tracks = answer.get_json()["tracks"]
    assert len(tracks) == 3 and all(t["title"].startswith("Jazz") for t in tracks)
    assert set(tracks[0]) >= {"id", "item_id", "title", "artist", "album", "duration_s"}
    for query, message in (("q=ja", "at least 3"), ("q=jazz&limit=0", "limit: Input should be greater"),
                           ("q=jazz&limit=x", "limit: Input should be a valid integer")):
        answer = client.get(f"/api/search_tracks?{query}")
        assert answer.status_code == 400 and message in answer.get_json()["error"]


def test_create_playlist_writes_the_tracks_in_order_and_records_it(client, library, playlist_dir):
    order = [library.item(name) for name in ("metal-2", "jazz-0", "jazz-3")]
    answer = client.post("/api/create_playlist", json={"name": "  My   mix ", "item_ids": order, "kind": "similar",
                                                       "params": {"seed": "metal-2"}})
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert made["name"] == "My mix" and made["tracks"] == 3 and made["provider"] == "local"
    assert made["remote_id"] == made["url"] == str(playlist_dir / "My mix.m3u8") and made["note"] is None
    lines = (playlist_dir / "My mix.m3u8").read_text().splitlines()
    assert [line.rsplit("/", 1)[1] for line in lines if not line.startswith("#")] == \
        ["metal-2.wav", "jazz-0.wav", "jazz-3.wav"]
    with session_scope() as session:
        playlist = session.get(Playlist, made["playlist_id"])
        assert (playlist.kind, playlist.params) == ("similar", {"seed": "metal-2"})
        items = session.scalars(select(PlaylistItem.track_id).where(PlaylistItem.playlist_id == playlist.id)
                                .order_by(PlaylistItem.position)).all()
        assert items == [library.ids[name] for name in ("metal-2", "jazz-0", "jazz-3")]

    again = client.post("/api/create_playlist", json={"name": "My mix", "item_ids": order[:1]}).get_json()
    assert again["remote_id"] == made["remote_id"]  # the playlist Sonarium made is replaced, not duplicated
    assert len([p for p in playlist_dir.iterdir() if p.suffix == ".m3u8"]) == 1
    with session_scope() as session:
        assert session.scalars(select(PlaylistPush.remote_id)).all() == [made["remote_id"]]


def test_create_playlist_says_when_a_users_file_has_the_name(client, library, playlist_dir):
    playlist_dir.mkdir(parents=True)
    (playlist_dir / "Road trip.m3u8").write_bytes(b"#EXTM3U\n/home/me/song.mp3\n")
    body = {"name": "Road trip", "item_ids": [library.item("jazz-1"), library.item("metal-0")]}
    made = client.post("/api/create_playlist", json=body).get_json()
    assert made["remote_id"] == str(playlist_dir / "Road trip (2).m3u8")
    assert "Road trip" in made["note"] and "did not write" in made["note"] and "Road trip (2)" in made["note"]
    assert (playlist_dir / "Road trip.m3u8").read_bytes() == b"#EXTM3U\n/home/me/song.mp3\n"
    again = client.post("/api/create_playlist", json=body).get_json()
    assert (again["remote_id"], again["note"]) == (made["remote_id"], None)


@pytest.mark.parametrize("body, message", [
    (None, "expected a JSON object"),
    ({"item_ids": ["a"]}, "name"),
    ({"name": "   ", "item_ids": ["a"]}, "name"),
    ({"name": "x" * 121, "item_ids": ["a"]}, "at most 120"),
    ({"name": "bad\u0007", "item_ids": ["a"]}, "printable"),
    ({"name": "ok", "item_ids": []}, "item_ids: List should have at least 1 item"),
    ({"name": "ok", "item_ids": "abc"}, "item_ids: Input should be a valid list"),
    ({"name": "ok", "item_ids": [1, 2]}, "item_ids.0: Input should be a valid string"),
    ({"name": "ok", "item_ids": ["a", "a"]}, "listed more than once"),
    ({"name": "ok", "item_ids": ["a"], "kind": "mystery"}, "kind"),
    ({"name": "ok", "item_ids": ["a"], "params": []}, "params"),
])
def test_create_playlist_refuses_bad_requests(client, body, message):
    answer = client.post("/api/create_playlist", json=body) if body is not None else \
        client.post("/api/create_playlist", data="not json", content_type="application/json")
    assert answer.status_code == 400 and message in answer.get_json()["error"]


def test_create_playlist_names_unknown_and_repeated_ids(client, library):
    known = library.item("jazz-0")
    answer = client.post("/api/create_playlist", json={"name": "x", "item_ids": [known, "nope"]})
    assert answer.status_code == 400 and "nope" in answer.get_json()["error"]
    answer = client.post("/api/create_playlist", json={"name": "x", "item_ids": [known, known]})
    assert answer.status_code == 400 and "more than once" in answer.get_json()["error"]
    with session_scope() as session:
        assert session.scalars(select(Playlist)).all() == []


def test_a_dead_media_server_is_a_clear_502_and_the_playlist_is_kept(env, monkeypatch):
    from app import create_app
    from db.models import Track
    with session_scope() as session:
        session.add(Track(provider="navidrome", item_id="song-1", title="One"))
    monkeypatch.setenv("MEDIASERVER_TYPE", "navidrome")
    monkeypatch.setenv("NAVIDROME_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NAVIDROME_USER", "me")
    monkeypatch.setenv("NAVIDROME_PASSWORD", "secret-pw")
    client = signed_in(create_app({"TESTING": True}).test_client())
    answer = client.post("/api/create_playlist", json={"name": "Mix", "item_ids": ["song-1"]})
    assert answer.status_code == 502
    error = answer.get_json()["error"]
    assert "Navidrome" in error and "kept in Sonarium" in error and "secret-pw" not in error
    with session_scope() as session:
        assert [p.name for p in session.scalars(select(Playlist))] == ["Mix"]


def test_each_server_says_where_its_playlist_opens():
    from mediaserver.jellyfin import EmbyProvider, JellyfinProvider
    from mediaserver.lyrion import LyrionProvider
    from mediaserver.navidrome import NavidromeProvider
    assert NavidromeProvider("http://nd:4533/", "u", "p").playlist_url("a b") == "http://nd:4533/app/#/playlist/a%20b/show"
    assert JellyfinProvider("http://jf:8096", "u", "t").playlist_url("abc") == "http://jf:8096/web/#/details?id=abc"
    assert EmbyProvider("http://emby:8096/emby", "u", "t").playlist_url("7") == \
        "http://emby:8096/web/index.html#!/item?id=7"
    assert LyrionProvider("http://lms:9000").playlist_url("3") is None


@pytest.mark.parametrize("kind", PLAYLIST_KINDS)
def test_every_kind_the_database_keeps_is_accepted(client, library, kind):
    answer = client.post("/api/create_playlist", json={"name": f"A {kind} list", "kind": kind,
                                                       "item_ids": [library.item("jazz-1")]})
    assert answer.status_code == 201, answer.get_json()


def test_order_tracks_puts_a_set_in_playing_order(library, client):
    items = [library.item(name) for name in ("metal-0", "jazz-0", "metal-1", "jazz-1", "jazz-2")]
    answer = client.post("/api/order_tracks", json={"item_ids": items})
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert sorted(t["item_id"] for t in body["tracks"]) == sorted(items)
    assert body["order"]["order"] == "smooth" and "distance" not in body["tracks"][0]
    groups = [library.group_of(next(n for n in library.item_ids if library.item(n) == t["item_id"]))
              for t in body["tracks"]]
    assert groups in (["jazz"] * 3 + ["metal"] * 2, ["metal"] * 2 + ["jazz"] * 3)   # one crossing, not four
    kept = client.post("/api/order_tracks", json={"item_ids": items, "keep_first": True, "shape": "rising"}).json
    assert kept["tracks"][0]["item_id"] == items[0] and kept["tracks"][0]["why"]["text"] == "the first song"
    bad = client.post("/api/order_tracks", json={"item_ids": [items[0], "nothing-here"]})
    assert bad.status_code == 400 and "nothing-here" in bad.json["error"]
    assert client.post("/api/order_tracks", json={"item_ids": []}).status_code == 400
