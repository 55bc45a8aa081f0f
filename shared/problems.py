"""The error half of the contract: typed payload errors and the problem+json body.

Every mistake in a request is one of these exceptions, raised where it is
found (the codecs, the predictor) and turned into an HTTP answer in one place
by the service. Each class is one problem type and the only place it is
declared: its status, `type` slug, title and a one-line description of when
it happens (the service's problem pages, OpenAPI document and V2 statuses
are derived from them; docs/errors.md lists them). An instance carries the
detail and, where rows or columns are at fault, the cells that are::

    ProblemError                     (never raised itself)
    └── PayloadError                 (4xx: the request is at fault)
        ├── MalformedPayload         400  body is not CSV/JSON, empty, or no accepted shape
        ├── NotAcceptable            406  no response format the client accepts
        ├── PayloadTooLarge          413  body over the size limit, or too many rows
        ├── UnsupportedMediaType     415  missing or unsupported Content-Type
        └── InvalidRows              422  parsed, but rows or cells are wrong

The model service adds its own (`model_service.errors`: 400 for bad
parameters, 404, 405, 503 and the 500 of a bug). `Problem` is the RFC 9457
body both services read and write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"

#: How many cell errors one answer lists; the rest are counted in `detail`.
MAX_LISTED_ERRORS = 50
#: After this many errors a decoder stops looking: a body of garbage should
#: cost no more to refuse than a valid one costs to predict.
MAX_SCANNED_ERRORS = 1000


class CellError(BaseModel):
    """One wrong row or cell: `row` is the 0-based data row (a CSV header is not
    counted), `column` the feature name where known, else the 0-based index."""

    model_config = ConfigDict(frozen=True)

    row: int | None = None
    column: str | int | None = None
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details body (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = Field(default=None, description="The X-Request-ID of the request.")
    errors: list[CellError] | None = None


def problem_type(slug: str) -> str:
    """The `type` URI of one of our problems, relative so it resolves against
    whichever host served it; docs/errors.md lists them all."""
    return f"/problems/{slug}"


class ProblemError(Exception):
    """An error answered with a problem: each subclass is one problem type."""

    status: ClassVar[int]
    #: `type` is `/problems/{slug}`; None for `about:blank` (RFC 9457: the
    #: status says it all, and the title is the status's phrase).
    slug: ClassVar[str | None]
    title: ClassVar[str]
    #: When it happens, in one line.
    description: ClassVar[str]

    def __init__(self, detail: str, errors: Sequence[CellError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)

    @classmethod
    def type_uri(cls) -> str:
        return "about:blank" if cls.slug is None else problem_type(cls.slug)

    def to_problem(self, request_id: str | None = None) -> Problem:
        return Problem(
            type=self.type_uri(),
            title=self.title,
            status=self.status,
            detail=self.detail,
            request_id=request_id,
            errors=self.errors or None,
        )


class PayloadError(ProblemError):
    """A request the service understood well enough to refuse, with its 4xx."""


class MalformedPayload(PayloadError):
    status = 400
    slug = "malformed-payload"
    title = "The body could not be read"
    description = (
        "The body cannot be parsed as CSV or JSON (or its gzip/deflate data is corrupt), "
        "is empty, or has none of the accepted shapes."
    )


class NotAcceptable(PayloadError):
    status = 406
    slug = "not-acceptable"
    title = "No acceptable response format"
    description = "The Accept header allows none of the response formats."


class PayloadTooLarge(PayloadError):
    status = 413
    slug = "payload-too-large"
    title = "The request is too large"
    description = "The body is over the size limit, or has more rows than the row limit."


class UnsupportedMediaType(PayloadError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported Content-Type"
    description = (
        "The Content-Type is missing or not one the endpoint reads, "
        "or the Content-Encoding is not gzip or deflate."
    )


class InvalidRows(PayloadError):
    status = 422
    slug = "invalid-rows"
    title = "The rows are not valid input for this model"
    description = (
        "The rows are wrong: count, width, names, non-numbers, unknown categories, NaN/inf "
        "or out-of-range numbers; `errors` names each row and column at fault."
    )

    @classmethod
    def from_errors(
        cls, errors: Sequence[CellError], total: int | None = None, complete: bool = True
    ) -> InvalidRows:
        """One exception for many cell errors: the first few listed, all
        counted (or, when the decoder stopped looking, a lower bound)."""
        total = len(errors) if total is None else total
        listed = list(errors[:MAX_LISTED_ERRORS])
        first = listed[0]
        where = _where(first)
        count = (
            f"{total} errors" if complete else f"{total} errors or more (checking stopped there)"
        )
        detail = (
            f"{where}{first.message}"
            if total == 1 and complete
            else f"{count}; first: {where}{first.message}"
        )
        if total > len(listed):
            detail += f" (the first {len(listed)} are listed)"
        return cls(detail, listed)


def _where(error: CellError) -> str:
    parts = []
    if error.row is not None:
        parts.append(f"row {error.row}")
    if error.column is not None:
        parts.append(
            f"column {error.column!r}"
            if isinstance(error.column, str)
            else f"column {error.column}"
        )
    return ", ".join(parts) + ": " if parts else ""
