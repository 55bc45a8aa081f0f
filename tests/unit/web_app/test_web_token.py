"""The web app's side of the endpoint's bearer token: sent on the prediction
and metadata calls (not on /ping, which is open), hidden in the inspector,
and a 401 shown as the set-up mistake it is, not as the user's fault."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from tests.support.web_fakes import BASE_URL, FakeEndpoint, FakeTransport, form_fields, response
from web_app import Settings, create_app

TOKEN = "web-token-Abc123"
UNAUTHORIZED = {
    "type": "/problems/unauthorized",
    "title": "Unauthorized",
    "status": 401,
    "detail": "The bearer token is not one this endpoint accepts.",
}


class GuardedEndpoint(FakeEndpoint):
    """The fake endpoint behind a token, as MODEL_SERVICE_TOKEN makes it."""

    def __call__(self, request: requests.PreparedRequest) -> requests.Response:
        self.seen.append(request.headers.get("Authorization"))
        if not (request.url or "").endswith("/ping") and (
            request.headers.get("Authorization") != f"Bearer {TOKEN}"
        ):
            return response(
                request, 401, UNAUTHORIZED, "application/problem+json", reason="Unauthorized"
            )
        return super().__call__(request)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str | None] = []


def web_client(endpoint: GuardedEndpoint, **settings: object) -> FlaskClient:
    session = requests.Session()
    session.mount("http://", FakeTransport(endpoint))
    app = create_app(
        Settings(model_url=BASE_URL, secret_key="k", retry_max_attempts=2, **settings),  # type: ignore[arg-type]
        session,
    )
    app.config.update(TESTING=True)
    return app.test_client()


def test_the_token_is_sent_and_hidden_in_the_inspector() -> None:
    endpoint = GuardedEndpoint()
    client = web_client(endpoint, model_token=TOKEN)
    page = client.post("/predict", data=form_fields(client))
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert f"Bearer {TOKEN}" in endpoint.seen
    assert "Bearer [hidden]" in text
    assert TOKEN not in text


def test_without_the_token_the_page_says_it_is_a_set_up_mistake() -> None:
    client = web_client(GuardedEndpoint())
    page = client.get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 502
    assert "not allowed to call the model service" in text
    assert "WEB_APP_MODEL_TOKEN" in text
    assert "nothing wrong with your input" in text


def test_the_health_check_needs_no_token() -> None:
    endpoint = GuardedEndpoint()
    assert web_client(endpoint).get("/healthz").status_code == 200


def test_the_token_file_is_read_and_a_missing_one_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(f"{TOKEN}\nold-token\n")
    assert Settings(model_token_file=secret).bearer_token() == TOKEN
    assert Settings(model_token=f" {TOKEN},old").bearer_token() == TOKEN
    assert Settings(model_token="").bearer_token() is None
    with pytest.raises(ValueError, match="no such file"):
        Settings(model_token_file=tmp_path / "missing").bearer_token()
    (tmp_path / "empty").write_text("")
    with pytest.raises(ValueError, match="empty"):
        Settings(model_token_file=tmp_path / "empty").bearer_token()
