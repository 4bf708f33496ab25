"""ai.py against fakes of the three APIs, built from their documented request and answer shapes.

The fakes (tests/ai_fakes.py) are real HTTP servers checking every request against the
provider's documentation; see that module for the shapes.
"""
from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

import ai
import ai_providers
from ai import AiAnswerError, AiConfig, AiError, Naming, complete_json, name_playlists, parse_json_object
from config import load_settings
from tests.ai_fakes import KEY, MODEL, Reply, assert_key_kept, quick_retries, serve  # noqa: F401 (fixtures)

PROFILES = [
    {"top_tags": [["ambient", 0.61], ["chillout", 0.4]], "top_moods": [["relaxed", 0.72], ["sad", 0.3]],
     "tempo": [72, 95], "energy": [0.1, 0.3], "size": 24,
     "examples": [["Brian Eno", "An Ending (Ascent)"], ["Stars of the Lid", "Dungtitled"]]},
    {"top_tags": [["rock", 0.7], ["hard rock", 0.35]], "top_moods": [["aggressive", 0.66]],
     "tempo": [120, 150], "energy": [0.7, 0.95], "size": 30, "examples": [["AC/DC", "Thunderstruck"]]},
    {"top_tags": [["jazz", 0.55], ["instrumental", 0.3]], "top_moods": [["relaxed", 0.6]],
     "tempo": [80, 110], "energy": [0.2, 0.5], "size": 18, "examples": [["Bill Evans", "Peace Piece"]]},
    {"top_tags": [["electronic", 0.5], ["dance", 0.45]], "top_moods": [["danceable", 0.8], ["party", 0.6]],
     "tempo": [118, 128], "energy": [0.6, 0.9], "size": 27, "examples": [["Daft Punk", "One More Time"]]},
]
PLAIN = ["Mellow Ambient, 70-95 BPM", "Aggressive Rock, 120-150 BPM", "Relaxed Jazz, 80-110 BPM",
         "Danceable Electronic, 118-128 BPM"]
GOOD = ["Slow Ambient Tides", "Hard Rock Thunder", "Smoky Jazz Corner", "Electronic Night Pulse"]


def names_json(names: list[Any]) -> str:
    return json.dumps({"names": names})



# -- naming -------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["ollama", "openai", "gemini"])
def test_good_names_in_one_request_of_the_documented_shape(serve, caplog, provider):
    api = serve(provider).reply(Reply(names_json(GOOD)))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming == Naming(GOOD, True, None)
    assert api.problems == [] and len(api.requests) == 1
    body = api.requests[0]["body"]
    user = api.user_prompts()[0]
    assert "ambient 61%, chillout 40%" in user and "tempo 72-95 BPM" in user and "energy 0.10-0.30" in user
    assert "Brian Eno - An Ending (Ascent)" in user and "Playlists to name (4)" in user
    system = json.dumps(body)
    assert "only genre words a name may use are that playlist's own tags" in system
    if provider == "ollama":
        assert body["format"]["properties"]["names"]["minItems"] == 4 and body["model"] == MODEL
        assert "num_ctx" not in body["options"]   # a short prompt keeps the loaded model's window
    elif provider == "openai":
        assert body["response_format"]["json_schema"]["schema"]["required"] == ["names"]
    else:
        assert body["generationConfig"]["responseMimeType"] == "application/json"
        assert "genre words" in body["systemInstruction"]["parts"][0]["text"]
    assert_key_kept(api, caplog, naming.note)


def test_settings_none_gives_plain_names_without_a_request(serve):
    api = serve("ollama")
    assert name_playlists(PROFILES, PLAIN, AiConfig("none", url=api.url)) == Naming(PLAIN, False, None)
    assert name_playlists([], [], api.config()) == Naming([], False, None)
    assert api.requests == []
    with pytest.raises(ValueError, match="4 profiles but 3 plain names"):
        name_playlists(PROFILES, PLAIN[:3], api.config())


def test_a_fenced_answer_with_prose_is_read(serve):
    api = serve("ollama").reply(Reply(f"Here you go:\n```json\n{names_json(GOOD)}\n```\nEnjoy!"))
    assert name_playlists(PROFILES, PLAIN, api.config()).names == GOOD


def test_garbage_twice_falls_back_to_plain_names_and_says_why(serve):
    api = serve("ollama").reply(Reply("Sure! 1. Midnight Drive 2. Ocean"), Reply("names: none"))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming == Naming(PLAIN, False, "Ollama gave no usable names (the answer is not a JSON object); "
                                          "plain names used")
    assert len(api.requests) == 2 and api.problems == []
    assert "could not be used: the answer is not a JSON object" in api.user_prompts()[1]


