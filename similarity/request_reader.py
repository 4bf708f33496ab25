"""The chat without an AI: a deterministic reader from a plain-language request to a `Plan`.

`read(text, previous)` reads, in this order, each kind of phrase, and takes
what it read out of the text so that no word counts twice:

1. songs or artists to be near ("like <song or artist>", "similar to ...") or
   away from ("unlike ...", "nothing like ..."), resolved through the catalog
   (an artist becomes up to NEAR_PER_ARTIST of their songs);
2. singing ("nothing with vocals", "instrumental", "with vocals");
3. size ("40 songs") and the artist cap ("no more than 2 per artist");
4. tempo numbers ("around 120 bpm", "90-110 bpm", "under 100 bpm"), years and
   decades ("80s", "early 90s", "from 1995", "2000s", "between 1990 and 1995"),
   durations ("under 4 minutes"), key and scale ("in A minor");
5. artists ("by <artist>", "not by <artist>");
6. comparatives ("darker", "more upbeat", "slower"), tempo words ("slow",
   "fast"), duration words ("short");
7. the remaining words one by one: mood words (valence/arousal and mood
   scores, scaled by an intensifier before them: "very calm"), each word or
   phrase negated by a negation up to NEGATION_REACH words before, glue words
   not counted ("not sad", "no piano", "anything but country"), tag
   names and their other names (a plural as its singular when only that is
   known: "drones"), and any other word through a small text embedding to its
   nearest tag, when it is near enough (EMBED_MIN).

A tempo number outranks a tempo word in the same request ("slow, under 90 bpm"
asks for at most 90).

Every word list is data in similarity.request_lexicon.  A follow-up refines
`previous`: lists grow (an exclusion removes the same tag from the inclusions
and back), a mood, range, size or cap read anew replaces the old one, and the
comparatives move what the previous plan asked ("slower" lowers its tempo
range by TEMPO_STEP).

The embedding is WordLlama's "l2_supercat" 256-d token embedding (PyPI
wordllama; its weights and tokenizer ship in the wheel, 16 MiB float16, and
are opened from the installed package's files, never downloaded), loaded on
first use (about 1 s) and kept for the process.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Callable

import numpy as np

from db.models import MOOD_COLUMNS
from similarity import catalog
from similarity import request_lexicon as lex
from similarity.plan import (TAGS, DurationRange, EnergyRange, MoodCondition, Plan, TempoRange, YearRange,
                             MAX_SIZE)

NEAR_PER_ARTIST = 5        # "like <artist>": that many of their songs become near songs
LONGER_NAME_WORDS = 6      # how many words past a cut "like" phrase an exact song name may run on
EMBED_MIN = 0.3            # centred cosine similarity (-1..1) a free word needs to its nearest tag
_YEAR = r"((?:19|20)\d\d)"
_NUMBER = r"(\d{1,3}|" + "|".join(sorted(map(re.escape, lex.NUMBER_WORDS), key=len, reverse=True)) + ")"
# Where a "like <song>" or "by <artist>" phrase ends.
_END = r"(?=\s+(?:but|and|with|without|around|about|from|in the|for|no|not|nothing|please)\b|[,;.!?]|$)"
_FLATS = {"db": "C#", "eb": "D#", "gb": "F#", "ab": "G#", "bb": "A#", "cb": "B", "fb": "E"}
_LABEL_TAGS = {tag.lower(): tag for tag in TAGS}
_DECADE_TAGS = {t for t in TAGS if t[:2].isdigit()}


def _phrases(words) -> str:
    """A regex alternation of phrases, longest first, on word boundaries."""
    return r"(?<![\w-])(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?![\w-])"


def _count(word: str) -> int:
    return int(word) if word.isdigit() else lex.NUMBER_WORDS[word.lower()]


# ---------------------------------------------------------------- the bundled text embedding

class TagEmbedding:
    """Nearest tag to a free word, through WordLlama's bundled token embedding (no network).

    Vectors are centred on the tags' mean (the words of a small vocabulary share a large common
    direction that would otherwise dominate every similarity) and compared by cosine.
    """

    def __init__(self):
        import wordllama
        from safetensors import safe_open
        from tokenizers import Tokenizer
        from wordllama.inference import WordLlamaInference

        root = Path(wordllama.__file__).resolve().parent
        tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
        with safe_open(str(root / "weights" / "l2_supercat_256.safetensors"), framework="np") as weights:
            table = weights.get_tensor("embedding.weight")
        self._model = WordLlamaInference(table, tokenizer)
        self.tags = [t for t in TAGS if t not in _DECADE_TAGS]   # years are read as years, not tags
        vectors = self._embed([t.lower() for t in self.tags])
        self._mean = vectors.mean(axis=0)
        self._tags = self._unit(vectors - self._mean)

    @staticmethod
    def _unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._model.embed(texts, norm=True), np.float64)

    def nearest(self, word: str) -> tuple[str, float]:
        """(the nearest tag, its centred cosine similarity -1..1)."""
        similarity = self._tags @ self._unit(self._embed([word])[0] - self._mean)
        best = int(np.argmax(similarity))
        return self.tags[best], float(similarity[best])


@functools.lru_cache(maxsize=1)
def tag_embedding() -> TagEmbedding:
    return TagEmbedding()


@functools.lru_cache(maxsize=4096)
def word_tag(word: str) -> str | None:
    """The tag a free word means, or None when no tag is near enough (EMBED_MIN)."""
    tag, similarity = tag_embedding().nearest(word)
    return tag if similarity >= EMBED_MIN else None


# ---------------------------------------------------------------- songs and artists

def catalog_songs(phrase: str, exact: bool = False) -> list[str]:
    """Near-song texts ("Title by Artist") for a phrase naming a song or an artist; [] when none.

    An artist's name exactly (any case and accents) gives up to NEAR_PER_ARTIST of their songs;
    "title by artist", an exact title, or (unless `exact`) the catalog search's best match gives
    one song.
    """
    def named(track) -> str:
        return f"{track.title} by {track.artist}" if track.artist else (track.title or track.item_id)

    match = re.match(r"^(.+?)\s+by\s+(.+)$", phrase, re.IGNORECASE)
    track = catalog.by_title_artist(match.group(1), match.group(2)) if match else None
    if track is None:
        track = catalog.by_title_artist(phrase)
    if track is not None:
        return [named(track)]
    if len(phrase) < catalog.MIN_SEARCH_CHARS:
        return []
    found = catalog.search(phrase, catalog.SEARCH_LIMIT_MAX)
    plain = catalog.song_key("", phrase).split("\t")[1]
    by_artist = [t for t in found if catalog.song_key("", t.artist).split("\t")[1] == plain]
    if by_artist:
        return [named(t) for t in by_artist[:NEAR_PER_ARTIST]]
    return [named(found[0])] if found and not exact else []


# ---------------------------------------------------------------- the reader

class _Reading:
    """What one request says, before it is merged with the previous plan."""

    def __init__(self, text: str):
        self.rest = " " + " ".join(text.split()) + " "
        self.include_tags: list[str] = []
        self.exclude_tags: list[str] = []
        self.moods: dict[str, MoodCondition] = {}
        self.valence = self.arousal = 0.0
        self.fields: dict = {}
        self.comparatives: list[dict] = []
        self.near: list[str] = []
        self.away: list[str] = []
        self.include_artists: list[str] = []
        self.exclude_artists: list[str] = []

    def take(self, pattern: str, handle: Callable[[re.Match], int | None]) -> None:
        """Every match of `pattern` (case-insensitive) is handled and then cut out of the text, up to
        where the handler says it read (its return value), or to the match's end."""
        while True:
            match = re.search(pattern, self.rest, re.IGNORECASE)
            if match is None:
                return
            end = handle(match) or match.end()
            self.rest = self.rest[:match.start()] + " ; " + self.rest[end:]

    def tag(self, tag: str, negated: bool) -> None:
        (self.exclude_tags if negated else self.include_tags).append(tag)


