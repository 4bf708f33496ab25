"""Fakes of the three AI APIs, shared by tests/test_ai.py and tests/test_ai_plan.py.

Each fake is a real HTTP server on 127.0.0.1 (werkzeug, threaded) that checks every
request against what the provider's documentation asks for (path, method, headers
including the key's, body fields) and answers from a script: names, garbage, wrong
counts, errors, redirects, silence.  The shapes:

- Ollama POST /api/chat (docs/api.md in github.com/ollama/ollama; structured outputs:
  ollama.com/blog/structured-outputs): {"model", "messages", "stream": false, "format",
  "options"} -> {"message": {"role": "assistant", "content"}, "done": true}; errors {"error": text}.
- OpenAI POST /v1/chat/completions (platform.openai.com/docs/api-reference/chat/create):
  "Authorization: Bearer KEY", {"model", "messages", "temperature", "response_format"} ->
  {"choices": [{"message": {"role": "assistant", "content"}, "finish_reason"}]};
  errors {"error": {"message", "type", "code"}}.
- Gemini POST /v1beta/models/{model}:generateContent (ai.google.dev/api/generate-content):
  "x-goog-api-key: KEY", {"contents", "systemInstruction", "generationConfig"} ->
  {"candidates": [{"content": {"role": "model", "parts": [{"text"}]}, "finishReason"}]};
  errors {"error": {"code", "message", "status"}}.

Tool calling (`Reply(call=...)` answers with a call of `call_name`; requests carrying tools
are checked too):

- Ollama (ollama.com/blog/tool-support): "tools": [{"type": "function", "function": {"name",
  "description", "parameters"}}] -> {"message": {"role": "assistant", "content": "",
  "tool_calls": [{"function": {"name", "arguments": {...}}}]}}.
- OpenAI (platform.openai.com/docs/guides/function-calling): the same "tools" and "tool_choice":
  {"type": "function", "function": {"name"}} -> {"choices": [{"message": {"content": null,
  "tool_calls": [{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}]},
  "finish_reason": "tool_calls"}]}.
- Gemini (ai.google.dev/gemini-api/docs/function-calling): "tools": [{"functionDeclarations":
  [{"name", "description", "parameters"}]}], "toolConfig": {"functionCallingConfig": {"mode":
  "ANY"}} -> {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name",
  "args": {...}}}]}}]}.  Gemini's parameters are an OpenAPI subset: no $ref, $defs,
  additionalProperties or default.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
import threading
import time
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

import ai_providers
from ai import AiConfig

KEY = "sk-test-" + secrets.token_hex(12)
MODEL = "test-model"

# -- the fakes ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Reply:
    """One scripted answer: the model's `text` in the provider's answer shape, or a raw `body`."""

    text: str | None = None
    status: int = 200
    body: Any = None
    delay: float = 0.0      # s before answering
    headers: dict = dataclasses.field(default_factory=dict)
    drip: float = 0.0       # s between the answer's single bytes
    call: Any = None        # the arguments of a tool call to answer with (sent as the provider sends them)
    call_name: str = "set_playlist_plan"
    calls: list[tuple[str, Any]] | None = None   # several calls in one answer: [(name, arguments)]


def _problems_ollama(request: Request, body: dict, api: FakeApi) -> list[str]:
    problems = []
    if request.path != "/api/chat":
        problems.append(f"path {request.path}")
    if set(body) - {"model", "messages", "tools", "format", "options", "stream", "keep_alive", "think"}:
        problems.append(f"unknown fields {sorted(body)}")
    if body.get("stream") is not False:
        problems.append("stream must be false for one JSON answer")
    if not isinstance(body.get("options", {}).get("temperature"), (int, float)):
        problems.append("options.temperature")
    if "format" in body and not (body["format"] == "json" or isinstance(body["format"], dict)
                                 and body["format"].get("type") == "object"):
        problems.append("format must be 'json' or a JSON schema")
    if request.headers.get("Authorization") != (f"Bearer {api.key}" if api.key else None):
        problems.append("Authorization header")
    return (problems + _problems_messages(body.get("messages"), ("system", "user", "assistant", "tool"))
            + _problems_tools(body))


def _problems_openai(request: Request, body: dict, api: FakeApi) -> list[str]:
    problems = []
    if request.path != "/v1/chat/completions":
        problems.append(f"path {request.path}")
    if set(body) - {"model", "messages", "temperature", "response_format", "tools", "tool_choice", "top_p",
                    "max_tokens", "max_completion_tokens", "stream", "n", "stop", "seed", "user"}:
        problems.append(f"unknown fields {sorted(body)}")
    if not (isinstance(body.get("temperature"), (int, float)) and 0 <= body["temperature"] <= 2):
        problems.append("temperature must be 0..2")
    if "response_format" in body:
        fmt = body["response_format"]
        if fmt.get("type") not in ("text", "json_object", "json_schema"):
            problems.append("response_format.type")
        if fmt.get("type") == "json_schema" and not (
                re.fullmatch(r"[A-Za-z0-9_-]{1,64}", fmt.get("json_schema", {}).get("name", ""))
                and isinstance(fmt["json_schema"].get("schema"), dict)):
            problems.append("response_format.json_schema needs a name and a schema")
    if request.headers.get("Authorization") != f"Bearer {api.key}":
        problems.append("Authorization header")
    problems += _problems_tools(body)
    if "tools" in body and body.get("tool_choice") not in (
            "auto", "required", "none",
            *({"type": "function", "function": {"name": tool["function"].get("name")}} for tool in body["tools"])):
        problems.append("tool_choice must be auto|required|none or name one of the tools")
    return problems + _problems_messages(body.get("messages"), ("system", "user", "assistant", "tool"))


def _problems_gemini(request: Request, body: dict, api: FakeApi) -> list[str]:
    problems = []
    if request.path != f"/v1beta/models/{MODEL}:generateContent":
        problems.append(f"path {request.path}")
    if set(body) - {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig",
                    "safetySettings", "cachedContent"}:
        problems.append(f"unknown fields {sorted(body)}")
    if request.headers.get("x-goog-api-key") != api.key or "Authorization" in request.headers:
        problems.append("the key belongs in x-goog-api-key alone")
    contents = body.get("contents")
    if not contents or any(c.get("role") not in ("user", "model") or not c.get("parts")
                           or any(not isinstance(p.get("text"), str) for p in c["parts"]) for c in contents):
        problems.append("contents must be [{role: user|model, parts: [{text}]}]")
    if "systemInstruction" in body and not isinstance(body["systemInstruction"]["parts"][0].get("text"), str):
        problems.append("systemInstruction.parts[0].text")
    generation = body.get("generationConfig", {})
    if set(generation) - {"temperature", "responseMimeType", "responseSchema", "topP", "maxOutputTokens"}:
        problems.append(f"unknown generationConfig fields {sorted(generation)}")
    if generation.get("responseMimeType", "text/plain") not in ("text/plain", "application/json"):
        problems.append("responseMimeType")
    if "tools" in body:
        try:
            declarations = body["tools"][0]["functionDeclarations"]
            ok = bool(declarations) and all(set(d) <= {"name", "description", "parameters"} and _name_ok(d["name"])
                                            for d in declarations)
        except (KeyError, IndexError, TypeError):
            declarations, ok = [], False
        if not ok:
            problems.append("tools must be [{functionDeclarations: [{name, description, parameters}]}]")
        problems += [f"Gemini's schema has no {word}" for word in _GEMINI_UNKNOWN
                     if any(f'"{word}"' in json.dumps(d.get("parameters", {})) for d in declarations)]
        mode = body.get("toolConfig", {}).get("functionCallingConfig", {}).get("mode", "AUTO")
        if mode not in ("AUTO", "ANY", "NONE", "VALIDATED"):
            problems.append("toolConfig.functionCallingConfig.mode")
    return problems


_GEMINI_UNKNOWN = ("$ref", "$defs", "additionalProperties", "default", "$schema", "const")


def _name_ok(name: Any) -> bool:
    return isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}", name) is not None


def _problems_tools(body: dict) -> list[str]:
    """Ollama's and OpenAI's "tools": [{"type": "function", "function": {name, description, parameters}}]."""
    if "tools" not in body:
        return []
    tools = body["tools"]
    if not isinstance(tools, list) or not tools or any(
            not isinstance(t, dict) or t.get("type") != "function" or not isinstance(t.get("function"), dict)
            or not _name_ok(t["function"].get("name"))
            or set(t["function"]) - {"name", "description", "parameters", "strict"}
            or t["function"].get("parameters", {}).get("type") != "object" for t in tools):
        return ["tools must be [{type: function, function: {name, description, parameters: object schema}}]"]
    return []


def _problems_messages(messages: Any, roles: tuple[str, ...]) -> list[str]:
    if not messages or any(m.get("role") not in roles or not isinstance(m.get("content"), str) for m in messages):
        return ["messages must be [{role, content}]"]
    return []


def _call_answer(provider: str, calls: list[tuple[str, Any]]) -> dict:
    """Tool calls [(name, arguments)] in the provider's answer shape; OpenAI's arguments travel as JSON text."""
    if provider == "ollama":
        return {"model": MODEL, "created_at": "2026-12-01T10:00:00Z", "done": True, "done_reason": "stop",
                "message": {"role": "assistant", "content": "",
                            "tool_calls": [{"function": {"name": name, "arguments": arguments}}
                                           for name, arguments in calls]}}
    if provider == "openai":
        return {"id": "chatcmpl-2", "object": "chat.completion", "created": 1764583200, "model": MODEL,
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": None,
                    "tool_calls": [{"id": f"call_{number}", "type": "function", "function": {
                        "name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}}
                        for number, (name, arguments) in enumerate(calls, 1)]}}]}
    return {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": arguments}}
                                                                   for name, arguments in calls]},
                            "finishReason": "STOP", "index": 0}], "modelVersion": MODEL}


def _answer(provider: str, text: str) -> dict:
    if provider == "ollama":
        return {"model": MODEL, "created_at": "2026-12-01T10:00:00Z", "done": True, "done_reason": "stop",
                "message": {"role": "assistant", "content": text}}
    if provider == "openai":
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1764583200, "model": MODEL,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}}
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP",
                            "index": 0}],
            "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 20}, "modelVersion": MODEL}


def _dripping(data: bytes, pause: float):
    for index in range(len(data)):
        time.sleep(pause)
        yield data[index:index + 1]


class FakeApi:
    """One provider's API: checks each request, records it, answers the next scripted reply."""

    check = {"ollama": _problems_ollama, "openai": _problems_openai, "gemini": _problems_gemini}

    def __init__(self, provider: str, refuse_response_format: bool = False, refuse_named_tool_choice: bool = False):
        self.provider = provider
        self.refuse_named_tool_choice = refuse_named_tool_choice
        self.key = None if provider == "ollama" else KEY
        self.refuse_response_format = refuse_response_format
        self.script: list[Reply] = []
        self.requests: list[dict] = []
        self.problems: list[str] = []
        self.url = ""

    def reply(self, *replies: Reply) -> FakeApi:
        self.script.extend(replies)
        return self

    def config(self, **changes: Any) -> AiConfig:
        values = {"provider": self.provider, "url": self.url, "model": MODEL, "api_key": self.key, "timeout": 5}
        return AiConfig(**{**values, **changes})

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            body = {}
        self.requests.append({"method": request.method, "url": request.url, "path": request.path,
                              "headers": dict(request.headers), "body": body})
        problems = self.check[self.provider](request, body, self) if isinstance(body, dict) else ["not a JSON object"]
        if request.method != "POST" or request.mimetype != "application/json":
            problems.append(f"{request.method} {request.mimetype}")
        if request.query_string:
            problems.append("a query string (a key must never travel in the URL)")
        if problems:
            self.problems.extend(problems)
            return Response(json.dumps({"error": "; ".join(problems)}), 400)(environ, start_response)
        if self.refuse_response_format and "response_format" in body:
            answer = Response(json.dumps({"error": {"message": "response_format is not supported",
                                                    "type": "invalid_request_error"}}), 400)
            return answer(environ, start_response)
        if self.refuse_named_tool_choice and isinstance(body.get("tool_choice"), dict):
            answer = Response(json.dumps({"error": {"message": "Invalid tool_choice", "type": "invalid_request_error"}}),
                              400)
            return answer(environ, start_response)
        scripted = self.script.pop(0) if self.script else Reply(status=500, body={"error": "script ran out"})
        time.sleep(scripted.delay)
        if scripted.calls is not None:
            payload = _call_answer(self.provider, scripted.calls)
        elif scripted.call is not None:
            payload = _call_answer(self.provider, [(scripted.call_name, scripted.call)])
        else:
            payload = scripted.body if scripted.text is None else _answer(self.provider, scripted.text)
        data = json.dumps(payload).encode()
        if scripted.drip:
            data = _dripping(data, scripted.drip)
        answer = Response(data, scripted.status, scripted.headers, mimetype="application/json")
        return answer(environ, start_response)

    def user_prompts(self) -> list[str]:
        texts = []
        for sent in self.requests:
            body = sent["body"]
            if self.provider == "gemini":
                texts.append(body["contents"][-1]["parts"][0]["text"])
            else:
                texts.append([m for m in body["messages"] if m["role"] == "user"][-1]["content"])
        return texts


@pytest.fixture
def serve():
    """Start a fake of one provider: serve("ollama") -> FakeApi with .url set."""
    servers = []

    def start(provider: str, **options: Any) -> FakeApi:
        api = FakeApi(provider, **options)
        server = make_server("127.0.0.1", 0, api, threaded=True)
        # A short poll, as shutdown() waits for the loop's next look.
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        api.url = f"http://127.0.0.1:{server.server_port}"
        return api

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch, caplog):
    """Short back-off; every log line captured, so each test can check the key is not in it."""
    monkeypatch.setattr(ai_providers, "BACKOFF", (0.01, 0.02))
    caplog.set_level(logging.DEBUG)


def assert_key_kept(api: FakeApi, caplog, *texts: str | None) -> None:
    for sent in api.requests:
        assert KEY not in sent["url"]
    for text in (*texts, caplog.text):
        assert KEY not in (text or "")
