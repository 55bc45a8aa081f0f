"""A model of your own behind the endpoint, both ways, through compose:

- an image built around a package directory (`MODEL_PACKAGE=models/<name>`
  at build time), swapped in with `MODEL_IMAGE` like a bundled model's;
- the generic image (no model of its own) serving a package directory
  mounted read-only (`docker-compose.package.yml`, `MODEL_PACKAGE_DIR`).

The tests run in file order on one stack, started on the baked iris image:
iris -> a mounted package (diabetes) -> an image built from a package (wine)
-> iris again -> penguins. The web app's container is the same throughout.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ask, form_shows
from tests.support.compose import (
    COMPOSE_FILE,
    IMAGE_NAMESPACE,
    PACKAGE_COMPOSE_FILE,
    REPO,
    Stack,
    docker_ready,
    http_get,
    http_post,
    run,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

GENERIC_IMAGE = f"{IMAGE_NAMESPACE}model-service:generic"
FROM_PACKAGE_IMAGE = f"{IMAGE_NAMESPACE}model-service:wine-from-package"
PENGUINS_IMAGE = f"{IMAGE_NAMESPACE}model-service:penguins"
# Under models/, the one folder of the build context that holds packages.
WINE_PACKAGE = "models/e2e-wine"
BROKEN_PACKAGE = "models/e2e-broken"
NO_PACKAGE_REASON = (
    "model_service: cannot serve /model: no model package at /model: no such directory"
)


def _build(built_images: dict[str, str], *files: Path, **env: str) -> None:
    """`compose build model_service` with these files on top of
    docker-compose.yml, on the bases the other images were built on."""
    bases = {k: v for k, v in built_images.items() if k.endswith("_BASE_IMAGE")}
    chosen = [arg for path in (COMPOSE_FILE, *files) for arg in ("-f", str(path))]
    compose = docker_ready()
    # docker-compose 1.29 builds with the classic builder, which keeps the
    # container of a failed step unless told not to; v2's BuildKit keeps none.
    force_rm = ["--force-rm"] if compose == ["docker-compose"] else []
    run(
        [*compose, *chosen, "build", *force_rm, "model_service"],
        env={**os.environ, **bases, **env},
        timeout=900,
    )


def _train(name: str, out: Path) -> None:
    """`python -m model_service.train NAME --out DIR`, as the docs say; files
    readable by the image's user whatever this machine's umask."""
    shutil.rmtree(out, ignore_errors=True)
    run([sys.executable, "-m", "model_service.train", name, "--out", str(out)], timeout=300)
    out.chmod(0o755)
    for path in out.iterdir():
        path.chmod(0o644)


@pytest.fixture(scope="module")
def packages(
    built_images: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    timings: dict[str, float],
) -> Iterator[dict[str, Path]]:
    """A wine package in the build context, built into an image; a diabetes
    package outside it, for mounting; the generic image. The packages are
    removed afterwards, the images kept (the next run reuses their layers)."""
    wine, mounted = REPO / WINE_PACKAGE, tmp_path_factory.mktemp("mounted") / "diabetes"
    started = time.monotonic()
    _train("wine", wine)
    _train("diabetes", mounted)
    timings["packages: train wine and diabetes (s)"] = round(time.monotonic() - started, 1)
    try:
        started = time.monotonic()
        _build(built_images, MODEL_PACKAGE=WINE_PACKAGE, MODEL_IMAGE=FROM_PACKAGE_IMAGE)
        timings["packages: build an image from the wine package (s)"] = round(
            time.monotonic() - started, 1
        )
        started = time.monotonic()
        _build(
            built_images,
            PACKAGE_COMPOSE_FILE,
            MODEL_PACKAGE_DIR=str(mounted),
            GENERIC_IMAGE=GENERIC_IMAGE,
        )
        timings["packages: build the generic image (s)"] = round(time.monotonic() - started, 1)
        yield {"wine": wine, "mounted": mounted}
    finally:
        shutil.rmtree(wine, ignore_errors=True)


def _image_mb(image: str) -> float:
    info = json.loads(run(["docker", "image", "inspect", image]).stdout)[0]
    return round(info["Size"] / 1e6, 1)


def _predict_one(stack: Stack, card: dict[str, Any]) -> list[Any]:
    """POST /invocations on the published endpoint with the card's example row, by name."""
    row = {f["name"]: f["example"] for f in card["features"]}
    status, body = http_post(
        f"{stack.model_url}/invocations",
        json.dumps({"instances": [row]}).encode(),
        "application/json",
    )
    assert status == 200, body[:500]
    predictions: list[Any] = json.loads(body)["predictions"]
    assert len(predictions) == 1, predictions
    return predictions


def _swap(stack: Stack, name: str, *, files: tuple[Path, ...] = (), **env: str) -> dict[str, Any]:
    """`up -d model_service` with these files and variables, under the running
    web app; the card of the model it serves once the web app shows `name`."""
    web_before = stack.inspect(stack.container_id("web_app"))
    started = time.monotonic()
    stack.compose_run("up", "-d", "model_service", files=files, **env)

    def shows() -> bool:
        status, body = http_get(f"{stack.web_url}/", timeout=10)
        return status == 200 and f"<em>{name}</em>" in body

    wait_for(f"the web app showing {name}", shows, timeout=180, interval=0.25)
    stack.timings[f"packages: swap to {name} shown by the web app (s)"] = round(
        time.monotonic() - started, 1
    )
    wait_for(f"{name} healthy", lambda: stack.health("model_service") == "healthy", timeout=120)
    web_after = stack.inspect(stack.container_id("web_app"))
    assert web_after["Id"] == web_before["Id"], "the web app container was replaced"
    assert web_after["State"]["StartedAt"] == web_before["State"]["StartedAt"], "it restarted"
    card = stack.metadata()
    assert card["name"] == name
    return card


