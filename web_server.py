"""gunicorn's worker for Sonarium: requests are read on an event loop, Flask runs in threads.

With gunicorn's threaded worker, the thread that parses a request also reads its
body, so a client that announces a body and sends it slowly holds a thread for
as long as it likes: four of them froze the server.  Here gunicorn's own
asyncio worker (worker_class "asgi") reads the request line, headers and the
whole body without a thread; only then does a2wsgi hand the request to Flask
on one of WEB_THREADS threads.  A body not complete within
WEB_BODY_TIMEOUT_SECONDS is answered 408 and its connection dropped.

gunicorn answers a request it cannot parse (request line or headers too long,
malformed) itself, before any app sees it; those answers are JSON here, like
the app's own errors (`{"error", "status"}`).
"""
from __future__ import annotations

import asyncio
import json

from a2wsgi import WSGIMiddleware
from gunicorn.workers import gasgi

from config import load_settings


def _json_error(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}).encode()


class WholeBodies:
    """ASGI middleware: receives the whole body, within a deadline and a size cap, before calling `app`."""

    def __init__(self, app, timeout: float, max_bytes: int):
        self.app = app
        self.timeout = timeout
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunks.append(message.get("body", b""))
                    size += len(chunks[-1])
                    if size > self.max_bytes:
                        await self._refuse(send, 413, "the request body is too large")
                        return
                    if not message.get("more_body"):
                        break
        except TimeoutError:
            await self._refuse(send, 408, f"the request body did not arrive within {self.timeout:g} s")
            return
        body = b"".join(chunks)
        replayed = False

        async def replay():
            # The app gets the body in one message; later calls wait for the disconnect as usual.
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        body = _json_error(status, message)
        # gunicorn closes the connection after it: the unread rest of the body cannot be told from a next request.
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _JsonErrorProtocol(gasgi.ASGIProtocol):
    """gunicorn's connection handler, its own error answers (414, 431, 400, ...) in JSON."""

    def _send_error_response(self, status, message, extra_headers=()):
        body = _json_error(status, message)
        reason = self._get_reason_phrase(status)
        extra = "".join(f"{name}: {value}\r\n" for name, value in extra_headers)
        self._safe_write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n".encode("latin-1"))
        self._safe_write(body)


class Worker(gasgi.ASGIWorker):
    """gunicorn's ASGI worker serving the WSGI app gunicorn loaded (app:create_app()) through WholeBodies."""

    def init_process(self):
        # The worker builds its connection handler from this module-level name; gunicorn has no setting for it.
        gasgi.ASGIProtocol = _JsonErrorProtocol
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        flask_app = self.asgi
        settings = load_settings()
        self.asgi = WholeBodies(WSGIMiddleware(flask_app, workers=settings.web_threads),
                                settings.web_body_timeout_seconds, flask_app.config["MAX_CONTENT_LENGTH"])
