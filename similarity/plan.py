"""Instant playlists from plain language: the typed plan, its execution, and the plan in words.

A request ("calm piano for a rainy evening, nothing with vocals") becomes a
`Plan`, whether an AI fills it through tool calling or the deterministic
reader (similarity.request_reader) does.  The plan is a strict pydantic model
(extra fields forbidden, the tag and mood vocabularies as Literal enums), so
`Plan.model_json_schema()` is the AI's tool schema as it stands.

`execute(plan, index)` runs it:

1. Songs to be near and to move away from are resolved: a media-server item
   id, "title by artist", or any text the catalog search finds.
2. Every other condition becomes one SQL expression, its *miss* in 0..1
   (0: met; growing with how far the track is from meeting it, in the
   condition's own units over its TOLERANCE), composed with SQLAlchemy and
   bound parameters only.  The candidate query returns each miss as a column
   and orders by their sum, so the database hands back the POOL closest
   tracks however many conditions there are (with near songs the pool is the
   index's neighbours of their centroid instead, passed as one bound array).
   A plan's SQL query (`sql`, written by a model through the chat's SQL tool)
   is run by db.chat_sql under its guards; only the ids it returns are used,
   as one more condition ("picked by the SQL query"), their order kept.
3. Near and away songs score as alchemy does (similarity.alchemy): cosine
   distance to the near-centroid adds to the score; a track "like the away
   songs" (nearer their centroid than the near-centroid by more than
   SUBTRACT_MARGIN, or, without near songs, closer than AWAY_DISTANCE) misses
   that condition, the more the nearer.
4. Tracks are ranked by score (the sum of misses, plus the near distance),
   another recording of a kept song is left out (same song_key, or closer
   than DUPLICATE_DISTANCE in the index), and the artist cap applied.

Cost: the whole-library candidate query is one scan computing every miss;
on 100k synthetic tracks with 9 conditions it took 1.3-1.4 s (2 busy cores,
local PostgreSQL), a pool of 500 index neighbours 0.23 s.

Ranking is soft: nothing but excluded artists and the plan's own seed songs
is filtered, so an over-constrained plan still answers with the `size`
closest songs, and `PlanResult.relaxed` says, in words, which conditions some
of them miss and how many.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import (BigInteger, ColumnElement, Float, Select, Text, and_, any_, bindparam, case, func,
                        literal, not_, or_, select)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from analysis.labels import MSD_LABELS, MTT_LABELS, TAG_ABSENT, TAG_PRESENT
from db import chat_sql
from db.models import KEYS, MOOD_COLUMNS, SCALES, Embedding, Track, TrackTags
from db.search import contains, fold
from db.session import read
from similarity import catalog
from similarity.alchemy import SUBTRACT_MARGIN, centroid
from similarity.catalog import TrackInfo
from similarity.index import TrackIndex, served_model
from similarity.neighbours import DUPLICATE_DISTANCE

#: Every tag the plan may name: the MSD vocabulary, then the MTT labels it lacks.
TAGS: tuple[str, ...] = tuple(dict.fromkeys((*MSD_LABELS, *MTT_LABELS)))
Tag = Literal[TAGS]                      # type: ignore[valid-type]
Mood = Literal[MOOD_COLUMNS]             # type: ignore[valid-type]
Key = Literal[KEYS]                      # type: ignore[valid-type]
Scale = Literal[SCALES]                  # type: ignore[valid-type]

MAX_SIZE = 200
DEFAULT_SIZE = 25
MAX_LIST = 20            # tags, artists or songs in one list of a plan
POOL = 1500              # candidates the database ranks and returns, at most
NEAR_POOL_FACTOR = 10    # with near songs: index neighbours read per song wanted...
MIN_NEAR_POOL = 500      # ...and at least this many
MOOD_PREFERRED = 0.5     # "more <mood>" holds at or above this score, "less" at or below 1 minus it
UNKNOWN_MISS = 0.5       # the miss of a condition on a value the track lacks (no year, no tempo)
LEAN_WEIGHT = 0.1        # score per unit of lean: orders songs that meet (or miss) a tag or mood condition alike
NEAR_WEIGHT = 1.0        # score per unit of cosine distance to the near-centroid
AWAY_DISTANCE = 1.0      # without near songs, closer than this to the away songs is "like them" (1: orthogonal)
#: How far outside a range counts as a full miss, in each condition's unit.
SQL_ORDER_WEIGHT = 0.05  # score added along the SQL query's own order (first row 0, last row almost this)
MAX_SQL_CHARS = 4000
TOLERANCE = {"tempo": 40.0, "energy": 0.3, "mood": 0.3, "year": 10.0, "duration": 120.0}

_STRICT = ConfigDict(strict=True, extra="forbid")
_TITLE_BY_ARTIST = re.compile(r"^\s*(.+?)\s+by\s+(.+?)\s*$", re.IGNORECASE)


class Range(BaseModel):
    """A closed interval; either end may be open (None)."""

    model_config = _STRICT
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.min is None and self.max is None:
            raise ValueError("a range needs a min or a max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is above its max {self.max}")
        return self


class TempoRange(Range):
    """Tempo in beats per minute (20..300)."""

    min: Annotated[float, Field(ge=20, le=300)] | None = None
    max: Annotated[float, Field(ge=20, le=300)] | None = None


class EnergyRange(Range):
    """Energy (loudness-based), 0..1."""

    min: Annotated[float, Field(ge=0, le=1)] | None = None
    max: Annotated[float, Field(ge=0, le=1)] | None = None


class YearRange(Range):
    """Release year (1900..2100)."""

    min: Annotated[int, Field(ge=1900, le=2100)] | None = None
    max: Annotated[int, Field(ge=1900, le=2100)] | None = None


class DurationRange(Range):
    """Duration in seconds (0..7200)."""

    min: Annotated[float, Field(ge=0, le=7200)] | None = None
    max: Annotated[float, Field(ge=0, le=7200)] | None = None


class MoodCondition(BaseModel):
    """One mood score (0..1): at least `min`, at most `max`, or simply "more"/"less" of it."""

    model_config = _STRICT
    mood: Mood
    min: Annotated[float, Field(ge=0, le=1)] | None = None
    max: Annotated[float, Field(ge=0, le=1)] | None = None
    direction: Literal["more", "less"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "MoodCondition":
        bounded = self.min is not None or self.max is not None
        if bounded == (self.direction is not None):
            raise ValueError(f"mood {self.mood!r} needs a min and/or max, or a direction, not both or neither")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"mood {self.mood!r}: min {self.min} is above max {self.max}")
        return self


_Text = Annotated[str, Field(min_length=1, max_length=200)]


class Plan(BaseModel):
    """What a playlist request asks for.  Every condition is soft (see `execute`) except `exclude_artists`.

    Attributes
    ----------
    include_tags, exclude_tags : tags of the MSD and MTT vocabularies the songs should / should not have
    moods : conditions on the mood scores (0..1)
    tempo : BPM range; energy : 0..1 range; year : release-year range; duration : seconds
    key, scale : musical key and mode
    include_artists : artists the songs should be by (any of them); exclude_artists : never these
    near : songs to be near (item ids, "title by artist", or search text)
    away : songs to move away from (same forms)
    size : songs wanted (1..200); max_per_artist : most songs any one artist may have
    sql : one SELECT over the view chat_tracks returning track ids in a column `id` (db/chat_sql.py),
        for what the other fields cannot say; checked here, stored as the checker writes it back
    """

    model_config = _STRICT
    include_tags: Annotated[list[Tag], Field(max_length=MAX_LIST)] = []
    exclude_tags: Annotated[list[Tag], Field(max_length=MAX_LIST)] = []
    moods: Annotated[list[MoodCondition], Field(max_length=len(MOOD_COLUMNS) * 2)] = []
    tempo: TempoRange | None = None
    energy: EnergyRange | None = None
    key: Key | None = None
    scale: Scale | None = None
    year: YearRange | None = None
    duration: DurationRange | None = None
    include_artists: Annotated[list[_Text], Field(max_length=MAX_LIST)] = []
    exclude_artists: Annotated[list[_Text], Field(max_length=MAX_LIST)] = []
    near: Annotated[list[_Text], Field(max_length=MAX_LIST)] = []
    away: Annotated[list[_Text], Field(max_length=MAX_LIST)] = []
    size: Annotated[int, Field(ge=1, le=MAX_SIZE)] = DEFAULT_SIZE
    max_per_artist: Annotated[int, Field(ge=1, le=MAX_SIZE)] | None = None
    sql: Annotated[str, Field(min_length=1, max_length=MAX_SQL_CHARS)] | None = None

    @field_validator("sql")
    @classmethod
    def _safe_query(cls, sql: str | None) -> str | None:
        if sql is None:
            return None
        try:
            return chat_sql.check_track_query(sql)
        except chat_sql.UnsafeQuery as error:
            raise ValueError(f"the SQL query was refused: {error}") from None

    @model_validator(mode="after")
    def _consistent(self) -> "Plan":
        both = set(self.include_tags) & set(self.exclude_tags)
        if both:
            raise ValueError(f"tags both included and excluded: {sorted(both)}")
        return self


@dataclasses.dataclass
class PlanResult:
    """What `execute` found.

    tracks: (track, score) best first; the score is the sum of the conditions' misses (each 0..1)
    plus NEAR_WEIGHT x the cosine distance (0..2) to the near songs, lower is better.
    held / relaxed: each condition in words; a relaxed one says how many of the songs miss it.
    """

    tracks: list[tuple[TrackInfo, float]]
    held: list[str]
    relaxed: list[str]
    near: list[TrackInfo]
    away: list[TrackInfo]
    unresolved: list[str]          # near/away texts no analysed, indexed song answered
    duplicates: int                # candidates left out as another recording of a kept song
    artist_capped: int             # candidates left out because their artist was full
    sql: dict | None = None        # {"query", "rows": ids it picked or None, "error": why it did not run}
    missed: list[list[str]] = dataclasses.field(default_factory=list)   # per track, the conditions it misses

    def as_json(self) -> dict:
        return {"tracks": [t.as_json(score=round(s, 4)) for t, s in self.tracks], "held": self.held,
                "relaxed": self.relaxed, "near": [t.as_json() for t in self.near],
                "away": [t.as_json() for t in self.away], "unresolved": self.unresolved,
                "duplicates": self.duplicates, "artist_capped": self.artist_capped, "sql": self.sql}


# ---------------------------------------------------------------- the plan in words

def _number(value: float) -> str:
    return f"{value:g}"


def _range_words(r: Range, unit: str = "", fmt=_number) -> str:
    if r.min is not None and r.max is not None:
        return f"{fmt(r.min)}-{fmt(r.max)}{unit}"
    if r.min is not None:
        return f"at least {fmt(r.min)}{unit}"
    return f"at most {fmt(r.max)}{unit}"


def _mood_words(m: MoodCondition) -> str:
    if m.direction == "more":
        return f"more {m.mood}"
    if m.direction == "less":
        return f"less {m.mood}"
    return f"{m.mood} {_range_words(m)}"


def _duration(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def _conditions_in_words(plan: Plan) -> list[tuple[str, str]]:
    """(kind, words) of every soft condition, in the order `_conditions` builds them."""
    words = [("sql", "picked by the SQL query")] if plan.sql else []
    words += [("tag", f"tagged {t!r}") for t in plan.include_tags]
    words += [("tag", f"not tagged {t!r}") for t in plan.exclude_tags]
    words += [("mood", _mood_words(m)) for m in plan.moods]
    if plan.tempo:
        words.append(("tempo", f"tempo {_range_words(plan.tempo, ' BPM')}"))
    if plan.energy:
        words.append(("energy", f"energy {_range_words(plan.energy)}"))
    if plan.key:
        words.append(("key", f"in the key of {plan.key}"))
    if plan.scale:
        words.append(("scale", f"in a {plan.scale} key"))
    if plan.year:
        words.append(("year", f"released {_range_words(plan.year, fmt=lambda y: str(int(y)))}"))
    if plan.duration:
        words.append(("duration", f"lasting {_range_words(plan.duration, fmt=_duration)}"))
    if plan.include_artists:
        words.append(("artist", "by " + " or ".join(plan.include_artists)))
    if plan.away:
        words.append(("away", "unlike " + ", ".join(plan.away)))
    return words


def is_open(plan: Plan) -> bool:
    """True when the plan asks for nothing but a number of songs (and maybe an artist cap)."""
    return not (_conditions_in_words(plan) or plan.near or plan.exclude_artists)


def describe(plan: Plan) -> str:
    """The plan in plain words, e.g. "25 songs like 'Techno 3'; tagged 'electronic'; tempo at least 125 BPM"."""
    head = f"{plan.size} song{'s' if plan.size != 1 else ''}"
    if plan.near:
        head += " like " + ", ".join(repr(n) for n in plan.near)
    parts = [head] + [w for _, w in _conditions_in_words(plan)]
    if plan.exclude_artists:
        parts.append("never by " + ", ".join(plan.exclude_artists))
    if plan.max_per_artist:
        parts.append(f"at most {plan.max_per_artist} per artist")
    return "; ".join(parts)


# ---------------------------------------------------------------- the SQL

@dataclasses.dataclass
class _Condition:
    words: str
    miss: ColumnElement        # SQL: 0..1, 0 when met
    held_at: float = 0.0       # the condition holds when miss <= held_at
    lean: ColumnElement | None = None   # SQL: 0..1, lower leans further the asked way (breaks ties)


def _outside(value: ColumnElement, r: Range, tolerance: float) -> ColumnElement:
    """How far `value` lies outside the range, over `tolerance`, capped at 1; UNKNOWN_MISS when NULL."""
    below = (literal(r.min, Float) - value) if r.min is not None else literal(0.0, Float)
    above = (value - literal(r.max, Float)) if r.max is not None else literal(0.0, Float)
    distance = func.greatest(literal(0.0, Float), below, above) / literal(tolerance, Float)
    # GREATEST skips NULLs (it would call an unknown value met): test for NULL first.
    return case((value.is_(None), literal(UNKNOWN_MISS, Float)), else_=func.least(literal(1.0, Float), distance))


def _tag_probability(tag: str, msd, mtt) -> ColumnElement:
    """The tag's probability (0..1): the higher of its two vocabularies where both have it; 0 when untagged."""
    values = []
    if tag in MSD_LABELS:   # PostgreSQL arrays count from 1
        values.append(func.coalesce(msd.scores[literal(MSD_LABELS.index(tag) + 1)], literal(0.0, Float)))
    if tag in MTT_LABELS:
        values.append(func.coalesce(mtt.scores[literal(MTT_LABELS.index(tag) + 1)], literal(0.0, Float)))
    return values[0] if len(values) == 1 else func.greatest(*values)


