"""The wire formats of the three kinds of AI server, and the HTTP exchange behind `ai.chat` and
`send_tools` (forced tool calls, for `ai_plan`).

Each request has a connect and a read timeout and is tried again, after a short
wait, when the failure may pass: a connection that failed, 429 and 5xx answers
(up to `RETRIES` times) and a read timeout (`TIMEOUT_RETRIES` times, as each one
costs the whole timeout).  Other 4xx answers are final.  Redirects are not
followed, so the key never travels to a host the user did not name.

Every failure is an `AiError` whose message a person can act on.  It names the
provider and at most its scheme, host and port.  It never holds the key, nor a
request URL, as a proxy's URL can carry credentials in its query string.  Text
from the provider's error answers has the key removed from it, and 401/403
answers are never quoted (OpenAI quotes part of a refused key).
"""
from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence
from urllib.parse import quote

import requests

if TYPE_CHECKING:
    from ai import AiConfig

log = logging.getLogger(__name__)

Message = Mapping[str, str]

CONNECT_TIMEOUT = 5.0      # s
RETRIES = 2                # further attempts after a failed connection, 429 or 5xx
TIMEOUT_RETRIES = 1        # further attempts after a read timeout
BACKOFF = (1.0, 3.0)       # s to wait before the first and the second further attempt
MAX_RETRY_AFTER = 10.0     # s: the longest Retry-After we wait for
MAX_ANSWER_BYTES = 4 * 2**20
# Ollama cuts prompts longer than its context window without saying so.
# Requests that may not fit the smallest default window (4096 tokens) ask for
# a larger one.
_OLLAMA_SMALL_CONTEXT = 4096      # tokens
_OLLAMA_MAX_CONTEXT = 32768       # tokens
_CHARS_PER_TOKEN = 3              # a cautious estimate for English and JSON
_ANSWER_TOKENS = 2048             # room kept for the answer


