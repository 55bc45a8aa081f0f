"""The endpoint client against a fake transport: the request it builds, the
retry policy, and every failure mapped to its typed error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest
import requests

from shared.codecs.csv import encode_csv_request
from shared.codecs.json import encode_json_request
from shared.media import Format
from shared.problems import PROBLEM_MEDIA_TYPE
from tests.support.web_fakes import (
    BASE_URL,
    FakeEndpoint,
    FakeTransport,
    diabetes_card,
    dropped,
    iris_card,
    refused,
    response,
)
from web_app import endpoint as c
from web_app.endpoint import errors

ROW = [5.7, 3.0, 4.2, 1.2]


class FakeClock:
    """A monotonic clock that moves only when the client sleeps (or a test
    says), so retry deadlines are tested without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def make_client(
    handler: Callable[[requests.PreparedRequest], object],
    *,
    retry_seconds: float = 15.0,
    max_attempts: int = 40,
    clock: FakeClock | None = None,
) -> tuple[c.EndpointClient, FakeTransport, list[float]]:
    transport = FakeTransport(handler)  # type: ignore[arg-type]
    session = requests.Session()
    session.mount("http://", transport)
    clock = clock or FakeClock()
    endpoint_client = c.EndpointClient(
        BASE_URL,
        session,
        connect_timeout=1.5,
        read_timeout=9,
        retry=c.RetryPolicy(
            seconds=retry_seconds,
            backoff=0.25,
            max_pause=1.0,
            max_attempts=max_attempts,
            sleep=clock.sleep,
            clock=clock,
        ),
    )
    return endpoint_client, transport, clock.sleeps


def not_ready(
    request: requests.PreparedRequest, retry_after: str | None = None
) -> requests.Response:
    """What the model service answers while its model loads."""
    return response(
        request,
        503,
        {
            "type": "/problems/not-ready",
            "title": "The model is not loaded yet",
            "status": 503,
        },
        PROBLEM_MEDIA_TYPE,
        {"Retry-After": retry_after} if retry_after is not None else None,
    )


def first_then(
    failures: list[Callable[[requests.PreparedRequest], object]],
    then: Callable[[requests.PreparedRequest], object],
) -> Callable[[requests.PreparedRequest], object]:
    """A handler that meets each of `failures` in turn, then `then` for good."""
    seen: list[int] = []

    def handle(request: requests.PreparedRequest) -> object:
        seen.append(1)
        return failures[len(seen) - 1](request) if len(seen) <= len(failures) else then(request)

    return handle


def test_predict_sends_json_in_feature_order() -> None:
    endpoint = FakeEndpoint()
    endpoint_client, transport, _ = make_client(endpoint)
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", f"{BASE_URL}/invocations")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.body == encode_json_request([ROW])
    assert answer.body.predictions == ["versicolor"]
    assert answer.exchange.request.body == encode_json_request([ROW])


def test_predict_sends_csv_with_a_header() -> None:
    endpoint_client, transport, _ = make_client(FakeEndpoint())
    endpoint_client.predict([ROW, ROW], iris_card(), Format.CSV)
    sent = transport.requests[0]
    assert sent.headers["Content-Type"] == "text/csv; header=present"
    assert sent.body == encode_csv_request(
        [ROW, ROW], ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    )


def test_timeouts_are_connect_and_read() -> None:
    endpoint_client, transport, _ = make_client(FakeEndpoint())
    endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert transport.timeouts == [(1.5, 9)]


def test_each_call_has_its_own_request_id_which_the_exchange_reports() -> None:
    endpoint_client, transport, _ = make_client(FakeEndpoint())
    first = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    second = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    ids = [r.headers["X-Request-ID"] for r in transport.requests]
    assert len(set(ids)) == 2
    assert [first.exchange.request_id, second.exchange.request_id] == ids
    assert first.exchange.response is not None
    assert first.exchange.response.header("x-model-name") == "iris"


def test_a_refused_connection_is_retried_with_a_doubling_pause_then_answers() -> None:
    endpoint_client, transport, sleeps = make_client(first_then([refused, refused], FakeEndpoint()))
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert answer.exchange.attempts == 3
    assert answer.exchange.retried == (c.REFUSED, c.REFUSED)
    assert sleeps == [0.25, 0.5]
    assert len(transport.requests) == 3
    assert len({r.headers["X-Request-ID"] for r in transport.requests}) == 1  # one call, resent


