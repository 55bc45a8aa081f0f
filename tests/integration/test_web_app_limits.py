"""The web app's limits against the real process, run as its image runs it
(gunicorn with the Dockerfile's GUNICORN_CMD_ARGS): uploads, rows and
headers answered with a page that names the limit; slow and idle clients
cut off at the configured time without holding up anyone else; the
security headers and CSRF on real answers. docs/web-app.md lists them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT, ServiceProcess, model_service, web_app
from tests.support.slow_clients import SlowClients, body_of, exchange, slow_clients, status_of

pytestmark = pytest.mark.integration

READ_SECONDS = 3
#: How long a normal request may take while the slow clients are connected.
PROMPT = 3.0
ROW = "5.1,3.5,1.4,0.2\n"


def image_gunicorn_args() -> str:
    """GUNICORN_CMD_ARGS as web_app/Dockerfile sets it, so these tests run
    the server settings the image runs."""
    dockerfile = (ROOT / "web_app" / "Dockerfile").read_text()
    found = re.search(r'GUNICORN_CMD_ARGS="([^"]+)"', dockerfile)
    assert found, "web_app/Dockerfile no longer sets GUNICORN_CMD_ARGS"
    return found.group(1)


@pytest.fixture(scope="module")
def app(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    logs = tmp_path_factory.mktemp("logs")
    with (
        model_service(model_dirs["iris"], logs) as model,
        web_app(
            model.url,
            logs,
            GUNICORN_CMD_ARGS=image_gunicorn_args(),
            WEB_APP_REQUEST_READ_SECONDS=str(READ_SECONDS),
            WEB_APP_UPLOAD_MAX_BYTES="20000",
            WEB_APP_BATCH_MAX_ROWS="50",
        ) as running,
    ):
        yield running


def csrf_token(session: requests.Session, url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', session.get(url, timeout=10).text)
    assert found
    return found.group(1)


def upload(app: ServiceProcess, text: str) -> requests.Response:
    with requests.Session() as session:
        token = csrf_token(session, app.url + "/batch")
        return session.post(
            app.url + "/batch",
            data={"csrf_token": token, "format": "csv"},
            files={"file": ("rows.csv", text.encode(), "text/csv")},
            timeout=30,
        )


def assert_still_serving(app: ServiceProcess) -> None:
    start = time.monotonic()
    answer = requests.get(app.url + "/", timeout=PROMPT)
    assert answer.status_code == 200
    assert time.monotonic() - start < PROMPT


# --- uploads and rows --------------------------------------------------------------


def test_a_file_over_the_upload_limit_is_a_413_naming_it(app: ServiceProcess) -> None:
    answer = upload(app, ROW * 1_300)  # 20,800 bytes
    assert answer.status_code == 413
    assert "the limit is 20 KB" in answer.text
    assert_still_serving(app)


def test_a_request_over_the_form_limit_is_cut_off_with_a_413_naming_the_file_limit(
    app: ServiceProcess,
) -> None:
    answer = upload(app, ROW * 20_000)  # 320 KB: over MAX_CONTENT_LENGTH too
    assert answer.status_code == 413
    assert "files up to 20 KB (WEB_APP_UPLOAD_MAX_BYTES)" in answer.text
    assert_still_serving(app)


def test_more_rows_than_the_limit_is_a_413_naming_it(app: ServiceProcess) -> None:
    answer = upload(app, ROW * 51)
    assert answer.status_code == 413
    assert "the limit is 50" in answer.text
    assert upload(app, ROW * 50).status_code == 200


# --- headers: gunicorn's own answers ---------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "says"),
    [
        (b"GET /" + b"a" * 5_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414, b"(5014 &gt; 4094)"),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
            + b"\r\n",
            431,
            b"limit request headers fields",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9_000 + b"\r\n\r\n",
            431,
            b"limit request headers fields size",
        ),
    ],
    ids=["request-line", "header-count", "header-size"],
)
def test_header_limits_are_gunicorns_answers(
    app: ServiceProcess, request_bytes: bytes, status: int, says: bytes
) -> None:
    answer = exchange(app.url, request_bytes)
    assert status_of(answer) == status
    assert says in body_of(answer)
    assert_still_serving(app)


# --- slow clients ----------------------------------------------------------------------


def assert_cut_off(clients: SlowClients) -> None:
    """Closed by the server, at the read deadline (checked about once a second)."""
    for seconds in clients.closed_after:
        assert seconds is not None, clients.closed_after
        assert seconds < READ_SECONDS + 3, clients.closed_after


def test_idle_connections_do_not_hold_up_others(app: ServiceProcess) -> None:
    with slow_clients(SlowClients(app.url, count=20, give_up=20)) as idle:
        time.sleep(0.5)
        assert_still_serving(app)
    assert_cut_off(idle)


def test_a_trickled_head_does_not_hold_up_others(app: ServiceProcess) -> None:
    head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 500
    with slow_clients(SlowClients(app.url, count=20, trickled=head, give_up=20)) as trickling:
        time.sleep(0.5)
        assert_still_serving(app)
    assert_cut_off(trickling)
    assert trickling.answers == [b""] * 20  # closed; no request was ever made


def test_a_trickled_body_does_not_hold_up_others(app: ServiceProcess) -> None:
    head = (
        b"POST /batch HTTP/1.1\r\nHost: t\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n"
    )
    slow = SlowClients(app.url, count=20, at_once=head, trickled=b"a" * 500, give_up=20)
    with slow_clients(slow) as trickling:
        time.sleep(0.5)
        assert_still_serving(app)
    assert_cut_off(trickling)
    for answer in trickling.answers:  # the form, cut short, has no CSRF token
        assert status_of(answer) == 400
    assert_still_serving(app)


# --- security headers and CSRF on real answers ------------------------------------------

EXPECTED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/batch", 200),
        ("GET", "/healthz", 200),
        ("GET", "/static/app.css", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/", 405),
        ("POST", "/predict", 400),  # no CSRF token
    ],
)
def test_security_headers_on_every_answer(
    app: ServiceProcess, method: str, path: str, status: int
) -> None:
    answer = requests.request(method, app.url + path, timeout=30)
    assert answer.status_code == status
    for name, value in EXPECTED_HEADERS.items():
        assert answer.headers[name] == value, name
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in answer.headers["Content-Security-Policy"].split(";")
    )
    assert policy == {
        "default-src": "'none'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
    }
    if answer.headers["Content-Type"].startswith("text/html"):
        assert answer.headers["Cache-Control"] == "no-store"


def test_the_session_cookie_is_http_only_and_same_site(app: ServiceProcess) -> None:
    answer = requests.get(app.url + "/batch", timeout=10)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_a_token_from_another_session_is_refused(app: ServiceProcess) -> None:
    # Both gunicorn workers share the key (--preload), so this is refused for
    # the session, not for the worker: the same token in its own session works.
    with requests.Session() as mine, requests.Session() as theirs:
        token = csrf_token(theirs, app.url + "/batch")
        csrf_token(mine, app.url + "/batch")
        fields = {"csrf_token": token, "format": "csv", "csv_text": ROW}
        refused = mine.post(app.url + "/batch", data=fields, timeout=30)
        assert refused.status_code == 400
        assert "This form had expired" in refused.text
        accepted = theirs.post(app.url + "/batch", data=fields, timeout=30)
        assert accepted.status_code == 200
