"""Fakes at the web app's boundary: a model endpoint answering through a
`requests` transport adapter (no network, no mock library), and helpers to
build responses and the exceptions requests raises."""

from __future__ import annotations

import html
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import requests
from flask.testing import FlaskClient
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from shared.card import Feature, ModelCard, Target, Training
from shared.codecs import decode_request
from shared.codecs.rows import InputSchema
from shared.media import request_format
from shared.problems import PROBLEM_MEDIA_TYPE, PayloadError

BASE_URL = "http://model.test:8080"

Outcome = requests.Response | Exception
Handler = Callable[[requests.PreparedRequest], Outcome]


def _training() -> Training:
    return Training(
        dataset="test",
        rows=100,
        test_rows=20,
        estimator="Fake()",
        libraries={},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def iris_card(version: str = "1") -> ModelCard:
    return ModelCard(
        name="iris",
        version=version,
        task="classification",
        description="Species of iris flowers.",
        features=[
            Feature(
                name="sepal_length",
                description="Length of the sepal",
                unit="cm",
                min=4.3,
                max=7.9,
                example=5.7,
            ),
            Feature(
                name="sepal_width",
                description="Width of the sepal",
                unit="cm",
                min=2.0,
                max=4.4,
                example=3.0,
            ),
            Feature(
                name="petal_length",
                description="Length of the petal",
                unit="cm",
                min=1.0,
                max=6.9,
                example=4.2,
            ),
            Feature(
                name="petal_width",
                description="Width of the petal",
                unit="cm",
                min=0.1,
                max=2.5,
                example=1.2,
            ),
        ],
        target=Target(name="species", classes=["setosa", "versicolor", "virginica"]),
        metrics={"accuracy": 0.97},
        training=_training(),
        sha256="a" * 64,
    )


def diabetes_card() -> ModelCard:
    return ModelCard(
        name="diabetes",
        version="2",
        task="regression",
        description="Disease progression one year on.",
        features=[
            Feature(name="age", description="Age", unit="years", min=19, max=79, example=48),
            Feature(
                name="bmi",
                description="Body mass index",
                unit="kg/m²",
                min=18,
                max=42.2,
                example=25.7,
            ),
        ],
        target=Target(name="disease_progression"),
        metrics={"r2": 0.45},
        training=_training(),
        sha256="b" * 64,
    )


def penguins_card() -> ModelCard:
    """A model with categorical inputs: `island` and `sex` (which may be
    missing) around four measurements, as the Palmer penguins have them."""

    def measured(
        name: str, description: str, unit: str, low: float, high: float, example: float
    ) -> Feature:
        return Feature(
            name=name, description=description, unit=unit, min=low, max=high, example=example
        )

    return ModelCard(
        name="penguins",
        version="1",
        task="classification",
        description="Species of Palmer penguins.",
        features=[
            Feature(
                name="island",
                type="categorical",
                description="Island in the Palmer Archipelago",
                categories=["Biscoe", "Dream", "Torgersen"],
                example="Biscoe",
            ),
            measured("bill_length_mm", "Bill length", "mm", 32.1, 59.6, 45.2),
            measured("bill_depth_mm", "Bill depth", "mm", 13.1, 21.5, 14.8),
            measured("flipper_length_mm", "Flipper length", "mm", 172, 231, 215),
            measured("body_mass_g", "Body mass", "g", 2700, 6300, 5000),
            Feature(
                name="sex",
                type="categorical",
                description="Sex of the penguin",
                categories=["female", "male"],
                example="female",
            ),
        ],
        allow_missing=True,
        target=Target(name="species", classes=["Adelie", "Chinstrap", "Gentoo"]),
        metrics={"accuracy": 0.99},
        training=_training(),
        sha256="c" * 64,
    )


def response(
    request: requests.PreparedRequest,
    status: int = 200,
    body: bytes | dict[str, Any] | list[Any] = b"",
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> requests.Response:
    """A `requests.Response` as an HTTPAdapter would build it."""
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
        content_type = content_type or "application/json"
    answer = requests.Response()
    answer.status_code = status
    answer.reason = reason or {
        200: "OK",
        422: "Unprocessable Entity",
        503: "Service Unavailable",
    }.get(status, "Status")
    answer.headers = CaseInsensitiveDict(
        {
            "content-type": content_type or "text/plain",
            "content-length": str(len(body)),
            **(headers or {}),
        }
    )
    answer._content = body
    answer.url = request.url or ""
    answer.request = request
    return answer


def refused(request: requests.PreparedRequest) -> requests.ConnectionError:
    """What requests raises when nothing listens (urllib3's NewConnectionError
    wrapped in a MaxRetryError)."""
    reason = NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, request.url, reason), request=request)  # type: ignore[arg-type]


def dropped(request: requests.PreparedRequest) -> requests.ConnectionError:
    """What requests raises when the server closes the connection mid-answer."""
    return requests.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")), request=request
    )


