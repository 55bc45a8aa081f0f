"""The endpoint client: turns rows into an HTTP request to the model service,
and its answer (or the lack of one) into Python values or typed errors.

It knows the endpoint only by its base URL and the contract in `shared/`.
The `requests.Session` is injected, so tests mount a fake transport adapter
on it instead of opening sockets. Every call records the exchange (request as
sent, response as received, time taken) for the web app's inspector.

Every failure is one of these exceptions; each carries the `Exchange` so far
and the status the web app answers with (`status_code`)::

    EndpointError                    (never raised itself)
    ├── TransportError               no HTTP answer came back
    │   ├── EndpointUnreachable      503  connection refused / no such host, until the retry deadline
    │   ├── EndpointTimeout          504  (never raised itself)
    │   │   ├── ConnectTimeout       504  the endpoint did not accept the connection in time
    │   │   └── ReadTimeout          504  the request went out, the answer did not come in time
    │   └── ConnectionLost           502  the connection broke after the request was sent
    ├── EndpointRejected             502  4xx: the endpoint refused the request (its problem+json kept)
    ├── EndpointFailed               502  5xx: the endpoint failed
    │   └── EndpointNotReady         503  503: its model is not loaded yet, still so at the retry deadline
    └── UnreadableResponse           502  a 2xx body that is not what the contract says

Retries: a model swap or a restart of the model container under traffic
looks like this from here, for several seconds: the endpoint's name does not
resolve, then nothing accepts the connection, then the new service answers
503 (problem type `/problems/not-ready`) until its model is loaded. In all
three the request was not processed, so it is sent again, POST included,
after a pause that doubles from `backoff` up to `max_pause` (or the 503's
`Retry-After`, capped at `RETRY_AFTER_CAP`), until `retry_seconds` have
passed since the first attempt or `max_attempts` were made, whichever comes
first. Then the last outcome stands: `EndpointUnreachable`, or the last 503
as `EndpointNotReady`. Nothing else is retried: a timeout or a broken
connection may mean the request was received. The loop lives here rather
than in urllib3's `Retry` mounted on the session, so that it applies to
whatever session is injected (the tests' fake transport included) and the
inspector can say how many attempts an answer took and what the earlier
ones met (`Exchange.attempts`, `Exchange.retried`).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar, TypeVar

import orjson
import requests
from pydantic import ValidationError
from urllib3.exceptions import NewConnectionError

from shared.card import ModelCard
from shared.codecs import encode_csv_rows, encode_json_rows
from shared.media import Format, MediaType
from shared.predictions import PredictionBody, decode_json
from shared.problems import PROBLEM_MEDIA_TYPE, Problem

Row = Sequence[float | None]
T = TypeVar("T")

USER_AGENT = "sklearn-endpoint-web-app/0.1"
PING_TIMEOUT = 2.0  # seconds, for connecting and for the answer
RETRY_AFTER_CAP = 5.0  # seconds: the longest pause a 503's Retry-After can ask for

#: What an earlier attempt met, as `Exchange.retried` lists it.
REFUSED = "refused"  # no such host, or nothing accepted the connection
NOT_READY = "not ready"  # the endpoint answered 503


# --- what went over the wire ----------------------------------------------------


@dataclass(frozen=True)
class SentRequest:
    """The request exactly as it went out."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers if k.lower() == "content-type"), "")


