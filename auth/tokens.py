"""API tokens for scripts, players and plugins (`Authorization: Bearer <token>`).

A token is 256 random bits, shown once when made; only its SHA-256 is kept (a
slow hash adds nothing for a value that cannot be guessed, and every API call
looks one up).  A token acts with its account's role and dies with it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update

from auth import cache
from auth.accounts import PERSON_COLUMNS, AccountError, Person
from db.models import Account, ApiToken
from db.session import read, session_scope

PREFIX = "son_"
MAX_NAME_CHARS = 80
_TOUCH_EVERY = dt.timedelta(minutes=1)   # last_used_at is a hint; don't write it on every call
# (auth.cache answers most calls without this module, so an active token is touched about once a minute)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(account_id: int, name: object) -> tuple[dict, str]:
    """A new token for the account: (its description, the token itself, shown this once)."""
    label = " ".join(name.split()) if isinstance(name, str) else ""
    if not label or len(label) > MAX_NAME_CHARS or not label.isprintable():
        raise AccountError(f"name: 1 to {MAX_NAME_CHARS} printable characters, e.g. 'kitchen player'")
    token = PREFIX + secrets.token_urlsafe(32)
    with session_scope() as session:
        if session.get(Account, account_id) is None:
            raise AccountError(f"no account {account_id}")
        row = ApiToken(account_id=account_id, name=label, token_sha256=digest(token), hint=token[:8])
        session.add(row)
        session.flush()
        described = _describe(row)
    cache.bump()
    return described, token


def _describe(row: ApiToken) -> dict:
    return {"id": row.id, "account_id": row.account_id, "name": row.name, "hint": row.hint + "…",
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None}


def listing() -> list[dict]:
    with session_scope() as session:
        rows = session.execute(select(ApiToken, Account.username).join(Account)
                               .order_by(Account.username, ApiToken.created_at)).all()
        return [{**_describe(token), "username": username} for token, username in rows]


def revoke(token_id: int) -> None:
    with session_scope() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise AccountError(f"no token {token_id}")
        session.delete(row)
    cache.bump()


def authenticate(token: str) -> Person | None:
    """The account a presented token belongs to, or None (every API call of a script: one plain query)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    rows = read(select(ApiToken.id, ApiToken.last_used_at, *PERSON_COLUMNS).join(Account)
                .where(ApiToken.token_sha256 == digest(token)))
    if not rows:
        return None
    token_id, last_used, *person = rows[0]
    now = dt.datetime.now(dt.timezone.utc)
    if last_used is None or now - last_used > _TOUCH_EVERY:
        with session_scope() as session:
            session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return Person(*person)
