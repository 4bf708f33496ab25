"""Accounts: names, roles and argon2 password hashes.

Names are case-insensitive (stored lower-case).  Changing a password bumps the
account's `session_epoch`, which ends every session signed under the old one
(the guard compares the epoch in the cookie with the account's).  The last
admin can be neither deleted nor demoted, so nobody locks the house from inside.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from auth import cache
from db.models import ROLES, Account, ApiToken
from db.session import read, session_scope

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024        # argon2 hashes anything, but a megabyte password is an attack
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_hasher = PasswordHasher()       # argon2id with the library's current recommended costs
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("no such account")


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message says why."""


@dataclasses.dataclass(frozen=True)
class Person:
    """Who is signed in (or whose token is used): all a request needs to know."""

    id: int
    username: str
    role: str
    session_epoch: int

    def as_json(self) -> dict:
        return {"id": self.id, "username": self.username, "role": self.role}


def _person(row: Account) -> Person:
    return Person(id=row.id, username=row.username, role=row.role, session_epoch=row.session_epoch)


def clean_username(raw: object) -> str:
    name = raw.strip().lower() if isinstance(raw, str) else ""
    if not _USERNAME.fullmatch(name):
        raise AccountError("username: 1 to 64 letters, digits or . _ @ -, starting with a letter or digit")
    return name


def check_password(raw: object) -> str:
    if not isinstance(raw, str) or not MIN_PASSWORD_CHARS <= len(raw) <= MAX_PASSWORD_CHARS:
        raise AccountError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    if "\x00" in raw:
        raise AccountError("password: no NUL characters")
    return raw


def check_role(raw: object) -> str:
    if raw not in ROLES:
        raise AccountError("role: one of " + ", ".join(ROLES))
    return raw


def any_exist() -> bool:
    with session_scope() as session:
        return session.scalar(select(Account.id).limit(1)) is not None


def create(username: object, password: object, role: object) -> Person:
    """Add an account; AccountError for a bad or taken name, a short password or an unknown role."""
    name, secret, role = clean_username(username), check_password(password), check_role(role)
    try:
        with session_scope() as session:
            row = Account(username=name, password_hash=_hasher.hash(secret), role=role)
            session.add(row)
            session.flush()
            person = _person(row)
    except IntegrityError:
        raise AccountError(f"username: {name!r} is taken") from None
    cache.bump()
    return person


def authenticate(username: object, password: object) -> Person | None:
    """The account if the password is right, else None (same cost either way)."""
    name = username.strip().lower() if isinstance(username, str) else ""
    secret = password if isinstance(password, str) and len(password) <= MAX_PASSWORD_CHARS else ""
    with session_scope() as session:
        row = session.scalar(select(Account).where(Account.username == name)) if name else None
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, secret)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(secret)
        return _person(row)


PERSON_COLUMNS = (Account.id, Account.username, Account.role, Account.session_epoch)


def get(account_id: int) -> Person | None:
    """The account, read on every signed-in request: one plain query, no ORM session."""
    rows = read(select(*PERSON_COLUMNS).where(Account.id == account_id))
    return Person(*rows[0]) if rows else None


def listing() -> list[dict]:
    """Every account with its token count, for the accounts page."""
    with session_scope() as session:
        tokens = dict(session.execute(select(ApiToken.account_id, func.count()).group_by(ApiToken.account_id)).all())
        return [{**_person(row).as_json(), "created_at": row.created_at.isoformat(),
                 "password_changed_at": row.password_changed_at.isoformat(), "tokens": tokens.get(row.id, 0)}
                for row in session.scalars(select(Account).order_by(Account.username))]


def set_password(account_id: int, password: object) -> Person:
    """New password; every session signed under the old one ends."""
    secret = check_password(password)
    with session_scope() as session:
        row = session.get(Account, account_id, with_for_update=True)
        if row is None:
            raise AccountError(f"no account {account_id}")
        row.password_hash = _hasher.hash(secret)
        row.session_epoch += 1
        row.password_changed_at = dt.datetime.now(dt.timezone.utc)
        session.flush()
        person = _person(row)
    cache.bump()
    return person


def _other_admins(session, account_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Account).where(
        Account.role == "admin", Account.id != account_id))


def set_role(account_id: int, role: object) -> Person:
    role = check_role(role)
    with session_scope() as session:
        # Lock the admins so two demotions at once cannot both pass the last-admin check.
        session.execute(select(Account.id).where(Account.role == "admin").with_for_update())
        row = session.get(Account, account_id)
        if row is None:
            raise AccountError(f"no account {account_id}")
        if row.role == "admin" and role != "admin" and not _other_admins(session, account_id):
            raise AccountError("the last admin cannot become a listener; make another admin first")
        if row.role != role:
            row.role = role
            row.session_epoch += 1   # sessions carry no role, but a demoted person signs in again
        session.flush()
        person = _person(row)
    cache.bump()
    return person


def delete(account_id: int) -> None:
    with session_scope() as session:
        session.execute(select(Account.id).where(Account.role == "admin").with_for_update())
        row = session.get(Account, account_id)
        if row is None:
            raise AccountError(f"no account {account_id}")
        if row.role == "admin" and not _other_admins(session, account_id):
            raise AccountError("the last admin cannot be deleted")
        session.delete(row)
    cache.bump()


def end_sessions(account_id: int) -> None:
    with session_scope() as session:
        session.execute(update(Account).where(Account.id == account_id)
                        .values(session_epoch=Account.session_epoch + 1))
    cache.bump()