class AiError(Exception):
    """An AI request failed; the message is for people and holds no key or request URL.

    `status` is the HTTP status of a refusal, None for other failures.
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AiAnswerError(AiError):
    """The model answered, but its answer cannot be used (not the JSON asked for, no text)."""


# -- the wire formats -------------------------------------------------------------------------

def _bearer(config: AiConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}


def _ollama_request(config: AiConfig, messages: Sequence[Message], schema: dict | None,
                    temperature: float) -> tuple[str, dict, dict]:
    """Ollama's native chat, as its API reference describes POST /api/chat (docs/api.md in
    github.com/ollama/ollama): {"model", "messages": [{"role", "content"}], "stream": false,
    "format": <JSON schema>, "options": {"temperature", "num_ctx"}}.  `format` takes a JSON
    schema since Ollama 0.5 (ollama.com/blog/structured-outputs).  Ollama's cloud takes the
    same request with a bearer key, so a key is sent when one is set."""
    options: dict[str, Any] = {"temperature": temperature}
    estimate = sum(len(m["content"]) for m in messages) // _CHARS_PER_TOKEN + _ANSWER_TOKENS
    if estimate > _OLLAMA_SMALL_CONTEXT:
        options["num_ctx"] = min(_OLLAMA_MAX_CONTEXT, 1 << (estimate - 1).bit_length())
    body: dict[str, Any] = {"model": config.model_name, "messages": [dict(m) for m in messages],
                            "stream": False, "options": options}
    if schema is not None:
        body["format"] = schema
    return "/api/chat", _bearer(config), body


def _ollama_text(answer: Any) -> str:
    """Ollama answers {"message": {"role": "assistant", "content": "..."}, "done": true, ...}."""
    return answer["message"]["content"]


def _openai_request(config: AiConfig, messages: Sequence[Message], schema: dict | None,
                    temperature: float) -> tuple[str, dict, dict]:
    """OpenAI's Create chat completion (platform.openai.com/docs/api-reference/chat/create),
    which Mistral, LM Studio, llama.cpp's server and vLLM serve too: POST /v1/chat/completions
    with "Authorization: Bearer KEY" and {"model", "messages", "temperature", "response_format"}.

    Structured output is asked for with {"type": "json_schema"} rather than "json_object":
    LM Studio refuses "json_object" with a 400 (lmstudio-ai/lmstudio-bug-tracker#189).  The
    base URL may end in /v1 or not."""
    path = "/chat/completions" if config.base_url.endswith("/v1") else "/v1/chat/completions"
    body: dict[str, Any] = {"model": config.model_name, "messages": [dict(m) for m in messages],
                            "temperature": temperature}
    if schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    return path, _bearer(config), body


def _openai_text(answer: Any) -> str:
    """OpenAI answers {"choices": [{"message": {"role": "assistant", "content": "..."},
    "finish_reason": "stop"}], ...}; a refusal has "content": null and "refusal"."""
    choice = answer["choices"][0]
    content = choice["message"].get("content")
    if content is None:
        raise AiAnswerError(f"the model answered without text (finish reason {choice.get('finish_reason')})")
    return content


def _gemini_request(config: AiConfig, messages: Sequence[Message], schema: dict | None,
                    temperature: float) -> tuple[str, dict, dict]:
    """Gemini's models.generateContent (ai.google.dev/api/generate-content): POST
    /v1beta/models/{model}:generateContent with {"contents": [{"role": "user"|"model",
    "parts": [{"text"}]}], "systemInstruction": {"parts": [{"text"}]}, "generationConfig":
    {"temperature", "responseMimeType": "application/json"}}.  The key goes in the
    x-goog-api-key header (ai.google.dev/gemini-api/docs/api-key), never in the URL's ?key=."""
    model = config.model_name.removeprefix("models/")
    version = "" if config.base_url.endswith(("/v1beta", "/v1")) else "/v1beta"
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    contents = [{"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
                for m in messages if m["role"] != "system"]
    generation: dict[str, Any] = {"temperature": temperature}
    if schema is not None:
        generation["responseMimeType"] = "application/json"
    body: dict[str, Any] = {"contents": contents, "generationConfig": generation}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    headers = {"x-goog-api-key": config.api_key} if config.api_key else {}
    return f"{version}/models/{quote(model, safe='')}:generateContent", headers, body


def _gemini_text(answer: Any) -> str:
    """Gemini answers {"candidates": [{"content": {"parts": [{"text": "..."}]}, "finishReason"}]};
    parts marked "thought" are the model's reasoning, not its answer.  A blocked prompt has no
    candidates and says why in promptFeedback.blockReason."""
    candidates = answer.get("candidates") or []
    if not candidates:
        reason = (answer.get("promptFeedback") or {}).get("blockReason", "no reason given")
        raise AiError(f"Gemini refused the request ({one_line(str(reason), 60)})")
    parts = (candidates[0].get("content") or {}).get("parts") or []
    texts = [part["text"] for part in parts if "text" in part and not part.get("thought")]
    if not texts:
        reason = candidates[0].get("finishReason", "unknown")
        raise AiAnswerError(f"the model answered without text (finish reason {one_line(str(reason), 60)})")
    return "".join(texts)


_WIRE: dict[str, tuple[Callable[..., tuple[str, dict, dict]], Callable[[Any], str]]] = {
    "ollama": (_ollama_request, _ollama_text),
    "openai": (_openai_request, _openai_text),
    "gemini": (_gemini_request, _gemini_text),
}


# -- HTTP -------------------------------------------------------------------------------------

class _Passing(Exception):
    """A failure that may pass: try again after `wait` s (None: the usual back-off)."""

    def __init__(self, error: AiError, timed_out: bool = False, wait: float | None = None):
        super().__init__(str(error))
        self.error, self.timed_out, self.wait = error, timed_out, wait


def one_line(text: str, limit: int) -> str:
    """`text` without control characters, its whitespace collapsed, at most `limit` characters."""
    shown = " ".join("".join(c if unicodedata.category(c)[0] != "C" else " " for c in text).split())
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def _provider_detail(config: AiConfig, response: requests.Response) -> str | None:
    """The provider's own short explanation of a refusal, with the key and any URL removed."""
    try:
        raw = response.raw.read(64 * 1024, decode_content=True)
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError, OSError, requests.RequestException):
        return None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message.strip():
        return None
    if config.api_key:
        message = message.replace(config.api_key, "***")
    message = re.sub(r"\w+://\S+", "(a URL)", message)
    return one_line(message, 200)


def _refusal(config: AiConfig, response: requests.Response) -> AiError:
    code, label = response.status_code, config.label
    if code in (401, 403):
        problem = "the API key was refused" if config.api_key else "an API key is needed (AI_API_KEY)"
        return AiError(f"{label} answered {code}: {problem}", code)
    if 300 <= code < 400:
        return AiError(f"{label} answered {code}: it sends requests elsewhere; set AI_URL to the API's own "
                       "address", code)
    detail = _provider_detail(config, response)
    if code == 404:
        return AiError(f"{label} answered 404: " + (detail or f"no model {config.model_name!r} or a wrong AI_URL"),
                       code)
    return AiError(f"{label} answered {code}: the request was refused" + (f" ({detail})" if detail else ""), code)


def _unreachable(config: AiConfig, error: requests.RequestException) -> AiError:
    text = str(error).lower()
    tls = isinstance(error, requests.exceptions.SSLError)
    reason = ("the TLS handshake failed (is its certificate trusted?)" if tls else
              "connection refused" if "refused" in text else
              "host name not found" if "name or service" in text or "nodename" in text or "resolve" in text
              else "no answer to the connection" if isinstance(error, requests.ConnectTimeout)
              else "connection failed")
    return AiError(f"cannot reach {config.label} at {config.where}: {reason}")


def _timed_out(config: AiConfig) -> AiError:
    return AiError(f"{config.label} did not answer within {config.timeout:g} s")


def _retry_after(response: requests.Response) -> float | None:
    try:
        return min(max(float(response.headers.get("Retry-After", "")), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _read_answer(config: AiConfig, response: requests.Response, deadline: float) -> bytes:
    """The answer's bytes, refusing one over MAX_ANSWER_BYTES or one still arriving at `deadline`."""
    received = bytearray()
    try:
        for chunk in response.iter_content(64 * 1024):
            received += chunk
            if len(received) > MAX_ANSWER_BYTES:
                raise AiError(f"{config.label} sent an answer over {MAX_ANSWER_BYTES // 2**20} MiB")
            if time.monotonic() > deadline:
                raise _Passing(_timed_out(config), timed_out=True)
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
        slow = "timed out" in str(error).lower()
        raise _Passing(_timed_out(config) if slow else AiError(f"{config.label} broke off its answer"),
                       timed_out=slow) from None
    return bytes(received)


def _attempt(session: requests.Session, config: AiConfig, path: str, headers: dict, body: dict) -> Any:
    try:
        response = session.post(config.base_url + path, json=body, headers=headers, stream=True,
                                timeout=(CONNECT_TIMEOUT, config.timeout), allow_redirects=False)
    except requests.ConnectTimeout as error:
        raise _Passing(_unreachable(config, error)) from None
    except requests.Timeout:
        raise _Passing(_timed_out(config), timed_out=True) from None
    except requests.ConnectionError as error:
        raise _Passing(_unreachable(config, error)) from None
    except requests.RequestException as error:
        raise AiError(f"{config.label}: the request failed ({type(error).__name__})") from None
    with response:
        code = response.status_code
        if code == 429:
            raise _Passing(AiError(f"{config.label} answered 429: too many requests, or the quota is used up", 429),
                           wait=_retry_after(response))
        if code >= 500:
            raise _Passing(AiError(f"{config.label} answered {code}: server error", code),
                           wait=_retry_after(response))
        if code != 200:
            raise _refusal(config, response)
        # The read timeout bounds each wait for bytes; this bounds the whole
        # answer, so a server sending a byte at a time cannot hold us forever.
        raw = _read_answer(config, response, deadline=time.monotonic() + config.timeout)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise AiError(f"{config.label} at {config.where} sent something that is not JSON: "
                      "is AI_URL the address of its API?") from None


def _exchange(config: AiConfig, path: str, headers: dict, body: dict) -> Any:
    """POST `body` and return the parsed JSON answer, trying again while failures may pass."""
    headers = {"Accept": "application/json", "User-Agent": "Sonarium", **headers}
    retries = timeout_retries = 0
    with requests.Session() as session:
        while True:
            try:
                return _attempt(session, config, path, headers, body)
            except _Passing as failure:
                if failure.timed_out and timeout_retries < TIMEOUT_RETRIES:
                    timeout_retries += 1
                elif not failure.timed_out and retries < RETRIES:
                    retries += 1
                else:
                    raise failure.error from None
                attempt = retries + timeout_retries
                wait = failure.wait if failure.wait is not None else BACKOFF[min(attempt, len(BACKOFF)) - 1]
                log.info("%s; trying again in %.1f s", failure.error, wait)
                time.sleep(wait)


# -- one question, one answer ---------------------------------------------------------------

def send(config: AiConfig, messages: Sequence[Message], schema: dict | None, temperature: float) -> str:
    """The text the model answers to `messages` (see `ai.chat`)."""
    build, text_of = _WIRE[config.provider]
    path, headers, body = build(config, messages, schema, temperature)
    try:
        answer = _exchange(config, path, headers, body)
    except AiError as error:
        # Servers that know no structured output refuse the whole request
        # (older LM Studio, some llama.cpp builds): ask again without it; the
        # prompt asks for JSON too.
        if "response_format" not in body or error.status != 400:
            raise
        log.info("%s; asking again without response_format", error)
        body = {name: value for name, value in body.items() if name != "response_format"}
        answer = _exchange(config, path, headers, body)
    try:
        text = text_of(answer)
    except (KeyError, IndexError, TypeError, AttributeError):
        raise AiError(f"{config.label} sent an answer of an unexpected shape") from None
    if not isinstance(text, str):
        raise AiError(f"{config.label} sent an answer of an unexpected shape")
    return text


# -- tool calls -------------------------------------------------------------------------------
#
# The model is made to call one (or one of several) functions whose parameters
# are JSON schemas; their arguments come back as JSON objects.  Checked against the providers'
# documentation (December 2026):
#
# - Ollama POST /api/chat (ollama.com/blog/tool-support, docs/api.md): "tools": [{"type":
#   "function", "function": {"name", "description", "parameters"}}]; the answer's
#   message.tool_calls[].function.arguments is an object.  Ollama has no way to force the
#   call: the system prompt asks for it.
# - OpenAI POST /v1/chat/completions (platform.openai.com/docs/guides/function-calling):
#   the same "tools", plus "tool_choice": {"type": "function", "function": {"name"}} which
#   forces that call ("required" forces a call of any of several); choices[0].message.tool_calls[].function.arguments is a JSON string.
# - Gemini generateContent (ai.google.dev/gemini-api/docs/function-calling): "tools":
#   [{"functionDeclarations": [{"name", "description", "parameters"}]}], "toolConfig":
#   {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [names]}};
#   candidates[0].content.parts[].functionCall {"name", "args"} with args an object.
#   Its parameters take an OpenAPI subset of JSON schema: see `gemini_schema`.

# The schema keywords Gemini's Schema object takes (ai.google.dev/api/caching#Schema).
_GEMINI_KEYWORDS = frozenset({"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
                              "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
                              "pattern", "anyOf", "propertyOrdering", "items", "minimum", "maximum"})


def inline_refs(schema: dict) -> dict:
    """`schema` with every local "$ref": "#/$defs/Name" replaced by its definition, and no "$defs"."""
    definitions = schema.get("$defs", {})

    def walk(node: Any, depth: int = 0) -> Any:
        if depth > 20:
            raise ValueError("the schema nests too deeply (a recursive $ref?)")
        if isinstance(node, list):
            return [walk(item, depth + 1) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/$defs/")
            merged = {**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}
            return walk(merged, depth + 1)
        return {key: walk(value, depth + 1) for key, value in node.items() if key != "$defs"}

    return walk(schema)


def gemini_schema(schema: dict) -> dict:
    """A JSON schema in the dialect Gemini's function declarations take.

    References are inlined; {"anyOf": [X, {"type": "null"}]} becomes X with "nullable": true;
    keywords Gemini does not know ("additionalProperties", "default", "$schema"...) are dropped.
    Enums, ranges and lengths stay.
    """
    def walk(node: Any, in_properties: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if in_properties:          # property names are not keywords
            return {name: walk(value) for name, value in node.items()}
        options = node.get("anyOf")
        if isinstance(options, list):
            kept = [option for option in options if option != {"type": "null"}]
            if len(kept) == 1:
                rest = {k: v for k, v in node.items() if k != "anyOf"}
                merged = walk({**kept[0], **{k: v for k, v in rest.items() if k in ("description", "title")}})
                if len(kept) < len(options):
                    merged["nullable"] = True
                return merged
        return {key: walk(value, in_properties=key == "properties")
                for key, value in node.items() if key in _GEMINI_KEYWORDS}

    return walk(inline_refs(schema))


def _tool_request(config: AiConfig, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]],
                  temperature: float) -> tuple[str, dict, dict]:
    build, _ = _WIRE[config.provider]
    path, headers, body = build(config, messages, None, temperature)
    declarations = [{"name": tool["name"], "description": tool["description"], "parameters": tool["parameters"]}
                    for tool in tools]
    names = [tool["name"] for tool in tools]
    if config.provider == "gemini":
        body["tools"] = [{"functionDeclarations": [{**declaration,
                                                     "parameters": gemini_schema(declaration["parameters"])}
                                                    for declaration in declarations]}]
        body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": names}}
    else:
        body["tools"] = [{"type": "function", "function": declaration} for declaration in declarations]
        if config.provider == "ollama":      # the tool's schema takes room in the context window too
            size = sum(len(m["content"]) for m in messages) + len(json.dumps(body["tools"]))
            estimate = size // _CHARS_PER_TOKEN + _ANSWER_TOKENS
            if estimate > _OLLAMA_SMALL_CONTEXT:
                body["options"]["num_ctx"] = min(_OLLAMA_MAX_CONTEXT, 1 << (estimate - 1).bit_length())
        if config.provider == "openai":   # one tool: force it; several: force a call of any of them
            body["tool_choice"] = ({"type": "function", "function": {"name": names[0]}} if len(names) == 1
                                   else "required")
    return path, headers, body


def _tool_arguments(provider: str, answer: Any, name: str) -> Any:
    """The arguments of the model's call of `name`, as sent (object or JSON text); None when it made none."""
    if provider == "gemini":
        candidates = answer.get("candidates") or []
        if not candidates:
            reason = (answer.get("promptFeedback") or {}).get("blockReason", "no reason given")
            raise AiError(f"Gemini refused the request ({one_line(str(reason), 60)})")
        calls = [part["functionCall"] for part in (candidates[0].get("content") or {}).get("parts") or []
                 if isinstance(part, dict) and isinstance(part.get("functionCall"), dict)]
        return next((call.get("args", {}) for call in calls if call.get("name") == name), None)
    message = answer["message"] if provider == "ollama" else answer["choices"][0]["message"]
    calls = [call.get("function") or {} for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    arguments = next((call.get("arguments") for call in calls if call.get("name") == name), None)
    if arguments is None and isinstance(message.get("content"), str):
        arguments = _call_in_text(message["content"], name)
    return arguments


def _object_arguments(arguments: Any, name: str) -> dict:
    """A call's arguments as an object (OpenAI sends them as JSON text); AiAnswerError otherwise."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            raise AiAnswerError(f"the arguments of {name} are not JSON") from None
    if not isinstance(arguments, dict):
        raise AiAnswerError(f"the arguments of {name} are not a JSON object")
    return arguments


def _call_in_text(text: str, name: str) -> dict | None:
    """A call written as text, as small local models often do: {"name": name, "arguments"|"parameters":
    {...}} alone in the answer (perhaps in a ```json fence); None otherwise."""
    start, end = text.find("{"), text.rfind("}")
    if not 0 <= start < end:
        return None
    try:
        value = json.loads(text[start:end + 1])
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or value.get("name") != name:
        return None
    arguments = value.get("arguments", value.get("parameters"))
    return arguments if isinstance(arguments, dict) else None


def send_tool(config: AiConfig, messages: Sequence[Message], tool: Mapping[str, Any],
              temperature: float) -> dict:
    """The arguments the model gives in its call of `tool` ({"name", "description", "parameters"}).

    Raises AiError; AiAnswerError when the model made no such call or its arguments are not a
    JSON object.
    """
    return send_tools(config, messages, [tool], temperature)[tool["name"]]


def send_tools(config: AiConfig, messages: Sequence[Message], tools: Sequence[Mapping[str, Any]],
               temperature: float) -> dict[str, dict]:
    """The arguments of each of `tools` the model called, by name (its first call of each).

    The model must call at least one.  Raises AiError; AiAnswerError when it called none, or
    a call's arguments are not a JSON object.
    """
    path, headers, body = _tool_request(config, messages, tools, temperature)
    try:
        answer = _exchange(config, path, headers, body)
    except AiError as error:
        # Some OpenAI-compatible servers take only the words "auto", "required" and "none"
        # for tool_choice, and refuse a named function: ask again with "required".
        if not isinstance(body.get("tool_choice"), dict) or error.status != 400:
            raise
        log.info("%s; asking again with tool_choice 'required'", error)
        answer = _exchange(config, path, headers, {**body, "tool_choice": "required"})
    try:
        called = {tool["name"]: _tool_arguments(config.provider, answer, tool["name"]) for tool in tools}
    except (KeyError, IndexError, TypeError, AttributeError):
        raise AiError(f"{config.label} sent an answer of an unexpected shape") from None
    called = {name: arguments for name, arguments in called.items() if arguments is not None}
    if not called:
        raise AiAnswerError("the model answered without calling " + " or ".join(t["name"] for t in tools))
    return {name: _object_arguments(arguments, name) for name, arguments in called.items()}
