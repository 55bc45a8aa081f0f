"""The compose harness of the end-to-end tests: commands, HTTP polls, the
base images, and the compose project under test (`Stack`).

Without docker (or compose, or Chromium) the tests skip and say why; with
`CI` set in the environment they fail instead, because CI must run them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
# Used on top of COMPOSE_FILE: the generic model image with a package mounted.
PACKAGE_COMPOSE_FILE = REPO / "docker-compose.package.yml"
BASE_IMAGE_SCRIPT = REPO / "scripts" / "build-base-image.sh"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
# compose's build arguments for the two services' bases (docker-compose.yml)
BASE_IMAGE_VARS = ("MODEL_BASE_IMAGE", "WEB_BASE_IMAGE")
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("E2E_SHOTS_DIR", "/tmp/e2e-shots"))
MODELS = ("iris", "wine")
# E2E_IMAGE_NAMESPACE (e.g. "mybranch/") keeps two runs on one Docker daemon
# from retagging each other's images; unset, images get the README's names.
IMAGE_NAMESPACE = os.environ.get("E2E_IMAGE_NAMESPACE", "")


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine; fail in CI, where these tests are required."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"e2e tests are required in CI but cannot run: {reason}", pytrace=False)
    pytest.skip(f"e2e: {reason}")


def run(
    cmd: list[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root; on failure, the error shows its output."""
    try:
        done = subprocess.run(
            cmd,
            cwd=REPO,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{' '.join(cmd)} took more than {timeout:g} s") from exc
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {done.returncode}\n"
            f"--- stdout (end) ---\n{done.stdout[-4000:]}\n--- stderr (end) ---\n{done.stderr[-4000:]}"
        )
    return done


