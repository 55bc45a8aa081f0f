"""Through the web app to the real endpoint and back: both services as real
processes on 127.0.0.1, for every bundled model, in JSON and in CSV."""

from __future__ import annotations

import csv
import html
import io
import random
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.card import ModelCard
from tests.integration.conftest import ServiceProcess, model_service, web_app

pytestmark = pytest.mark.integration

MODELS = ["breast_cancer", "diabetes", "iris", "wine"]
FORMATS = ["json", "csv"]
TIMEOUT = 30


@pytest.fixture(scope="module", params=MODELS)
def stack(
    request: pytest.FixtureRequest,
    model_dirs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServiceProcess, ServiceProcess, ModelCard]]:
    """A model service for one bundled model and the web app (gunicorn) in front of it."""
    logs = tmp_path_factory.mktemp(f"web-{request.param}")
    with (
        model_service(model_dirs[request.param], logs) as endpoint,
        web_app(endpoint.url, logs) as app,
    ):
        card = ModelCard.model_validate_json(
            requests.get(endpoint.url + "/metadata", timeout=TIMEOUT).content
        )
        yield endpoint, app, card


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    """A cookie-keeping session, as a browser would be."""
    with requests.Session() as session:
        yield session


def form_of(page: str, action: str) -> dict[str, str]:
    """The named inputs of the form posting to `action`, with their values."""
    form = page.split(f'action="{action}"', 1)[1].split("</form>", 1)[0]
    fields = dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form, flags=re.S))
    return {k: html.unescape(v) for k, v in fields.items()}


def sample_rows(card: ModelCard, count: int) -> list[list[float]]:
    """Rows inside the training ranges, reproducibly."""
    pick = random.Random(7)
    return [[round(pick.uniform(f.min, f.max), 4) for f in card.features] for _ in range(count)]


def direct(endpoint: ServiceProcess, rows: list[list[float]]) -> dict[str, Any]:
    answer = requests.post(endpoint.url + "/invocations", json={"instances": rows}, timeout=TIMEOUT)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_example_prediction_round_trip(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard], browser: requests.Session, fmt: str
) -> None:
    endpoint, app, card = stack
    page = browser.get(app.url + "/", timeout=TIMEOUT).text
    fields = form_of(page, "/predict")
    assert [k.removeprefix("x:") for k in fields if k.startswith("x:")] == card.feature_names
    fields["format"] = fmt
    answer = browser.post(app.url + "/predict", data=fields, timeout=TIMEOUT)
    text = html.unescape(answer.text)
    assert answer.status_code == 200, text
    expected = direct(endpoint, [card.example_row()])
    headline = re.search(r'<p class="answer-headline">([^<]+)</p>', text)
    assert headline
    if card.is_classifier:
        assert headline.group(1) == expected["predictions"][0]
        assert re.search(r", (\d+|[<>] \d+) % sure\.", text)
    else:
        assert float(headline.group(1).replace(",", "")) == pytest.approx(
            expected["predictions"][0], rel=1e-3
        )
    content_type = "application/json" if fmt == "json" else "text/csv; header=present"
    assert f'<th scope="row">Content-Type</th><td>{content_type}</td>' in text
    assert f"{endpoint.url}/invocations" in text
    assert '<code class="status">200 OK</code>' in text
    assert f"<td>{card.name}</td>" in text  # the X-Model-Name header as received


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_batch_with_a_shuffled_header_round_trip(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard], browser: requests.Session, fmt: str
) -> None:
    endpoint, app, card = stack
    rows = sample_rows(card, 12)
    order = list(reversed(range(len(card.features))))
    lines = [",".join(card.feature_names[i] for i in order)]
    lines += [",".join(repr(row[i]) for i in order) for row in rows]
    token = form_of(browser.get(app.url + "/batch", timeout=TIMEOUT).text, "/batch")["csrf_token"]
    answer = browser.post(
        app.url + "/batch",
        data={"csrf_token": token, "format": fmt},
        files={"file": ("rows.csv", "\n".join(lines).encode(), "text/csv")},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, html.unescape(answer.text)
    assert "12 rows predicted" in answer.text
    results = form_of(answer.text, "/batch/download")
    download = browser.post(app.url + "/batch/download", data=results, timeout=TIMEOUT)
    assert download.status_code == 200
    assert 'filename="rows-predictions.csv"' in download.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(download.text)))
    assert table[0][: len(card.features)] == card.feature_names
    assert [[float(v) for v in line[: len(card.features)]] for line in table[1:]] == rows
    expected = direct(endpoint, rows)["predictions"]
    got = [line[len(card.features)] for line in table[1:]]
    if card.is_classifier:
        assert got == expected
    else:
        assert [float(v) for v in got] == pytest.approx(expected)


