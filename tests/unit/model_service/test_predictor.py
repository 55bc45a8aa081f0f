from __future__ import annotations

import numpy as np
import pytest

from model_service.package import ModelPackage
from model_service.predictor import MAX_WARNINGS, Predictor


@pytest.fixture
def iris(packages: dict[str, ModelPackage]) -> Predictor:
    return Predictor.from_package(packages["iris"])


def test_labels_agree_with_the_probabilities(iris: Predictor) -> None:
    X = np.array([[5.1, 3.5, 1.4, 0.2], [6.0, 2.9, 4.5, 1.5], [7.7, 3.0, 6.1, 2.3]])
    prediction = iris.predict(X)
    assert prediction.predictions.tolist() == ["setosa", "versicolor", "virginica"]
    assert prediction.probabilities is not None
    assert prediction.probabilities.shape == (3, 3)
    np.testing.assert_allclose(prediction.probabilities.sum(axis=1), 1.0)
    assert prediction.warnings == []


def test_regression_values(packages: dict[str, ModelPackage]) -> None:
    predictor = Predictor.from_package(packages["diabetes"])
    prediction = predictor.warm_up()
    assert prediction.probabilities is None
    assert prediction.classes is None
    assert prediction.predictions.dtype == np.float64
    assert prediction.predictions.shape == (1,)


def test_range_warnings_name_row_feature_and_range(iris: Predictor) -> None:
    warnings = iris.range_warnings(np.array([[5.1, 3.5, 1.4, 0.2], [0.1, 3.5, 1.4, 99.0]]))
    assert [(w.row, w.feature) for w in warnings] == [(1, "sepal_length"), (1, "petal_width")]
    assert "below the smallest value seen in training" in warnings[0].message
    assert "above the largest" in warnings[1].message


def test_range_warnings_are_capped(iris: Predictor) -> None:
    assert len(iris.range_warnings(np.full((500, 4), 100.0))) == MAX_WARNINGS


def test_missing_values_raise_no_range_warning(packages: dict[str, ModelPackage]) -> None:
    predictor = Predictor.from_package(packages["breast_cancer"])
    X = np.array([predictor.card.example_row()])
    X[0, 0] = np.nan
    assert predictor.range_warnings(X) == []
    assert predictor.predict(X).predictions.shape == (1,)
