"""The API contract: every /api route declares its query, body and answers with
pydantic models, and requests are validated from those declarations.

`spec.validate(query=..., json=..., resp=answers(...))` decorates a view; a
request that does not fit is answered 400 with the fields named (never the
view's business), and the declarations are published as OpenAPI 3.1 at
`GET /api/openapi.json` (the page `/api/docs` shows them), behind the same
sign-in as the rest.  Answers are declared, not checked at run time: the
schema fuzz in the test suite (tests/test_contract.py) fails when one drifts
from its declaration, which must never cost a user a request.

Why spectree: it decorates the plain Flask blueprints we have (the app stays
a Flask app built by its factory, where flask-openapi3 needs its own app and
blueprint classes), validates with pydantic v2, and writes OpenAPI 3.1.
"""
from __future__ import annotations

import json
from typing import Annotated

from flask import Response as FlaskResponse
from pydantic import BaseModel, ConfigDict, Field
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData
from spectree.plugins.flask_plugin import FlaskPlugin

# The answers any route may give besides its own: the caller's input (400), no
# or a listener's credentials (401, 403), a database or Redis outage (503).
COMMON_ERRORS = (400, 401, 403, 503)

Text = Annotated[str, Field(max_length=1000)]
ItemId = Annotated[str, Field(min_length=1, max_length=500, description="the media server's track id")]


class ApiError(BaseModel):
    """Every error answer on /api."""

    model_config = ConfigDict(extra="allow")
    error: str
    status: int


class Anything(BaseModel):
    """An answer whose fields are documented in the blueprint's docstring."""

    model_config = ConfigDict(extra="allow")


class Strict(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


def answers(ok: type[BaseModel] | None = Anything, *errors: int, status: int = 200,
            also: tuple[int, ...] = ()) -> Response:
    """The declared answers of a route: `ok` with `status` (and with each of `also`, e.g. 206 beside
    200 for a file served in ranges), and ApiError for `errors` and COMMON_ERRORS."""
    codes = {f"HTTP_{code}": ApiError for code in sorted(set(errors) | set(COMMON_ERRORS))}
    return Response(**{f"HTTP_{code}": ok for code in (status, *also)}, **codes)


class _Plugin(FlaskPlugin):
    def request_validation(self, request, query, json, form, headers, cookies):
        """As spectree does, except that a declared JSON body is always checked: a form-encoded or
        empty body must not slip past as "no body", and a list is not an empty object."""
        super().request_validation(request, query, None, form, headers, cookies)
        if json is not None:
            body = self.model_adapter.validate_obj(json, request.get_json(silent=True))
            request.context = request.context._replace(json=body)

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        if isinstance(resp, FlaskResponse) and resp.is_streamed:
            return resp, None   # spectree would read a streamed answer (a whole audio file) into memory
        return super().validate_response(resp, None, True, False)   # declared, not checked (see above)


def _refuse(request, response, validation_error, instance, model_adapter) -> None:
    """Answer a request that does not fit its declaration as every API error is answered."""
    if validation_error is None:
        return
    problems = []
    for error in model_adapter.validation_errors(validation_error)[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        if not where:   # the body as a whole: a list, a string, nothing
            problems.append("expected a JSON object with the documented fields")
            continue
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    response.set_data(json.dumps({"error": "; ".join(problems), "status": 400}))
    response.mimetype = "application/json"


spec = SpecTree(
    "flask", backend=_Plugin, before=_refuse, validation_error_status=400, mode="strict",
    # spectree leaves out of the contract every route under its own `path`: keep that off /api
    # (app_system.py serves the contract at /api/openapi.json itself).
    title="Sonarium API", version="1", path="apidoc", page_templates={},
    description="Every call needs a session cookie from the sign-in page or `Authorization: Bearer <token>` "
                "(tokens are made on the Accounts page). Errors are JSON: {\"error\", \"status\"}.",
    security_schemes=[
        SecurityScheme(name="token", data=SecuritySchemeData(type="http", scheme="bearer")),
        SecurityScheme(name="session", data=SecuritySchemeData(type="apiKey", name="sonarium_session",
                                                               field_in="cookie")),
    ],
    security=[{"token": []}, {"session": []}],
)