def test_a_bad_line_comes_back_by_its_line_number(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard], browser: requests.Session
) -> None:
    _, app, card = stack
    rows = [",".join(repr(v) for v in row) for row in sample_rows(card, 3)]
    rows[2] = (
        rows[2].replace(",", ",oops,", 1).rsplit(",", 1)[0]
    )  # the third data row: a word in column 2
    token = form_of(browser.get(app.url + "/batch", timeout=TIMEOUT).text, "/batch")["csrf_token"]
    text = "\n".join([",".join(card.feature_names), *rows])
    answer = browser.post(
        app.url + "/batch", data={"csrf_token": token, "csv_text": text}, timeout=TIMEOUT
    )
    assert answer.status_code == 422
    assert f"Line 4, column “{card.feature_names[1]}”: not a number: 'oops'." in html.unescape(
        answer.text
    )


def test_healthz_sees_the_endpoint_ready(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard],
) -> None:
    endpoint, app, _ = stack
    health = requests.get(app.url + "/healthz", timeout=TIMEOUT).json()
    assert health == {
        "status": "ok",
        "endpoint": {"url": endpoint.url, "ready": True, "status": 200, "detail": "ready"},
    }


def test_the_model_service_stops_and_comes_back_without_restarting_the_web_app(
    model_dirs: dict[str, Path], tmp_path: Path, browser: requests.Session
) -> None:
    with (
        model_service(model_dirs["iris"], tmp_path) as endpoint,
        # A short retry window: this test is about what happens after it.
        web_app(endpoint.url, tmp_path, server="dev", WEB_APP_RETRY_SECONDS="1") as app,
    ):
        fields = form_of(browser.get(app.url + "/", timeout=TIMEOUT).text, "/predict")
        fields["x:petal_width"] = "2.2"
        endpoint.stop()
        down = browser.post(app.url + "/predict", data=fields, timeout=TIMEOUT)
        assert down.status_code == 503
        assert "The model service is not answering" in down.text
        assert 'value="2.2"' in down.text
        assert (
            requests.get(app.url + "/healthz", timeout=TIMEOUT).json()["endpoint"]["ready"] is False
        )
        port = int(endpoint.url.rsplit(":", 1)[1])
        with model_service(model_dirs["iris"], tmp_path, port=port):
            again = browser.post(app.url + "/predict", data=fields, timeout=TIMEOUT)
            assert again.status_code == 200
            assert "virginica" in again.text


def test_a_restart_under_traffic_costs_a_slower_answer_not_an_error_page(
    model_dirs: dict[str, Path], tmp_path: Path, browser: requests.Session
) -> None:
    """A prediction sent while the model service is down and
    coming back waits for it (the default retry window, 30 s) and answers."""
    with (
        model_service(model_dirs["iris"], tmp_path) as endpoint,
        web_app(endpoint.url, tmp_path) as app,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        fields = form_of(browser.get(app.url + "/", timeout=TIMEOUT).text, "/predict")
        fields["x:petal_width"] = "2.2"
        port = int(endpoint.url.rsplit(":", 1)[1])
        endpoint.stop()
        sent = time.monotonic()
        pending = pool.submit(browser.post, app.url + "/predict", data=fields, timeout=TIMEOUT)
        time.sleep(0.5)  # the request is waiting on a port nobody listens on
        assert not pending.done()
        with model_service(model_dirs["iris"], tmp_path, port=port):
            answer = pending.result(timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        assert '<p class="answer-headline">virginica</p>' in answer.text
        # The waiting was in the model card's fetch or in the POST (the inspector
        # then says how many attempts it took), depending on the card's age.
        assert time.monotonic() - sent < 15


def test_a_swapped_model_shows_in_the_form_within_seconds(
    model_dirs: dict[str, Path], tmp_path: Path, browser: requests.Session
) -> None:
    with (
        model_service(model_dirs["iris"], tmp_path) as endpoint,
        web_app(endpoint.url, tmp_path) as app,
    ):
        assert "Ask the <em>iris</em> model" in browser.get(app.url + "/", timeout=TIMEOUT).text
        port = int(endpoint.url.rsplit(":", 1)[1])
        endpoint.stop()
        with model_service(model_dirs["wine"], tmp_path, port=port):
            # The cache holds the card for 1 s here; poll a bounded number of times.
            for _ in range(50):
                if (
                    "Ask the <em>wine</em> model"
                    in browser.get(app.url + "/", timeout=TIMEOUT).text
                ):
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the form did not follow the new model")
