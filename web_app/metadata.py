"""The model card from `GET /metadata`, reused for a few seconds.

The form is built from it on every page view; a short cache keeps page views
from costing an endpoint call each, while a model swapped behind the endpoint
still shows within seconds, without restarting the web app.

One fetch runs at a time. Threads that waited for it get its outcome, the
card or the error: while the endpoint is down a fetch takes the client's
whole retry window, and a queue of threads each starting its own in turn
would keep the last of them waiting many times that long.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from shared.card import ModelCard


class MetadataCache:
    def __init__(
        self,
        fetch: Callable[[], ModelCard],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._card: ModelCard | None = None
        self._fetched_at = 0.0
        self._fetches = 0  # fetches finished, either way
        self._error: Exception | None = None  # how the last one failed, if it did

    def get(self) -> ModelCard:
        """The card, fetched again when older than the TTL; the endpoint's
        errors (`endpoint.EndpointError`) propagate, and `last_known` still
        holds the previous card for pages that want to keep the user's input."""
        arrived_after = self._fetches
        with self._lock:  # one fetch at a time; threads arriving meanwhile get its outcome
            if self._card is not None and self._clock() - self._fetched_at < self._ttl:
                return self._card
            if self._fetches != arrived_after and self._error is not None:
                raise self._error  # the fetch this thread waited for just failed
            try:
                card = self._fetch()
            except Exception as exc:
                self._error = exc
                raise
            finally:
                self._fetches += 1
            self._card, self._fetched_at, self._error = card, self._clock(), None
            return card

    def forget(self) -> None:
        """Fetch the card again on the next `get`, whatever its age: an answer
        said the model changed. `last_known` keeps the old one meanwhile."""
        with self._lock:
            self._fetched_at = -math.inf

    @property
    def last_known(self) -> ModelCard | None:
        return self._card
