"""The bearer token over compose: the stack up with MODEL_SERVICE_TOKEN (one
variable for both services), then again with the token in a file passed as
a compose secret (docker-compose.token-file.yml). The endpoint refuses a
caller without the token, the health check still passes (compose waits on
it), and a person using the web app notices nothing."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.compose import (
    REPO,
    Stack,
    docker_ready,
    free_port,
    http_get,
    http_post,
    stack_env,
    wait_for,
)

pytestmark = pytest.mark.e2e

TOKEN_FILE_COMPOSE = REPO / "docker-compose.token-file.yml"
ROW = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


@pytest.fixture(scope="module")
def token_stack(built_images: dict[str, str]) -> Iterator[Stack]:
    """A compose project of its own (torn down afterwards), not yet up."""
    compose = docker_ready()
    web_port, model_port = free_port(), free_port()
    env = stack_env(built_images, web_port, MODEL_SERVICE_PUBLISH_PORT=str(model_port))
    stack = Stack(compose, f"sklearn-token-{secrets.token_hex(3)}", env, web_port, model_port)
    try:
        yield stack
    finally:
        stack.compose_run("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


def authorized_post(url: str, token: str) -> int:
    request = urllib.request.Request(
        url,
        data=ROW,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def check_guarded(stack: Stack, token: str) -> None:
    """Healthy with the token on: refused without it, answered with it, and
    the web app's prediction page works."""
    wait_for(
        "both services healthy",
        lambda: stack.health("model_service") == "healthy" and stack.health("web_app") == "healthy",
        timeout=180,
    )
    status, body = http_post(stack.model_url + "/invocations", ROW, "application/json")
    assert status == 401, body
    assert json.loads(body)["type"] == "/problems/unauthorized"
    assert http_get(stack.model_url + "/metadata")[0] == 401
    assert http_get(stack.model_url + "/ping")[0] == 200
    assert authorized_post(stack.model_url + "/invocations", token) == 200
    status, page = http_get(stack.web_url + "/")
    assert status == 200, page[:2000]
    assert token not in page
    logs = stack.compose_run("logs", "--no-color", "model_service", "web_app").stdout
    assert '"unauthorized"' in logs
    assert token not in logs


def test_a_token_from_the_variable_and_from_a_secret_file(
    token_stack: Stack, tmp_path: Path
) -> None:
    token = secrets.token_urlsafe(24)
    started = time.monotonic()
    token_stack.compose_run("up", "-d", timeout=300, MODEL_SERVICE_TOKEN=token)
    check_guarded(token_stack, token)

    other = secrets.token_urlsafe(24)
    secret = tmp_path / "model_service_token"
    secret.write_text(other + "\n")
    secret.chmod(0o644)  # readable by the containers' user
    token_stack.compose_run(
        "up",
        "-d",
        files=[TOKEN_FILE_COMPOSE],
        timeout=300,
        MODEL_SERVICE_TOKEN_FILE=str(secret),
    )
    wait_for(
        "the old token refused",
        lambda: (
            http_post(token_stack.model_url + "/invocations", ROW, "application/json")[0] == 401
            and _status_with(token_stack, token) == 401
        ),
        timeout=120,
    )
    check_guarded(token_stack, other)
    token_stack.timings["token stack up twice (s)"] = round(time.monotonic() - started, 1)


def _status_with(stack: Stack, token: str) -> int:
    try:
        return authorized_post(stack.model_url + "/invocations", token)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
