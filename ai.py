"""Language models for Sonarium: one small client for three kinds of server, and AI playlist names.

The client
----------
`AiConfig` says which provider, where, which model and which key;
`AiConfig.from_settings()` reads the settings store, so what the Settings page
saves applies at once in every process.  `chat()` sends a conversation and
returns the model's text; `complete_json()` asks for one JSON object and
returns it parsed.

Requests have timeouts and a few retries on failures that may pass, follow no
redirects, and fail with an `AiError` whose message a person can act on and
which never holds the key nor a request URL: `ai_providers` says how, and
speaks each provider's wire format.

Naming
------
`name_playlists()` asks for one name per playlist in a single request.  Each
name is cleaned and checked, and a name that fails is replaced by its plain
name.  When the answer cannot be used at all, the model is asked once more;
after that, or on any other AI failure, every playlist keeps its plain name.
The `Naming` result says why in a plain sentence.  The function never raises
for AI trouble and never logs the key.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import unicodedata
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

import ai_providers
from ai_providers import AiAnswerError, AiError, Message, one_line
from config import AI_PROVIDERS, ConfigError, Settings, variable

__all__ = ["AiAnswerError", "AiConfig", "AiError", "Naming", "chat", "clean_name", "complete_json",
           "name_playlists", "parse_json_object"]

log = logging.getLogger(__name__)

# What each provider is called in messages, where it usually listens, and the
# model used when AI_MODEL is unset.  The defaults were checked against the
# providers' pages in December 2026.  Ollama's is a small model most machines
# can run (`ollama pull llama3.1:8b`).  OpenAI retires named models often, so
# its default is the low-cost model OpenAI currently recommends.  Gemini's
# "-latest" alias follows Google's newest Flash model.
PROVIDER_LABELS = {"ollama": "Ollama", "openai": "OpenAI-compatible server", "gemini": "Gemini"}
DEFAULT_URLS = {"ollama": "http://localhost:11434", "openai": "https://api.openai.com",
                "gemini": "https://generativelanguage.googleapis.com"}
DEFAULT_MODELS = {"ollama": "llama3.1:8b", "openai": "gpt-6-luna", "gemini": "gemini-flash-latest"}

DEFAULT_TIMEOUT = 120.0    # s per attempt: a CPU-only Ollama may need a minute to load a model and answer
# 1.0 is the one temperature every provider takes.  OpenAI's reasoning models
# accept no other value, and Google advises keeping Gemini 3 at 1.0, as lower
# values can make it loop.
DEFAULT_TEMPERATURE = 1.0


@dataclasses.dataclass(frozen=True)
class AiConfig:
    """Where and how to reach a language model.

    Parameters
    ----------
    provider : one of `config.AI_PROVIDERS`; "none" turns the AI features off
    url : the server's base URL; None: the provider's usual address (`DEFAULT_URLS`)
    model : the model name; None: the provider's default (`DEFAULT_MODELS`)
    api_key : sent as a bearer token (Ollama, OpenAI-compatible) or in the
        x-goog-api-key header (Gemini); never shown by repr()
    timeout : s, the read timeout of one attempt
    """

    provider: str
    url: str | None = None
    model: str | None = None
    api_key: str | None = dataclasses.field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.provider not in AI_PROVIDERS:
            raise ValueError("provider must be one of " + ", ".join(AI_PROVIDERS))
        if not (isinstance(self.timeout, (int, float)) and 0 < self.timeout <= 3600):
            raise ValueError("timeout must be a number of seconds from 0 to 3600")

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AiConfig:
        """The AI settings in force: `settings`, or else `settings_store.effective()`.

        Raises config.ConfigError when the settings cannot be read.
        """
        if settings is None:
            import settings_store   # needs the database; kept out of the import of this module
            settings = settings_store.effective()
        return cls(provider=settings.ai_provider, url=settings.ai_url, model=settings.ai_model,
                   api_key=settings.ai_api_key)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AiConfig:
        """A config from a request's fields (provider, url, model, api_key, timeout).

        Values are parsed as the settings parse AI_PROVIDER and AI_URL.

        Raises ValueError naming the field at fault, never echoing a key.
        """
        unknown = sorted(set(values) - {"provider", "url", "model", "api_key", "timeout"})
        if unknown:
            raise ValueError("unknown field " + ", ".join(map(str, unknown)))
        text = {name: str(values[name]).strip() for name in ("provider", "url", "model", "api_key")
                if values.get(name) is not None and str(values[name]).strip()}
        parsed: dict[str, Any] = {"model": text.get("model"), "api_key": text.get("api_key")}
        for field, setting in (("provider", "AI_PROVIDER"), ("url", "AI_URL")):
            try:
                parsed[field] = variable(setting).parse(text[field]) if field in text else None
            except ValueError as error:
                raise ValueError(f"{field}: expected {error}") from None
        parsed["provider"] = parsed["provider"] or "none"
        if values.get("timeout") is not None:
            try:
                parsed["timeout"] = float(values["timeout"])
            except (TypeError, ValueError):
                raise ValueError("timeout must be a number of seconds from 0 to 3600") from None
        return cls(**parsed)

    @property
    def enabled(self) -> bool:
        return self.provider != "none"

    @property
    def label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, "The AI provider")

    @property
    def base_url(self) -> str:
        return (self.url or DEFAULT_URLS[self.provider]).rstrip("/")

    @property
    def model_name(self) -> str:
        return self.model or DEFAULT_MODELS[self.provider]

    @property
    def where(self) -> str:
        """The server as messages name it: scheme, host and port only."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


