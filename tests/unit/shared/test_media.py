from __future__ import annotations

import pytest

from shared.media import Format, MediaType, request_format, response_format
from shared.problems import NotAcceptable, UnsupportedMediaType


def test_media_type_parses_parameters_case_insensitively() -> None:
    media = MediaType.parse('Text/CSV; Header="present"; charset=UTF-8')
    assert media.type == "text/csv"
    assert media.header is True
    assert media.params["charset"] == "UTF-8"


@pytest.mark.parametrize(
    ("content_type", "fmt", "header"),
    [
        ("application/json", Format.JSON, None),
        ("application/json; charset=utf-8", Format.JSON, None),
        ("application/vnd.api+json", Format.JSON, None),
        ("text/csv", Format.CSV, None),
        ("text/csv; header=present", Format.CSV, True),
        ("text/csv; header=absent", Format.CSV, False),
    ],
)
def test_request_format_of_accepted_types(
    content_type: str, fmt: Format, header: bool | None
) -> None:
    parsed = request_format(content_type)
    assert (parsed.format, parsed.header) == (fmt, header)


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        (None, "no Content-Type"),
        ("", "no Content-Type"),
        ("text/plain", "'text/plain' is not supported"),
        ("application/x-www-form-urlencoded", "curl -d"),
        ("application/json; charset=klingon", "charset 'klingon'"),
    ],
)
def test_request_format_refuses_with_415(content_type: str | None, says: str) -> None:
    with pytest.raises(UnsupportedMediaType, match=says) as caught:
        request_format(content_type)
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("accept", "fmt", "header"),
    [
        (None, Format.JSON, False),
        ("", Format.JSON, False),
        ("*/*", Format.JSON, False),
        ("application/json", Format.JSON, False),
        ("text/csv", Format.CSV, False),
        ("text/csv; header=present", Format.CSV, True),
        ("text/*", Format.CSV, False),
        ("text/csv;q=0.5, application/json", Format.JSON, False),
        ("application/json;q=0.2, text/csv", Format.CSV, False),
        ("*/*, text/csv", Format.CSV, False),  # explicit beats wildcard at equal q
        ("text/html, text/csv;q=0.9", Format.CSV, False),
    ],
)
def test_response_format_negotiation(accept: str | None, fmt: Format, header: bool) -> None:
    chosen = response_format(accept)
    assert (chosen.format, chosen.header) == (fmt, header)


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "application/json;q=0", "image/*"]
)
def test_response_format_refuses_with_406(accept: str) -> None:
    with pytest.raises(NotAcceptable) as caught:
        response_format(accept)
    assert caught.value.status == 406
