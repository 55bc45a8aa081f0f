"""The tree fast path must be scikit-learn's answer, bit for bit, computed
faster: on random rows, on rows exactly at (and a float32 step either side
of) the split thresholds, and on rows with missing values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from model_service import package
from model_service.compiled import compile_estimator
from model_service.compiled_trees import MAX_ROWS, compile_trees
from shared.card import Feature, ModelCard, Target, Training
from tests.unit.model_service.conftest import ClientFactory


def card_for(X: np.ndarray, classes: list[str] | None, allow_missing: bool = False) -> ModelCard:
    return ModelCard(
        name="synthetic",
        version="1",
        task="classification" if classes else "regression",
        features=[
            Feature(
                name=f"x{i}",
                min=float(np.nanmin(X[:, i])),
                max=float(np.nanmax(X[:, i])),
                example=float(np.nanmedian(X[:, i])),
            )
            for i in range(X.shape[1])
        ],
        allow_missing=allow_missing,
        target=Target(name="y", classes=classes),
        metrics={},
        training=Training(
            dataset="synthetic",
            rows=len(X),
            test_rows=0,
            estimator="synthetic",
            libraries={},
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        sha256="a" * 64,
    )


def fitted(model: BaseEstimator, seed: int, classes: int = 3) -> tuple[Any, np.ndarray, ModelCard]:
    if hasattr(model, "predict_proba"):
        X, y = make_classification(
            n_samples=300, n_features=6, n_informative=4, n_classes=classes, random_state=seed
        )
        names = [f"class{c}" for c in range(classes)]
        return model.fit(X, np.array(names)[y]), X, card_for(X, names)
    X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=seed)
    return model.fit(X, y), X, card_for(X, None)


def rows_for(model: Any, X: np.ndarray, seed: int) -> np.ndarray:
    """Random rows over and beyond the data; training rows; and rows with
    one value at a split threshold or the float32 next to it."""
    rng = np.random.default_rng(seed)
    low, high = X.min(axis=0), X.max(axis=0)
    wide = rng.uniform(low - (high - low), high + (high - low), size=(400, X.shape[1]))
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    trees = getattr(final, "estimators_", [final])
    at = X[rng.integers(len(X), size=600)].copy()
    for i, row in enumerate(at):
        tree = trees[i % len(trees)].tree_
        node = rng.integers(tree.node_count)
        if tree.children_left[node] == -1 or not np.isfinite(tree.threshold[node]):
            continue  # a leaf, or the split of NaN from the rest
        t = np.float32(tree.threshold[node])
        row[tree.feature[node]] = [tree.threshold[node], np.nextafter(t, -np.inf), t][i % 3]
    return np.vstack([wide, X, at])


def reference(model: Any, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


def assert_fast_path_answers(kernel: Any, model: Any, rows: np.ndarray) -> None:
    """The kernel's answer is scikit-learn's, bit for bit, and comes from
    the fast path: scikit-learn's own model is broken before the kernel
    is asked (rows in chunks the fast path takes, and one row alone)."""
    expected = reference(model, rows)
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if hasattr(final, "estimators_"):
        final.estimators_ = []
    else:
        final.tree_ = None
    for start in range(0, len(rows), MAX_ROWS):
        chunk = slice(start, start + MAX_ROWS)
        np.testing.assert_array_equal(kernel(rows[chunk]), expected[chunk])
    np.testing.assert_array_equal(kernel(rows[:1]), expected[:1])


MODELS: list[Callable[[int], BaseEstimator]] = [
    lambda seed: DecisionTreeClassifier(random_state=seed),
    lambda seed: DecisionTreeClassifier(max_depth=3, random_state=seed),
    lambda seed: RandomForestClassifier(n_estimators=30, random_state=seed),
    lambda seed: RandomForestClassifier(n_estimators=20, max_depth=4, random_state=seed),
    lambda seed: ExtraTreesClassifier(n_estimators=25, random_state=seed),
    lambda seed: DecisionTreeRegressor(random_state=seed),
    lambda seed: DecisionTreeRegressor(max_depth=5, random_state=seed),
    lambda seed: RandomForestRegressor(n_estimators=30, random_state=seed),
    lambda seed: ExtraTreesRegressor(n_estimators=20, max_depth=6, random_state=seed),
]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("make", MODELS)
def test_trees_compile_to_scikit_learns_exact_answers(
    make: Callable[[int], BaseEstimator], seed: int
) -> None:
    model, X, card = fitted(make(seed), seed)
    kernel = compile_estimator(model, card)
    assert kernel is not None
    assert_fast_path_answers(kernel, model, rows_for(model, X, seed))


@pytest.mark.parametrize("classes", [2, 5])
def test_binary_and_many_classes(classes: int) -> None:
    model, X, card = fitted(RandomForestClassifier(n_estimators=15, random_state=0), 3, classes)
    kernel = compile_trees(model, card)
    assert kernel is not None
    assert_fast_path_answers(kernel, model, rows_for(model, X, 3))


@pytest.mark.parametrize(
    "scaler", [StandardScaler(), MinMaxScaler(), StandardScaler(with_mean=False)]
)
def test_a_scaler_in_front_is_applied_as_scikit_learn_does(scaler: BaseEstimator) -> None:
    model, X, card = fitted(
        make_pipeline(scaler, RandomForestClassifier(n_estimators=20, random_state=0)), 4
    )
    kernel = compile_trees(model, card)
    assert kernel is not None
    assert_fast_path_answers(kernel, model, rows_for(model, X, 4))


@pytest.mark.parametrize("make", [MODELS[2], MODELS[7]])
def test_missing_values_go_where_the_tree_sends_them(make: Callable[[int], BaseEstimator]) -> None:
    model, X, _ = fitted(make(5), 5)
    rng = np.random.default_rng(5)
    X_missing = X.copy()
    X_missing[rng.random(X.shape) < 0.2] = np.nan
    model.fit(X_missing, model.predict(X))  # trained with NaN: missing_go_to_left learnt
    kernel = compile_trees(model, card_for(X, _classes(model), allow_missing=True))
    assert kernel is not None
    rows = rows_for(model, X, 5)
    rows[rng.random(rows.shape) < 0.3] = np.nan
    assert_fast_path_answers(kernel, model, rows)


def test_nan_goes_to_scikit_learn_when_it_refuses_nan() -> None:
    """A model that does not take NaN (trees before scikit-learn 1.3) keeps
    refusing it: rows with NaN are not guessed by the fast path."""
    model, X, card = fitted(RandomForestClassifier(n_estimators=10, random_state=0), 6)
    original = model.predict_proba

    def refuses_nan(X: np.ndarray) -> np.ndarray:
        if np.isnan(X).any():
            raise ValueError("Input X contains NaN.")
        return np.asarray(original(X))

    model.predict_proba = refuses_nan
    kernel = compile_trees(model, card)
    assert kernel is not None
    row = X[:1].copy()
    np.testing.assert_array_equal(kernel(row), original(row))
    row[0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kernel(row)


def test_what_the_fast_path_does_not_take_goes_to_scikit_learn() -> None:
    model, X, card = fitted(RandomForestRegressor(n_estimators=10, random_state=0), 7)
    kernel = compile_trees(model, card)
    assert kernel is not None
    many = np.resize(X, (MAX_ROWS + 5, X.shape[1]))
    np.testing.assert_array_equal(kernel(many), model.predict(many))
    infinite = X[:2].copy()
    infinite[1, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.predict(infinite)
    with pytest.raises(ValueError, match="infinity"):
        kernel(infinite)


def test_a_kernel_that_disagrees_with_scikit_learn_is_not_used() -> None:
    model, _, card = fitted(RandomForestClassifier(n_estimators=5, random_state=0), 8)
    original = model.predict_proba
    model.predict_proba = lambda X: np.asarray(original(X))[:, ::-1]
    assert compile_trees(model, card) is None


def test_a_model_fitted_on_a_dataframe_in_another_column_order() -> None:
    model, X, card = fitted(RandomForestClassifier(n_estimators=20, random_state=0), 9)
    names = card.feature_names[::-1]
    model.fit(pd.DataFrame(X[:, ::-1], columns=names), model.predict(X))

    def prepare(rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(rows[:, ::-1], columns=names)

    kernel = compile_trees(model, card, prepare)
    assert kernel is not None
    rows = rows_for(model, X, 9)[:MAX_ROWS]
    expected = model.predict_proba(prepare(rows))
    model.estimators_ = []
    np.testing.assert_array_equal(kernel(rows), expected)


class MyForest(RandomForestClassifier):
    """A subclass may predict differently: not compiled."""


@pytest.mark.parametrize(
    "model",
    [
        HistGradientBoostingClassifier(max_iter=5),
        GradientBoostingClassifier(n_estimators=5),
        MyForest(n_estimators=5),
        make_pipeline(PCA(3), RandomForestClassifier(n_estimators=5)),
        make_pipeline(MinMaxScaler(clip=True), RandomForestClassifier(n_estimators=5)),
    ],
)
def test_other_models_stay_with_scikit_learn(model: BaseEstimator) -> None:
    model, _, card = fitted(model, 0)
    assert compile_trees(model, card) is None


def test_multi_output_forests_stay_with_scikit_learn() -> None:
    X, y = make_regression(n_samples=100, n_features=4, n_targets=2, random_state=0)
    model = RandomForestRegressor(n_estimators=5).fit(X, y)
    assert compile_trees(model, card_for(X, None)) is None


def test_a_served_forest_answers_as_scikit_learn(
    model_dirs: dict[str, Path], make_client: ClientFactory
) -> None:
    """Through the app: the bundled iris forest is compiled, and what the
    service answers is what scikit-learn computes for the same rows."""
    pkg = package.load(model_dirs["iris:forest"])
    assert compile_estimator(pkg.estimator, pkg.card) is not None
    client = make_client(pkg)
    rng = np.random.default_rng(11)
    rows = np.round(rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(200, 4)), 1)
    for chunk in (rows[:1], rows[1:17], rows[17:]):
        response = client.post("/invocations", json={"instances": chunk.tolist()})
        assert response.status_code == 200, response.text
        body = response.json()
        expected = pkg.estimator.predict_proba(chunk)
        np.testing.assert_array_equal(np.asarray(body["probabilities"]), expected)
        assert body["predictions"] == pkg.estimator.predict(chunk).tolist()


def _classes(model: Any) -> list[str] | None:
    return [str(c) for c in model.classes_] if hasattr(model, "classes_") else None
