"""When a call to the endpoint is sent again, and after how long.

A model swap or a restart of the model container under traffic looks like
this from here, for several seconds: the endpoint's name does not resolve,
then nothing accepts the connection (or, while the old container's address
still resolves, the connection is not accepted in time), then the new
service answers 503 (problem type `/problems/not-ready`) until its model is
loaded. In all of these the request was not processed, so it is sent again,
POST included, after a
pause that doubles from `backoff` up to `max_pause` (or the 503's
`Retry-After`, capped at `RETRY_AFTER_CAP`), until `seconds` have passed
since the first attempt or `max_attempts` were made, whichever comes first.
No pause ends past that deadline, so the last attempt is made at it. Then
the last outcome stands: the refusal, or the last 503. Nothing else is
retried: a read timeout or a broken connection may mean the request was
received.
docs/web-app.md tells the same to someone running the app.

The loop is tenacity's; this module says what it retries, how long it
waits and when it stops, and keeps the per-call `Tally` the inspector shows
(how many attempts, what each earlier one met). The deadline is read from
an injectable clock, not tenacity's own, so tests need not wait.

Why not urllib3's `Retry`, mounted on the session's `HTTPAdapter`: it
applies only to that adapter, so not to whatever session is injected (the
tests' fake transport replaces the adapter); it bounds retries by count,
not by time; it sleeps the whole `Retry-After`, with no cap; and it keeps
its history inside urllib3, not where the client can tell the inspector
what each attempt met.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from tenacity import (
    Future,
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base
from urllib3.exceptions import NewConnectionError, ProtocolError

from web_app.endpoint.exchange import NOT_READY, REFUSED

RETRY_AFTER_CAP = 5.0  # seconds: the longest pause a 503's Retry-After can ask for


@dataclass
class Tally:
    """One call's attempts so far, and what each retried one met
    (`exchange.REFUSED` or `exchange.NOT_READY`)."""

    attempts: int = 0
    retried: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RetryPolicy:
    """`seconds` is the retry window (0 turns retries off); `sleep` and
    `clock` are injectable so tests need not wait."""

    seconds: float = 30.0
    backoff: float = 0.25
    max_pause: float = 1.0
    max_attempts: int = 40
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def send(self, attempt: Callable[[], requests.Response], tally: Tally) -> requests.Response:
        """Call `attempt` until it meets something other than a refused
        connection or a 503, or the policy gives up; return the last
        response (a 503 included), or raise what the last attempt raised."""

        def counted() -> requests.Response:
            tally.attempts += 1
            return attempt()

        def note(state: RetryCallState) -> None:
            tally.retried.append(NOT_READY if _answered(state) else REFUSED)

        deadline = self.clock() + self.seconds
        retrying = Retrying(
            retry=retry_if_exception(never_sent) | retry_if_result(_not_ready),
            stop=stop_after_attempt(max(1, self.max_attempts)) | _AtDeadline(deadline, self.clock),
            wait=_Pause(self.backoff, self.max_pause, deadline, self.clock),
            sleep=self.sleep,
            before_sleep=note,
            # When it gives up, the last outcome stands: its response, or its exception.
            retry_error_callback=lambda state: _outcome(state).result(),
        )
        response: requests.Response = retrying(counted)
        return response


def never_sent(exc: BaseException) -> bool:
    """Whether the request surely never reached a server: the connection was
    refused, the name did not resolve, or no connection was made in time (a
    connect timeout: during a swap the old container's address can linger
    with nothing behind it). All of these are safe to send again."""
    return refused(exc) or isinstance(exc, requests.ConnectTimeout)


def broke_before_answer(exc: BaseException) -> bool:
    """Whether the connection broke before any byte of an answer came back
    (reset or closed by the server: urllib3's ProtocolError, "Connection
    aborted."). The request may have reached the server; only a caller that
    knows the request changes nothing may send it again."""
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.Timeout):
        return False
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, ProtocolError)


def refused(exc: BaseException) -> bool:
    """Whether the connection was refused or the name did not resolve:
    requests wraps urllib3's NewConnectionError in a MaxRetryError. A
    connect timeout is a ConnectionError too, but not this."""
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.Timeout):
        return False
    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", None), NewConnectionError)


def retry_after(response: requests.Response) -> float | None:
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


def _not_ready(response: requests.Response) -> bool:
    return response.status_code == 503


def _outcome(state: RetryCallState) -> Future:
    assert state.outcome is not None  # tenacity sets it before asking whether to retry
    return state.outcome


def _answered(state: RetryCallState) -> bool:
    return not _outcome(state).failed


class _AtDeadline(stop_base):
    """Stop once the deadline is reached, by the policy's clock."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() >= self.deadline


class _Pause(wait_base):
    """Doubling from `backoff` up to `max_pause`; a 503's Retry-After
    lengthens it up to `RETRY_AFTER_CAP`; never past the deadline."""

    def __init__(
        self, backoff: float, max_pause: float, deadline: float, clock: Callable[[], float]
    ) -> None:
        self.doubling = wait_exponential(multiplier=backoff, max=max_pause)
        self.deadline = deadline
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> float:
        pause = self.doubling(retry_state)
        if _answered(retry_state):
            asked = retry_after(_outcome(retry_state).result())
            if asked is not None:
                pause = max(pause, min(asked, RETRY_AFTER_CAP))
        return max(0.0, min(pause, self.deadline - self.clock()))
