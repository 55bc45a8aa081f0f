"""The load-time check that a card's categories are ones its model takes.

A card lists the categories of each categorical feature, and the decoders
accept exactly those; a card that promises a category the pipeline's
encoder refuses would turn a valid request into a 500. So before the
service says it is ready, every listed category (and, where the card says
the pipeline handles unknown ones, a value no training set holds) is
predicted once, and a refusal stops the load with the feature and the
category named (docs/model-package.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from model_service.inputs import as_array
from model_service.package import PackageError
from shared.card import ModelCard
from shared.codecs.rows import InputSchema

#: A value no training set holds, to prove a `handles_unknown` promise.
UNSEEN_CATEGORY = "\x00not-a-category-seen-in-training"


def check_categories(
    predict: Callable[[np.ndarray], Any], card: ModelCard, schema: InputSchema
) -> None:
    """Predicts every category probe, all at once (one call however many
    categories), and one at a time only to name the one at fault."""
    probes = category_probes(card)
    if not probes:
        return
    try:
        predict(as_array([row for row, _, _ in probes], schema))
        return
    except ValueError:
        pass
    for row, feature, value in probes:
        try:
            predict(as_array([row], schema))
        except ValueError as exc:  # what scikit-learn's encoders raise
            promise = (
                "handles unknown categories"
                if value is UNSEEN_CATEGORY
                else f"lists the category {value!r}"
            )
            raise PackageError(
                f"the card says feature {feature!r} {promise}, but the model refuses it: "
                f"{str(exc).splitlines()[0]}"
            ) from None


def category_probes(card: ModelCard) -> list[tuple[list[float | str], str, str]]:
    """(row, feature, value) for each category of each categorical feature
    (the example row with that one value changed), and an unseen value for
    each feature the card says handles unknown ones."""
    probes = []
    for i, feature in enumerate(card.features):
        values = list(feature.categories or ())
        if feature.handles_unknown:
            values.append(UNSEEN_CATEGORY)
        for value in values:
            row = card.example_row()
            row[i] = value
            probes.append((row, feature.name, value))
    return probes
