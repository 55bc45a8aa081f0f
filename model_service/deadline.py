"""A deadline for receiving each request, which uvicorn does not have.

uvicorn closes a connection left idle after an answer (`timeout_keep_alive`),
but a connection that is opened and never sends a request, or sends its
headers or its body a byte at a time, stays open as long as the client
likes: each one costs a file descriptor and a little memory, and enough of
them exhaust the process's descriptors while every one looks alive.

`RequestDeadline` is uvicorn's own httptools protocol with one timer: from
the moment a connection opens, or a new request on it begins, the whole
request (line, headers and body) must arrive within `seconds`
(`MODEL_SERVICE_REQUEST_TIMEOUT`). Otherwise the client gets a 408
problem+json, when no answer has started, and the connection is closed.
Once the request is in, the timer stops: a slow prediction is not cut off,
and the keep-alive timeout takes over after the answer. The event loop is
never blocked by a slow client, so other requests are answered meanwhile.

httptools also reads headers of any size; the same class answers 431 and
closes the connection past `max_header_bytes` of request line and headers
(`MODEL_SERVICE_MAX_HEADER_BYTES`, 64 KiB).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.problems import PROBLEM_MEDIA_TYPE

log = logging.getLogger("model_service.access")


def request_deadline(seconds: float, max_header_bytes: int = 65_536) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, set to this deadline and
    header limit. One server per process, so the class itself holds them:
    worker processes (model_service.workers) name the class by its import
    path and set it up the same way when they start."""
    RequestDeadline.seconds = seconds
    RequestDeadline.max_header_bytes = max_header_bytes
    return RequestDeadline


class RequestDeadline(HttpToolsProtocol):
    seconds: float = 30.0
    #: httptools itself takes headers of any size; past this, 431.
    max_header_bytes: int = 65_536

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes: int | None = 0  # None while a request's body is read
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Count the bytes of a request's line and headers as they arrive,
        before the parser sees them; a chunk may hold the end of the headers
        (the blank line) and some of the body, which is not counted."""
        if self._head_bytes is not None:
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + 4
            if self._head_bytes > self.max_header_bytes:
                self._refuse(
                    431,
                    "Request Header Fields Too Large",
                    f"The request line and headers are more than {self.max_header_bytes:,} bytes "
                    "(MODEL_SERVICE_MAX_HEADER_BYTES); this connection is closed.",
                )
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self._head_bytes = 0  # the next request's headers

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        self._refuse(
            408,
            "Request Timeout",
            f"The whole request must arrive within {self.seconds:g} s "
            "(MODEL_SERVICE_REQUEST_TIMEOUT); this connection is closed.",
        )

    def _refuse(self, status: int, title: str, detail: str) -> None:
        """Answer `status` (unless an answer has started) and close."""
        self._disarm()
        cycle: Any = self.cycle
        log.info("refused", extra={"status": status, "reason": title})
        if cycle is None or not cycle.response_started:
            self.transport.write(_problem_response(status, title, detail))
        self.transport.close()


def _problem_response(status: int, title: str, detail: str) -> bytes:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    head = (
        f"HTTP/1.1 {status} {title}\r\n"
        f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
