"""Reading request bodies within the size limit, for every protocol: the
native routes and the Open Inference Protocol share this one reader, so a
`Content-Encoding` (RFC 9110 8.4) is honoured or refused alike on both.

- `identity` (or no header): the body as sent.
- `gzip` (also `x-gzip`, and concatenated gzip members) and `deflate` (the
  zlib format, RFC 9110 8.4.1.2): inflated, never past the size limit, so a
  small "zip bomb" is a 413, not a large allocation.
- anything else (`br`, `zstd`, `compress`...): 415, before the body is read.

Corrupt or truncated compressed data is a 400.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from starlette.types import Receive

from shared.problems import MalformedPayload, PayloadTooLarge, UnsupportedMediaType

#: The codings inflated, and the zlib window bits each needs.
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The whole body, straight from the ASGI `receive` (no Request object),
    with its `Content-Encoding` undone. 413 as soon as it is known to exceed
    `limit`, as sent (from Content-Length before reading, or while
    streaming) or once inflated; 415 for a coding other than gzip, deflate
    or identity. A body cut off mid-way (the client hung up, or the request
    deadline closed the connection: model_service.deadline) is a 400, not a
    bug: no one is left to read it, but the log says what happened."""
    codings = content_codings(headers.get("content-encoding"))
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            raise MalformedPayload(
                f"The connection closed after {size:,} bytes, before the whole body arrived."
            )
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(size, limit, at_least=True))
        chunks.append(chunk)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not body:  # nothing to decode: the codecs say the body is empty
        return body
    # codings are listed in the order they were applied: undo the last first
    for coding in reversed(codings):
        body = inflate(body, coding, limit)
    return body


def content_codings(header: str | None) -> list[str]:
    """The codings a `Content-Encoding` header lists, in the order they were
    applied, `identity` left out; 415 for any this service cannot undo."""
    if header is None:
        return []
    codings = [c.strip().lower() for c in header.split(",")]
    codings = [c for c in codings if c not in ("", "identity")]
    for coding in codings:
        if coding not in _WBITS:
            raise UnsupportedMediaType(
                f"Content-Encoding {coding!r} is not supported; send the body uncompressed, "
                "or compressed with gzip or deflate."
            )
    return codings


def inflate(body: bytes, coding: str, limit: int) -> bytes:
    """`body` decompressed from `coding` (gzip, x-gzip or deflate), inflated
    no further than `limit` + 1 bytes: 413 past the limit, 400 when the data
    is not valid or ends early."""
    wbits = _WBITS[coding]
    parts: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            part = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise MalformedPayload(f"The body is not valid {coding} data ({exc}).") from None
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(
                f"The {coding} body inflates to more than the limit of {limit:,} bytes; "
                "split the batch into smaller requests."
            )
        parts.append(part)
        if not inflater.eof:
            raise MalformedPayload(f"The {coding} body ends before its compressed data does.")
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)
        if wbits != _WBITS["gzip"]:
            raise MalformedPayload(
                f"The {coding} body has {len(rest)} bytes after the end of its compressed data."
            )
        # a gzip body may be several members, one after the other (RFC 1952 2.2)


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    more = "at least " if at_least else ""
    return f"The body is {more}{size:,} bytes; the limit is {limit:,} bytes. Split the batch into smaller requests."