def test_garbage_then_good_names_uses_the_second_answer(serve):
    api = serve("gemini").reply(Reply("I cannot decide"), Reply(names_json(GOOD)))
    assert name_playlists(PROFILES, PLAIN, api.config()) == Naming(GOOD, True, None)
    assert len(api.requests) == 2 and api.problems == []


def test_a_wrong_count_is_asked_again_then_plain_names(serve):
    api = serve("openai").reply(Reply(names_json(GOOD[:3])), Reply(names_json(GOOD + ["Extra One"])))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming.names == PLAIN and naming.used_ai is False
    assert naming.note == ("OpenAI-compatible server gave no usable names (the answer has 5 names for "
                           "4 playlists); plain names used")
    assert "the answer has 3 names for 4 playlists" in api.user_prompts()[1]


def test_repeated_names_and_words_are_replaced_by_plain_names(serve):
    plain = ["Calm Drift", "Loud Nights", "Quiet Hours", "Bright Beats"]
    # Another playlist's plain name; a good one; the same name again in other case; a repeated word (tides).
    answered = ["Quiet Hours", "Night Tides", "NIGHT TIDES", "Tides of Thunder"]
    api = serve("ollama").reply(Reply(names_json(answered)))
    naming = name_playlists(PROFILES, plain, api.config())
    assert naming.names == ["Calm Drift", "Night Tides", "Quiet Hours", "Bright Beats"]
    assert naming.used_ai is True and naming.note.startswith("3 of the 4 names from Ollama did not pass")
    assert len({name.casefold() for name in naming.names}) == 4


def test_names_are_cleaned_and_bad_ones_replaced(serve):
    answered = ["  1. **“Velvet Static”** ❤️ 🌙✨ ", "An Extremely Long Name That Goes On And On", "Ok",
                "Neon\x1b[31m Pulse"]
    api = serve("ollama").reply(Reply(names_json(answered)))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming.names == ["Velvet Static", PLAIN[1], PLAIN[2], PLAIN[3]]
    assert naming.note.startswith("3 of the 4 names")


def test_clean_name_drops_emoji_with_their_modifiers_and_invisible_characters():
    assert ai.clean_name("Velvet 👍🏽 Static ❤️") == "Velvet Static"
    assert ai.clean_name("Top 1️⃣ Hits") == "Top 1 Hits"
    assert ai.clean_name("Night\u202eDrive\u200d") == "NightDrive"
    assert ai.clean_name("- `Rainy_Day` Blues.") == "Rainy Day Blues"
    assert ai.clean_name("Rock 'n' Roll Nights") == "Rock 'n' Roll Nights"
    for unusable in ("12345", "🌙✨", "ab", "x" * 41, "Null\x00Byte", None, 7):
        assert ai.clean_name(unusable) is None


def test_genre_words_must_come_from_the_playlists_own_tags(serve):
    # Punk is none of the first playlist's tags; electronica is of the electronic family.
    answered = ["Punk Haze", "Riff Storm", "Blue Smoke Lounge", "Electronica Sunrise"]
    api = serve("ollama").reply(Reply(names_json(answered)))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming.names == [PLAIN[0], "Riff Storm", "Blue Smoke Lounge", "Electronica Sunrise"]


def test_when_no_name_passes_every_name_is_plain(serve):
    api = serve("ollama").reply(Reply(names_json(["", "x", 42, None])))
    assert name_playlists(PROFILES, PLAIN, api.config()) == Naming(
        PLAIN, False, "none of the 4 names from Ollama passed the checks; plain names used")


def test_a_server_error_is_tried_again(serve, caplog):
    api = serve("openai").reply(Reply(status=500, body={"error": {"message": "overloaded"}}), Reply(names_json(GOOD)))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming == Naming(GOOD, True, None) and len(api.requests) == 2 and api.problems == []
    assert "answered 500: server error; trying again" in caplog.text
    assert_key_kept(api, caplog)