def test_a_503_while_the_model_loads_is_retried_then_answers() -> None:
    endpoint_client, transport, sleeps = make_client(
        first_then([not_ready, not_ready], FakeEndpoint())
    )
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert answer.body.predictions == ["versicolor"]
    assert answer.exchange.attempts == 3
    assert answer.exchange.retried == (c.NOT_READY, c.NOT_READY)
    assert answer.exchange.response is not None
    assert answer.exchange.response.status == 200
    assert sleeps == [0.25, 0.5]
    assert [r.body for r in transport.requests] == [encode_json_request([ROW])] * 3  # POST resent


def test_a_swap_as_seen_from_here_is_a_slower_answer() -> None:
    """No such host, then refused, then 503 until the model is loaded, then
    the answer (the same model: a restart; another one is `ModelChanged`,
    tests/unit/web_app/test_web_model_changed.py)."""
    endpoint_client, _, sleeps = make_client(
        first_then([refused] * 4 + [not_ready] * 5, FakeEndpoint(card=iris_card()))
    )
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert answer.exchange.attempts == 10
    assert answer.exchange.retried == (c.REFUSED,) * 4 + (c.NOT_READY,) * 5
    assert sleeps == [0.25, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # capped at max_pause
    assert sum(sleeps) < 15


def test_retries_stop_at_the_deadline_and_the_last_pause_ends_on_it() -> None:
    endpoint_client, transport, sleeps = make_client(refused, retry_seconds=3.0)
    with pytest.raises(c.EndpointUnreachable) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert sleeps == [0.25, 0.5, 1.0, 1.0, 0.25]  # 3 s in all; the last attempt at the deadline
    assert caught.value.exchange.attempts == len(transport.requests) == 6
    assert caught.value.exchange.retried == (c.REFUSED,) * 5
    assert caught.value.exchange.response is None
    assert "6 attempts" in caught.value.message


def test_time_spent_in_the_attempts_counts_against_the_deadline() -> None:
    clock = FakeClock()

    def slow_refusal(request: requests.PreparedRequest) -> object:
        clock.now += 2.0  # a name lookup that takes a while to fail
        return refused(request)

    endpoint_client, transport, sleeps = make_client(slow_refusal, retry_seconds=5.0, clock=clock)
    with pytest.raises(c.EndpointUnreachable):
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert sleeps == [0.25, 0.5]  # 2 + 0.25 + 2 + 0.5 + 2 > 5
    assert len(transport.requests) == 3


def test_retries_are_bounded_in_count_too() -> None:
    endpoint_client, transport, _ = make_client(refused, max_attempts=3)
    with pytest.raises(c.EndpointUnreachable) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert len(transport.requests) == caught.value.exchange.attempts == 3


def test_a_503_to_the_end_is_not_ready_with_the_last_answer_kept() -> None:
    endpoint_client, transport, sleeps = make_client(not_ready, retry_seconds=2.0)
    with pytest.raises(c.EndpointNotReady) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    exchange = caught.value.exchange
    assert sleeps == [0.25, 0.5, 1.0, 0.25]
    assert exchange.attempts == len(transport.requests) == 5
    assert exchange.retried == (c.NOT_READY,) * 4
    assert exchange.response is not None
    assert exchange.response.status == 503
    assert b"/problems/not-ready" in exchange.response.body
    assert caught.value.status_code == 503


@pytest.mark.parametrize(
    ("retry_after", "pauses"),
    [
        pytest.param("2", [2.0, 2.0], id="seconds"),
        pytest.param("0", [0.25, 0.5], id="zero-is-our-own-backoff"),
        pytest.param("3600", [5.0, 5.0], id="capped"),
        pytest.param("soon", [0.25, 0.5], id="unreadable-ignored"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", [0.25, 0.5], id="a-past-date"),
    ],
)
def test_a_503s_retry_after_is_honoured_up_to_a_cap(retry_after: str, pauses: list[float]) -> None:
    endpoint_client, _, sleeps = make_client(
        first_then([lambda r: not_ready(r, retry_after)] * 2, FakeEndpoint())
    )
    endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert sleeps == pauses


def test_a_retry_after_date_in_the_future_is_read() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    endpoint_client, _, sleeps = make_client(
        first_then([lambda r: not_ready(r, soon)], FakeEndpoint())
    )
    endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert len(sleeps) == 1
    assert 2.0 <= sleeps[0] <= 4.0


def test_no_retries_when_the_deadline_is_zero() -> None:
    endpoint_client, transport, sleeps = make_client(refused, retry_seconds=0)
    with pytest.raises(c.EndpointUnreachable):
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert (len(transport.requests), sleeps) == (1, [])


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda r: requests.ReadTimeout("t", request=r), id="read-timeout"),
        pytest.param(dropped, id="connection-dropped"),
        pytest.param(lambda r: response(r, 502, b"bad gateway", reason="Bad Gateway"), id="502"),
        pytest.param(lambda r: response(r, 500, b"oops", reason="Internal Server Error"), id="500"),
    ],
)
def test_what_may_have_been_processed_is_not_retried(
    failure: Callable[[requests.PreparedRequest], object],
) -> None:
    endpoint_client, transport, sleeps = make_client(first_then([failure], FakeEndpoint()))
    with pytest.raises(c.EndpointError):
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert (len(transport.requests), sleeps) == (1, [])


