"""The OpenAPI document: what it says about bodies FastAPI does not parse
itself and about errors, beside the routes rather than in them.

`native` and `v2` hold each route's documentation (summaries, request and
response bodies, the problems it answers, described by the problem classes
of `shared.problems` and `model_service.errors`); `install` generates the
document once, with the Problem schema and a 405 on every operation.

The V2 pydantic models describe requests and do not decode them: validating
an infer body with `InferenceRequest` took 5-7 µs for 1 row and 0.6-0.9 ms
for 1,000 rows, against 1 µs and 0.15-0.35 ms for the JSON parse it would
replace, while the decoder's other work (tensors to rows, cell checks; 35 µs
and 0.6-0.9 ms) stays, so a pydantic decoder would be about 10% slower on one
row and 50-100% on 1,000 (timeit in process, iris, best of 15, three runs).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from model_service.auth import is_open
from model_service.errors import V2_PREFIX, Unauthorized
from shared.problems import PROBLEM_MEDIA_TYPE, Problem

PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/Problem"}
V2_ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/V2Error"}


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
            _document_token(schema)
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


def _document_token(schema: dict[str, Any]) -> None:
    """The bearer token (model_service.auth): a security scheme, and a 401 on
    every operation that needs it when a token is configured; the health,
    metrics and documentation routes stay open."""
    schema["components"]["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Only when the service is started with MODEL_SERVICE_TOKEN "
            "(or MODEL_SERVICE_TOKEN_FILE); otherwise no token is needed.",
        }
    }
    for path, operations in schema.get("paths", {}).items():
        if is_open(path):
            continue
        v2 = path.startswith(V2_PREFIX)
        body = V2_ERROR_SCHEMA_REF if v2 else PROBLEM_SCHEMA_REF
        media_type = "application/json" if v2 else PROBLEM_MEDIA_TYPE
        for operation in operations.values():
            operation["security"] = [{}, {"bearer": []}]  # either: no token set, or the token
            operation.setdefault("responses", {})["401"] = {
                "description": Unauthorized.description,
                "headers": {
                    "WWW-Authenticate": {
                        "description": "Bearer: the scheme to authenticate with.",
                        "schema": {"type": "string"},
                    }
                },
                "content": {media_type: {"schema": body}},
            }