def test_429_waits_as_told_and_server_errors_give_up_after_the_retries(serve, caplog):
    api = serve("gemini").reply(Reply(status=429, headers={"Retry-After": "0"},
                                      body={"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
                                Reply(names_json(GOOD)))
    assert name_playlists(PROFILES, PLAIN, api.config()).used_ai is True and len(api.requests) == 2
    failing = serve("gemini").reply(*[Reply(status=503, body={"error": {"code": 503}})] * 3)
    naming = name_playlists(PROFILES, PLAIN, failing.config())
    assert naming == Naming(PLAIN, False, "Gemini answered 503: server error; plain names used")
    assert len(failing.requests) == 1 + ai_providers.RETRIES
    assert_key_kept(failing, caplog, naming.note)


def test_401_is_final_and_its_message_holds_no_key(serve, caplog):
    # OpenAI's real 401 quotes (part of) the key; this one quotes all of it.
    api = serve("openai").reply(Reply(status=401, body={"error": {
        "message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error", "code": "invalid_api_key"}}))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming == Naming(PLAIN, False, "OpenAI-compatible server answered 401: the API key was refused; "
                                          "plain names used")
    assert len(api.requests) == 1
    assert_key_kept(api, caplog, naming.note)


def test_a_refusal_quoting_the_key_is_shown_without_it(serve, caplog):
    api = serve("gemini").reply(Reply(status=400, body={"error": {
        "code": 400, "status": "INVALID_ARGUMENT",
        "message": f"API key not valid: {KEY}. See https://ai.google.dev/x?key={KEY} for help."}}))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming.note == ("Gemini answered 400: the request was refused (API key not valid: ***. See (a URL) "
                           "for help.); plain names used")
    assert len(api.requests) == 1
    assert_key_kept(api, caplog, naming.note)


def test_a_timeout_is_tried_once_more_then_plain_names(serve):
    api = serve("ollama").reply(Reply(names_json(GOOD), delay=1.0), Reply(names_json(GOOD), delay=1.0))
    started = time.monotonic()
    naming = name_playlists(PROFILES, PLAIN, api.config(timeout=0.25))
    assert naming == Naming(PLAIN, False, "Ollama did not answer within 0.25 s; plain names used")
    assert len(api.requests) == 1 + ai_providers.TIMEOUT_RETRIES
    assert time.monotonic() - started < 1.5


def test_an_answer_that_drips_in_counts_as_a_timeout(serve):
    # Each byte arrives well within the read timeout, the whole answer does not.
    api = serve("ollama").reply(*[Reply(names_json(GOOD), drip=0.05)] * 2)
    started = time.monotonic()
    naming = name_playlists(PROFILES, PLAIN, api.config(timeout=0.3))
    assert naming.note == "Ollama did not answer within 0.3 s; plain names used"
    assert time.monotonic() - started < 2.5


def test_an_oversized_answer_is_refused(serve, monkeypatch):
    monkeypatch.setattr(ai_providers, "MAX_ANSWER_BYTES", 2**20)
    api = serve("openai").reply(Reply(names_json(GOOD) + " " * 2**21))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming.note == "OpenAI-compatible server sent an answer over 1 MiB; plain names used"


def test_many_playlists_ask_ollama_for_a_window_that_holds_the_prompt(serve):
    profiles = PROFILES * 25
    plain = [f"Playlist {number}" for number in range(len(profiles))]
    api = serve("ollama").reply(Reply(names_json([f"Name {number}" for number in range(len(profiles))])))
    name_playlists(profiles, plain, api.config())
    body = api.requests[0]["body"]
    prompt_chars = sum(len(m["content"]) for m in body["messages"])
    window = body["options"]["num_ctx"]
    assert window & (window - 1) == 0 and window >= prompt_chars // 3 + 2048
    assert api.problems == []


def test_an_unreachable_server_is_named_by_its_host_only():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]   # closed again: nothing listens there
    config = AiConfig("ollama", url=f"http://127.0.0.1:{port}/base?token=abc", model=MODEL)
    naming = name_playlists(PROFILES, PLAIN, config)
    assert naming == Naming(PLAIN, False, f"cannot reach Ollama at http://127.0.0.1:{port}: connection refused; "
                                          "plain names used")


def test_a_server_that_speaks_no_tls_is_named_as_such(serve):
    api = serve("gemini")
    naming = name_playlists(PROFILES, PLAIN, api.config(url=api.url.replace("http:", "https:")))
    assert naming.note == (f"cannot reach Gemini at {api.url.replace('http:', 'https:')}: the TLS handshake "
                           "failed (is its certificate trusted?); plain names used")


def test_a_redirect_is_not_followed(serve, caplog):
    api = serve("gemini").reply(Reply(status=307, body={}, headers={"Location": "http://127.0.0.1:9/steal"}))
    naming = name_playlists(PROFILES, PLAIN, api.config())
    assert naming.note.startswith("Gemini answered 307: it sends requests elsewhere")
    assert len(api.requests) == 1
    assert_key_kept(api, caplog, naming.note)


def test_a_blocked_gemini_prompt_says_why(serve):
    api = serve("gemini").reply(Reply(body={"promptFeedback": {"blockReason": "SAFETY"}}))
    naming = name_playlists(PROFILES, PLAIN, api.config(model=f"models/{MODEL}"))
    assert naming == Naming(PLAIN, False, "Gemini refused the request (SAFETY); plain names used")
    assert api.problems == [] and len(api.requests) == 1


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_openai_base_url_with_or_without_v1(serve, suffix):
    api = serve("openai").reply(Reply(names_json(GOOD)))
    assert name_playlists(PROFILES, PLAIN, api.config(url=api.url + suffix)).used_ai is True
    assert api.problems == [] and api.requests[0]["path"] == "/v1/chat/completions"


def test_a_server_without_structured_output_is_asked_again_without_it(serve):
    api = serve("openai", refuse_response_format=True).reply(Reply(names_json(GOOD)))
    assert name_playlists(PROFILES, PLAIN, api.config()) == Naming(GOOD, True, None)
    assert ["response_format" in sent["body"] for sent in api.requests] == [True, False]


def test_settings_store_drives_the_naming(env, serve, caplog):
    import settings_store
    api = serve("openai").reply(Reply(names_json(GOOD)))
    assert name_playlists(PROFILES, PLAIN) == Naming(PLAIN, False, None)   # AI_PROVIDER defaults to none
    settings_store.save({"AI_PROVIDER": "openai", "AI_URL": api.url, "AI_MODEL": MODEL, "AI_API_KEY": KEY})
    config = AiConfig.from_settings()
    assert (config.provider, config.url, config.model, config.api_key) == ("openai", api.url, MODEL, KEY)
    assert name_playlists(PROFILES, PLAIN) == Naming(GOOD, True, None)
    assert api.problems == []
    assert_key_kept(api, caplog, repr(config))


# -- the client ---------------------------------------------------------------------------------

def test_complete_json_returns_the_object_and_states_the_schema(serve):
    schema = {"type": "object", "properties": {"mood": {"type": "string"}}, "required": ["mood"]}
    api = serve("ollama").reply(Reply('{"mood": "calm"}'), Reply('["calm"]'))
    assert complete_json(api.config(), "You label moods.", "Label: rain", schema) == {"mood": "calm"}
    system = api.requests[0]["body"]["messages"][0]["content"]
    assert system.startswith("You label moods.") and json.dumps(schema, separators=(",", ":")) in system
    with pytest.raises(AiAnswerError, match="not a JSON object"):
        complete_json(api.config(), "You label moods.", "Label: sun", schema)


def test_parse_json_object_tolerates_fences_prose_and_thinking():
    assert parse_json_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_object('Sure, {"a": [1, 2]} is it.') == {"a": [1, 2]}
    assert parse_json_object('<think>{"draft": 0}</think>{"a": 1}') == {"a": 1}
    for garbage in ("", "no", "[1, 2]", "{broken", "[" * 100_000):
        with pytest.raises(AiAnswerError):
            parse_json_object(garbage)


def test_chat_refuses_without_a_provider():
    with pytest.raises(AiError, match="no AI provider is set"):
        ai.chat(AiConfig("none"), [{"role": "user", "content": "hi"}])


def test_config_defaults_live_in_one_place_and_the_key_stays_out_of_repr():
    for provider in ("ollama", "openai", "gemini"):
        config = AiConfig(provider, api_key=KEY)
        assert config.base_url == ai.DEFAULT_URLS[provider] and config.model_name == ai.DEFAULT_MODELS[provider]
        assert KEY not in repr(config) and KEY not in str(config)
    assert AiConfig("ollama", url="http://user:pw@box:11434/x?token=1").where == "http://box:11434"
    assert AiConfig("ollama", url="http://[::1]:11434").where == "http://[::1]:11434"


def test_config_from_a_request_dict_is_parsed_like_the_settings():
    config = AiConfig.from_dict({"provider": "Gemini", "url": "https://proxy.example/", "model": " m ",
                                 "api_key": KEY, "timeout": "7.5"})
    assert (config.provider, config.url, config.model, config.api_key, config.timeout) == (
        "gemini", "https://proxy.example", "m", KEY, 7.5)
    assert AiConfig.from_dict({}).enabled is False
    for values, message in (({"provider": "claude", "api_key": KEY}, "provider: expected one of"),
                            ({"url": "ftp://x", "api_key": KEY}, "url: expected an http"),
                            ({"timeout": "soon"}, "timeout must be"), ({"key": KEY}, "unknown field key")):
        with pytest.raises(ValueError, match=message) as raised:
            AiConfig.from_dict(values)
        assert KEY not in str(raised.value) or values == {"key": KEY}


def test_config_from_given_settings(tmp_path):
    settings = load_settings({"SONARIUM_DATA_DIR": str(tmp_path), "SECRET_KEY": "s", "AI_PROVIDER": "ollama",
                              "AI_URL": "http://gpu-box:11434/"})
    config = AiConfig.from_settings(settings)
    assert (config.provider, config.base_url, config.model_name, config.api_key) == (
        "ollama", "http://gpu-box:11434", ai.DEFAULT_MODELS["ollama"], None)
