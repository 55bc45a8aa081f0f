"""A model swapped under traffic, as the web app meets it: a connection not
accepted in time is sent again like a refused one, and an answer from
another model than the card the request was built from is never shown as
the user's result (409, asked again with the new model's form)."""

from __future__ import annotations

import html

import pytest
import requests
from flask.testing import FlaskClient

from shared.media import Format
from tests.support.web_fakes import (
    FakeEndpoint,
    csrf_token,
    diabetes_card,
    form_fields,
    iris_card,
    refused,
    response,
)
from tests.unit.web_app.test_web_client import ROW, first_then, make_client
from web_app import endpoint as c


def connect_timeout(request: requests.PreparedRequest) -> requests.ConnectTimeout:
    return requests.ConnectTimeout("connect timed out", request=request)


def test_a_connect_timeout_is_sent_again_then_answers() -> None:
    handler = first_then([connect_timeout, refused, connect_timeout], FakeEndpoint())
    endpoint_client, transport, sleeps = make_client(handler)
    answer = endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert len(transport.requests) == 4
    assert answer.exchange.retried == (c.REFUSED,) * 3
    assert sleeps == [0.25, 0.5, 1.0]


def test_connect_timeouts_to_the_deadline_are_a_504() -> None:
    endpoint_client, transport, _ = make_client(connect_timeout, retry_seconds=2.0)
    with pytest.raises(c.ConnectTimeout):
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert len(transport.requests) > 1


def test_the_default_retry_window_outlasts_a_slow_swap() -> None:
    assert c.RetryPolicy().seconds == 30.0


@pytest.mark.parametrize(
    ("served", "status"),
    [
        pytest.param(iris_card(version="2"), 200, id="another-version-answers"),
        pytest.param(diabetes_card(), 200, id="another-model-answers"),
        pytest.param(diabetes_card(), 422, id="another-model-refuses"),
    ],
)
def test_an_answer_from_another_model_is_model_changed(served: object, status: int) -> None:
    def other_model(request: requests.PreparedRequest) -> requests.Response:
        card = served
        headers = {"X-Model-Name": card.name, "X-Model-Version": card.version}  # type: ignore[attr-defined]
        body = {"title": "Unprocessable", "status": 422} if status == 422 else {}
        return response(request, status, body, headers=headers)

    endpoint_client, _, _ = make_client(other_model)
    with pytest.raises(c.ModelChanged) as caught:
        endpoint_client.predict([ROW], iris_card(), Format.JSON)
    assert caught.value.status_code == 409
    assert caught.value.served.startswith(served.name)  # type: ignore[attr-defined]


def test_an_answer_that_names_no_model_is_judged_by_its_status() -> None:
    def anonymous(request: requests.PreparedRequest) -> requests.Response:
        answer = FakeEndpoint()(request)
        assert isinstance(answer, requests.Response)
        del answer.headers["X-Model-Name"], answer.headers["X-Model-Version"]
        return answer

    endpoint_client, _, _ = make_client(anonymous)
    assert endpoint_client.predict([ROW], iris_card(), Format.JSON).body.predictions


def test_a_prediction_answered_by_a_swapped_model_asks_again(
    endpoint: FakeEndpoint, client: FlaskClient
) -> None:
    """The card is cached (5 s here), so the form and the web app still
    believe in iris 1 when the endpoint already serves iris 2."""
    fields = form_fields(client)
    endpoint.card = iris_card(version="2")
    answer = client.post("/predict", data=fields)
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 409
    assert "now iris version 2" in text
    assert "answer-headline" not in text  # no verdict from the other model
    assert endpoint.calls.count("/invocations") == 1
    # The new card is used at once, not after the cache's time.
    assert 'value="iris:2:' in client.get("/").get_data(as_text=True)


def test_a_batch_answered_by_a_swapped_model_keeps_the_rows(
    endpoint: FakeEndpoint, client: FlaskClient
) -> None:
    token = csrf_token(client, "/batch")
    endpoint.card = diabetes_card()
    rows = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
    answer = client.post(
        "/batch",
        data={"csrf_token": token, "format": "csv", "csv_text": rows},
        content_type="multipart/form-data",
    )
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 409
    assert "The model has changed" in text
    assert "it is now diabetes version" in text
    assert "5.1,3.5,1.4,0.2" in text  # kept in the box
    assert "rows predicted" not in text


def test_the_failure_words_for_a_changed_model() -> None:
    from web_app.words import explain

    exchange = c.Exchange(c.SentRequest("POST", "http://m:8080/invocations", [], b""), None, 1, 1.0)
    failure = explain(c.ModelChanged("changed", exchange, "wine 1"))
    assert (failure.status, failure.title) == (409, "The model has changed")
    assert "wine 1" in failure.message
