"""What the OpenAPI document says about bodies FastAPI does not parse
itself: the request shapes of /invocations and the problem+json errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from model_service.errors import V2_PREFIX
from shared.problems import PROBLEM_MEDIA_TYPE, Problem

ERROR_DESCRIPTIONS = {
    405: "The route exists, but not with this method; the Allow header lists the ones it takes.",
    400: "The body cannot be parsed as CSV or JSON, is empty, or has none of the accepted shapes.",
    404: "No such route (or, on /v2, no such model or version).",
    406: "The Accept header allows none of the response formats.",
    413: "The body is over the size limit, or has more rows than the row limit.",
    415: "The Content-Type is missing or not one the endpoint reads, or the Content-Encoding is not gzip or deflate.",
    422: "The rows are wrong: count, width, names, non-numbers, NaN/inf or out-of-range numbers; "
    "`errors` names each row and column at fault.",
    500: "A bug. The body is generic and carries the request id; the log has the details.",
    503: "The model is not loaded yet.",
}
PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}
V2_ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/V2Error"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the given error statuses, as problem+json."""
    return {
        status: {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA_REF}},
        }
        for status in (*statuses, 500)
    }


def install(app: FastAPI) -> None:
    """Generate the document once, with the Problem schema in components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            _document_wrong_methods(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_wrong_methods(schema: dict[str, Any]) -> None:
    """Every route answers 405 to a method it does not take (HEAD excepted
    on GET routes); say so on each operation, in the body its protocol uses."""
    for path, operations in schema.get("paths", {}).items():
        allowed = ", ".join(sorted(method.upper() for method in operations))
        body = V2_ERROR_SCHEMA_REF if path.startswith(V2_PREFIX) else PROBLEM_SCHEMA_REF
        media_type = "application/json" if path.startswith(V2_PREFIX) else PROBLEM_MEDIA_TYPE
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault(
                "405",
                {
                    "description": f"Another method than {allowed}; the Allow header lists the ones this route takes.",
                    "content": {media_type: {"schema": body}},
                },
            )
