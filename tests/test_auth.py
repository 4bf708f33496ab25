"""Access control: every route behind sign-in or a token, roles, first-start setup,
Host and cross-site protection, security headers, sessions, throttling."""
import ast
import io
import re
from pathlib import Path

import pytest

from auth import setup, throttle
from db.models import Account, ApiToken, SetupCode
from db.session import session_scope
from tests.conftest import REPO
from tests.support import PASSWORDS, account, signed_in, token_for

SAME_SITE = {"Origin": "http://localhost"}


def login(client, role="admin", origin=SAME_SITE):
    person = account(role)
    return client.post("/login", data={"username": person.username, "password": PASSWORDS[role]},
                       headers=origin)


def test_no_route_answers_a_stranger(app, anonymous):
    account("admin")
    for method, path in [("GET", "/api/config"), ("GET", "/api/mediaserver"), ("POST", "/api/tasks"),
                         ("POST", "/api/cancel/x"), ("POST", "/api/create_playlist"), ("GET", "/api/accounts"),
                         ("GET", "/api/search_tracks?q=abc"), ("GET", "/api/no-such-route")]:
        answer = anonymous.open(path, method=method, json={})
        assert answer.status_code == 401 and answer.json["status"] == 401, (method, path)
    for path in ("/", "/settings", "/similarity", "/accounts"):
        answer = anonymous.get(path)
        assert answer.status_code == 302 and answer.location.startswith("/login?next=" + path), path
    health = anonymous.get("/api/health").json   # up or down, without the error texts
    assert health["status"] in ("ok", "degraded") and health["database"] == {"ok": True}
    assert "error" not in health["workers"]
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/style.css").status_code == 200


def test_a_new_install_sends_everyone_to_setup(anonymous):
    assert anonymous.get("/").location == "/setup"
    assert anonymous.get("/login").location == "/setup"
    answer = anonymous.get("/api/active_tasks")
    assert answer.status_code == 401 and "/setup" in answer.json["error"]


def test_setup_code_creates_the_first_admin_once(anonymous):
    code = setup.new_code()
    page = anonymous.get("/setup")
    assert page.status_code == 200 and b"Setup code" in page.data
    form = {"code": "AAAA-BBBB-CCCC-DDDD", "username": "Boss", "password": "long enough", "confirm": "long enough"}
    wrong = anonymous.post("/setup", data=form, headers=SAME_SITE)
    assert wrong.status_code == 400 and b"not the code printed" in wrong.data
    short = anonymous.post("/setup", data={**form, "code": code, "password": "x", "confirm": "x"}, headers=SAME_SITE)
    assert short.status_code == 400 and b"at least 8 characters" in short.data
    made = anonymous.post("/setup", data={**form, "code": code.lower()}, headers=SAME_SITE)
    assert made.status_code == 302 and made.location == "/"
    assert anonymous.get("/api/me").json == {"id": 1, "username": "boss", "role": "admin", "via": "session"}
    with session_scope() as session:
        assert session.query(SetupCode).count() == 0
    again = anonymous.post("/setup", data={**form, "code": code, "username": "other"}, headers=SAME_SITE)
    assert again.status_code == 302 and again.location == "/login"   # spent: the form is gone
    with session_scope() as session:
        assert [a.username for a in session.query(Account)] == ["boss"]


def test_setup_code_guesses_are_throttled(anonymous):
    setup.new_code()
    form = {"code": "WRONG", "username": "admin", "password": "long enough", "confirm": "long enough"}
    for _ in range(throttle.PER_NAME):
        assert anonymous.post("/setup", data=form, headers=SAME_SITE).status_code == 400
    refused = anonymous.post("/setup", data=form, headers=SAME_SITE)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_start_prints_a_code_or_creates_the_admin_from_the_secret(env):
    out = io.StringIO()
    setup.on_start("admin", None, out)
    code = re.search(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", out.getvalue()).group(0)
    person = setup.create_first_admin(code, "admin", "long enough")
    assert person.role == "admin"
    out = io.StringIO()
    setup.on_start("admin", None, out)
    assert out.getvalue() == ""   # an account exists: nothing to print


def test_start_creates_the_admin_from_admin_password(env):
    out = io.StringIO()
    setup.on_start("chief", "from-a-k8s-secret", out)
    assert out.getvalue() == ""
    with session_scope() as session:
        row = session.query(Account).one()
    assert (row.username, row.role) == ("chief", "admin")
    assert "from-a-k8s-secret" not in row.password_hash and row.password_hash.startswith("$argon2id$")


def test_login_logout_and_wrong_password(app, anonymous):
    account("admin")
    wrong = anonymous.post("/login", data={"username": "admin", "password": "nope nope"}, headers=SAME_SITE)
    assert wrong.status_code == 401 and b"wrong name or password" in wrong.data
    answer = login(anonymous)
    assert answer.status_code == 302 and answer.location == "/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert anonymous.get("/api/me").json["username"] == "admin"
    assert anonymous.post("/logout", headers=SAME_SITE).location == "/login"
    assert anonymous.get("/api/me").status_code == 401


def test_session_cookie_is_secure_over_https(app):
    account("admin")
    client = app.test_client()
    answer = client.post("/login", base_url="https://localhost", headers={"Origin": "https://localhost"},
                         data={"username": "admin", "password": PASSWORDS["admin"]})
    assert answer.status_code == 302 and "Secure" in answer.headers["Set-Cookie"]


def test_login_redirects_only_within_the_site(anonymous):
    account("admin")
    for target, expected in [("/similarity?x=1", "/similarity?x=1"), ("https://evil.example/", "/"),
                              ("//evil.example/", "/"), ("/\\evil.example", "/")]:
        answer = anonymous.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                                "next": target}, headers=SAME_SITE)
        assert answer.location == expected, target


