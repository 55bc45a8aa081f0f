"""Each algorithm a bundled model can be trained with trains, packages and
predicts, for a classifier and a regressor, and the CLI takes the choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model_service import package
from model_service.estimators import ESTIMATORS, final_step
from model_service.predictor import Predictor
from model_service.recipes import RECIPES
from model_service.train import main

FAMILIES = {
    ("linear", "classification"): "LogisticRegression",
    ("linear", "regression"): "RidgeCV",
    ("forest", "classification"): "RandomForestClassifier",
    ("forest", "regression"): "RandomForestRegressor",
    ("boosting", "classification"): "HistGradientBoostingClassifier",
    ("boosting", "regression"): "HistGradientBoostingRegressor",
}


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("name", ["iris", "diabetes"])
def test_each_estimator_trains_packages_and_predicts(
    model_dirs: dict[str, Path], name: str, estimator: str
) -> None:
    loaded = package.load(model_dirs[f"{name}:{estimator}"])
    task = RECIPES[name].task
    final = loaded.estimator.steps[-1][1]
    assert type(final).__name__ == FAMILIES[estimator, task]
    assert FAMILIES[estimator, task] in loaded.card.training.estimator
    predictor = Predictor.from_package(loaded)
    X = np.array([loaded.card.example_row(), loaded.card.example_row()])
    answer = predictor.predict(X)
    method = (
        loaded.estimator.predict_proba if task == "classification" else loaded.estimator.predict
    )
    expected = method(X)
    if task == "classification":
        assert answer.probabilities is not None
        np.testing.assert_allclose(answer.probabilities, expected, rtol=1e-9, atol=1e-12)
        assert set(answer.predictions.tolist()) <= set(loaded.card.target.classes or ())
    else:
        np.testing.assert_allclose(answer.predictions, expected, rtol=1e-9, atol=1e-9)
    # the held-out score says the model learnt something (R² above 0: better than the mean)
    score = next(iter(loaded.card.metrics.values()))
    assert score > (0.8 if task == "classification" else 0.0)


def test_penguins_take_any_estimator(model_dirs: dict[str, Path]) -> None:
    """The categorical recipe keeps its preparation (one-hot, imputation)
    in front of the chosen algorithm."""
    loaded = package.load(model_dirs["penguins:forest"])
    assert loaded.estimator.steps[0][0] == "columntransformer"
    assert type(loaded.estimator.steps[-1][1]).__name__ == "RandomForestClassifier"
    assert Predictor.from_package(loaded).warm_up().predictions.shape == (1,)


def test_unknown_estimator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown estimator 'svm'"):
        final_step("svm", "classification")


def test_cli_passes_the_choice_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI trains with the chosen algorithm (the package check in a
    fresh Python is an integration test's, tests/integration/test_package_build.py)."""
    import model_service.train as train

    real_build = train.build

    def build_here(name: str, out: Path, version: str = "1", **kwargs: object) -> object:
        return real_build(name, out, version, **{**kwargs, "fresh_python": False})  # type: ignore[arg-type]

    monkeypatch.setattr(train, "build", build_here)
    assert main(["wine", "--out", str(tmp_path / "wine"), "--estimator", "boosting"]) == 0
    loaded = package.load(tmp_path / "wine")
    assert type(loaded.estimator.steps[-1][1]).__name__ == "HistGradientBoostingClassifier"
    assert "wine v1" in capsys.readouterr().out


def test_cli_refuses_an_unknown_estimator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["wine", "--out", "x", "--estimator", "svm"])
    assert "invalid choice: 'svm'" in capsys.readouterr().err
