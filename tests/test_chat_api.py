"""POST /api/chat on a real database and index: requests in plain words answered, follow-ups, errors."""
import time
from collections import Counter

import pytest

from tests.ai_fakes import Reply, quick_retries, serve  # noqa: F401 (fixtures)
from tests.library import make_library
from tests.support import signed_in

# tests/library.py with_tags: jazz is tagged "rock", danceable, ~70 BPM; metal "00s", aggressive,
# ~95 BPM; ambient "classic rock", happy, ~120 BPM.
GROUPS = {"jazz": 10, "metal": 10, "ambient": 10}


@pytest.fixture
def made(env):
    return make_library(GROUPS, with_tags=True)


def _client(role="admin"):
    from app import create_app
    return signed_in(create_app({"TESTING": True}).test_client(), role)


def _ask(client, message, previous=None):
    answer = client.post("/api/chat", json={"message": message, "previous_plan": previous})
    assert answer.status_code == 200, answer.json
    return answer.json


def _groups(made, body):
    return [made.group_of(t["item_id"]) for t in body["answer"]["tracks"]]


@pytest.mark.parametrize("message, group, size", [
    ("aggressive songs, 8 songs", "metal", 8),
    ("happy music around 120 bpm, 6 songs", "ambient", 6),
    ("slow danceable songs, 5 songs", "jazz", 5),
])
def test_requests_are_answered_from_the_library(made, message, group, size):
    body = _ask(_client(), message)
    assert body["mode"] == "no-ai"
    assert body["plan"]["size"] == size and body["description"].startswith(f"{size} songs")
    assert _groups(made, body) == [group] * size, body["description"]
    assert set(body["answer"]) == {"tracks", "held", "relaxed", "unresolved", "sql"}
    assert body["answer"]["sql"] is None
    track = body["answer"]["tracks"][0]
    assert {"item_id", "title", "artist", "album", "score"} <= set(track)
    assert body["order"]["order"] == "smooth" and isinstance(track["why"]["misses"], list) and track["why"]["text"]
    ranked = _client().post("/api/chat", json={"message": message, "order": "ranked"}).json
    scores = [t["score"] for t in ranked["answer"]["tracks"]]
    assert scores == sorted(scores) and ranked["order"]["order"] == "ranked"
    assert sorted(t["item_id"] for t in ranked["answer"]["tracks"]) == sorted(t["item_id"] for t in
                                                                                body["answer"]["tracks"])


def test_a_follow_up_refines_the_previous_plan(made):
    client = _client()
    first = _ask(client, "danceable songs, 6 songs")
    assert _groups(made, first) == ["jazz"] * 6
    capped = _ask(client, "no more than 1 per artist", first["plan"])
    assert capped["plan"]["max_per_artist"] == 1
    assert capped["plan"]["moods"] == first["plan"]["moods"] and capped["plan"]["size"] == 6
    assert "at most 1 per artist" in capped["description"]
    artists = Counter(t["artist"] for t in capped["answer"]["tracks"])
    assert max(artists.values()) == 1
    assert _groups(made, capped)[:3] == ["jazz"] * 3      # the three jazz artists first, then others
    # the same words without the previous plan start anew
    fresh = _ask(client, "no more than 1 per artist")
    assert fresh["plan"]["moods"] == [] and fresh["plan"]["size"] != 6


def test_an_over_constrained_or_unknown_request_still_answers(made):
    body = _ask(_client(), "aggressive songs at 120 bpm like Nothing Such Here, 4 songs")
    assert len(body["answer"]["tracks"]) == 4
    assert body["answer"]["relaxed"]                        # no metal song is at 120 BPM
    assert body["answer"]["unresolved"] == ["Nothing Such Here"]


@pytest.mark.parametrize("body", [
    {}, {"message": ""}, {"message": "x" * 501}, {"message": 5}, {"message": "calm", "extra": 1},
    {"message": "calm", "previous_plan": {"size": 0}}, {"message": "calm", "previous_plan": {"colour": "blue"}},
    {"message": "calm", "previous_plan": "calm"}, [],
])
def test_bad_bodies_are_400(made, body):
    answer = _client().post("/api/chat", json=body)
    assert answer.status_code == 400 and answer.json["status"] == 400 and answer.json["error"]


def test_wrong_method_and_form_body(made):
    client = _client()
    answer = client.post("/api/chat", data="message=calm", content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400 and answer.is_json
    assert client.get("/api/chat").status_code == 405


def test_no_index_yet_is_503(env):
    answer = _client().post("/api/chat", json={"message": "calm piano"})
    assert answer.status_code == 503 and "no similarity index yet" in answer.json["error"]


def test_a_listener_may_chat_and_open_the_page(made):
    client = _client("listener")
    assert _ask(client, "aggressive songs, 3 songs")["answer"]["tracks"]
    page = client.get("/chat")
    assert page.status_code == 200 and b'id="chat-form"' in page.data


def test_the_ai_from_the_settings_plans_the_request(env, serve, monkeypatch):
    import settings_store
    api = serve("ollama").reply(Reply(call={"include_tags": ["metal"], "size": 4}))
    make_library({"jazz": 6, "metal": 6}, with_tags=True)
    settings_store.save({"AI_PROVIDER": "ollama", "AI_URL": api.url, "AI_MODEL": "test-model"})
    client = _client()
    answer = client.post("/api/chat", json={"message": "something heavy"})
    assert answer.status_code == 200, answer.json
    assert answer.json["mode"] == "ai" and answer.json["note"] is None and api.problems == []
    assert answer.json["plan"]["include_tags"] == ["metal"] and len(answer.json["answer"]["tracks"]) == 4


def test_a_silent_ai_never_holds_the_request_past_the_wait(env, serve, monkeypatch):
    import app_chat
    monkeypatch.setattr(app_chat, "AI_WAIT_SECONDS", 0.5)
    api = serve("ollama").reply(Reply(call={"size": 3}, delay=3.0))
    make_library({"jazz": 6, "metal": 6}, with_tags=True)
    client = _client()
    started = time.monotonic()
    answer = client.post("/api/chat", json={"message": "heavy metal",
                                            "ai": {"provider": "ollama", "url": api.url, "model": "m"}})
    assert time.monotonic() - started < 2.5
    assert answer.status_code == 200 and answer.json["mode"] == "no-ai"
    assert "did not answer within 0.5 s" in answer.json["note"]


def test_only_admins_name_an_ai_server(made):
    body = {"message": "jazz", "ai": {"provider": "ollama", "url": "http://192.168.1.1:11434"}}
    assert _client("listener").post("/api/chat", json=body).status_code == 403
    bad = _client().post("/api/chat", json={"message": "jazz", "ai": {"provider": "ollama", "url": "ftp://x"}})
    assert bad.status_code == 400 and bad.json["error"].startswith("ai:")


def test_a_request_understood_not_at_all_says_so_and_spreads_over_the_library(made):
    body = _ask(_client(), "marching music for an army, 9 songs")
    assert body["description"] == "9 songs" and "no word of the request named" in body["note"]
    assert len(set(_groups(made, body))) > 1          # not the first nine tracks added (all jazz)
    assert "no word" not in (_ask(_client(), "aggressive songs, 3 songs")["note"] or "")
