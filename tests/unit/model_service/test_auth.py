"""The bearer token (model_service.auth): refused without it on every
prediction and metadata route, in each protocol's error body; the health,
metrics and documentation routes open; several tokens for rotation; read
from a file; never written to the log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from model_service.auth import TokenError, is_open, matches, parse_tokens, read_token_file
from model_service.settings import Settings
from tests.unit.model_service.conftest import ClientFactory

TOKEN = "s3cret-Token_1"
OLD = "older.token~2"
IRIS_ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
V2_ROW = {
    "inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}
    ]
}

#: Every route that needs the token: (method, path, json body or None).
PROTECTED = [
    ("POST", "/invocations", IRIS_ROW),
    ("GET", "/metadata", None),
    ("GET", "/v2", None),
    ("GET", "/v2/models/iris", None),
    ("GET", "/v2/models/iris/versions/1", None),
    ("POST", "/v2/models/iris/infer", V2_ROW),
    ("POST", "/v2/models/iris/versions/1/infer", V2_ROW),
    ("GET", "/no/such/route", None),  # no route either: a 401 says nothing about what exists
]
OPEN = [
    "/ping",
    "/metrics",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/iris/ready",
    "/v2/models/iris/versions/1/ready",
    "/openapi.json",
    "/docs",
    "/problems/unauthorized",
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_without_a_token_every_protected_route_answers_401(
    make_client: ClientFactory, method: str, path: str, body: object
) -> None:
    client = make_client(token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.headers["www-authenticate"].startswith("Bearer")
        if path.startswith("/v2"):
            assert response.headers["content-type"] == "application/json"
            assert set(response.json()) == {"error"}
        else:
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["type"] == "/problems/unauthorized"
            assert problem["status"] == 401
            assert "Authorization: Bearer" in problem["detail"] or "not one" in problem["detail"]
        assert TOKEN not in response.text


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED[:-1])
def test_with_any_configured_token_the_routes_answer(
    make_client: ClientFactory, method: str, path: str, body: object
) -> None:
    client = make_client(token=f"{TOKEN}, {OLD}")  # two, as while rotating
    for token in (TOKEN, OLD):
        for scheme in ("Bearer", "bearer"):
            response = client.request(
                method, path, json=body, headers={"Authorization": f"{scheme} {token}"}
            )
            assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize("path", OPEN)
def test_health_metrics_and_docs_stay_open(make_client: ClientFactory, path: str) -> None:
    client = make_client(token=TOKEN)
    assert client.get(path).status_code == 200, path


def test_without_a_token_configured_nothing_is_asked(make_client: ClientFactory) -> None:
    client = make_client()
    assert client.post("/invocations", json=IRIS_ROW).status_code == 200
    assert make_client(token="").post("/invocations", json=IRIS_ROW).status_code == 200


def test_the_token_is_never_logged(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        client.post("/invocations", json=IRIS_ROW, headers={"Authorization": f"Bearer {TOKEN}"})
        client.post("/invocations", json=IRIS_ROW, headers={"Authorization": f"Bearer {TOKEN}x"})
        client.get("/metadata")
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "unauthorized" in logged  # the refusals are logged...
    assert TOKEN not in logged  # ...without the token, right or wrong


def test_the_openapi_document_offers_the_bearer_scheme(make_client: ClientFactory) -> None:
    document = make_client().get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert {"bearer": []} in document["paths"]["/invocations"]["post"]["security"]
    assert "security" not in document["paths"]["/ping"]["get"]


def test_tokens_are_parsed_and_checked() -> None:
    assert parse_tokens(f" {TOKEN} ,{OLD},, ", "X") == (TOKEN.encode(), OLD.encode())
    with pytest.raises(TokenError, match="token 2") as raised:
        parse_tokens(f"{TOKEN},has space", "MODEL_SERVICE_TOKEN")
    assert "has space" not in str(raised.value)
    assert matches(TOKEN.encode(), (OLD.encode(), TOKEN.encode()))
    assert not matches(b"", (TOKEN.encode(),))
    assert not matches(TOKEN.encode()[:-1], (TOKEN.encode(),))
    assert is_open("/ping")
    assert not is_open("/invocations")
    assert not is_open("/v2/models/x")


def test_a_token_file_is_read_and_a_missing_or_empty_one_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(f"{TOKEN}\n{OLD}\n")
    assert read_token_file(secret) == (TOKEN.encode(), OLD.encode())
    assert Settings(token_file=secret).bearer_tokens() == (TOKEN.encode(), OLD.encode())
    with pytest.raises(TokenError, match="no such file"):
        Settings(token_file=tmp_path / "missing").bearer_tokens()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(TokenError, match="empty"):
        Settings(token_file=tmp_path / "empty").bearer_tokens()
    with pytest.raises(TokenError, match="not both"):
        Settings(token=TOKEN, token_file=secret).bearer_tokens()
    assert Settings(token_file="").bearer_tokens() == ()  # compose's unset variable


def test_start_up_stops_on_a_missing_token_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from model_service.__main__ import EXIT_BAD_PACKAGE, main

    monkeypatch.setenv("MODEL_SERVICE_TOKEN_FILE", str(tmp_path / "missing"))
    assert main(["--check"]) == EXIT_BAD_PACKAGE
    err = capsys.readouterr().err
    assert "MODEL_SERVICE_TOKEN_FILE" in err
    assert "no such file" in err


def test_worker_processes_get_the_token_itself_not_its_mask() -> None:
    from model_service.workers import settings_environment

    environment = settings_environment(Settings(token=f"{TOKEN},{OLD}", workers=2))
    assert environment["MODEL_SERVICE_TOKEN"] == f"{TOKEN},{OLD}"
    assert Settings(token=environment["MODEL_SERVICE_TOKEN"]).bearer_tokens() == (
        TOKEN.encode(),
        OLD.encode(),
    )
