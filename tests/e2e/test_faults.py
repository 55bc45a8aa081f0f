"""Faults under traffic, over compose: a model swap and a killed model
while people keep sending predictions through the web app, then SIGTERM
to each service with a 10,000-row request in flight. Every test reports
its counts (run with -s to see them; they also go to the e2e timings).

One stack for the whole file, with the web app's default retry window
(30 s), in this order: hardening, swap (iris to wine), kill, the web app's
shutdown, the model service's shutdown.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import up_stack
from tests.support.compose import Stack, http_get, run, wait_for
from tests.support.hardening import assert_hardened
from tests.support.traffic import Outcome, Traffic, counts, median

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

#: docker-compose.yml's stop_grace_period for both services.
STOP_GRACE_SECONDS = 30
ROWS = 10_000


@pytest.fixture(scope="module")
def stack(built_images: dict[str, str], timings: dict[str, float]) -> Iterator[Stack]:
    # WEB_APP_RETRY_SECONDS unset: the web app's default, as users run it.
    with up_stack(built_images, timings, WEB_APP_RETRY_SECONDS=None) as running:
        yield running


def report(stack: Stack, title: str, lines: dict[str, object]) -> None:
    print(f"\n--- {title} ---")
    for name, value in lines.items():
        print(f"{name}: {value}")
        stack.timings[f"{title}: {name}"] = value  # type: ignore[assignment]


def test_both_containers_are_hardened(stack: Stack) -> None:
    for service in ("model_service", "web_app"):
        assert_hardened(stack, service)
        info = stack.inspect(stack.container_id(service))
        assert info["Config"]["StopTimeout"] == STOP_GRACE_SECONDS, service


def answered(outcomes: list[Outcome], model: str) -> int:
    """How many predictions of `model` (its form's id, name first) were answered."""
    return sum(o.kind == "ok" and o.model.startswith(model) for o in outcomes)


def test_a_model_swap_under_traffic_fails_no_request(
    stack: Stack, built_images: dict[str, str]
) -> None:
    web_before = stack.inspect(stack.container_id("web_app"))
    traffic = Traffic(stack.web_url, users=3, interval=0.5, max_seconds=400).start()
    try:
        traffic.wait_for("answers from iris", lambda o: answered(o, "iris:") >= 9, 120)
        swapped_at = time.monotonic()
        stack.env["MODEL_IMAGE"] = built_images["wine"]
        stack.compose_run("up", "-d", "model_service", timeout=300)
        up_returned = time.monotonic() - swapped_at
        # As many answers from wine as there were from iris: the users moved on.
        traffic.wait_for("answers from wine", lambda o: answered(o, "wine:") >= 9, 300)
    finally:
        outcomes = traffic.stop()
    before = [o for o in outcomes if o.sent < swapped_at]
    first_wine = min(o.sent for o in outcomes if o.kind == "ok" and o.model.startswith("wine:"))
    during = [o for o in outcomes if swapped_at <= o.sent <= first_wine]
    baseline = median([o.seconds for o in before if o.kind == "ok"])
    slowest = max(o.seconds for o in during)
    report(
        stack,
        "swap under traffic",
        {
            "requests": len(outcomes),
            "by kind": counts(outcomes),
            "409 model changed (sent again by the user)": counts(outcomes).get("changed", 0),
            "failed": counts(outcomes).get("failed", 0) + counts(outcomes).get("friendly", 0),
            "compose up -d returned after (s)": round(up_returned, 1),
            "median latency before (ms)": round(baseline * 1000),
            "slowest answer during the swap (ms)": round(slowest * 1000),
            "added latency (ms)": round((slowest - baseline) * 1000),
        },
    )
    failures = [o for o in outcomes if o.kind not in ("ok", "changed")]
    assert failures == [], _shown(failures)
    web_after = stack.inspect(stack.container_id("web_app"))
    assert web_after["State"]["StartedAt"] == web_before["State"]["StartedAt"]
    assert stack.metadata()["name"] == "wine"


def test_a_killed_model_under_traffic_shows_only_friendly_pages_and_recovers(
    stack: Stack,
) -> None:
    container = stack.container_id("model_service")
    restarts = stack.inspect(container)["RestartCount"]
    web_before = stack.inspect(stack.container_id("web_app"))
    traffic = Traffic(stack.web_url, users=3, interval=0.5, max_seconds=400).start()
    try:
        traffic.wait_for("answers before the kill", lambda o: answered(o, "wine:") >= 6, 120)
        pid = stack.inspect(container)["State"]["Pid"]
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # a crash, not `docker kill` (a deliberate stop)
        healthy_after = wait_for(
            "the model restarted", lambda: stack.health("model_service") == "healthy", 180
        )
        back = time.monotonic()
        traffic.wait_for(
            "answers after the restart",
            lambda o: sum(x.kind == "ok" and x.sent > back for x in o) >= 6,
            120,
        )
    finally:
        outcomes = traffic.stop()
    after = [o for o in outcomes if o.sent + o.seconds >= killed_at]
    first_ok = min(o.sent + o.seconds for o in after if o.kind == "ok")
    report(
        stack,
        "kill under traffic",
        {
            "requests": len(outcomes),
            "by kind": counts(outcomes),
            "failed (friendly 502/503/504 pages)": counts(outcomes).get("friendly", 0),
            "model healthy again after (s)": round(healthy_after, 1),
            "first answer after the kill (s)": round(first_ok - killed_at, 1),
            "slowest answer (ms)": round(max(o.seconds for o in after) * 1000),
        },
    )
    unfriendly = [o for o in outcomes if o.kind not in ("ok", "friendly")]
    assert unfriendly == [], _shown(unfriendly)
    assert stack.container_id("model_service") == container
    assert stack.inspect(container)["RestartCount"] > restarts
    web_after = stack.inspect(stack.container_id("web_app"))
    assert web_after["State"]["StartedAt"] == web_before["State"]["StartedAt"], "web app restarted"


def test_sigterm_to_the_web_app_finishes_a_10000_row_upload_in_flight(stack: Stack) -> None:
    card = stack.metadata()
    browser = requests.Session()
    page = browser.get(f"{stack.web_url}/batch", timeout=30).text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    upload = requests.Request(
        "POST",
        f"{stack.web_url}/batch",
        data={"csrf_token": token, "format": "csv"},
        files={"file": ("rows.csv", _rows_csv(card, ROWS), "text/csv")},
    )
    prepared = browser.prepare_request(upload)
    status, body, stopped = _stop_with_request_in_flight(
        stack,
        "web_app",
        "/batch",
        dict(prepared.headers),
        prepared.body,  # type: ignore[arg-type]
        healthcheck=f"{stack.web_url}/healthz",
    )
    assert status == 200, body[:500]
    assert f"{ROWS:,} rows predicted" in body
    report(stack, "SIGTERM to the web app", stopped)


def test_sigterm_to_the_model_service_finishes_a_10000_row_request_in_flight(
    stack: Stack,
) -> None:
    card = stack.metadata()
    status, body, stopped = _stop_with_request_in_flight(
        stack,
        "model_service",
        "/invocations",
        {"Content-Type": "text/csv; header=present", "Accept": "application/json"},
        _rows_csv(card, ROWS),
        healthcheck=f"{stack.model_url}/ping",
    )
    assert status == 200, body[:500]
    assert len(json.loads(body)["predictions"]) == ROWS
    report(stack, "SIGTERM to the model service", stopped)


# --- pieces ---------------------------------------------------------------------------


def _rows_csv(card: dict[str, object], rows: int) -> bytes:
    features = card["features"]
    assert isinstance(features, list)
    names = [f["name"] for f in features]
    examples = [float(f["example"]) for f in features]
    lines = [",".join(names)]
    lines += [",".join(f"{v * (0.9 + (i % 21) / 100):.4f}" for v in examples) for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _stop_with_request_in_flight(
    stack: Stack,
    service: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    *,
    healthcheck: str,
) -> tuple[int, str, dict[str, object]]:
    """Send all of `body` but its last bytes, wait until the service is
    reading it, stop the service (compose: SIGTERM, then SIGKILL after the
    stop_grace_period), wait until it refuses new connections, send the
    rest: the answer, and what the stop did."""
    container = stack.container_id(service)
    port = stack.web_port if service == "web_app" else stack.model_port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.putrequest("POST", path)
    for name, value in headers.items():
        if name.lower() != "content-length":
            connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    held = 64
    connection.send(body[:-held])
    pid = stack.inspect(container)["State"]["Pid"]
    wait_for(
        "the service reading the request",
        lambda: _reading(pid, 8000 if service == "web_app" else 8080),
        60,
    )

    stop_result: dict[str, float] = {}

    def stop() -> None:
        started = time.monotonic()
        stack.compose_run("stop", service, timeout=STOP_GRACE_SECONDS + 60)
        stop_result["seconds"] = time.monotonic() - started

    stopper = threading.Thread(target=stop)
    signalled = time.monotonic()
    stopper.start()
    wait_for("new connections refused", lambda: http_get(healthcheck, timeout=2)[0] == 0, 25, 0.2)
    refused_after = time.monotonic() - signalled
    still_running = stack.inspect(container)["State"]["Running"]
    connection.send(body[-held:])
    try:
        response = connection.getresponse()
        answer = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        stopper.join(timeout=STOP_GRACE_SECONDS + 90)
        logs = run(["docker", "logs", "--tail", "40", container], check=False)
        raise AssertionError(
            f"no answer to the request in flight ({exc!r}); the service's log:\n"
            + logs.stdout[-6000:]
            + logs.stderr[-6000:]
        ) from exc
    answered_after = time.monotonic() - signalled
    connection.close()
    stopper.join(timeout=STOP_GRACE_SECONDS + 90)
    state = stack.inspect(container)["State"]
    stopped = {
        "refusing new connections after (s)": round(refused_after, 1),
        "in-flight request answered after (s)": round(answered_after, 1),
        "in-flight answer status": response.status,
        "stopped after (s)": round(stop_result.get("seconds", float("nan")), 1),
        "exit code": state["ExitCode"],
    }
    assert still_running, "the service exited before the request in flight was finished"
    assert not state["Running"]
    assert state["ExitCode"] == 0, (
        f"killed rather than exited (grace {STOP_GRACE_SECONDS} s): {state}"
    )
    assert stop_result["seconds"] < STOP_GRACE_SECONDS
    return response.status, answer, stopped


def _reading(pid: int, port: int) -> bool:
    """Whether the container (its main process `pid`, seen from the host)
    has accepted our connection on `port` and read everything sent on it so
    far: its listening socket's accept queue is empty, and there is an
    established connection to the port from outside the container (the
    HEALTHCHECK's come from loopback) with nothing left unread."""
    listening, established = [], []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            unread = int(queues.split(":")[1], 16)
            if state == "0A":
                listening.append(unread)
            elif state == "01" and not _loopback(remote.rsplit(":", 1)[0]):
                established.append(unread)
    return bool(listening) and bool(established) and not any(listening + established)


def _loopback(address: str) -> bool:
    """An address as /proc/net/tcp{,6} writes it (hex, little-endian words)."""
    if len(address) == 8:  # IPv4: 127.0.0.1 is 0100007F
        return address.endswith("7F")
    v4_mapped = address.startswith("0000000000000000FFFF0000") and address.endswith("7F")
    return v4_mapped or address == "00000000000000000000000001000000"  # ::1


def _shown(outcomes: list[Outcome]) -> str:
    return "\n".join(
        f"{o.status} {o.kind} {o.model} {o.seconds:.1f}s {o.detail[:200]!r}" for o in outcomes[:10]
    )