def test_failed_logins_are_throttled(anonymous):
    account("admin")
    for _ in range(throttle.PER_NAME):
        bad = anonymous.post("/login", data={"username": "admin", "password": "guess guess"}, headers=SAME_SITE)
        assert bad.status_code == 401
    refused = login(anonymous)    # even the right password, until the window ends
    assert refused.status_code == 429 and b"too many failed attempts" in refused.data
    assert int(refused.headers["Retry-After"]) > 0


def test_changing_a_password_ends_the_other_sessions(app):
    account("listener")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "listener")
    login(phone, "listener")
    wrong = laptop.post("/api/me/password", json={"current_password": "nope", "new_password": "new password 2"},
                        headers=SAME_SITE)
    assert wrong.status_code == 403
    changed = laptop.post("/api/me/password", json={"current_password": PASSWORDS["listener"],
                                                   "new_password": "new password 2"}, headers=SAME_SITE)
    assert changed.status_code == 200
    assert laptop.get("/api/me").status_code == 200   # the session that changed it lives on
    assert phone.get("/api/me").status_code == 401
    assert phone.get("/similarity").location.startswith("/login")


def test_a_listener_may_use_features_but_not_admin_routes(app):
    listener = signed_in(app.test_client(), "listener")
    assert listener.get("/api/me").json["role"] == "listener"
    assert listener.get("/similarity").status_code == 200
    assert listener.get("/").status_code == 200 and b"Start library scan" not in listener.get("/").data
    assert listener.get("/api/active_tasks").status_code == 200
    for method, path in [("GET", "/api/mediaserver"), ("POST", "/api/mediaserver"), ("POST", "/api/mediaserver/test"),
                         ("GET", "/api/config"), ("POST", "/api/tasks"), ("POST", "/api/cancel/x"),
                         ("GET", "/api/accounts"), ("POST", "/api/tokens"), ("GET", "/settings"), ("GET", "/accounts")]:
        answer = listener.open(path, method=method, json={})
        assert answer.status_code == 403, (method, path)
    assert listener.get("/api/config").json["error"] == "this needs an admin account"