def _conditions(plan: Plan, msd, mtt, sql_ids: Sequence[int] | None) -> list[_Condition]:
    words = iter(w for _, w in _conditions_in_words(plan))
    found: list[_Condition] = []
    one = literal(1.0, Float)
    zero = literal(0.0, Float)
    if plan.sql:
        picked_words = next(words)
        if sql_ids is not None:   # None: the query could not run, so it is no condition at all
            picked = Track.id == any_(bindparam("sql_ids", list(sql_ids), type_=ARRAY(BigInteger)))
            found.append(_Condition(picked_words, case((picked, zero), else_=one)))
    for tag in plan.include_tags:
        p = _tag_probability(tag, msd, mtt)
        found.append(_Condition(next(words), func.greatest(zero, literal(TAG_PRESENT, Float) - p)
                                / literal(TAG_PRESENT, Float), lean=one - p))
    for tag in plan.exclude_tags:
        p = _tag_probability(tag, msd, mtt)
        found.append(_Condition(next(words), func.greatest(zero, p - literal(TAG_ABSENT, Float))
                                / literal(1 - TAG_ABSENT, Float), lean=p))
    for m in plan.moods:
        column = getattr(Track, m.mood)
        if m.direction == "more":
            found.append(_Condition(next(words), func.coalesce(one - column, literal(UNKNOWN_MISS, Float)),
                                    1 - MOOD_PREFERRED))
        elif m.direction == "less":
            found.append(_Condition(next(words), func.coalesce(column, literal(UNKNOWN_MISS, Float)),
                                    1 - MOOD_PREFERRED))
        else:
            # within the range (or all far below it) songs tie: lean towards the side asked for
            known = func.coalesce(column, literal(UNKNOWN_MISS, Float))
            lean = (one - known if m.min is not None and m.max is None
                    else known if m.max is not None and m.min is None else None)
            found.append(_Condition(next(words), _outside(column, m, TOLERANCE["mood"]), lean=lean))
    if plan.tempo:
        found.append(_Condition(next(words), _outside(Track.tempo_bpm, plan.tempo, TOLERANCE["tempo"])))
    if plan.energy:
        found.append(_Condition(next(words), _outside(Track.energy, plan.energy, TOLERANCE["energy"])))
    if plan.key:
        found.append(_Condition(next(words), case((Track.musical_key == plan.key, zero), else_=one)))
    if plan.scale:
        found.append(_Condition(next(words), case((Track.scale == plan.scale, zero), else_=one)))
    if plan.year:
        found.append(_Condition(next(words), _outside(Track.year, plan.year, TOLERANCE["year"])))
    if plan.duration:
        found.append(_Condition(next(words), _outside(Track.duration_s, plan.duration, TOLERANCE["duration"])))
    if plan.include_artists:
        by_any = or_(*(contains(Track.artist, a) for a in plan.include_artists))
        found.append(_Condition(next(words), case((by_any, zero), else_=one)))
    return found


