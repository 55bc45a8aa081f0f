"""The inspector: one exchange with the endpoint as a page shows it, the
request and the response as they went over the wire, bodies laid out for
reading, and a line of teaching beside each part that fits what this
exchange was (a prediction POSTed, or the model card asked for with a GET).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import orjson

from web_app.endpoint import NOT_READY, REFUSED, Exchange

#: How much of a body the inspector shows; a batch body can be megabytes.
INSPECTOR_BODY_CHARS = 3_000

#: What each method means, beside the method in the inspector.
METHOD_NOTES = {
    "POST": "POST means “here is data, process it”.",
    "GET": "GET means “send me what is at this address”: here, what the model service says about its model.",
}


@dataclass(frozen=True)
class Shown:
    """A message body as the inspector shows it: `raw` exactly as it went
    over the wire, `readable` laid out for reading when it is JSON."""

    raw: str
    omitted: int  # characters of `raw` not shown
    size: int  # bytes on the wire
    readable: str | None = None


def body_text(body: bytes, limit: int = INSPECTOR_BODY_CHARS) -> Shown:
    text = body.decode("utf-8", errors="replace")
    readable = readable_json(body)
    if readable is not None and len(readable) > limit:
        readable = readable[:limit] + "\n…"
    return Shown(text[:limit], max(0, len(text) - limit), len(body), readable)


def readable_json(body: bytes) -> str | None:
    """JSON with one top-level key per line and one row per line, values
    untouched; None when the body is not a JSON object."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or not document:
        return None
    lines = []
    for i, (key, value) in enumerate(document.items()):
        comma = "," if i < len(document) - 1 else ""
        if (
            isinstance(value, list)
            and len(value) > 1
            and all(isinstance(v, (list, dict)) for v in value)
        ):
            inner = ",\n".join(f"    {_compact(v)}" for v in value)
            lines.append(f"  {_compact(key)}: [\n{inner}\n  ]{comma}")
        else:
            lines.append(f"  {_compact(key)}: {_compact(value)}{comma}")
    return "{\n" + "\n".join(lines) + "\n}"


def _compact(value: object) -> str:
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


@dataclass(frozen=True)
class InspectorView:
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: Shown
    status: int | None
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: Shown
    elapsed_ms: float
    attempts: int
    retried: tuple[str, ...] = ()

    @property
    def retry_note(self) -> str:
        """What the attempts before the last met, e.g. `3 attempts: 2 found
        nobody listening`; empty for a single attempt."""
        if self.attempts <= 1:
            return ""
        met = []
        if refused := self.retried.count(REFUSED):
            met.append(f"{refused} found nobody listening")
        if not_ready := self.retried.count(NOT_READY):
            met.append(f"{not_ready} answered 503, the model still loading")
        return f"{self.attempts} attempts" + (": " + ", ".join(met) if met else "")

    @property
    def method_note(self) -> str:
        return METHOD_NOTES.get(self.method, f"{self.method} is the kind of request this is.")

    @property
    def lede(self) -> str:
        """What the exchange was for, above the request and the response."""
        if self.method == "POST":
            return (
                "The app turned your input into an HTTP request, sent it to the model's "
                "endpoint, and read the HTTP response."
            )
        return (
            "To build the form, the app asked the model service about its model with an "
            "HTTP request, and read the HTTP response."
        )

    @property
    def request_headers_note(self) -> str:
        if self.request_body.size:
            return (
                "Facts about the message: Content-Type says how the body is written, "
                "Accept which format we want back."
            )
        return "Facts about the message: Accept says which format we want back."

    @property
    def request_body_note(self) -> str:
        if self.request_body.size:
            return "Your data, with the values in the order the model expects."
        return "Empty: a GET asks for something and sends no data."

    @property
    def response_body_note(self) -> str:
        if not self.ok:
            return "What the endpoint said went wrong."
        if self.method == "POST":
            return "The prediction, which the app translated into words above."
        return "What the endpoint sent back."

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def inspector(exchange: Exchange) -> InspectorView:
    response = exchange.response
    return InspectorView(
        method=exchange.request.method,
        url=exchange.request.url,
        request_headers=exchange.request.headers,
        request_body=body_text(exchange.request.body),
        status=response.status if response else None,
        reason=response.reason if response else "",
        response_headers=response.headers if response else [],
        response_body=body_text(response.body) if response else Shown("", 0, 0),
        elapsed_ms=exchange.elapsed_ms,
        attempts=exchange.attempts,
        retried=exchange.retried,
    )