def _predicts_in_the_browser(stack: Stack, page: Any, card: dict[str, Any], shot: Path) -> None:
    assert page.goto(f"{stack.web_url}/").status == 200
    form_shows(page, card)
    assert ask(page).status == 200
    headline = page.locator(".answer-headline").inner_text()
    if card["target"].get("classes"):
        assert any(c.lower() in headline.lower() for c in card["target"]["classes"]), headline
    else:
        assert any(ch.isdigit() for ch in headline), headline
    page.screenshot(path=str(shot), full_page=True)


def test_generic_image_refuses_to_start_without_a_package(packages: dict[str, Path]) -> None:
    started = time.monotonic()
    done = run(["docker", "run", "--rm", "--network", "none", GENERIC_IMAGE], check=False)
    took = time.monotonic() - started
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert done.stderr.strip().splitlines() == [NO_PACKAGE_REASON], done.stderr
    # It stops before importing scikit-learn: nothing was trained meanwhile.
    assert took < 30, f"took {took:.1f} s"


def test_a_broken_package_fails_the_build(built_images: dict[str, str]) -> None:
    """The build runs the service's own checks: a package that was changed
    after packaging never becomes an image."""
    broken = REPO / BROKEN_PACKAGE
    try:
        _train("iris", broken)
        with (broken / "model.skops").open("ab") as f:
            f.write(b"\0")
        with pytest.raises(AssertionError) as failed:
            _build(
                built_images,
                MODEL_PACKAGE=BROKEN_PACKAGE,
                MODEL_IMAGE=f"{IMAGE_NAMESPACE}model-service:e2e-broken",
            )
    finally:
        shutil.rmtree(broken, ignore_errors=True)
    output = str(failed.value)
    assert "model.skops does not match its card" in output, output[-3000:]
    assert f"MODEL_PACKAGE={BROKEN_PACKAGE}: the service would refuse this package" in output


def test_swap_from_the_baked_image_to_a_mounted_package(
    stack: Stack, packages: dict[str, Path], page: Any, shots: Path
) -> None:
    assert stack.metadata()["name"] == "iris"
    card = _swap(
        stack,
        "diabetes",
        files=(PACKAGE_COMPOSE_FILE,),
        MODEL_PACKAGE_DIR=str(packages["mounted"]),
        GENERIC_IMAGE=GENERIC_IMAGE,
    )
    info = stack.inspect(stack.container_id("model_service"))
    assert info["Config"]["Image"] == GENERIC_IMAGE
    assert [(m["Type"], m["Source"], m["Destination"], m["RW"]) for m in info["Mounts"]] == [
        ("bind", str(packages["mounted"]), "/model", False)
    ]
    (prediction,) = _predict_one(stack, card)
    assert isinstance(prediction, float), prediction
    _predicts_in_the_browser(stack, page, card, shots / "11-mounted-diabetes.png")


def test_swap_to_an_image_built_from_a_package(
    stack: Stack,
    built_images: dict[str, str],
    packages: dict[str, Path],
    page: Any,
    shots: Path,
    timings: dict[str, float],
) -> None:
    card = _swap(stack, "wine", MODEL_IMAGE=FROM_PACKAGE_IMAGE)
    info = stack.inspect(stack.container_id("model_service"))
    assert info["Config"]["Image"] == FROM_PACKAGE_IMAGE
    assert info["Mounts"] == [], "the mount of the previous container was carried over"
    assert info["Config"]["Labels"]["org.sklearn-endpoint.model-source"] == WINE_PACKAGE
    # The image serves the package as it was packaged: the card is the file's.
    packaged = json.loads((packages["wine"] / "model.json").read_text())
    assert card["sha256"] == packaged["sha256"]
    (prediction,) = _predict_one(stack, card)
    assert prediction in card["target"]["classes"]
    _predicts_in_the_browser(stack, page, card, shots / "12-wine-from-package.png")

    # And back to the baked iris image, the command the docs give.
    _swap(stack, "iris")
    for image in (GENERIC_IMAGE, FROM_PACKAGE_IMAGE, built_images["iris"]):
        timings[f"{image} image (MB)"] = _image_mb(image)


def test_the_penguins_image_serves_through_compose(
    stack: Stack, built_images: dict[str, str], page: Any, shots: Path
) -> None:
    """A bundled model with categorical features, built as the others are
    (MODEL=penguins), through the web app's form and /invocations."""
    started = time.monotonic()
    _build(built_images, MODEL="penguins", MODEL_IMAGE=PENGUINS_IMAGE)
    stack.timings["packages: build penguins (s)"] = round(time.monotonic() - started, 1)
    card = _swap(stack, "penguins", MODEL_IMAGE=PENGUINS_IMAGE)
    assert any(f["type"] == "categorical" for f in card["features"])
    (prediction,) = _predict_one(stack, card)
    assert prediction in card["target"]["classes"]
    _predicts_in_the_browser(stack, page, card, shots / "13-penguins.png")

    # A person picks another island in the select: the request carries it.
    island = next(f for f in card["features"] if f["name"] == "island")
    other = next(c for c in island["categories"] if c != island["example"])
    assert page.goto(f"{stack.web_url}/").status == 200
    page.select_option("select[name$='island']", other)
    assert ask(page).status == 200
    assert f'"{other}"' in page.locator("section.inspector").inner_text()
    page.screenshot(path=str(shots / "14-penguins-select.png"), full_page=True)
