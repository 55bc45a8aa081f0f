"""A steady stream of predictions through the web app, as people submitting
the form would send them, in a background thread: what the replica and
rolling-update tests count failures on.

Bounded in count and in time (it stops by itself), and it talks only to the
web app's loopback URL. Each request is the form as the page shows it: a GET
of `/` for the fields (and the CSRF cookie) when the model changed or at
the start, then a POST of `/predict`. A 200 with an answer is served; a 409
is the web app telling the person the model changed under the form (it is
counted apart, the form is read again, and it is not a failure: the person
is shown the new form with their input); anything else (a 5xx, no answer,
a timeout, a 200 without an answer) is a failed user request.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

ANSWER_MARK = 'class="answer-headline"'


@dataclass
class Tally:
    served: int = 0
    model_changed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)  # served answers per model


class PredictionStream:
    """Start with `start()`, end with `stop()` (which returns the tally)."""

    def __init__(
        self,
        web_url: str,
        *,
        interval: float = 0.05,
        max_requests: int = 20_000,
        max_seconds: float = 600,
        timeout: float = 30,
    ) -> None:
        self.web_url = web_url.rstrip("/")
        self.interval = interval
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.tally = Tally()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="prediction-stream", daemon=True)

    def start(self) -> PredictionStream:
        self._thread.start()
        return self

    def wait(self, seconds: float) -> Tally:
        """Let the stream run out (its count or its time), at most `seconds`."""
        self._thread.join(seconds)
        return self.stop()

    def stop(self) -> Tally:
        self._stop.set()
        self._thread.join(self.timeout + 5)
        return self.snapshot()

    def snapshot(self) -> Tally:
        with self._lock:
            return Tally(
                self.tally.served,
                self.tally.model_changed,
                self.tally.failed,
                list(self.tally.failures),
                Counter(self.tally.models),
            )

    def _run(self) -> None:
        session = requests.Session()
        self.started = time.monotonic()
        deadline = self.started + self.max_seconds
        fields: dict[str, str] | None = None
        for _ in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() > deadline:
                break
            try:
                if fields is None:
                    fields = self._form(session)
                answer = session.post(f"{self.web_url}/predict", data=fields, timeout=self.timeout)
                outcome, detail = _judge(answer)
            except (requests.RequestException, AssertionError) as exc:
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"[:300]
            with self._lock:
                if outcome == "served":
                    self.tally.served += 1
                    self.tally.models[fields.get("model", "?") if fields else "?"] += 1
                elif outcome == "model_changed":
                    self.tally.model_changed += 1
                else:
                    self.tally.failed += 1
                    # When it failed, in seconds since the stream started.
                    at = time.monotonic() - self.started
                    self.tally.failures.append(f"{at:.2f} s: {detail}")
            if outcome != "served":
                fields = None  # read the form again, as a person would
            self._stop.wait(self.interval)
        session.close()

    def _form(self, session: requests.Session) -> dict[str, str]:
        page = session.get(f"{self.web_url}/", timeout=self.timeout)
        assert page.status_code == 200, f"GET / answered {page.status_code}"
        form = page.text.split("</form>")[0]
        found = re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form, flags=re.S)
        fields = {name: html.unescape(value) for name, value in found}
        for name, options in re.findall(
            r'<select[^>]*?name="([^"]+)"[^>]*>(.*?)</select>', form, re.S
        ):
            chosen = re.search(r'<option value="([^"]*)" selected>', options)
            fields[name] = html.unescape(chosen.group(1)) if chosen else ""
        fields["format"] = "json"
        assert "model" in fields, "the form has no hidden model field"
        return fields


def _judge(answer: requests.Response) -> tuple[str, str]:
    if answer.status_code == 200 and ANSWER_MARK in answer.text:
        return "served", ""
    if answer.status_code == 409:
        return "model_changed", ""
    title = re.search(r"<title>(.*?)</title>", answer.text, re.S)
    return "failed", f"{answer.status_code} {title.group(1).strip() if title else ''}"[:300]
