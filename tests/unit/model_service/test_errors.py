"""The problem types: declared once on the error classes, and everything
that lists them (the README's table, the /problems pages, the OpenAPI
document, the answers themselves) agrees with the classes."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model_service.errors import (
    PROBLEM_CLASSES,
    PROBLEM_TYPES,
    InternalError,
    MethodNotAllowed,
    NotFound,
)
from shared.problems import PROBLEM_MEDIA_TYPE, ProblemError

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_error_table() -> list[tuple[int, str, str]]:
    """(status, type, when) of each row of the table in README's "## Errors"."""
    section = README.read_text().split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            status, type_, when = cells
            rows.append((int(status), type_.strip("`"), when))
    return rows


def test_the_readme_error_table_lists_exactly_the_problem_classes() -> None:
    # Status and `type` are checked; the "when" column is prose written for
    # README readers (it names settings), not a copy of the descriptions.
    rows = readme_error_table()
    assert len(rows) == len({type_ for _, type_, _ in rows}), "a type listed twice"
    assert {(status, type_) for status, type_, _ in rows} == {
        (error.status, error.type_uri()) for error in PROBLEM_CLASSES
    }
    assert all(when for _, _, when in rows)


def test_every_class_declares_its_own_problem_type() -> None:
    for error in PROBLEM_CLASSES:
        for attribute in ("status", "slug", "title", "description"):
            assert attribute in vars(error), (error, attribute)
        assert error.description.endswith(".")
        assert "\n" not in error.description
    slugs = [error.slug for error in PROBLEM_CLASSES]
    assert len(slugs) == len(set(slugs))
    assert [error for error in PROBLEM_CLASSES if error.slug is None] == [InternalError]


@pytest.mark.parametrize("error", list(PROBLEM_TYPES.values()), ids=list(PROBLEM_TYPES))
def test_each_problem_page_says_what_its_class_says(
    client: TestClient, error: type[ProblemError]
) -> None:
    page = client.get(error.type_uri())
    assert page.status_code == 200
    assert page.json() == {
        "type": error.type_uri(),
        "status": error.status,
        "title": HTTPStatus(error.status).phrase,
        "description": error.description,
    }


def test_routing_errors_answer_with_their_classes(client: TestClient) -> None:
    for path, method, error in [
        ("/nowhere", "GET", NotFound),
        ("/invocations", "GET", MethodNotAllowed),
        ("/problems/nothing", "GET", NotFound),
    ]:
        response = client.request(method, path)
        assert response.status_code == error.status
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
        body = response.json()
        assert (body["type"], body["title"]) == (error.type_uri(), error.title)


# The statuses each operation documented before the OpenAPI material moved
# out of the routes; the document must keep saying the same (plus the 408 of
# a body that does not arrive in time, model_service/deadline.py).
DOCUMENTED_STATUSES = {
    ("post", "/invocations"): {200, 400, 401, 405, 406, 408, 413, 415, 422, 500, 503},
    ("get", "/metadata"): {200, 401, 405, 500, 503},
    ("get", "/metrics"): {200, 405},
    ("get", "/ping"): {200, 405, 500, 503},
    ("get", "/v2"): {200, 401, 405, 500},
    ("get", "/v2/health/live"): {200, 405, 500},
    ("get", "/v2/health/ready"): {200, 405, 500, 503},
    ("get", "/v2/models/{name}"): {200, 401, 404, 405, 500, 503},
    ("post", "/v2/models/{name}/infer"): {200, 400, 401, 404, 405, 408, 413, 415, 422, 500, 503},
    ("get", "/v2/models/{name}/ready"): {200, 404, 405, 500, 503},
    ("get", "/v2/models/{name}/versions/{version}"): {200, 401, 404, 405, 500, 503},
    ("post", "/v2/models/{name}/versions/{version}/infer"): {
        *(200, 400, 401, 404, 405, 408, 413, 415, 422, 500, 503)
    },
    ("get", "/v2/models/{name}/versions/{version}/ready"): {200, 404, 405, 500, 503},
}


def test_the_openapi_document_keeps_its_routes_statuses_and_error_bodies(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    documented = {
        (method, path): {int(status) for status in operation["responses"]}
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == DOCUMENTED_STATUSES
    descriptions: dict[int, set[str]] = {}
    for error in PROBLEM_CLASSES:
        descriptions.setdefault(error.status, set()).add(error.description)
    for (method, path), statuses in DOCUMENTED_STATUSES.items():
        v2 = path.startswith("/v2")
        media_type, schema = (
            ("application/json", "V2Error") if v2 else (PROBLEM_MEDIA_TYPE, "Problem")
        )
        for status in statuses - {200}:
            response = document["paths"][path][method]["responses"][str(status)]
            assert response["content"] == {
                media_type: {"schema": {"$ref": f"#/components/schemas/{schema}"}}
            }, (path, status)
            if not v2 and status != 405:  # 405 names the methods the route takes
                assert response["description"] in descriptions[status], (path, status)
