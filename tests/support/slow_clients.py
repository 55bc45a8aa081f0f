"""Hostile HTTP clients on raw sockets, for the limit tests: connections
opened and left idle, heads and bodies trickled a byte at a time. All on
127.0.0.1, each bounded in bytes and in time."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"  # loopback only
    assert parts.port is not None
    return parts.hostname, parts.port


def exchange(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` as it is, and read the answer until the server closes
    (or `timeout` passes): for requests no HTTP library would send."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        # refused before all of it was read: the answer may still be there
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        return read_until_closed(sock, timeout)


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


@dataclass
class SlowClients:
    """`count` connections to `url`, each sending `at_once` as soon as it is
    open, then `trickled` one byte every `pause` seconds (nothing for idle ones),
    until the server closes them or `give_up` seconds pass. `closed_after`
    has, per connection, the seconds from connecting to the server closing
    it (None if it never did); `answers` what the server sent on each."""

    url: str
    count: int
    at_once: bytes = b""
    trickled: bytes = b""
    pause: float = 0.2
    give_up: float = 30.0
    closed_after: list[float | None] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)

    def run(self, ready: threading.Event) -> None:
        socks = [socket.create_connection(address(self.url), timeout=5) for _ in range(self.count)]
        for sock in socks:
            sock.sendall(self.at_once)
        ready.set()
        start = time.monotonic()
        self.closed_after = [None] * self.count
        self.answers = [b""] * self.count
        data = self.trickled
        sent = 0
        for sock in socks:
            sock.setblocking(False)
        try:
            while time.monotonic() - start < self.give_up and None in self.closed_after:
                for i, sock in enumerate(socks):
                    if self.closed_after[i] is not None:
                        continue
                    if self._closed(sock, i):
                        self.closed_after[i] = time.monotonic() - start
                    elif sent < len(data):
                        try:
                            sock.send(data[sent : sent + 1])
                        except OSError:
                            self.closed_after[i] = time.monotonic() - start
                sent += 1
                time.sleep(self.pause)
        finally:
            for sock in socks:
                sock.close()

    def _closed(self, sock: socket.socket, i: int) -> bool:
        try:
            while chunk := sock.recv(65536):
                self.answers[i] += chunk
            return True  # b"": the server closed it
        except BlockingIOError:
            return False
        except OSError:  # reset
            return True


@contextmanager
def slow_clients(clients: SlowClients) -> Iterator[SlowClients]:
    """Run `clients` in a thread while the body of the `with` runs (their
    connections are all open when it starts); joined on the way out."""
    ready = threading.Event()
    thread = threading.Thread(target=clients.run, args=(ready,), daemon=True)
    thread.start()
    assert ready.wait(10), "the slow clients could not connect"
    try:
        yield clients
    finally:
        thread.join(clients.give_up + 10)
