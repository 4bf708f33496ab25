"""The deterministic request reader's word lists, as data: one table per kind of word.

similarity.request_reader reads a request with these and nothing else hand-written; change a
meaning here, not there.  Keys are lower case; a key of several words is a phrase, matched before
the single words inside it.  Tags must be labels of analysis.labels (MSD_LABELS / MTT_LABELS).
"""
from __future__ import annotations

#: Mood words -> (valence, arousal), each -1..1 (the circumplex model: valence is pleasant vs
#: unpleasant, arousal is energetic vs calm), and the mood scores (db.models.MOOD_COLUMNS) they ask
#: for.  The reader sums valence/arousal over the words (times intensifiers; a negated word adds
#: nothing: "not aggressive" is not a request for calm) into an energy range, and asks each listed
#: mood for at least MOOD_MIN (at most MOOD_MAX when negated).
MOOD_WORDS: dict[str, tuple[float, float, tuple[str, ...]]] = {
    # calm, low arousal
    "calm": (0.3, -0.8, ("relaxed",)), "calming": (0.3, -0.8, ("relaxed",)), "relax": (0.4, -0.7, ("relaxed",)),
    "relaxed": (0.4, -0.7, ("relaxed",)), "relaxing": (0.4, -0.7, ("relaxed",)),
    "chill": (0.4, -0.6, ("relaxed",)), "chilled": (0.4, -0.6, ("relaxed",)),
    "mellow": (0.2, -0.6, ("relaxed",)), "peaceful": (0.5, -0.8, ("relaxed",)),
    "soothing": (0.4, -0.8, ("relaxed",)), "gentle": (0.3, -0.6, ("relaxed",)),
    "serene": (0.5, -0.8, ("relaxed",)), "tranquil": (0.5, -0.8, ("relaxed",)),
    "sleepy": (0.1, -0.9, ("relaxed",)), "sleep": (0.1, -0.9, ("relaxed",)),
    "dreamy": (0.3, -0.6, ("relaxed",)), "laid back": (0.4, -0.6, ("relaxed",)),
    "laid-back": (0.4, -0.6, ("relaxed",)), "rainy": (-0.2, -0.5, ("relaxed",)),
    "cozy": (0.5, -0.6, ("relaxed",)), "cosy": (0.5, -0.6, ("relaxed",)),
    "lazy": (0.2, -0.7, ("relaxed",)), "meditative": (0.3, -0.9, ("relaxed",)),
    "study": (0.1, -0.5, ("relaxed",)), "focus": (0.1, -0.4, ("relaxed",)),
    # sad, dark
    "sad": (-0.8, -0.3, ("sad",)), "melancholic": (-0.7, -0.4, ("sad",)), "melancholy": (-0.7, -0.4, ("sad",)),
    "depressing": (-0.9, -0.4, ("sad",)), "gloomy": (-0.7, -0.3, ("sad",)), "somber": (-0.6, -0.4, ("sad",)),
    "sombre": (-0.6, -0.4, ("sad",)), "heartbroken": (-0.9, -0.2, ("sad",)), "dark": (-0.6, 0.1, ("sad",)),
    "moody": (-0.4, -0.1, ("sad",)), "lonely": (-0.7, -0.4, ("sad",)), "tearjerker": (-0.8, -0.2, ("sad",)),
    "bittersweet": (-0.3, -0.3, ("sad",)), "haunting": (-0.4, -0.2, ("sad",)),
    # happy, bright
    "happy": (0.8, 0.4, ("happy",)), "cheerful": (0.8, 0.4, ("happy",)), "joyful": (0.9, 0.5, ("happy",)),
    "uplifting": (0.8, 0.5, ("happy",)), "upbeat": (0.7, 0.6, ("happy",)), "sunny": (0.7, 0.3, ("happy",)),
    "feel good": (0.8, 0.4, ("happy",)), "feel-good": (0.8, 0.4, ("happy",)), "bright": (0.6, 0.3, ("happy",)),
    "fun": (0.7, 0.5, ("happy",)), "positive": (0.7, 0.3, ("happy",)), "summer": (0.6, 0.4, ("happy",)),
    # energetic, aggressive
    "energetic": (0.3, 0.8, ()), "intense": (-0.1, 0.8, ()), "powerful": (0.1, 0.8, ()),
    "workout": (0.3, 0.9, ()), "gym": (0.3, 0.9, ()), "running": (0.3, 0.8, ()), "hype": (0.4, 0.9, ("party",)),
    "aggressive": (-0.5, 0.9, ("aggressive",)), "angry": (-0.7, 0.8, ("aggressive",)),
    "furious": (-0.8, 0.9, ("aggressive",)), "brutal": (-0.6, 0.9, ("aggressive",)),
    "heavy": (-0.3, 0.8, ("aggressive",)), "hard": (-0.2, 0.7, ("aggressive",)),
    "battle": (-0.3, 0.9, ("aggressive",)), "rage": (-0.8, 0.9, ("aggressive",)),
    # dance, party
    "danceable": (0.6, 0.6, ("danceable",)), "dancing": (0.6, 0.7, ("danceable",)),
    "groovy": (0.6, 0.5, ("danceable",)), "dancefloor": (0.6, 0.7, ("danceable",)),
    "party": (0.7, 0.8, ("party",)), "club": (0.5, 0.8, ("party",)), "festive": (0.8, 0.6, ("party",)),
    # dark and uneasy (no mood score says "fear": the nearest is sad, as for "dark")
    "eerie": (-0.6, 0.1, ("sad",)), "spooky": (-0.5, 0.2, ("sad",)), "creepy": (-0.6, 0.2, ("sad",)),
    "ominous": (-0.6, 0.2, ("sad",)), "sinister": (-0.7, 0.3, ("sad",)),
    "mournful": (-0.9, -0.3, ("sad",)), "sorrowful": (-0.9, -0.3, ("sad",)), "tragic": (-0.9, -0.2, ("sad",)),
    "tense": (-0.4, 0.6, ()), "suspenseful": (-0.4, 0.6, ()), "frantic": (-0.3, 0.9, ()),
    "chaotic": (-0.4, 0.9, ()), "hectic": (-0.2, 0.8, ()),
    # grand
    "epic": (0.3, 0.8, ()), "heroic": (0.6, 0.7, ()), "triumphant": (0.7, 0.7, ()), "majestic": (0.5, 0.6, ()),
    "dramatic": (-0.1, 0.6, ()),
    # light-hearted, tender
    "playful": (0.7, 0.4, ("happy",)), "whimsical": (0.7, 0.3, ("happy",)), "quirky": (0.6, 0.4, ("happy",)),
    "silly": (0.7, 0.5, ("happy",)), "romantic": (0.5, -0.3, ("relaxed",)), "ethereal": (0.3, -0.6, ("relaxed",)),
    "meditation": (0.3, -0.9, ("relaxed",)), "yoga": (0.4, -0.7, ("relaxed",)), "zen": (0.4, -0.8, ("relaxed",)),
    "spa": (0.5, -0.8, ("relaxed",)), "dinner party": (0.5, -0.3, ("relaxed",)),
    "breakup": (-0.8, -0.2, ("sad",)), "heartbreak": (-0.9, -0.2, ("sad",)),
    # dance styles without a tag of their own
    "latin": (0.7, 0.6, ("danceable",)), "salsa": (0.7, 0.7, ("danceable",)), "samba": (0.8, 0.7, ("danceable",)),
    "reggaeton": (0.6, 0.7, ("danceable",)), "cumbia": (0.7, 0.6, ("danceable",)),
}

