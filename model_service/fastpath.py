"""A pure ASGI path for the prediction routes: `POST /invocations` and
`POST /v2/models/{name}[/versions/{version}]/infer`.

Why: profiled under load (py-spy over wrk, one-row JSON at concurrency 16),
FastAPI's routing, its request/response wrappers and exception layers took
as much time per request as decoding, predicting and encoding the row. This
layer sits inside the request middleware (`model_service.middleware`), so
request ids, the model headers, metrics and the access log are the same
for both paths, and matches the two routes by hand before FastAPI does. It
calls the very handlers the FastAPI routes call (`answer_invocations`,
`answer_infer`), with the headers as a plain dict and the body read straight
from `receive`, and sends the answer as two ASGI messages. Errors go through
`model_service.errors`' handler, so their bodies, statuses and headers are
the ones documented in docs/errors.md. Everything else (other methods and
routes, 404s and 405s, the OpenAPI document) is FastAPI's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from model_service.errors import problem_error
from model_service.exchange import Answer, Call
from model_service.routes import native, v2
from model_service.routes.native import answer_invocations
from model_service.routes.v2 import answer_infer
from shared.problems import ProblemError

Handler = Callable[[Call], Awaitable[Answer]]

_V2_MODELS = "/v2/models/"
_INFER = "/infer"


def match(path: str) -> tuple[str, Handler, dict[str, str]] | None:
    """The route template, handler and path parameters of a prediction
    path, as Starlette would match them (a parameter is one or more
    characters other than `/`); None for any other path."""
    if path == "/invocations":
        return "/invocations", answer_invocations, {}
    if not (path.startswith(_V2_MODELS) and path.endswith(_INFER)):
        return None
    parts = path[len(_V2_MODELS) : -len(_INFER)].split("/")
    if len(parts) == 1 and parts[0]:
        return "/v2/models/{name}/infer", answer_infer, {"name": parts[0]}
    if len(parts) == 3 and parts[1] == "versions" and parts[0] and parts[2]:
        params = {"name": parts[0], "version": parts[2]}
        return "/v2/models/{name}/versions/{version}/infer", answer_infer, params
    return None


#: route template -> the declared POST route, set as `scope["route"]` as
#: FastAPI's routing does: the metrics label requests by its template.
_ROUTES: dict[str, BaseRoute] = {
    route.path: route
    for route in (*native.router.routes, *v2.router.routes)
    if isinstance(route, APIRoute) and "POST" in (route.methods or ())
}


class PredictionFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        template, handler, params = found
        scope["route"] = _ROUTES[template]
        scope["path_params"] = params
        # The first of a repeated header wins, as in Starlette's Headers.get.
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in reversed(scope["headers"])
        }
        call = Call(scope["app"].state, headers, receive, scope.setdefault("state", {}), params)
        try:
            answer = await handler(call)
        except ProblemError as exc:
            response = await problem_error(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": answer.raw_headers()})
        await send({"type": "http.response.body", "body": answer.body})
