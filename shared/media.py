"""Media types: which body formats the endpoint reads (Content-Type) and
writes (Accept), parsed once so both services name them the same way."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from enum import Enum

from shared.problems import NotAcceptable, UnsupportedMediaType


class Format(Enum):
    JSON = "application/json"
    CSV = "text/csv"


@dataclass(frozen=True)
class MediaType:
    """`type/subtype; key=value` with lower-cased names and unquoted values."""

    type: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> MediaType:
        head, *rest = value.split(";")
        params = {}
        for part in rest:
            key, sep, val = part.partition("=")
            if sep:
                params[key.strip().lower()] = val.strip().strip('"')
        return cls(head.strip().lower(), params)

    @property
    def format(self) -> Format | None:
        if self.type == "application/json" or (
            self.type.startswith("application/") and self.type.endswith("+json")
        ):
            return Format.JSON
        if self.type == "text/csv":
            return Format.CSV
        return None

    @property
    def header(self) -> bool | None:
        """RFC 4180's `header` parameter: True present, False absent, None unsaid."""
        value = self.params.get("header")
        return {"present": True, "absent": False}.get(value.lower()) if value else None


ACCEPTED_REQUEST_TYPES = "application/json, text/csv (optionally '; header=present')"


@dataclass(frozen=True)
class RequestFormat:
    format: Format
    header: bool | None
    charset: str


def request_format(content_type: str | None) -> RequestFormat:
    """What a request body is, from its Content-Type; 415 when we cannot read it."""
    if not content_type or not content_type.strip():
        raise UnsupportedMediaType(
            f"The request has no Content-Type. Send one of: {ACCEPTED_REQUEST_TYPES}."
        )
    media = MediaType.parse(content_type)
    fmt = media.format
    if fmt is None:
        hint = ""
        if media.type == "application/x-www-form-urlencoded":
            hint = " (curl -d sends this by default: add -H 'Content-Type: application/json')"
        raise UnsupportedMediaType(
            f"Content-Type {media.type!r} is not supported{hint}. Send one of: {ACCEPTED_REQUEST_TYPES}."
        )
    charset = media.params.get("charset", "utf-8").lower()
    check_charset(charset)
    return RequestFormat(fmt, media.header, charset)


#: Python's text codecs that are not charsets of text on the wire: escape
#: syntaxes (they turn a backslash in the data into another character),
#: domain-name encodings, and `undefined`, which refuses everything.
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "charmap"}
)


def check_charset(charset: str) -> None:
    """415 unless `charset` names a text encoding Python can decode. Python
    also knows codecs that are not charsets at all (base64, zlib, rot13,
    hex: bytes to bytes or str to str; and `_NOT_CHARSETS`); a body
    declared in one of them is refused here, never decoded some other way."""
    try:
        name = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise UnsupportedMediaType(f"charset {charset!r} is not known; send utf-8.") from None
    if name in _NOT_CHARSETS:
        raise UnsupportedMediaType(f"charset {charset!r} is not a text encoding; send utf-8.")
    try:
        # A text encoding turns str into bytes and back; the others raise
        # LookupError ("not a text encoding") or, `undefined`, UnicodeError.
        "a".encode(charset).decode(charset)
    except (LookupError, UnicodeError):
        raise UnsupportedMediaType(
            f"charset {charset!r} is not a text encoding; send utf-8."
        ) from None


@dataclass(frozen=True)
class ResponseFormat:
    format: Format
    header: bool = False

    @property
    def content_type(self) -> str:
        if self.format is Format.CSV:
            return "text/csv; charset=utf-8" + ("; header=present" if self.header else "")
        return "application/json"


JSON_RESPONSE = ResponseFormat(Format.JSON)
CSV_RESPONSE = ResponseFormat(Format.CSV)


def response_format(accept: str | None) -> ResponseFormat:
    """The response format the client prefers (RFC 9110 content negotiation,
    q-values honoured, JSON on ties and when there is no Accept); 406 when
    it accepts none of ours."""
    if not accept or not accept.strip():
        return JSON_RESPONSE
    offers: list[tuple[float, int, int, ResponseFormat]] = []
    for position, item in enumerate(accept.split(",")):
        if not item.strip():
            continue
        media = MediaType.parse(item)
        try:
            quality = float(media.params.get("q", "1"))
        except ValueError:
            quality = 0.0
        candidate = _offer(media)
        if candidate is not None and quality > 0:
            # Higher q wins; at equal q an explicit type beats a wildcard, then order.
            offers.append((quality, "*" not in media.type, -position, candidate))
    if not offers:
        raise NotAcceptable(
            f"Accept {accept!r} allows none of the response formats: application/json, "
            "text/csv, text/csv; header=present."
        )
    return max(offers, key=lambda offer: offer[:3])[3]


def _offer(media: MediaType) -> ResponseFormat | None:
    if media.type in ("*/*", "application/*", "application/json"):
        return JSON_RESPONSE
    if media.type in ("text/*", "text/csv"):
        return ResponseFormat(Format.CSV, header=media.header is True)
    return None