#: Comparatives that refine a plan (a follow-up, or "like X but darker"): mood -> "more"/"less",
#: and how energy and tempo move: ("energy", +1) raises the energy floor, ("tempo", -1) slows.
COMPARATIVES: dict[str, dict[str, object]] = {
    "darker": {"moods": {"sad": "more", "happy": "less"}},
    "sadder": {"moods": {"sad": "more", "happy": "less"}},
    "happier": {"moods": {"happy": "more", "sad": "less"}},
    "brighter": {"moods": {"happy": "more", "sad": "less"}},
    "more upbeat": {"moods": {"happy": "more", "sad": "less"}, "energy": 1},
    "more cheerful": {"moods": {"happy": "more", "sad": "less"}},
    "calmer": {"moods": {"relaxed": "more", "aggressive": "less"}, "energy": -1},
    "more relaxed": {"moods": {"relaxed": "more"}, "energy": -1},
    "more chill": {"moods": {"relaxed": "more"}, "energy": -1},
    "mellower": {"moods": {"relaxed": "more"}, "energy": -1},
    "softer": {"moods": {"relaxed": "more", "aggressive": "less"}, "energy": -1},
    "quieter": {"moods": {"relaxed": "more"}, "energy": -1},
    "heavier": {"moods": {"aggressive": "more"}, "energy": 1},
    "harder": {"moods": {"aggressive": "more"}, "energy": 1},
    "more aggressive": {"moods": {"aggressive": "more", "relaxed": "less"}, "energy": 1},
    "more energetic": {"energy": 1},
    "more energy": {"energy": 1},
    "less energy": {"energy": -1},
    "louder": {"energy": 1},
    "more danceable": {"moods": {"danceable": "more"}},
    "more party": {"moods": {"party": "more"}},
    "slower": {"tempo": -1},
    "faster": {"tempo": 1},
    "less sad": {"moods": {"sad": "less"}},
    "less aggressive": {"moods": {"aggressive": "less"}},
}

