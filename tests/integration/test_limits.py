"""Every size limit of both services, against the real processes, each
refusal naming its limit: the model service's body, row and header limits
(413, 413, 431), and the web app's upload, row, form-size and header
limits (413, 413, 413 from the app; gunicorn's own 431/400 for headers)."""

from __future__ import annotations

import html
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ServiceProcess, model_service, web_app
from tests.integration.test_web_app_through_endpoint import form_of

pytestmark = pytest.mark.integration

TIMEOUT = 30
ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def services(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ServiceProcess]]:
    logs = tmp_path_factory.mktemp("limits")
    with (
        model_service(
            model_dirs["iris"],
            logs,
            MODEL_SERVICE_MAX_BODY_BYTES="10000",
            MODEL_SERVICE_MAX_ROWS="5",
            MODEL_SERVICE_MAX_HEADER_BYTES="4096",
        ) as endpoint,
        web_app(
            endpoint.url,
            logs,
            WEB_APP_UPLOAD_MAX_BYTES="1000000",
            WEB_APP_BATCH_MAX_ROWS="3",
        ) as app,
    ):
        yield endpoint, app


def raw(url: str, request: bytes) -> bytes:
    """Send `request` as is and return what comes back before the close."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if b"\r\n\r\n" in received and len(received) > 200:
                break
        return received


def test_model_service_body_limit(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    endpoint, _ = services
    body = b'{"instances": [' + b",".join([b"[5.1, 3.5, 1.4, 0.2]"] * 600) + b"]}"
    answer = requests.post(
        endpoint.url + "/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 413
    assert "the limit is 10,000 bytes" in answer.json()["detail"]


def test_model_service_row_limit(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    endpoint, _ = services
    answer = requests.post(
        endpoint.url + "/invocations", json={"instances": [ROW] * 6}, timeout=TIMEOUT
    )
    assert answer.status_code == 413
    assert "limit of 5 rows" in answer.json()["detail"]
    v2 = requests.post(
        endpoint.url + "/v2/models/iris/infer",
        json={"inputs": [{"name": "x", "datatype": "FP64", "shape": [6, 4], "data": ROW * 6}]},
        timeout=TIMEOUT,
    )
    assert v2.status_code == 413
    assert "5 rows" in v2.json()["error"]


def test_model_service_header_limit(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    endpoint, _ = services
    received = raw(
        endpoint.url,
        b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 5000 + b"\r\n\r\n",
    )
    assert received.startswith(b"HTTP/1.1 431 ")
    assert b"MODEL_SERVICE_MAX_HEADER_BYTES" in received
    assert b"4,096 bytes" in received
    assert requests.get(endpoint.url + "/ping", timeout=TIMEOUT).status_code == 200


def batch_post(app: ServiceProcess, data: bytes) -> tuple[int, str]:
    with requests.Session() as browser:
        token = form_of(browser.get(app.url + "/batch", timeout=TIMEOUT).text, "/batch")[
            "csrf_token"
        ]
        answer = browser.post(
            app.url + "/batch",
            data={"csrf_token": token, "format": "json"},
            files={"file": ("rows.csv", data, "text/csv")},
            timeout=TIMEOUT,
        )
        return answer.status_code, html.unescape(answer.text)


def test_web_app_upload_limit(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    _, app = services
    status, text = batch_post(app, b"5.1,3.5,1.4,0.2\n" * 75_000)  # 1.2 MB
    assert status == 413
    assert "the limit is 1.0 MB" in text


def test_web_app_row_limit(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    _, app = services
    status, text = batch_post(app, b"5.1,3.5,1.4,0.2\n" * 4)
    assert status == 413
    assert "4 rows; the limit is 3" in text


def test_web_app_whole_request_limit(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    """Past what any form of the app can need (4 x the upload limit), werkzeug
    refuses before reading it, with the app's own page."""
    _, app = services
    answer = requests.post(
        app.url + "/batch",
        data=b"x" * 4_200_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 413
    assert "uploads up to about 4.1 MB" in html.unescape(answer.text)


def test_web_app_header_limits(services: tuple[ServiceProcess, ServiceProcess]) -> None:
    """gunicorn's own: --limit-request-field_size (8190) and -line (4094)."""
    _, app = services
    too_long = raw(
        app.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 9000 + b"\r\n\r\n"
    )
    assert too_long.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert b"limit request headers fields size" in too_long
    long_line = raw(app.url, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert long_line.startswith(b"HTTP/1.1 414 URI Too Long")
    assert b"(5014 &gt; 4094)" in long_line
    assert requests.get(app.url + "/healthz", timeout=TIMEOUT).status_code == 200
