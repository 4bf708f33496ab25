"""The request guard: every request passes here before its view runs.

In order: the Host must be one Sonarium answers to (400 otherwise: a DNS
rebinding page reaches the server under its own name); the caller is
identified by a bearer token or the session cookie (remembered per process
until an account or token changes: auth/cache.py); a state-changing request
made with the session must come from Sonarium's own pages (same Origin, or
the page's CSRF token), while one made with a token needs nothing more; then
the view's role (auth.policy) is checked: 401 JSON on /api or the sign-in page
for a stranger, 403 for a listener on an admin route.  Every answer carries a
Content-Security-Policy without inline script, frame-ancestors 'none',
nosniff and a Referrer-Policy.
"""
from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import secrets
from urllib.parse import quote, urlsplit

from flask import Flask, abort, g, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from api_errors import api_error, wants_json
from auth import accounts, setup, tokens
from auth.accounts import Person
from auth.cache import IdentityCache
from auth.policy import allows, required_role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_DAYS = 30
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_WILDCARD_BINDS = ("0.0.0.0", "::", "")


class _Sessions(SecureCookieSessionInterface):
    """The signed session cookie, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


class HostPolicy:
    """Which Host headers are answered (config.py's ALLOWED_HOSTS explains the default)."""

    def __init__(self, allowed: tuple[str, ...] | None, bind: str):
        bind = bind.strip("[]").lower()
        # DNS rebinding always arrives under a name, so an address literal is safe to answer.
        self.any_ip = bind in _WILDCARD_BINDS
        defaults = ("localhost", "127.0.0.1", "::1") + (() if bind in _WILDCARD_BINDS else (bind,))
        self.names = frozenset(allowed if allowed is not None else defaults) | {"localhost", "127.0.0.1", "::1"}

    @staticmethod
    def _name(host: str) -> str:
        host = host.strip().lower()
        if host.startswith("["):
            return host[1:host.find("]")] if "]" in host else host
        return host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def allows(self, host: str) -> bool:
        name = self._name(host)
        if not name:
            return False
        if "*" in self.names or name in self.names:
            return True
        if any(entry.startswith(".") and (name.endswith(entry) or name == entry[1:]) for entry in self.names):
            return True
        if self.any_ip:
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False


def sign_in(person: Person) -> None:
    """Start a session for `person` (a fresh one: no fixation)."""
    session.clear()
    session.permanent = True
    session.update(uid=person.id, epoch=person.session_epoch, csrf=secrets.token_urlsafe(24))


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def client_address() -> str:
    return request.remote_addr or "unknown"


def _identify(known: IdentityCache) -> tuple[Person | None, str | None]:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        person = (known.get(("token", tokens.digest(credential)), lambda: tokens.authenticate(credential))
                  if scheme.lower() == "bearer" else None)
        if person is None:
            abort(401, description="Authorization: expected 'Bearer <token>' with a valid, unrevoked API token")
        return person, "token"
    uid = session.get("uid")
    if not isinstance(uid, int):
        return None, None
    person = known.get(("account", uid), lambda: accounts.get(uid))
    if person is None or session.get("epoch") != person.session_epoch:
        session.clear()   # the account is gone or its password changed: this session is over
        return None, None
    return person, "session"


def _origin_matches() -> bool | None:
    """True/False when the request says where it comes from, None when it does not."""
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value and value != "null":
            return urlsplit(value).netloc.lower() == request.host.lower()
    return None


def _csrf_ok(via: str | None) -> bool:
    if request.method in SAFE_METHODS or via == "token":
        return True
    same = _origin_matches()
    if same is not None:
        return same
    if via is None:
        return True   # no session to abuse, and no browser that would omit Origin on a cross-site post
    offered = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    return bool(offered) and hmac.compare_digest(offered, session.get("csrf", ""))


def _refuse(status: int, message: str):
    if wants_json():
        return api_error(status, message)
    abort(status, description=message)


def init_app(app: Flask, settings) -> None:
    """Bind the guard, the session cookie rules and the security headers to `app`."""
    hosts = HostPolicy(settings.allowed_hosts, settings.web_host)
    known = app.extensions["sonarium.identities"] = IdentityCache()
    hops = settings.trusted_proxies
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.session_interface = _Sessions()
    app.config.update(SESSION_COOKIE_NAME="sonarium_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=dt.timedelta(days=SESSION_DAYS))

    @app.before_request
    def guard():
        if not hosts.allows(request.host):
            return _refuse(400, "this host name is not allowed: add it to ALLOWED_HOSTS")
        if request.endpoint == "static":
            g.person, g.via = None, None   # stylesheets and scripts: the same for everyone
            return None
        needed = required_role(app.view_functions.get(request.endpoint))
        try:
            g.person, g.via = _identify(known)
        except OperationalError:
            if needed is not None:
                raise   # answered 503 by api_errors
            g.person, g.via = None, None   # the health probe must answer while the database is down
        if not _csrf_ok(g.via):
            return _refuse(403, "cross-site request refused: send it from Sonarium's own page, "
                                "or with an API token")
        if needed is None:
            return None
        if g.person is None:
            first_start = setup.pending()
            if wants_json():
                return api_error(401, "no account exists yet: open /setup with the code printed at start"
                                 if first_start else "sign in first, or send 'Authorization: Bearer <token>'")
            target = "/setup" if first_start else "/login?next=" + quote(request.full_path.rstrip("?"), safe="/")
            return redirect(target)
        if not allows(g.person.role, needed):
            return _refuse(403, "this needs an admin account")
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def who():
        return {"me": g.get("person"), "csrf_token": csrf_token}
