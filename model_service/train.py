"""Train and package a bundled model: `python -m model_service.train NAME --out DIR`.

`--estimator linear|forest|boosting` chooses the algorithm
(`model_service.estimators`); without it, the recipe's own pipeline: linear
for every data set but breast_cancer, which is gradient boosting.

Fits the recipe's pipeline on 80 % of the data (stratified for classifiers),
and packages it with the packaging API (`model_service.package.build`), as a
user packages their own model: the card is inferred from the training rows,
the metrics measured on the held-out 20 %, and the package is loaded back in
a fresh Python before it is put in place.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from model_service.estimators import ESTIMATORS
from model_service.package import PackageError
from model_service.recipes import RECIPES, Recipe
from shared.card import ModelCard

SEED = 0


def train(recipe: Recipe, estimator: str | None = None) -> tuple[Any, Any, Any, Any, Any]:
    """The fitted pipeline, and the training and held-out rows and targets."""
    X, y = recipe.load()
    classifier = recipe.task == "classification"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=SEED, stratify=y if classifier else None
    )
    pipeline = recipe.pipeline_for(estimator)
    return pipeline.fit(X_train, y_train), X_train, X_test, y_train, y_test


def build(
    name: str,
    out: Path,
    version: str = "1",
    *,
    estimator: str | None = None,
    fresh_python: bool = True,
) -> ModelCard:
    """Train the bundled model `name` (with `estimator`, or the recipe's
    own pipeline) and write its package to `out`, replacing the package
    there. `fresh_python=False` checks the package in this process
    (`package_model`): the unit tests' way to save seconds."""
    from model_service.package.build import package_model

    recipe = RECIPES[name]
    fitted, X_train, X_test, y_train, y_test = train(recipe, estimator)
    columns = recipe.columns
    return package_model(
        fitted,
        X_train,
        y_train,
        out=out,
        name=recipe.name,
        version=version,
        target=recipe.target,
        # an array's columns are named by the recipe; a DataFrame names its own
        feature_names=[c.name for c in columns] if isinstance(X_train, np.ndarray) else None,
        X_test=X_test,
        y_test=y_test,
        description=recipe.description,
        descriptions={c.name: c.description for c in columns},
        units={c.name: c.unit for c in columns if c.unit is not None},
        types={c.name: c.type for c in columns if c.type is not None},
        dataset=recipe.dataset,
        trusted_types=recipe.trusted_types_for(estimator),
        overwrite=True,
        fresh_python=fresh_python,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_service.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("name", choices=sorted(RECIPES), help="which bundled data set to train on")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the package to")
    parser.add_argument(
        "--version", default="1", help="the model's version, as served (default: 1)"
    )
    parser.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default=None,
        help="the algorithm: linear (logistic regression / ridge), forest (random forest, "
        "100 trees) or boosting (histogram gradient boosting); default: the data set's own "
        "(linear, boosting for breast_cancer)",
    )
    args = parser.parse_args(argv)
    try:
        card = build(args.name, args.out, args.version, estimator=args.estimator)
    except PackageError as exc:
        print(f"model_service.train: {exc}", file=sys.stderr)
        return 2
    scores = ", ".join(f"{k} {v}" for k, v in card.metrics.items())
    print(
        f"{card.name} v{card.version} ({card.task}): {scores} on {card.training.test_rows} held-out rows -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
