"""Package your own model from files: `python -m model_service.package`.

    python -m model_service.package MODEL --data TRAIN.csv --target COLUMN \\
        --name NAME [--version V] --out DIR [--test TEST.csv] \\
        [--description TEXT] [--describe FEATURE=TEXT]... [--unit FEATURE=UNIT]... \\
        [--trust TYPE]... [--pickle-runs-code] [--overwrite]

MODEL is a skops file, or, with --pickle-runs-code, a pickle or joblib file
(loading one runs whatever code it names; it is converted to skops, so the
service never unpickles). The CSV's columns other than the target are the
features. Prints the package's summary; a refusal prints
`model_service.package: <reason>` on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path
from typing import Any

from model_service.package import PackageError
from model_service.package.trust import import_skops, untrusted_types

PROG = "python -m model_service.package"


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        feature, sep, text = value.partition("=")
        if not sep or not feature:
            raise PackageError(f"{flag} takes FEATURE=TEXT, not {value!r}")
        pairs[feature] = text
    return pairs


def read_estimator(path: Path, trust: list[str], pickle_runs_code: bool) -> Any:
    """The estimator in a skops file (its extra types named in `trust`), or
    in a pickle/joblib file when the user said it may run code."""
    if not path.is_file():
        raise PackageError(f"no model file at {path}")
    # skops files are zip archives; anything else would be unpickled.
    if zipfile.is_zipfile(path):
        sio = import_skops()
        needed = sio.get_untrusted_types(file=path)
        untrusted = untrusted_types(needed, trust)
        if untrusted:
            raise PackageError(
                f"{path} holds types that skops does not trust by default: {', '.join(untrusted)}; "
                f"if you trust them, name each: {' '.join(f'--trust {t}' for t in untrusted)}"
            )
        # every one of them named by --trust or trusted by skops' own rule
        return sio.load(path, trusted=needed)
    if not pickle_runs_code:
        raise PackageError(
            f"{path} is not a skops file; loading a pickle or joblib file runs whatever code it names: "
            "if you trust it, pass --pickle-runs-code (it is converted to skops)"
        )
    import pickle

    import joblib  # reads plain pickles too

    try:
        return joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ImportError, AttributeError, ValueError) as exc:
        raise PackageError(f"cannot read {path} as a pickle: {type(exc).__name__}: {exc}") from None


def read_csv(path: Path, what: str) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise PackageError(f"no {what} at {path}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PackageError(f"cannot read {path} as CSV: {reason}") from None


def split(frame: Any, target: str, path: Path) -> tuple[Any, Any]:
    if target not in frame.columns:
        raise PackageError(
            f"{path} has no column {target!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    return frame.drop(columns=[target]), frame[target]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Package a fitted scikit-learn model for the model service."
    )
    parser.add_argument(
        "model",
        type=Path,
        help="the fitted estimator: a skops file (or a pickle, see --pickle-runs-code)",
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="CSV of the rows it was fitted on, with a header"
    )
    parser.add_argument("--target", required=True, help="the target column in the CSV")
    parser.add_argument("--name", required=True, help="the model's name, as served")
    parser.add_argument(
        "--version", default="1", help="the model's version, as served (default: 1)"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write the package to")
    parser.add_argument(
        "--test", type=Path, help="CSV of held-out rows, same columns: the card's metrics"
    )
    parser.add_argument("--description", default="", help="one or two sentences about the model")
    parser.add_argument(
        "--describe",
        action="append",
        default=[],
        metavar="FEATURE=TEXT",
        help="what a feature is (repeatable)",
    )
    parser.add_argument(
        "--unit",
        action="append",
        default=[],
        metavar="FEATURE=UNIT",
        help="a feature's unit, e.g. cm (repeatable)",
    )
    parser.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type beyond skops' defaults you trust the model file to hold (repeatable)",
    )
    parser.add_argument(
        "--pickle-runs-code",
        action="store_true",
        help="read MODEL as a pickle/joblib file, which runs any code it names",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the package already at --out"
    )
    args = parser.parse_args(argv)
    try:
        # Cheap refusals before the seconds scikit-learn takes to import.
        if args.out.exists() and not args.overwrite:
            raise PackageError(f"{args.out} already exists; pass --overwrite to replace it")
        descriptions = _pairs(args.describe, "--describe")
        units = _pairs(args.unit, "--unit")
        X, y = split(read_csv(args.data, "training data"), args.target, args.data)
        X_test = y_test = None
        if args.test is not None:
            X_test, y_test = split(read_csv(args.test, "held-out data"), args.target, args.test)
        estimator = read_estimator(args.model, args.trust, args.pickle_runs_code)

        from model_service.package.build import package_model

        card = package_model(
            estimator, X, y, out=args.out, name=args.name, version=args.version,
            X_test=X_test, y_test=y_test, description=args.description,
            descriptions=descriptions, units=units, dataset=args.data.name,
            trusted_types=args.trust, overwrite=args.overwrite,
        )  # fmt: skip
    except PackageError as exc:
        print(f"model_service.package: {exc}", file=sys.stderr)
        return 2
    categorical = sum(f.is_categorical for f in card.features)
    scores = ", ".join(f"{k} {v}" for k, v in card.metrics.items()) or "no held-out data"
    print(
        f"{card.name} v{card.version} ({card.task}): {len(card.features)} features "
        f"({categorical} categorical), {card.training.rows} rows, {scores}; "
        f"loaded back and checked in a fresh Python -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
