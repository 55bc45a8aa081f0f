"""The web app in headless Chromium (Playwright driving Debian's chromium),
in front of a real model service: what a person sees and does. Categorical
inputs are shown in front of the fake endpoint on a socket, with a
penguins-like card, until a bundled model has them.

Skipped, saying why, only where chromium is missing and CI is not set; under
CI a missing browser fails. Screenshots go to $WEB_APP_SCREENSHOTS when set
(e.g. /tmp/shots), else to the test's temporary directory.
"""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from shared.card import ModelCard
from tests.integration.conftest import ServiceProcess, model_service, web_app
from tests.support.web_fakes import FakeEndpoint, penguins_card, serve

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(
            f"CI is set but {CHROMIUM} is missing: the CI script must install Debian's chromium"
        )
    pytest.skip(
        f"no headless browser: {CHROMIUM} is missing (apt-get install chromium); CI installs it and runs these"
    )


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_chromium()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page; any console error (a CSP violation, a missing asset) fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        # A failure page's own 502/503/504 status is logged too; it is the point of that page.
        if message.type == "error" and not re.search(r"status of 50[234]", message.text):
            errors.append(message.text)

    tab.on("console", record)
    yield tab
    context.close()
    assert errors == []


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("WEB_APP_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def stack(
    model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServiceProcess, ServiceProcess, ModelCard]]:
    require_chromium()
    logs = tmp_path_factory.mktemp("browser")
    with model_service(model_dirs["iris"], logs) as endpoint, web_app(endpoint.url, logs) as app:
        card = ModelCard.model_validate_json(
            requests.get(endpoint.url + "/metadata", timeout=10).content
        )
        yield endpoint, app, card


def fill_examples(page: Page, card: ModelCard) -> None:
    for feature in card.features:
        page.get_by_label(
            re.compile(rf"^{re.escape(feature.name.replace('_', ' '))}", re.IGNORECASE)
        ).fill(f"{feature.example:g}")


def test_the_example_answer_and_the_inspector(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard], page: Page, shots: Path
) -> None:
    endpoint, app, card = stack
    page.goto(app.url + "/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("iris")
    page.screenshot(path=shots / "form.png", full_page=True)
    fill_examples(page, card)
    page.get_by_label("JSON").check()
    page.get_by_role("button", name="Ask the model").click()

    headline = page.locator(".answer-headline")
    expect(headline).to_have_text(re.compile("|".join(card.target.classes or [])))
    expect(page.locator(".answer-sentence")).to_have_text(
        re.compile(r"Species: \w+, (\d+|[<>] \d+) % sure\.")
    )
    expect(page.locator(".bars li")).to_have_count(3)

    inspector = page.locator(".inspector")
    expect(inspector.locator(".method")).to_have_text("POST")
    expect(inspector.locator(".url")).to_have_text(endpoint.url + "/invocations")
    expect(inspector.locator(".request table.headers")).to_contain_text(
        "Content-Typeapplication/json"
    )
    expect(inspector.locator(".request pre.body").first).to_contain_text(
        ", ".join(f"{f.example:g}" for f in card.features).replace("3, ", "3.0, ")
    )
    expect(inspector.locator(".status")).to_have_text("200 OK")
    page.screenshot(path=shots / "answer.png", full_page=True)


def test_a_csv_request_shows_csv_in_the_inspector(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard], page: Page
) -> None:
    _, app, card = stack
    page.goto(app.url + "/")
    page.get_by_label("CSV").check()
    page.get_by_role("button", name="Ask the model").click()
    expect(page.locator(".request table.headers")).to_contain_text("text/csv; header=present")
    expect(page.locator(".request pre.body")).to_contain_text(",".join(card.feature_names))
    expect(page.locator(".status")).to_have_text("200 OK")


