"""The web app's security headers, exactly as docs/web-app.md lists them, on
every kind of answer (pages, error pages, the health check, static files),
its session cookie's flags, and CSRF refusals on every form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.support.web_fakes import form_fields

DOCS = Path(__file__).resolve().parents[3] / "docs" / "web-app.md"


def documented_headers() -> dict[str, str]:
    """The `| header | value |` table of docs/web-app.md's Security section."""
    section = DOCS.read_text().split("## Security", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\s*\| `([A-Za-z-]+)` \| `([^`]+)`", section, flags=re.M)
    return dict(rows)


def test_the_documented_headers_are_the_ones_sent(client: FlaskClient) -> None:
    documented = documented_headers()
    assert set(documented) >= {"Content-Security-Policy", "X-Frame-Options", "Cache-Control"}
    headers = client.get("/").headers
    for name, value in documented.items():
        assert headers[name] == value, name


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/nowhere", 404),
        ("DELETE", "/", 405),
        ("POST", "/predict", 400),  # no CSRF token
        ("GET", "/healthz", 200),
    ],
)
def test_every_kind_of_answer_carries_the_headers(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    answer = client.open(path, method=method)
    assert answer.status_code == status
    for name, value in documented_headers().items():
        if name == "Cache-Control" and answer.mimetype != "text/html":
            continue  # only pages carry the user's data
        assert answer.headers[name] == value, (path, name)


def test_an_oversized_request_gets_the_headers_too(client: FlaskClient) -> None:
    answer = client.post(
        "/batch",
        data=b"x" * (client.application.config["MAX_CONTENT_LENGTH"] + 1),
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 413
    assert (
        answer.headers["Content-Security-Policy"] == documented_headers()["Content-Security-Policy"]
    )


def test_the_session_cookie_is_http_only_and_same_site(client: FlaskClient) -> None:
    answer = client.get("/")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize("path", ["/predict", "/batch"])
def test_every_form_refuses_a_post_without_its_csrf_token(client: FlaskClient, path: str) -> None:
    fields = form_fields(client, "/" if path == "/predict" else "/batch")
    fields.pop("csrf_token", None)
    answer = client.post(path, data=fields)
    assert answer.status_code == 400
    fields["csrf_token"] = "forged"
    assert client.post(path, data=fields).status_code == 400
