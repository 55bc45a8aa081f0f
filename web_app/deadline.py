"""A deadline for reading a request's body, which gunicorn does not have.

gunicorn's threaded worker (gthread, as the image runs it) keeps a new
connection that sends nothing off its threads after a few seconds and
closes it after `--keep-alive`. But once a request's headers are in, the
thread reads the body with a blocking socket and no timeout: a client that
trickles its body a byte at a time holds one of the worker's threads for
as long as it likes, and a handful of them take every thread.

`BodyDeadline` (WSGI middleware) gives the whole body `seconds` from the
start of the request (`WEB_APP_BODY_TIMEOUT`). When it runs out, the
reading side of the socket gunicorn hands the app (`gunicorn.socket`) is
shut: the read under way returns, the request is answered 408 (werkzeug's
`RequestTimeout`, shown as the app's error page), and gunicorn, finding
nothing more to read, closes the connection. Without gunicorn (the
development server, tests) it does nothing.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.exceptions import RequestTimeout

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyDeadline:
    def __init__(self, app: WSGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        stream = environ.get("wsgi.input")
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        has_body = chunked or (length.isdigit() and int(length) > 0)
        if not (isinstance(sock, socket.socket) and stream is not None and has_body):
            return self.app(environ, start_response)
        guarded = _DeadlineInput(stream, sock, self.seconds, int(length) if length else None)
        environ["wsgi.input"] = guarded
        try:
            return self.app(environ, start_response)
        finally:
            guarded.done()


class _DeadlineInput:
    """`wsgi.input` that stops reading at the deadline. Each socket read
    gunicorn makes has no timeout and one read of the app may be many of
    them, so a timer shuts the socket's reading side when time is up: the
    read under way returns at once, and the request is answered 408."""

    def __init__(
        self, stream: Any, sock: socket.socket, seconds: float, length: int | None
    ) -> None:
        self._stream = stream
        self._sock = sock
        self._seconds = seconds
        self._length = length
        self._read = 0
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def read(self, size: int = -1) -> bytes:
        return self._within(lambda: self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        return self._within(lambda: self._stream.readline(size))

    def readlines(self, hint: int = -1) -> list[bytes]:
        return list(self)

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def done(self) -> None:
        """The body is read (or will not be): the timer is not needed."""
        self._timer.cancel()

    def _expire(self) -> None:
        self._expired = True
        with contextlib.suppress(OSError):  # already closed
            self._sock.shutdown(socket.SHUT_RD)

    def _within(self, read: Callable[[], bytes]) -> bytes:
        if self._expired:
            self._timed_out()
        try:
            data = read()
        except (OSError, ValueError):
            if self._expired:
                self._timed_out()
            raise
        if self._expired:
            self._timed_out()
        self._read += len(data)
        if not data or (self._length is not None and self._read >= self._length):
            self.done()
        return data

    def _timed_out(self) -> None:
        raise RequestTimeout(
            f"The request's body did not arrive within {self._seconds:g} s; "
            "send it again in one go."
        )
