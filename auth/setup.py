"""First start: the setup code that creates the first admin account.

While no account exists, each start of the web server makes a new one-time
code and prints it on the console (the onboarding known from Jupyter and Home
Assistant): whoever can read the console may create the admin, nobody else on
the network can.  Only the code's SHA-256 is stored; it is spent when the
admin is created.  Containers may instead give an initial admin password
(ADMIN_PASSWORD, from a Compose or K3S secret): the admin is then created at
start-up and no code is printed.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert

from auth import accounts
from auth.accounts import AccountError, Person
from db.models import SetupCode
from db.session import session_scope

log = logging.getLogger(__name__)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"   # no 0/O or 1/I to misread
_GROUPS, _GROUP_CHARS = 4, 4                        # 80 bits, typed as XXXX-XXXX-XXXX-XXXX
_LOCK_KEY = 0x53_45_54_55                           # "the first-admin lock"


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch in _ALPHABET)


def _digest(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def new_code() -> str:
    """A fresh setup code replacing any earlier one; the plain code is returned once."""
    code = "-".join("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_CHARS)) for _ in range(_GROUPS))
    with session_scope() as session:
        session.execute(insert(SetupCode).values(id=1, code_sha256=_digest(code)).on_conflict_do_update(
            index_elements=[SetupCode.id], set_={"code_sha256": _digest(code), "created_at": text("now()")}))
    return code


def pending() -> bool:
    """True while no account exists (the pages send everyone to the setup form)."""
    return not accounts.any_exist()


def create_first_admin(code: object, username: object, password: object) -> Person:
    """Spend the setup code on the first admin account.

    Raises AccountError when an account already exists, the code is wrong, or
    the name or password is not acceptable.
    """
    with session_scope() as session:
        # One setup at a time: two forms sent at once must not make two admins.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if accounts.any_exist():
            raise AccountError("Sonarium is already set up: sign in instead")
        stored = session.scalar(select(SetupCode.code_sha256))
        offered = _digest(code) if isinstance(code, str) else ""
        if stored is None or not hmac.compare_digest(stored, offered):
            raise AccountError("setup code: not the code printed at start-up (restart to get a new one)")
        person = accounts.create(username, password, "admin")
        session.execute(delete(SetupCode))
        return person


def on_start(admin_username: str, admin_password: str | None, out=sys.stdout) -> None:
    """What the web server does at start: create the initial admin from the
    deployment's secret, or print a setup code while no account exists."""
    with session_scope() as session:
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        if accounts.any_exist():
            session.execute(delete(SetupCode))
            return
        if admin_password:
            try:
                accounts.create(admin_username, admin_password, "admin")
            except AccountError as error:
                log.error("cannot create the initial admin from ADMIN_USERNAME/ADMIN_PASSWORD: %s", error)
            else:
                log.info("created the initial admin account %r from ADMIN_PASSWORD", admin_username)
                return
    code = new_code()
    banner = ("=" * 64,
              "  Sonarium has no account yet. Open the web page and create the",
              "  admin account with this one-time setup code:",
              "",
              f"      {code}",
              "",
              "  (a new code is printed at every start until the admin exists)",
              "=" * 64)
    print("\n".join(banner), file=out, flush=True)
