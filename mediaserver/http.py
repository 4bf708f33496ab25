"""HTTP for providers: timeouts everywhere, errors turned into user messages, safe downloads.

Messages name the server by its base URL only: query strings can carry
credentials (Subsonic's p=/t=), so no request URL ever reaches a message or a log.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import requests

from mediaserver.base import (AudioStream, AuthFailed, DownloadTooLarge, NotFound, ProviderError,
                              RangeNotSatisfiable, Unreachable, byte_span, DEFAULT_DOWNLOAD_SECONDS,
                              DEFAULT_MAX_DOWNLOAD_BYTES)

CONNECT_TIMEOUT = 5.0   # s
READ_TIMEOUT = 30.0     # s between bytes
_CHUNK = 256 * 1024
_RANGE_SIZE = re.compile(r"/\s*(\d+)\s*$")     # the complete length at the end of a Content-Range


def _number(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _range_size(content_range: str | None) -> int | None:
    match = _RANGE_SIZE.search(content_range or "")
    return int(match.group(1)) if match else None


class HttpClient:
    """A requests session bound to one server.

    Parameters
    ----------
    base_url : the server's base URL (no trailing slash).
    label : the server's name in messages ("Navidrome", "Jellyfin", ...).
    headers : sent with every request (e.g. an API key header).
    auth_hint : what a 401/403 means for this server, appended to the message.
    """

    def __init__(self, base_url: str, label: str, headers: dict[str, str] | None = None,
                 auth_hint: str = "wrong credentials", read_timeout: float = READ_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.auth_hint = auth_hint
        self.read_timeout = read_timeout
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.session.headers.setdefault("User-Agent", "Sonarium")

    # -- errors ----------------------------------------------------------------
    def _unreachable(self, error: Exception) -> Unreachable:
        if isinstance(error, requests.Timeout):
            return Unreachable(f"{self.label} at {self.base_url} did not answer within "
                               f"{self.read_timeout:g} s")
        text = str(error).lower()
        reason = ("connection refused" if "refused" in text else
                  "host name not found" if "name or service" in text or "nodename" in text
                  or "resolve" in text else "connection failed")
        return Unreachable(f"cannot reach {self.base_url}: {reason}")

    def check_status(self, response: requests.Response) -> None:
        code = response.status_code
        if code in (401, 403):
            raise AuthFailed(f"{self.label} answered {code}: {self.auth_hint}")
        if code == 404:
            raise NotFound(f"{self.label} answered 404: not found")
        if code == 416:
            raise RangeNotSatisfiable(f"{self.label} answered 416: the range lies outside the file",
                                      _range_size(response.headers.get("Content-Range")))
        if code >= 500:
            raise ProviderError(f"{self.label} answered {code}: server error")
        if code >= 400:
            raise ProviderError(f"{self.label} answered {code}: request refused")

    # -- requests --------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, self.read_timeout))
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise self._unreachable(error) from None
        except requests.RequestException as error:
            raise ProviderError(f"{self.label}: request failed ({type(error).__name__})") from None
        try:
            self.check_status(response)
        except ProviderError:
            response.close()    # a streamed answer would keep its connection otherwise
            raise
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ProviderError(f"{self.label} sent a malformed answer (not JSON)") from None

    def download(self, path: str, dest_dir: Path, suffix: str = "", params: Any = None,
                 max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES, timeout: float = DEFAULT_DOWNLOAD_SECONDS,
                 data: Any = None) -> Path:
        """Stream a file into a new temp file in `dest_dir`; deleted again on any failure.

        With `data` the request is a form POST (credentials stay out of the URL).

        Raises DownloadTooLarge past `max_bytes` (by header or by count),
        ProviderError when fewer bytes arrive than announced, Unreachable
        when the whole download takes longer than `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        fd, name = tempfile.mkstemp(prefix="sonarium-", suffix=suffix, dir=dest_dir)
        target = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                response = self.request("POST" if data is not None else "GET", path, params=params,
                                        data=data, stream=True)
                with response:
                    announced = int(response.headers.get("Content-Length") or 0)
                    if announced > max_bytes:
                        raise DownloadTooLarge(f"the file is {announced / 2**20:.0f} MiB, over the "
                                               f"{max_bytes / 2**20:.0f} MiB limit")
                    received = 0
                    try:
                        for chunk in response.iter_content(_CHUNK):
                            received += len(chunk)
                            if received > max_bytes:
                                raise DownloadTooLarge(f"the file is over the {max_bytes / 2**20:.0f} MiB limit")
                            if time.monotonic() > deadline:
                                raise Unreachable(f"downloading from {self.label} took longer than {timeout:.0f} s")
                            out.write(chunk)
                    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                        raise ProviderError(f"the download from {self.label} broke off after "
                                            f"{received} bytes") from None
                    if announced and received < announced:
                        raise ProviderError(f"the download from {self.label} was truncated "
                                            f"({received} of {announced} bytes)")
                    if received == 0:
                        raise ProviderError(f"{self.label} sent an empty file")
            return target
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def open_stream(self, method: str, path: str, byte_range: str | None = None,
                    inspect: Callable[[requests.Response], None] | None = None, **kwargs: Any) -> AudioStream:
        """Open a file on the server to relay it, the caller's Range header passed on.

        A server that answers a ranged request with the whole file (it ignores
        Range, or ignores it for POST as werkzeug's file answers do) gets the
        range applied here, by skipping bytes, so the browser can seek either way
        (at the cost of reading the file up to the range from the server).
        `inspect` sees the answer first and may raise (a server that sends an
        error with HTTP 200).  The read timeout applies between bytes, as for
        every request.
        """
        # identity: the bytes relayed must be the ones Content-Length and Content-Range count
        headers = {"Accept-Encoding": "identity", **({"Range": byte_range} if byte_range else {})}
        response = self.request(method, path, headers=headers, stream=True, **kwargs)
        try:
            if inspect is not None:
                inspect(response)
            length = _number(response.headers.get("Content-Length"))
            content_type = response.headers.get("Content-Type") or "application/octet-stream"
            if response.status_code == 206:
                content_range = response.headers.get("Content-Range")
                return AudioStream(206, content_type, self._relay(response), response.close, length,
                                   _range_size(content_range), content_range)
            if response.status_code != 200:
                raise ProviderError(f"{self.label} answered {response.status_code} without the audio")
            span = byte_span(byte_range, length) if length is not None else None
            if span is None:
                return AudioStream(200, content_type, self._relay(response), response.close, length, length)
            start, stop = span
            return AudioStream(206, content_type, self._relay(response, start, stop - start), response.close,
                               stop - start, length, f"bytes {start}-{stop - 1}/{length}")
        except BaseException:
            response.close()
            raise

    def _relay(self, response: requests.Response, skip: int = 0, limit: int | None = None) -> Iterator[bytes]:
        """The answer's bytes in pieces, the first `skip` left out and at most `limit` given."""
        try:
            for chunk in response.iter_content(_CHUNK):
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                if limit is not None:
                    chunk = chunk[:limit]
                    limit -= len(chunk)
                yield chunk
                if limit == 0:
                    return
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
            raise ProviderError(f"the stream from {self.label} broke off") from None
        finally:
            response.close()
