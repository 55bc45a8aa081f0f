"""An isolated app and test client per test (like Flask's tutorial
conftest), talking to a fake endpoint through a transport adapter mounted
on the injected session."""

from __future__ import annotations

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.support.web_fakes import BASE_URL, FakeEndpoint, FakeTransport
from web_app import Settings, create_app


@pytest.fixture
def endpoint() -> FakeEndpoint:
    return FakeEndpoint()


@pytest.fixture
def transport(endpoint: FakeEndpoint) -> FakeTransport:
    return FakeTransport(endpoint)


@pytest.fixture
def session(transport: FakeTransport) -> requests.Session:
    session = requests.Session()
    session.mount("http://", transport)
    session.mount("https://", transport)
    return session


@pytest.fixture
def settings() -> Settings:
    # No pauses and few attempts: a test that never gets an answer ends at once.
    return Settings(
        model_url=BASE_URL,
        secret_key="test-secret",
        retry_backoff=0,
        retry_max_attempts=4,
        metadata_cache_seconds=5,
    )


@pytest.fixture
def app(settings: Settings, session: requests.Session) -> Flask:
    app = create_app(settings, session)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
