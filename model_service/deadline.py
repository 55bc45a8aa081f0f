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
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.problems import PROBLEM_MEDIA_TYPE

log = logging.getLogger("model_service.access")


def request_deadline(seconds: float) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`, with this deadline."""
    return type("RequestDeadline", (RequestDeadline,), {"seconds": seconds})


class RequestDeadline(HttpToolsProtocol):
    seconds: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

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
        cycle: Any = self.cycle
        started = cycle is not None and cycle.response_started
        log.info(
            "request timeout",
            extra={"status": 408, "seconds": self.seconds, "started": cycle is not None},
        )
        if not started:
            self.transport.write(_timeout_response(self.seconds))
        self.transport.close()


def _timeout_response(seconds: float) -> bytes:
    body = orjson.dumps(
        {
            "type": "about:blank",
            "title": "Request Timeout",
            "status": 408,
            "detail": f"The whole request must arrive within {seconds:g} s "
            "(MODEL_SERVICE_REQUEST_TIMEOUT); this connection is closed.",
        }
    )
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
