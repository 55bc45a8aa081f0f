"""The service's own problem types, and turning every error into an answer
in one place.

The contract's payload errors (`shared.problems`) and these are the only
declaration of each problem type: status, `type` slug, title and when it
happens (docs/errors.md). The `/problems/{slug}` pages, the OpenAPI error
descriptions and the V2 statuses are derived from `PROBLEM_CLASSES`::

    ProblemError
    ├── PayloadError             (the contract's 4xx, see shared.problems)
    │   ├── BadRequest           400  a path or query parameter is not valid
    │   ├── Unauthorized         401  a token is configured and the request has none that matches
    │   ├── NotFound             404  no such route, model or version
    │   ├── MethodNotAllowed     405  the route does not take this method
    │   └── RequestTimeout       408  the body did not arrive in time (model_service.deadline)
    ├── ServiceUnavailable       503  the model is not loaded (yet)
    └── InternalError            500  a bug (`type` is about:blank)

Domain errors, routing errors (404, 405) and FastAPI's own validation
errors become problem+json on the native routes and the Open Inference
Protocol's `{"error": ...}` on `/v2`, with the same status. Anything else
is a bug: the request middleware logs it and answers a generic 500
(`internal_error`) that names the request id.
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

from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    InvalidRows,
    MalformedPayload,
    NotAcceptable,
    PayloadError,
    PayloadTooLarge,
    Problem,
    ProblemError,
    UnsupportedMediaType,
    problem_type,
)

V2_PREFIX = "/v2"


class BadRequest(PayloadError):
    status = 400
    slug = "bad-request"
    title = "Bad request"
    description = (
        "A path or query parameter is not valid (FastAPI's validation of declared parameters)."
    )


class Unauthorized(PayloadError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"
    description = (
        "The service was started with a token (MODEL_SERVICE_TOKEN) and the request has no "
        "'Authorization: Bearer <token>' header with one that matches."
    )


class NotFound(PayloadError):
    status = 404
    slug = "not-found"
    # The status's phrase, as Starlette's routing 404 has always said.
    title = "Not Found"
    description = "No such route (or, on /v2, no such model or version)."


class MethodNotAllowed(PayloadError):
    status = 405
    slug = "method-not-allowed"
    title = "Method Not Allowed"
    description = (
        "The route exists, but not with this method; the Allow header lists the ones it takes."
    )


class RequestTimeout(PayloadError):
    status = 408
    slug = "request-timeout"
    title = "The body did not arrive in time"
    description = (
        "The request's body was still arriving when the body deadline passed "
        "(MODEL_SERVICE_BODY_TIMEOUT_SECONDS); the connection is closed."
    )


class ServiceUnavailable(ProblemError):
    """The model is not loaded (yet): try again shortly."""

    status = 503
    slug = "not-ready"
    title = "The model is not ready"
    description = "The model is not loaded yet."


class InternalError(ProblemError):
    """A bug: answered by the request middleware, never raised."""

    status = 500
    slug = None
    title = "Internal Server Error"
    description = "A bug. The body is generic and carries the request id; the log has the details."


#: Every problem type the service answers, in the order its pages list them.
PROBLEM_CLASSES: tuple[type[ProblemError], ...] = (
    MalformedPayload,
    BadRequest,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidRows,
    ServiceUnavailable,
    InternalError,
)
#: slug -> class, for the problem types that have a page (all but about:blank).
PROBLEM_TYPES: dict[str, type[ProblemError]] = {
    cls.slug: cls for cls in PROBLEM_CLASSES if cls.slug is not None
}
#: The routing errors Starlette raises as HTTPException, by status.
_ROUTING_ERRORS: dict[int, type[ProblemError]] = {
    cls.status: cls for cls in (NotFound, MethodNotAllowed)
}


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
    error = InternalError(
        "The service failed to answer this request. This is a bug; "
        "the service log has the details under this request id."
    )
    return error_response(error.to_problem(request_id), path)


def _request_id(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


async def problem_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
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
    error = _ROUTING_ERRORS.get(exc.status_code)
    if error is not None and detail is not None:
        problem = error(detail).to_problem(_request_id(request))
    else:  # no route raises another HTTPException; named after its status if one does
        problem = Problem(
            type=problem_type(phrase.lower().replace(" ", "-")),
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
    error = BadRequest(f"{where}: {first.get('msg', 'invalid')}")
    return error_response(error.to_problem(_request_id(request)), request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, problem_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