def json_answer(
    body: object, status: int = 200, content_type: str | None = None
) -> Callable[[requests.PreparedRequest], requests.Response]:
    return lambda request: response(
        request, status, orjson.dumps(body), content_type or "application/json"
    )


PROBLEM_422 = {
    "type": "/problems/invalid-rows",
    "title": "The rows are not valid input for this model",
    "status": 422,
    "detail": "row 0, column 'petal_length': not a number: 'x'",
    "errors": [{"row": 0, "column": "petal_length", "message": "not a number: 'x'"}],
}


@pytest.mark.parametrize(
    ("handler", "error", "status", "attempts"),
    [
        pytest.param(refused, c.EndpointUnreachable, 503, 18, id="refused-until-the-deadline"),
        pytest.param(
            lambda r: requests.ConnectTimeout("connect timed out", request=r),
            c.ConnectTimeout,
            504,
            18,
            id="connect-timeout-until-the-deadline",
        ),
        pytest.param(
            lambda r: requests.ReadTimeout("read timed out", request=r),
            c.ReadTimeout,
            504,
            1,
            id="read-timeout",
        ),
        pytest.param(dropped, c.ConnectionLost, 502, 1, id="connection-dropped"),
        pytest.param(
            json_answer(PROBLEM_422, 422, PROBLEM_MEDIA_TYPE),
            c.EndpointRejected,
            502,
            1,
            id="422-problem",
        ),
        pytest.param(
            json_answer(
                {"title": "Unsupported Content-Type", "status": 415}, 415, PROBLEM_MEDIA_TYPE
            ),
            c.EndpointRejected,
            502,
            1,
            id="415-problem",
        ),
        pytest.param(
            lambda r: response(r, 404, b"<h1>nope</h1>", "text/html", reason="Not Found"),
            c.EndpointRejected,
            502,
            1,
            id="404-html",
        ),
        pytest.param(
            json_answer({"title": "Internal Server Error", "status": 500}, 500, PROBLEM_MEDIA_TYPE),
            c.EndpointFailed,
            502,
            1,
            id="500",
        ),
        pytest.param(
            lambda r: response(r, 502, b"bad gateway", reason="Bad Gateway"),
            c.EndpointFailed,
            502,
            1,
            id="502-from-a-proxy",
        ),
        pytest.param(
            lambda r: response(r, 503, b"", reason="Service Unavailable"),
            c.EndpointNotReady,
            503,
            18,
            id="503-not-ready-until-the-deadline",
        ),
        pytest.param(
            lambda r: response(r, 200, b"<html>", "text/html"),
            c.UnreadableResponse,
            502,
            1,
            id="200-not-json",
        ),
        pytest.param(
            json_answer({"hello": "world"}), c.UnreadableResponse, 502, 1, id="200-wrong-shape"
        ),
        pytest.param(
            json_answer(
                {
                    "model": {"name": "iris", "version": "1"},
                    "predictions": ["setosa", "setosa"],
                    "probabilities": [[1, 0, 0], [1, 0, 0]],
                    "classes": ["setosa", "versicolor", "virginica"],
                }
            ),
            c.UnreadableResponse,
            502,
            1,
            id="200-too-many-predictions",
        ),
        pytest.param(
            json_answer({"model": {"name": "iris", "version": "1"}, "predictions": ["setosa"]}),
            c.UnreadableResponse,
            502,
            1,
            id="200-classifier-without-probabilities",
        ),
        pytest.param(
            json_answer(
                {
                    "model": {"name": "iris", "version": "1"},
                    "predictions": ["setosa"],
                    "probabilities": [[1, 0]],
                    "classes": ["setosa", "versicolor", "virginica"],
                }
            ),
            c.UnreadableResponse,
            502,
            1,
            id="200-probabilities-per-class-mismatch",
        ),
        pytest.param(
            lambda r: response(r, 304, b""), c.UnreadableResponse, 502, 1, id="304-unexpected"
        ),
    ],
)
def test_every_failure_maps_to_its_typed_error(
    handler: Callable[[requests.PreparedRequest], object],
    error: type[c.EndpointError],
    status: int,
    attempts: int,
) -> None:
    endpoint_client, transport, _ = make_client(handler)
    with pytest.raises(error) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert type(caught.value) is error
    assert caught.value.status_code == status
    assert caught.value.exchange.attempts == attempts
    assert len(transport.requests) == attempts
    assert caught.value.exchange.request.url == f"{BASE_URL}/invocations"


