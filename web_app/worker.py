"""gunicorn's threaded worker with a deadline on reading each request.

gunicorn's `gthread` worker hands each connection to a thread, which then
reads the request head (and the application the body) with blocking reads
and no overall limit. A client that trickles its head or body a byte at a
time holds that thread for as long as it likes; with as many such clients
as threads, nobody else is answered (measured: 20 trickling connections
against 2 workers x 4 threads, and a normal request timed out after 10 s).

This worker gives each request `WEB_APP_REQUEST_READ_SECONDS` (30 by
default) from the moment a thread takes its connection. When it passes
and the thread is still on that request, the connection's reading side is
shut down: the next read sees the end of the stream, gunicorn closes the
connection (a head cut short is closed without an answer; a form body cut
short is refused with a 400 page, its CSRF token never having arrived). Writing is untouched, so an
answer that is slow because the model service is slow still goes out.
The check runs in the worker's main loop, about once a second.

The deadline frees threads; it does not stop a burst of slow clients
larger than the thread pool from queueing others for up to the deadline,
which is why the image runs many threads (docs/deployment.md).

Use: `gunicorn --worker-class web_app.worker.ReadDeadlineWorker`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

READ_SECONDS_VARIABLE = "WEB_APP_REQUEST_READ_SECONDS"
DEFAULT_READ_SECONDS = 30.0


def read_seconds() -> float:
    """The deadline from the environment; a value that is not a positive
    number stops the worker at start, naming the variable."""
    raw = os.environ.get(READ_SECONDS_VARIABLE, str(DEFAULT_READ_SECONDS))
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(
            f"{READ_SECONDS_VARIABLE} must be a positive number of seconds, not {raw!r}"
        )
    return seconds


class ReadDeadlineWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_seconds = read_seconds()
        #: connection -> when its thread must have read its request
        self._deadlines: dict[Any, float] = {}
        self._lock = threading.Lock()

    def handle(self, conn: Any) -> Any:
        """Runs in a pool thread, once per request on `conn`."""
        with self._lock:
            self._deadlines[conn] = time.monotonic() + self.read_seconds
        try:
            return super().handle(conn)
        finally:
            with self._lock:
                self._deadlines.pop(conn, None)

    def murder_keepalived(self, force: bool = False) -> None:
        """gunicorn's main loop calls this about once a second: a good place
        to cut off the requests that are past their deadline too."""
        super().murder_keepalived(force)
        now = time.monotonic()
        with self._lock:
            late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
            for conn in late:
                del self._deadlines[conn]
        for conn in late:
            with contextlib.suppress(OSError):  # already closed by the client or gunicorn
                conn.sock.shutdown(socket.SHUT_RD)