def _named(r: _Reading, m: re.Match, group: int, songs: Callable[..., list[str]]) -> tuple[list[str], int]:
    """The song texts a "like"/"unlike" phrase names, and where in the text the name ends.

    The phrase ends at the first word that usually starts another part of a request ("and",
    "with", "for"...), which cuts titles like "Rock and Roll": the longest exact song or artist
    name running on to the next break ([,;.!?]), at most LONGER_NAME_WORDS words further, wins.
    """
    phrase = m.group(group).strip()
    words = len(phrase.split())
    clause = re.match(r"\s*[^,;.!?]*", r.rest[m.start(group):]).group(0)
    spans = [w.end() for w in re.finditer(r"\S+", clause)][words:words + LONGER_NAME_WORDS]
    for end in reversed(spans):
        longer = songs(clause[:end].strip(), exact=True)
        if longer:
            return longer, m.start(group) + end
    return songs(phrase) or [phrase], m.end()


def _read_songs(r: _Reading, songs: Callable[..., list[str]]) -> None:
    def away(m):
        found, end = _named(r, m, 2, songs)
        r.away.extend(found)
        return end

    def near(m):
        found, end = _named(r, m, 1, songs)
        r.near.extend(found)
        return end
    r.take(r"\b(unlike|not like|nothing like|away from|less like|different from)\s+(.+?)" + _END, away)
    r.take(r"(?<!\bi )(?<!\bi'd )(?<!\bwould )(?<!\bwe )(?<!\byou )"
           r"\b(?:sounds? like|songs? like|tracks? like|music like|more like|similar to|in the style of|like)"
           r"\s+(.+?)" + _END, near)


