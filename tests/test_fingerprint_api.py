"""POST /api/sonic_fingerprint: a play log read by the real local provider, weights, credentials, errors."""
import datetime as dt
import logging
import math

import pytest

from mediaserver.base import AuthFailed, NotSupported, PlayRecord, Unreachable
from similarity import fingerprint
from tests.audio import write_wav
from tests.library import make_library, write_play_log
from tests.support import signed_in

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)


def _app():
    from app import create_app
    return signed_in(create_app({"TESTING": True}).test_client())


def test_play_log_becomes_seeds_then_neighbours(env, music_dir, tmp_path, monkeypatch):
    made = make_library({"jazz": 30, "metal": 30, "ambient": 30}, music_dir=music_dir)
    plays = ([("jazz-0", NOW - dt.timedelta(hours=h)) for h in range(5)]
             + [("jazz-1", NOW - dt.timedelta(days=d)) for d in (1, 2, 3)]
             + [("metal-0", NOW - dt.timedelta(days=730))]           # played once, two years ago
             + [("Unanalysed/new.wav", NOW)])                        # in the log, not in the library
    write_play_log(tmp_path / "plays.log", plays)
    monkeypatch.setenv("LOCAL_PLAY_LOG", str(tmp_path / "plays.log"))
    client = _app()

    answer = client.post("/api/sonic_fingerprint", json={"n": 40, "order": "ranked"})
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["history"] == {"records": 4, "matched": 3}
    assert [s["item_id"] for s in body["seeds"]] == [made.item(name) for name in ("jazz-0", "jazz-1", "metal-0")]
    assert [s["play_count"] for s in body["seeds"]] == [5, 3, 1]
    assert body["seeds"][0]["weight"] == pytest.approx(math.log1p(5), abs=1e-3)
    assert body["seeds"][1]["weight"] == pytest.approx(math.log1p(3) * 0.5 ** (1 / 90), abs=1e-3)
    assert body["seeds"][2]["weight"] < 0.01
    tracks = body["tracks"]
    assert len(tracks) == 40 and len({t["id"] for t in tracks}) == 40
    assert [t["seed"] for t in tracks[:3]] == [True] * 3 and not any(t["seed"] for t in tracks[3:])
    assert [t["distance"] for t in tracks[:3]] == [None] * 3
    distances = [t["distance"] for t in tracks[3:]]
    assert distances == sorted(distances)
    by_id = {track_id: item_id for item_id, track_id in made.ids.items()}
    kinds = [made.group_of(by_id[t["id"]]) for t in tracks[3:]]
    assert kinds[:28] == ["jazz"] * 28          # every other jazz song first: the old metal play barely counts

    smooth = client.post("/api/sonic_fingerprint", json={"n": 40}).json      # the default: in playing order
    assert smooth["order"]["order"] == "smooth" and sorted(t["id"] for t in smooth["tracks"]) == sorted(
        t["id"] for t in tracks)
    assert all(t["why"]["text"].startswith("one of your most played") == t["seed"] for t in smooth["tracks"])


def test_weights_decay_by_half_life_and_grow_with_log_plays():
    assert fingerprint.play_weight(1, 0) == pytest.approx(math.log(2))
    assert fingerprint.play_weight(0, 0) == fingerprint.play_weight(1, 0)     # marked played, count 0
    assert fingerprint.play_weight(10, fingerprint.HALF_LIFE_DAYS) == pytest.approx(math.log1p(10) / 2)
    assert fingerprint.play_weight(100, 0) < 10 * fingerprint.play_weight(10, 0) / 2
    assert fingerprint.play_weight(3, -5) == fingerprint.play_weight(3, 0)   # clock skew is not a bonus
    records = [PlayRecord("a", 4, NOW - dt.timedelta(days=365)), PlayRecord("b", 4, NOW),
               PlayRecord("c", 4, None)]
    old, newest, undated = fingerprint.weigh(records)
    assert newest == pytest.approx(math.log1p(4))                    # ages count from the newest play
    assert old == pytest.approx(newest * 0.5 ** (365 / 90))
    assert undated == pytest.approx(newest / 2)


