"""Train and package a bundled model: `python -m model_service.train NAME --out DIR`.

Fits the recipe's pipeline on 80 % of the data (stratified for classifiers),
measures it on the held-out 20 %, and writes `model.skops` + `model.json`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn import metrics
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from model_service import package
from model_service.recipes import RECIPES, Recipe
from shared.card import Feature, ModelCard, Target, Training

SEED = 0


def train(recipe: Recipe, version: str = "1") -> tuple[BaseEstimator, ModelCard]:
    X, y = recipe.load()
    if recipe.classes is not None:
        y = np.asarray(recipe.classes)[y]  # fit on names, so the model answers in words
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=SEED, stratify=y if recipe.classes else None
    )
    estimator = recipe.pipeline().fit(X_train, y_train)
    card = ModelCard(
        name=recipe.name,
        version=version,
        task=recipe.task,
        description=recipe.description,
        features=_features(recipe, X_train),
        allow_missing=recipe.allow_missing,
        # classes in the estimator's order, which is the order of its probabilities
        target=Target(
            name=recipe.target,
            classes=[str(c) for c in estimator.classes_] if recipe.classes else None,
        ),
        metrics=_metrics(recipe, estimator, X_test, y_test),
        training=Training(
            dataset=f"sklearn.datasets.load_{recipe.name}",
            rows=len(X_train),
            test_rows=len(X_test),
            estimator=str(estimator).replace("\n", " "),
            libraries=package.library_versions(),
            created_at=datetime.now(UTC).replace(microsecond=0),
        ),
        sha256="0" * 64,  # filled in by package.save
    )
    return estimator, card


def _features(recipe: Recipe, X: np.ndarray) -> list[Feature]:
    # The example is a real training row: the one closest to the median of
    # every feature (in standard units), i.e. an unremarkable input.
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    z_median = (np.median(X, axis=0) - X.mean(axis=0)) / X.std(axis=0)
    example = X[np.argmin(((z - z_median) ** 2).sum(axis=1))]
    return [
        Feature(
            name=column.name,
            type=column.type,
            description=column.description,
            unit=column.unit,
            min=float(X[:, i].min()),
            max=float(X[:, i].max()),
            example=float(example[i]),
        )
        for i, column in enumerate(recipe.columns)
    ]


def _metrics(
    recipe: Recipe, estimator: BaseEstimator, X: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    predicted = estimator.predict(X)
    if recipe.task == "classification":
        return {
            "accuracy": round(float(metrics.accuracy_score(y, predicted)), 4),
            "f1_macro": round(float(metrics.f1_score(y, predicted, average="macro")), 4),
            "log_loss": round(float(metrics.log_loss(y, estimator.predict_proba(X))), 4),
        }
    return {
        "r2": round(float(metrics.r2_score(y, predicted)), 4),
        "mae": round(float(metrics.mean_absolute_error(y, predicted)), 4),
        "rmse": round(float(metrics.root_mean_squared_error(y, predicted)), 4),
    }


def build(name: str, out: Path, version: str = "1") -> ModelCard:
    """Train the bundled model `name` and write its package to `out`."""
    estimator, card = train(RECIPES[name], version)
    return package.save(estimator, card, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_service.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("name", choices=sorted(RECIPES), help="which bundled data set to train on")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the package to")
    parser.add_argument(
        "--version", default="1", help="the model's version, as served (default: 1)"
    )
    args = parser.parse_args(argv)
    card = build(args.name, args.out, args.version)
    scores = ", ".join(f"{k} {v}" for k, v in card.metrics.items())
    print(
        f"{card.name} v{card.version} ({card.task}): {scores} on {card.training.test_rows} held-out rows -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
