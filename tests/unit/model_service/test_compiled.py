"""The linear fast path must be scikit-learn's answer, computed faster."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from model_service.compiled import compile_estimator
from model_service.package import ModelPackage


def wide_rows(pkg: ModelPackage, n: int = 500) -> np.ndarray:
    low = np.array([f.min for f in pkg.card.features])
    high = np.array([f.max for f in pkg.card.features])
    return np.random.default_rng(1).uniform(
        low - (high - low), high + (high - low), size=(n, len(low))
    )


@pytest.mark.parametrize("name", ["iris", "wine", "diabetes"])
def test_linear_pipelines_compile_to_the_same_answers(
    packages: dict[str, ModelPackage], name: str
) -> None:
    pkg = packages[name]
    kernel = compile_estimator(pkg.estimator, pkg.card)
    assert kernel is not None
    X = wide_rows(pkg)
    reference = (
        pkg.estimator.predict_proba(X) if pkg.card.is_classifier else pkg.estimator.predict(X)
    )
    np.testing.assert_allclose(kernel(X), reference, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kernel(X[:1]), reference[:1], rtol=1e-9, atol=1e-12)


def test_binary_logistic_regression_uses_the_sigmoid(packages: dict[str, ModelPackage]) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    pkg = packages["breast_cancer"]
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(
        X, np.array(["malignant", "benign"])[y]
    )
    kernel = compile_estimator(estimator, pkg.card)
    assert kernel is not None
    np.testing.assert_allclose(kernel(X), estimator.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_trees_and_unknown_steps_stay_with_scikit_learn(packages: dict[str, ModelPackage]) -> None:
    pkg = packages["breast_cancer"]
    assert compile_estimator(pkg.estimator, pkg.card) is None
    X, y = load_breast_cancer(return_X_y=True)
    other = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
    assert compile_estimator(other, pkg.card) is None
