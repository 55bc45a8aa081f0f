"""The model package on disk: `model.skops` (the fitted estimator) and
`model.json` (its card), written together and verified together.

Loading never unpickles: skops rebuilds the estimator from a description
and refuses any type that is neither trusted by skops itself nor named in
the card's `trusted_types` (named by whoever packaged the model), so a model
file cannot run code. The checksum in the card must match the file, and the
libraries that define the file's meaning must be the versions the model was
saved with.

The modules beside this one make packages (docs/model-package.md):
`build.package_model` from a fitted estimator and its training data,
`card` infers the card from that data, `__main__` is the CLI
(`python -m model_service.package`), and `roundtrip` is what the builder runs
in a fresh Python to prove a package loads and predicts as the estimator did.
Nothing here imports them: serving needs neither pandas nor the builder.
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from model_service.package.trust import import_skops, untrusted_types
from shared.card import ModelCard

MODEL_FILE = "model.skops"
CARD_FILE = "model.json"

#: Libraries whose version must match exactly: they define what the saved
#: estimator means (a different scikit-learn may load it and predict wrongly).
PINNED_LIBRARIES = ("scikit-learn", "skops")


class PackageError(Exception):
    """A model package that must not be served; the message is one line."""


@dataclass(frozen=True)
class ModelPackage:
    card: ModelCard
    estimator: Any
    path: Path


def library_versions() -> dict[str, str]:
    versions = {name: version(name) for name in ("scikit-learn", "skops", "numpy", "scipy")}
    versions["python"] = platform.python_version()
    return versions


def save(estimator: Any, card: ModelCard, directory: Path) -> ModelCard:
    """Write the package; the card is stored with the file's sha256 filled in."""
    return write(import_skops().dumps(estimator), card, directory)


def write(data: bytes, card: ModelCard, directory: Path) -> ModelCard:
    """Write `data` (a skops dump) and its card, the card's sha256 set to the data's."""
    directory.mkdir(parents=True, exist_ok=True)
    card = card.model_copy(update={"sha256": hashlib.sha256(data).hexdigest()})
    (directory / MODEL_FILE).write_bytes(data)
    (directory / CARD_FILE).write_bytes(
        orjson.dumps(card.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"
    )
    return card


def load(directory: Path) -> ModelPackage:
    """Read, verify and rebuild a package, or raise `PackageError` saying why not."""
    # skops (with scikit-learn behind it) takes seconds to import: only here,
    # so the server can bind its port and answer 503 while the model loads.
    sio = import_skops()
    card, data = verify(directory)
    # The card's list and skops' defaults, nothing else: a type the packager
    # did not name stays untrusted, whatever other packages needed.
    needed = sio.get_untrusted_types(data=data)
    untrusted = untrusted_types(needed, card.trusted_types)
    if untrusted:
        raise PackageError(
            f"{directory / MODEL_FILE} contains types that are not trusted: {', '.join(untrusted)}"
        )
    estimator = sio.loads(data, trusted=needed)
    _check_estimator(estimator, card)
    return ModelPackage(card, estimator, directory)


def verify(directory: Path) -> tuple[ModelCard, bytes]:
    """The card and the model file's bytes, checked against each other and
    against this service's libraries; cheap, and runs no model code."""
    card = read_card(directory)
    model_path = directory / MODEL_FILE
    try:
        data = model_path.read_bytes()
    except OSError as exc:
        raise PackageError(f"cannot read {model_path}: {exc.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != card.sha256:
        raise PackageError(
            f"{model_path} does not match its card: sha256 is {digest[:12]}…, model.json says {card.sha256[:12]}… "
            "(the file was changed or replaced after packaging)"
        )
    _check_versions(card)
    return card, data


def read_card(directory: Path) -> ModelCard:
    card_path = directory / CARD_FILE
    try:
        raw = card_path.read_bytes()
    except FileNotFoundError:
        if not directory.is_dir():
            # e.g. the generic image started with no package mounted at /model
            raise PackageError(f"no model package at {directory}: no such directory") from None
        raise PackageError(f"no model package at {directory}: {CARD_FILE} is missing") from None
    except OSError as exc:
        raise PackageError(f"cannot read {card_path}: {exc.strerror}") from None
    try:
        return ModelCard.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PackageError(
            f"{card_path} is not a valid model card: {where}: {first['msg']}"
        ) from None


def _check_versions(card: ModelCard) -> None:
    installed = library_versions()
    for name in PINNED_LIBRARIES:
        saved = card.training.libraries.get(name)
        if saved != installed[name]:
            raise PackageError(
                f"the model was saved with {name} {saved}, this service has {name} {installed[name]}; "
                "retrain it with this service's versions (python -m model_service.train)"
            )


def _check_estimator(estimator: Any, card: ModelCard) -> None:
    method = "predict_proba" if card.is_classifier else "predict"
    if not callable(getattr(estimator, method, None)):
        raise PackageError(
            f"the estimator {type(estimator).__name__} has no {method}() for a {card.task} card"
        )
    n_features = getattr(estimator, "n_features_in_", len(card.features))
    if n_features != len(card.features):
        raise PackageError(
            f"the estimator takes {n_features} features, the card lists {len(card.features)}"
        )
    if card.is_classifier:
        classes = [str(c) for c in getattr(estimator, "classes_", [])]
        if classes != card.target.classes:
            raise PackageError(
                f"the estimator's classes {classes} differ from the card's {card.target.classes}"
            )
