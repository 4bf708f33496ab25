"""Signing tests in: accounts, API tokens and a signed-in browser.

Every route is behind auth, so a test client gets an admin's bearer token
(`signed_in`) and a browser signs in through the real login form (`sign_in`).
"""
from __future__ import annotations

from auth import accounts, tokens
from auth.accounts import AccountError

PASSWORDS = {"admin": "admin-password-1", "listener": "listener-password-1"}


def account(role: str = "admin", username: str | None = None):
    """The test's account of that role (made on first use), named after the role by default."""
    name = username or role
    try:
        return accounts.create(name, PASSWORDS[role], role)
    except AccountError:   # made earlier in this test
        return accounts.authenticate(name, PASSWORDS[role])


def token_for(role: str = "admin", username: str | None = None) -> str:
    person = account(role, username)
    return tokens.create(person.id, f"test {person.username}")[1]


def signed_in(client, role: str = "admin", username: str | None = None):
    """The Flask test client, sending an API token of an account with that role on every request."""
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token_for(role, username)
    return client


def sign_in(page, base_url: str, role: str = "admin", username: str | None = None) -> None:
    """Sign the browser in through the login form as the test's account of that role."""
    person = account(role, username)
    page.goto(base_url + "/login")
    page.fill("input[name=username]", person.username)
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("#sign-in")
    page.wait_for_url(lambda url: "/login" not in url)
