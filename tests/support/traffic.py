"""A steady stream of predictions through the web app, as people send them,
for the fault tests: each `User` is a browser (its own cookie and form)
that posts the prediction form, waits its turn, and posts again.

`Traffic` runs a few users in threads until stopped, bounded in time and
in count, and keeps every outcome with its time, so a test can say what
happened before, during and after a fault. An answer is sorted as:

- `ok`: 200 with a verdict;
- `changed`: 409, the model changed under the form (the user sends the new
  form again, as the page asks; counted, not a failure);
- `friendly`: 502, 503 or 504 with the app's own alert (the endpoint is
  down and the page says so);
- `failed`: anything else: a 500, another status, a page without the
  alert, no answer at all.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

FRIENDLY_STATUSES = (502, 503, 504)
#: Long enough for the web app's whole retry window (30 s) and a slow machine.
TIMEOUT = 90.0


@dataclass(frozen=True)
class Outcome:
    """One request: when it was sent (monotonic), how long it took, what came back."""

    sent: float
    seconds: float
    status: int  # 0: no answer
    kind: str  # ok, changed, friendly, failed
    model: str  # the model the form was for
    detail: str = ""


def form_fields(page: str) -> dict[str, str]:
    """The prediction form's fields with their values, as a browser sends them."""
    form = page.split('action="/predict"', 1)[-1].split("</form>", 1)[0]
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"', form)
    }
    for name, options in re.findall(r'<select[^>]*?name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        fields[name] = html.unescape(chosen.group(1)) if chosen else ""
    fields["format"] = "json"  # the radio buttons: the first is checked
    return fields


def sort(status: int, page: str) -> str:
    if status == 200 and "answer-headline" in page:
        return "ok"
    if status == 409 and "has changed" in page:
        return "changed"
    if status in FRIENDLY_STATUSES and 'role="alert"' in page and "Traceback" not in page:
        return "friendly"
    return "failed"


class User:
    """One browser on the web app: it loads the form once, then sends it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.fields: dict[str, str] = {}

    def load(self) -> None:
        page = self.session.get(f"{self.base_url}/", timeout=TIMEOUT)
        page.raise_for_status()
        self.fields = form_fields(page.text)

    def send(self) -> Outcome:
        if not self.fields:
            self.load()
        model = self.fields.get("model", "")
        sent = time.monotonic()
        try:
            answer = self.session.post(
                f"{self.base_url}/predict", data=self.fields, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            return Outcome(sent, time.monotonic() - sent, 0, "failed", model, type(exc).__name__)
        kind = sort(answer.status_code, answer.text)
        if kind == "changed":  # the page holds the new model's form: send that next
            self.fields = form_fields(answer.text)
        detail = "" if kind == "ok" else answer.text[:300]
        return Outcome(sent, time.monotonic() - sent, answer.status_code, kind, model, detail)


@dataclass
class Traffic:
    """`users` browsers, each sending a prediction every `interval` seconds
    (or as soon as its last answer came, when that took longer), until
    `stop()`, `max_seconds` or `max_requests`."""

    base_url: str
    users: int = 3
    interval: float = 0.5
    max_seconds: float = 600.0
    max_requests: int = 5000
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Traffic:
        people = [User(self.base_url) for _ in range(self.users)]
        for person in people:
            person.load()  # before the fault: a page the user already has open
        deadline = time.monotonic() + self.max_seconds
        for person in people:
            thread = threading.Thread(target=self._run, args=(person, deadline), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, person: User, deadline: float) -> None:
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if len(self.outcomes) >= self.max_requests:
                    return
            outcome = person.send()
            with self._lock:
                self.outcomes.append(outcome)
            self._stop.wait(max(0.0, outcome.sent + self.interval - time.monotonic()))

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=TIMEOUT + 5)
        with self._lock:
            return sorted(self.outcomes, key=lambda o: o.sent)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def wait_for(self, what: str, done: Callable[[list[Outcome]], bool], timeout: float) -> None:
        """Until `done(outcomes so far)` is true; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while not done(self.snapshot()):
            if time.monotonic() > deadline:
                raise AssertionError(f"traffic: {what}: not within {timeout:g} s")
            time.sleep(0.25)


def counts(outcomes: list[Outcome]) -> dict[str, int]:
    found: dict[str, int] = {}
    for outcome in outcomes:
        found[outcome.kind] = found.get(outcome.kind, 0) + 1
    return found


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")