class FakeProvider:
    """Stands in for a remote media server: records what settings built it, answers with `history`."""

    type = "local"
    label = "Fake server"
    built_with = None

    def __init__(self, history=None, error=None):
        self.history, self.error = history or [], error

    def listening_history(self, limit=500):
        if self.error:
            raise self.error
        return self.history


def _fake(monkeypatch, provider):
    import app_alchemy

    def build(settings):
        FakeProvider.built_with = settings
        return provider
    monkeypatch.setattr(app_alchemy, "provider_for", build)


def test_seeds_are_capped_at_a_quarter_and_songs_not_repeated(env, monkeypatch):
    extra = [{"item_id": "jazz-0-live", "title": "Jazz 0 (Live)", "artist": "Jazz artist 0", "like": "jazz-0"}]
    make_library({"jazz": 30, "metal": 30}, extra=extra)
    history = ([PlayRecord("jazz-0-live", 50, NOW)]
               + [PlayRecord(f"jazz-{i}", 20 - i, NOW) for i in range(15)])
    _fake(monkeypatch, FakeProvider(history))
    body = _app().post("/api/sonic_fingerprint", json={"n": 40}).json
    seeds = [s["item_id"] for s in body["seeds"]]
    assert seeds == ["jazz-0-live"] + [f"jazz-{i}" for i in range(1, 10)]       # 40 // 4; jazz-0 = the live one
    items = [t["item_id"] for t in body["tracks"]]
    assert len(items) == 40 and "jazz-0" not in items and len(set(items)) == 40


def test_credentials_travel_in_the_body_and_are_never_logged(env, monkeypatch, caplog):
    make_library({"jazz": 45})
    for name, value in (("MEDIASERVER_TYPE", "navidrome"), ("NAVIDROME_URL", "http://127.0.0.1:9"),
                        ("NAVIDROME_USER", "admin"), ("NAVIDROME_PASSWORD", "saved-password")):
        monkeypatch.setenv(name, value)
    client = _app()
    caplog.set_level(logging.DEBUG)
    # the real Navidrome provider, on a port nobody listens on: unreachable, and the secret stays out of sight
    answer = client.post("/api/sonic_fingerprint",
                         json={"n": 40, "credentials": {"user": "alice", "password": "s3cret-Pw"}})
    assert answer.status_code == 502 and "cannot reach" in answer.json["error"]
    assert "s3cret-Pw" not in answer.get_data(as_text=True) and "s3cret-Pw" not in caplog.text

    _fake(monkeypatch, FakeProvider([PlayRecord("jazz-3", 2, NOW)]))
    answer = client.post("/api/sonic_fingerprint",
                         json={"n": 40, "credentials": {"user": "alice", "password": "s3cret-Pw"}})
    assert answer.status_code == 200 and answer.json["seeds"][0]["item_id"] == "jazz-3"
    assert FakeProvider.built_with.navidrome_user == "alice"
    assert FakeProvider.built_with.navidrome_password == "s3cret-Pw"
    client.post("/api/sonic_fingerprint", json={"n": 40, "credentials": {"user": "", "password": ""}})
    assert FakeProvider.built_with.navidrome_password == "saved-password"     # blank: the saved ones

    _fake(monkeypatch, FakeProvider(error=AuthFailed("Navidrome answered 401: wrong user or password")))
    answer = client.post("/api/sonic_fingerprint", json={"credentials": {"user": "alice", "password": "bad"}})
    assert answer.status_code == 401 and "wrong user or password" in answer.json["error"]
    assert client.post("/api/sonic_fingerprint", json={}).status_code == 502    # the saved ones refused

    answer = client.post("/api/sonic_fingerprint", json={"credentials": {"token": "x"}})
    assert answer.status_code == 400
    assert "takes no credential token (accepted: user, password)" in answer.json["error"]
    answer = client.post("/api/sonic_fingerprint", json={"credentials": {"user": 5}})
    assert answer.status_code == 400 and '"user" must be a string' in answer.json["error"]
    assert "s3cret-Pw" not in caplog.text


