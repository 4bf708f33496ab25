"""Songs kept out of generated playlists (similarity/exclusions.py): the rules, the index, the chat, clustering."""
from __future__ import annotations

import pytest

from config import ConfigError
from similarity import exclusions
from similarity.exclusions import Rules
from tests.library import make_library
from tests.support import signed_in


@pytest.fixture
def made(env, music_dir):
    """30 tracks, and three that rules catch: a 2 s test tone, a 2 h DJ mix, an audiobook chapter."""
    from db.models import Track
    from db.session import session_scope
    made = make_library({"jazz": 10, "metal": 10, "ambient": 10}, with_tags=True, music_dir=music_dir, extra=[
        {"item_id": "tone", "title": "Sine 440 Hz", "artist": "Test", "like": "jazz-0", "noise": 0.3},
        {"item_id": "mix", "title": "Live at the club", "artist": "DJ", "like": "jazz-1", "noise": 0.3},
        {"item_id": "book", "title": "Chapter 1", "artist": "Reader", "album": "The Audiobook", "like": "jazz-2",
         "noise": 0.3}])
    with session_scope() as session:
        for name, seconds in (("tone", 2.0), ("mix", 7200.0)):
            session.get(Track, made.ids[name]).duration_s = seconds
    return made


def _client(config=None):
    from app import create_app
    return signed_in(create_app({"TESTING": True, **(config or {})}).test_client(), "admin")


def test_rules_from_settings_and_in_words(env):
    import settings_store
    rules = exclusions.current_rules()
    assert rules == Rules(30, 1800, (), ())                      # the defaults
    settings_store.save({"PLAYLIST_EXCLUDE_WORDS": "Audiobook, podcast", "PLAYLIST_EXCLUDE_TAGS": "Opera",
                         "PLAYLIST_MAX_SECONDS": "0"})
    rules = exclusions.current_rules()
    assert rules == Rules(30, 0, ("audiobook", "podcast"), ("opera",))
    assert rules.describe() == ["shorter than 30 s", "with 'audiobook', 'podcast' in the title, artist, album or folder",
                                "tagged 'opera'"]
    with pytest.raises(ConfigError, match="unknown: spoken word"):
        settings_store.save({"PLAYLIST_EXCLUDE_TAGS": "spoken word"})


def test_the_rules_catch_what_they_name(made):
    assert exclusions.excluded_ids(Rules()) == frozenset()
    assert exclusions.excluded_ids(Rules(30, 1800)) == {made.ids["tone"], made.ids["mix"]}
    assert exclusions.excluded_ids(Rules(words=("audiobook",))) == {made.ids["book"]}
    assert exclusions.excluded_ids(Rules(words=("metal album",))) == {made.ids[f"metal-{n}"] for n in range(10)}
    # make_library(with_tags) tags metal "00s" (tests/library.py)
    assert exclusions.excluded_ids(Rules(tags=("00s",))) >= {made.ids[f"metal-{n}"] for n in range(10)}


def test_similar_songs_skip_excluded_tracks_but_a_seed_may_be_one(made):
    import settings_store
    client = _client()
    near_jazz = client.get("/api/similar_tracks", query_string={"item_id": made.item("jazz-0"), "n": 12}).json
    shown = {t["item_id"] for t in near_jazz["tracks"]}
    assert made.item("tone") not in shown and made.item("mix") not in shown   # the defaults: 30 s .. 30 min
    assert made.item("book") in shown
    settings_store.save({"PLAYLIST_EXCLUDE_WORDS": "audiobook"})
    client = _client()
    shown = {t["item_id"] for t in client.get("/api/similar_tracks", query_string={
        "item_id": made.item("jazz-0"), "n": 12}).json["tracks"]}
    assert made.item("book") not in shown and len(shown) == 12
    seeded = client.get("/api/similar_tracks", query_string={"item_id": made.item("tone"), "n": 5})
    assert seeded.status_code == 200 and len(seeded.json["tracks"]) == 5


def test_the_live_index_follows_changed_rules(made):
    import settings_store
    from similarity.live import LiveIndex
    live = LiveIndex()
    live.refresh()
    assert live.current.excluded == {made.ids["tone"], made.ids["mix"]}
    settings_store.save({"PLAYLIST_MIN_SECONDS": "0", "PLAYLIST_MAX_SECONDS": "0"})
    assert live.refresh() is False and live.current.excluded == frozenset()
    assert live.status()["excluded"] == 0


def test_the_chat_never_answers_with_an_excluded_song(made):
    body = _client().post("/api/chat", json={"message": "songs, 33 songs"}).json
    shown = {t["item_id"] for t in body["answer"]["tracks"]}
    assert made.item("tone") not in shown and made.item("mix") not in shown and len(shown) >= 28
