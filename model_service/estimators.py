"""The algorithms a bundled model can be trained with:
`python -m model_service.train NAME --estimator linear|forest|boosting`.

Each is a classifier or a regressor by the recipe's task, so the same name
means the same family for iris and for diabetes:

| name | classification | regression |
| --- | --- | --- |
| linear | LogisticRegression (features standardised) | RidgeCV (features standardised) |
| forest | RandomForestClassifier, 100 trees | RandomForestRegressor, 100 trees |
| boosting | HistGradientBoostingClassifier | HistGradientBoostingRegressor |

The choice exists so users pick the algorithm, and so the benchmark
(`bench/`) serves the very models the peers serve: a linear model costs
microseconds a call once folded (`model_service.compiled`), a forest
milliseconds, which is what micro-batching (`model_service.batching`) is for.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.preprocessing import StandardScaler

ESTIMATORS = ("linear", "forest", "boosting")
Task = Literal["classification", "regression"]

#: What model.skops holds beyond the types skops trusts by default, per
#: algorithm: the packaging API refuses to write a type nobody named.
TRUSTED_TYPES: dict[str, tuple[str, ...]] = {
    "linear": (),
    "forest": ("sklearn.tree._tree.Tree",),
    "boosting": ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
}

SEED = 0


def final_step(name: str, task: Task) -> BaseEstimator:
    """The estimator `name` for `task`, unfitted, with a fixed seed."""
    classifier = task == "classification"
    if name == "linear":
        if classifier:
            return LogisticRegression(max_iter=1000)
        return RidgeCV(alphas=np.logspace(-3, 3, 13))
    if name == "forest":
        if classifier:
            return RandomForestClassifier(n_estimators=100, random_state=SEED)
        return RandomForestRegressor(n_estimators=100, random_state=SEED)
    if name == "boosting":
        if classifier:
            return HistGradientBoostingClassifier(max_iter=100, random_state=SEED)
        return HistGradientBoostingRegressor(max_iter=100, random_state=SEED)
    raise ValueError(f"unknown estimator {name!r}; choose one of {', '.join(ESTIMATORS)}")


def steps(name: str, task: Task, *, scale: bool) -> list[BaseEstimator]:
    """The pipeline's steps for numeric features: a linear model gets its
    features standardised first (lbfgs converges, coefficients compare);
    trees split on raw values and need no scaling. `scale=False` for a
    recipe whose own preprocessing already scales."""
    final = final_step(name, task)
    return [StandardScaler(), final] if scale and name == "linear" else [final]
