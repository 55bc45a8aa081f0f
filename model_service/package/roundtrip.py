"""Load a package in a fresh Python and predict: the builder's last check.

`python -m model_service.package.roundtrip DIR` reads rows (JSON, one list
of values per row, in the card's feature order, `null` for a missing value)
on stdin, loads DIR with `package.load` (checksum, versions, the card's
trusted types and nothing more) and prints the estimator's outputs as JSON:
`predict_proba` for a classifier, `predict` for a regressor, what the service
asks for. A refused package prints its one-line reason on stderr, status 2.

A fresh process, because a package that loads only beside the code that made
it (a class defined in a notebook, a type trusted in memory) is not a package.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from shared.card import Feature

Cell = float | str | None


def model_input(features: Sequence[Feature], rows: Sequence[Sequence[Cell]], frame: bool) -> Any:
    """Rows as the service hands them to an estimator: numbers as float64,
    categories as strings in object columns, a missing value as NaN. A
    DataFrame when the estimator was fitted on one (`frame`), else an array."""
    if frame:
        import pandas as pd  # only for estimators fitted on a DataFrame

        return pd.DataFrame(
            {
                f.name: pd.Series(
                    [np.nan if row[i] is None else row[i] for row in rows],
                    dtype=object if f.is_categorical else np.float64,
                )
                for i, f in enumerate(features)
            }
        )
    numeric = not any(f.is_categorical for f in features)
    return np.array(
        [[np.nan if v is None else v for v in row] for row in rows],
        dtype=np.float64 if numeric else object,
    ).reshape(len(rows), len(features))


def outputs(estimator: Any, X: Any, classifier: bool) -> np.ndarray:
    """What the service asks the estimator for, as floats."""
    if classifier:
        return np.asarray(estimator.predict_proba(X), dtype=np.float64)
    return np.asarray(estimator.predict(X), dtype=np.float64)


def load_and_predict(directory: Path, rows: Sequence[Sequence[Cell]]) -> np.ndarray:
    """Load the package at `directory` as the service does and predict `rows`.
    Raises `PackageError` when the package is refused."""
    from model_service import package

    loaded = package.load(directory)
    card = loaded.card
    X = model_input(card.features, rows, hasattr(loaded.estimator, "feature_names_in_"))
    return outputs(loaded.estimator, X, card.is_classifier)


def main(argv: list[str] | None = None) -> int:
    from model_service.package import PackageError

    args = sys.argv[1:] if argv is None else argv
    rows = orjson.loads(sys.stdin.buffer.read())
    try:
        answered = load_and_predict(Path(args[0]), rows)
    except PackageError as exc:
        print(exc, file=sys.stderr)
        return 2
    sys.stdout.buffer.write(orjson.dumps(answered.tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
