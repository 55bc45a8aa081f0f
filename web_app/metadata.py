"""The model card from `GET /metadata`, reused for a few seconds.

The form is built from it on every page view; a short cache keeps page views
from costing an endpoint call each, while a model swapped behind the endpoint
still shows within seconds, without restarting the web app.
"""

from __future__ import annotations

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

    def get(self) -> ModelCard:
        """The card, fetched again when older than the TTL; the endpoint's
        errors (`client.EndpointError`) propagate, and `last_known` still
        holds the previous card for pages that want to keep the user's input."""
        with self._lock:  # one fetch at a time; threads arriving meanwhile get its result
            if self._card is not None and self._clock() - self._fetched_at < self._ttl:
                return self._card
            card = self._fetch()
            self._card, self._fetched_at = card, self._clock()
            return card

    @property
    def last_known(self) -> ModelCard | None:
        return self._card