def _read_vocals(r: _Reading) -> None:
    r.take(_phrases(lex.NO_VOCALS), lambda m: r.exclude_tags.extend(lex.VOCAL_TAGS))
    r.take(_phrases(lex.WITH_VOCALS), lambda m: r.include_tags.append("vocals"))


def _read_counts(r: _Reading) -> None:
    def cap(m):
        r.fields["max_per_artist"] = max(1, min(MAX_SIZE, _count(m.group(1))))

    r.take(r"\b(?:no more than|not more than|at most|max(?:imum)?|up to|only)\s+" + _NUMBER
           + r"\s+(?:songs?\s+|tracks?\s+)?(?:per|from each|by each|by any|from any|each)\s+artists?\b", cap)
    r.take(r"\b" + _NUMBER + r"\s+(?:songs?\s+|tracks?\s+)?(?:per|each|by each|from each)\s+artists?\b", cap)

    def size(m):
        r.fields["size"] = max(1, min(MAX_SIZE, _count(m.group(1))))
    r.take(r"\b(\d{1,3})\s+(?:songs|tracks|tunes|titles|pieces)\b", size)
    r.take(r"\b(?:playlist|list|mix|selection) of (\d{1,3})\b", size)


def _tempo(low: float | None, high: float | None) -> TempoRange:
    clip = lambda v: None if v is None else float(round(min(300.0, max(20.0, v))))
    return TempoRange(min=clip(low), max=clip(high))


