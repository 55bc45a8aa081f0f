"""The endpoint client against a fake transport: the request it builds, the
retry policy, and every failure mapped to its typed error."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest
import requests
from web_fakes import (
    BASE_URL,
    FakeEndpoint,
    FakeTransport,
    diabetes_card,
    dropped,
    iris_card,
    refused,
    response,
)

from shared.codecs import encode_csv_rows, encode_json_rows
from shared.media import Format
from shared.problems import PROBLEM_MEDIA_TYPE
from web_app import client as c

ROW = [5.7, 3.0, 4.2, 1.2]


def make_client(
    handler: Callable[[requests.PreparedRequest], object], retries: int = 3
) -> tuple[c.EndpointClient, FakeTransport, list[float]]:
    transport = FakeTransport(handler)  # type: ignore[arg-type]
    session = requests.Session()
    session.mount("http://", transport)
    sleeps: list[float] = []
    endpoint_client = c.EndpointClient(
        BASE_URL,
        session,
        connect_timeout=1.5,
        read_timeout=9,
        retries=retries,
        backoff=0.1,
        sleep=sleeps.append,
    )
    return endpoint_client, transport, sleeps


def test_predict_sends_json_in_feature_order() -> None:
    endpoint = FakeEndpoint()
    endpoint_client, transport, _ = make_client(endpoint)
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", f"{BASE_URL}/invocations")
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert sent.body == encode_json_rows([ROW])
    assert answer.body.predictions == ["versicolor"]
    assert answer.exchange.request.body == encode_json_rows([ROW])


def test_predict_sends_csv_with_a_header() -> None:
    endpoint_client, transport, _ = make_client(FakeEndpoint())
    endpoint_client.predict([ROW, ROW], iris_card(), Format.CSV)
    sent = transport.requests[0]
    assert sent.headers["Content-Type"] == "text/csv; header=present"
    assert sent.body == encode_csv_rows(
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
    endpoint = FakeEndpoint()
    outcomes: list[object] = []

    def flaky(request: requests.PreparedRequest) -> object:
        outcomes.append(None)
        return refused(request) if len(outcomes) <= 2 else endpoint(request)

    endpoint_client, transport, sleeps = make_client(flaky)
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert answer.exchange.attempts == 3
    assert sleeps == [0.1, 0.2]
    assert len(transport.requests) == 3


def test_retries_are_bounded() -> None:
    endpoint_client, transport, sleeps = make_client(refused, retries=2)
    with pytest.raises(c.EndpointUnreachable) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert len(transport.requests) == 3
    assert sleeps == [0.1, 0.2]
    assert caught.value.exchange.attempts == 3
    assert caught.value.exchange.response is None


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
        pytest.param(refused, c.EndpointUnreachable, 503, 4, id="refused"),
        pytest.param(
            lambda r: requests.ConnectTimeout("connect timed out", request=r),
            c.ConnectTimeout,
            504,
            1,
            id="connect-timeout",
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
            1,
            id="503-not-ready",
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
        (c.EndpointNotReady, c.EndpointFailed),
        (c.EndpointFailed, c.EndpointError),
        (c.UnreadableResponse, c.EndpointError),
    ],
)
def test_the_exception_tree_is_as_drawn(child: type, parent: type) -> None:
    assert issubclass(child, parent)
    assert f"{child.__name__}" in (c.__doc__ or "")


def test_metadata_is_the_model_card() -> None:
    endpoint_client, transport, _ = make_client(FakeEndpoint())
    assert endpoint_client.metadata() == iris_card()
    assert transport.requests[0].method == "GET"
    assert transport.requests[0].url == f"{BASE_URL}/metadata"


def test_metadata_that_is_not_a_card_is_unreadable() -> None:
    endpoint_client, _, _ = make_client(json_answer({"name": "iris"}))
    with pytest.raises(c.UnreadableResponse, match="not a model card"):
        endpoint_client.metadata()


def test_metadata_is_retried_when_refused() -> None:
    endpoint = FakeEndpoint()
    seen: list[int] = []

    def flaky(request: requests.PreparedRequest) -> object:
        seen.append(1)
        return refused(request) if len(seen) == 1 else endpoint(request)

    endpoint_client, _, sleeps = make_client(flaky)
    assert endpoint_client.metadata().name == "iris"
    assert sleeps == [0.1]


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