#: Words that strengthen or weaken the mood word after them (a multiplier of its weight).
INTENSIFIERS: dict[str, float] = {
    "very": 1.5, "really": 1.5, "super": 1.5, "extremely": 1.8, "so": 1.3, "truly": 1.4, "deeply": 1.5,
    "totally": 1.5, "quite": 1.2, "slightly": 0.6, "somewhat": 0.7, "a bit": 0.6, "a little": 0.6,
    "kind of": 0.7, "kinda": 0.7, "mildly": 0.6,
}

#: Words and phrases that negate the next mood or tag phrase within NEGATION_REACH words, glue
#: words (STOPWORDS) not counted (and, after it, one joined by "or"/"nor": "no piano or drums").
NEGATIONS: tuple[str, ...] = ("not", "no", "never", "nothing", "without", "non", "isn't", "aren't", "don't",
                              "dont", "avoid", "except", "minus", "zero", "anything but", "everything but",
                              "anything except", "other than",
                              # in a follow-up: "less electronic", "remove the piano"
                              "less", "fewer", "remove", "drop", "skip")
NEGATION_REACH = 3

#: Mood score asked for by a mood word: at least this (scaled by intensity), at most MOOD_MAX when negated.
MOOD_MIN = 0.5
MOOD_MAX = 0.3
#: Summed arousal at or beyond which the energy gets a floor / ceiling, and their values (0..1).
AROUSAL_FOR_ENERGY = 0.6
ENERGY_FLOOR = 0.55
ENERGY_CEILING = 0.45
ENERGY_STEP = 0.15         # "more energy" / "calmer": how far a follow-up moves the energy bound

