"""Slow clients against the real processes: a connection opened and left
idle, and a request whose body is trickled a byte at a time, must not tie
up either service. While they hang on, a normal request is answered; then
each slow connection is closed by the server within its configured time
(model service: MODEL_SERVICE_REQUEST_TIMEOUT, with a 408; web app under
gunicorn's threaded worker as the image runs it: WEB_APP_BODY_TIMEOUT for
a body, gunicorn's own deferral and keep-alive for an idle connection).
Times are printed, not asserted, beyond "closed within the limit"."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import model_service, web_app

pytestmark = pytest.mark.integration

TIMEOUT = 3.0  # the services' deadline in these tests
GRACE = 4.0  # the timer's resolution, a loaded machine
#: gunicorn's gthread: a silent new connection leaves its thread after 5 s
#: and is closed after --keep-alive (2 s) more.
GUNICORN_IDLE = 5.0 + 2.0
ROW = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def trickle(sock: socket.socket, head: bytes, stop: threading.Event) -> None:
    """Send the head, then the body one byte every 0.2 s until the server
    closes the connection or the test is over."""
    try:
        sock.sendall(head)
        while not stop.wait(0.2):
            sock.sendall(b" ")
    except OSError:
        pass  # closed by the server: what the test waits for


def closed_after(sock: socket.socket, started: float) -> tuple[float, bytes]:
    """Seconds from `started` until the server closed the connection, and
    what it sent before closing."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return time.monotonic() - started, received


@pytest.fixture
def slow_clients() -> Iterator[list[tuple[socket.socket, threading.Event]]]:
    opened: list[tuple[socket.socket, threading.Event]] = []
    yield opened
    for sock, stop in opened:
        stop.set()
        sock.close()


def test_the_model_service_is_not_tied_up_by_slow_clients(
    model_dirs: dict[str, Path],
    tmp_path: Path,
    slow_clients: list[tuple[socket.socket, threading.Event]],
) -> None:
    with model_service(
        model_dirs["iris"], tmp_path, MODEL_SERVICE_REQUEST_TIMEOUT=str(TIMEOUT)
    ) as endpoint:
        started = time.monotonic()
        idle = connect(endpoint.url)
        half = connect(endpoint.url)
        half.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")  # headers, never ended
        trickled = connect(endpoint.url)
        stop = threading.Event()
        slow_clients.extend([(idle, stop), (half, stop), (trickled, stop)])
        head = (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        threading.Thread(target=trickle, args=(trickled, head, stop), daemon=True).start()
        time.sleep(0.5)

        asked = time.monotonic()
        answer = requests.post(
            endpoint.url + "/invocations",
            data=ROW,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        answered = time.monotonic() - asked
        assert answer.status_code == 200
        for sock in (idle, half, trickled):
            assert sock.fileno() != -1  # still open while the normal request was answered

        results = [closed_after(sock, started) for sock in (idle, half, trickled)]
        print(
            f"\nmodel service: normal request answered in {answered * 1000:.0f} ms; slow "
            f"connections closed after {[round(s, 2) for s, _ in results]} s"
        )
        for seconds, received in results:
            assert seconds < TIMEOUT + GRACE
            assert received.startswith(b"HTTP/1.1 408 ")
            assert b"MODEL_SERVICE_REQUEST_TIMEOUT" in received
        # and the service still answers
        assert requests.get(endpoint.url + "/ping", timeout=10).status_code == 200
        log = endpoint.output()
    assert "unhandled error" not in log
    assert '"Request Timeout"' in log


def test_the_web_app_is_not_tied_up_by_slow_clients(
    tmp_path: Path, slow_clients: list[tuple[socket.socket, threading.Event]]
) -> None:
    # As the image runs it: gthread, 2 workers x 4 threads. Six slow bodies
    # would take six of the eight threads for as long as they trickle.
    with web_app(
        "http://127.0.0.1:9",  # no endpoint needed: /healthz answers either way
        tmp_path,
        GUNICORN_CMD_ARGS="--workers 2 --threads 4 --worker-class gthread --keep-alive 2",
        WEB_APP_BODY_TIMEOUT=str(TIMEOUT),
        WEB_APP_RETRY_SECONDS="0",
    ) as app:
        started = time.monotonic()
        stop = threading.Event()
        trickled = []
        for _ in range(6):
            sock = connect(app.url)
            head = (
                b"POST /predict HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
            )
            threading.Thread(target=trickle, args=(sock, head, stop), daemon=True).start()
            slow_clients.append((sock, stop))
            trickled.append(sock)
        idle = connect(app.url)
        slow_clients.append((idle, stop))
        time.sleep(0.5)

        asked = time.monotonic()
        answer = requests.get(app.url + "/healthz", timeout=30)
        answered = time.monotonic() - asked
        assert answer.status_code == 200

        bodies = [closed_after(sock, started) for sock in trickled]
        quiet = closed_after(idle, started)
        print(
            f"\nweb app: normal request answered in {answered * 1000:.0f} ms; trickled bodies "
            f"closed after {[round(s, 2) for s, _ in bodies]} s, the idle connection after "
            f"{quiet[0]:.2f} s"
        )
        for seconds, received in bodies:
            assert seconds < TIMEOUT + GRACE
            assert received.startswith(b"HTTP/1.1 408 ")
        # it may wait for a thread behind the trickled bodies first
        assert quiet[0] < TIMEOUT + GUNICORN_IDLE + GRACE
        assert requests.get(app.url + "/healthz", timeout=10).status_code == 200
