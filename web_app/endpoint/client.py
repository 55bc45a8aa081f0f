"""The endpoint client: turns rows into an HTTP request to the model service,
and its answer (or the lack of one) into Python values or the typed errors
of `web_app.endpoint.errors`.

It knows the endpoint only by its base URL and the contract in `shared/`
(through `web_app.contract`). The `requests.Session` is injected, so tests
mount a fake transport adapter on it instead of opening sockets. Every call
records the exchange (request as sent, response as received, attempts, time
taken) for the web app's inspector; `retry.RetryPolicy` says which failures
are sent again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import requests
from pydantic import ValidationError

from shared.answers import AnswerBody, decode_json_answer
from shared.card import ModelCard
from shared.codecs.csv import encode_csv_request
from shared.codecs.json import encode_json_request
from shared.media import Format
from web_app.endpoint.errors import (
    ConnectionLost,
    ConnectTimeout,
    EndpointError,
    EndpointUnreachable,
    ReadTimeout,
    UnreadableResponse,
    check_model,
    raise_for_status,
)
from web_app.endpoint.exchange import Answer, Exchange, ReceivedResponse, SentRequest
from web_app.endpoint.retry import RetryPolicy, Tally, refused

#: One row in the model's feature order: numbers, categories, None where missing.
Row = Sequence[float | str | None]
T = TypeVar("T")

USER_AGENT = "sklearn-endpoint-web-app/0.1"
PING_TIMEOUT = 2.0  # seconds, for connecting and for the answer


@dataclass(frozen=True)
class Ping:
    """What `GET /ping` said: `ready` only on a 200."""

    ready: bool
    status: int | None
    detail: str


class EndpointClient:
    """Calls one model service at `base_url` (e.g. http://127.0.0.1:8080)."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 15.0,
        token: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        #: Sent on the prediction and metadata calls (not /ping, which is open).
        self._auth = {"Authorization": f"Bearer {token}"} if token else {}
        self.session = session
        self.timeout = (connect_timeout, read_timeout)
        self.retry = retry or RetryPolicy()

    @property
    def invocations_url(self) -> str:
        return f"{self.base_url}/invocations"

    # --- the three routes ---

    def predict(self, rows: Sequence[Row], card: ModelCard, fmt: Format) -> Answer:
        """POST the rows (already in the card's feature order) as JSON or CSV.
        An answer from another model than `card`'s is `ModelChanged`, even
        a 4xx: it judged rows that were meant for a different model."""
        request = self.prediction_request(rows, card, fmt)
        response, exchange = self._exchange(request, retry=True, check_status=False)
        check_model(response, exchange, card.name, card.version)
        raise_for_status(response, exchange)
        body = self._decode(response, exchange, decode_json_answer, "a prediction body")
        _check_answer(body, len(rows), card, exchange)
        return Answer(body, exchange)

    def prediction_request(
        self, rows: Sequence[Row], card: ModelCard, fmt: Format
    ) -> requests.Request:
        """The request `predict` sends: body encoded with the shared codecs,
        features in the model's order, and a request id of our own so the
        endpoint's logs and our inspector name the same call."""
        if fmt is Format.CSV:
            body = encode_csv_request(rows, card.feature_names)
            content_type = "text/csv; header=present"
        else:
            body = encode_json_request(rows)
            content_type = "application/json"
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            "X-Request-ID": uuid.uuid4().hex,
            "User-Agent": USER_AGENT,
            **self._auth,
        }
        return requests.Request("POST", self.invocations_url, headers=headers, data=body)

    def metadata(self) -> ModelCard:
        request = requests.Request(
            "GET",
            f"{self.base_url}/metadata",
            headers={"Accept": "application/json", "User-Agent": USER_AGENT, **self._auth},
        )
        response, exchange = self._exchange(request, retry=True)
        return self._decode(response, exchange, ModelCard.model_validate_json, "a model card")

    def ping(self) -> Ping:
        """One attempt, no retries: a health check reports the present."""
        request = requests.Request(
            "GET", f"{self.base_url}/ping", headers={"User-Agent": USER_AGENT}
        )
        # Short timeouts: a health check must answer well within the
        # container's HEALTHCHECK timeout even when the endpoint hangs.
        quick = (min(self.timeout[0], PING_TIMEOUT), min(self.timeout[1], PING_TIMEOUT))
        try:
            response, _ = self._exchange(request, retry=False, check_status=False, timeout=quick)
        except EndpointError as exc:
            return Ping(ready=False, status=None, detail=exc.message)
        ready = response.status == 200
        return Ping(
            ready,
            response.status,
            "ready" if ready else f"answered {response.status} {response.reason}",
        )

    # --- the wire ---

    def _exchange(
        self,
        request: requests.Request,
        *,
        retry: bool,
        check_status: bool = True,
        timeout: tuple[float, float] | None = None,
    ) -> tuple[ReceivedResponse, Exchange]:
        prepared = self.session.prepare_request(request)
        sent = SentRequest(
            method=str(prepared.method or request.method),
            url=str(prepared.url or request.url),
            headers=[(k, _shown(k, _as_text(v))) for k, v in prepared.headers.items()],
            body=_as_bytes(prepared.body),
        )
        started = time.perf_counter()
        tally = Tally()

        def so_far(response: ReceivedResponse | None = None) -> Exchange:
            elapsed_ms = (time.perf_counter() - started) * 1000
            return Exchange(sent, response, tally.attempts, elapsed_ms, tuple(tally.retried))

        connect_timeout, read_timeout = timeout or self.timeout

        def attempt() -> requests.Response:
            return self.session.send(
                prepared, timeout=(connect_timeout, read_timeout), allow_redirects=False
            )

        try:
            if retry:
                raw = self.retry.send(attempt, tally)
            else:
                tally.attempts = 1
                raw = attempt()
        except requests.ConnectTimeout:
            raise ConnectTimeout(
                f"the endpoint did not accept a connection within {connect_timeout:g} s",
                so_far(),
            ) from None
        except requests.ReadTimeout:
            raise ReadTimeout(
                f"the endpoint did not answer within {read_timeout:g} s", so_far()
            ) from None
        except requests.ConnectionError as exc:
            if refused(exc):
                raise EndpointUnreachable(
                    f"nothing accepted a connection at {self.base_url}"
                    + (f" ({tally.attempts} attempts)" if tally.attempts > 1 else ""),
                    so_far(),
                ) from None
            raise ConnectionLost(
                "the connection to the endpoint broke before an answer came back", so_far()
            ) from None
        try:
            content = raw.content
        except requests.RequestException:
            raise ConnectionLost(
                "the connection broke while the answer was arriving", so_far()
            ) from None
        received = ReceivedResponse(
            status=raw.status_code,
            reason=raw.reason or "",
            headers=list(raw.headers.items()),
            body=content,
        )
        exchange = so_far(received)
        if check_status:
            raise_for_status(received, exchange)
        return received, exchange

    def _decode(
        self,
        response: ReceivedResponse,
        exchange: Exchange,
        parse: Callable[[bytes], T],
        what: str,
    ) -> T:
        try:
            return parse(response.body)
        except (ValueError, ValidationError) as exc:  # orjson's JSONDecodeError is a ValueError
            raise UnreadableResponse(
                f"the endpoint answered {response.status}, but the body is not {what}: {_first_line(exc)}",
                exchange,
            ) from None


def _check_answer(body: AnswerBody, rows: int, card: ModelCard, exchange: Exchange) -> None:
    """Shapes the views rely on, checked once here so a wrong answer is a
    clear 502 rather than a broken page."""
    problems = []
    if len(body.predictions) != rows:
        problems.append(f"{len(body.predictions)} predictions for {rows} rows")
    if card.is_classifier:
        classes = body.classes or []
        if body.probabilities is None or not classes:
            problems.append("a classifier's answer without probabilities and classes")
        elif len(body.probabilities) != rows or any(
            len(p) != len(classes) for p in body.probabilities
        ):
            problems.append("probabilities do not match the rows and classes")
    if problems:
        raise UnreadableResponse(
            "the answer does not fit the request: " + "; ".join(problems), exchange
        )


def _as_bytes(body: object) -> bytes:
    """A prepared body: bytes or str here, as the client builds every request."""
    if isinstance(body, str):
        return body.encode()
    return body if isinstance(body, bytes) else b""


def _as_text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _shown(name: str, value: str) -> str:
    """A header's value as the inspector may show it: the token hidden."""
    if name.lower() == "authorization":
        return value.partition(" ")[0] + " [hidden]"
    return value


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
