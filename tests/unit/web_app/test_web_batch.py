"""Batch uploads: reading the CSV (header in any order or none), problems
named by file line, limits, the results page and the download."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
import requests
from flask.testing import FlaskClient

from shared.problems import PROBLEM_MEDIA_TYPE, CellError
from tests.support.web_fakes import (
    BASE_URL,
    FakeEndpoint,
    diabetes_card,
    iris_card,
    refused,
    response,
)
from web_app import Settings, create_app, upload

HEADER = "sepal_length,sepal_width,petal_length,petal_width"
SHUFFLED = "petal_width,sepal_length,petal_length,sepal_width"


def token(client: FlaskClient) -> str:
    found = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/batch").get_data(as_text=True)
    )
    assert found
    return found.group(1)


def send(
    client: FlaskClient, text: str | bytes, fmt: str = "csv", as_file: bool = True
) -> tuple[int, str]:
    data: dict[str, object] = {"csrf_token": token(client), "format": fmt}
    body = text.encode() if isinstance(text, str) else text
    if as_file:
        data["file"] = (io.BytesIO(body), "flowers.csv")
    else:
        data["csv_text"] = body.decode()
    answer = client.post("/batch", data=data, content_type="multipart/form-data")
    return answer.status_code, html.unescape(answer.get_data(as_text=True))


def download(client: FlaskClient, results_page: str) -> tuple[str, list[list[str]]]:
    found = re.search(r'name="results" value="([^"]+)"', results_page)
    assert found
    answer = client.post(
        "/batch/download", data={"csrf_token": token(client), "results": found.group(1)}
    )
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    return answer.headers["Content-Disposition"], list(
        csv.reader(io.StringIO(answer.get_data(as_text=True)))
    )


# --- reading the file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "header", "lines"),
    [
        (f"{HEADER}\n5,3,1,0.2\n6,3,4,1.2\n", True, [2, 3]),
        (f"{SHUFFLED}\n0.2,5,1,3\n", True, [2]),
        ("5,3,1,0.2\n6,3,4,1.2\n", False, [1, 2]),
        (
            f"\n{HEADER}\n\n5,3,1,0.2\n\n6,3,4,1.2",
            True,
            [4, 6],
        ),  # blank lines are skipped, not counted away
        ("\ufeff5,3,1,0.2\r\n6,3,4,1.2\r\n", False, [1, 2]),  # a spreadsheet's BOM and CRLF
    ],
)
def test_rows_are_read_with_their_file_lines(text: str, header: bool, lines: list[int]) -> None:
    read = upload.read(text.encode(), iris_card(), max_rows=100)
    assert read.header is header
    assert read.lines == lines
    assert read.rows[0] == [5.0, 3.0, 1.0, 0.2]


def test_a_shuffled_header_is_put_in_the_models_order() -> None:
    read = upload.read(f"{SHUFFLED}\n0.2,5.1,1.4,3.5\n".encode(), iris_card(), max_rows=10)
    assert read.rows == [[5.1, 3.5, 1.4, 0.2]]


@pytest.mark.parametrize(
    ("text", "status", "words"),
    [
        (
            f"{HEADER}\n5,3,1,0.2\n5,3,abc,0.2\n",
            422,
            "Line 3, column “petal_length”: not a number: 'abc'.",
        ),
        ("5,3,1,0.2\n\n5,3,1\n", 422, "Line 3: expected 4 columns, got 3."),
        (
            "sepal_lenght,sepal_width,petal_length,petal_width\n5,3,1,0.2\n",
            422,
            "Line 1 (the header), column “sepal_lenght”: unknown feature",
        ),
        (f"{HEADER}\n", 422, "a header line but no rows"),
        ("", 400, "The file is empty"),
        ("\n\n", 400, "The file is empty"),
        ('5,3,"1,0.2\n', 400, "is not valid CSV"),
        (b"5,3,1,0.2\n\xff\xfe,1,2,3\n", 400, "not UTF-8 text"),
        ("5,3,1,0.2\n" * 11, 413, "the limit is 10"),
    ],
)
def test_upload_problems_name_the_line(text: str | bytes, status: int, words: str) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(upload.UploadError) as caught:
        upload.read(data, iris_card(), max_rows=10)
    assert caught.value.status == status
    assert words in " ".join([caught.value.summary, *caught.value.problems])


def test_a_quoted_multi_line_cell_keeps_later_line_numbers_right() -> None:
    with pytest.raises(upload.UploadError) as caught:
        upload.read(b'5,3,1,0.2\n"5\n",3,1,0.2\n5,3,x,0.2\n', iris_card(), max_rows=10)
    assert caught.value.problems[-1].startswith("Line 4, column “petal_length”")


def test_endpoint_rows_are_translated_to_lines() -> None:
    errors = [CellError(row=1, column="bmi", message="too big"), CellError(column=2, message="odd")]
    assert upload.errors_by_line(errors, [2, 5], header=True) == [
        "Line 5, column “bmi”: too big.",
        "Line 1 (the header), column 3: odd.",
    ]


# --- the page -------------------------------------------------------------------------


def test_the_batch_form_lists_the_columns_in_order(client: FlaskClient) -> None:
    text = html.unescape(client.get("/batch").get_data(as_text=True))
    columns = re.findall(r"<li><code>([a-z_]+)</code>", text)
    assert columns == HEADER.split(",")
    assert 'type="file"' in text
    assert '<label for="file">' in text


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_shuffled_upload_gives_a_table_a_chart_and_a_download(
    client: FlaskClient, fmt: str
) -> None:
    rows = [f"0.2,{4 + i % 3}.5,1.4,3.1" for i in range(25)]
    status, text = send(client, "\n".join([SHUFFLED, *rows]), fmt)
    assert status == 200
    assert "25 rows predicted" in text
    table_html = text.split('<table class="predictions">')[1].split("</table>")[0]
    assert table_html.count("<tr>") == 25 + 1  # the rows and the header row
    assert '<th scope="row">2</th>' in text  # first data row is line 2
    chart = text.split('<figure class="chart">')[1].split("</figure>")[0]
    assert "How many rows got each species" in chart
    assert re.findall(r"(\d+) rows?</span>", chart) == ["9", "8", "8"]
    disposition, table = download(client, text)
    assert 'filename="flowers-predictions.csv"' in disposition
    assert table[0] == [
        *HEADER.split(","),
        "prediction",
        "probability_setosa",
        "probability_versicolor",
        "probability_virginica",
    ]
    assert len(table) == 26
    assert table[1][:5] == ["4.5", "3.1", "1.4", "0.2", "setosa"]


def test_pasted_rows_without_a_header_work_and_stay_in_the_box(client: FlaskClient) -> None:
    status, text = send(client, "5.1,3.5,1.4,0.2\n6.1,3.5,1.4,0.2", as_file=False)
    assert status == 200
    assert "2 rows predicted" in text
    assert "5.1,3.5,1.4,0.2\n6.1,3.5,1.4,0.2</textarea>" in text


def test_a_regression_batch_draws_a_histogram(endpoint: FakeEndpoint, client: FlaskClient) -> None:
    endpoint.card = diabetes_card()
    status, text = send(client, "age,bmi\n" + "\n".join(f"{20 + i},{25}" for i in range(30)))
    assert status == 200
    assert '<figure class="chart histogram">' in text
    assert text.count('<rect class="bar-fill"') >= 5
    _, table = download(client, text)
    assert table[0] == ["age", "bmi", "prediction"]
    assert table[1] == ["20.0", "25.0", "60.0"]


def test_range_warnings_name_their_line(client: FlaskClient) -> None:
    status, text = send(client, f"{HEADER}\n5,3,1,0.2\n9.9,3,1,0.2\n")
    assert status == 200
    assert "1 row outside what the model has seen" in text
    assert "Line 3: Sepal length 9.9 cm (training: 4.3 to 7.9 cm)." in text


def test_a_bad_line_is_reported_and_nothing_is_sent(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    status, text = send(client, f"{HEADER}\n5,3,1,0.2\n5,3,1,0.2\n5,x,1,0.2\n", as_file=False)
    assert status == 422
    assert "Line 4, column “sepal_width”: not a number: 'x'." in text
    assert "/invocations" not in endpoint.calls
    assert "5,x,1,0.2" in text  # the rows are kept to correct


def test_the_endpoints_422_is_reported_by_file_line(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    problem = {
        "title": "The rows are not valid input for this model",
        "status": 422,
        "errors": [{"row": 1, "column": "petal_length", "message": "too long for a petal"}],
    }
    endpoint.fail, endpoint.fail_paths = (
        (lambda r: response(r, 422, problem, PROBLEM_MEDIA_TYPE)),
        ("/invocations",),
    )
    status, text = send(client, f"{HEADER}\n\n5,3,1,0.2\n5,3,1,0.2\n")
    assert status == 422
    assert "Line 4, column “petal_length”: too long for a petal." in text


def test_an_unreachable_endpoint_keeps_the_rows_for_another_try(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    token(client)  # the card is cached while the endpoint works
    endpoint.fail, endpoint.fail_paths = refused, ("/invocations",)
    status, text = send(client, f"{HEADER}\n5,3,1,0.2\n")
    assert status == 503
    assert "The model service is not answering" in text
    assert f"{HEADER}\n5,3,1,0.2\n</textarea>" in text
    assert "Try again" in text


@pytest.mark.parametrize("fmt", ["xml", "tsv"])
def test_an_unknown_format_is_refused_with_the_rows_kept(
    client: FlaskClient, endpoint: FakeEndpoint, fmt: str
) -> None:
    status, text = send(client, f"{HEADER}\n5,3,1,0.2\n", fmt=fmt, as_file=False)
    assert status == 400
    assert f"“{fmt}” is not a format" in text
    assert "json (JSON) and csv (CSV)" in text
    assert f"{HEADER}\n5,3,1,0.2\n</textarea>" in text
    assert "/invocations" not in endpoint.calls


@pytest.mark.parametrize("csrf", [None, "forged"], ids=["missing", "wrong"])
def test_an_expired_batch_form_keeps_the_pasted_rows(
    client: FlaskClient, endpoint: FakeEndpoint, csrf: str | None
) -> None:
    token(client)
    data = {"format": "json", "csv_text": f"{HEADER}\n5,3,1,0.2\n"}
    if csrf is not None:
        data["csrf_token"] = csrf
    answer = client.post("/batch", data=data, content_type="multipart/form-data")
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400
    assert "This form had expired" in text
    assert "Your rows are kept in the box" in text
    assert f"{HEADER}\n5,3,1,0.2\n</textarea>" in text
    assert 'name="format" value="json" checked' in text
    assert "/invocations" not in endpoint.calls


def test_an_expired_download_form_is_a_plain_page(client: FlaskClient) -> None:
    answer = client.post("/batch/download", data={"results": "x"})
    assert answer.status_code == 400
    assert "This form has expired" in answer.get_data(as_text=True)


def test_no_file_is_a_plain_message(client: FlaskClient) -> None:
    answer = client.post("/batch", data={"csrf_token": token(client)})
    assert answer.status_code == 400
    assert "Choose a CSV file" in answer.get_data(as_text=True)


def test_limits_are_explained(endpoint: FakeEndpoint, session: requests.Session) -> None:
    app = create_app(
        Settings(
            model_url=BASE_URL,
            secret_key="k",
            upload_max_bytes=1_000,
            batch_max_rows=5,
            retry_backoff=0,
        ),
        session,
    )
    client = app.test_client()
    status, text = send(client, "5,3,1,0.2\n" * 6)
    assert (status, "the limit is 5" in text) == (413, True)
    status, text = send(client, "5,3,1,0.2\n" * 150)
    assert (status, "the limit is 1,000 bytes" in text) == (413, True)
    huge = client.post(
        "/batch",
        data={"csrf_token": token(client), "file": (io.BytesIO(b"5,3,1,0.2\n" * 2_000), "big.csv")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413
    assert "files up to 1,000 bytes (WEB_APP_UPLOAD_MAX_BYTES)" in huge.get_data(as_text=True)


def test_a_tampered_download_is_refused(client: FlaskClient) -> None:
    answer = client.post("/batch/download", data={"csrf_token": token(client), "results": "forged"})
    assert answer.status_code == 400
    assert "That download is not available" in answer.get_data(as_text=True)


def test_an_example_file_to_start_from(client: FlaskClient) -> None:
    answer = client.get("/batch/example.csv")
    assert answer.mimetype == "text/csv"
    assert answer.get_data(as_text=True).splitlines() == [HEADER, "5.7,3.0,4.2,1.2"]


@pytest.mark.parametrize(
    ("size", "words"),
    [(999, "999 bytes"), (1_000, "1,000 bytes"), (50_000, "50 KB"), (2_000_000, "2.0 MB")],
)
def test_sizes_are_named_so_a_small_limit_is_not_0_mb(size: int, words: str) -> None:
    assert upload.size_in_words(size) == words