def test_tokens_are_shown_once_stored_hashed_and_revocable(app, client):
    listener = account("listener")
    made = client.post("/api/tokens", json={"name": "kitchen player", "account_id": listener.id})
    assert made.status_code == 201
    token = made.json["token"]
    with session_scope() as session:
        stored = [(t.token_sha256, t.hint) for t in session.query(ApiToken)]
    assert all(token != digest and token not in digest for digest, _ in stored)
    assert token not in client.get("/api/tokens").text
    script = app.test_client()
    assert script.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json["username"] == "listener"
    assert client.delete(f"/api/tokens/{made.json['id']}").status_code == 200
    revoked = script.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and revoked.json["status"] == 401
    assert script.get("/api/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}).status_code == 401
    assert client.post("/api/tokens", json={"name": ""}).status_code == 400
    assert client.post("/api/tokens", json={"name": "x", "account_id": 10 ** 30}).status_code == 400
    assert client.delete("/api/tokens/99999999999999999999999").status_code == 404


def test_accounts_admin_and_the_last_admin_rule(client):
    me = client.get("/api/me").json
    made = client.post("/api/accounts", json={"username": "Kid", "password": "long enough", "role": "listener"})
    assert made.status_code == 201 and made.json["username"] == "kid"
    assert client.post("/api/accounts", json={"username": "kid", "password": "long enough"}).status_code == 400
    assert client.post("/api/accounts", json={"username": "x", "password": "short"}).status_code == 400
    assert client.post("/api/accounts", json={"username": "x\x00", "password": "long enough"}).status_code == 400
    assert client.post("/api/accounts", json={"username": "y", "password": "long enough", "role": "root"}).status_code == 400
    last = client.patch(f"/api/accounts/{me['id']}", json={"role": "listener"})
    assert last.status_code == 400 and "last admin" in last.json["error"]
    assert client.delete(f"/api/accounts/{me['id']}").status_code == 400
    assert client.patch(f"/api/accounts/{made.json['id']}", json={"role": "admin"}).json["role"] == "admin"
    assert client.delete(f"/api/accounts/{made.json['id']}").status_code == 200
    assert client.delete(f"/api/accounts/{made.json['id']}").status_code == 404
    assert client.patch("/api/accounts/77", json={"role": "admin"}).status_code == 404


def test_unknown_hosts_are_refused(app, client, anonymous):
    for host in ("evil.example", "attacker.rebind.example:8000", ""):
        answer = client.get("/api/active_tasks", headers={"Host": host})
        assert answer.status_code == 400 and "ALLOWED_HOSTS" in answer.json["error"], host
        assert anonymous.get("/login", headers={"Host": host}).status_code == 400
    for host in ("localhost", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/api/active_tasks", headers={"Host": host}).status_code == 200, host


@pytest.mark.parametrize("allowed, bind, host, ok", [
    (None, "127.0.0.1", "192.168.1.5", False),
    (None, "0.0.0.0", "192.168.1.5:8000", True),      # an address literal cannot be a rebinding name
    (None, "0.0.0.0", "nas.local", False),
    (None, "192.168.1.5", "192.168.1.5:8000", True),
    (("music.example.org",), "0.0.0.0", "music.example.org", True),
    (("music.example.org",), "0.0.0.0", "192.168.1.5", True),
    (("music.example.org",), "127.0.0.1", "192.168.1.5", False),
    ((".example.org",), "127.0.0.1", "a.b.example.org", True),
    ((".example.org",), "127.0.0.1", "example.org.evil", False),
    (("*",), "127.0.0.1", "anything", True),
])
def test_host_policy(allowed, bind, host, ok):
    from auth.guard import HostPolicy
    assert HostPolicy(allowed, bind).allows(host) is ok


def test_cross_site_requests_are_refused(app, workers):
    account("admin")
    browser = app.test_client()
    login(browser)
    task = browser.post("/api/tasks", json={"type": "library_scan"}, headers=SAME_SITE)
    assert task.status_code == 202
    cancel = f"/api/cancel/{task.json['task_id']}"
    # A form on another site posting to Sonarium: the browser sends the cookie and its own Origin.
    forged = browser.post(cancel, data={"x": "1"}, headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403 and "cross-site" in forged.json["error"]
    assert browser.post(cancel, headers={"Referer": "http://evil.example/page"}).status_code == 403
    assert browser.post(cancel).status_code == 403          # a session, and no proof of origin at all
    assert browser.post(cancel, headers={"X-CSRF-Token": "made-up"}).status_code == 403
    page = browser.get("/").data.decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert browser.post(cancel, headers={"X-CSRF-Token": token}).status_code == 200
    # Logging a victim into the attacker's account is refused too.
    assert login(app.test_client(), origin={"Origin": "http://evil.example"}).status_code == 403


def test_a_token_needs_no_origin(client):
    assert client.post("/api/tasks", json={"type": "nope"}, headers={"Origin": "http://evil.example"}).status_code == 400


def test_every_answer_carries_the_security_headers(client, anonymous):
    for answer in (client.get("/"), client.get("/api/active_tasks"), anonymous.get("/login"),
                   client.get("/static/js/api.js"), client.get("/api/nope")):
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/api/active_tasks").headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script():
    for template in (REPO / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name   # no inline event handlers


def test_blueprints_do_not_import_the_app_factory():
    for module in sorted(REPO.glob("app_*.py")):
        imported = {node.module for node in ast.walk(ast.parse(module.read_text()))
                    if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(ast.parse(module.read_text()))
                     if isinstance(node, ast.Import) for alias in node.names}
        assert "app" not in imported, module.name


def test_every_route_is_guarded_or_marked_public(app):
    from auth.policy import required_role
    public = sorted(rule.rule for rule in app.url_map.iter_rules()
                    if rule.endpoint != "static" and required_role(app.view_functions[rule.endpoint]) is None)
    assert public == ["/api/health", "/api/health/live", "/login", "/logout", "/setup"]


def test_a_revoked_token_or_changed_password_is_refused_at_once_by_every_process(env, app):
    """Each web process remembers who a credential is; a change anywhere is seen on the next request."""
    from app import create_app
    from auth import cache
    other_process = create_app({"TESTING": True})
    admin = signed_in(app.test_client())
    made = admin.post("/api/tokens", json={"name": "player", "account_id": account("listener").id}).json
    player = other_process.test_client()
    player.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {made['token']}"
    browser = other_process.test_client()
    login(browser, "listener")
    assert player.get("/api/me").status_code == 200 and browser.get("/api/me").status_code == 200   # remembered
    assert other_process.extensions["sonarium.identities"]._entries

    assert admin.delete(f"/api/tokens/{made['id']}").status_code == 200
    assert player.get("/api/me").status_code == 401
    assert admin.patch(f"/api/accounts/{made['account_id']}", json={"password": "another password"}).status_code == 200
    assert browser.get("/api/me").status_code == 401

    # Without Redis, nothing is remembered: the database answers every time.
    from tasks import queues
    queues.configure("redis://127.0.0.1:1/0")
    assert cache.IdentityCache().get("x", lambda: "from the database") == "from the database"
