"""Listening before pushing: a track's audio relayed from the media server to the page's player.

Routes and their errors:
- GET /api/stream/<item_id>   the track's audio, relayed in pieces as it arrives (never held whole):
                              200, or 206 for a Range header (at most MAX_ANSWER_BYTES of it, see
                              there), with Content-Type, Content-Length, Accept-Ranges and
                              Content-Range as the file allows; 404 for an id that is
                              not an analysed track of the configured media server (or that the server
                              no longer has), 416 for a range past the end (Content-Range: bytes */size),
                              409 when the server offers no preview or is not configured, 502 when it
                              fails or does not answer in time.

The media server's credentials stay in this process: the page's player only
ever asks this route, so no token or password reaches the browser or a URL it sees.
Listeners may use it: it reads their own library.
"""
from __future__ import annotations

import logging
from typing import Iterator

from flask import Blueprint, Response, request
from sqlalchemy import select
from werkzeug.http import parse_range_header

import settings_store
from api_contract import answers, spec
from api_errors import api_error
from db.models import Track
from db.session import session_scope
from mediaserver.base import AudioStream, ProviderError, RangeNotSatisfiable

bp = Blueprint("listen", __name__)
log = logging.getLogger(__name__)

MAX_ITEM_ID_CHARS = 500     # as api_contract.ItemId
UNKNOWN_TYPE = "application/octet-stream"
# The most one ranged answer carries.  The web server (web_server.py: a2wsgi) queues up to ten pieces
# of an answer while the client reads; an answer of at most this many bytes fits that queue whole, so
# its web thread is free again at once even when a paused player stops reading (which, answers
# unbounded, froze the server with a handful of paused players).  HTTP lets a server answer a range
# with a shorter one: players ask for the next piece as they need it.
MAX_ANSWER_BYTES = 1024 * 1024


def _bounded(byte_range: str | None) -> str | None:
    """The asked range, cut to MAX_ANSWER_BYTES when it asks more from a known start."""
    parsed = parse_range_header(byte_range) if byte_range else None
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return byte_range
    start, stop = parsed.ranges[0]
    if start >= 0 and (stop is None or stop - start > MAX_ANSWER_BYTES):
        return f"bytes={start}-{start + MAX_ANSWER_BYTES - 1}"
    return byte_range


def _media_type(content_type: str) -> str:
    """The server's Content-Type when it names audio (or a media container); anything else, such as
    HTML from a proxy's login page, would be served as a page of Sonarium's origin, so it is not kept."""
    kind = content_type.split(";")[0].strip().lower()
    return content_type if kind.startswith(("audio/", "video/")) or kind == "application/ogg" else UNKNOWN_TYPE


def _relay(audio: AudioStream, label: str) -> Iterator[bytes]:
    try:
        yield from audio.chunks
    except ProviderError as error:   # the answer has begun: all that is left is to end it short
        log.warning("%s: a preview stopped early: %s", label, error)   # provider messages carry no secret


@bp.get("/api/stream/<path:item_id>")
@spec.validate(resp=answers(None, 404, 409, 416, 502, also=(206,)))
def stream(item_id: str):
    provider = settings_store.current_provider()
    known = None
    if len(item_id) <= MAX_ITEM_ID_CHARS:
        with session_scope() as session:
            known = session.execute(select(Track.id).where(Track.provider == provider.type,
                                                           Track.item_id == item_id)).first()
    if known is None:
        return api_error(404, f"no analysed track with this id in the {provider.label} library")
    try:
        audio = provider.stream(item_id, _bounded(request.headers.get("Range")))
    except RangeNotSatisfiable as error:
        response, status = api_error(416, str(error))
        if error.size is not None:
            response.headers["Content-Range"] = f"bytes */{error.size}"
        return response, status
    headers = {"Accept-Ranges": "bytes" if audio.size is not None else "none"}
    if audio.length is not None:
        headers["Content-Length"] = str(audio.length)
    if audio.content_range:
        headers["Content-Range"] = audio.content_range
    response = Response(_relay(audio, provider.label), status=audio.status, headers=headers,
                        content_type=_media_type(audio.content_type), direct_passthrough=True)
    response.call_on_close(audio.close)     # also when the relay never started (HEAD, a client gone)
    return response
