"""Records of one call to the endpoint, as the inspector shows it: the
request as sent, the response as received (when one came), how many attempts
it took and what the earlier ones met."""

from __future__ import annotations

from dataclasses import dataclass

from shared.answers import AnswerBody

#: What an earlier attempt met, as `Exchange.retried` lists it.
REFUSED = "refused"  # no such host, or nothing accepted the connection (in time)
NOT_READY = "not ready"  # the endpoint answered 503


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

    body: AnswerBody
    exchange: Exchange
