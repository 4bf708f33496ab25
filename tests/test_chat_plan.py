"""The chat's typed plan: validation, the plan in words, and execution on a small tagged library."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from analysis.labels import MSD_LABELS, MTT_LABELS
from db.models import Track
from db.session import read, session_scope
from similarity import index as track_index
from similarity.plan import Plan, candidate_query, describe, execute
from tests.library import make_library

GROUPS = {"jazz": 10, "metal": 10, "ambient": 10}   # tempo ~70 / ~95 / ~120 BPM (tests/library.py)


def _library(**extra):
    made = make_library(GROUPS, with_tags=True, **extra)
    return made, track_index.load()


def _names(result):
    return [t.item_id for t, _ in result.tracks]


def test_schema_has_the_vocabularies_and_forbids_extras():
    schema = json.dumps(Plan.model_json_schema())
    assert all(json.dumps(label) in schema for label in (*MSD_LABELS, *MTT_LABELS))
    assert Plan.model_json_schema()["additionalProperties"] is False


@pytest.mark.parametrize("body, message", [
    ({"include_tags": ["polka"]}, "include_tags"),
    ({"size": 0}, "size"),
    ({"size": 201}, "size"),
    ({"size": "25"}, "size"),                         # strict: no string coercion
    ({"tempo": {"min": 140, "max": 100}}, "above"),
    ({"tempo": {}}, "min or a max"),
    ({"moods": [{"mood": "happy"}]}, "direction"),
    ({"moods": [{"mood": "happy", "min": 0.5, "direction": "more"}]}, "direction"),
    ({"moods": [{"mood": "joyful", "direction": "more"}]}, "mood"),
    ({"key": "H"}, "key"),
    ({"energy": {"min": 1.5}}, "energy"),
    ({"include_tags": ["rock"], "exclude_tags": ["rock"]}, "both"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_plans_are_refused(body, message):
    with pytest.raises(ValidationError, match=message):
        Plan.model_validate(body)


def test_describe_names_every_condition():
    plan = Plan.model_validate({"include_tags": ["piano"], "exclude_tags": ["vocals"], "size": 10,
                                "moods": [{"mood": "relaxed", "min": 0.5}, {"mood": "sad", "direction": "more"}],
                                "tempo": {"min": 90, "max": 110}, "year": {"min": 1980, "max": 1989},
                                "duration": {"max": 240}, "near": ["Jazz 1 by Jazz artist 1"],
                                "max_per_artist": 2, "exclude_artists": ["Metal artist 0"], "scale": "minor"})
    words = describe(plan)
    for part in ("10 songs like 'Jazz 1 by Jazz artist 1'", "tagged 'piano'", "not tagged 'vocals'",
                 "relaxed at least 0.5", "more sad", "tempo 90-110 BPM", "released 1980-1989",
                 "lasting at most 4:00", "in a minor key", "never by Metal artist 0", "at most 2 per artist"):
        assert part in words


def test_values_reach_the_sql_as_bound_parameters(env):
    hostile = "x'); DROP TABLE track; --"
    plan = Plan.model_validate({"include_artists": [hostile], "exclude_artists": [hostile],
                                "tempo": {"min": 123.5}, "key": "C#", "include_tags": ["House"]})
    statement, _, _ = candidate_query(plan, [1, 2], [3])
    sql = str(statement.compile())
    assert "DROP" not in sql and "123.5" not in sql and "C#" not in sql and "House" not in sql
    params = statement.compile().params
    assert hostile in params.values() and 123.5 in params.values() and [1, 2] in params.values()
    _library()
    result = execute(plan, track_index.load())      # nobody by that name: soft, so the closest still come
    assert len(result.tracks) == 25 and any(r.startswith(f"by {hostile}: 25 of 25") for r in result.relaxed)
    assert read(select(func.count()).select_from(Track))[0][0] == 30


def test_soft_ranking_meets_the_conditions_first_and_names_the_relaxed_one(env):
    made, index = _library()
    fast = Plan.model_validate({"tempo": {"min": 110}, "size": 5})
    result = execute(fast, index)
    assert {made.group_of(n) for n in _names(result)} == {"ambient"}
    assert result.held == ["tempo at least 110 BPM"] and result.relaxed == []
    # Over-constrained: 15 songs asked, 10 are fast; the list is still full and says what gave.
    result = execute(fast.model_copy(update={"size": 15}), index)
    assert len(result.tracks) == 15
    assert [made.group_of(n) for n in _names(result)][:10] == ["ambient"] * 10
    assert {made.group_of(n) for n in _names(result)[10:]} == {"metal"}      # the next closest tempo
    assert result.relaxed == ["tempo at least 110 BPM: 5 of 15 songs miss it"]
    # Conditions that cannot both hold: the result names the one that gave way.
    both = Plan.model_validate({"tempo": {"max": 80}, "energy": {"min": 0.5}, "size": 5})
    result = execute(both, index)
    assert len(result.tracks) == 5
    assert result.relaxed and all(r.startswith(("tempo", "energy")) for r in result.relaxed)


def test_an_unknown_value_does_not_meet_a_condition(env):
    made, index = _library()          # the test library has no years
    with_year = read(select(Track.id).where(Track.item_id == "jazz-4"))[0][0]
    with session_scope() as session:
        session.get(Track, with_year).year = 1984
    result = execute(Plan.model_validate({"year": {"min": 1980, "max": 1989}, "size": 3}), index)
    assert _names(result)[0] == "jazz-4"
    assert result.relaxed == ["released 1980-1989: 2 of 3 songs miss it"]


def test_tags_and_moods_select_their_group(env):
    made, index = _library()
    # tests/library.py: group g has MSD tag (7g % 50) and mood MOOD_COLUMNS[g] high.
    metal_tag = MSD_LABELS[7]
    result = execute(Plan.model_validate({"include_tags": [metal_tag], "size": 8}), index)
    assert {made.group_of(n) for n in _names(result)} == {"metal"}
    result = execute(Plan.model_validate({"moods": [{"mood": "danceable", "min": 0.5}], "size": 8}), index)
    assert {made.group_of(n) for n in _names(result)} == {"jazz"}
    result = execute(Plan.model_validate({"moods": [{"mood": "happy", "direction": "more"}],
                                          "exclude_tags": [MSD_LABELS[7]], "size": 8}), index)
    assert {made.group_of(n) for n in _names(result)} == {"ambient"}


def test_artist_cap_and_excluded_artists(env):
    made, index = _library()
    result = execute(Plan.model_validate({"tempo": {"min": 110}, "size": 10, "max_per_artist": 2}), index)
    artists = [t.artist for t, _ in result.tracks]
    assert all(artists.count(a) <= 2 for a in artists) and result.artist_capped > 0
    assert len(result.tracks) == 10                  # the cap fills the list from the next closest
    result = execute(Plan.model_validate({"include_artists": ["Ambient artist 1"],
                                          "exclude_artists": ["ambient artist 0"], "size": 10}), index)
    artists = [t.artist for t, _ in result.tracks]
    assert "Ambient artist 0" not in artists and artists[:3] == ["Ambient artist 1"] * 3


def test_near_and_away_songs(env):
    made, index = _library(extra=[{"item_id": "jazz-1-live", "title": "Jazz 1 (Live)", "artist": "Jazz artist 1",
                                   "like": "jazz-1", "noise": 0.01}])
    result = execute(Plan.model_validate({"near": ["jazz-1"], "size": 5}), index)
    assert result.near[0].item_id == "jazz-1"
    assert {made.group_of(n) for n in _names(result)} == {"jazz"}
    assert "jazz-1" not in _names(result) and "jazz-1-live" not in _names(result)   # the seed's recordings
    # text forms resolve through the catalog
    result = execute(Plan.model_validate({"near": ["Metal 2 by Metal artist 2", "nothing like this"],
                                          "size": 3}), index)
    assert [t.item_id for t in result.near] == ["metal-2"] and result.unresolved == ["nothing like this"]
    # near jazz and ambient, away from ambient: the jazz side comes first and the away condition holds
    result = execute(Plan.model_validate({"near": ["jazz-1", "ambient-1"], "away": ["ambient-2"], "size": 5}),
                     index)
    assert {made.group_of(n) for n in _names(result)} == {"jazz"}
    assert result.held == ["unlike ambient-2"]


def test_near_duplicate_recordings_are_pooled(env):
    made, index = _library(extra=[{"item_id": "ambient-3-best-of", "title": "Another name", "artist": "Someone",
                                   "like": "ambient-3", "noise": 0.001}])
    result = execute(Plan.model_validate({"size": 31}), index)       # 31 recordings of 30 songs
    names = _names(result)
    assert ("ambient-3" in names) != ("ambient-3-best-of" in names) and result.duplicates == 1
    assert len(names) == 30
