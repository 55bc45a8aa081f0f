"""Request rows as the array the predictor takes, for every protocol of
the model service: float64 when every feature is a number, else an object
array of floats and category strings (the predictor makes it a DataFrame).

`shared.codecs` defines what a valid body is and words every error; here
its rows become an array, and two common kinds of body are read faster:
CSV without quotes, parsed by pandas' C reader, and JSON rows of plain
finite numbers, converted by one `np.array` call. A fast path returns only
what the shared decoder would return for the same body and hands every
other body to it (`tests/unit/model_service/test_inputs.py` compares the
two on a table of bodies).
"""

from __future__ import annotations

import io

import numpy as np

from shared.codecs.csv import decode_csv_request
from shared.codecs.json import read_json_table
from shared.codecs.rows import (
    InputSchema,
    Rows,
    body_text,
    check_number,
    check_row_count,
    reject_empty,
)
from shared.media import Format, RequestFormat
from shared.problems import MAX_LISTED_ERRORS, CellError, InvalidRows


def decode_array(body: bytes, fmt: RequestFormat, schema: InputSchema) -> np.ndarray:
    """Any accepted request body -> array of shape (rows, features), as
    `shared.codecs.decode_request` reads it (`as_array`)."""
    reject_empty(body)
    if fmt.format is Format.CSV:
        text = body_text(body, fmt.charset)
        if '"' not in text and not schema.categorical:
            fast = _plain_csv(text, schema, fmt.header)
            if fast is not None:
                return fast
        return as_array(decode_csv_request(text, schema, header=fmt.header), schema)
    table = read_json_table(body, schema, fmt.charset)
    # Booleans hide inside a numeric numpy array (True -> 1.0), so the fast
    # path is only taken when the body cannot hold one.
    if (
        not table.by_name
        and not schema.categorical
        and fmt.charset in ("utf-8", "utf8")
        and b"true" not in body
        and b"false" not in body
    ):
        fast = _plain_array(table.rows, len(table.names))
        if fast is not None:
            return fast if table.order is None else np.ascontiguousarray(fast[:, table.order])
    return as_array(table.checked_rows(), schema)


def as_array(rows: Rows, schema: InputSchema) -> np.ndarray:
    """Decoded rows as an array of shape (rows, features): float64, or
    object (floats and strings) when the model has a categorical feature."""
    dtype = object if schema.categorical else np.float64
    return np.array(rows, dtype=dtype).reshape(len(rows), schema.width)


def check_array(X: np.ndarray, schema: InputSchema) -> np.ndarray:
    """A float array already in feature order, checked as the decoders check
    their cells: the row limit, NaN only when `allow_missing`, no infinity.
    Vectorised, so a large binary tensor is not walked cell by cell."""
    check_row_count(len(X), schema)
    bad = ~np.isfinite(X)
    if schema.allow_missing:
        bad &= ~np.isnan(X)
    if not bad.any():
        return X
    rows, columns = np.nonzero(bad)
    errors: list[CellError] = []
    # Only the cells that will be listed are described, by the same check
    # the text decoders use, so every protocol words an error alike.
    for row, column in zip(
        rows[:MAX_LISTED_ERRORS].tolist(), columns[:MAX_LISTED_ERRORS].tolist(), strict=True
    ):
        check_number(float(X[row, column]), row, schema.features[column], schema, errors)
    raise InvalidRows.from_errors(errors, total=len(rows))


def _plain_csv(text: str, schema: InputSchema, header: bool | None) -> np.ndarray | None:
    """Unquoted CSV of plainly valid numbers, parsed in C (`_read_floats`);
    None sends the body to the shared decoder, which also names whatever is
    wrong."""
    body = text.lstrip("\r\n")
    first, _, rest = body.partition("\n")
    names = [cell.strip() for cell in first.split(",")]
    if header is None:
        header = sorted(names) == sorted(schema.features)
    order = None
    if header:
        if sorted(names) != sorted(schema.features):
            return None
        order = [names.index(feature) for feature in schema.features]
        body = rest
    # float() takes "1_000", and the shared decoder with it; an empty body
    # is no table
    if "_" in body or not body.strip():
        return None
    try:
        array = _read_floats(body)
    except ValueError:
        return None
    if array.shape[1] != schema.width or not np.isfinite(array).all():
        return None
    check_row_count(len(array), schema)
    return array if order is None else np.ascontiguousarray(array[:, order])


#: Bodies of more lines than this are read by pandas, fewer by numpy: each
#: call of pandas' reader costs ~0.75 ms however short the body (one row:
#: 757 µs against numpy's 10 µs, measured in process), while per row it is
#: about four times faster (10,000 rows: 2 to 3.5 ms against 10 to 12.6 ms).
PANDAS_FROM_LINES = 1000


def _read_floats(body: str) -> np.ndarray:
    """CSV of numbers as a 2-D float64 array, in C: `numpy.loadtxt` for a
    short body, pandas' C reader for a long one (`PANDAS_FROM_LINES`;
    pandas is loaded anyway, scikit-learn imports it when it is installed).
    Only numbers: no NA strings, no quotes, no comments; a ragged row or a
    cell that is not a number raises ValueError. Since pandas 3.1 its one
    float converter rounds as float() does (the test reads thousands of
    awkward numbers both ways)."""
    if body.count("\n", 0, len(body) - 1) < PANDAS_FROM_LINES:
        # float(), like loadtxt, takes "1_000"; the caller sends such bodies
        # to the shared decoder. An empty body makes loadtxt warn: the
        # caller sends that there too.
        return np.loadtxt(
            io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None
        )
    import pandas as pd

    frame = pd.read_csv(
        io.StringIO(body),
        header=None,
        index_col=False,
        dtype=np.float64,
        engine="c",
        na_filter=False,
        quoting=3,  # csv.QUOTE_NONE; the caller sends quoted bodies elsewhere
        comment=None,
        # A blank or whitespace-only line fails here: the shared decoder
        # skips the one and refuses the other, so both go to it.
        skip_blank_lines=False,
    )
    # C order, as the other paths and scikit-learn's fast loops want it
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))


def _plain_array(rows: list[object], width: int) -> np.ndarray | None:
    """JSON rows as a float array when every cell is a plain finite number,
    so numpy converts them in one call; None sends them to the shared
    cell-by-cell check, which finds and names whatever is wrong."""
    try:
        array = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    # strings, None, objects and all-boolean rows are not numbers
    if array.dtype.kind not in "fi" or array.ndim != 2 or array.shape[1] != width:
        return None
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        return None
    return array
