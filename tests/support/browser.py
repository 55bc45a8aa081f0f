"""What the end-to-end tests do with the web app's pages in Chromium
(Playwright pages, typed `Any`: playwright is a test-only dependency)."""

from __future__ import annotations

from typing import Any


def form_shows(page: Any, card: dict[str, Any]) -> None:
    """The form at / is built from this model card: its name, one input per feature."""
    assert card["name"] in page.locator("h1").inner_text()
    # An input per number, a select per category (in document order).
    inputs = page.locator("form.panel input[id^='feature-'], form.panel select[id^='feature-']")
    names = [inputs.nth(i).get_attribute("name") or "" for i in range(inputs.count())]
    # One field per feature, in the model's order (names carry a form prefix).
    assert len(names) == len(card["features"]), names
    for name, feature in zip(names, card["features"], strict=True):
        assert name.endswith(feature["name"]), (name, feature["name"])


def ask(page: Any) -> Any:
    """Submit the form as it stands; the response of POST /predict."""
    with page.expect_navigation() as navigation:
        page.locator("form.panel button[type=submit]").click()
    return navigation.value
