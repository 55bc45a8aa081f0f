"""The inspector's view of an exchange: bodies laid out for reading, and
words beside each part that fit what the exchange was."""

from __future__ import annotations

import pytest

from web_app import inspector
from web_app.endpoint import NOT_READY, REFUSED, Exchange, ReceivedResponse, SentRequest


def exchange(method: str, body: bytes = b"", status: int | None = 200) -> Exchange:
    sent = SentRequest(method, "http://model.test/x", [("Accept", "application/json")], body)
    received = ReceivedResponse(status, "OK", [], b"{}") if status is not None else None
    return Exchange(sent, received, attempts=1, elapsed_ms=3.0)


def test_readable_json_puts_rows_on_lines_and_keeps_values() -> None:
    body = b'{"model":{"name":"iris"},"probabilities":[[0.1,0.9],[0.2,0.8]]}'
    assert inspector.readable_json(body) == (
        '{\n  "model": {"name": "iris"},\n  "probabilities": [\n    [0.1, 0.9],\n    [0.2, 0.8]\n  ]\n}'
    )
    assert inspector.readable_json(b"a,b\n1,2") is None


def test_long_bodies_are_cut_for_the_inspector() -> None:
    shown = inspector.body_text(b"x" * 5000, limit=100)
    assert (len(shown.raw), shown.omitted, shown.size) == (100, 4900, 5000)


def test_a_post_is_explained_as_data_sent() -> None:
    view = inspector.inspector(exchange("POST", b'{"instances": [[1, 2]]}'))
    assert "POST means" in view.method_note
    assert "your input" in view.lede
    assert view.request_body_note.startswith("Your data")
    assert "Content-Type" in view.request_headers_note
    assert "prediction" in view.response_body_note


def test_a_get_is_not_explained_as_data_sent() -> None:
    view = inspector.inspector(exchange("GET", status=None))
    assert view.method_note.startswith("GET means")
    assert "POST" not in view.method_note
    assert "your input" not in view.lede
    assert "no data" in view.request_body_note
    assert "Content-Type" not in view.request_headers_note


@pytest.mark.parametrize(
    ("retried", "note"),
    [
        ((), ""),
        ((REFUSED, REFUSED), "3 attempts: 2 found nobody listening"),
        ((REFUSED, NOT_READY), "3 attempts: 1 found nobody listening, 1 answered 503"),
    ],
)
def test_the_retry_note_says_what_earlier_attempts_met(retried: tuple[str, ...], note: str) -> None:
    base = exchange("POST", b"1")
    view = inspector.inspector(
        Exchange(base.request, base.response, len(retried) + 1, 5.0, retried)
    )
    assert view.retry_note.startswith(note)
