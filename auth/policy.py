"""Who may call a view: every view needs a signed-in listener unless marked.

Mark a view function with `@admin_only` (settings, tasks, accounts, tokens) or
`@public` (the login and first-start pages, static files, the bare health
probe); the guard reads the mark before the view runs.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from db.models import ROLES

ADMIN, LISTENER = ROLES
View = TypeVar("View", bound=Callable)


def admin_only(view: View) -> View:
    view.required_role = ADMIN
    return view


def public(view: View) -> View:
    view.required_role = None
    return view


def required_role(view: Callable | None) -> str | None:
    """The role a view needs: ADMIN, LISTENER (the default), or None for public views."""
    return getattr(view, "required_role", LISTENER)


def allows(role: str, needed: str | None) -> bool:
    return needed is None or needed == LISTENER or role == ADMIN
