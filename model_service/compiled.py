"""A numpy fast path for linear pipelines.

For one row, scikit-learn spends almost all its time validating input
(hundreds of microseconds per pipeline step), not computing. A pipeline of
standard scalers and a linear model is one affine map, so it is folded
into a single weight matrix and evaluated with numpy. The fast path is
used only after it has matched scikit-learn on probe rows spread over the
training range; tree ensembles have their own (`model_service.compiled_trees`);
anything else (other steps, other models) runs through
scikit-learn as it is, and so does every model with a categorical feature.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from shared.card import ModelCard

log = logging.getLogger("model_service")

Kernel = Callable[[np.ndarray], np.ndarray]

#: How closely the fast path must agree with scikit-learn to be used.
RTOL, ATOL = 1e-9, 1e-12


def compile_estimator(
    estimator: Any, card: ModelCard, prepare: Callable[[np.ndarray], Any] | None = None
) -> Kernel | None:
    """A function computing what the service asks of this estimator
    (`predict_proba` for a classifier, `predict` for a regressor) from a
    float array, or None when there is no verified fast path for it (always
    for a model with a categorical feature). `prepare` makes the array what
    the estimator itself takes (a DataFrame, for one fitted on a DataFrame)."""
    if not card.is_numeric:
        return None
    # scikit-learn is imported here, in the loading thread, not at start-up.
    from sklearn.linear_model import LogisticRegression

    from model_service.compiled_trees import compile_trees

    trees = compile_trees(estimator, card, prepare)
    if trees is not None:
        return trees

    affine = _affine(estimator)
    if affine is None:
        return None
    weights, bias, final = affine
    kernel: Kernel
    if card.is_classifier:
        if not isinstance(final, LogisticRegression):
            return None
        kernel = (
            _sigmoid_kernel(weights, bias)
            if weights.shape[1] == 1
            else _softmax_kernel(weights, bias)
        )
        method = estimator.predict_proba
    else:
        if not isinstance(final, _regressors()) or weights.shape[1] != 1:
            return None
        kernel = _linear_kernel(weights[:, 0], float(bias[0]))
        method = estimator.predict
    probe = probe_rows(card)
    reference = method(probe if prepare is None else prepare(probe))
    if not np.allclose(kernel(probe), reference, rtol=RTOL, atol=ATOL):
        log.warning("fast path disagrees with scikit-learn; not used", extra={"model": card.name})
        return None
    return kernel


def _affine(estimator: Any) -> tuple[np.ndarray, np.ndarray, Any] | None:
    """(W, b, final step) with final step's decision = X @ W + b, for a
    pipeline of StandardScalers ending in a linear model; else None."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps: list[Any] = (
        [step for _, step in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    )
    *transforms, final = steps
    if not isinstance(final, (LogisticRegression, *_regressors())):
        return None
    final = steps[-1]  # keep it typed Any: isinstance on a tuple of types narrows to object
    coef = np.atleast_2d(np.asarray(final.coef_, dtype=np.float64))
    weights = coef.T.copy()  # (features, outputs)
    bias = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64)).copy()
    # Fold the scalers in from the last to the first: (x - m) / s @ W + b
    # = x @ (W / s) + (b - (m / s) @ W).
    for step in reversed(transforms):
        if type(step) is not StandardScaler:
            return None
        scale = step.scale_ if step.scale_ is not None else np.ones(weights.shape[0])
        mean = (
            step.mean_ if step.mean_ is not None and step.with_mean else np.zeros(weights.shape[0])
        )
        bias = bias - (mean / scale) @ weights
        weights = weights / scale[:, None]
    return weights, bias, final


def _regressors() -> tuple[type[Any], ...]:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge, RidgeCV

    return (LinearRegression, Ridge, RidgeCV, Lasso, ElasticNet)


def _softmax_kernel(weights: np.ndarray, bias: np.ndarray) -> Kernel:
    def predict_proba(X: np.ndarray) -> np.ndarray:
        z = X @ weights + bias
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    return predict_proba


def _sigmoid_kernel(weights: np.ndarray, bias: np.ndarray) -> Kernel:
    def predict_proba(X: np.ndarray) -> np.ndarray:
        positive = 1.0 / (1.0 + np.exp(-(X @ weights + bias)))
        return np.hstack([1.0 - positive, positive])

    return predict_proba


def _linear_kernel(weights: np.ndarray, bias: float) -> Kernel:
    def predict(X: np.ndarray) -> np.ndarray:
        return X @ weights + bias

    return predict


def probe_rows(card: ModelCard, n: int = 256) -> np.ndarray:
    """The example row, the corners and random rows across (and a little
    beyond) the training range."""
    low = np.array([f.min for f in card.features])
    high = np.array([f.max for f in card.features])
    span = high - low
    rng = np.random.default_rng(0)
    random = rng.uniform(low - 0.5 * span, high + 0.5 * span, size=(n, len(low)))
    return np.vstack([card.example_row(), low, high, random])
