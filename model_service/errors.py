"""Turning errors into answers, in one place.

Domain errors (`shared.problems.PayloadError`), routing errors (404, 405)
and FastAPI's own validation errors become problem+json on the native
routes and the Open Inference Protocol's `{"error": ...}` on `/v2`, with
the same status. Anything else is a bug: the request middleware logs it
and answers a generic 500 (`internal_error`) that names the request id.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from shared.problems import PROBLEM_MEDIA_TYPE, PayloadError, Problem, problem_type

V2_PREFIX = "/v2"


class ServiceUnavailable(PayloadError):
    """The model is not loaded (yet): try again shortly."""

    status = 503
    slug = "not-ready"
    title = "The model is not ready"


class NotFound(PayloadError):
    status = 404
    slug = "not-found"
    title = "Not found"


def error_response(
    problem: Problem, path: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The body a client of this path expects: V2's `{"error"}` or problem+json."""
    if path.startswith(V2_PREFIX):
        body = orjson.dumps({"error": problem.detail or problem.title})
        return Response(body, problem.status, headers, media_type="application/json")
    fields = problem.model_dump(mode="json", exclude_none=True)
    if problem.errors:  # every entry has row and column, null where they do not apply
        fields["errors"] = [error.model_dump(mode="json") for error in problem.errors]
    return Response(orjson.dumps(fields), problem.status, headers, media_type=PROBLEM_MEDIA_TYPE)


def internal_error(path: str, request_id: str | None) -> Response:
    problem = Problem(
        title="Internal Server Error",
        status=500,
        detail="The service failed to answer this request. This is a bug; "
        "the service log has the details under this request id.",
        request_id=request_id,
    )
    return error_response(problem, path)


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


async def payload_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PayloadError)
    return error_response(exc.to_problem(_request_id(request)), request.url.path)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if exc.detail != phrase else None
    if exc.status_code == 404 and detail is None:
        detail = f"There is no route {request.url.path}. See /docs for the routes of this service."
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.url.path} does not take {request.method}; it takes {allowed}."
    slug = phrase.lower().replace(" ", "-")
    problem = Problem(
        type=problem_type(slug),
        title=phrase,
        status=exc.status_code,
        detail=detail,
        request_id=_request_id(request),
    )
    return error_response(problem, request.url.path, exc.headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's parameter validation (path/query), reported in our format."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    problem = Problem(
        type=problem_type("bad-request"),
        title="Bad request",
        status=400,
        detail=f"{where}: {first.get('msg', 'invalid')}",
        request_id=_request_id(request),
    )
    return error_response(problem, request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PayloadError, payload_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
