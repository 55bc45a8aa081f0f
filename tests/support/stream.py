"""One person's steady stream of predictions through the web app around an
event (a replica stopped or killed, a rolling update), and its tally: what
the replica and Swarm tests count failures on.

The stream is `tests/support/traffic.py`'s: a browser that posts the form,
bounded in count and in time, talking only to the web app's loopback URL.
For these tests a person's request failed unless it was answered: a 409
("the model changed", the new form shown with the input kept) is counted
apart and is not a failure; a friendly 502/503/504 page is one, since the
person got no prediction.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.traffic import Outcome, Traffic


@dataclass(frozen=True)
class Tally:
    served: int
    changed: int
    failed: list[Outcome]
    models: Counter[str]  # answers per model name (iris, wine)

    def failures(self, since: float) -> list[str]:
        """The failed requests, each with when it was sent after `since`."""
        return [f"{o.sent - since:.2f} s: {o.status} {o.detail[:120]!r}" for o in self.failed]


def tally(outcomes: list[Outcome]) -> Tally:
    return Tally(
        served=sum(o.kind == "ok" for o in outcomes),
        changed=sum(o.kind == "changed" for o in outcomes),
        failed=[o for o in outcomes if o.kind not in ("ok", "changed")],
        models=Counter(o.model.split(":")[0] for o in outcomes if o.kind == "ok"),
    )


def predictions(web_url: str, count: int, timeout: float = 120) -> Tally:
    """`count` predictions, one after another, as fast as they are answered."""
    traffic = Traffic(web_url, users=1, interval=0.0, max_requests=count, max_seconds=timeout)
    traffic.start()
    try:
        traffic.wait_for(f"{count} answers", lambda done: len(done) >= count, timeout)
    finally:
        outcomes = traffic.stop()
    return tally(outcomes)


def around(
    web_url: str,
    event: Callable[[], None],
    *,
    before: float = 3.0,
    after: float = 5.0,
    interval: float = 0.02,
) -> tuple[Tally, float]:
    """A prediction every `interval` s (one at a time), with `event` after
    `before` s and `after` s more once it returned; the tally and the
    monotonic time the event began."""
    traffic = Traffic(web_url, users=1, interval=interval, max_requests=20_000, max_seconds=600)
    traffic.start()
    try:
        time.sleep(before)
        began = time.monotonic()
        event()
        time.sleep(after)
    finally:
        outcomes = traffic.stop()
    return tally(outcomes), began
