from __future__ import annotations

import pytest

from shared.problems import (
    CellError,
    InvalidRows,
    MalformedPayload,
    NotAcceptable,
    PayloadError,
    PayloadTooLarge,
    UnsupportedMediaType,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MalformedPayload, 400),
        (NotAcceptable, 406),
        (PayloadTooLarge, 413),
        (UnsupportedMediaType, 415),
        (InvalidRows, 422),
    ],
)
def test_each_error_carries_its_status_into_the_problem(
    error: type[PayloadError], status: int
) -> None:
    problem = error("what went wrong").to_problem(request_id="abc")
    assert problem.status == status
    assert problem.type.startswith("/problems/")
    assert (problem.detail, problem.request_id) == ("what went wrong", "abc")
    assert "errors" not in problem.model_dump(exclude_none=True)


def test_invalid_rows_lists_cells_and_summarises_them() -> None:
    errors = [
        CellError(row=3, column="petal_length", message="not a number: 'abc'"),
        CellError(row=4, message="x"),
    ]
    problem = InvalidRows.from_errors(errors).to_problem()
    assert problem.detail == "2 errors; first: row 3, column 'petal_length': not a number: 'abc'"
    assert problem.model_dump(exclude_none=True)["errors"][0] == {
        "row": 3,
        "column": "petal_length",
        "message": "not a number: 'abc'",
    }
