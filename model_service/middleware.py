"""Per-request context as plain ASGI middleware (no per-request task or
body copy, unlike BaseHTTPMiddleware): request id, model headers on every
answer, one JSON log line, metrics, and the last-resort 500."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_service.errors import internal_error

if TYPE_CHECKING:
    from model_service.metrics import Metrics

log = logging.getLogger("model_service.access")
#: A caller's request id is echoed when it is visible ASCII (spaces allowed)
#: and not absurdly long; anything else gets a fresh id.
_VALID_ID = re.compile(rb"^[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?$")


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        head = scope["method"] == "HEAD"
        if head:  # HEAD is GET without the body (RFC 9110), on every GET route
            scope = {**scope, "method": "GET"}
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id.decode()
        status = 500
        started = False
        app_state = scope["app"].state

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id))
                headers.extend(getattr(app_state, "model_headers", ()))
                message["headers"] = headers
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # A bug: log it with the request id, answer without the details.
            log.exception("unhandled error", extra={"request_id": state["request_id"]})
            if started:
                raise
            await internal_error(scope["path"], state["request_id"])(
                scope, receive, send_with_headers
            )
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            self.metrics.observe(template, scope["method"], status, elapsed)
            if status == 200 and state.get("rows"):
                self.metrics.rows_predicted(scope["path"], state["rows"])
            if log.isEnabledFor(logging.INFO):  # skip building the line when off
                log.info(
                    "request",
                    extra={
                        "request_id": state["request_id"],
                        "method": "HEAD" if head else scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "rows": state.get("rows"),
                        "latency_ms": round(elapsed * 1000, 3),
                    },
                )


def _request_id(scope: Scope) -> bytes:
    """The caller's X-Request-ID when it is a sane token, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _VALID_ID.match(value):
            return bytes(value)
    # 32 hex characters like uuid4().hex, without building a UUID object.
    return os.urandom(16).hex().encode()
