"""Playlists from plain language: the chat page and its JSON API.

Routes and their errors:
- GET  /chat        the page: a conversation; each answer shows the plan in words, what was relaxed or
                    could not be found, the songs, and "Create playlist" (kind "chat")
- POST /api/chat    {"message": str (1..500 characters), "previous_plan": Plan | null (the plan of the
                     answer this message follows up, see similarity/plan.py; null starts anew)}
                    200 {"plan": the plan (Plan as JSON, send it back as previous_plan to refine it),
                    "description": the plan in words, "answer": {"tracks": [track + "score"] (best
                    first, lower is closer), "held": [conditions every song meets, in words],
                    "relaxed": [conditions some songs miss, with how many], "unresolved": [song texts
                    nothing in the library answered]}, "mode": "no-ai"}
                    400 malformed body (message empty or too long, an invalid previous plan);
                    503 no similarity index yet.
                    GET answers 405.

Today the deterministic reader (similarity/request_reader.py) turns the message into the plan;
`_plan_for` is the one place an AI planner will plug in.
"""
from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, current_app, jsonify, render_template, request
from pydantic import Field

from api_contract import Anything, Strict, answers, spec
from similarity import plan as plans
from similarity import request_reader

bp = Blueprint("chat", __name__)

MAX_MESSAGE_CHARS = 500
Mode = Literal["no-ai"]


class ChatBody(Strict):
    message: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                                  examples=["calm piano for a rainy evening, nothing with vocals"])]
    previous_plan: plans.Plan | None = Field(None, description="the plan of the answer this message refines")


def _plan_for(message: str, previous: plans.Plan | None) -> tuple[plans.Plan, Mode]:
    """The plan a message asks for, and how it was made: the seam where an AI planner plugs in."""
    return request_reader.read(message, previous), "no-ai"


@bp.get("/chat")
def chat_page():
    return render_template("chat.html", max_chars=MAX_MESSAGE_CHARS)


@bp.post("/api/chat")
@spec.validate(json=ChatBody, resp=answers(Anything))
def chat_api():
    body = request.context.json
    index = current_app.extensions["sonarium.index"].require()   # 503 without one
    plan, mode = _plan_for(body.message, body.previous_plan)
    result = plans.execute(plan, index).as_json()
    return jsonify({"plan": plan.model_dump(mode="json"), "description": plans.describe(plan),
                    "answer": {key: result[key] for key in ("tracks", "held", "relaxed", "unresolved")},
                    "mode": mode})
