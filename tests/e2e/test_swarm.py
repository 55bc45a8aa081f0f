"""The same images on Docker Swarm (docker-stack.yml): a single-node swarm,
`docker stack deploy`, and a rolling update of the model from iris to wine
(`docker service update --image`) under a steady stream of predictions
through the web app. It counts the failed requests (target: none) and
records how long the rollout took.

The swarm is initialised on 127.0.0.1 only when the daemon is in none, and
left again at the end in that case only; the stack is removed in any case.
Its overlay network's 10.0.x addresses are the test's own containers; the
test itself talks only to the web app's port on 127.0.0.1.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.compose import REPO, docker_ready, free_port, http_get, run, wait_for
from tests.support.stream import around

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

STACK_FILE = REPO / "docker-stack.yml"


@dataclass
class SwarmStack:
    name: str
    web_port: int
    images: dict[str, str]

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"

    def running(self, service: str) -> int:
        """Tasks of the service running now (healthy, when the image has a HEALTHCHECK)."""
        out = run(
            [
                "docker",
                "service",
                "ps",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.CurrentState}}",
                self.service(service),
            ]
        )
        return sum(line.startswith("Running") for line in out.stdout.splitlines())

    def update_state(self, service: str) -> str:
        out = run(
            [
                "docker",
                "service",
                "inspect",
                "--format",
                "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
                self.service(service),
            ]
        )
        return out.stdout.strip()


def _swarm_state() -> str:
    return run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout.strip()


@pytest.fixture(scope="module")
def swarm_stack(built_images: dict[str, str], timings: dict[str, float]) -> Iterator[SwarmStack]:
    docker_ready()
    state = _swarm_state()
    if state not in ("inactive", "active"):
        pytest.fail(f"the daemon's swarm state is {state!r}: neither in a swarm nor out of one")
    initialised = state == "inactive"
    if initialised:
        run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"])
    stack = SwarmStack(f"sklearn-e2e-{secrets.token_hex(3)}", free_port(), built_images)
    env = {
        **os.environ,
        "MODEL_IMAGE": built_images["iris"],
        "WEB_APP_IMAGE": built_images["web"],
        "WEB_APP_PUBLISH_PORT": str(stack.web_port),
        "WEB_APP_SECRET_KEY": secrets.token_hex(32),
    }
    try:
        started = time.monotonic()
        run(
            [
                "docker",
                "stack",
                "deploy",
                "--resolve-image",
                "never",
                "-c",
                str(STACK_FILE),
                stack.name,
            ],
            env=env,
        )
        wait_for(
            "two model replicas and the web app running, and the web app ready",
            lambda: (
                stack.running("model_service") == 2
                and stack.running("web_app") == 1
                and http_get(f"{stack.web_url}/healthz", timeout=3)[0] == 200
            ),
            timeout=240,
            interval=1,
        )
        timings["swarm: deploy to ready (s)"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        run(["docker", "stack", "rm", stack.name], check=False)
        label = f"label=com.docker.stack.namespace={stack.name}"
        try:
            wait_for(
                "the stack's containers and network gone",
                lambda: (
                    not any(
                        run(["docker", kind, "ls", "-q", "--filter", label, *extra]).stdout.split()
                        for kind, extra in (("container", ["--all"]), ("network", []))
                    )
                ),
                timeout=120,
                interval=1,
            )
        finally:
            if initialised:
                run(["docker", "swarm", "leave", "--force"], check=False)


def test_stack_runs_hardened_replicas(swarm_stack: SwarmStack) -> None:
    status, body = http_get(f"{swarm_stack.web_url}/healthz")
    assert status == 200, body
    spec = run(
        [
            "docker",
            "service",
            "inspect",
            "--format",
            "{{json .Spec}}",
            swarm_stack.service("model_service"),
        ]
    ).stdout
    assert '"Mode":"dnsrr"' in spec
    assert '"Order":"start-first"' in spec
    assert '"ReadOnly":true' in spec


def test_rolling_the_model_from_iris_to_wine_fails_no_request(
    swarm_stack: SwarmStack, timings: dict[str, float]
) -> None:
    service = swarm_stack.service("model_service")
    took: list[float] = []  # the rollout's seconds, and how it ended
    ended: list[str] = []

    def roll() -> None:
        started = time.monotonic()
        run(
            [
                "docker",
                "service",
                "update",
                "--detach",
                "--no-resolve-image",
                "--image",
                swarm_stack.images["wine"],
                service,
            ]
        )
        wait_for(
            "the rolling update completed",
            lambda: (
                swarm_stack.update_state("model_service")
                in ("completed", "rollback_completed", "paused", "rollback_paused")
            ),
            timeout=300,
            interval=0.5,
        )
        took.append(time.monotonic() - started)
        ended.append(swarm_stack.update_state("model_service"))

    answered, began = around(swarm_stack.web_url, roll, interval=0.05)
    timings["swarm: rollout iris -> wine (s)"] = round(took[0], 1)
    timings["swarm: predictions served during the rollout"] = answered.served
    timings["swarm: 'model changed' answers during the rollout"] = answered.changed
    timings["swarm: failed during the rollout"] = len(answered.failed)
    assert ended == ["completed"], f"the update ended {ended}"
    assert not answered.failed, answered.failures(began)[:5]
    # The stream was answered by both models, and ended on wine.
    assert set(answered.models) == {"iris", "wine"}, answered.models
    status, body = http_get(f"{swarm_stack.web_url}/")
    assert status == 200
    assert "wine" in body.lower()
