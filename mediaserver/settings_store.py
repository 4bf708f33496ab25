"""Media-server settings saved from the UI, layered over the environment.

Saved values are stored in `app_setting` under their environment-variable
names and parsed by config.load_settings exactly like the environment, so a
bad value is refused with the same message naming the variable.  Secrets are
stored server-side only; what is shown to a browser says whether each secret
is set, never its value.  (They are kept in the database as entered: anyone
who can read the database can read them, as with the environment.)
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import select

from config import MEDIASERVER_TYPES, PROVIDER_VARIABLES, Settings, load_settings, variable
from db.models import AppSetting
from db.session import session_scope
from mediaserver.base import MediaProvider
from mediaserver.registry import provider_for

EDITABLE = frozenset({"MEDIASERVER_TYPE"}.union(*PROVIDER_VARIABLES.values()))


def saved() -> dict[str, str]:
    with session_scope() as session:
        return {row.name: row.value for row in session.scalars(select(AppSetting))}


def effective(candidate: Mapping[str, str] | None = None) -> Settings:
    """The environment, overridden by saved values, overridden by `candidate` (unsaved edits).

    Raises config.ConfigError naming the first bad variable.
    """
    values = saved()
    values.update(candidate or {})
    return load_settings(overrides=values)


def current_provider() -> MediaProvider:
    return provider_for(effective())


def clean(submitted: Mapping[str, Any]) -> dict[str, str]:
    """Keep editable names only; an empty secret means "keep the saved one".

    Raises ValueError for names that cannot be set here.
    """
    unknown = sorted(set(submitted) - EDITABLE)
    if unknown:
        raise ValueError("cannot set " + ", ".join(unknown) + " here")
    values = {}
    for name, value in submitted.items():
        text = "" if value is None else str(value).strip()
        if variable(name).secret and not text:
            continue
        values[name] = text
    return values


def save(values: Mapping[str, str]) -> Settings:
    """Validate and store; raises config.ConfigError without storing anything."""
    settings = effective(values)
    with session_scope() as session:
        for name, value in values.items():
            row = session.get(AppSetting, name)
            if row is None:
                session.add(AppSetting(name=name, value=value))
            else:
                row.value = value
    return settings


def describe(settings: Settings) -> dict[str, Any]:
    """What the settings page shows: every provider's fields, secrets only as set/unset."""
    fields = {}
    for provider_type in MEDIASERVER_TYPES:
        rows = []
        for name in PROVIDER_VARIABLES[provider_type]:
            spec = variable(name)
            value = settings.values.get(name)
            row = {"name": name, "help": spec.doc, "secret": spec.secret}
            if hasattr(spec.parse, "options"):
                row["choices"] = list(spec.parse.options)
            if spec.secret:
                row["set"] = value is not None
            else:
                row["value"] = None if value is None else str(value)
            rows.append(row)
        fields[provider_type] = rows
    return {"type": settings.mediaserver_type, "types": list(MEDIASERVER_TYPES), "fields": fields}
