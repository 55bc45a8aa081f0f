"""The card, inferred from a fitted estimator and the data it was fitted on.

Each function reads the data or asks the estimator and either answers or
raises `PackageError` with a one-line reason; none writes anything.

Two answers come from asking the estimator rather than reading it:

- `allow_missing`: a row with one value missing, for each feature in turn,
  must predict. Estimator tags cannot say this: a `Pipeline` of an imputer
  and a linear model says it takes no NaN; one of a scaler and a linear
  model inherits nothing useful either.
- `handles_unknown`: a real row with a category no training row had must
  predict. Reading encoders instead would need to know every encoder
  (`OneHotEncoder(handle_unknown=...)`, `OrdinalEncoder(unknown_value=...)`,
  `TargetEncoder`, a gradient booster's native categories, third-party
  ones) and follow each column through `ColumnTransformer`s; the probe asks
  the whole pipeline the question the service will ask it.

Probes build rows exactly as the service does (`roundtrip.model_input`).

The module is a little over 300 lines because it is the whole of what a
card says, read off the data: per feature its kind, range or categories and
example, then task, classes, metrics and the two probes; split, the rules
for one field would sit in several files.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skmetrics
from sklearn.base import is_classifier, is_clusterer, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from model_service.package import PackageError
from model_service.package.roundtrip import Cell, model_input, outputs
from shared.card import Feature

Task = Literal["classification", "regression"]
NumericType = Literal["number", "integer"]


def check_fitted(estimator: Any) -> None:
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        raise PackageError(
            f"the estimator {type(estimator).__name__} is not fitted: fit it on the training data first"
        ) from None
    except TypeError:
        raise PackageError(
            f"{type(estimator).__name__} is not a scikit-learn estimator (it has no fit method)"
        ) from None


def task_of(estimator: Any, target: str | None) -> Task:
    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    kind = (
        "a clusterer"
        if is_clusterer(estimator)
        else "a transformer"
        if hasattr(estimator, "transform")
        else "neither a classifier nor a regressor"
    )
    name = type(estimator).__name__
    if target is not None:
        raise PackageError(
            f"{name} is {kind}: it predicts no target, so there is nothing to package as {target!r}; "
            "the service serves classifiers and regressors"
        )
    raise PackageError(f"{name} is {kind}; the service serves classifiers and regressors")


def classes_of(estimator: Any) -> list[str]:
    classes = np.asarray(getattr(estimator, "classes_", []), dtype=object)
    if classes.ndim != 1 or len(classes) < 2:
        raise PackageError(
            f"{type(estimator).__name__} has no single list of classes (multi-output classifiers cannot be served)"
        )
    return [str(c) for c in classes]


def aligned(
    X: Any, feature_names: Sequence[str] | None, estimator: Any, what: str = "the data"
) -> tuple[pd.DataFrame, Any]:
    """`X` as a frame in the estimator's feature order, and as the estimator
    takes it (that frame when it was fitted on named columns, else an array)."""
    fitted = getattr(estimator, "feature_names_in_", None)
    fitted_names = None if fitted is None else [str(n) for n in fitted]
    if isinstance(X, pd.DataFrame):
        if feature_names is not None:
            raise PackageError(
                "feature_names is for data without names; a DataFrame names its own columns"
            )
        odd = [c for c in X.columns if not isinstance(c, str)]
        if odd:
            raise PackageError(
                f"{what} has a column named {odd[0]!r}, not a string: name the columns, they become the card's feature names"
            )
        frame = X
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise PackageError(f"{what} is not a table: an array of {array.ndim} dimensions")
        names = list(feature_names) if feature_names is not None else fitted_names
        if names is None:
            raise PackageError(
                f"{what} is an array without column names: give feature_names, or pass a DataFrame"
            )
        if len(names) != array.shape[1]:
            raise PackageError(
                f"{what} has {array.shape[1]} columns but {len(names)} feature names"
            )
        frame = pd.DataFrame(array, columns=names)
        if array.dtype == object:
            frame = frame.infer_objects()
    if frame.empty:
        raise PackageError(f"{what} has no rows")
    columns = list(frame.columns)
    if fitted_names is not None:
        if set(columns) != set(fitted_names) or len(columns) != len(fitted_names):
            missing = [n for n in fitted_names if n not in columns]
            extra = [c for c in columns if c not in fitted_names]
            raise PackageError(
                f"{what} does not match the features the estimator was fitted on: "
                f"missing {_few(missing)}, unexpected {_few(extra)}"
            )
        frame = frame[fitted_names]
        return frame, frame
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is not None and n_in != len(columns):
        raise PackageError(
            f"{what} has {len(columns)} columns; the estimator was fitted on {n_in} features"
        )
    return frame, np.asarray(X) if not isinstance(X, pd.DataFrame) else frame.to_numpy()


def _few(names: Sequence[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def kind_of(name: str, column: pd.Series) -> Literal["number", "integer", "categorical"]:
    """What the card calls a column, or a refusal naming it and its dtype."""
    dtype = column.dtype
    api = pd.api.types
    if api.is_bool_dtype(dtype):
        raise PackageError(
            f"column {name!r} is boolean, which the card cannot describe: fit on 0/1 integers or on strings"
        )
    if (
        api.is_datetime64_any_dtype(dtype)
        or api.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    ):
        raise PackageError(
            f"column {name!r} holds dates or times ({dtype}), which the card cannot describe: "
            "fit on numbers derived from them (e.g. a day of the year)"
        )
    values = column.dropna()
    if values.empty:
        raise PackageError(f"column {name!r} has no values, only missing ones")
    if isinstance(dtype, pd.CategoricalDtype) or not (
        api.is_numeric_dtype(dtype) and not api.is_complex_dtype(dtype)
    ):
        if api.is_complex_dtype(dtype):
            raise PackageError(
                f"column {name!r} holds complex numbers, which the card cannot describe"
            )
        kinds = sorted({type(v).__name__ for v in values if not isinstance(v, str)})
        if kinds:
            raise PackageError(
                f"column {name!r} holds {', '.join(kinds)} objects, not only strings, which the card cannot "
                "describe: give it one dtype (numbers, or strings for categories)"
            )
        return "categorical"
    if not np.isfinite(values.to_numpy(dtype=np.float64)).all():
        raise PackageError(f"column {name!r} holds infinite values")
    return "integer" if api.is_integer_dtype(dtype) else "number"


def features_of(
    frame: pd.DataFrame,
    descriptions: Mapping[str, str],
    units: Mapping[str, str],
    types: Mapping[str, NumericType],
) -> tuple[list[Feature], int]:
    """The card's features (examples from one real row), and that row's index."""
    names = list(frame.columns)
    for what, given in (("descriptions", descriptions), ("units", units), ("types", types)):
        unknown = [n for n in given if n not in names]
        if unknown:
            raise PackageError(f"{what} name no feature {_few(unknown)} (features: {_few(names)})")
    kinds = {name: kind_of(name, frame[name]) for name in names}
    for name, wanted in types.items():
        if kinds[name] == "categorical" or wanted not in ("number", "integer"):
            raise PackageError(
                f"types: {name!r} cannot be {wanted!r}: only a numeric feature may be typed, as number or integer"
            )
        kinds[name] = wanted
    index = example_index(frame, kinds)
    features = []
    for name in names:
        column = frame[name]
        common = {
            "name": name,
            "type": kinds[name],
            "description": descriptions.get(name, ""),
            "unit": units.get(name),
        }
        value = column.iloc[index]
        if kinds[name] == "categorical":
            seen = sorted({str(v) for v in column.dropna()})
            example = str(value) if not pd.isna(value) else str(column.mode().iloc[0])
            features.append(Feature(**common, categories=seen, example=example))
        else:
            numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
            if pd.isna(value):  # no row is complete: the value nearest the median
                value = numbers[np.nanargmin(np.abs(numbers - np.nanmedian(numbers)))]
            features.append(
                Feature(
                    **common,
                    min=float(np.nanmin(numbers)),
                    max=float(np.nanmax(numbers)),
                    example=float(value),
                )
            )
    return features, index


def example_index(frame: pd.DataFrame, kinds: Mapping[str, str]) -> int:
    """The row to take examples from: an unremarkable one, closest to the
    median of every numeric feature (in standard units) and with the most
    common category of each categorical one; a complete row when there is one."""
    numeric = [n for n in frame.columns if kinds[n] != "categorical"]
    score = np.zeros(len(frame))
    if numeric:
        X = frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
        std[std == 0] = 1.0
        z = (X - mean) / std
        z_median = (np.nanmedian(X, axis=0) - mean) / std
        score = np.nansum((z - z_median) ** 2, axis=1)
    for name in frame.columns:
        if kinds[name] == "categorical":
            score = score + (frame[name] != frame[name].mode().iloc[0]).to_numpy(dtype=np.float64)
    complete = ~frame.isna().any(axis=1).to_numpy()
    if complete.any():
        score = np.where(complete, score, np.inf)
    return int(np.argmin(score))


def _predicts(
    estimator: Any, features: Sequence[Feature], row: list[Cell], frame: bool, classifier: bool
) -> bool:
    X = model_input(features, [row], frame)
    # The probe asks whether the estimator takes this row; its warnings
    # (an unknown category encoded as zeros) are part of the answer, not news.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            answer = outputs(estimator, X, classifier)
        # what scikit-learn raises for a NaN or an unseen category
        except (ValueError, TypeError):
            return False
    return bool(np.isfinite(answer).all())


def probe(
    estimator: Any, features: list[Feature], frame: bool, classifier: bool
) -> tuple[list[Feature], bool]:
    """`handles_unknown` for each categorical feature, and `allow_missing`."""
    example = [f.example for f in features]

    def predicts_with(i: int, value: Cell) -> bool:
        row: list[Cell] = list(example)
        row[i] = value
        return _predicts(estimator, features, row, frame, classifier)

    if not _predicts(estimator, features, list(example), frame, classifier):
        raise PackageError(
            "the estimator cannot predict its own example row, a real training row as the service would send it"
        )
    probed = []
    for i, feature in enumerate(features):
        if feature.is_categorical:
            unseen = "unseen"
            while unseen in (feature.categories or []):
                unseen += "_"
            feature = feature.model_copy(update={"handles_unknown": predicts_with(i, unseen)})
        probed.append(feature)
    allow_missing = all(predicts_with(i, None) for i in range(len(features)))
    return probed, allow_missing


def cells(
    frame: pd.DataFrame, features: Sequence[Feature], rows: Sequence[int]
) -> list[list[Cell]]:
    """Rows of the training frame as the card types them (JSON-ready)."""
    out = []
    for i in rows:
        row: list[Cell] = []
        for f in features:
            value = frame[f.name].iloc[i]
            row.append(None if pd.isna(value) else str(value) if f.is_categorical else float(value))
        out.append(row)
    return out


def held_out_metrics(estimator: Any, X: Any, y: Any, task: Task) -> dict[str, float]:
    """Scores on held-out rows, rounded to 4 decimals."""
    predicted = estimator.predict(X)
    if task == "classification":
        scores = {
            "accuracy": skmetrics.accuracy_score(y, predicted),
            "f1_macro": skmetrics.f1_score(y, predicted, average="macro"),
        }
        if hasattr(estimator, "predict_proba"):
            scores["log_loss"] = skmetrics.log_loss(
                y, estimator.predict_proba(X), labels=estimator.classes_
            )
    else:
        scores = {
            "r2": skmetrics.r2_score(y, predicted),
            "mae": skmetrics.mean_absolute_error(y, predicted),
            "rmse": skmetrics.root_mean_squared_error(y, predicted),
        }
    return {name: round(float(value), 4) for name, value in scores.items()}
