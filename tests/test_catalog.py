"""Track lookup for the feature pages: ids to results, seeds by id or name, the autocomplete."""
import pytest

from db.models import Track
from db.session import session_scope
from similarity import catalog
from similarity import index as track_index
from tests.library import make_library


def test_song_key_ignores_versions_case_and_accents():
    same = [("Café del Mar", "Energy 52"), ("CAFE DEL MAR (Live at Ibiza)", "energy 52"),
            ("Cafe del Mar - 2011 Remaster", "Energy 52 feat. Someone"), ("Café del Mar [Radio Edit]", "Energy 52")]
    assert len({catalog.song_key(title, artist) for title, artist in same}) == 1
    assert catalog.song_key("Cafe del Mar", "Energy 52") != catalog.song_key("Cafe del Mar", "Other")
    assert catalog.song_key("(Intro)", None) != catalog.song_key("", None)  # a title that is only brackets stays


def test_lookup_by_item_id_and_title_artist(env):
    library = make_library({"jazz": 3})
    found = catalog.by_item_id("jazz-1")
    assert found.id == library.ids["jazz-1"] and found.title == "Jazz 1"
    assert catalog.by_item_id("nope") is None
    assert catalog.by_title_artist("JAZZ 2").item_id == "jazz-2"
    assert catalog.by_title_artist("jazz 2", "Jazz artist 2").item_id == "jazz-2"
    assert catalog.by_title_artist("jazz 2", "someone else") is None
    assert set(catalog.describe([library.ids["jazz-0"], 10**9])) == {library.ids["jazz-0"]}


def test_search_folds_accents_needs_every_word_and_ranks_prefixes_first(env):
    make_library({"jazz": 2})
    with session_scope() as session:
        for item_id, title, artist in (("a", "Éléphant blanc", "Björk"), ("b", "Blanc", "Other"),
                                       ("c", "Unanalysed blanc", "X")):
            session.add(Track(provider="local", item_id=item_id, title=title, artist=artist,
                              analyzed_at=None if item_id == "c" else session.scalar(catalog.func.now())))
    assert [t.item_id for t in catalog.search("BLANC")] == ["b", "a"]  # prefix first; unanalysed left out
    assert [t.item_id for t in catalog.search("bjork eleph")] == ["a"]
    assert catalog.search("zzz") == []
    with pytest.raises(ValueError, match="at least 3"):
        catalog.search(" ab ")


def test_index_points_and_membership(env):
    library = make_library({"jazz": 4})
    current = track_index.load()
    points = current.unit_vectors([library.ids["jazz-0"], library.ids["jazz-1"]])
    assert points.shape == (2, 400)
    assert abs(float((points ** 2).sum(axis=1)[0]) - 1) < 1e-4
    assert library.ids["jazz-0"] in current and 10**9 not in current
    with pytest.raises(KeyError):
        current.unit_vectors([library.ids["jazz-0"], 10**9])
    nearest = current.nearest(points[0], k=2, exclude={library.ids["jazz-0"]})
    assert len(nearest) == 2 and library.ids["jazz-0"] not in dict(nearest)


def test_names_held_beside_the_index_answer_without_the_database(env):
    from similarity.live import LiveIndex
    library = make_library({"jazz": 3})
    live = LiveIndex()
    live.refresh()
    names = live.current.names
    assert set(names.by_id) == set(library.ids.values())
    jazz0 = library.ids["jazz-0"]
    with session_scope() as session:   # renamed after the index was read: the held name stays until the next version
        session.get(Track, jazz0).title = "Renamed"
    assert catalog.describe([jazz0], names)[jazz0].title == "Jazz 0"
    assert catalog.describe([jazz0])[jazz0].title == "Renamed"
    assert catalog.by_item_id("jazz-1", names).id == library.ids["jazz-1"]
    assert catalog.by_item_ids(["jazz-1"], provider="navidrome", names=names) == {}  # another server's id
    with session_scope() as session:   # a track analysed after the index was read comes from the database
        session.add(Track(provider="local", item_id="late", title="Late", analyzed_at=session.scalar(catalog.func.now())))
    assert catalog.by_item_id("late", names).title == "Late"
