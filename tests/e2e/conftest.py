"""Fixtures of the end-to-end tests: images built from this tree, the stack
up on a project name and loopback ports of its own, a headless Chromium to
drive the web app, and the teardown. Timings are printed at the end of the
run and saved beside the screenshots."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.compose import (
    CHROMIUM,
    COMPOSE_FILE,
    IMAGE_NAMESPACE,
    MODELS,
    SHOTS,
    Stack,
    base_images,
    docker_ready,
    free_port,
    run,
    stack_env,
    unavailable,
    wait_for,
)

TIMINGS = pytest.StashKey[dict[str, float]]()


@pytest.fixture(scope="session")
def timings(request: pytest.FixtureRequest) -> dict[str, float]:
    """Measurements printed at the end of the run and saved beside the screenshots."""
    return request.config.stash.setdefault(TIMINGS, {})


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.fixture(scope="session")
def built_images(timings: dict[str, float]) -> dict[str, str]:
    """Both images built from this tree, the model image once per model, as
    the README says: `docker compose build`, with MODEL and MODEL_IMAGE."""
    compose = docker_ready()
    started = time.monotonic()
    bases = base_images()
    timings["base images ready (s)"] = round(time.monotonic() - started, 1)
    namespace = IMAGE_NAMESPACE
    images = {
        "web": f"{namespace}web-app:latest",
        **{model: f"{namespace}model-service:{model}" for model in MODELS},
    }
    env = {**os.environ, **bases, "WEB_APP_IMAGE": images["web"]}
    for model in MODELS:
        started = time.monotonic()
        services = [] if model == MODELS[0] else ["model_service"]  # the web app once
        run(
            [*compose, "-f", str(COMPOSE_FILE), "build", *services],
            env={**env, "MODEL": model, "MODEL_IMAGE": images[model]},
            timeout=1200,
        )
        timings[f"build {model} (s)"] = round(time.monotonic() - started, 1)
    return {**bases, **images}


@contextmanager
def up_stack(
    built_images: dict[str, str], timings: dict[str, float], **overrides: str | None
) -> Iterator[Stack]:
    """A stack up and healthy on its own project name and loopback ports;
    torn down afterwards even when a test failed. `overrides` set (or, when
    None, unset) compose variables."""
    compose = docker_ready()
    project = f"sklearn-e2e-{secrets.token_hex(3)}"
    web_port, model_port = free_port(), free_port()
    env = stack_env(
        built_images, web_port, **{"MODEL_SERVICE_PUBLISH_PORT": str(model_port), **overrides}
    )
    stack = Stack(compose, project, env, web_port, model_port, timings)
    try:
        started = time.monotonic()
        stack.compose_run("up", "-d", timeout=300)
        wait_for(
            "both services healthy",
            lambda: (
                stack.health("model_service") == "healthy" and stack.health("web_app") == "healthy"
            ),
            timeout=180,
        )
        timings["up to healthy (s)"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        stack.compose_run("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


@pytest.fixture(scope="module")
def stack(built_images: dict[str, str], timings: dict[str, float]) -> Iterator[Stack]:
    """The stack as the quick start runs it, except that the web app waits
    only 1 s for a restarting model (default 30 s), which would hide a crash
    from users: the crash test wants to see the message."""
    with up_stack(built_images, timings, WEB_APP_RETRY_SECONDS="1") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-gpu",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    measured = config.stash.get(TIMINGS, {})
    if not measured:
        return
    terminalreporter.section("e2e timings")
    for name, value in measured.items():
        terminalreporter.write_line(f"{name}: {value}")
    terminalreporter.write_line(f"screenshots: {SHOTS}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "timings.json").write_text(json.dumps(measured, indent=2) + "\n")
