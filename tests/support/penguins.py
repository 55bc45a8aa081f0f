"""A small pipeline with categorical features for tests: synthetic
penguin-like rows (no download) in a pandas DataFrame, two string columns
(island; sex, with missing values) one-hot encoded and two numbers scaled,
then a logistic regression; and its card, written by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from model_service import package
from shared.card import ModelCard

ISLANDS = ["Biscoe", "Dream", "Torgersen"]
SEXES = ["female", "male"]
SPECIES = ["Adelie", "Chinstrap", "Gentoo"]
FEATURES = ["island", "bill_length_mm", "sex", "body_mass_g"]


def penguin_rows(n: int = 300, seed: int = 0) -> tuple[Any, np.ndarray]:
    """(a DataFrame of features, the species) with a pattern to learn."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    species = rng.integers(0, 3, n)
    island = np.where(rng.random(n) < 0.7, species, rng.integers(0, 3, n))
    sex = rng.choice(np.array(SEXES, dtype=object), n)
    sex[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "island": pd.Series(np.array(ISLANDS, dtype=object)[island], dtype=object),
            "bill_length_mm": 38.0 + 5.0 * species + rng.normal(0, 2.0, n),
            "sex": pd.Series(sex, dtype=object),
            "body_mass_g": 3700.0 + 700.0 * (species == 2) + rng.normal(0, 300.0, n),
        }
    )
    return frame, np.array(SPECIES, dtype=object)[species]


def penguin_pipeline(handle_unknown: bool = False) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encoder = OneHotEncoder(handle_unknown="ignore" if handle_unknown else "error")
    return make_pipeline(
        ColumnTransformer(
            [
                (
                    "categories",
                    make_pipeline(SimpleImputer(strategy="most_frequent"), encoder),
                    ["island", "sex"],
                ),
                (
                    "numbers",
                    make_pipeline(SimpleImputer(), StandardScaler()),
                    ["bill_length_mm", "body_mass_g"],
                ),
            ]
        ),
        LogisticRegression(max_iter=1000),
    )


def penguin_card(frame: Any, handle_unknown: bool = False) -> ModelCard:
    numbers = {
        name: {"min": float(frame[name].min()), "max": float(frame[name].max())}
        for name in ("bill_length_mm", "body_mass_g")
    }
    return ModelCard.model_validate(
        {
            "name": "penguins-open" if handle_unknown else "penguins",
            "version": "1",
            "task": "classification",
            "description": "Synthetic penguins, for tests.",
            "features": [
                {
                    "name": "island",
                    "type": "categorical",
                    "categories": ISLANDS,
                    "handles_unknown": handle_unknown,
                    "example": "Dream",
                },
                {
                    "name": "bill_length_mm",
                    "unit": "mm",
                    "example": 44.0,
                    **numbers["bill_length_mm"],
                },
                {
                    "name": "sex",
                    "type": "categorical",
                    "categories": SEXES,
                    "handles_unknown": handle_unknown,
                    "example": "female",
                },
                {"name": "body_mass_g", "unit": "g", "example": 4000.0, **numbers["body_mass_g"]},
            ],
            "allow_missing": True,
            "target": {"name": "species", "classes": SPECIES},
            "metrics": {},
            "training": {
                "dataset": "synthetic penguins",
                "rows": len(frame),
                "test_rows": 0,
                "estimator": "Pipeline(ColumnTransformer, LogisticRegression)",
                "libraries": package.library_versions(),
                "created_at": datetime.now(UTC).isoformat(),
            },
            "sha256": "0" * 64,
            # OneHotEncoder's dtype parameter; skops does not trust it by default
            "trusted_types": ["numpy.dtype"],
        }
    )


def build_penguins(directory: Path, handle_unknown: bool = False) -> Path:
    """Fit the pipeline and save it as a package in `directory`."""
    frame, species = penguin_rows()
    estimator = penguin_pipeline(handle_unknown).fit(frame, species)
    package.save(estimator, penguin_card(frame, handle_unknown), directory)
    return directory