def test_a_4xx_keeps_the_endpoints_problem() -> None:
    endpoint_client, _, _ = make_client(json_answer(PROBLEM_422, 422, PROBLEM_MEDIA_TYPE))
    with pytest.raises(c.EndpointRejected) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    problem = caught.value.problem
    assert problem.status == 422
    assert problem.errors is not None
    assert (problem.errors[0].row, problem.errors[0].column) == (0, "petal_length")


def test_a_4xx_without_problem_json_gets_one_from_its_status_line() -> None:
    endpoint_client, _, _ = make_client(
        lambda r: response(r, 404, b"<h1>nope</h1>", "text/html", reason="Not Found")
    )
    with pytest.raises(c.EndpointRejected) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert (caught.value.problem.status, caught.value.problem.title) == (404, "Not Found")


def test_a_regression_answer_needs_no_probabilities() -> None:
    endpoint_client, _, _ = make_client(FakeEndpoint(card=diabetes_card()))
    answer = endpoint_client.predict([[50, 30]], diabetes_card(), Format.CSV)
    assert answer.body.predictions == [150.0]


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (c.EndpointUnreachable, c.TransportError),
        (c.ConnectTimeout, c.EndpointTimeout),
        (c.ReadTimeout, c.EndpointTimeout),
        (c.EndpointTimeout, c.TransportError),
        (c.ConnectionLost, c.TransportError),
        (c.TransportError, c.EndpointError),
        (c.EndpointRejected, c.EndpointError),
        (c.EndpointUnauthorized, c.EndpointRejected),
        (c.EndpointNotReady, c.EndpointFailed),
        (c.EndpointFailed, c.EndpointError),
        (c.UnreadableResponse, c.EndpointError),
    ],
)
def test_the_exception_tree_is_as_drawn(child: type, parent: type) -> None:
    assert issubclass(child, parent)
    assert f"{child.__name__}" in (errors.__doc__ or "")


def test_metadata_is_the_model_card() -> None:
    endpoint_client, transport, _ = make_client(FakeEndpoint())
    assert endpoint_client.metadata() == iris_card()
    assert transport.requests[0].method == "GET"
    assert transport.requests[0].url == f"{BASE_URL}/metadata"


def test_metadata_that_is_not_a_card_is_unreadable() -> None:
    endpoint_client, _, _ = make_client(json_answer({"name": "iris"}))
    with pytest.raises(c.UnreadableResponse, match="not a model card"):
        endpoint_client.metadata()


@pytest.mark.parametrize("failure", [refused, not_ready], ids=["refused", "503"])
def test_metadata_is_retried_like_a_prediction(
    failure: Callable[[requests.PreparedRequest], object],
) -> None:
    endpoint_client, _, sleeps = make_client(first_then([failure], FakeEndpoint()))
    assert endpoint_client.metadata().name == "iris"
    assert sleeps == [0.25]


@pytest.mark.parametrize(
    ("handler", "ready", "status"),
    [
        (lambda r: response(r, 200, b""), True, 200),
        (lambda r: response(r, 503, b""), False, 503),
        (refused, False, None),
        (lambda r: requests.ReadTimeout("slow", request=r), False, None),
    ],
)
def test_ping_reports_readiness_without_retrying(
    handler: Callable[[requests.PreparedRequest], object], ready: bool, status: int | None
) -> None:
    endpoint_client, transport, sleeps = make_client(handler)
    ping = endpoint_client.ping()
    assert (ping.ready, ping.status) == (ready, status)
    assert len(transport.requests) == 1
    assert transport.timeouts == [(1.5, 2.0)]  # the read timeout capped for health checks
    assert sleeps == []