def candidate_query(plan: Plan, track_ids: Sequence[int] | None = None, leave_out: Sequence[int] = (),
                    sql_ids: Sequence[int] | None = None) -> tuple[Select, list[str], list[float]]:
    """The candidate SELECT: track columns, one miss column per condition (m0, m1...) and their sum.

    Parameters
    ----------
    plan : the plan (every value reaches the SQL as a bound parameter)
    track_ids : only these tracks (the near songs' index neighbours), or None for the whole library
    leave_out : track ids never to return (the plan's own near and away songs)
    sql_ids : the ids the plan's SQL query picked (None when it has none or it could not run)

    Returns
    -------
    (statement, the conditions in words, the miss at or below which each holds)
    """
    msd, mtt = aliased(TrackTags), aliased(TrackTags)
    conditions = _conditions(plan, msd, mtt, sql_ids)
    misses = [c.miss.label(f"m{i}") for i, c in enumerate(conditions)]
    leans = [c.lean for c in conditions if c.lean is not None]
    lean = sum(leans, literal(0.0, Float)) * literal(LEAN_WEIGHT, Float) if leans else literal(0.0, Float)
    total = sum((c.miss for c in conditions), lean)
    statement = (
        select(Track.id, Track.item_id, Track.provider, Track.title, Track.artist, Track.album, Track.duration_s,
               *misses, lean.label("lean"), total.label("total"))
        .join(Embedding, and_(Embedding.track_id == Track.id, Embedding.model == served_model()))
        .outerjoin(msd, and_(msd.track_id == Track.id, msd.vocabulary == "msd"))
        .outerjoin(mtt, and_(mtt.track_id == Track.id, mtt.vocabulary == "mtt"))
        .where(Track.analyzed_at.isnot(None)))
    if track_ids is not None:
        statement = statement.where(Track.id == any_(bindparam("pool_ids", list(track_ids), type_=ARRAY(BigInteger))))
    if leave_out:
        statement = statement.where(not_(Track.id == any_(bindparam("leave_out", list(leave_out),
                                                                    type_=ARRAY(BigInteger)))))
    for artist in plan.exclude_artists:
        statement = statement.where(or_(Track.artist.is_(None), not_(fold(Track.artist) == fold(artist))))
    # Ties (and a plan with no condition at all) go in a fixed order spread over the library (a hash of
    # the id), not the order tracks were added in: one album after another.
    spread = func.md5(func.cast(Track.id, Text))
    statement = statement.order_by(*([total] if conditions else []), spread, Track.id).limit(
        POOL if track_ids is None else len(track_ids))
    return statement, [c.words for c in conditions], [c.held_at for c in conditions]


