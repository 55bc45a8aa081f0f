"""The model runtime: rows in (a float array in feature order), the
prediction out as arrays. Knows nothing of HTTP; both protocols call it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import numpy as np

from model_service.compiled import compile_estimator
from model_service.package import ModelPackage
from shared.answers import ModelRef, Prediction, RangeWarning
from shared.card import ModelCard
from shared.codecs.rows import InputSchema

#: How many range warnings one answer lists; a batch far outside the
#: training data would otherwise carry one per cell.
MAX_WARNINGS = 100


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
    def __init__(self, card: ModelCard, estimator: Any, max_rows: int = 100_000) -> None:
        self.card = card
        self.estimator = estimator
        self.schema = InputSchema(tuple(card.feature_names), card.allow_missing, max_rows)
        self.ref = ModelRef(name=card.name, version=card.version)
        self._min = np.array([f.min for f in card.features])
        self._max = np.array([f.max for f in card.features])
        self._classes = np.asarray(card.target.classes) if card.target.classes else None
        method = estimator.predict_proba if self._classes is not None else estimator.predict
        self._compute: Callable[[np.ndarray], np.ndarray] = (
            compile_estimator(estimator, card) or method
        )

    @classmethod
    def from_package(cls, package: ModelPackage, max_rows: int = 100_000) -> Predictor:
        return cls(package.card, package.estimator, max_rows)

    def predict(self, X: np.ndarray) -> PredictionArrays:
        """Predictions for the rows of X, with warnings for values outside
        the training range (they still predict)."""
        warnings = self.range_warnings(X)
        if self._classes is None:
            values = np.asarray(self._compute(X), dtype=np.float64)
            return PredictionArrays(values, warnings=warnings)
        probabilities = np.asarray(self._compute(X), dtype=np.float64)
        # The label is the most probable class: one pass over the model, and
        # the label can never disagree with the probabilities shown beside it.
        labels = self._classes[probabilities.argmax(axis=1)]
        return PredictionArrays(labels, probabilities, self.card.target.classes, warnings)

    async def predict_async(self, X: np.ndarray, inline_cells: int) -> PredictionArrays:
        """`predict` for a server: small batches right on the event loop (a
        thread hop would cost more than the prediction), large ones in a
        worker thread so they do not hold up other requests."""
        if X.size <= inline_cells:
            return self.predict(X)
        return await anyio.to_thread.run_sync(self.predict, X)

    def range_warnings(self, X: np.ndarray) -> list[RangeWarning]:
        below = self._min > X
        above = self._max < X
        if not (below.any() or above.any()):
            return []
        rows, columns = np.nonzero(below | above)
        warnings = []
        for row, column in zip(
            rows[:MAX_WARNINGS].tolist(), columns[:MAX_WARNINGS].tolist(), strict=True
        ):
            feature = self.card.features[column]
            value = float(X[row, column])
            side = "below the smallest" if value < feature.min else "above the largest"
            warnings.append(
                RangeWarning(
                    row=row,
                    feature=feature.name,
                    message=f"{value:g} is {side} value seen in training ({feature.min:g} to {feature.max:g}); "
                    "the prediction is an extrapolation",
                )
            )
        return warnings

    def warm_up(self) -> PredictionArrays:
        """Predict the card's example row: proves the model answers before
        the service says it is ready, and pays first-call costs up front."""
        return self.predict(np.array([self.card.example_row()], dtype=np.float64))