def test_jellyfin_takes_user_id_and_token(env, monkeypatch):
    make_library({"jazz": 45})
    for name, value in (("MEDIASERVER_TYPE", "jellyfin"), ("JELLYFIN_URL", "http://127.0.0.1:9"),
                        ("JELLYFIN_USER_ID", "saved"), ("JELLYFIN_TOKEN", "saved-token")):
        monkeypatch.setenv(name, value)
    _fake(monkeypatch, FakeProvider([PlayRecord("jazz-3", 2, NOW)]))
    answer = _app().post("/api/sonic_fingerprint", json={"credentials": {"user_id": "u2", "token": "t2"}})
    assert answer.status_code == 200
    assert (FakeProvider.built_with.jellyfin_user_id, FakeProvider.built_with.jellyfin_token) == ("u2", "t2")


@pytest.mark.parametrize("error, status, message", [
    (NotSupported("Lyrion does not report listening history"), 409, "does not report listening history"),
    (Unreachable("cannot reach http://host:4533: connection refused"), 502, "cannot reach"),
])
def test_provider_failures_are_clear_json(env, monkeypatch, error, status, message):
    make_library({"jazz": 3})
    _fake(monkeypatch, FakeProvider(error=error))
    answer = _app().post("/api/sonic_fingerprint", json={})
    assert answer.status_code == status and message in answer.json["error"]


def test_without_a_play_log_empty_or_unanalysed_history_is_409(env, music_dir, tmp_path, monkeypatch):
    make_library({"jazz": 3}, music_dir=music_dir)
    client = _app()
    answer = client.post("/api/sonic_fingerprint", json={})
    assert answer.status_code == 409 and "LOCAL_PLAY_LOG" in answer.json["error"]

    log = tmp_path / "plays.log"
    log.write_text("")
    monkeypatch.setenv("LOCAL_PLAY_LOG", str(log))
    answer = client.post("/api/sonic_fingerprint", json={})
    assert answer.status_code == 409 and "no listening history yet" in answer.json["error"]

    write_wav(music_dir / "Other" / "a.wav", 0.05)
    write_play_log(log, [("Other/a.wav", NOW), ("Other/b.wav", NOW)])
    answer = client.post("/api/sonic_fingerprint", json={})
    assert answer.status_code == 409
    assert "none of the 2 played tracks is analysed yet" in answer.json["error"]

    write_play_log(log, [("jazz-0", NOW)])          # a library of 3 tracks, one of them played
    body = client.post("/api/sonic_fingerprint", json={}).json
    assert [t["seed"] for t in body["tracks"]] == [True, False, False]


@pytest.mark.parametrize("body, message", [
    ({"n": 39}, "n: Input should be greater than or equal to 40"),
    ({"n": 201}, "n: Input should be less than or equal to 200"),
    ({"n": "50"}, "n: Input should be a valid integer"),
    ({"credentials": "user:pw"}, "credentials: Input should be a valid dictionary"),
    ({"credentials": {"user": "x"}}, "takes no credential user (accepted: none)"),
    ([1], "expected a JSON object"),
])
def test_malformed_bodies_are_400(env, body, message):
    make_library({"jazz": 3})
    answer = _app().post("/api/sonic_fingerprint", json=body)
    assert answer.status_code == 400 and message in answer.json["error"], answer.json


def test_get_is_405_json_and_no_index_is_503(env):
    client = _app()
    answer = client.get("/api/sonic_fingerprint?user=a&password=b")
    assert answer.status_code == 405 and answer.is_json
    answer = client.post("/api/sonic_fingerprint", json={})
    assert answer.status_code == 503 and "no similarity index yet" in answer.json["error"]
