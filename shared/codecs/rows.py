"""What both request formats share: the model's input schema, the rows a
decoder returns, and the checks every row and cell goes through, so that
CSV and JSON (and the model service's other protocols) accept the same
values and word the same fault the same way."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shared.problems import CellError, InvalidRows, MalformedPayload, PayloadTooLarge

#: Decoded rows: one list of floats per row, in the model's feature order,
#: NaN for a missing value.
Rows = list[list[float]]
#: Where a cell error points: the feature name where known, else the index.
Column = str | int


@dataclass(frozen=True)
class InputSchema:
    """What the decoder needs to know of the model: feature names in order,
    whether NaN means 'missing', and how many rows one request may carry."""

    features: tuple[str, ...]
    allow_missing: bool = False
    max_rows: int = 100_000

    @property
    def width(self) -> int:
        return len(self.features)


def reject_empty(body: bytes) -> None:
    """`MalformedPayload` for a body with nothing but whitespace in it."""
    if not body or body.isspace():  # (strip() would copy a large body)
        raise MalformedPayload("The request body is empty; send at least one row.")


def body_text(body: bytes, charset: str) -> str:
    """The body as text in its declared charset, or `MalformedPayload`."""
    try:
        # utf-8-sig: spreadsheets like to start their CSV with a byte-order mark.
        return body.decode("utf-8-sig" if charset in ("utf-8", "utf8") else charset)
    except UnicodeDecodeError as exc:
        raise MalformedPayload(
            f"The body is not valid {charset}: byte {exc.start} cannot be decoded."
        ) from None


def check_row_count(count: int, schema: InputSchema) -> None:
    """`PayloadTooLarge` (413) when `count` rows exceed the schema's limit."""
    if count > schema.max_rows:
        raise PayloadTooLarge(
            f"{count} rows is more than the limit of {schema.max_rows} rows per request; split the batch."
        )


def check_number(
    value: float, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> float:
    """A cell's number, unchanged; NaN where the model needs every value,
    and infinity always, are recorded in `errors`."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        if not schema.allow_missing:
            errors.append(
                CellError(row=row, column=column, message="NaN; this model needs every value")
            )
    else:
        errors.append(
            CellError(row=row, column=column, message="number out of float range (infinite)")
        )
    return value


def column_order(header: list[str], schema: InputSchema) -> list[int]:
    """Positions, in a header of feature names, of the model's features in
    model order; a name unknown, duplicated or missing is `InvalidRows`."""
    errors: list[CellError] = []
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in position:
            errors.append(
                CellError(column=name, message=f"duplicate column {name!r} in the header")
            )
        elif name not in schema.features:
            errors.append(
                CellError(
                    column=name,
                    message=f"unknown feature {name!r}; expected: {', '.join(schema.features)}",
                )
            )
        position.setdefault(name, i)
    errors += [
        CellError(column=name, message=f"missing feature {name!r} in the header")
        for name in schema.features
        if name not in position
    ]
    if errors:
        raise InvalidRows.from_errors(errors)
    return [position[name] for name in schema.features]


def kind_of(value: Any) -> str:
    """A JSON value's kind in words ("a list", "null"...), for error messages."""
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)
