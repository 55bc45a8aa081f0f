"""What a prediction handler takes from a request and gives back, free of
any framework, so that one handler serves both the FastAPI route (which
documents it in OpenAPI) and the pure ASGI fast path (`model_service.fastpath`)
that answers it under load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive


@dataclass(slots=True)
class Call:
    """One request to a prediction route."""

    #: the app's state: settings, predictor, model headers
    app_state: State
    #: request headers by lower-case name (the first one when repeated)
    headers: Mapping[str, str]
    #: where the body comes from, read once by `model_service.bodies`
    receive: Receive
    #: the per-request state the request middleware logs (`rows`, `request_id`)
    request_state: dict[str, Any]
    path_params: Mapping[str, str]

    @classmethod
    def from_request(cls, request: Request) -> Call:
        return cls(
            request.app.state,
            request.headers,
            request.receive,
            request.scope.setdefault("state", {}),
            request.path_params,
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """A 200 answer: its body, media type and any extra headers."""

    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...] = ()

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as Starlette's `Response` sends them, in its order:
        the extra ones, then Content-Length and Content-Type (the media
        types here name their charset where they have one)."""
        raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers
        ]
        raw.append((b"content-length", str(len(self.body)).encode()))
        raw.append((b"content-type", self.media_type.encode("latin-1")))
        return raw

    def response(self) -> Response:
        return Response(self.body, media_type=self.media_type, headers=dict(self.headers) or None)
