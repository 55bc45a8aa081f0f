"""The model runtime: rows in (an array in feature order, as
`model_service.inputs` decodes it), the prediction out as arrays. Knows
nothing of HTTP; both protocols call it.

Rows reach the estimator in the form it was fitted on: a float array for a
model of numbers fitted on one (the fast path, compiled where it can be),
a pandas DataFrame with the fitted column names and order for a model
fitted on a DataFrame (numbers float64, categories object with NaN for a
missing value), or the object array itself for a model with categorical
features fitted on an array. pandas is imported only for a model that
needs it.

Concurrent requests to a model that costs much per call (gradient boosting) are
predicted together (`model_service.batching`); whether that pays is measured
at warm-up (`BatchPolicy`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio.to_thread
import numpy as np

from model_service.batching import MicroBatcher
from model_service.categories import check_categories
from model_service.compiled import compile_estimator
from model_service.inputs import as_array
from model_service.package import ModelPackage, PackageError
from shared.answers import ModelRef, Prediction, RangeWarning
from shared.card import ModelCard
from shared.codecs.rows import InputSchema

log = logging.getLogger("model_service")

#: How many range warnings one answer lists; a batch far outside the
#: training data would otherwise carry one per cell.
MAX_WARNINGS = 100

#: With `batching="auto"`, batching is on when one row costs the model more
#: than this. Measured on this project's 2-core benchmark machine (bench/):
#: a 100-tree forest in scikit-learn costs ~4-20 ms a call and serves 3x to
#: 10x the requests with batching (gradient boosting on iris costs ~12 ms);
#: a folded linear model costs ~10 µs and loses ~20-40 % (the thread hop
#: and the gathering cost more than its predict), and so would a compiled
#: forest (~60 µs, `model_service.compiled_trees`).
AUTO_BATCH_SECONDS = 250e-6


@dataclass(frozen=True)
class BatchPolicy:
    """When and how concurrent requests are predicted together
    (`model_service.batching`): `auto` decides at warm-up by timing one row."""

    mode: Literal["auto", "on", "off"] = "auto"
    max_wait_ms: float = 5.0
    max_rows: int = 256


@dataclass(frozen=True)
class PredictionArrays:
    """The model's answer for a batch of rows, as arrays: the Open Inference
    Protocol sends them as tensors (binary ones without a copy), the native
    API as the shared answer format (`to_prediction`)."""

    predictions: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[str] | None = None
    warnings: list[RangeWarning] = field(default_factory=list)

    def to_prediction(self) -> Prediction:
        """The same answer in plain Python values, for `shared.answers`."""
        probabilities = None if self.probabilities is None else self.probabilities.tolist()
        return Prediction(self.predictions.tolist(), probabilities, self.classes, self.warnings)


class Predictor:
    def __init__(
        self,
        card: ModelCard,
        estimator: Any,
        max_rows: int = 100_000,
        batching: BatchPolicy | None = None,
    ) -> None:
        """`batching` None: every request predicted on its own (a library's
        or a test's Predictor); the server passes its settings' policy."""
        self.card = card
        self.estimator = estimator
        self.schema = InputSchema.from_card(card, max_rows)
        self.ref = ModelRef(name=card.name, version=card.version)
        features = card.features
        #: positions of the numeric features, which get range warnings
        self._numeric = [i for i, f in enumerate(features) if not f.is_categorical]
        self._min = np.array([features[i].min for i in self._numeric], dtype=np.float64)
        self._max = np.array([features[i].max for i in self._numeric], dtype=np.float64)
        #: categorical features whose pipeline predicts for unknown categories
        self._open = [
            (i, f, frozenset(f.categories or ()))
            for i, f in enumerate(features)
            if f.is_categorical and f.handles_unknown
        ]
        self._frame = _frame_builder(estimator, card)
        self._classes = np.asarray(card.target.classes) if card.target.classes else None
        method = estimator.predict_proba if self._classes is not None else estimator.predict
        compute: Callable[[np.ndarray], np.ndarray] = method
        if self._frame is not None:
            frame = self._frame

            def compute(X: np.ndarray) -> np.ndarray:
                return method(frame(X))

        self._compute = compile_estimator(estimator, card, self._frame) or compute
        self.policy = batching or BatchPolicy(mode="off")
        #: set by `warm_up` when the policy says so; None: no batching
        self.batcher: MicroBatcher | None = None
        #: one row's predict, timed at warm-up (seconds)
        self.one_row_seconds: float | None = None

    @classmethod
    def from_package(
        cls, package: ModelPackage, max_rows: int = 100_000, batching: BatchPolicy | None = None
    ) -> Predictor:
        return cls(package.card, package.estimator, max_rows, batching)

    def predict(self, X: np.ndarray) -> PredictionArrays:
        """Predictions for the rows of X, with warnings for numbers outside
        the training range and for categories not seen in training where
        the pipeline takes them (they still predict)."""
        return self._answer(X, self._compute(X))

    def _answer(self, X: np.ndarray, computed: np.ndarray) -> PredictionArrays:
        """The answer for rows X from what the model computed for them
        (probabilities or values, one row per row of X)."""
        warnings = self.range_warnings(X)
        if self._open:
            warnings = self._with_category_warnings(X, warnings)
        if self._classes is None:
            values = np.asarray(computed, dtype=np.float64)
            return PredictionArrays(values, warnings=warnings)
        probabilities = np.asarray(computed, dtype=np.float64)
        # The label is the most probable class: one pass over the model, and
        # the label can never disagree with the probabilities shown beside it.
        labels = self._classes[probabilities.argmax(axis=1)]
        return PredictionArrays(labels, probabilities, self.card.target.classes, warnings)

    async def predict_async(self, X: np.ndarray, inline_cells: int) -> PredictionArrays:
        """`predict` for a server: with batching on, through the batcher
        (in a worker thread, together with other requests' rows); else small
        batches of numbers right on the event loop (a thread hop would cost
        more than the prediction), large ones and rows with categories in a
        worker thread so they do not hold up other requests."""
        if self.batcher is not None:
            return self._answer(X, await self.batcher(X))
        # Rows with categories go through a DataFrame pipeline: milliseconds
        # even for one row, too long to hold the event loop.
        if X.size <= inline_cells and X.dtype == np.float64:
            return self.predict(X)
        return await anyio.to_thread.run_sync(self.predict, X)

    def range_warnings(self, X: np.ndarray) -> list[RangeWarning]:
        """Warnings for numbers outside the training range (numeric features
        only; NaN, a missing value, is never out of range)."""
        if X.dtype != np.float64:  # categories among the numbers
            if not self._numeric:
                return []
            X = X[:, self._numeric].astype(np.float64)
        below = self._min > X
        above = self._max < X
        if not (below.any() or above.any()):
            return []
        rows, columns = np.nonzero(below | above)
        warnings = []
        for row, column in zip(
            rows[:MAX_WARNINGS].tolist(), columns[:MAX_WARNINGS].tolist(), strict=True
        ):
            name = self.card.features[self._numeric[column]].name
            low, high = float(self._min[column]), float(self._max[column])
            value = float(X[row, column])
            side = "below the smallest" if value < low else "above the largest"
            warnings.append(
                RangeWarning(
                    row=row,
                    feature=name,
                    message=f"{value:g} is {side} value seen in training ({low:g} to {high:g}); "
                    "the prediction is an extrapolation",
                )
            )
        return warnings

    def category_warnings(self, X: np.ndarray) -> list[RangeWarning]:
        """Warnings for categories not seen in training, for the features
        whose pipeline takes them (the decoders refuse them for the others)."""
        warnings = []
        for i, feature, known in self._open:
            for row, value in enumerate(X[:, i].tolist()):
                if isinstance(value, str) and value not in known:
                    warnings.append(
                        RangeWarning(
                            row=row,
                            feature=feature.name,
                            message=f"{value!r} is not a category seen in training "
                            f"({', '.join(feature.categories or ())}); the model predicts as it "
                            "does for any unknown category",
                        )
                    )
                    if len(warnings) >= MAX_WARNINGS:
                        return warnings
        return warnings

    def _with_category_warnings(
        self, X: np.ndarray, warnings: list[RangeWarning]
    ) -> list[RangeWarning]:
        categories = self.category_warnings(X)
        if not categories:
            return warnings
        merged = sorted(warnings + categories, key=lambda w: w.row)  # stable: columns in order
        return merged[:MAX_WARNINGS]

    def warm_up(self) -> PredictionArrays:
        """Predict the card's example row: proves the model answers before
        the service says it is ready, and pays first-call costs up front.
        Then every category the card lists (and, where the card says the
        pipeline handles unknown ones, a category it cannot know): a card
        that promises what the pipeline's encoder refuses would turn a valid
        request into a 500, so it stops the load instead. Last, times one
        row and turns batching on as the policy says."""
        X = as_array([self.card.example_row()], self.schema)
        answer = self.predict(X)
        check_categories(self.predict, self.card, self.schema)
        self.one_row_seconds = _fastest(self._compute, X)
        policy = self.policy
        on = policy.mode == "on" or (
            policy.mode == "auto" and self.one_row_seconds > AUTO_BATCH_SECONDS
        )
        self.batcher = (
            MicroBatcher(self._compute, policy.max_wait_ms / 1000, policy.max_rows) if on else None
        )
        log.info(
            "batching %s",
            "on" if on else "off",
            extra={
                "model": self.card.name,
                "policy": policy.mode,
                "one_row_us": round(self.one_row_seconds * 1e6, 1),
            },
        )
        return answer


def _fastest(compute: Callable[[np.ndarray], Any], X: np.ndarray, repeat: int = 7) -> float:
    """The fastest of a few calls: the model's own cost, as little as
    possible of whatever else the machine is doing."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        compute(X)
        best = min(best, time.perf_counter() - start)
    return best


def _frame_builder(estimator: Any, card: ModelCard) -> Callable[[np.ndarray], Any] | None:
    """For an estimator fitted on a DataFrame (it has `feature_names_in_`
    with string names), a function making rows in card order into a
    DataFrame with the fitted names and order; None for one fitted on an
    array, which gets the array."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is None or not all(isinstance(n, str) for n in names):
        return None
    names = [str(n) for n in names]
    if sorted(names) != sorted(card.feature_names):
        raise PackageError(
            f"the estimator was fitted on columns {names}, the card lists {card.feature_names}"
        )
    import pandas as pd  # only for a model that was fitted on a DataFrame

    position = {name: i for i, name in enumerate(card.feature_names)}
    columns = [
        (name, position[name], not card.features[position[name]].is_categorical) for name in names
    ]

    def frame(X: np.ndarray) -> Any:
        if X.dtype == np.float64:
            return pd.DataFrame({name: X[:, i] for name, i, _ in columns}, copy=False)
        # object, not the str dtype pandas 3 would infer: NaN stays a missing value
        return pd.DataFrame(
            {
                name: X[:, i].astype(np.float64)
                if is_number
                else pd.Series(X[:, i], dtype=object, copy=False)
                for name, i, is_number in columns
            },
            copy=False,
        )

    return frame
