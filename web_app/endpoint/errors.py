"""How a call to the endpoint can fail. Every failure is one of these
exceptions; each carries the `Exchange` so far and the status the web app
answers with (`status_code`)::

    EndpointError                    (never raised itself)
    ├── TransportError               no HTTP answer came back
    │   ├── EndpointUnreachable      503  connection refused / no such host, until the retry deadline
    │   ├── EndpointTimeout          504  (never raised itself)
    │   │   ├── ConnectTimeout       504  the endpoint did not accept the connection in time
    │   │   └── ReadTimeout          504  the request went out, the answer did not come in time
    │   └── ConnectionLost           502  the connection broke after the request was sent
    ├── EndpointRejected             502  4xx: the endpoint refused the request (its problem+json kept)
    │   └── EndpointUnauthorized     502  401: this app's token is missing or wrong (a set-up mistake)
    ├── EndpointFailed               502  5xx: the endpoint failed
    │   └── EndpointNotReady         503  503: its model is not loaded yet, still so at the retry deadline
    ├── ModelChanged                 409  the answer names another model than the one the request was built for
    └── UnreadableResponse           502  a 2xx body that is not what the contract says

`raise_for_status` maps a response's status to them; `web_app.words`
says each of them to a person.
"""

from __future__ import annotations

from typing import ClassVar

import orjson
from pydantic import ValidationError

from shared.media import MediaType
from shared.problems import PROBLEM_MEDIA_TYPE, Problem
from web_app.endpoint.exchange import Exchange, ReceivedResponse


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


class EndpointUnauthorized(EndpointRejected):
    """The endpoint wants a token this app did not send, or not this one:
    WEB_APP_MODEL_TOKEN does not match the service's MODEL_SERVICE_TOKEN."""


class EndpointFailed(EndpointError):
    status_code = 502


class EndpointNotReady(EndpointFailed):
    status_code = 503


class UnreadableResponse(EndpointError):
    status_code = 502


class ModelChanged(EndpointError):
    """The answer's `X-Model-Name`/`X-Model-Version` name another model than
    the card the request was built from: the model was swapped between
    reading its card and the call (the card is cached for seconds), so the
    answer, whatever its status, is not about the rows the user meant.
    `served` is what the endpoint said it serves, as "name version"."""

    status_code = 409

    def __init__(self, message: str, exchange: Exchange, served: str) -> None:
        super().__init__(message, exchange)
        self.served = served


def check_model(response: ReceivedResponse, exchange: Exchange, name: str, version: str) -> None:
    """Raise `ModelChanged` when the response names another model than
    `name` `version`. An answer that names none (a proxy's page, a service
    still starting) is left to `raise_for_status`."""
    said = (response.header("X-Model-Name"), response.header("X-Model-Version"))
    if said == (None, None) or said == (name, version):
        return
    served = " ".join(part or "?" for part in said)
    raise ModelChanged(
        f"the endpoint now serves {served}, not {name} {version} that the request was built for",
        exchange,
        served,
    )


def raise_for_status(response: ReceivedResponse, exchange: Exchange) -> None:
    """The error a response that is not a 2xx stands for."""
    status = response.status
    if 200 <= status < 300:
        return
    if 400 <= status < 500:
        problem = _problem(response)
        if status == 401:
            raise EndpointUnauthorized(
                "the endpoint asks for a token this app did not send, or not this one",
                exchange,
                problem,
            )
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
