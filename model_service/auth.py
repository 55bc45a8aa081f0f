"""Who may call the endpoint: an optional shared secret (docs/deployment.md,
"Who may call the endpoint").

With tokens configured (`MODEL_SERVICE_TOKEN`, several comma-separated so
one can be rotated without downtime, or `MODEL_SERVICE_TOKEN_FILE`), every
request but the open ones below must carry `Authorization: Bearer <token>`
(RFC 6750) with one of them; without, it is answered 401 with a
`WWW-Authenticate: Bearer` challenge, in the body its protocol uses
(problem+json, or V2's `{"error"}`), before any other code sees it.

Open, so orchestrators and scrapers need no secret: the health routes
(`/ping`, `/v2/health/live`, `/v2/health/ready`, the V2 model-ready
routes), `/metrics` (counts and the model's name only, no request data),
and the service's own documentation (`/docs`, `/redoc`, `/openapi.json`,
`/problems/...`), which say how to call it but hold nothing of the model.

Tokens are compared with `hmac.compare_digest`, against every configured
token (no early exit), so the time taken does not tell how much of a guess
was right; they are never logged, nor echoed in an answer.

A plain ASGI middleware, the outermost layer: a refused request costs no
routing, no body read and no model code.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from model_service.errors import Unauthorized, error_response

log = logging.getLogger("model_service.auth")

#: Paths answered without a token: health, metrics, documentation.
OPEN_PATHS = frozenset(
    {
        "/ping",
        "/metrics",
        "/v2/health/live",
        "/v2/health/ready",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
    }
)
_OPEN_PATTERN = re.compile(r"^/problems/[^/]+$|^/v2/models/[^/]+(/versions/[^/]+)?/ready$")
#: RFC 6750's b64token: what a bearer token may be made of.
_TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
CHALLENGE = (b"www-authenticate", b'Bearer realm="model_service"')


class TokenError(ValueError):
    """The token settings cannot be used; the message names the setting,
    never the token."""


def is_open(path: str) -> bool:
    """True for the routes anyone may call, token or not."""
    return path in OPEN_PATHS or _OPEN_PATTERN.match(path) is not None


def parse_tokens(value: str, source: str) -> tuple[bytes, ...]:
    """The tokens in a comma-separated list (blanks around them ignored);
    `TokenError` naming `source` for one that is not an RFC 6750 token."""
    tokens = [part.strip() for part in value.replace("\n", ",").split(",")]
    tokens = [token for token in tokens if token]
    for position, token in enumerate(tokens, start=1):
        if not _TOKEN.match(token):
            raise TokenError(
                f"{source}: token {position} has characters a bearer token may not have "
                "(letters, digits and - . _ ~ + / only, = at the end)"
            )
    return tuple(token.encode("ascii") for token in tokens)


def read_token_file(path: Path) -> tuple[bytes, ...]:
    """The tokens in a secret file (comma- or line-separated): `TokenError`
    when it cannot be read or holds none, since a path given for a secret
    that is not there must stop start-up rather than leave the door open."""
    source = f"MODEL_SERVICE_TOKEN_FILE={path}"
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise TokenError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"{source}: cannot be read ({type(exc).__name__})") from None
    tokens = parse_tokens(text, source)
    if not tokens:
        raise TokenError(f"{source}: the file is empty; put the token in it")
    return tokens


def bearer_token(scope: Scope) -> bytes | None:
    """The token of the request's `Authorization: Bearer` header, if any
    (the scheme is case-insensitive, RFC 9110 11.1)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = bytes(value).strip().partition(b" ")
            if scheme.lower() == b"bearer":
                return token.strip()
            return None
    return None


def matches(given: bytes, tokens: Iterable[bytes]) -> bool:
    """Whether `given` is one of `tokens`, comparing with every one."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given, token)
    return found


class BearerToken:
    """Refuses requests without a valid token on every route but the open ones."""

    def __init__(self, app: ASGIApp, tokens: tuple[bytes, ...]) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens or is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = bearer_token(scope)
        if given is not None and matches(given, self.tokens):
            await self.app(scope, receive, send)
            return
        detail = (
            "This endpoint needs a token: send it as 'Authorization: Bearer <token>'."
            if given is None
            else "The bearer token is not one this endpoint accepts."
        )
        log.warning(
            "unauthorized",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "reason": "no token" if given is None else "wrong token",
            },
        )
        problem = Unauthorized(detail).to_problem(None)
        response = error_response(problem, scope["path"])
        response.raw_headers.append(CHALLENGE)
        await response(scope, receive, send)
