"""skops imported without listing scikit-learn trusts exactly what skops
imported as it is does: the same scikit-learn types by default, and not one
type more. The same in a fresh process, as the server imports it:
tests/integration/test_trust_process.py."""

from __future__ import annotations

import sys

import pytest

from model_service.package.trust import sklearn_trusts


def test_the_rule_is_all_estimators() -> None:
    from sklearn.utils import all_estimators
    from skops.io._utils import get_type_name

    listed = {get_type_name(cls) for _, cls in all_estimators()}
    assert all(sklearn_trusts(name) for name in listed)
    # every class of every scikit-learn module loaded so far, listed or not
    seen = {
        f"{value.__module__}.{value.__name__}"
        for name, module in list(sys.modules.items())
        if name.startswith("sklearn.") and module is not None
        for value in list(vars(module).values())
        if isinstance(value, type) and value.__module__.startswith("sklearn.")
    }
    assert len(seen - listed) > 100
    assert not [name for name in seen - listed if sklearn_trusts(name)]


@pytest.mark.parametrize(
    "name",
    [
        "os.system",
        "sklearn.base.BaseEstimator",
        "sklearn.utils._testing.MinimalClassifier",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.linear_model._logistic._LogisticRegressionLike",
        "sklearn.linear_model._logistic.NoSuchClass",
        "sklearnx.linear_model.LogisticRegression",
        "sklearn.experimental.enable_halving_search_cv.HalvingGridSearchCV",
    ],
)
def test_other_types_are_not_trusted(name: str) -> None:
    assert not sklearn_trusts(name)