def test_a_shuffled_csv_upload_and_its_download(
    stack: tuple[ServiceProcess, ServiceProcess, ModelCard], page: Page, shots: Path, tmp_path: Path
) -> None:
    _, app, card = stack
    pick = random.Random(3)
    columns = card.feature_names[:]
    pick.shuffle(columns)
    by_name = {f.name: f for f in card.features}
    upload = tmp_path / "flowers.csv"
    with upload.open("w", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(columns)
        for _ in range(25):
            writer.writerow(
                [round(pick.uniform(by_name[c].min, by_name[c].max), 1) for c in columns]
            )

    page.goto(app.url + "/batch")
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Predict all rows").click()
    expect(page.locator(".answer-headline")).to_have_text("25 rows predicted")
    expect(page.locator("table.predictions tbody tr")).to_have_count(25)
    expect(page.locator(".chart .bars li")).to_have_count(3)
    page.screenshot(path=shots / "batch.png", full_page=True)

    with page.expect_download() as waiting:
        page.get_by_role("button", name="Download inputs + predictions (CSV)").click()
    download = waiting.value
    assert download.suggested_filename == "flowers-predictions.csv"
    saved = tmp_path / "downloaded.csv"
    download.save_as(saved)
    with saved.open(newline="") as source:
        rows = list(csv.reader(source))
    assert rows[0][:5] == [*card.feature_names, "prediction"]
    assert len(rows) == 26
    assert {r[4] for r in rows[1:]} <= set(card.target.classes or [])


def test_a_stopped_model_service_is_explained_and_a_restart_needs_no_web_app_restart(
    model_dirs: dict[str, Path], page: Page, shots: Path, tmp_path: Path
) -> None:
    require_chromium()
    with (
        model_service(model_dirs["iris"], tmp_path) as endpoint,
        # A short retry window: this test is about the page after it.
        web_app(endpoint.url, tmp_path, WEB_APP_RETRY_SECONDS="1") as app,
    ):
        page.goto(app.url + "/")
        page.get_by_label(re.compile("^Petal width")).fill("2.2")
        endpoint.stop()
        page.get_by_role("button", name="Ask the model").click()

        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("The model service is not answering")
        expect(alert).to_contain_text("Your input is kept")
        expect(page.get_by_label(re.compile("^Petal width"))).to_have_value("2.2")
        page.screenshot(path=shots / "endpoint-down.png", full_page=True)

        port = int(endpoint.url.rsplit(":", 1)[1])
        with model_service(model_dirs["iris"], tmp_path, port=port):
            page.get_by_role("button", name="Try again").click()
            expect(page.locator(".answer-headline")).to_have_text("virginica")
            expect(page.locator(".status")).to_have_text("200 OK")


@pytest.fixture(scope="module")
def penguins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The web app (gunicorn, as in the image) in front of a fake endpoint
    serving a model with categorical inputs."""
    require_chromium()
    logs = tmp_path_factory.mktemp("penguins")
    with serve(FakeEndpoint(card=penguins_card())) as url, web_app(url, logs) as app:
        yield app


def test_a_categorical_feature_is_chosen_from_a_select(
    penguins: ServiceProcess, page: Page, shots: Path
) -> None:
    page.goto(penguins.url + "/")
    island = page.get_by_label("Island")
    expect(island).to_have_value("Biscoe")  # the card's example
    expect(island.locator("option")).to_have_text(["(not given)", "Biscoe", "Dream", "Torgersen"])
    expect(page.get_by_text("One of 3 categories seen in training.")).to_have_count(1)
    page.screenshot(path=shots / "categorical-form.png", full_page=True)

    island.select_option("Dream")
    page.get_by_label("Sex").select_option(label="(not given)")
    page.get_by_label(re.compile("^Bill length")).fill("46.5")
    page.get_by_label("JSON").check()
    page.get_by_role("button", name="Ask the model").click()

    expect(page.locator(".answer-sentence")).to_have_text("Species: Chinstrap, 94 % sure.")
    expect(page.get_by_label("Island")).to_have_value("Dream")  # the input is kept
    expect(page.get_by_label("Sex")).to_have_value("")
    expect(page.locator(".request pre.body").first).to_contain_text(
        '"instances": [["Dream", 46.5, 14.8, 215.0, 5000.0, null]]'
    )
    expect(page.locator(".status")).to_have_text("200 OK")
    page.screenshot(path=shots / "categorical-answer.png", full_page=True)


def test_a_categorical_csv_request_and_batch_show_the_strings(
    penguins: ServiceProcess, page: Page, shots: Path, tmp_path: Path
) -> None:
    page.goto(penguins.url + "/")
    page.get_by_label("Island").select_option("Torgersen")
    page.get_by_label("CSV").check()
    page.get_by_role("button", name="Ask the model").click()
    expect(page.locator(".request pre.body").first).to_contain_text(
        "island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex"
    )
    expect(page.locator(".request pre.body").first).to_contain_text(
        "Torgersen,45.2,14.8,215.0,5000.0,female"
    )

    upload = tmp_path / "penguins.csv"
    upload.write_text(
        "sex,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g\n"
        "male,Torgersen,39.1,18.7,181,3750\n"
        ",Dream,46.5,17.9,192,3500\n"
    )
    page.goto(penguins.url + "/batch")
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Predict all rows").click()
    expect(page.locator(".answer-headline")).to_have_text("2 rows predicted")
    cells = page.locator("table.predictions tbody tr").first.locator("td.input")
    expect(cells).to_have_text(["Torgersen", "39.1", "18.7", "181", "3,750", "male"])
    page.screenshot(path=shots / "categorical-batch.png", full_page=True)
