"""uvicorn's httptools protocol with a deadline on each request's head.

uvicorn closes a connection idle for `timeout_keep_alive` seconds, but only
after it has answered a request on it, and any byte received disarms that
timer. So a connection opened and left silent, or a request head sent a
byte at a time, was held for ever: no worker is tied up (asyncio), but each
one keeps a file descriptor and a little memory, and enough of them
exhaust the process's descriptors. Nor does httptools bound a head's
size: a 10 MB header line was read whole and answered 200.

Here the same number of seconds bounds the wait for a complete head: from
the moment the connection is made, and again from the end of each answer
(keep-alive), the client has `timeout_keep_alive` seconds to send the
whole head of its next request, or the connection is closed; and a head
of more than `max_head_bytes` (`MODEL_SERVICE_MAX_HEAD_BYTES`, which also
bounds how many headers fit) is answered 431 problem+json naming the limit,
and the connection closed. Once the head is in, the body has its own
deadline (`model_service.deadline`).
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeadDeadlineProtocol(HttpToolsProtocol):
    #: Set per server by `with_limit`; 64 KiB unless told otherwise.
    max_head_bytes: int = 65_536
    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_refused = False

    @classmethod
    def with_limit(cls, max_head_bytes: int) -> type[HeadDeadlineProtocol]:
        """This protocol with another head size limit (uvicorn builds one
        protocol object per connection from the class it is given)."""
        return type(cls.__name__, (cls,), {"max_head_bytes": max_head_bytes})

    def data_received(self, data: bytes) -> None:
        if self._head_refused:
            return
        waiting_for_head = self._head_timer is not None
        super().data_received(data)
        if waiting_for_head and self._head_timer is not None:  # the head is still not complete
            self._head_bytes += len(data)
            self._head_refused = self._head_bytes > self.max_head_bytes
        if self._head_refused and not self.transport.is_closing():
            self._refuse_head()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        # A head that arrived whole in one read: measured from what was parsed.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_head_bytes:
            self._head_refused = True  # no request is made of it; data_received answers
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._head_refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._head_refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Not while a pipelined request, whose head is already in, is running.
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.timeout_keep_alive, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        """A 431 problem+json (RFC 6585), written here because the request
        never reaches the application, then the connection closed."""
        self._disarm_head_timer()
        body = orjson.dumps(
            {
                "type": "about:blank",
                "title": "Request Header Fields Too Large",
                "status": 431,
                "detail": f"The request's head is more than the limit of {self.max_head_bytes:,} "
                "bytes (MODEL_SERVICE_MAX_HEAD_BYTES); send fewer or shorter headers.",
            }
        )
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/problem+json\r\n"
            b"connection: close\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()
