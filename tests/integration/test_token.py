"""The bearer token with real processes: the model service started with two
tokens (as while rotating) or a token file, the web app sending one, and a
web app without it showing the set-up mistake as such. The token must not
appear in either service's log."""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT, model_service, web_app
from tests.integration.test_web_app_through_endpoint import form_of

pytestmark = pytest.mark.integration

TOKEN = "integration-token-7Qx"
NEXT = "next-token-9Zb"
ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
TIMEOUT = 30


def test_the_service_asks_for_a_token_and_the_web_app_sends_it(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    with model_service(
        model_dirs["iris"], tmp_path, MODEL_SERVICE_TOKEN=f"{TOKEN},{NEXT}"
    ) as endpoint:
        refused = requests.post(endpoint.url + "/invocations", json=ROW, timeout=TIMEOUT)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.headers["Content-Type"] == "application/problem+json"
        for token in (TOKEN, NEXT):
            answer = requests.post(
                endpoint.url + "/invocations",
                json=ROW,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
            )
            assert answer.status_code == 200
        assert requests.get(endpoint.url + "/ping", timeout=TIMEOUT).status_code == 200
        v2 = requests.get(endpoint.url + "/v2/models/iris", timeout=TIMEOUT)
        assert v2.status_code == 401
        assert set(v2.json()) == {"error"}

        with web_app(endpoint.url, tmp_path, WEB_APP_MODEL_TOKEN=NEXT) as app:
            browser = requests.Session()
            fields = form_of(browser.get(app.url + "/", timeout=TIMEOUT).text, "/predict")
            answer = browser.post(app.url + "/predict", data=fields, timeout=TIMEOUT)
            text = html.unescape(answer.text)
            assert answer.status_code == 200, text
            assert "Bearer [hidden]" in text  # the inspector shows the header, not the token
            assert NEXT not in text
            web_log = app.output()

        with web_app(endpoint.url, tmp_path) as app:  # no token: a set-up mistake, said so
            page = requests.get(app.url + "/", timeout=TIMEOUT)
            text = html.unescape(page.text)
            assert page.status_code == 502
            assert "not allowed to call the model service" in text
            assert "WEB_APP_MODEL_TOKEN" in text
        endpoint_log = endpoint.output()
    assert '"unauthorized"' in endpoint_log
    for log in (endpoint_log, web_log):
        assert TOKEN not in log
        assert NEXT not in log


def test_the_token_can_come_from_a_file(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    secret = tmp_path / "model_service_token"
    secret.write_text(TOKEN + "\n")
    with model_service(
        model_dirs["iris"], tmp_path, MODEL_SERVICE_TOKEN_FILE=str(secret)
    ) as endpoint:
        assert requests.get(endpoint.url + "/metadata", timeout=TIMEOUT).status_code == 401
        with web_app(endpoint.url, tmp_path, WEB_APP_MODEL_TOKEN_FILE=str(secret)) as app:
            page = requests.get(app.url + "/", timeout=TIMEOUT)
            assert page.status_code == 200, page.text


def test_a_missing_token_file_stops_start_up(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    done = subprocess.run(
        [sys.executable, "-m", "model_service", "--model-dir", str(model_dirs["iris"])],
        cwd=ROOT,
        env={"MODEL_SERVICE_TOKEN_FILE": str(missing), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"MODEL_SERVICE_TOKEN_FILE={missing}: no such file" in done.stderr


def test_worker_processes_ask_for_the_same_token(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    """Workers get their settings through the environment: the token itself
    must reach them, not pydantic's mask of it."""
    with model_service(
        model_dirs["iris"], tmp_path, MODEL_SERVICE_TOKEN=TOKEN, MODEL_SERVICE_WORKERS="2"
    ) as endpoint:
        for _ in range(4):  # over both workers, most likely
            assert (
                requests.post(endpoint.url + "/invocations", json=ROW, timeout=TIMEOUT).status_code
                == 401
            )
            answer = requests.post(
                endpoint.url + "/invocations",
                json=ROW,
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=TIMEOUT,
            )
            assert answer.status_code == 200
            masked = requests.post(
                endpoint.url + "/invocations",
                json=ROW,
                headers={"Authorization": "Bearer **********"},
                timeout=TIMEOUT,
            )
            assert masked.status_code == 401
