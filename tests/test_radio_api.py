"""POST /api/radio on a real database and index: the next songs after the seeds, spaced, ordered, explained."""
from collections import Counter

import pytest

from tests.library import make_library
from tests.support import signed_in


@pytest.fixture
def made(env):
    return make_library({"jazz": 24, "metal": 24, "ambient": 24}, artists_per_group=8, with_tags=True, extra=[
        {"item_id": "jazz-0-live", "title": "Jazz 0 (Live)", "artist": "Jazz artist 0", "like": "jazz-0",
         "noise": 0.3}])


def _client(role="listener"):
    from app import create_app
    return signed_in(create_app({"TESTING": True}).test_client(), role)


def _radio(client, status=200, **body):
    answer = client.post("/api/radio", json=body)
    assert answer.status_code == status, answer.json
    return answer.json


def test_the_next_songs_follow_the_seeds(made):
    seeds = [made.item("metal-3"), made.item("jazz-0"), made.item("jazz-1")]
    avoid = [made.item(f"jazz-{n}") for n in range(2, 6)]
    body = _radio(_client(), seeds=seeds, avoid=avoid, n=6)     # 8 jazz artists, 2 just played: 6 left
    shown = [t["item_id"] for t in body["tracks"]]
    assert len(shown) == 6 and not set(shown) & set(seeds + avoid)
    assert made.item("jazz-0-live") not in shown                           # another recording of a seed
    assert all(made.group_of(item) == "jazz" for item in shown), [made.group_of(i) for i in shown]
    artists = Counter(t["artist"] for t in body["tracks"])
    assert max(artists.values()) == 1                                      # 12.5 % of 6: one song each
    assert not {"Jazz artist 0", "Jazz artist 1"} & set(artists)           # not the artists just played
    assert body["relaxed"] == [] and body["unknown_seeds"] == []
    assert [s["item_id"] for s in body["seeds"]] == seeds
    assert body["order"]["order"] == "smooth"
    first = body["tracks"][0]["why"]
    assert first["text"] and first["closeness"] in ("very close", "close", "related")


def test_rules_relax_in_steps_and_say_so(env):
    small = make_library({"jazz": 6}, artists_per_group=2)     # two artists, both just played
    body = _radio(_client(), seeds=[small.item("jazz-0"), small.item("jazz-1")], n=4)
    assert len(body["tracks"]) == 4
    assert body["relaxed"] == ["the artists just played may come back", "an artist may have more than 1 of the songs"]


def test_unknown_seeds_are_skipped_and_named(made):
    body = _radio(_client(), seeds=["nothing-here", made.item("ambient-2")], n=5)
    assert body["unknown_seeds"] == ["nothing-here"] and len(body["tracks"]) == 5
    assert _radio(_client(), 404, seeds=["nothing-here"])["error"] == (
        "none of the seeds is analysed and in the similarity index yet")


@pytest.mark.parametrize("body", [{}, {"seeds": []}, {"seeds": ["a"] * 21}, {"seeds": ["a"], "n": 0},
                                  {"seeds": ["a"], "n": 101}, {"seeds": ["a"], "avoid": ["b"] * 101},
                                  {"seeds": ["a"], "order": "random"}, {"seeds": "a"}, {"seeds": ["a"], "x": 1}])
def test_bad_bodies_are_400(made, body):
    answer = _client().post("/api/radio", json=body)
    assert answer.status_code == 400 and answer.json["error"]


def test_wrong_method_and_no_index(env):
    client = _client()
    assert client.get("/api/radio").status_code == 405
    assert _radio(client, 503, seeds=["a"])["error"].startswith("no similarity index yet")