class FakeTransport(BaseAdapter):
    """A transport adapter that answers from a function instead of a socket;
    it records every request and the timeouts it was sent with."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []
        self.timeouts: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.requests.append(request)
        self.timeouts.append(kwargs.get("timeout"))
        outcome = self.handler(request)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def close(self) -> None:
        pass


@dataclass
class FakeEndpoint:
    """The model service's three native routes, enough of them for the web
    app: `/metadata` serves `card`, `/invocations` decodes with the shared
    codecs and predicts from the first categorical feature, else the first
    feature, warning when the first numeric one is out of range or a
    category is unknown. Set `fail` to answer every call (or only
    `fail_paths`) with an outcome instead."""

    card: ModelCard = field(default_factory=iris_card)
    fail: Handler | None = None
    fail_paths: tuple[str, ...] = ("/invocations", "/metadata", "/ping")
    warn: bool = True
    calls: list[str] = field(default_factory=list)

    def __call__(self, request: requests.PreparedRequest) -> Outcome:
        path = (request.path_url or "/").split("?")[0]
        self.calls.append(path)
        if self.fail is not None and path in self.fail_paths:
            return self.fail(request)
        if path == "/metadata":
            return response(request, body=self.card.model_dump(mode="json"))
        if path == "/ping":
            return response(request, body=b"", content_type="text/plain")
        if path == "/invocations":
            return self.invocations(request)
        return response(request, 404, {"title": "Not Found", "status": 404}, PROBLEM_MEDIA_TYPE)

    def invocations(self, request: requests.PreparedRequest) -> requests.Response:
        request_id = str(request.headers.get("X-Request-ID", "generated"))
        headers = {
            "X-Request-ID": request_id,
            "X-Model-Name": self.card.name,
            "X-Model-Version": self.card.version,
        }
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        try:
            fmt = request_format(str(request.headers.get("Content-Type", "")))
            rows = decode_request(body, fmt, input_schema(self.card))
        except PayloadError as exc:
            problem = exc.to_problem(request_id).model_dump(mode="json", exclude_none=True)
            return response(request, exc.status, problem, PROBLEM_MEDIA_TYPE, headers)
        answer: dict[str, Any] = {"model": {"name": self.card.name, "version": self.card.version}}
        features = self.card.features
        measured = next(i for i, f in enumerate(features) if not f.is_categorical)
        if self.card.is_classifier:
            classes = self.card.target.classes or []
            picks = [min(len(classes) - 1, self._pick(row)) for row in rows]
            answer["predictions"] = [classes[p] for p in picks]
            answer["probabilities"] = [
                [0.94 if i == p else 0.06 / (len(classes) - 1) for i in range(len(classes))]
                for p in picks
            ]
            answer["classes"] = classes
        else:
            answer["predictions"] = [float(row[measured]) * 3.0 for row in rows]
        warnings = [
            {"row": i, "feature": f.name, "message": message}
            for i, row in enumerate(rows)
            for j, (f, value) in enumerate(zip(features, row, strict=True))
            if self.warn and (j == measured or f.is_categorical) and (message := _unseen(f, value))
        ]
        if warnings:
            answer["warnings"] = warnings
        return response(request, 200, answer, "application/json", headers)

    def _pick(self, row: list[float | str]) -> int:
        """The class index: by the first categorical feature's category
        (in the card's order; an unknown or missing one the last class),
        else by the first feature: below 5 the first, below 6 the second."""
        for feature, value in zip(self.card.features, row, strict=True):
            if feature.is_categorical:
                categories = feature.categories or []
                return categories.index(value) if value in categories else len(categories)
        return max(0, int(float(row[0])) - 4)


def input_schema(card: ModelCard) -> InputSchema:
    """What the model service would check a request against."""
    return InputSchema.from_card(card)


def _unseen(feature: Feature, value: float | str) -> str | None:
    """The endpoint's warning for a value outside training: a number out
    of the feature's range, a category not seen."""
    if isinstance(value, str):
        if value in (feature.categories or []):
            return None
        return f"{value!r} is not a category seen in training"
    if feature.is_categorical or math.isnan(value) or feature.min is None or feature.max is None:
        return None
    if feature.min <= value <= feature.max:
        return None
    return f"{value} is outside the training range"


@contextmanager
def serve(endpoint: FakeEndpoint) -> Iterator[str]:
    """`endpoint` on a real socket on 127.0.0.1, for a web app process or a
    browser test where no model service can serve its card; yields the base
    URL. A thread answers each request through the same function the
    transport adapter calls, so both fakes say the same."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._answer(b"")

        def do_POST(self) -> None:
            self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _answer(self, body: bytes) -> None:
            url = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
            prepared = requests.Request(
                self.command, url, headers=dict(self.headers.items()), data=body or None
            ).prepare()
            outcome = endpoint(prepared)
            if isinstance(outcome, Exception):  # no fault injection over a socket
                raise outcome
            content = outcome.content or b""
            self.send_response(outcome.status_code, outcome.reason)
            for name, value in outcome.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's output stays readable

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The token a real browser would have from the page's form."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def form_fields(client: FlaskClient, path: str = "/") -> dict[str, str]:
    """Every named input and select of the page's first form with its
    value, as a browser would send it."""
    page = client.get(path).get_data(as_text=True)
    form = page.split("</form>")[0]
    fields = dict(re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form, flags=re.S))
    for name, options in re.findall(r'<select[^>]*?name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        fields[name] = html.unescape(chosen.group(1)) if chosen else ""
    fields["format"] = "json"
    return fields


def page(client: FlaskClient, path: str = "/") -> str:
    """The page's text as a person reads it (entities unescaped)."""
    return html.unescape(client.get(path).get_data(as_text=True))


def predict(client: FlaskClient, **changes: str) -> tuple[int, str]:
    """Submit the form as shown, with `changes`; the status and the page's text."""
    fields = form_fields(client)
    fields.update(changes)
    answer = client.post("/predict", data=fields)
    return answer.status_code, html.unescape(answer.get_data(as_text=True))
