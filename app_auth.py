"""Signing in, first-start setup, accounts and API tokens.

Routes and their errors:
- GET/POST /setup            first start only: the setup code printed at start-up, a name and a
                             password make the admin account (then redirects home); once an account
                             exists it sends people to /login
- GET/POST /login            the sign-in form; a wrong name or password shows the form again (401),
                             too many failures 429 with Retry-After
- POST     /logout           ends this session
- GET      /account          change one's own password (any role)
- GET      /accounts         admin: accounts and API tokens
- GET      /api/me           who is signed in
- POST     /api/me/password  {"current_password", "new_password"}: 400 bad new password, 403 wrong
                             current one, 429 too many wrong ones; ends every other session
- GET/POST /api/accounts     admin: list; create {"username", "password", "role"} -> 201, 400 bad
                             or taken name, short password, unknown role
- PATCH    /api/accounts/<id> admin: {"role"} and/or {"password"}; 400 as above or for the last admin,
                             404 unknown id
- DELETE   /api/accounts/<id> admin: 400 for the last admin, 404 unknown id
- GET/POST /api/tokens       admin: list; create {"name", "account_id"?} -> 201 with the token, shown
                             this once; 400 bad name, 404 unknown account
- DELETE   /api/tokens/<id>  admin: revoke; 404 unknown id
"""
from __future__ import annotations

from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, redirect, render_template, request
from pydantic import BaseModel, Field

import api_input
from api_contract import Anything, Strict, answers, spec
from api_errors import api_error
from auth import accounts, guard, setup, throttle, tokens
from auth.accounts import AccountError
from auth.policy import admin_only, public
from db.models import ROLES

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


Secret = Annotated[str, Field(max_length=accounts.MAX_PASSWORD_CHARS)]


class PasswordChange(Strict):
    current_password: Secret
    new_password: Secret


class NewAccount(Strict):
    username: Annotated[str, Field(max_length=64, examples=["kitchen"])]
    password: Secret
    role: Literal[ROLES] = "listener"


class AccountChange(Strict):
    role: Literal[ROLES] | None = None
    password: Secret | None = None


class NewToken(Strict):
    name: Annotated[str, Field(max_length=tokens.MAX_NAME_CHARS, examples=["kitchen player"])]
    account_id: Annotated[int, Field(strict=True, ge=1)] | None = Field(None, description="default: your own")


class Me(BaseModel):
    id: int
    username: str
    role: str
    via: str


def _json_body() -> dict:
    """The declared body's fields that the caller actually sent."""
    return request.context.json.model_dump(exclude_unset=True)


def _throttled(error: throttle.Throttled, template: str, **context):
    if template:
        page = render_template(template, error=str(error), **context)
        return page, 429, {"Retry-After": str(error.retry_after)}
    answer, status = api_error(429, str(error))
    answer.headers["Retry-After"] = str(error.retry_after)
    return answer, status


@bp.route("/setup", methods=["GET", "POST"])
@public
def first_start():
    if not setup.pending():
        return redirect("/login")
    if request.method == "GET":
        return render_template("setup.html")
    form = request.form
    address = guard.client_address()
    try:
        throttle.check("setup", "", address)
        if form.get("password") != form.get("confirm"):
            raise AccountError("the two passwords differ")
        person = setup.create_first_admin(form.get("code"), form.get("username"), form.get("password"))
    except throttle.Throttled as error:
        return _throttled(error, "setup.html", username=form.get("username", ""))
    except AccountError as error:
        if str(error).startswith("setup code"):
            throttle.failed("setup", "", address)
        return render_template("setup.html", error=str(error), username=form.get("username", "")), 400
    guard.sign_in(person)
    return redirect("/")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "GET":
        if setup.pending():
            return redirect("/setup")
        return render_template("login.html", next=_safe_next(request.args.get("next")))
    name, target = request.form.get("username", ""), _safe_next(request.form.get("next"))
    address = guard.client_address()
    try:
        throttle.check("login", name, address)
    except throttle.Throttled as error:
        return _throttled(error, "login.html", username=name, next=target)
    person = accounts.authenticate(name, request.form.get("password", ""))
    if person is None:
        throttle.failed("login", name, address)
        return render_template("login.html", error="wrong name or password", username=name, next=target), 401
    throttle.succeeded("login", name, address)
    guard.sign_in(person)
    return redirect(target)