#: Tempo words -> (min BPM, max BPM), either may be None.
TEMPO_WORDS: dict[str, tuple[float | None, float | None]] = {
    "very slow": (None, 80), "slow": (None, 100), "slowish": (None, 105), "downtempo": (None, 105),
    "mid-tempo": (95, 125), "midtempo": (95, 125), "medium tempo": (95, 125), "moderate tempo": (95, 125),
    "fast": (125, None), "quick": (125, None), "uptempo": (120, None), "up-tempo": (120, None),
    "very fast": (145, None), "rapid": (130, None), "high tempo": (130, None), "high-tempo": (130, None),
}
TEMPO_AROUND = 0.07        # "around 120 bpm": +-7 %
TEMPO_STEP = 0.15          # "slower" / "faster": move the tempo bounds by 15 %
TEMPO_DEFAULT = 110.0      # "slower" / "faster" with no tempo yet: below / above this

#: Duration words -> (min s, max s).
DURATION_WORDS: dict[str, tuple[float | None, float | None]] = {
    "short": (None, 210), "shorter": (None, 210), "long": (360, None), "longer": (360, None),
    "epic length": (480, None),
}

#: Words and phrases naming tags -> the tags (MSD or MTT labels).  A word equal to a tag's label
#: (any case) needs no entry; these are the other names people use.
TAG_WORDS: dict[str, tuple[str, ...]] = {
    "hip hop": ("Hip-Hop",), "hip-hop": ("Hip-Hop",), "hiphop": ("Hip-Hop",), "rap": ("Hip-Hop",),
    "r&b": ("rnb",), "r and b": ("rnb",), "rhythm and blues": ("rnb",),
    "house": ("House",), "edm": ("electronic", "dance"), "electro": ("electro",), "trance": ("electronic", "dance"),
    "dubstep": ("electronic", "beats"), "drum and bass": ("electronic", "beats"), "dnb": ("electronic", "beats"),
    "synthwave": ("synth", "80s"), "synthpop": ("synth", "pop"), "synth-pop": ("synth", "pop"),
    "chiptune": ("electronic", "synth"), "8-bit": ("electronic", "synth"), "8 bit": ("electronic", "synth"),
    "video game": ("electronic", "synth"), "orchestral": ("classical", "strings"),
    "orchestra": ("classical", "strings"), "symphonic": ("classical", "strings"),
    "symphony": ("classical", "strings"), "cinematic": ("classical", "strings"),
    "soundtrack": ("classical", "strings"), "piano": ("piano",), "pianos": ("piano",),
    "guitars": ("guitar",), "acoustic guitar": ("acoustic", "guitar"), "strings": ("strings",),
    "violins": ("violin",), "choir": ("choir",), "choral": ("choral",), "opera": ("opera",),
    "prog": ("Progressive rock",), "prog rock": ("Progressive rock",), "progressive rock": ("Progressive rock",),
    "progressive": ("Progressive rock",), "classic rock": ("classic rock",), "hard rock": ("hard rock",),
    "heavy metal": ("heavy metal",), "metal": ("metal",), "punk": ("punk",), "alt rock": ("alternative rock",),
    "indie pop": ("indie pop",), "indie rock": ("indie rock",), "new age": ("new age",),
    "easy listening": ("easy listening",), "lounge": ("easy listening", "chillout"),
    "chillout": ("chillout",), "chill-out": ("chillout",), "ambient": ("ambient",),
    "drone": ("ambient",), "world": ("indian",), "bollywood": ("indian",), "oldies": ("oldies",),
    "soul": ("soul",), "motown": ("soul",), "funky": ("funk",), "disco": ("dance", "funk"),
    "jazzy": ("jazz",), "swing": ("jazz",), "bebop": ("jazz",), "saxophone": ("jazz",), "sax": ("jazz",),
    "bluesy": ("blues",), "folk": ("folk",), "folky": ("folk",), "singer-songwriter": ("acoustic", "folk"),
    "country": ("country",), "bluegrass": ("country",), "banjo": ("country",),
    "baroque": ("harpsichord", "classical"), "harpsichord": ("harpsichord",), "lullaby": ("soft", "quiet"),
    "female vocals": ("female vocalists",), "female vocalist": ("female vocalists",),
    "female singer": ("female vocalists",), "female singers": ("female vocalists",),
    "male vocals": ("male vocalists",), "male singer": ("male vocalists",), "male vocalist": ("male vocalists",),
    "techno": ("techno",), "electronica": ("electronica",), "electronic": ("electronic",),
    "drums": ("drums",), "beats": ("beats",), "weird": ("weird",), "experimental": ("experimental",),
    "sexy": ("sexy",), "catchy": ("catchy",), "beautiful": ("beautiful",),
    "atmospheric": ("ambient",), "atmosphere": ("ambient",), "soundscape": ("ambient",),
    "sci-fi": ("electronic", "synth"), "scifi": ("electronic", "synth"), "science fiction": ("electronic", "synth"),
    "futuristic": ("electronic", "synth"), "arcade": ("electronic", "synth"), "industrial": ("electronic", "loud"),
    "film score": ("classical", "strings"), "film music": ("classical", "strings"),
    "movie": ("classical", "strings"), "flamenco": ("acoustic", "guitar"), "spanish guitar": ("acoustic", "guitar"),
    "bossa nova": ("jazz", "acoustic"), "a cappella": ("vocals",), "acapella": ("vocals",),
    "a capella": ("vocals",), "gospel": ("soul", "choir"), "grunge": ("alternative rock",),
    "post-rock": ("rock", "instrumental"), "post rock": ("rock", "instrumental"),
    "shoegaze": ("alternative", "indie rock"), "new wave": ("80s", "pop"), "lofi": ("chill", "beats"),
    "lo-fi": ("chill", "beats"), "trip hop": ("electronic", "chillout"), "trip-hop": ("electronic", "chillout"),
    "celtic": ("folk",), "irish": ("folk",), "ballad": ("slow", "soft"),
    "trap": ("Hip-Hop", "beats"), "drill": ("Hip-Hop",), "grime": ("Hip-Hop", "electronic"),
    "emo": ("alternative rock",), "k-pop": ("pop",), "kpop": ("pop",), "j-pop": ("pop",), "jpop": ("pop",),
    "cantopop": ("pop",), "mandopop": ("pop",), "doo-wop": ("oldies",), "doo wop": ("oldies",),
    "noise": ("experimental", "loud"), "noisy": ("loud",),
}

