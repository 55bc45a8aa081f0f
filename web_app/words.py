"""Failures of the endpoint in plain words, and the status the page gets.

The client names what went wrong (`endpoint.EndpointError` and its subclasses);
this says it to a person: what happened, what it means, what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web_app import endpoint

#: Statuses of the endpoint that mean the user's data is at fault, answered
#: as such; any other 4xx means this app sent something wrong (502).
INPUT_STATUSES = (413, 422)


@dataclass(frozen=True)
class Failure:
    title: str
    message: str
    advice: str
    status: int
    details: list[str] = field(default_factory=list)
    request_id: str | None = None


def explain(
    exc: endpoint.EndpointError, details: list[str] | None = None, *, input_kept: bool = True
) -> Failure:
    """`details` replaces the endpoint's own list of bad cells (the batch
    page passes them translated to file lines); `input_kept` is False where
    there was no input to keep (a plain visit of a page), so the advice does
    not promise it."""
    base = _base_url(exc)
    retry = (
        "Your input is kept: try again in a few seconds."
        if input_kept
        else "Try again in a few seconds."
    )
    request_id = exc.exchange.request_id
    if isinstance(exc, endpoint.EndpointUnreachable):
        return Failure(
            "The model service is not answering",
            f"Nothing accepted a connection at {base}"
            + _for_how_long(exc.exchange)
            + ". The model service may be stopped, or restarting with a new model.",
            retry,
            exc.status_code,
        )
    if isinstance(exc, endpoint.ConnectTimeout):
        return Failure(
            "The model service did not pick up",
            f"{base} did not accept the connection in time. The machine may be overloaded or unreachable.",
            retry,
            exc.status_code,
        )
    if isinstance(exc, endpoint.ReadTimeout):
        return Failure(
            "The model took too long to answer",
            f"The request reached {base}, but no answer came back in time ({exc.message}).",
            "Try again; if it keeps happening, send fewer rows at once.",
            exc.status_code,
            request_id=request_id,
        )
    if isinstance(exc, endpoint.ConnectionLost):
        return Failure(
            "The connection broke",
            f"The connection to {base} closed before the answer arrived.",
            retry,
            exc.status_code,
            request_id=request_id,
        )
    if isinstance(exc, endpoint.EndpointNotReady):
        return Failure(
            "The model is not ready yet",
            "The model service is running but answered 503: its model is still loading"
            + _for_how_long(exc.exchange)
            + ".",
            retry,
            exc.status_code,
            request_id=request_id,
        )
    if isinstance(exc, endpoint.EndpointFailed):
        response = exc.exchange.response
        status = f"{response.status} {response.reason}" if response else "an error"
        return Failure(
            "The model service failed",
            f"It answered {status}: an error on its side, not in your input.",
            "Try again; if it keeps failing, its log has the details under the request id below.",
            exc.status_code,
            request_id=request_id,
        )
    if isinstance(exc, endpoint.EndpointUnauthorized):
        return Failure(
            "This site is not allowed to call the model service",
            f"{base} asks for a token, and this web app sent none or the wrong one: "
            "a set-up mistake, nothing wrong with your input.",
            "Tell whoever runs this site: WEB_APP_MODEL_TOKEN (or WEB_APP_MODEL_TOKEN_FILE) "
            "must hold one of the model service's MODEL_SERVICE_TOKEN values.",
            exc.status_code,
            request_id=request_id,
        )
    if isinstance(exc, endpoint.ModelChanged):
        return Failure(
            "The model has changed",
            f"The model service now serves {exc.served}: the model was swapped while this "
            "request was on its way, so its answer is not shown.",
            "Check your input against the new model and send it again.",
            exc.status_code,
            request_id=request_id,
        )
    if isinstance(exc, endpoint.EndpointRejected):
        problem = exc.problem
        own_fault = problem.status in INPUT_STATUSES
        listed = (
            details
            if details is not None
            else [_cell(e.row, e.column, e.message) for e in problem.errors or []]
        )
        return Failure(
            "The model service did not accept the input"
            if own_fault
            else "The model service refused this app's request",
            f"It answered {problem.status} {problem.title}"
            + (f": {problem.detail}" if problem.detail and not listed else "."),
            "Correct the values below and send again."
            if own_fault
            else "This is a mismatch between the app and the model service, not your input.",
            problem.status if own_fault else exc.status_code,
            listed,
            request_id=request_id,
        )
    return Failure(  # UnreadableResponse
        "The model service's answer could not be read",
        f"{exc.message[:1].upper()}{exc.message[1:]}.",
        "The model service and this app may disagree about the contract; the inspector below shows what came back.",
        exc.status_code,
        request_id=request_id,
    )


def _for_how_long(exchange: endpoint.Exchange) -> str:
    """`, after 12 attempts over 15 s` when the call was retried."""
    if exchange.attempts <= 1:
        return ""
    seconds = exchange.elapsed_ms / 1000
    return f", after {exchange.attempts} attempts" + (
        f" over {seconds:.0f} s" if seconds >= 1 else ""
    )


def _cell(row: int | None, column: str | int | None, message: str) -> str:
    where = []
    if row is not None:
        where.append(f"row {row + 1}")
    if column is not None:
        where.append(f"“{column}”" if isinstance(column, str) else f"column {column + 1}")
    return f"{', '.join(where).capitalize()}: {message}." if where else f"{message}."


def _base_url(exc: endpoint.EndpointError) -> str:
    url = exc.exchange.request.url
    return url.rsplit("/", 1)[0] if url.count("/") > 2 else url
