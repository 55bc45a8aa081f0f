"""Three replicas of the model service on one host, as the README's
"Scaling out" section runs them: `docker compose up --scale model_service=3`.

Each replica publishes the endpoint on a loopback port the host picked
(`docker compose port --index N`), which is also how the test reads each
replica's own `/metrics`. The web app finds the replicas by the service's
name (web_app/endpoint/replicas.py); the tests check that every replica
serves a share of the users' predictions, that stopping one replica under
a steady stream of predictions fails no request, and that killing another
fails none either: the request it reset goes to the other replica.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import pytest

from tests.support.compose import (
    Stack,
    docker_ready,
    free_port,
    http_get,
    run,
    stack_env,
    wait_for,
)
from tests.support.stream import around, predictions

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPLICAS = 3
SERVED = re.compile(
    r'^http_requests_total\{[^}]*route="/invocations"[^}]*status="200"[^}]*\}\s+([0-9.e+]+)$',
    re.M,
)


@pytest.fixture(scope="module")
def replicas(built_images: dict[str, str], timings: dict[str, float]) -> Iterator[Stack]:
    """The stack with three model replicas, the endpoint's host port left
    to the host (the compose file's default), the web app on loopback."""
    compose = docker_ready()
    project = f"sklearn-e2e-replicas-{secrets.token_hex(3)}"
    web_port = free_port()
    # Set empty, as the README says for --scale: a free port per replica.
    env = stack_env(built_images, web_port, MODEL_SERVICE_PUBLISH_PORT="")
    stack = Stack(compose, project, env, web_port, 0, timings)
    try:
        started = time.monotonic()
        stack.compose_run("up", "-d", "--scale", f"model_service={REPLICAS}", timeout=300)
        wait_for(
            f"{REPLICAS} model replicas and the web app healthy",
            lambda: (
                _healthy(stack, "model_service") == REPLICAS and _healthy(stack, "web_app") == 1
            ),
            timeout=240,
        )
        timings["replicas: up to healthy (s)"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        stack.compose_run("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


def _healthy(stack: Stack, service: str) -> int:
    ids = stack.container_ids(service)
    return sum(stack.inspect(c)["State"].get("Health", {}).get("Status") == "healthy" for c in ids)


def _replica_ports(stack: Stack) -> dict[str, int]:
    """Container id -> the loopback port its endpoint is published on."""
    ports = {}
    for container in stack.container_ids("model_service"):
        bindings = stack.inspect(container)["NetworkSettings"]["Ports"]["8080/tcp"]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"], bindings
        ports[container] = int(bindings[0]["HostPort"])
    return ports


def _served(port: int) -> float:
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, body[:300]
    return sum(float(n) for n in SERVED.findall(body))


def _failed_calls(stack: Stack) -> list[str]:
    """The web app's log lines about calls to the endpoint that failed."""
    logs = run(["docker", "logs", stack.container_id("web_app")], check=False)
    lines = (logs.stdout + logs.stderr).splitlines()
    return [line for line in lines if "failed" in line][-10:]


def test_each_replica_has_a_loopback_port_the_host_picked(replicas: Stack) -> None:
    ports = _replica_ports(replicas)
    assert len(ports) == REPLICAS
    assert len(set(ports.values())) == REPLICAS
    # `compose port` tells the same ports, replica by replica, on loopback.
    told = set()
    for index in range(1, REPLICAS + 1):
        host, port = replicas.published("model_service", 8080, index)
        assert host == "127.0.0.1"
        told.add(port)
    assert told == set(ports.values())
    for port in ports.values():
        assert http_get(f"http://127.0.0.1:{port}/ping")[0] == 200


def test_every_replica_serves_a_share(replicas: Stack, timings: dict[str, float]) -> None:
    ports = _replica_ports(replicas)
    before = {c: _served(p) for c, p in ports.items()}
    answered = predictions(replicas.web_url, 150)
    assert not answered.failed, answered.failures(0)
    assert answered.served == 150
    served = {c: _served(p) - before[c] for c, p in ports.items()}
    total = sum(served.values())
    # Every prediction the person got came from one of the replicas...
    assert total == answered.served, served
    shares = {c[:12]: round(n / total, 2) for c, n in served.items()}
    for number, share in enumerate(sorted(shares.values()), 1):
        timings[f"replicas: share of 150 predictions, replica {number}"] = share
    # ...and each replica took a real share of them, not a stray request.
    assert all(share >= 0.15 for share in shares.values()), shares


def test_stopping_a_replica_under_a_steady_stream_fails_no_request(
    replicas: Stack, timings: dict[str, float]
) -> None:
    """`docker stop`: SIGTERM, uvicorn stops accepting (the web app's next
    connection is refused and goes to another replica) and finishes what
    it has; then the name no longer resolves to it."""
    ids = replicas.container_ids("model_service")
    assert len(ids) == REPLICAS
    answered, began = around(
        replicas.web_url, lambda: run(["docker", "stop", "--time", "10", ids[0]])
    )
    timings["replicas: predictions while one of 3 stops"] = answered.served
    timings["replicas: failed while one of 3 stops"] = len(answered.failed)
    assert not answered.failed, (answered.failures(began), _failed_calls(replicas))
    assert answered.served > 50, answered


def test_killing_a_replica_fails_no_request(replicas: Stack, timings: dict[str, float]) -> None:
    """`docker kill`: nothing of the replica says goodbye. The request sent
    to it around the kill breaks: the one it was answering, or (as measured
    here, at every kill) the next one, sent over a kept-alive connection that
    no FIN had closed, and answered with a reset. No route of the endpoint
    changes anything, so the web app sends a request whose connection broke
    before any answer to one other replica (web_app/endpoint/replicas.py),
    and the person never sees it."""
    running = [c for c in replicas.container_ids("model_service") if _is_running(replicas, c)]
    assert len(running) == REPLICAS - 1
    answered, began = around(replicas.web_url, lambda: run(["docker", "kill", running[0]]))
    timings["replicas: predictions while one of 2 is killed"] = answered.served
    timings["replicas: failed while one of 2 is killed"] = len(answered.failed)
    assert not answered.failed, (answered.failures(began), _failed_calls(replicas))
    assert answered.served > 50, answered
    wait_for(
        "the web app healthy on the remaining replica",
        lambda: http_get(f"{replicas.web_url}/healthz")[0] == 200,
        timeout=30,
    )


def _is_running(stack: Stack, container: str) -> bool:
    return bool(stack.inspect(container)["State"]["Running"])
