"""The pages, with the endpoint faked behind the injected session: the form
built from the metadata, the answer in words, the inspector, the failure
pages, the security headers and the health check."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable

import pytest
import requests
from flask.testing import FlaskClient

from shared.problems import PROBLEM_MEDIA_TYPE
from tests.support.web_fakes import (
    BASE_URL,
    FakeEndpoint,
    FakeTransport,
    diabetes_card,
    dropped,
    form_fields,
    iris_card,
    page,
    predict,
    refused,
    response,
)
from web_app import Settings, create_app
from web_app.endpoint import EndpointUnreachable, Exchange, SentRequest
from web_app.metadata import MetadataCache

# --- the form -------------------------------------------------------------------------


def test_the_form_has_one_field_per_feature_in_the_models_order(client: FlaskClient) -> None:
    text = page(client)
    labels = re.findall(r'<label for="feature-\d+">([^<]+)', text)
    assert [label.strip() for label in labels] == [
        "Sepal length",
        "Sepal width",
        "Petal length",
        "Petal width",
    ]
    assert 'name="x:sepal_length"' in text
    assert 'value="5.7"' in text  # the example, prefilled
    assert "Length of the sepal" in text  # the description
    assert "(cm)" in text  # the unit
    assert "Seen in training: 4.3 to 7.9 cm." in text  # the range
    assert 'name="format" value="json" checked' in text
    assert 'name="format" value="csv"' in text
    assert 'name="csrf_token"' in text


def test_every_input_has_a_label(client: FlaskClient) -> None:
    text = page(client)
    ids = re.findall(r'<input id="([^"]+)"', text)
    assert ids
    for input_id in ids:
        assert f'<label for="{input_id}"' in text


def test_the_form_follows_a_regression_model(endpoint: FakeEndpoint, client: FlaskClient) -> None:
    endpoint.card = diabetes_card()
    text = page(client)
    assert "Ask the <em>diabetes</em> model" in text
    assert "Seen in training: 19 to 79 years." in text


def test_the_metadata_is_cached_briefly(endpoint: FakeEndpoint, client: FlaskClient) -> None:
    page(client)
    page(client)
    page(client, "/batch")
    assert endpoint.calls.count("/metadata") == 1


def test_a_swapped_model_shows_without_a_restart(
    endpoint: FakeEndpoint, session: requests.Session
) -> None:
    app = create_app(
        Settings(model_url=BASE_URL, secret_key="k", retry_backoff=0, metadata_cache_seconds=0),
        session,
    )
    client = app.test_client()
    assert "iris" in page(client)
    endpoint.card = diabetes_card()
    assert "Ask the <em>diabetes</em> model" in page(client)


def test_a_model_swapped_between_form_and_submit_asks_again(
    endpoint: FakeEndpoint, session: requests.Session
) -> None:
    app = create_app(
        Settings(model_url=BASE_URL, secret_key="k", retry_backoff=0, metadata_cache_seconds=0),
        session,
    )
    client = app.test_client()
    fields = form_fields(client)
    endpoint.card = iris_card(version="2")
    answer = client.post("/predict", data=fields)
    assert answer.status_code == 409
    assert "now iris version 2" in html.unescape(answer.get_data(as_text=True))
    assert "/invocations" not in endpoint.calls


# --- the answer -----------------------------------------------------------------------


def test_the_answer_in_words_with_the_inspector(
    client: FlaskClient, transport: FakeTransport
) -> None:
    status, text = predict(client)
    assert status == 200
    assert '<p class="answer-headline">versicolor</p>' in text
    assert "Species: versicolor, 94 % sure." in text
    sent = transport.requests[-1]
    # the inspector: the request as sent ...
    assert f"{BASE_URL}/invocations" in text
    assert '<code class="method">POST</code>' in text
    assert '<th scope="row">Content-Type</th><td>application/json</td>' in text
    assert sent.headers["X-Request-ID"] in text
    assert '"instances": [[5.7, 3.0, 4.2, 1.2]]' in text  # readable
    assert '{"instances":[[5.7,3.0,4.2,1.2]]}' in text  # exactly as sent
    # ... and the response as received
    assert '<code class="status">200 OK</code>' in text
    assert "X-Model-Name" in text
    assert re.search(r"<code>\d+ ms</code>", text)


def test_the_class_probabilities_are_an_inline_svg_bar_chart(client: FlaskClient) -> None:
    _, text = predict(client)
    chart = text.split('<figure class="chart">')[1].split("</figure>")[0]
    assert chart.count('<rect class="bar-fill"') == 3
    assert 'width="94.0"' in chart
    assert '<li class="best">' in chart


def test_csv_is_sent_as_csv_with_a_header(client: FlaskClient, transport: FakeTransport) -> None:
    status, text = predict(client, format="csv")
    assert status == 200
    assert transport.requests[-1].headers["Content-Type"] == "text/csv; header=present"
    assert "sepal_length,sepal_width,petal_length,petal_width\n5.7,3.0,4.2,1.2" in text.replace(
        "\r", ""
    )


def test_a_regression_answer_gives_the_value_and_target(
    endpoint: FakeEndpoint, client: FlaskClient
) -> None:
    endpoint.card = diabetes_card()
    status, text = predict(client)
    assert status == 200
    assert "Predicted disease progression: 144." in text
    assert '<figure class="chart">' not in text


def test_range_warnings_are_said_in_words(client: FlaskClient) -> None:
    status, text = predict(client, **{"x:sepal_length": "9.5"})
    assert status == 200
    assert "Sepal length is 9.5 cm, above the largest value seen in training (7.9 cm)." in text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter a number"),
        ("abc", "“abc” is not a number."),
        ("5,1", "Use a dot for decimals."),
        ("inf", "is not a finite number"),
        ("1_000", "is not a number"),
    ],
)
def test_bad_values_are_explained_by_field_and_not_sent(
    client: FlaskClient, endpoint: FakeEndpoint, value: str, message: str
) -> None:
    status, text = predict(client, **{"x:petal_length": value})
    assert status == 422
    assert message in text
    assert 'aria-invalid="true"' in text
    assert f'value="{value}"' in text  # the input is kept
    assert "/invocations" not in endpoint.calls


def test_a_form_without_its_csrf_token_keeps_the_input_and_can_be_sent_again(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    fields = form_fields(client)
    fields["x:petal_width"] = "1.9"
    fields["format"] = "csv"
    del fields["csrf_token"]
    answer = client.post("/predict", data=fields)
    assert answer.status_code == 400
    text = html.unescape(answer.get_data(as_text=True))
    assert "This form had expired" in text
    assert "nothing was sent" in text
    assert 'value="1.9"' in text  # the input is kept
    assert 'name="format" value="csv" checked' in text
    assert "/invocations" not in endpoint.calls
    again = dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', text))
    assert again["csrf_token"]  # a fresh one, so sending again works
    again["format"] = "csv"
    assert client.post("/predict", data=again).status_code == 200


def test_a_wrong_csrf_token_keeps_the_input_too(client: FlaskClient) -> None:
    status, text = predict(client, csrf_token="forged", **{"x:sepal_width": "3.4"})
    assert status == 400
    assert "This form had expired" in text
    assert 'value="3.4"' in text


@pytest.mark.parametrize("model", [None, "", "  "], ids=["absent", "empty", "blank"])
def test_a_form_without_its_model_field_is_a_bad_form_not_a_swap(
    client: FlaskClient, endpoint: FakeEndpoint, model: str | None
) -> None:
    fields = form_fields(client)
    fields["x:petal_length"] = "4.8"
    if model is None:
        del fields["model"]
    else:
        fields["model"] = model
    answer = client.post("/predict", data=fields)
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400
    assert "The form is incomplete" in text
    assert "“model”" in text
    assert "has changed" not in text
    assert 'value="4.8"' in text
    assert '<input type="hidden" name="model" value="iris:1:aaaaaaaaaaaa">' in text
    assert "/invocations" not in endpoint.calls


@pytest.mark.parametrize("value", ["xml", "JSONP", "yaml"])
def test_an_unknown_format_is_refused_naming_the_accepted_ones(
    client: FlaskClient, endpoint: FakeEndpoint, value: str
) -> None:
    status, text = predict(client, format=value, **{"x:sepal_length": "6.1"})
    assert status == 400
    assert f"“{value.lower()}” is not a format" in text
    assert "json (JSON) and csv (CSV)" in text
    assert 'value="6.1"' in text
    assert "/invocations" not in endpoint.calls


@pytest.mark.parametrize(("value", "content_type"), [("CSV", "text/csv"), ("", "application/json")])
def test_a_format_in_capitals_or_left_blank_is_understood(
    client: FlaskClient, transport: FakeTransport, value: str, content_type: str
) -> None:
    status, _ = predict(client, format=value)
    assert status == 200
    assert str(transport.requests[-1].headers["Content-Type"]).startswith(content_type)


def test_reloading_the_answer_page_goes_back_to_the_form(client: FlaskClient) -> None:
    answer = client.get("/predict")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/"


# --- failures -------------------------------------------------------------------------

FAILURES: list[tuple[str, Callable[[requests.PreparedRequest], object], int, str]] = [
    ("refused", refused, 503, "The model service is not answering"),
    ("connect-timeout", lambda r: requests.ConnectTimeout("t", request=r), 504, "did not pick up"),
    (
        "read-timeout",
        lambda r: requests.ReadTimeout("t", request=r),
        504,
        "took too long to answer",
    ),
    ("dropped", dropped, 502, "The connection broke"),
    (
        "500",
        lambda r: response(
            r, 500, {"title": "Internal Server Error", "status": 500}, PROBLEM_MEDIA_TYPE
        ),
        502,
        "The model service failed",
    ),
    ("503", lambda r: response(r, 503, b""), 503, "The model is not ready yet"),
    (
        "415",
        lambda r: response(
            r, 415, {"title": "Unsupported Content-Type", "status": 415}, PROBLEM_MEDIA_TYPE
        ),
        502,
        "refused this app's request",
    ),
    (
        "422",
        lambda r: response(
            r,
            422,
            {
                "title": "Invalid rows",
                "status": 422,
                "errors": [{"row": 0, "column": "petal_length", "message": "too odd"}],
            },
            PROBLEM_MEDIA_TYPE,
        ),
        422,
        "“petal_length”: too odd.",
    ),
    ("unreadable", lambda r: response(r, 200, b"<html>", "text/html"), 502, "could not be read"),
]


@pytest.mark.parametrize(
    ("handler", "status", "words"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_a_failed_prediction_is_explained_and_keeps_the_input(
    client: FlaskClient,
    endpoint: FakeEndpoint,
    handler: Callable[[requests.PreparedRequest], object],
    status: int,
    words: str,
) -> None:
    fields = form_fields(client)  # the form is loaded while the endpoint works
    fields["x:petal_width"] = "1.7"
    endpoint.fail, endpoint.fail_paths = handler, ("/invocations",)  # type: ignore[assignment]
    answer = client.post("/predict", data=fields)
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == status
    assert words in text
    assert 'value="1.7"' in text  # the user's input is kept
    assert "Try again" in text
    assert "Traceback" not in text
    assert "Under the hood" in text  # the inspector shows how far the exchange got


def test_a_refused_endpoint_was_tried_again(
    settings: Settings, client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    fields = form_fields(client)
    endpoint.fail, endpoint.fail_paths = refused, ("/invocations",)
    text = html.unescape(client.post("/predict", data=fields).get_data(as_text=True))
    assert f"after {settings.retry_max_attempts} attempts" in text
    assert endpoint.calls.count("/invocations") == settings.retry_max_attempts


def flaky(
    endpoint: FakeEndpoint, failure: Callable[[requests.PreparedRequest], object], times: int
) -> Callable[[requests.PreparedRequest], object]:
    """`failure` for the first `times` calls to /invocations, then the endpoint itself."""
    left = [times]

    def handle(request: requests.PreparedRequest) -> object:
        if left[0] > 0:
            left[0] -= 1
            return failure(request)
        endpoint.fail = None
        return endpoint(request)

    return handle


@pytest.mark.parametrize(
    ("failure", "met"),
    [
        (refused, "2 found nobody listening"),
        (lambda r: response(r, 503, b""), "2 answered 503, the model still loading"),
    ],
    ids=["refused", "503"],
)
def test_a_model_swap_costs_a_slower_answer_not_an_error_page(
    client: FlaskClient,
    endpoint: FakeEndpoint,
    failure: Callable[[requests.PreparedRequest], object],
    met: str,
) -> None:
    fields = form_fields(client)
    endpoint.fail, endpoint.fail_paths = flaky(endpoint, failure, 2), ("/invocations",)
    answer = client.post("/predict", data=fields)
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200
    assert '<p class="answer-headline">versicolor</p>' in text
    assert f"(3 attempts: {met})" in text  # the inspector says what the wait was


def test_the_form_waits_for_a_swapped_models_metadata(
    client: FlaskClient, endpoint: FakeEndpoint, transport: FakeTransport
) -> None:
    endpoint.fail, endpoint.fail_paths = flaky(endpoint, refused, 3), ("/metadata",)
    answer = client.get("/")
    assert answer.status_code == 200
    assert "Ask the <em>iris</em> model" in answer.get_data(as_text=True)
    assert [r.path_url for r in transport.requests] == ["/metadata"] * 4


def test_without_metadata_the_form_cannot_be_built_and_says_so(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    endpoint.fail = refused
    answer = client.get("/")
    assert answer.status_code == 503
    text = html.unescape(answer.get_data(as_text=True))
    assert "The form needs the model service" in text
    assert "Try again" in text


@pytest.mark.parametrize("path", ["/", "/batch"])
def test_a_plain_visit_without_the_endpoint_promises_no_kept_input(
    client: FlaskClient, endpoint: FakeEndpoint, path: str
) -> None:
    """There was no input to keep, and the call that failed was a GET for
    the model card: the page and its inspector say so."""
    endpoint.fail = refused
    answer = client.get(path)
    assert answer.status_code == 503
    text = html.unescape(answer.get_data(as_text=True))
    assert "Your input is kept" not in text
    assert "Try again in a few seconds." in text
    assert "POST means" not in text
    assert "GET means “send me what is at this address”" in text
    assert "Empty: a GET asks for something and sends no data." in text
    assert "turned your input into" not in text


def test_a_submit_with_no_model_card_known_keeps_the_input_for_a_retry(
    session: requests.Session, endpoint: FakeEndpoint
) -> None:
    fields = form_fields(
        create_app(
            Settings(model_url=BASE_URL, secret_key="k", retry_backoff=0), session
        ).test_client()
    )
    app = create_app(
        Settings(model_url=BASE_URL, secret_key="k", retry_backoff=0), session
    )  # a fresh process: nothing cached
    app.config["WTF_CSRF_ENABLED"] = False  # no page of this process could have given a token yet
    client = app.test_client()
    endpoint.fail = refused
    fields["x:sepal_width"] = "3.3"
    answer = client.post("/predict", data=fields)
    assert answer.status_code == 503
    text = html.unescape(answer.get_data(as_text=True))
    assert re.search(
        r'<label for="kept-2">Sepal width</label>\s*<input id="kept-2" name="x:sepal_width"[^>]*value="3.3"',
        text,
    )  # kept visibly, to edit before trying again
    assert 'name="csrf_token"' in text
    assert '<input type="hidden" name="model"' in text
    assert "Your input is kept" in text  # here there was input, and it is
    endpoint.fail = None
    retried = dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', text))
    again = client.post("/predict", data=retried)
    assert again.status_code == 200


def test_a_stale_model_card_keeps_the_form_when_the_endpoint_goes_away(
    endpoint: FakeEndpoint, session: requests.Session
) -> None:
    app = create_app(
        Settings(model_url=BASE_URL, secret_key="k", retry_backoff=0, metadata_cache_seconds=0),
        session,
    )
    client = app.test_client()
    fields = form_fields(client)
    endpoint.fail = refused
    answer = client.post("/predict", data=fields)
    assert answer.status_code == 503
    assert 'value="5.7"' in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("GET", "/nowhere", 404, "There is no such page"),
        ("DELETE", "/", 405, "That is not how this page is used"),
    ],
)
def test_http_errors_are_plain_pages(
    client: FlaskClient, method: str, path: str, status: int, words: str
) -> None:
    answer = client.open(path, method=method)
    assert answer.status_code == status
    assert words in answer.get_data(as_text=True)


def test_a_bug_is_a_plain_page_and_logged(
    app: object, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    from flask import Flask

    assert isinstance(app, Flask)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a bug")

    app.config["TESTING"] = False  # let the handler answer instead of re-raising
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = client.get("/boom")
    text = answer.get_data(as_text=True)
    assert "Something went wrong in this app" in text
    assert "RuntimeError" not in text
    assert "unhandled error" in caplog.text


# --- security -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/batch", "/healthz", "/nowhere", "/static/app.css"])
def test_security_headers_on_every_answer(client: FlaskClient, path: str) -> None:
    with client.get(path) as answer:  # closes the static file's stream
        headers = answer.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/batch"])
def test_pages_have_no_script_and_no_inline_style(client: FlaskClient, path: str) -> None:
    text = page(client, path)
    assert "<script" not in text
    assert "style=" not in text
    assert "<style" not in text
    assert "http://" not in text.replace(BASE_URL, "")  # no assets from elsewhere


# --- health ---------------------------------------------------------------------------


def test_healthz_reports_a_ready_endpoint(client: FlaskClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {
        "status": "ok",
        "endpoint": {"url": BASE_URL, "ready": True, "status": 200, "detail": "ready"},
    }


@pytest.mark.parametrize(
    ("handler", "status"),
    [(refused, None), (lambda r: response(r, 503, b""), 503)],
)
def test_healthz_is_200_while_the_endpoint_is_not_ready(
    client: FlaskClient,
    endpoint: FakeEndpoint,
    handler: Callable[[requests.PreparedRequest], object],
    status: int | None,
) -> None:
    endpoint.fail = handler  # type: ignore[assignment]
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json is not None
    assert answer.json["status"] == "ok"
    assert answer.json["endpoint"]["ready"] is False
    assert answer.json["endpoint"]["status"] == status


# --- the model card cache -------------------------------------------------------------


def test_threads_waiting_on_a_failing_metadata_fetch_get_its_error_not_their_own_wait() -> None:
    """While the endpoint is down a fetch takes the whole retry window; the
    threads queued behind it must not each start another one in turn."""
    started, release = threading.Event(), threading.Event()
    fetches: list[int] = []
    failure = EndpointUnreachable(
        "down", Exchange(SentRequest("GET", BASE_URL + "/metadata", [], b""), None, 5, 1.0)
    )

    def fetch() -> object:
        fetches.append(1)
        started.set()
        release.wait(5)
        raise failure

    cache = MetadataCache(fetch, ttl_seconds=5)  # type: ignore[arg-type]
    outcomes: list[object] = []

    def get() -> None:
        try:
            outcomes.append(cache.get())
        except EndpointUnreachable as exc:
            outcomes.append(exc)

    first = threading.Thread(target=get)
    first.start()
    assert started.wait(5)
    waiting = [threading.Thread(target=get) for _ in range(3)]
    for thread in waiting:
        thread.start()
    release.set()
    for thread in [first, *waiting]:
        thread.join(5)
    assert outcomes == [failure] * 4
    assert len(fetches) == 1
    with pytest.raises(EndpointUnreachable):
        cache.get()  # a later request tries again
    assert len(fetches) == 2