def _read_numbers(r: _Reading) -> None:
    f = r.fields
    r.take(r"\b(\d{2,3})\s*(?:-|–|to)\s*(\d{2,3})\s*bpm\b",
           lambda m: f.__setitem__("tempo", _tempo(*sorted((float(m.group(1)), float(m.group(2)))))))
    r.take(r"\b(?:under|below|less than|slower than|at most|max|up to)\s*(\d{2,3})\s*bpm\b",
           lambda m: f.__setitem__("tempo", _tempo(None, float(m.group(1)))))
    r.take(r"\b(?:over|above|more than|faster than|at least|min)\s*(\d{2,3})\s*bpm\b",
           lambda m: f.__setitem__("tempo", _tempo(float(m.group(1)), None)))
    r.take(r"(?:\b(?:around|about|approximately|roughly|near|at)\s*|~\s*)?\b(\d{2,3})\s*bpm\b",
           lambda m: f.__setitem__("tempo", _tempo(float(m.group(1)) * (1 - lex.TEMPO_AROUND),
                                                   float(m.group(1)) * (1 + lex.TEMPO_AROUND))))

    def years(low, high):
        f["year"] = YearRange(min=low, max=high)
    r.take(r"\b(?:between|from)\s+" + _YEAR + r"\s*(?:-|–|to|and|until)\s*" + _YEAR + r"\b",
           lambda m: years(*sorted((int(m.group(1)), int(m.group(2))))))
    r.take(r"\b" + _YEAR + r"\s*(?:-|–)\s*" + _YEAR + r"\b",
           lambda m: years(*sorted((int(m.group(1)), int(m.group(2))))))

    def decade(text: str) -> int:
        digits = int(text.rstrip("'s").lstrip("'"))
        if digits >= 1900:
            return digits
        return 2000 + digits if digits <= 20 else 1900 + digits
    decade_pattern = r"(?:the\s+)?'?((?:19|20)?\d0)'?s\b"
    r.take(r"\b(?:since|after)\s+" + decade_pattern, lambda m: years(decade(m.group(1)), None))
    r.take(r"\b(?:before|until|up to|pre)\s+" + decade_pattern, lambda m: years(None, decade(m.group(1)) - 1))
    r.take(r"\b(early|mid|late)?[\s-]*" + decade_pattern.replace("(?:the\\s+)?", "(?<![\\d])"),
           lambda m: years(decade(m.group(2)) + {"early": 0, "mid": 3, "late": 5, None: 0}[
               m.group(1) and m.group(1).lower()], decade(m.group(2)) + {"early": 4, "mid": 6, "late": 9, None: 9}[
               m.group(1) and m.group(1).lower()]))
    r.take(r"\b(?:from|since|after)\s+" + _YEAR + r"\b",
           lambda m: years(int(m.group(1)) + (m.group(0).lower().startswith("after")), None))
    r.take(r"\b(?:before|until|up to|pre)\s*-?\s*" + _YEAR + r"\b",
           lambda m: years(None, int(m.group(1)) - (not m.group(0).lower().startswith(("until", "up to")))))
    r.take(r"\b(?:in|from)\s+" + _YEAR + r"\b", lambda m: years(int(m.group(1)), int(m.group(1))))

    minutes = r"(\d{1,2}(?:\.\d)?)\s*(?:minutes|minute|mins|min)\b"
    r.take(r"\b(?:under|below|less than|shorter than|at most)\s+" + minutes,
           lambda m: f.__setitem__("duration", DurationRange(max=float(m.group(1)) * 60)))
    r.take(r"\b(?:over|above|more than|longer than|at least)\s+" + minutes,
           lambda m: f.__setitem__("duration", DurationRange(min=float(m.group(1)) * 60)))

    def key(m):
        accidental = (m.group(2) or "").lower().lstrip("-")
        if accidental in ("b", "♭", "flat"):
            f["key"] = _FLATS.get(m.group(1).lower() + "b", m.group(1).upper())
        else:
            f["key"] = m.group(1).upper() + ("#" if accidental in ("#", "♯", "sharp") else "")
        if m.group(3):
            f["scale"] = m.group(3).lower()
    r.take(r"\bin\s+(?:a\s+)?(major|minor)\s+(?:key|scale|mode)\b", lambda m: f.__setitem__("scale", m.group(1).lower()))
    r.take(r"\bin\s+([a-g])(#|♯|b|♭|-?sharp|-?flat)?\s+(major|minor)\b", key)
    r.take(r"\bin\s+([a-g])(#|♯|-?sharp|-?flat)()(?![\w#])", key)
    r.take(r"\b(major|minor)(?:\s+key|\s+scale|\s+mode)\b", lambda m: f.__setitem__("scale", m.group(1).lower()))


def _read_artists(r: _Reading) -> None:
    r.take(r"\b(?:not by|nothing by|no songs by|no tracks by|no music by|excluding|except)\s+(.+?)" + _END,
           lambda m: r.exclude_artists.append(m.group(1).strip()))
    r.take(r"\b(?:by|from the artist|from artist)\s+(.+?)" + _END,
           lambda m: r.include_artists.append(m.group(1).strip()))


def _read_fixed_phrases(r: _Reading) -> None:
    r.take(_phrases(lex.COMPARATIVES), lambda m: r.comparatives.append(lex.COMPARATIVES[m.group(1).lower()]))

    def tempo(m):
        negated = re.match(r"(?:not|no|nothing|never)\b", m.group(0), re.IGNORECASE)
        low, high = lex.TEMPO_WORDS[m.group(1).lower()]
        if negated:   # "not fast": below the fast floor; "not slow": above the slow ceiling
            low, high = (None, low) if low is not None else (high, None)
        # A number read earlier ("slow pieces under 90 bpm") is more precise than the word: it stays.
        r.fields.setdefault("tempo", _tempo(low, high))
    r.take(r"(?:\b(?:not|no|nothing|never)\s+(?:too\s+|so\s+|very\s+)?)?" + _phrases(lex.TEMPO_WORDS), tempo)

    def duration(m):
        low, high = lex.DURATION_WORDS[m.group(1).lower()]
        r.fields["duration"] = DurationRange(min=low, max=high)
    r.take(_phrases(lex.DURATION_WORDS), duration)


