"""Playlists from plain language: the chat page and its JSON API.

Routes and their errors:
- GET  /chat        the page: a conversation; each answer shows the plan in words, what was relaxed or
                    could not be found, the songs, and "Create playlist" (kind "chat")
- POST /api/chat    {"message": str (1..500 characters), "previous_plan": Plan | null (the plan of the
                     answer this message follows up, see similarity/plan.py; null starts anew),
                     "ai": {"provider", "url", "model", "api_key"} | null (this request only: an AI
                     other than the one on the Settings page; never stored, logged or sent back)}
                    200 {"plan": the plan (Plan as JSON, send it back as previous_plan to refine it),
                    "description": the plan in words, "answer": {"tracks": [track + "score"] (in playing
                    order, see "order"; a lower score fits the plan better), "held": [conditions every song meets, in words],
                    "relaxed": [conditions some songs miss, with how many], "unresolved": [song texts
                    nothing in the library answered; each track has "why": the conditions it
                    misses, how it follows the song before], "sql": null | {"query": the plan's SQL as it ran,
                    "rows": how many songs it picked (null when it could not run), "error": why not}},
                    "order": {"order", "shape", "mean", "worst", "artist_repeats"} (how the songs are
                    ordered: "order" and "shape" in the body choose, as on the other pages),
                    "mode": "ai" | "no-ai", "note": why the AI was not used, and that the
                    reader understood nothing of the request when so (null when neither), "repaired": [what was
                    fixed in the AI's plan]}
                    400 malformed body (message empty or too long, an invalid previous plan or AI);
                    403 a listener naming an AI URL (the server would call any address for them);
                    503 no similarity index yet.
                    GET answers 405.

With an AI set (Settings page, or "ai" in the request), the model fills the plan through tool
calling (ai_plan.py), and may add one SQL query over the view chat_tracks
(db/chat_sql.py: checked, then run read-only under a role that can read
nothing else; only the ids it picks reach the answer); without one, or when
it fails, the deterministic reader
(similarity/request_reader.py) does, and "note" says why.  A request waits for the AI at most
AI_WAIT_SECONDS, whatever the provider's own timeouts and retries: then the reader answers and
the AI's late answer is dropped, so a slow model never holds a web thread longer.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Annotated, Literal

from flask import Blueprint, current_app, g, jsonify, render_template, request
from pydantic import Field

import ai_plan
from ai import AiConfig
from api_contract import Anything, Strict, answers, spec
from api_errors import api_error
from auth.policy import ADMIN
from config import AI_PROVIDERS, ConfigError
from similarity import craft, ordering
from similarity import plan as plans
from similarity import request_reader

bp = Blueprint("chat", __name__)

MAX_MESSAGE_CHARS = 500
AI_WAIT_SECONDS = 30.0   # the longest a chat request waits for the model, retries included
Mode = Literal["ai", "no-ai"]
NOTHING_UNDERSTOOD = ("no word of the request named a tag, mood, tempo, year, artist or song Sonarium knows, "
                      "so these are songs from across the library; try words like calm, fast, piano, "
                      "electronic, 90s, or \"like <a song>\"")


class ChatAi(Strict):
    """An AI for this request only."""

    provider: Literal[AI_PROVIDERS]
    url: Annotated[str, Field(max_length=300)] | None = None
    model: Annotated[str, Field(max_length=200)] | None = None
    api_key: Annotated[str, Field(max_length=500)] | None = None


class ChatBody(Strict):
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                                  examples=["calm piano for a rainy evening, nothing with vocals"])]
    previous_plan: plans.Plan | None = Field(None, description="the plan of the answer this message refines")
    ai: ChatAi | None = Field(None, description="an AI for this request only (not saved)")
    order: craft.Order = Field("smooth", description="smooth: ordered to flow (similarity/craft.py); ranked: best first")
    shape: ordering.Shape = Field("steady", description="the energy along a smooth order")


def _ai_config(chosen: ChatAi | None) -> AiConfig:
    """The AI to ask, its per-attempt timeout held within AI_WAIT_SECONDS; ValueError for a bad one."""
    try:
        config = AiConfig.from_settings() if chosen is None else AiConfig.from_dict(chosen.model_dump())
    except ConfigError as error:
        raise ValueError(f"the AI settings cannot be used ({error})") from None
    return dataclasses.replace(config, timeout=min(config.timeout, AI_WAIT_SECONDS))


def _plan_for(message: str, previous: plans.Plan | None, config: AiConfig) -> ai_plan.PlanOutcome:
    """The plan a message asks for, from the AI if it answers within AI_WAIT_SECONDS, else from the reader.

    The AI is asked on a thread of its own, so its timeouts and retries cannot hold this request
    longer than the wait; a late answer is dropped.
    """
    if not config.enabled:
        return ai_plan.plan_request(config, message, previous)
    answered: list[ai_plan.PlanOutcome] = []
    asking = threading.Thread(target=lambda: answered.append(ai_plan.plan_request(config, message, previous)),
                              name="chat-ai", daemon=True)
    asking.start()
    asking.join(AI_WAIT_SECONDS)
    if answered:
        return answered[0]
    note = f"{config.label} did not answer within {AI_WAIT_SECONDS:g} s; read without AI"
    return ai_plan.PlanOutcome(request_reader.read(message, previous), False, note, [])


@bp.get("/chat")
def chat_page():
    try:
        configured = AiConfig.from_settings()
    except ConfigError:
        configured = None
    label = configured.label if configured is not None and configured.enabled else None
    return render_template("chat.html", max_chars=MAX_MESSAGE_CHARS, ai_label=label)


@bp.post("/api/chat")
@spec.validate(json=ChatBody, resp=answers(Anything, 403))
def chat_api():
    body = request.context.json
    if body.ai is not None and body.ai.url and g.person.role != ADMIN:
        return api_error(403, "ai.url: only an admin may point Sonarium at another AI server")
    try:
        config = _ai_config(body.ai)
    except ValueError as error:
        return api_error(400, f"ai: {error}")
    index = current_app.extensions["sonarium.index"].require()   # 503 without one
    outcome = _plan_for(body.message, body.previous_plan, config)
    plan = outcome.plan
    note = outcome.note
    if plans.is_open(plan) and not outcome.used_ai:
        note = "; ".join(filter(None, [note, NOTHING_UNDERSTOOD]))
    result = plans.execute(plan, index)
    answer = result.as_json()
    answer["tracks"], order = _in_order(index, result, body)
    return jsonify({"plan": plan.model_dump(mode="json"), "description": plans.describe(plan),
                    "answer": {key: answer[key] for key in ("tracks", "held", "relaxed", "unresolved", "sql")},
                    "order": order, "mode": "ai" if outcome.used_ai else "no-ai", "note": note,
                    "repaired": outcome.repaired})


def _in_order(index, result: plans.PlanResult, body: ChatBody) -> tuple[list[dict], dict]:
    """The answer's songs in playing order, each with its score and why it is there (first the
    conditions it misses), and the order's summary."""
    tracks = [track for track, _ in result.tracks]
    scores = {track.id: score for track, score in result.tracks}
    missed = {track.id: words for (track, _), words in zip(result.tracks, result.missed)}
    crafted = craft.craft(index, tracks, [None] * len(tracks), reference=result.near,
                          relevance=[scores[t.id] for t in tracks], order=body.order, shape=body.shape)
    shown = []
    for track, why in zip(crafted.tracks, crafted.why):
        misses = missed[track.id]
        fits = "misses " + "; ".join(misses) if misses else "meets every condition"
        why = {**why, "misses": misses, "text": " · ".join(part for part in (fits, why["text"]) if part)}
        shown.append(track.as_json(score=round(scores[track.id], 4), why=why))
    return shown, crafted.seams
