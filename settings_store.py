"""The one settings store: what every setting is, for every process.

The environment gives the defaults (config.py parses it); values saved on the
Settings page override the variables marked editable; `effective()` layers
the two and is the one answer to "what is this setting now", in the web app
and in the workers alike.  (`runtime.settings()` keeps only the start-up
values that cannot be edited, and refuses to answer for the others.)

Saved values live in table `app_setting` under their variable names and are
parsed by config.load_settings exactly like the environment, so a bad value
is refused with the same message naming the variable.  Saving is an upsert
(INSERT ... ON CONFLICT DO UPDATE), so concurrent saves never collide.

Secrets are encrypted at rest with Fernet under a key derived (HKDF-SHA256)
from SECRET_KEY, which the web and worker processes share (the data dir's key
file, or the deployment's Secret).  Rows saved in plaintext by older versions
are sealed at start-up and whenever they are read.  A secret that cannot be
decrypted (SECRET_KEY changed) counts as unset: the log names the variable
and the Settings page asks for it again.  What a browser sees of a secret is
whether it is set, never its value.
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import logging
from typing import Any, Iterable, Mapping

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

import runtime
from config import (AI_VARIABLES, EDITABLE_VARIABLES, FOLDER_VARIABLES, MEDIASERVER_TYPES, PLAYLIST_VARIABLES,
                    PROVIDER_VARIABLES,
                    SECRET_DESTINATIONS, ConfigError, Settings, load_settings, variable)
from db.models import AppSetting
from db.session import session_scope
from mediaserver.base import MediaProvider
from mediaserver.registry import provider_for

log = logging.getLogger(__name__)

# Names the purpose of the derived key, so SECRET_KEY can feed other derivations
# later without two of them ever producing the same key.
_KEY_INFO = b"sonarium app_setting encryption v1"

# (variable, ciphertext) pairs already reported as unreadable by this process:
# effective() runs on most requests, and one warning per saved value is enough.
_reported: set[tuple[str, str]] = set()


@dataclasses.dataclass(frozen=True)
class Saved:
    """What the Settings page saved.

    values : the readable saved values (secrets decrypted), by variable name
    unreadable : secrets saved under another SECRET_KEY; they count as unset
    """

    values: dict[str, str]
    unreadable: frozenset[str]


@functools.lru_cache(maxsize=2)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _cipher() -> Fernet:
    return _fernet(runtime.settings().secret_key)


def _upsert(name: str, value: str):
    secret = variable(name).secret
    stored = _cipher().encrypt(value.encode()).decode() if secret else value
    statement = insert(AppSetting).values(name=name, value=stored, encrypted=secret)
    return statement.on_conflict_do_update(
        index_elements=[AppSetting.name],
        set_={"value": statement.excluded.value, "encrypted": statement.excluded.encrypted,
              "updated_at": func.now()})


def _seal(session, name: str, plaintext: str) -> None:
    """Encrypt a secret an older version saved in plaintext.

    Any newer save is already encrypted, so `NOT encrypted` is the only guard
    needed against a concurrent save or another process sealing it first.
    """
    token = _cipher().encrypt(plaintext.encode()).decode()
    session.execute(update(AppSetting).where(AppSetting.name == name, AppSetting.encrypted.is_(False))
                    .values(value=token, encrypted=True))


def _decrypt(name: str, token: str) -> str | None:
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        if (name, token) not in _reported:
            _reported.add((name, token))
            log.warning("the saved value of %s cannot be decrypted (was SECRET_KEY changed?); "
                        "it counts as unset until it is entered again on the Settings page", name)
        return None


def load_saved() -> Saved:
    """The saved values, decrypted; plaintext secrets left by older versions are sealed on the way."""
    values: dict[str, str] = {}
    unreadable = set()
    with session_scope() as session:
        for row in session.scalars(select(AppSetting)):
            if row.name not in EDITABLE_VARIABLES:
                continue   # saved by a version where it was editable: the environment rules it now
            if row.encrypted:
                value = _decrypt(row.name, row.value)
                if value is None:
                    unreadable.add(row.name)
                    continue
            else:
                value = row.value
                if variable(row.name).secret:
                    _seal(session, row.name, value)
            values[row.name] = value
    return Saved(values=values, unreadable=frozenset(unreadable))


def seal_plaintext() -> None:
    """Encrypt every secret an older version saved in plaintext (run at start-up)."""
    load_saved()


def saved() -> dict[str, str]:
    return load_saved().values


def _overrides(stored: Saved, candidate: Mapping[str, str] | None = None,
               cleared: Iterable[str] = ()) -> dict[str, str]:
    removed = set(cleared)
    values = {name: value for name, value in stored.values.items() if name not in removed}
    values.update(candidate or {})
    return values


def effective(candidate: Mapping[str, str] | None = None, cleared: Iterable[str] = ()) -> Settings:
    """The effective settings: the environment, overridden by saved values.

    Parameters
    ----------
    candidate : unsaved edits layered on top (a connection test, per-request credentials)
    cleared : names whose saved value is ignored, so the environment's applies

    Raises
    ------
    config.ConfigError
        Naming the first bad variable, or what the chosen media server lacks.
    """
    return load_settings(overrides=_overrides(load_saved(), candidate, cleared))


def current_provider() -> MediaProvider:
    return provider_for(effective())


def parse_change(submitted: Mapping[str, Any], clear: Iterable[Any] = ()) -> tuple[dict[str, str], set[str]]:
    """Split a Settings-page submission into values to save and names to clear.

    An empty secret keeps the saved one (the page never shows it, so an empty
    field means "unchanged"); an empty non-secret and every name in `clear`
    remove the saved value, so the environment's applies again.

    Raises ValueError (never echoing a value) for names that cannot be set here,
    values that are not text, and a name both given and cleared.
    """
    clear = list(clear)
    unknown = sorted({str(name) for name in [*submitted, *clear]} - EDITABLE_VARIABLES)
    if unknown:
        raise ValueError("cannot set " + ", ".join(unknown) + " here")
    values: dict[str, str] = {}
    cleared = set(clear)
    for name, value in submitted.items():
        if value is not None and not isinstance(value, (str, int, float)):
            raise ValueError(f"{name} must be text")
        text = "" if value is None else str(value).strip()
        if text:
            values[name] = text
        elif not variable(name).secret:
            cleared.add(name)
    both = sorted(cleared & set(values))
    if both:
        raise ValueError(", ".join(both) + " cannot be both set and cleared")
    return values, cleared


def save(values: Mapping[str, str], cleared: Iterable[str] = ()) -> Settings:
    """Validate, then store `values` and forget `cleared` in one transaction.

    Raises config.ConfigError without storing anything when the result would be invalid.
    """
    cleared = set(cleared)
    settings = effective(values, cleared)
    with session_scope() as session:
        # One order for every writer, so two saves of several rows cannot deadlock.
        for name in sorted(values):
            session.execute(_upsert(name, values[name]))
        if cleared:
            session.execute(delete(AppSetting).where(AppSetting.name.in_(sorted(cleared))))
    return settings


def misdirected_secrets(candidate: Mapping[str, str], cleared: Iterable[str] = (),
                        used: Iterable[str] | None = None) -> list[str]:
    """Secrets that `candidate` would send somewhere other than where they were set.

    A secret goes only to the server and account it was saved (or given in the
    environment) for: when the candidate changes one of its `SECRET_DESTINATIONS`
    fields, the candidate must carry the secret itself.

    Parameters
    ----------
    candidate, cleared : unsaved edits, as for `effective`
    used : the secrets the caller would send (default: every secret)
    """
    stored = load_saved()
    before = load_settings(overrides=_overrides(stored), complete=False)
    after = load_settings(overrides=_overrides(stored, candidate, cleared), complete=False)
    names = SECRET_DESTINATIONS if used is None else [name for name in used if name in SECRET_DESTINATIONS]
    return [name for name in names
            if name not in candidate and after.values[name] is not None
            and any(after.values[field] != before.values[field] for field in SECRET_DESTINATIONS[name])]


def _field(name: str, settings: Settings, stored: Saved) -> dict[str, Any]:
    spec = variable(name)
    value = settings.values.get(name)
    row: dict[str, Any] = {"name": name, "help": spec.doc, "secret": spec.secret,
                           "saved": name in stored.values or name in stored.unreadable}
    if hasattr(spec.parse, "options"):
        row["choices"] = list(spec.parse.options)
    if spec.secret:
        row["set"] = value is not None
        row["unreadable"] = name in stored.unreadable
    else:
        row["value"] = None if value is None else str(value)
    return row


def describe() -> dict[str, Any]:
    """What the Settings page shows: every editable setting, secrets only as set/unset.

    Works on settings that are not complete (a media server missing a value,
    a secret that cannot be read) so the page can fix them; `problem` then
    says what is missing.
    """
    stored = load_saved()
    overrides = _overrides(stored)
    problem = None
    try:
        settings = load_settings(overrides=overrides)
    except ConfigError as error:
        problem = str(error)
        settings = load_settings(overrides=overrides, complete=False)

    def rows(names: Iterable[str]) -> list[dict[str, Any]]:
        return [_field(name, settings, stored) for name in names]

    return {"type": settings.mediaserver_type, "types": list(MEDIASERVER_TYPES),
            "fields": {kind: rows(PROVIDER_VARIABLES[kind]) for kind in MEDIASERVER_TYPES},
            "folders": rows(FOLDER_VARIABLES), "ai": rows(AI_VARIABLES), "playlists": rows(PLAYLIST_VARIABLES), "problem": problem}