def compose_command() -> list[str] | None:
    """`docker compose` (v2) when the plugin is there, else `docker-compose` (v1.29)."""
    if shutil.which("docker"):
        try:
            v2 = subprocess.run(
                ["docker", "compose", "version"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            v2 = None
        if v2 is not None and v2.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def stack_env(
    built_images: Mapping[str, str], web_port: int, **overrides: str | None
) -> dict[str, str]:
    """The environment of a compose project under test: this process's, the
    images the session built, the web app on a loopback port (the tests talk
    to 127.0.0.1 and nothing else should), and no WEB_APP_SECRET_KEY (as in
    the quick start, the app's workers share a random one). `overrides` set
    (or, when None, unset) compose variables."""
    env = {
        **os.environ,
        "MODEL_BASE_IMAGE": built_images["MODEL_BASE_IMAGE"],
        "WEB_BASE_IMAGE": built_images["WEB_BASE_IMAGE"],
        "MODEL_IMAGE": built_images["iris"],
        "WEB_APP_IMAGE": built_images["web"],
        "WEB_APP_PUBLISH_PORT": f"127.0.0.1:{web_port}",
    }
    env.pop("WEB_APP_SECRET_KEY", None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5) -> tuple[int, str]:
    """Status and body of a GET; (0, reason) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def http_post(url: str, body: bytes, content_type: str, timeout: float = 10) -> tuple[int, str]:
    """Status and body of a POST; (0, reason) when nothing answered."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.5) -> float:
    """Poll `check` until it is true; seconds it took. Fails after `timeout`."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


@dataclass
class Stack:
    """One compose project: its name, its environment and its published ports."""

    compose: list[str]
    project: str
    env: dict[str, str]
    web_port: int
    model_port: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def model_url(self) -> str:
        return f"http://127.0.0.1:{self.model_port}"

    def compose_run(
        self,
        *args: str,
        timeout: float = 180,
        check: bool = True,
        files: Sequence[Path] = (),
        **env: str,
    ) -> subprocess.CompletedProcess[str]:
        """A compose command on this project; `files` go on top of docker-compose.yml."""
        chosen = [arg for path in (COMPOSE_FILE, *files) for arg in ("-f", str(path))]
        cmd = [*self.compose, *chosen, "-p", self.project, *args]
        return run(cmd, env={**self.env, **env}, timeout=timeout, check=check)

    def published(self, service: str, port: int, index: int = 1) -> tuple[str, int]:
        """The host address and port replica `index` of `service` publishes
        `port` on, as `compose port` tells it: with MODEL_SERVICE_PUBLISH_PORT
        set empty, the compose file leaves each replica's host port to the host."""
        out = self.compose_run("port", "--index", str(index), service, str(port)).stdout.strip()
        host, _, number = out.rpartition(":")
        assert number.isdigit(), f"compose port {service} {port}: {out!r}"
        return host, int(number)

    def container_ids(self, service: str) -> list[str]:
        # --all: a container that is restarting is still this service's
        # (compose v2 lists only running ones without it).
        return self.compose_run("ps", "--all", "-q", service).stdout.split()

    def container_id(self, service: str) -> str:
        ids = self.container_ids(service)
        assert len(ids) == 1, f"expected one {service} container, got {ids}"
        return ids[0]

    def inspect(self, container: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(run(["docker", "inspect", container]).stdout)
        return data[0]

    def health(self, service: str) -> str:
        """healthy, starting, unhealthy; the state when there is no health yet; or missing."""
        ids = self.container_ids(service)
        if len(ids) != 1:
            return "missing"
        state = self.inspect(ids[0])["State"]
        return str(state.get("Health", {}).get("Status", state["Status"]))

    def metadata(self) -> dict[str, Any]:
        status, body = http_get(f"{self.model_url}/metadata")
        assert status == 200, f"GET /metadata on the published endpoint: {status} {body[:300]}"
        card: dict[str, Any] = json.loads(body)
        return card

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        return {
            kind: run(["docker", kind, "ls", "-q", "--filter", label, *extra]).stdout.split()
            for kind, extra in (("container", ["--all"]), ("network", []), ("volume", []))
        }


def docker_ready() -> list[str]:
    """The compose command, once docker and its daemon answer; else skip or fail."""
    if not shutil.which("docker"):
        unavailable("the docker command is not installed")
    try:
        info = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable("`docker info` did not answer within 30 s")
    if info.returncode != 0:
        unavailable(f"no Docker daemon answers: {info.stderr.strip()[:300]}")
    compose = compose_command()
    if compose is None:
        unavailable("neither `docker compose` nor `docker-compose` is installed")
    return compose


def base_images() -> dict[str, str]:
    """The base image of each service's build, as compose's build arguments
    name them: {"MODEL_BASE_IMAGE": ..., "WEB_BASE_IMAGE": ...}.

    Both variables set in the environment: those (what .ci/run does). Else
    the official slim image for both, when it is here or can be pulled. Else
    the air-gapped bases, one per service, built from Debian's packages by
    scripts/build-base-image.sh (which prints exactly these two variables)."""
    if all(os.environ.get(name) for name in BASE_IMAGE_VARS):
        return {name: os.environ[name] for name in BASE_IMAGE_VARS}
    official = dict.fromkeys(BASE_IMAGE_VARS, DEFAULT_BASE_IMAGE)
    if run(["docker", "image", "inspect", DEFAULT_BASE_IMAGE], check=False).returncode == 0:
        return official
    if run(["docker", "pull", DEFAULT_BASE_IMAGE], timeout=300, check=False).returncode == 0:
        return official
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        unavailable(
            f"{DEFAULT_BASE_IMAGE} cannot be pulled, and building the local base images "
            "needs root and debootstrap (or set MODEL_BASE_IMAGE and WEB_BASE_IMAGE "
            "to base images you have)"
        )
    done = run(["bash", str(BASE_IMAGE_SCRIPT)], env=os.environ, timeout=900)
    printed = {
        name: value for name, _, value in (line.partition("=") for line in done.stdout.splitlines())
    }
    missing = [name for name in BASE_IMAGE_VARS if not printed.get(name)]
    assert not missing, f"{BASE_IMAGE_SCRIPT.name} printed no {missing}: {done.stdout!r}"
    return {name: printed[name] for name in BASE_IMAGE_VARS}


def distributions(image: str) -> set[str]:
    """Lower-case names of the Python distributions an image's interpreter
    sees (its venv and, through --system-site-packages, the base's site)."""
    code = (
        "import importlib.metadata as m; "
        "print('\\n'.join(sorted({d.metadata['Name'].lower() for d in m.distributions()})))"
    )
    done = run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "python", image, "-c", code]
    )
    # PEP 503 normalisation: "scikit_learn" and "Scikit-Learn" are one name.
    return {
        re.sub(r"[-_.]+", "-", line.strip()) for line in done.stdout.splitlines() if line.strip()
    }
