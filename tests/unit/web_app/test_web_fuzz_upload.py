"""Property tests of the web app's batch upload reader (hypothesis): any
file decodes into rows or is an `UploadError` with a 4xx status, and rows
written as CSV (as a spreadsheet would save them) read back the same."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from shared.codecs.csv import encode_csv_request
from tests.support.web_fakes import iris_card, penguins_card
from web_app.upload import UploadError, read

CARDS = st.sampled_from([iris_card(), penguins_card()])
CSV_TEXT = st.lists(
    st.lists(
        st.floats().map(repr)
        | st.sampled_from(["", "Biscoe", "male", "sepal_length", "island", '"a,b"', "\ufeff"])
        | st.text(max_size=5),
        max_size=7,
    ),
    max_size=8,
).map(lambda lines: "\n".join(",".join(line) for line in lines).encode())


@given(data=st.binary(max_size=300) | CSV_TEXT, card=CARDS)
def test_any_file_reads_or_is_a_4xx(data: bytes, card: object) -> None:
    try:
        upload = read(data, card, max_rows=20)  # type: ignore[arg-type]
    except UploadError as error:
        refused = error
    else:
        refused = None
    if refused is not None:
        assert 400 <= refused.status < 500
        assert refused.summary
        return
    assert 1 <= len(upload.rows) <= 20
    assert len(upload.lines) == len(upload.rows)


@given(
    rows=st.lists(
        st.lists(
            st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
            min_size=4,
            max_size=4,
        ),
        min_size=1,
        max_size=20,
    ),
    header=st.booleans(),
)
def test_rows_written_as_csv_read_back_the_same(rows: list[list[float]], header: bool) -> None:
    card = iris_card()
    data = encode_csv_request(rows, card.feature_names if header else None)
    upload = read(data, card, max_rows=20)
    assert upload.header is header
    assert [[float(v) for v in row] for row in upload.rows] == rows  # type: ignore[arg-type]
    assert not any(math.isnan(float(v)) for row in upload.rows for v in row)  # type: ignore[arg-type]
