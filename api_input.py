"""What every /api request must look like before a view sees it.

PostgreSQL refuses NUL characters in text, a lone UTF-16 surrogate cannot be
encoded for it, Python's JSON parser recurses once per nesting level, and it
accepts NaN, Infinity and integers of any size; each of these used to reach a
view and end as a 500.  Here they are refused once, for every route, with a
400 that says what is wrong: in the path, in the query string, and anywhere
in a JSON body (which is parsed here, so the views reuse the checked value).
"""
from __future__ import annotations

import math

from flask import Flask, request

from api_errors import api_error, wants_json

MAX_JSON_DEPTH = 32
INTEGER_RANGE = (-(2 ** 63), 2 ** 63 - 1)   # what PostgreSQL's bigint and every counter here can hold


class BadInput(ValueError):
    """The request holds something no route accepts; the message says what and where."""


def check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise BadInput(f"{where}: NUL characters are not allowed")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise BadInput(f"{where}: not valid Unicode (a lone surrogate)")


def check_json(value, where: str = "body") -> None:
    """Walk a parsed JSON value without recursion; raises BadInput at the first bad part."""
    pending = [(value, where, 1)]
    while pending:
        item, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(f"{path}: nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, str):
            check_text(item, path)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INTEGER_RANGE[0] <= item <= INTEGER_RANGE[1]:
                raise BadInput(f"{path}: the number is too large")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise BadInput(f"{path}: numbers must be finite (no NaN or Infinity)")
        elif isinstance(item, list):
            pending.extend((element, f"{path}[{index}]", depth + 1) for index, element in enumerate(item))
        elif isinstance(item, dict):
            for key, element in item.items():
                check_text(key, f"{path}: a key")
                pending.append((element, f"{path}.{key}"[:200], depth + 1))


def _check_request() -> None:
    check_text(request.path, "path")
    for key, value in request.args.items(multi=True):
        check_text(key, "query string")
        check_text(value, f"query parameter {key[:40]}")
    if request.is_json and request.content_length != 0:
        try:
            body = request.get_json()
        except RecursionError:
            raise BadInput(f"body: nested more than {MAX_JSON_DEPTH} levels deep") from None
        except Exception:   # Flask answers malformed JSON with an HTTPException; say it plainly
            raise BadInput("body: not valid JSON (expected a JSON object)") from None
        check_json(body)


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_bad_input():
        if not wants_json():
            return None
        try:
            _check_request()
        except BadInput as error:
            return api_error(400, str(error))
        return None
