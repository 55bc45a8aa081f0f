"""CSV request bodies (RFC 4180): rows decoded, checked cell by cell, and
rows encoded for clients. One parser, the standard library's `csv.reader`,
decides what a row and a cell are; the model service may read plainly
valid bodies faster, but only ever to the same rows.

Every cell is text: a number's is parsed, a categorical feature's (stripped,
quoted where it holds a comma) is its category, so `1` is the category "1".
An empty cell is a missing value for either kind."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence

from shared.codecs.rows import (
    Cell,
    Column,
    InputSchema,
    Rows,
    check_category,
    check_number,
    check_row_count,
    column_order,
)
from shared.problems import MAX_SCANNED_ERRORS, CellError, InvalidRows, MalformedPayload


def decode_csv_request(text: str, schema: InputSchema, header: bool | None = None) -> Rows:
    """RFC 4180 rows in feature order; a header row is used when declared
    (`header=present`) or when the first row is exactly the feature names,
    in any order. Empty lines are skipped."""
    try:
        lines = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as exc:
        raise MalformedPayload(f"The body is not valid CSV: {exc}.") from None
    if not lines:
        raise MalformedPayload("The CSV body has no rows.")
    first = [cell.strip() for cell in lines[0]]
    if header is None:
        header = sorted(first) == sorted(schema.features)
    # Without a header the columns are the features in model order, so an
    # error can still name its feature.
    columns: Sequence[Column] = schema.features
    order: list[int] | None = None
    if header:
        order = column_order(first, schema)
        columns = first
        lines = lines[1:]
        if not lines:
            raise InvalidRows("The CSV body has a header but no data rows.")
    check_row_count(len(lines), schema)
    rows: Rows = []
    errors: list[CellError] = []
    for index, line in enumerate(lines):
        if len(errors) >= MAX_SCANNED_ERRORS:
            raise InvalidRows.from_errors(errors, complete=False)
        if len(line) != len(columns):
            errors.append(
                CellError(row=index, message=f"expected {len(columns)} columns, got {len(line)}")
            )
            continue
        values = [
            _cell(cell, index, column, schema, errors)
            for cell, column in zip(line, columns, strict=True)
        ]
        rows.append(values if order is None else [values[i] for i in order])
    if errors:
        raise InvalidRows.from_errors(errors)
    return rows


def _cell(
    cell: str, row: int, column: Column, schema: InputSchema, errors: list[CellError]
) -> Cell:
    text = cell.strip()
    if not text:
        if schema.allow_missing:
            return math.nan
        errors.append(
            CellError(row=row, column=column, message="empty cell; this model needs every value")
        )
        return math.nan
    if schema.categorical and isinstance(column, str):
        feature = schema.categorical.get(column)
        if feature is not None:
            return check_category(text, row, column, feature, errors)
    try:
        if "_" in text:  # Python's float() takes "1_000"; CSV readers elsewhere do not
            raise ValueError(text)
        value = float(text)
    except ValueError:
        errors.append(CellError(row=row, column=column, message=f"not a number: {cell!r}"))
        return math.nan
    return check_number(value, row, column, schema, errors)


def encode_csv_request(
    rows: Iterable[Sequence[float | str | None]], features: Sequence[str] | None = None
) -> bytes:
    """Rows as RFC 4180 CSV, with a header line when `features` is given
    (send it as `text/csv; header=present`). Missing values (None or NaN)
    are empty cells; a category is written as it is (quoted where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if features is not None:
        writer.writerow(features)
    for row in rows:
        writer.writerow([_text(v) for v in row])
    return buffer.getvalue().encode()


def _text(value: float | str | None) -> str:
    if isinstance(value, str):
        return value
    if value is None or math.isnan(value):
        return ""
    return repr(float(value))