@dataclass(frozen=True)
class ReceivedResponse:
    """The response exactly as it came back."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Exchange:
    """One call to the endpoint: what was sent, what came back (None when
    nothing did), how many attempts it took and how long, all attempts and
    the pauses between them included. `retried` says what each attempt
    before the last met (`REFUSED` or `NOT_READY`), so it has
    `attempts - 1` entries."""

    request: SentRequest
    response: ReceivedResponse | None
    attempts: int
    elapsed_ms: float
    retried: tuple[str, ...] = ()

    @property
    def request_id(self) -> str | None:
        """The id the endpoint logged this call under (ours, echoed back)."""
        echoed = self.response.header("X-Request-ID") if self.response else None
        return echoed or next(
            (v for k, v in self.request.headers if k.lower() == "x-request-id"), None
        )


@dataclass(frozen=True)
class Answer:
    """A successful prediction call: the decoded body and the exchange behind it."""

    body: PredictionBody
    exchange: Exchange


# --- errors ------------------------------------------------------------------------


class EndpointError(Exception):
    """Something kept the endpoint from answering a call usefully."""

    status_code: ClassVar[int] = 502

    def __init__(self, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange


class TransportError(EndpointError):
    """No HTTP answer came back."""


class EndpointUnreachable(TransportError):
    status_code = 503


class EndpointTimeout(TransportError):
    status_code = 504


class ConnectTimeout(EndpointTimeout):
    pass


class ReadTimeout(EndpointTimeout):
    pass


class ConnectionLost(TransportError):
    status_code = 502


class EndpointRejected(EndpointError):
    """A 4xx; `problem` is the endpoint's problem+json body (or one made up
    from the status line when the body is not one)."""

    status_code = 502

    def __init__(self, message: str, exchange: Exchange, problem: Problem) -> None:
        super().__init__(message, exchange)
        self.problem = problem


class EndpointFailed(EndpointError):
    status_code = 502


class EndpointNotReady(EndpointFailed):
    status_code = 503


class UnreadableResponse(EndpointError):
    status_code = 502


# --- the client ----------------------------------------------------------------------


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
        retry_seconds: float = 15.0,
        backoff: float = 0.25,
        max_pause: float = 1.0,
        max_attempts: int = 40,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`retry_seconds`, `backoff`, `max_pause` and `max_attempts` bound
        the retries (see the module's docstring); `sleep` and `clock` are
        injectable so tests need not wait."""
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = (connect_timeout, read_timeout)
        self.retry_seconds = retry_seconds
        self.backoff = backoff
        self.max_pause = max_pause
        self.max_attempts = max(1, max_attempts)
        self._sleep = sleep
        self._clock = clock

    @property
    def invocations_url(self) -> str:
        return f"{self.base_url}/invocations"

    # --- the three routes ---

    def predict(self, rows: Sequence[Row], card: ModelCard, fmt: Format) -> Answer:
        """POST the rows (already in the card's feature order) as JSON or CSV."""
        request = self.prediction_request(rows, card, fmt)
        response, exchange = self._exchange(request, retry=True)
        body = self._decode(response, exchange, decode_json, "a prediction body")
        _check_answer(body, len(rows), card, exchange)
        return Answer(body, exchange)

    def prediction_request(
        self, rows: Sequence[Row], card: ModelCard, fmt: Format
    ) -> requests.Request:
        """The request `predict` sends: body encoded with the shared codecs,
        features in the model's order, and a request id of our own so the
        endpoint's logs and our inspector name the same call."""
        if fmt is Format.CSV:
            body = encode_csv_rows(rows, card.feature_names)
            content_type = "text/csv; header=present"
        else:
            body = encode_json_rows(rows)
            content_type = "application/json"
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            "X-Request-ID": uuid.uuid4().hex,
            "User-Agent": USER_AGENT,
        }
        return requests.Request("POST", self.invocations_url, headers=headers, data=body)

    def metadata(self) -> ModelCard:
        request = requests.Request(
            "GET",
            f"{self.base_url}/metadata",
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
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
            response, _ = self._exchange(
                request, retry=False, raise_for_status=False, timeout=quick
            )
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
        raise_for_status: bool = True,
        timeout: tuple[float, float] | None = None,
    ) -> tuple[ReceivedResponse, Exchange]:
        prepared = self.session.prepare_request(request)
        sent = SentRequest(
            method=str(prepared.method or request.method),
            url=str(prepared.url or request.url),
            headers=[(k, _as_text(v)) for k, v in prepared.headers.items()],
            body=_as_bytes(prepared.body),
        )
        started = time.perf_counter()
        attempts = 0
        retried: list[str] = []

        def so_far(response: ReceivedResponse | None = None) -> Exchange:
            return Exchange(
                sent,
                response,
                attempts,
                (time.perf_counter() - started) * 1000,
                tuple(retried),
            )

        connect_timeout, read_timeout = timeout or self.timeout
        deadline = self._clock() + (self.retry_seconds if retry else 0.0)
        while True:
            attempts += 1
            try:
                raw = self.session.send(
                    prepared, timeout=(connect_timeout, read_timeout), allow_redirects=False
                )
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
                if not _refused(exc):
                    raise ConnectionLost(
                        "the connection to the endpoint broke before an answer came back", so_far()
                    ) from None
                pause = self._pause(attempts, deadline, retry)
                if pause is None:
                    raise EndpointUnreachable(
                        f"nothing accepted a connection at {self.base_url}"
                        + (f" ({attempts} attempts)" if attempts > 1 else ""),
                        so_far(),
                    ) from None
                retried.append(REFUSED)
            else:
                if raw.status_code != 503:
                    break
                pause = self._pause(attempts, deadline, retry, _retry_after(raw))
                if pause is None:
                    break  # the last 503 stands
                retried.append(NOT_READY)  # the body was read already: the connection is free
            self._sleep(pause)
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
        if raise_for_status:
            _raise_for_status(received, exchange)
        return received, exchange

    def _pause(
        self, attempts: int, deadline: float, retry: bool, asked: float | None = None
    ) -> float | None:
        """How long to wait before the next attempt, or None to give up: no
        retries for this call, `max_attempts` made, or the deadline reached.
        The pause doubles from `backoff` up to `max_pause`; a Retry-After
        (`asked`) lengthens it up to `RETRY_AFTER_CAP`; none ends past the
        deadline, so the last attempt is made at it."""
        left = deadline - self._clock()
        if not retry or attempts >= self.max_attempts or left <= 0:
            return None
        pause = min(self.backoff * 2 ** min(attempts - 1, 30), self.max_pause)
        if asked is not None:
            pause = max(pause, min(asked, RETRY_AFTER_CAP))
        return min(pause, left)

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