@bp.post("/logout")
@public
def logout():
    guard.sign_out()
    return redirect("/login")


@bp.get("/account")
def account_page():
    return render_template("account.html")


@bp.get("/accounts")
@admin_only
def accounts_page():
    return render_template("accounts.html", roles=ROLES)


@bp.get("/api/me")
@spec.validate(resp=answers(Me))
def me():
    return jsonify({**g.person.as_json(), "via": g.via})


@bp.post("/api/me/password")
@spec.validate(json=PasswordChange, resp=answers(Anything, 429))
def change_own_password():
    body = _json_body()
    address = guard.client_address()
    try:
        throttle.check("password", g.person.username, address)
    except throttle.Throttled as error:
        return _throttled(error, "")
    if accounts.authenticate(g.person.username, body.get("current_password")) is None:
        throttle.failed("password", g.person.username, address)
        return api_error(403, "current_password: not your current password")
    try:
        person = accounts.set_password(g.person.id, body.get("new_password"))
    except AccountError as error:
        return api_error(400, str(error))
    if g.via == "session":
        guard.sign_in(person)   # this session lives on; every other one has ended
    return jsonify({"changed": True, "other_sessions_ended": True})


@bp.get("/api/accounts")
@admin_only
@spec.validate(resp=answers(Anything))
def list_accounts():
    return jsonify({"accounts": accounts.listing()})


@bp.post("/api/accounts")
@admin_only
@spec.validate(json=NewAccount, resp=answers(Anything, status=201))
def create_account():
    body = _json_body()
    try:
        person = accounts.create(body.get("username"), body.get("password"), body.get("role", "listener"))
    except AccountError as error:
        return api_error(400, str(error))
    return jsonify(person.as_json()), 201


def _account_or_404(account_id: int):
    person = accounts.get(account_id) if account_id <= api_input.INTEGER_RANGE[1] else None
    if person is None:
        return None, api_error(404, f"no account {account_id}")
    return person, None


@bp.patch("/api/accounts/<int:account_id>")
@admin_only
@spec.validate(json=AccountChange, resp=answers(Anything, 404))
def change_account(account_id: int):
    person, missing = _account_or_404(account_id)
    if missing:
        return missing
    body = _json_body()
    if not {"role", "password"} & set(body):
        return api_error(400, 'expected {"role": ...} and/or {"password": ...}')
    try:
        if "password" in body:
            accounts.check_password(body["password"])
        if "role" in body:
            person = accounts.set_role(account_id, body["role"])
        if "password" in body:
            person = accounts.set_password(account_id, body["password"])
    except AccountError as error:
        return api_error(400, str(error))
    if person.id == g.person.id and g.via == "session":
        guard.sign_in(person)
    return jsonify(person.as_json())


@bp.delete("/api/accounts/<int:account_id>")
@admin_only
@spec.validate(resp=answers(Anything, 404))
def delete_account(account_id: int):
    _, missing = _account_or_404(account_id)
    if missing:
        return missing
    try:
        accounts.delete(account_id)
    except AccountError as error:
        return api_error(400, str(error))
    return jsonify({"deleted": account_id})


@bp.get("/api/tokens")
@admin_only
@spec.validate(resp=answers(Anything))
def list_tokens():
    return jsonify({"tokens": tokens.listing()})


@bp.post("/api/tokens")
@admin_only
@spec.validate(json=NewToken, resp=answers(Anything, 404, status=201))
def create_token():
    body = _json_body()
    account_id = body.get("account_id") or g.person.id
    _, missing = _account_or_404(account_id)
    if missing:
        return missing
    try:
        described, token = tokens.create(account_id, body.get("name"))
    except AccountError as error:
        return api_error(400, str(error))
    return jsonify({**described, "token": token}), 201


@bp.delete("/api/tokens/<int:token_id>")
@admin_only
@spec.validate(resp=answers(Anything, 404))
def revoke_token(token_id: int):
    try:
        if token_id > api_input.INTEGER_RANGE[1]:
            raise AccountError(f"no token {token_id}")
        tokens.revoke(token_id)
    except AccountError as error:
        return api_error(404, str(error))
    return jsonify({"revoked": token_id})