_WORD = re.compile(r"[;,.!?]|[\w&'#+-]+")


def _singular(word: str) -> str:
    """A plural's singular, the plain way ("drones" -> "drone"); other words unchanged."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "'s")) else word


_BREAKS = (";", ",", ".", "!", "?", "but")   # where a negation and an intensifier stop


def _negation_end(tokens: list[str], start: int) -> int:
    """The last token a negation before `start` may cover: NEGATION_REACH words on, glue words not
    counted ("I don't want anything with drums"), never past a break."""
    counted = 0
    for i in range(start, len(tokens)):
        if tokens[i] in _BREAKS:
            return i - 1
        counted += tokens[i] not in lex.STOPWORDS
        if counted == lex.NEGATION_REACH:
            return i
    return len(tokens) - 1


def _read_words(r: _Reading, free_words: bool) -> None:
    tokens = [t.lower().strip("'") for t in _WORD.findall(r.rest)]
    state = {"negated_until": -1, "weight": 1.0}

    def known(phrase: str, negated: bool) -> bool:
        """Reads one phrase of the tables; False when none knows it."""
        if phrase in lex.INTENSIFIERS:
            state["weight"] = lex.INTENSIFIERS[phrase]
            return True
        if phrase in lex.MOOD_WORDS:
            valence, arousal, moods = lex.MOOD_WORDS[phrase]
            weight = state["weight"]
            if not negated:   # "not aggressive" denies a mood; it does not ask for calm
                r.valence += weight * valence
                r.arousal += weight * arousal
            for mood in moods:
                r.moods[mood] = (MoodCondition(mood=mood, max=lex.MOOD_MAX) if negated else MoodCondition(
                    mood=mood, min=round(min(0.85, max(0.3, lex.MOOD_MIN + 0.3 * (weight - 1))), 2)))
            state["weight"] = 1.0
            return True
        tags = lex.TAG_WORDS.get(phrase) or ((_LABEL_TAGS[phrase],) if phrase in _LABEL_TAGS else ())
        for tag in tags:
            r.tag(tag, negated)
        return bool(tags)

    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _BREAKS:
            state.update(negated_until=-1, weight=1.0)
            i += 1
            continue
        negation = next((n for n in (2, 1) if " ".join(tokens[i:i + n]) in lex.NEGATIONS), 0)
        if negation:   # "no", "without", "anything but"
            i += negation
            state["negated_until"] = _negation_end(tokens, i)
            continue
        negated = i <= state["negated_until"]
        step = next((n for n in (3, 2, 1) if i + n <= len(tokens) and known(" ".join(tokens[i:i + n]), negated)),
                    0)
        if not step and _singular(token) != token and known(_singular(token), negated):   # "drones"
            step = 1
        read_one = bool(step) and token not in lex.INTENSIFIERS
        if not step and free_words and token.isalpha() and len(token) >= 3 and token not in lex.STOPWORDS:
            tag = word_tag(token)
            if tag is not None:
                r.tag(tag, negated)
                read_one = True
        i += max(step, 1)
        if negated and read_one:   # a negation covers one phrase, and one more joined by "or"/"nor"
            joined = i < len(tokens) and tokens[i] in ("or", "nor")
            state["negated_until"] = i + 1 if joined else -1


def _merge(previous: Plan | None, r: _Reading) -> Plan:
    plan = (previous or Plan()).model_dump()
    include = [t for t in plan["include_tags"] if t not in r.exclude_tags]
    exclude = [t for t in plan["exclude_tags"] if t not in r.include_tags]
    plan["include_tags"] = list(dict.fromkeys(include + [t for t in r.include_tags if t not in r.exclude_tags]))
    plan["exclude_tags"] = list(dict.fromkeys(exclude + r.exclude_tags))
    for field, new in (("near", r.near), ("away", r.away), ("include_artists", r.include_artists),
                       ("exclude_artists", r.exclude_artists)):
        plan[field] = list(dict.fromkeys(plan[field] + new))[:20]
    moods = {m["mood"]: m for m in plan["moods"]}
    moods.update({mood: condition.model_dump() for mood, condition in r.moods.items()})
    energy = plan["energy"]
    if r.arousal >= lex.AROUSAL_FOR_ENERGY:
        energy = {"min": lex.ENERGY_FLOOR, "max": None}
    elif r.arousal <= -lex.AROUSAL_FOR_ENERGY:
        energy = {"min": None, "max": lex.ENERGY_CEILING}
    tempo = r.fields.pop("tempo", None)
    tempo = tempo.model_dump() if tempo is not None else plan["tempo"]
    for change in r.comparatives:
        for mood, direction in dict(change.get("moods", {})).items():
            moods[mood] = {"mood": mood, "min": None, "max": None, "direction": direction}
        if change.get("energy"):
            energy = _shift_energy(energy, int(change["energy"]))
        if change.get("tempo"):
            tempo = _shift_tempo(tempo, int(change["tempo"]))
    plan["moods"] = [moods[m] for m in MOOD_COLUMNS if m in moods]
    plan["energy"], plan["tempo"] = energy, tempo
    for field, value in r.fields.items():
        plan[field] = value.model_dump() if hasattr(value, "model_dump") else value
    return Plan.model_validate(plan)


def _shift_energy(energy: dict | None, step: int) -> dict:
    """Raise (step > 0) or lower the energy asked for by ENERGY_STEP."""
    if step > 0:
        floor = (energy or {}).get("min") or ((energy or {}).get("max") or lex.ENERGY_FLOOR - lex.ENERGY_STEP)
        return {"min": round(min(0.95, floor + lex.ENERGY_STEP), 2), "max": None}
    ceiling = (energy or {}).get("max") or ((energy or {}).get("min") or lex.ENERGY_CEILING + lex.ENERGY_STEP)
    return {"min": None, "max": round(max(0.05, ceiling - lex.ENERGY_STEP), 2)}


def _shift_tempo(tempo: dict | None, step: int) -> dict:
    """Move the tempo range down (step < 0) or up by TEMPO_STEP; from TEMPO_DEFAULT when there is none."""
    if not tempo:
        return _tempo(None, lex.TEMPO_DEFAULT).model_dump() if step < 0 else _tempo(lex.TEMPO_DEFAULT, None).model_dump()
    factor = (1 - lex.TEMPO_STEP) if step < 0 else (1 + lex.TEMPO_STEP)
    low, high = tempo.get("min"), tempo.get("max")
    if step < 0 and high is None:        # "at least 125" made slower: below where it was
        return _tempo(None, low).model_dump()
    if step > 0 and low is None:
        return _tempo(high, None).model_dump()
    return _tempo(low * factor if low else None, high * factor if high else None).model_dump()


def read(text: str, previous: Plan | None = None, *, songs: Callable[..., list[str]] | None = catalog_songs,
         free_words: bool = True) -> Plan:
    """The plan a plain-language request asks for; a follow-up refines `previous`.

    Parameters
    ----------
    text : str
        The request, e.g. "calm piano for a rainy evening, nothing with vocals".
    previous : Plan or None
        The plan this request follows up ("more upbeat", "no more than 2 per artist").
    songs : callable or None
        Turns the text after "like"/"unlike" into near-song texts, `songs(phrase, exact=False)`
        (default: the catalog, `catalog_songs`, which needs the database); None keeps the text
        as it was typed (execute resolves it then).
    free_words : bool
        Map words no table knows to their nearest tag through the bundled embedding.

    Returns
    -------
    Plan
        Always a valid plan (an empty request gives the default plan, or `previous` unchanged).
    """
    r = _Reading(text[:2000])
    _read_songs(r, songs or (lambda phrase, exact=False: []))
    _read_vocals(r)
    _read_counts(r)
    _read_numbers(r)
    _read_artists(r)
    _read_fixed_phrases(r)
    _read_words(r, free_words)
    return _merge(previous, r)
