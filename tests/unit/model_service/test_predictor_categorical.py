"""A pipeline with categorical features, fitted on a DataFrame: rows reach
it as a DataFrame with its column names, numbers get range warnings, and
unknown categories warn where the pipeline takes them."""

from __future__ import annotations

import numpy as np
import pytest

from model_service.inputs import as_array
from model_service.package import ModelPackage
from model_service.predictor import Predictor
from tests.support.penguins import penguin_rows

ROWS = [
    ["Biscoe", 39.1, "male", 3750.0],
    ["Dream", 46.5, np.nan, 3500.0],
    ["Torgersen", 50.0, "female", 5000.0],
]


def test_predicts_what_the_pipeline_predicts_on_its_dataframe(penguins: ModelPackage) -> None:
    predictor = Predictor.from_package(penguins)
    frame, _ = penguin_rows(n=50, seed=1)
    X = as_array(frame.to_numpy(dtype=object).tolist(), predictor.schema)
    prediction = predictor.predict(X)
    assert prediction.predictions.tolist() == penguins.estimator.predict(frame).tolist()
    assert prediction.probabilities is not None
    np.testing.assert_allclose(prediction.probabilities, penguins.estimator.predict_proba(frame))


def test_missing_values_and_warm_up(penguins: ModelPackage) -> None:
    predictor = Predictor.from_package(penguins)
    assert predictor.warm_up().predictions.shape == (1,)
    X = as_array(ROWS, predictor.schema)
    assert predictor.predict(X).predictions.shape == (3,)
    frame = predictor._frame(X)  # type: ignore[misc]
    assert list(frame.columns) == ["island", "bill_length_mm", "sex", "body_mass_g"]
    assert [str(t) for t in frame.dtypes] == ["object", "float64", "object", "float64"]
    assert frame["sex"].isna().tolist() == [False, True, False]


def test_range_warnings_for_numbers_only(penguins: ModelPackage) -> None:
    predictor = Predictor.from_package(penguins)
    X = as_array([["Biscoe", 1.0, "male", 99_999.0]], predictor.schema)
    warnings = predictor.predict(X).warnings
    assert [(w.row, w.feature) for w in warnings] == [(0, "bill_length_mm"), (0, "body_mass_g")]
    assert "below the smallest value seen in training" in warnings[0].message


def test_unknown_categories_warn_where_the_pipeline_takes_them(
    penguins_open: ModelPackage,
) -> None:
    predictor = Predictor.from_package(penguins_open)
    X = as_array(
        [["Biscoe", 1.0, "male", 4000.0], ["Atlantis", 40.0, "unknown", 4000.0]],
        predictor.schema,
    )
    prediction = predictor.predict(X)
    assert [(w.row, w.feature) for w in prediction.warnings] == [
        (0, "bill_length_mm"),
        (1, "island"),
        (1, "sex"),
    ]
    assert prediction.warnings[1].message.startswith(
        "'Atlantis' is not a category seen in training (Biscoe, Dream, Torgersen)"
    )
    assert (
        prediction.predictions.tolist()
        == penguins_open.estimator.predict(
            predictor._frame(X)  # type: ignore[misc]
        ).tolist()
    )


def test_no_compiled_fast_path_for_categorical_models(penguins: ModelPackage) -> None:
    predictor = Predictor.from_package(penguins)
    assert predictor._compute.__name__ == "compute"


def test_numeric_models_still_take_the_float_array(packages: dict[str, ModelPackage]) -> None:
    predictor = Predictor.from_package(packages["iris"])
    assert predictor._frame is None
    assert predictor.schema.is_numeric


def test_a_numeric_model_fitted_on_a_dataframe_gets_one(packages: dict[str, ModelPackage]) -> None:
    """No 'X does not have valid feature names' warning (an error under
    pytest): the DataFrame has the fitted names, in the fitted order."""
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    iris = packages["iris"]
    names = iris.card.feature_names
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 8, (60, 4))
    y = np.array(iris.card.target.classes)[rng.integers(0, 3, 60)]  # type: ignore[index]
    reordered = [names[2], names[0], names[3], names[1]]
    estimator = RandomForestClassifier(n_estimators=5, random_state=0).fit(
        pd.DataFrame(X[:, [2, 0, 3, 1]], columns=reordered), y
    )
    predictor = Predictor(iris.card, estimator)
    assert predictor._frame is not None
    np.testing.assert_allclose(
        predictor.predict(X).probabilities,  # type: ignore[arg-type]
        estimator.predict_proba(pd.DataFrame(X[:, [2, 0, 3, 1]], columns=reordered)),
    )


def test_an_estimator_fitted_on_other_columns_is_refused(penguins: ModelPackage) -> None:
    from model_service.package import PackageError

    card = penguins.card.model_copy(
        update={"features": [penguins.card.features[0], *penguins.card.features[1:3]]}
    )
    with pytest.raises(PackageError, match="fitted on columns"):
        Predictor(card, penguins.estimator)


def test_rows_with_categories_predict_off_the_event_loop(
    penguins: ModelPackage, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio
    import anyio.to_thread

    predictor = Predictor.from_package(penguins)
    hops: list[object] = []

    async def run_sync(func: object, *args: object) -> object:
        hops.append(func)
        return func(*args)  # type: ignore[operator]

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    X = as_array(ROWS[:1], predictor.schema)
    anyio.run(predictor.predict_async, X, 1_000)
    assert len(hops) == 1  # one row, yet a DataFrame pipeline takes milliseconds
