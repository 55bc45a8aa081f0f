"""Answers in human terms: percentages, numbers, chart geometry."""

from __future__ import annotations

import pytest

from shared.answers import AnswerBody, RangeWarning
from shared.card import Feature
from tests.support.web_fakes import diabetes_card, iris_card
from web_app import present


@pytest.mark.parametrize(
    ("probability", "text"),
    [
        (0.943, "94 %"),
        (0.0, "0 %"),
        (1.0, "100 %"),
        (0.001, "< 1 %"),
        (0.996, "> 99 %"),
        (0.5, "50 %"),
    ],
)
def test_percent(probability: float, text: str) -> None:
    assert present.percent(probability) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5.1, "5.1"),
        (152.133, "152.1"),
        (12345.6, "12,346"),
        (0.0004, "0.0004"),
        (2e7, "2e+07"),
        (0, "0"),
        (float("nan"), "missing"),
    ],
)
def test_number(value: float, text: str) -> None:
    assert present.number(value) == text


def test_label() -> None:
    assert present.label("petal_length") == "Petal length"


@pytest.mark.parametrize(
    ("name", "description", "text"),
    [
        ("petal_length", "Length of the petal", "Petal length"),
        ("bmi", "Body mass index", "BMI"),
        ("age", "Age", "Age"),
        ("sex", "Sex, coded 1 or 2", "Sex"),
    ],
)
def test_field_labels_spell_out_abbreviations(name: str, description: str, text: str) -> None:
    feature = Feature(name=name, description=description, min=0, max=1, example=0.5)
    assert present.field_label(feature) == text


def test_a_unit_at_the_end_of_a_name_is_said_once() -> None:
    feature = Feature(name="bill_length_mm", unit="mm", min=32, max=60, example=45.2)
    assert present.field_label(feature) == "Bill length"
    assert present.field_label(feature.model_copy(update={"unit": "cm"})) == "Bill length mm"


def test_row_warnings_group_a_rows_values() -> None:
    warnings = [
        RangeWarning(row=1, feature="petal_width", message="m"),
        RangeWarning(row=1, feature="sepal_length", message="m"),
        RangeWarning(row=0, feature="colour", message="unknown"),
    ]
    assert present.row_warnings(warnings, iris_card(), [[5, 3, 1, 1], [9, 3, 1, 3]]) == {
        0: "unknown",
        1: "Petal width 3 cm (training: 0.1 to 2.5 cm); Sepal length 9 cm (training: 4.3 to 7.9 cm)",
    }


def test_verdict_of_a_classifier() -> None:
    body = AnswerBody.model_validate(
        {
            "model": {"name": "iris", "version": "1"},
            "predictions": ["virginica"],
            "probabilities": [[0.01, 0.05, 0.94]],
            "classes": ["setosa", "versicolor", "virginica"],
        }
    )
    verdict = present.verdict(body, iris_card())
    assert verdict.headline == "virginica"
    assert verdict.sentence == "Species: virginica, 94 % sure."
    assert [(b.label, b.width, b.highlight) for b in verdict.bars] == [
        ("setosa", 1.0, False),
        ("versicolor", 5.0, False),
        ("virginica", 94.0, True),
    ]


def test_verdict_of_a_regressor() -> None:
    body = AnswerBody.model_validate(
        {"model": {"name": "d", "version": "1"}, "predictions": [152.133]}
    )
    verdict = present.verdict(body, diabetes_card())
    assert (verdict.headline, verdict.sentence) == (
        "152.1",
        "Predicted disease progression: 152.1.",
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (9.0, "Petal width is 9 cm, above the largest value seen in training (2.5 cm)."),
        (0.01, "Petal width is 0.01 cm, below the smallest value seen in training (0.1 cm)."),
    ],
)
def test_range_warnings_in_words(value: float, words: str) -> None:
    warning = RangeWarning(row=0, feature="petal_width", message="out of range")
    assert present.warning_words(warning, iris_card(), [[5, 3, 1, value]]).startswith(words)


def test_a_warning_about_an_unknown_feature_keeps_the_endpoints_message() -> None:
    warning = RangeWarning(row=0, feature="colour", message="out of range")
    assert present.warning_words(warning, iris_card(), [[5, 3, 1, 1]]) == "out of range"


def test_histogram_counts_every_value_once() -> None:
    bins = present.histogram([float(v) for v in range(100)])
    assert sum(b.count for b in bins) == 100
    assert len(bins) == 8  # Sturges: ceil(log2(100) + 1)
    assert max(b.height for b in bins) == 100.0
    assert (bins[0].low, bins[-1].high) == (0, 99)


def test_histogram_of_one_value() -> None:
    assert [(b.count, b.height) for b in present.histogram([3.0, 3.0])] == [(2, 100.0)]


def test_class_counts_keep_the_models_class_order() -> None:
    bars = present.class_counts(["b", "a", "b"], ["a", "b", "c"])
    assert [(b.label, b.value_text, b.width) for b in bars] == [
        ("a", "1 row", 50.0),
        ("b", "2 rows", 100.0),
        ("c", "0 rows", 0.0),
    ]
