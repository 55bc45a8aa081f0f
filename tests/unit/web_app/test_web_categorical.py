"""Categorical features through the web app, with a penguins-like model
behind the fake endpoint: the selects of the form, a category refused in
words, the bodies as sent (strings in JSON, quoted in CSV where RFC 4180
says so), unknown categories' warnings, and batch uploads with strings."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from flask.testing import FlaskClient

from shared.answers import RangeWarning
from shared.card import Feature, ModelCard
from tests.support.web_fakes import FakeEndpoint, FakeTransport, page, penguins_card, predict
from web_app import form, present

HEADER = "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"


@pytest.fixture
def endpoint() -> FakeEndpoint:
    return FakeEndpoint(card=penguins_card())


def with_island(card: ModelCard, **changes: object) -> ModelCard:
    """The card with its `island` feature changed (checked again)."""
    island = Feature.model_validate({**card.features[0].model_dump(), **changes})
    return card.model_copy(update={"features": [island, *card.features[1:]]})


def select(text: str, name: str) -> str:
    found = re.search(rf'<select id="([^"]+)" name="{re.escape(name)}".*?</select>', text, re.S)
    assert found, f"no select named {name}"
    return found.group(0)


def options(select_html: str) -> list[tuple[str, str, bool]]:
    """(value, text, selected) per option."""
    return [
        (value, text, bool(selected))
        for value, selected, text in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select_html
        )
    ]


# --- the form -------------------------------------------------------------------------


def test_a_categorical_feature_is_a_select_of_its_categories(client: FlaskClient) -> None:
    text = page(client)
    island = select(text, "x:island")
    # sex may be missing on this model, so both selects offer "not given" first
    assert options(island) == [
        ("", "(not given)", False),
        ("Biscoe", "Biscoe", True),  # the card's example, preselected
        ("Dream", "Dream", False),
        ("Torgersen", "Torgersen", False),
    ]
    assert options(select(text, "x:sex")) == [
        ("", "(not given)", False),
        ("female", "female", True),
        ("male", "male", False),
    ]
    # a number field for the measurements, as before
    assert re.search(r'<input id="feature-1" name="x:bill_length_mm" type="text"', text)
    assert 'value="45.2"' in text


def test_a_select_has_a_label_description_and_no_range(client: FlaskClient) -> None:
    text = page(client)
    assert '<label for="feature-0">Island</label>' in text
    assert 'id="feature-0" name="x:island"' in text
    hint = re.search(r'<p class="hint" id="feature-0-hint">(.*?)</p>', text, re.S)
    assert hint
    assert hint.group(1) == (
        "Island in the Palmer Archipelago. One of 3 categories seen in training. "
        "Sent as <code>island</code>."
    )
    assert 'aria-describedby="feature-0-hint"' in select(text, "x:island")
    assert "Seen in training: 32.1 to 59.6 mm." in text  # numbers keep their range


def test_without_missing_values_there_is_no_empty_choice(
    endpoint: FakeEndpoint, client: FlaskClient
) -> None:
    endpoint.card = endpoint.card.model_copy(update={"allow_missing": False})
    island = select(page(client), "x:island")
    assert [value for value, _, _ in options(island)] == ["Biscoe", "Dream", "Torgersen"]
    assert "required" in island


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "Atlantis",
            "“Atlantis” is not a category this model knows; "
            "it takes “Biscoe”, “Dream” or “Torgersen”.",
        ),
        ("biscoe", "Did you mean “Biscoe”?"),
    ],
)
def test_an_unknown_category_is_refused_in_words_and_kept(
    client: FlaskClient, endpoint: FakeEndpoint, value: str, words: str
) -> None:
    status, text = predict(client, **{"x:island": value})
    assert status == 422
    assert words in text
    island = select(text, "x:island")
    assert 'aria-invalid="true"' in island
    assert "feature-0-error" in island
    assert (value, f"{value} (not a category of this model)", True) in options(island)
    assert "/invocations" not in endpoint.calls


def test_an_empty_choice_where_every_value_is_needed_is_refused(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    endpoint.card = endpoint.card.model_copy(update={"allow_missing": False})
    status, text = predict(client, **{"x:sex": ""})
    assert status == 422
    assert "Choose one of the 2 categories; this model needs every value." in text


# --- the request as sent ---------------------------------------------------------------


def test_json_sends_the_categories_as_strings(
    client: FlaskClient, transport: FakeTransport
) -> None:
    status, text = predict(client, **{"x:island": "Dream", "x:sex": ""})
    assert status == 200
    sent = transport.requests[-1]
    assert sent.body == b'{"instances":[["Dream",45.2,14.8,215.0,5000.0,null]]}'
    assert '{"instances":[["Dream",45.2,14.8,215.0,5000.0,null]]}' in text  # the inspector
    assert "Species: Chinstrap, 94 % sure." in text  # the fake picks by island
    # the form keeps what was chosen
    assert ("Dream", "Dream", True) in options(select(text, "x:island"))
    assert ("", "(not given)", True) in options(select(text, "x:sex"))


def test_csv_quotes_a_category_where_rfc_4180_requires(
    endpoint: FakeEndpoint, client: FlaskClient, transport: FakeTransport
) -> None:
    odd = 'Torgersen, "south"'
    endpoint.card = with_island(endpoint.card, categories=["Biscoe", "Dream", odd])
    status, text = predict(client, format="csv", **{"x:island": odd})
    assert status == 200
    sent = transport.requests[-1]
    assert sent.headers["Content-Type"] == "text/csv; header=present"
    assert (
        sent.body
        == (f"{HEADER}\r\n" + '"Torgersen, ""south""",45.2,14.8,215.0,5000.0,female\r\n').encode()
    )
    assert '"Torgersen, ""south""",45.2' in text  # the inspector shows the bytes as sent
    assert "Species: Gentoo" in text