# ---------------------------------------------------------------- execution

def resolve_song(text: str, index: TrackIndex) -> TrackInfo | None:
    """An indexed track for an item id, "title by artist", or search text (its best match); None if none."""
    track = catalog.by_item_id(text, index.names)
    if track is None:
        match = _TITLE_BY_ARTIST.match(text)
        if match:
            track = catalog.by_title_artist(match.group(1), match.group(2))
        if track is None:
            track = catalog.by_title_artist(text)
        if track is None and len(text.strip()) >= catalog.MIN_SEARCH_CHARS:
            found = catalog.search(text, 1)
            track = found[0] if found else None
    return track if track is not None and track.id in index else None


def _resolve_all(texts: list[str], index: TrackIndex, unresolved: list[str]) -> list[TrackInfo]:
    found: dict[int, TrackInfo] = {}
    for text in texts:
        track = resolve_song(text, index)
        if track is None:
            unresolved.append(text)
        else:
            found.setdefault(track.id, track)
    return list(found.values())


def execute(plan: Plan, index: TrackIndex) -> PlanResult:
    """Run a plan against the library and its similarity index.

    Parameters
    ----------
    plan : Plan
        The validated plan.
    index : TrackIndex
        The loaded similarity index (near/away songs, duplicate detection).

    Returns
    -------
    PlanResult
        Up to `plan.size` tracks, best first, never two recordings of one song nor more than
        `plan.max_per_artist` by one artist; fewer only when the library runs out.
    """
    unresolved: list[str] = []
    near = _resolve_all(plan.near, index, unresolved)
    away = _resolve_all(plan.away, index, unresolved)
    given = [t.id for t in near] + [t.id for t in away]
    near_centre = centroid(index.unit_vectors([t.id for t in near])) if near else None
    away_centre = centroid(index.unit_vectors([t.id for t in away])) if away else None
    if near_centre is not None and float(np.linalg.norm(near_centre)) < 1e-6:
        near_centre = None        # the near songs cancel out: no direction to look in

    sql_ids, sql = _run_query(plan)
    pool_ids = None
    if near_centre is not None:
        wanted = max(NEAR_POOL_FACTOR * plan.size, MIN_NEAR_POOL)
        pool_ids = [i for i, _ in index.nearest(near_centre, wanted, exclude=set(given))]
        pool_ids = list(dict.fromkeys([*pool_ids, *(sql_ids or ())]))
    statement, words, held_at = candidate_query(plan, pool_ids, given, sql_ids)
    rows = [row for row in read(statement) if row.id in index and row.id not in index.excluded]
    infos = [TrackInfo(*row[:7]) for row in rows]
    misses = np.array([[row[7 + i] for i in range(len(words))] for row in rows], np.float64).reshape(
        len(rows), len(words))
    points = index.unit_vectors([t.id for t in infos]).astype(np.float64)
    score = misses.sum(axis=1) + np.array([row.lean for row in rows], np.float64)
    if sql_ids:   # keep the query's own order among the songs it picked
        rank = {track_id: place / len(sql_ids) for place, track_id in enumerate(sql_ids)}
        score = score + SQL_ORDER_WEIGHT * np.array([rank.get(t.id, 1.0) for t in infos])
    distance_near = np.zeros(len(rows))
    if near_centre is not None:
        distance_near = 1.0 - points @ near_centre
        score = score + NEAR_WEIGHT * distance_near
    if away_centre is not None:
        distance_away = 1.0 - points @ away_centre
        if near_centre is not None:
            threshold = np.maximum(distance_near - SUBTRACT_MARGIN, 0.0)
        else:
            threshold = np.full(len(rows), AWAY_DISTANCE)
        away_miss = np.clip((threshold - distance_away) / np.maximum(threshold, 1e-9), 0.0, 1.0)
        misses = np.column_stack([misses, away_miss])
        held_at = [*held_at, 0.0]
        words = [*words, _conditions_in_words(plan)[-1][1]]
        score = score + away_miss

    kept: list[int] = []
    kept_keys: set[str] = {t.song_key for t in near} | {t.song_key for t in away}
    per_artist: dict[str, int] = {}
    duplicates = capped = 0
    for row in np.lexsort((np.arange(len(rows)), score)) if rows else []:   # ties: the query's order
        track = infos[row]
        key = track.song_key
        close = kept and float((points[kept] @ points[row]).max()) > 1 - DUPLICATE_DISTANCE
        if key in kept_keys or close:
            duplicates += 1
            continue
        artist = key.split("\t", 1)[1]
        if plan.max_per_artist is not None and artist and per_artist.get(artist, 0) >= plan.max_per_artist:
            capped += 1
            continue
        kept.append(int(row))
        kept_keys.add(key)
        per_artist[artist] = per_artist.get(artist, 0) + 1
        if len(kept) == plan.size:
            break

    held, relaxed = [], []
    for i, condition in enumerate(words):
        missing = int((misses[kept, i] > held_at[i] + 1e-9).sum()) if kept else 0
        if missing:
            relaxed.append(f"{condition}: {missing} of {len(kept)} songs miss it")
        else:
            held.append(condition)
    missed = [[condition for i, condition in enumerate(words) if misses[r, i] > held_at[i] + 1e-9] for r in kept]
    return PlanResult([(infos[r], float(score[r])) for r in kept], held, relaxed, near, away, unresolved,
                      duplicates, capped, sql, missed)


def _run_query(plan: Plan) -> tuple[list[int] | None, dict | None]:
    """The ids the plan's SQL query picks, and what to tell about it; (None, None) without a query.

    A query that cannot run (refused, timed out, the tool off) picks nothing and is no condition;
    the error says why.
    """
    if not plan.sql:
        return None, None
    try:
        ids = chat_sql.track_ids(plan.sql)
    except (chat_sql.UnsafeQuery, chat_sql.QueryFailed) as error:
        return None, {"query": plan.sql, "rows": None, "error": str(error)}
    return ids, {"query": plan.sql, "rows": len(ids), "error": None}