def _refused(exc: requests.ConnectionError) -> bool:
    """Whether the request never reached a server (refused, no such host):
    requests wraps urllib3's NewConnectionError in a MaxRetryError."""
    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", None), NewConnectionError)


def _retry_after(response: requests.Response) -> float | None:
    """A Retry-After header in seconds (delay-seconds or an HTTP date), or
    None when there is none or it cannot be read."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _raise_for_status(response: ReceivedResponse, exchange: Exchange) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    if 400 <= status < 500:
        problem = _problem(response)
        raise EndpointRejected(
            f"the endpoint refused the request: {status} {problem.title}", exchange, problem
        )
    if status == 503:
        tries = exchange.attempts
        raise EndpointNotReady(
            "the endpoint is not ready yet (503"
            + (f", {tries} attempts" if tries > 1 else "")
            + ")",
            exchange,
        )
    if status >= 500:
        raise EndpointFailed(f"the endpoint failed: {status} {response.reason}", exchange)
    raise UnreadableResponse(f"unexpected status {status} {response.reason}", exchange)


def _problem(response: ReceivedResponse) -> Problem:
    """The problem+json body of a 4xx, or one made from the status line when
    the body is not one (a proxy's HTML page, say)."""
    media = MediaType.parse(response.header("Content-Type") or "")
    if media.type in (PROBLEM_MEDIA_TYPE, "application/json"):
        try:
            problem = Problem.model_validate(orjson.loads(response.body))
        except (ValueError, ValidationError):
            pass
        else:
            return problem
    return Problem(title=response.reason or "Client error", status=response.status)


def _check_answer(body: PredictionBody, rows: int, card: ModelCard, exchange: Exchange) -> None:
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


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