def test_an_unknown_category_goes_through_when_the_model_handles_it(
    endpoint: FakeEndpoint, client: FlaskClient, transport: FakeTransport
) -> None:
    endpoint.card = with_island(endpoint.card, handles_unknown=True)
    status, text = predict(client, **{"x:island": "Atlantis"})
    assert status == 200
    assert b'["Atlantis",' in transport.requests[-1].body
    assert (
        "Island is “Atlantis”, not one of the categories seen in training "
        "(“Biscoe”, “Dream” or “Torgersen”)." in text
    )
    assert "Outside what the model has seen" in text


# --- words for warnings ----------------------------------------------------------------


def test_warnings_about_categories_in_words() -> None:
    card = penguins_card()
    row: list[present.Cell] = ["Atlantis", 45.2, 14.8, 215.0, 5000.0, None]
    unknown = RangeWarning(row=0, feature="island", message="'Atlantis' is unknown")
    missing = RangeWarning(row=0, feature="sex", message="the endpoint's words")
    assert present.warning_words(unknown, card, [row]).startswith("Island is “Atlantis”, not one")
    assert present.warning_words(missing, card, [row]) == "the endpoint's words"
    assert present.row_warnings([unknown], card, [row]) == {
        0: "Island “Atlantis” (training: one of 3 categories)"
    }


def test_example_values_keep_categories_as_they_are() -> None:
    assert form.example_values(penguins_card()) == {
        "island": "Biscoe",
        "bill_length_mm": "45.2",
        "bill_depth_mm": "14.8",
        "flipper_length_mm": "215",
        "body_mass_g": "5000",
        "sex": "female",
    }


# --- batch -----------------------------------------------------------------------------


def send(client: FlaskClient, text: str, fmt: str = "csv") -> tuple[int, str]:
    found = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/batch").get_data(as_text=True)
    )
    assert found
    data = {
        "csrf_token": found.group(1),
        "format": fmt,
        "file": (io.BytesIO(text.encode()), "penguins.csv"),
    }
    answer = client.post("/batch", data=data, content_type="multipart/form-data")
    return answer.status_code, html.unescape(answer.get_data(as_text=True))


def table_rows(text: str) -> list[list[str]]:
    body = text.split("<tbody>")[1].split("</tbody>")[0]
    return [
        re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)
        for row in body.split("</tr>")
        if "<t" in row
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_batch_with_categories_shows_and_downloads_the_strings(
    client: FlaskClient, transport: FakeTransport, fmt: str
) -> None:
    shuffled = "sex,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g"
    status, text = send(
        client,
        f"{shuffled}\nmale,Torgersen,39.1,18.7,181,3750\n,Dream,46.5,17.9,192,3500\n",
        fmt,
    )
    assert status == 200, text
    assert "2 rows predicted" in text
    assert table_rows(text) == [
        ["2", "Gentoo", "94 %", "Torgersen", "39.1", "18.7", "181", "3,750", "male"],
        ["3", "Chinstrap", "94 %", "Dream", "46.5", "17.9", "192", "3,500", "missing"],
    ]
    sent = transport.requests[-1].body
    assert isinstance(sent, bytes)
    if fmt == "json":
        assert sent.startswith(b'{"instances":[["Torgersen",39.1,18.7,181.0,3750.0,"male"]')
        assert b'["Dream",46.5,17.9,192.0,3500.0,null]' in sent
    else:
        assert sent.endswith(b"Dream,46.5,17.9,192.0,3500.0,\r\n")

    found = re.search(r'name="results" value="([^"]+)"', text)
    assert found
    token = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert token
    download = client.post(
        "/batch/download", data={"csrf_token": token.group(1), "results": found.group(1)}
    )
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert rows[0][:7] == [*HEADER.split(","), "prediction"]
    assert rows[1][:7] == ["Torgersen", "39.1", "18.7", "181.0", "3750.0", "male", "Gentoo"]
    assert rows[2][:7] == ["Dream", "46.5", "17.9", "192.0", "3500.0", "", "Chinstrap"]


def test_the_batch_form_lists_each_categorical_columns_categories(client: FlaskClient) -> None:
    text = page(client, "/batch")
    assert "<li><code>island</code>: one of Biscoe, Dream, Torgersen</li>" in text
    assert "<li><code>bill_length_mm</code> (mm)</li>" in text


def test_a_headerless_batch_starting_with_a_category_is_data(client: FlaskClient) -> None:
    status, text = send(client, "Biscoe,45.2,14.8,215,5000,female\nDream,46.5,17.9,192,3500,\n")
    assert status == 200, text
    assert [row[0] for row in table_rows(text)] == ["1", "2"]


def test_an_unknown_category_in_a_batch_is_named_by_line(
    client: FlaskClient, endpoint: FakeEndpoint
) -> None:
    status, text = send(client, f"{HEADER}\nBiscoe,45.2,14.8,215,5000,female\nAtlantis,1,2,3,4,\n")
    assert status == 422
    problem = re.search(r"<li>(Line 3, column “island”: .*?)</li>", text)
    assert problem, text
    for category in ("Biscoe", "Dream", "Torgersen"):
        assert category in problem.group(1)
    assert "/invocations" not in endpoint.calls


def test_the_example_file_carries_the_example_categories(client: FlaskClient) -> None:
    answer = client.get("/batch/example.csv")
    assert answer.get_data(as_text=True) == f"{HEADER}\r\nBiscoe,45.2,14.8,215.0,5000.0,female\r\n"
