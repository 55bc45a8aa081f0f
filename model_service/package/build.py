"""Package your own model: `package_model(estimator, X, y, out=..., name=...)`.

From a fitted estimator and the data it was fitted on, infer the card
(`model_service.package.card`), save the estimator with skops, load the
package back in a fresh Python and check it predicts what the estimator in
memory predicts, and only then put it in place. (`fresh_python=False` loads
it back in this process instead: seconds faster, for estimators whose code
is importable anyway, such as the bundled recipes in the unit tests; it
cannot catch a class that exists only in this session.) Every refusal is a
`PackageError` with a one-line reason, and leaves nothing behind: the
package is written to a temporary directory beside `out` and renamed into
place at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import ValidationError

from model_service import package
from model_service.package import CARD_FILE, MODEL_FILE, PackageError
from model_service.package import card as infer
from model_service.package.roundtrip import load_and_predict, outputs
from model_service.package.trust import import_skops, untrusted_types
from shared.card import ModelCard, Target, Training

#: Rows the fresh process predicts on: the example row, rows spread over the
#: data, and a few with missing values when there are any.
SAMPLE_ROWS = 24
#: As the service's fast path is held to scikit-learn (docs/model-package.md).
RTOL = 1e-9


def package_model(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    out: str | Path,
    name: str,
    version: str = "1",
    target: str | None = None,
    feature_names: Sequence[str] | None = None,
    X_test: Any = None,
    y_test: Any = None,
    description: str = "",
    descriptions: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    types: Mapping[str, infer.NumericType] | None = None,
    dataset: str = "",
    trusted_types: Collection[str] = (),
    overwrite: bool = False,
    fresh_python: bool = True,
) -> ModelCard:
    """Write a model package for `estimator` to `out` and return its card.

    `X` is the data it was fitted on: a DataFrame, or an array with
    `feature_names` (or an estimator that knows them). `y` (optional) names
    the target when it is a named Series, else give `target`. `X_test` and
    `y_test`, held-out rows, give the card's metrics. `descriptions`,
    `units` and `types` ("number" or "integer") are per feature name.
    `trusted_types` names the types model.skops needs beyond skops'
    defaults that you trust; a needed type not named refuses the package.
    `fresh_python=False` checks the round trip in this process (see above).
    Raises `PackageError` with a one-line reason, having written nothing.
    """
    out = Path(out)
    _check_out(out, overwrite)
    infer.check_fitted(estimator)
    target_name = target or _series_name(y)
    task = infer.task_of(estimator, target_name or ("y" if y is not None else None))
    if target_name is None:
        raise PackageError("name the target: pass y as a named Series, or target=")
    frame, inputs = infer.aligned(X, feature_names, estimator)
    if y is not None and len(y) != len(frame):
        raise PackageError(f"the data has {len(frame)} rows but y has {len(y)}")
    features, example = infer.features_of(frame, descriptions or {}, units or {}, types or {})
    takes_frame = hasattr(estimator, "feature_names_in_")
    classifier = task == "classification"
    features, allow_missing = infer.probe(estimator, features, takes_frame, classifier)

    metrics: dict[str, float] = {}
    test_rows = 0
    if (X_test is None) != (y_test is None):
        raise PackageError("held-out data needs both X_test and y_test")
    if X_test is not None:
        _, test_inputs = infer.aligned(X_test, feature_names, estimator, "the held-out data")
        metrics = infer.held_out_metrics(estimator, test_inputs, y_test, task)
        test_rows = len(y_test)

    data, needed = _dump(estimator, trusted_types)
    try:
        card = ModelCard(
            name=name,
            version=version,
            task=task,
            description=description,
            features=features,
            allow_missing=allow_missing,
            # classes in the estimator's order, which is the order of its probabilities
            target=Target(
                name=target_name, classes=infer.classes_of(estimator) if classifier else None
            ),
            metrics=metrics,
            training=Training(
                dataset=dataset,
                rows=len(frame),
                test_rows=test_rows,
                estimator=str(estimator).replace("\n", " "),
                libraries=package.library_versions(),
                created_at=datetime.now(UTC).replace(microsecond=0),
            ),
            sha256=hashlib.sha256(data).hexdigest(),
            trusted_types=needed,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "card"
        raise PackageError(f"not a valid model card: {where}: {first['msg']}") from None

    rows = _sample_rows(frame, example)
    expected = outputs(estimator, _take(inputs, rows), classifier)
    cells = infer.cells(frame, card.features, rows)
    _write_checked(out, overwrite, data, card, cells, expected, fresh_python)
    return card


def _series_name(y: Any) -> str | None:
    name = getattr(y, "name", None)
    return name if isinstance(name, str) and name else None


def _check_out(out: Path, overwrite: bool) -> None:
    if not (out.exists() or out.is_symlink()):
        return
    if not overwrite:
        raise PackageError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    if not out.is_dir() or out.is_symlink():
        raise PackageError(f"{out} exists and is not a directory; it will not be replaced")
    others = sorted(p.name for p in out.iterdir() if p.name not in (MODEL_FILE, CARD_FILE))
    if others:
        raise PackageError(
            f"{out} holds files that are not a model package ({', '.join(others[:3])}); "
            "overwrite replaces only a model package or an empty directory"
        )


def _dump(estimator: Any, trusted_types: Collection[str]) -> tuple[bytes, list[str]]:
    """The skops dump, and the types beyond skops' defaults it needs, all of
    which the caller must have named."""
    sio = import_skops()
    data = sio.dumps(estimator)
    needed = sorted(untrusted_types(sio.get_untrusted_types(data=data), ()))
    untrusted = [t for t in needed if t not in trusted_types]
    if untrusted:
        flags = " ".join(f"--trust {t}" for t in untrusted)
        raise PackageError(
            f"model.skops would hold types that skops does not trust by default: {', '.join(untrusted)}; "
            f"the service loads only types you name: if you trust them, pass trusted_types ({flags})"
        )
    return data, needed


def _sample_rows(frame: pd.DataFrame, example: int) -> list[int]:
    n = len(frame)
    spread = np.linspace(0, n - 1, num=min(n, SAMPLE_ROWS - 4), dtype=int).tolist()
    missing = np.flatnonzero(frame.isna().any(axis=1).to_numpy())[:3].tolist()
    return list(dict.fromkeys([example, *spread, *missing]))


def _take(inputs: Any, rows: list[int]) -> Any:
    return inputs.iloc[rows] if isinstance(inputs, pd.DataFrame) else inputs[rows]


def _write_checked(
    out: Path,
    overwrite: bool,
    data: bytes,
    card: ModelCard,
    rows: list[list[infer.Cell]],
    expected: np.ndarray,
    fresh_python: bool,
) -> None:
    """Write beside `out`, check (in a fresh process), then move into place."""
    created = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        package.write(data, card, staging)
        answered = (
            _fresh_outputs(staging, rows) if fresh_python else load_and_predict(staging, rows)
        )
        if answered.shape != expected.shape or not np.allclose(
            answered, expected, rtol=RTOL, atol=1e-12
        ):
            worst = np.max(np.abs(answered - expected)) if answered.shape == expected.shape else "-"
            raise PackageError(
                "the saved package predicts differently in a fresh Python than the estimator in memory "
                f"(shapes {answered.shape} and {expected.shape}, largest difference {worst}): "
                "does the pipeline depend on state that is not saved?"
            )
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, retired / out.name)
            os.replace(staging, out)
            shutil.rmtree(retired)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for directory in created:  # innermost first; only what this call made
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


def _fresh_outputs(directory: Path, rows: list[list[infer.Cell]]) -> np.ndarray:
    # The child imports this checkout's model_service and shared, wherever it runs from.
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "model_service.package.roundtrip", str(directory)],
        input=orjson.dumps(rows),
        capture_output=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise PackageError(f"the saved package does not load in a fresh Python: {lines[-1]}")
    return np.asarray(orjson.loads(done.stdout), dtype=np.float64)
