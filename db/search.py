"""Accent- and case-insensitive text matching.

`fold()` builds the same SQL expression the track indexes are built on
(`sonarium_fold`, defined by the first migration), so searches use them.
"""
from __future__ import annotations

from sqlalchemy import ColumnElement, func


def fold(expression) -> ColumnElement:
    return func.sonarium_fold(expression)


def contains(column, needle: str) -> ColumnElement:
    """column contains needle, ignoring case and accents (trigram-indexed)."""
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return fold(column).like(func.concat("%", fold(escaped), "%"))