# -- the public calls -------------------------------------------------------------------------

_ROLES = ("system", "user", "assistant")


def chat(config: AiConfig, messages: Sequence[Message], *, schema: dict | None = None,
         temperature: float = DEFAULT_TEMPERATURE) -> str:
    """Send a conversation and return the text the model answered.

    Parameters
    ----------
    config : where to send it
    messages : {"role": "system" | "user" | "assistant", "content": text}, oldest first
    schema : a JSON schema the answer must follow; the provider is asked for JSON output
    temperature : sampling temperature (0..2, no unit)

    Raises
    ------
    AiError
        The provider could not be reached, refused, or sent something other than an answer.
    AiAnswerError
        The provider answered without text.
    """
    if not config.enabled:
        raise AiError("no AI provider is set (AI_PROVIDER is none)")
    if not messages or any(m.get("role") not in _ROLES or not isinstance(m.get("content"), str)
                           for m in messages):
        raise ValueError("messages must be {'role': system|user|assistant, 'content': text}")
    return ai_providers.send(config, messages, schema, temperature)


def parse_json_object(text: str) -> dict:
    """The JSON object in a model's answer: bare, in a ```json fence, or amid a little prose.

    Raises AiAnswerError when there is none.
    """
    stripped = re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL).strip()
    fenced = re.search(r"```(?:json|JSON)?\s*(.*?)```", stripped, flags=re.DOTALL)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(stripped)
    start, end = stripped.find("{"), stripped.rfind("}")
    if 0 <= start < end:
        candidates.append(stripped[start:end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    raise AiAnswerError("the answer is not a JSON object")


def complete_json(config: AiConfig, system: str, user: str, schema: dict, *,
                  temperature: float = DEFAULT_TEMPERATURE) -> dict:
    """Ask for one JSON object following `schema` and return it parsed.

    The schema is also spelled out in the system prompt, as not every provider
    enforces it (Gemini and the fallback without response_format only get
    JSON mode).  Raises AiError (AiAnswerError when the answer is not a JSON object).
    """
    instruction = ("Answer with one JSON object and nothing else. It must follow this JSON schema: "
                   + json.dumps(schema, separators=(",", ":")))
    messages = [{"role": "system", "content": f"{system}\n\n{instruction}"}, {"role": "user", "content": user}]
    return parse_json_object(chat(config, messages, schema=schema, temperature=temperature))


# -- playlist names ---------------------------------------------------------------------------

NAME_CHARS = (3, 40)   # shortest and longest name, in characters
# Words that may appear in more than one name of a set.
STOP_WORDS = frozenset("a an the of and or in on at to for with by from into under over my your our its".split())
# Words that claim a genre.  A name may use one only when the playlist's own tags
# contain it, or a word of its family: the reference system's users complained
# of names with the wrong genre.  Words with a common other sense (soul, house,
# dance) are left out.
GENRE_FAMILIES = (
    {"electronic", "electronica", "electro", "edm"}, {"hip", "hop", "rap"}, {"rock"}, {"pop"}, {"indie"},
    {"punk"}, {"metal"}, {"jazz"}, {"blues"}, {"folk"}, {"country"}, {"funk"}, {"disco"}, {"reggae"},
    {"techno"}, {"trance"}, {"ambient"}, {"rnb"}, {"classical"}, {"opera"}, {"gospel"}, {"grunge"},
    {"ska"}, {"dubstep"}, {"synthwave"}, {"shoegaze"}, {"bluegrass"}, {"emo"}, {"chillout"},
)
_FAMILY = {word: family for family in GENRE_FAMILIES for word in family}
_LIST_MARKER = re.compile(r"^\s*(?:\d+\s*[.):-]|[-*•])\s+")
_EMOJI_MARKS = re.compile("[\ufe00-\ufe0f\u20e3\U000e0100-\U000e01ef]")
_DOUBLE_QUOTES = "\"“”„‟«»‹›「」『』"
_EDGES = " '‘’`-–—:;,."


@dataclasses.dataclass(frozen=True)
class Naming:
    """Playlist names and how they came about.

    names : one per playlist, in order, distinct
    used_ai : True when at least one name is the model's
    note : why some or all names are plain ones, in plain words; None when nothing went wrong
    """

    names: list[str]
    used_ai: bool
    note: str | None


def clean_name(raw: Any) -> str | None:
    """A model's name made presentable, or None when it cannot be.

    Drops surrounding quotes, list markers, markdown marks, emoji and other
    symbols, invisible format characters (joiners, bidi overrides); whitespace
    collapses to single spaces.  Refuses names holding control characters,
    names without a letter and names outside `NAME_CHARS` characters.
    """
    if not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(" " if c.isspace() else c for c in text)
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        return None
    # So: emoji and other symbols; Sk: their skin-tone modifiers; Cf: joiners and
    # bidi controls; Co/Cn: private or newer than our tables; and the marks that
    # only dress an emoji (variation selectors, the keycap).
    text = "".join(c for c in text if unicodedata.category(c) not in ("So", "Sk", "Cf", "Co", "Cn")
                   and not _EMOJI_MARKS.match(c))
    text = _LIST_MARKER.sub("", text)
    text = re.sub(r"[*`~#" + _DOUBLE_QUOTES + "]", "", text).replace("_", " ")
    text = " ".join(text.split()).strip(_EDGES).strip()
    low, high = NAME_CHARS
    if not low <= len(text) <= high or not any(c.isalpha() for c in text):
        return None
    return text


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text.casefold())


def _content_words(name: str) -> set[str]:
    """The words of a name that count as repeats, plurals folded ("nights" = "night")."""
    words = set()
    for word in _words(name):
        if word in STOP_WORDS or len(word) < 2:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return words


def _pairs(profile: Mapping[str, Any], key: str) -> list[tuple[str, float]]:
    pairs = []
    for item in profile.get(key) or []:
        try:
            label, value = str(item[0]), float(item[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if math.isfinite(value):
            pairs.append((label, value))
    return pairs


def _foreign_genre(name: str, profile: Mapping[str, Any]) -> bool:
    """Does the name claim a genre that none of the playlist's tags names?"""
    allowed = {word for tag, _ in _pairs(profile, "top_tags") for word in _words(tag)}
    return any(word in _FAMILY and not (_FAMILY[word] & allowed) for word in _words(name))


def _span(profile: Mapping[str, Any], key: str, digits: int) -> str | None:
    try:
        low, high = (float(v) for v in profile[key])
    except (KeyError, TypeError, ValueError):
        return None
    return f"{low:.{digits}f}-{high:.{digits}f}" if math.isfinite(low) and math.isfinite(high) else None


def _describe(number: int, profile: Mapping[str, Any]) -> str:
    """One playlist's line in the prompt, from the fields its profile has."""
    parts = []
    if tags := _pairs(profile, "top_tags")[:5]:
        parts.append("tags: " + ", ".join(f"{one_line(t, 40)} {share:.0%}" for t, share in tags))
    if moods := _pairs(profile, "top_moods")[:4]:
        parts.append("moods: " + ", ".join(f"{one_line(m, 40)} {mean:.2f}" for m, mean in moods))
    if tempo := _span(profile, "tempo", 0):
        parts.append(f"tempo {tempo} BPM")
    if energy := _span(profile, "energy", 2):
        parts.append(f"energy {energy}")
    if isinstance(profile.get("size"), int):
        parts.append(f"{profile['size']} songs")
    examples = [f"{one_line(str(e[0]), 60)} - {one_line(str(e[1]), 80)}"
                for e in (profile.get("examples") or [])[:3] if isinstance(e, (list, tuple)) and len(e) >= 2]
    if examples:
        parts.append("for example " + "; ".join(examples))
    return f"{number}. " + ("; ".join(parts) or "no description")


def _naming_prompts(profiles: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    count = len(profiles)
    system = (
        "You name music playlists. For each playlist you get what an audio analysis found: its top tags "
        "with the share of songs carrying them, its moods (0 to 1), its tempo range, its energy range "
        "(0 to 1), its size and a few of its songs. Give each playlist one evocative name of two to four "
        f"words and at most {NAME_CHARS[1]} characters that fits what it sounds like. Rules: the only "
        "genre words a name may use are that playlist's own tags; no word appears in two names "
        "(short words such as 'of', 'the' and 'and' excepted); no artist names or song titles; no "
        "quotes, emoji, numbering or markdown. "
        f'Answer with a JSON object {{"names": [...]}} holding exactly {count} names, in the playlists\' order.')
    user = f"Playlists to name ({count}):\n" + "\n".join(_describe(i, p) for i, p in enumerate(profiles, start=1))
    return system, user


def _names_schema(count: int) -> dict:
    return {"type": "object", "required": ["names"],
            "properties": {"names": {"type": "array", "items": {"type": "string"},
                                     "minItems": count, "maxItems": count}}}


def _answered_names(answer: Mapping[str, Any], count: int) -> list[Any]:
    names = answer.get("names")
    if not isinstance(names, list):
        raise AiAnswerError('the answer has no "names" list')
    if len(names) != count:
        raise AiAnswerError(f"the answer has {len(names)} names for {count} playlists")
    return names


def _checked(answered: Sequence[Any], profiles: Sequence[Mapping[str, Any]],
             plain_names: Sequence[str]) -> tuple[list[str], int]:
    """The names to use, with how many of the model's were replaced by plain names.

    The model's names are taken in order; one that cannot be cleaned, is too
    short or long, repeats an earlier name or a content word of one, equals
    another playlist's plain name, or uses a genre its tags do not name gets
    its plain name instead.
    """
    others = [{p.casefold() for j, p in enumerate(plain_names) if j != i} for i in range(len(plain_names))]
    names: list[str] = []
    seen_names: set[str] = set()
    seen_words: set[str] = set()
    replaced = 0
    for index, (raw, profile, plain) in enumerate(zip(answered, profiles, plain_names)):
        name = clean_name(raw)
        if name is not None:
            key, words = name.casefold(), _content_words(name)
            if key in seen_names or key in others[index] or words & seen_words or _foreign_genre(name, profile):
                name = None
        if name is None:
            replaced += 1
            names.append(plain)
            seen_names.add(plain.casefold())
        else:
            names.append(name)
            seen_names.add(key)
            seen_words |= words
    return names, replaced


def _plain(plain_names: Sequence[str], why: str) -> Naming:
    log.warning("playlist names: %s; plain names used", why)
    return Naming(list(plain_names), False, f"{why}; plain names used")


def name_playlists(profiles: list[dict], plain_names: list[str], config: AiConfig | None = None) -> Naming:
    """Name playlists with the configured language model, falling back to their plain names.

    Parameters
    ----------
    profiles : per playlist, what the clustering found (JSON-able): "top_tags" [[tag, share]],
        "top_moods" [[mood, mean 0..1]], "tempo" [lo, hi] (BPM), "energy" [lo, hi] (0..1),
        "size" (tracks), "examples" [[artist, title]]; missing fields are left out of the prompt
    plain_names : the names without AI, distinct, in the same order
    config : the AI to ask; None reads the settings store

    Returns
    -------
    Naming
        With AI_PROVIDER "none" the plain names, no note.  Otherwise the model's
        names where they pass `clean_name` and the set's rules (see `_checked`),
        plain names elsewhere, and a note saying how many and why.

    Raises ValueError when the lists' lengths differ; never for AI trouble.
    """
    if len(profiles) != len(plain_names):
        raise ValueError(f"{len(profiles)} profiles but {len(plain_names)} plain names")
    if not plain_names:
        return Naming([], False, None)
    if config is None:
        try:
            config = AiConfig.from_settings()
        except ConfigError as error:
            return _plain(plain_names, f"the AI settings cannot be used ({error})")
    if not config.enabled:
        return Naming(list(plain_names), False, None)
    system, user = _naming_prompts(profiles)
    schema = _names_schema(len(plain_names))
    prompt, answered, problem = user, None, ""
    for _ in range(2):
        try:
            answer = complete_json(config, system, prompt, schema)
            answered = _answered_names(answer, len(plain_names))
            break
        except AiAnswerError as error:
            problem = str(error)
            prompt = (f"{user}\n\nYour previous answer could not be used: {problem}. Answer again with only "
                      f'the JSON object {{"names": [...]}} holding exactly {len(plain_names)} names.')
        except AiError as error:
            return _plain(plain_names, str(error))
    if answered is None:
        return _plain(plain_names, f"{config.label} gave no usable names ({problem})")
    names, replaced = _checked(answered, profiles, plain_names)
    if replaced == len(names):
        return _plain(plain_names, f"none of the {len(names)} names from {config.label} passed the checks")
    note = None
    if replaced:
        note = (f"{replaced} of the {len(names)} names from {config.label} did not pass the checks "
                "(length, repeated words, genres the playlist's tags do not name); their plain names are used")
        log.info("playlist names: %s", note)
    return Naming(names, True, note)