#: Asking for no singing: these tags are excluded (the MTT model's vocal tags and MSD's vocalists).
VOCAL_TAGS: tuple[str, ...] = ("vocals", "singing", "female vocalists", "male vocalists")
#: Phrases meaning "no singing" (negation already included); "instrumental" alone means the same.
NO_VOCALS: tuple[str, ...] = ("nothing with vocals", "no vocals", "without vocals", "no vocal", "no singing",
                              "without singing", "no voice", "no voices", "no lyrics", "without lyrics",
                              "instrumental", "instrumentals", "vocal-free", "vocal free")
#: Phrases asking for singing.
WITH_VOCALS: tuple[str, ...] = ("with vocals", "with singing", "with lyrics", "sung")

#: Words never looked up as tags (the glue of a request, and words the other tables already read).
STOPWORDS: frozenset[str] = frozenset("""
a an the and or but of for to in on at by with from into as is are be it its this that these those
i me my we our you your some any more less most least very really just only also please give make
play find want need like love something songs song tracks track music tunes tune playlist list mix
stuff kind sort type evening morning night afternoon day days weekend time while during when where
good nice great best new old bit little lot lots much many few all every each other another same
than then up down out over under about around between before after since until bpm per artist artists
feel feeling vibe vibes mood moods sound sounds sounding style genre genres one two three four five
drive driving car road trip home work office dinner cooking reading rainy sunday saturday friday
listen listening hear hearing play playing put game games gaming anything everything hit hits baby
""".split())

#: Numbers written as words, for sizes and artist caps.
NUMBER_WORDS: dict[str, int] = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                                "eight": 8, "nine": 9, "ten": 10, "a single": 1, "single": 1}
