"""A model package is served only when it is exactly what was packaged."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from model_service import package
from model_service.package import PackageError
from model_service.recipes import RECIPES


@pytest.fixture
def iris_copy(model_dirs: dict[str, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dirs["iris"], tmp_path / "iris"))


def edit_card(directory: Path, **changes: object) -> None:
    path = directory / "model.json"
    card = orjson.loads(path.read_bytes())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = card
        for key in parents:
            target = target[key]
        target[leaf] = value
    path.write_bytes(orjson.dumps(card))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_bundled_package_loads(model_dirs: dict[str, Path], name: str) -> None:
    loaded = package.load(model_dirs[name])
    assert loaded.card.name == name
    assert len(loaded.card.features) == loaded.estimator.n_features_in_


def test_missing_package(tmp_path: Path) -> None:
    # e.g. the generic image with nothing mounted at /model
    with pytest.raises(PackageError, match=r"nothing: no such directory$"):
        package.load(tmp_path / "nothing")


def test_empty_package_directory(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"model\.json is missing"):
        package.load(tmp_path)


def test_missing_model_file(iris_copy: Path) -> None:
    (iris_copy / "model.skops").unlink()
    with pytest.raises(PackageError, match="cannot read"):
        package.load(iris_copy)


def test_tampered_model_file(iris_copy: Path) -> None:
    data = bytearray((iris_copy / "model.skops").read_bytes())
    data[-30] ^= 0xFF
    (iris_copy / "model.skops").write_bytes(bytes(data))
    with pytest.raises(PackageError, match="does not match its card"):
        package.load(iris_copy)


def test_invalid_card(iris_copy: Path) -> None:
    edit_card(iris_copy, task="astrology")
    with pytest.raises(PackageError, match=r"not a valid model card: task"):
        package.load(iris_copy)


def test_card_that_is_not_json(iris_copy: Path) -> None:
    (iris_copy / "model.json").write_text("{not json")
    with pytest.raises(PackageError, match="not a valid model card"):
        package.load(iris_copy)


@pytest.mark.parametrize("library", ["scikit-learn", "skops"])
def test_other_library_versions_are_refused(iris_copy: Path, library: str) -> None:
    edit_card(iris_copy, **{f"training__libraries__{library}": "0.0.1"})
    with pytest.raises(PackageError, match=f"saved with {library} 0.0.1"):
        package.load(iris_copy)


def test_card_that_disagrees_with_the_estimator(iris_copy: Path) -> None:
    edit_card(iris_copy, target__classes=["a", "b", "c"])
    with pytest.raises(PackageError, match="classes"):
        package.load(iris_copy)


def test_a_model_file_that_would_run_code_is_refused(untrusted_package: Path) -> None:
    # skops names os.system as untrusted, and nothing is executed.
    with pytest.raises(PackageError, match="not trusted"):
        package.load(untrusted_package)


def test_one_line_reasons(tmp_path: Path) -> None:
    with pytest.raises(PackageError) as caught:
        package.load(tmp_path)
    assert "\n" not in str(caught.value)


# --- a card that lies about the features the estimator was fitted on ---


def _features(directory: Path) -> list[dict[str, object]]:
    features: list[dict[str, object]] = orjson.loads((directory / "model.json").read_bytes())[
        "features"
    ]
    return features


def test_a_card_with_a_feature_too_few_is_refused(iris_copy: Path) -> None:
    edit_card(iris_copy, features=_features(iris_copy)[:3])
    with pytest.raises(PackageError, match=r"4 features.*3|3.*4 features"):
        package.load(iris_copy)


def test_a_card_with_a_feature_too_many_is_refused(iris_copy: Path) -> None:
    features = _features(iris_copy)
    edit_card(iris_copy, features=[*features, {**features[0], "name": "extra"}])
    with pytest.raises(PackageError, match=r"5"):
        package.load(iris_copy)


def test_a_card_with_features_renamed_is_refused_when_the_estimator_knows_names(
    tmp_path: Path, penguins_dir: Path
) -> None:
    copy = Path(shutil.copytree(penguins_dir, tmp_path / "penguins"))
    features = _features(copy)
    features[1] = {**features[1], "name": "beak_length_mm"}
    edit_card(copy, features=features)
    with pytest.raises(PackageError, match="beak_length_mm"):
        package.load(copy)


def test_a_card_with_features_reordered_is_refused_when_the_estimator_knows_names(
    tmp_path: Path, penguins_dir: Path
) -> None:
    copy = Path(shutil.copytree(penguins_dir, tmp_path / "penguins"))
    features = _features(copy)
    edit_card(copy, features=[features[1], features[0], *features[2:]])
    with pytest.raises(PackageError, match="names and order must match"):
        package.load(copy)


def test_a_card_with_other_categories_is_refused(tmp_path: Path, penguins_dir: Path) -> None:
    copy = Path(shutil.copytree(penguins_dir, tmp_path / "penguins"))
    features = _features(copy)
    island = next(i for i, f in enumerate(features) if f["name"] == "island")
    features[island] = {**features[island], "categories": ["Biscoe", "Dream", "Atlantis"]}
    edit_card(copy, features=features)
    with pytest.raises(PackageError, match=r"never saw: .*Atlantis"):
        package.load(copy)


def test_a_numeric_card_for_a_categorical_feature_is_refused(
    tmp_path: Path, penguins_dir: Path
) -> None:
    copy = Path(shutil.copytree(penguins_dir, tmp_path / "penguins"))
    features = _features(copy)
    island = next(i for i, f in enumerate(features) if f["name"] == "island")
    features[island] = {
        "name": "island",
        "type": "number",
        "description": "an island, as a number",
        "min": 0,
        "max": 3,
        "example": 1,
    }
    edit_card(copy, features=features)
    with pytest.raises(PackageError, match="island"):
        package.load(copy)
