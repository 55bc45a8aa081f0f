"""The model service's limits against the real process (uvicorn): each is
answered with a 4xx that names it, and the service keeps serving; slow and
idle clients are cut off at the configured times without holding up others.
docs/deployment.md lists the limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from tests.integration.conftest import ServiceProcess, model_service
from tests.support.slow_clients import (
    SlowClients,
    body_of,
    exchange,
    slow_clients,
    status_of,
)

pytestmark = pytest.mark.integration

#: Small limits, so each is reached with little traffic.
LIMITS = {
    "MODEL_SERVICE_MAX_BODY_BYTES": "2000",
    "MODEL_SERVICE_MAX_ROWS": "5",
    "MODEL_SERVICE_MAX_HEAD_BYTES": "8192",
    "MODEL_SERVICE_KEEP_ALIVE_SECONDS": "2",
    "MODEL_SERVICE_BODY_TIMEOUT_SECONDS": "2",
}
ROW = b"5.1,3.5,1.4,0.2\n"
#: How long a normal request may take while the slow clients are connected.
PROMPT = 3.0


@pytest.fixture(scope="module")
def service(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    with model_service(model_dirs["iris"], tmp_path_factory.mktemp("logs"), **LIMITS) as running:
        yield running


def predict(service: ServiceProcess, body: bytes, **headers: str) -> requests.Response:
    return requests.post(
        service.url + "/invocations",
        data=body,
        headers={"Content-Type": "text/csv", **headers},
        timeout=PROMPT,
    )


def assert_still_serving(service: ServiceProcess) -> None:
    answer = predict(service, ROW)
    assert answer.status_code == 200
    assert answer.json()["predictions"] == ["setosa"]


def test_a_body_over_the_limit_is_a_413_naming_it(service: ServiceProcess) -> None:
    answer = predict(service, ROW * 200)
    assert answer.status_code == 413
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "the limit is 2,000 bytes" in answer.json()["detail"]
    assert_still_serving(service)


def test_more_rows_than_the_limit_is_a_413_naming_it(service: ServiceProcess) -> None:
    answer = predict(service, ROW * 6)
    assert answer.status_code == 413
    assert "limit of 5 rows" in answer.json()["detail"]
    assert predict(service, ROW * 5).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 10_000 + b"\r\n",  # one long header
        b"".join(b"X-H%d: v\r\n" % i for i in range(1_000)),  # many short ones
    ],
    ids=["one-long-header", "a-thousand-headers"],
)
def test_a_head_over_the_limit_is_a_431_naming_it(service: ServiceProcess, headers: bytes) -> None:
    answer = exchange(service.url, b"GET /ping HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
    assert status_of(answer) == 431
    problem = orjson.loads(body_of(answer))
    assert problem["status"] == 431
    assert "limit of 8,192 bytes (MODEL_SERVICE_MAX_HEAD_BYTES)" in problem["detail"]
    assert_still_serving(service)


def test_a_head_under_the_limit_is_served(service: ServiceProcess) -> None:
    answer = exchange(
        service.url,
        b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: "
        + b"a" * 7_000
        + b"\r\nConnection: close\r\n\r\n",
    )
    assert status_of(answer) == 200


def test_a_request_that_is_not_http_gets_uvicorns_own_400(service: ServiceProcess) -> None:
    # Answered by uvicorn before the application sees a request (docs/errors.md).
    answer = exchange(service.url, b"\x16\x03\x01 this is not HTTP\r\n\r\n")
    assert status_of(answer) == 400
    assert body_of(answer) == b"Invalid HTTP request received."
    assert_still_serving(service)


def test_idle_connections_are_closed_and_do_not_hold_up_others(service: ServiceProcess) -> None:
    with slow_clients(SlowClients(service.url, count=20, give_up=15)) as idle:
        start = time.monotonic()
        assert_still_serving(service)
        assert time.monotonic() - start < PROMPT
    # MODEL_SERVICE_KEEP_ALIVE_SECONDS=2: closed after 2 s, never held for ever
    assert all(t is not None and 1.5 < t < 5 for t in idle.closed_after), idle.closed_after


def test_a_trickled_head_is_cut_off_and_does_not_hold_up_others(service: ServiceProcess) -> None:
    head = b"GET /ping HTTP/1.1\r\nHost: t\r\n" + b"X-Slow: " + b"a" * 200
    with slow_clients(SlowClients(service.url, count=20, trickled=head, give_up=15)) as trickling:
        time.sleep(0.5)
        start = time.monotonic()
        assert_still_serving(service)
        assert time.monotonic() - start < PROMPT
    assert all(t is not None and 1.5 < t < 5 for t in trickling.closed_after)
    assert trickling.answers == [b""] * 20  # closed, no request was ever made


def test_a_trickled_body_is_a_408_naming_the_limit(service: ServiceProcess) -> None:
    body = ROW * 10
    head = (
        b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: text/csv\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    slow = SlowClients(service.url, count=20, at_once=head, trickled=body, pause=0.3, give_up=15)
    with slow_clients(slow) as trickling:
        time.sleep(1)
        start = time.monotonic()
        assert_still_serving(service)
        assert time.monotonic() - start < PROMPT
    # 160 bytes would take 48 s at this pace: at 2 s each gets the 408 and is closed
    assert all(t is not None and 1.5 < t < 5 for t in trickling.closed_after)
    for answer in trickling.answers:
        assert status_of(answer) == 408
        assert b"connection: close" in answer.lower()
        problem = orjson.loads(body_of(answer))
        assert problem["type"].endswith("/problems/request-timeout")
        assert "limit of 2 seconds (MODEL_SERVICE_BODY_TIMEOUT_SECONDS)" in problem["detail"]
    assert_still_serving(service)


def test_worker_processes_have_the_same_head_limits(
    model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    # MODEL_SERVICE_WORKERS > 1 runs uvicorn's supervisor (model_service.workers),
    # which names the protocol by import path: the limits must reach each worker.
    with model_service(model_dirs["iris"], tmp_path, MODEL_SERVICE_WORKERS="2", **LIMITS) as many:
        for _ in range(4):  # the kernel spreads connections over both workers
            answer = exchange(
                many.url, b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n"
            )
            assert status_of(answer) == 431
        with slow_clients(SlowClients(many.url, count=4, give_up=15)) as idle:
            assert_still_serving(many)
        assert all(t is not None and 1.5 < t < 5 for t in idle.closed_after), idle.closed_after
