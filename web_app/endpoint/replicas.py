"""Spreading the endpoint client's requests over every replica of the model
service, for `docker compose up --scale model_service=3`, Swarm's `dnsrr`
endpoint mode and a Kubernetes headless Service (docs/deployment.md).

Each of those publishes the replicas as the addresses one host name resolves
to. A plain `requests.Session` resolves the name once per new connection and
then keeps that connection alive, so one web-app worker would pin one
replica for as long as it lives. `ReplicaAdapter` resolves deliberately
instead, as a transport adapter mounted on the session (so `EndpointClient`
and the inspector still see the service's URL):

- it resolves the host name again when `every` seconds have passed since
  the last time (`socket.getaddrinfo`, every address it answers);
- it sends each request to the replica with the fewest requests under way
  from this process (least outstanding; ties go round in address order);
- it keeps one connection pool (an `HTTPAdapter`) per replica address,
  connecting to the address and sending the service's name as `Host`, and
  closes the pool of an address the name no longer resolves to;
- when a connection to a replica cannot be made (refused, no route, connect
  timeout) the request was never sent, so it goes to the next replica at
  once;
- when a replica's connection breaks before any byte of an answer (a
  replica killed, not stopped: a kept-alive connection to it is reset on
  the next request) the request goes to one other replica. This is safe
  because no route of the endpoint changes anything: a prediction is a
  function of its rows (docs/native-api.md, `POST /invocations`), so
  sending it twice gives the same answer. One other replica only, so a request that brings a replica
  down (out of memory, say) does not go round taking the others with it.
  Past that, nothing is sent again from here (`retry` decides, and only for
  what never reached a server).

An `https` endpoint is reached by its name, unbalanced: a certificate is
checked against the name, not a replica's address.

When the name does not resolve at all (a model swap, the only replica
restarting) the request goes out on the service's own URL, so the caller
meets the same "no such host" as without this adapter and `retry` waits for
the model as before.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from web_app.endpoint.retry import broke_before_answer, never_sent

RESOLVE_EVERY = 1.0  # seconds between two resolutions of the service's name

#: host, port -> the addresses the name resolves to (raises OSError when none)
Resolver = Callable[[str, int], list[str]]


def resolve(host: str, port: int) -> list[str]:
    """Every TCP address `host` resolves to, in a stable order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in found})


def replica_session(base_url: str, **options: Any) -> requests.Session:
    """A session whose requests under `base_url` go through a `ReplicaAdapter`."""
    session = requests.Session()
    session.mount(base_url.rstrip("/") + "/", ReplicaAdapter(**options))
    return session


class ReplicaAdapter(BaseAdapter):
    """A transport adapter that balances over the addresses of the request's host."""

    def __init__(
        self,
        *,
        resolver: Resolver = resolve,
        every: float = RESOLVE_EVERY,
        clock: Callable[[], float] = time.monotonic,
        make_pool: Callable[[], BaseAdapter] = HTTPAdapter,
    ) -> None:
        super().__init__()
        self.resolver = resolver
        self.every = every
        self.clock = clock
        self.make_pool = make_pool
        self._lock = threading.Lock()  # gunicorn threads share the adapter
        self._addresses: list[str] = []
        self._resolved_at: float | None = None
        self._name = ""  # the host:port last resolved
        self._pools: dict[str, BaseAdapter] = {}
        self._outstanding: dict[str, int] = {}
        self._next = 0  # where round-robin starts among equally busy replicas
        self._direct: BaseAdapter | None = None  # for a name that does not resolve

    # --- what tests and the health page can read ---

    @property
    def addresses(self) -> list[str]:
        """The replicas' addresses as last resolved."""
        with self._lock:
            return list(self._addresses)

    def outstanding(self) -> Mapping[str, int]:
        with self._lock:
            return dict(self._outstanding)

    # --- the adapter ---

    def send(  # type: ignore[override]  # requests' own signature, keyword-forwarded
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(str(request.url))
        if parts.scheme != "http":
            # TLS checks the certificate against the name in the URL, so an
            # https endpoint is reached by its name (and balanced by whatever
            # terminates TLS in front of it).
            return self._direct_pool().send(request, **kwargs)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tried: set[str] = set()
        resent = False
        while True:
            address = self._choose(host, port, tried)
            if address is None:
                return self._direct_pool().send(request, **kwargs)
            tried.add(address)
            try:
                return self._send_to(address, request, parts, **kwargs)
            except requests.ConnectionError as exc:
                if tried >= set(self.addresses):
                    raise
                if never_sent(exc):
                    continue
                if broke_before_answer(exc) and not resent:
                    resent = True
                    continue
                raise

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
            direct, self._direct = self._direct, None
        for pool in pools:
            pool.close()
        if direct is not None:
            direct.close()

    # --- choosing ---

    def _choose(self, host: str, port: int, tried: set[str]) -> str | None:
        """The least busy replica not yet tried; None when the name does not resolve."""
        self._refresh(host, port)
        with self._lock:
            left = [a for a in self._addresses if a not in tried]
            if not left:
                return None
            # Rotate so that equally busy replicas take turns.
            start = self._next % len(left)
            order = left[start:] + left[:start]
            chosen = min(order, key=lambda a: self._outstanding.get(a, 0))
            self._next += 1
            return chosen

    def _refresh(self, host: str, port: int) -> None:
        name = f"{host}:{port}"
        with self._lock:
            now = self.clock()
            fresh = self._resolved_at is not None and now - self._resolved_at < self.every
            if fresh and name == self._name:
                return
            self._resolved_at, self._name = now, name
        try:
            addresses = self.resolver(host, port)
        except OSError:
            addresses = []  # no replica now: the direct path reports it as usual
        with self._lock:
            self._addresses = addresses
            gone = [a for a in self._pools if a not in addresses]
            closing = [self._pools.pop(a) for a in gone]
        for pool in closing:
            pool.close()

    # --- sending ---

    def _send_to(
        self, address: str, request: requests.PreparedRequest, parts: Any, **kwargs: Any
    ) -> requests.Response:
        with self._lock:
            pool = self._pools.get(address)
            if pool is None:
                pool = self._pools[address] = self.make_pool()
            self._outstanding[address] = self._outstanding.get(address, 0) + 1
        aimed = request.copy()
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        aimed.url = urlunsplit(parts._replace(netloc=netloc))
        # The replica is reached by address; it is still asked for the service.
        aimed.headers["Host"] = parts.netloc
        try:
            response = pool.send(aimed, **kwargs)
        finally:
            with self._lock:
                left = self._outstanding.get(address, 1) - 1
                if left > 0 or address in self._addresses:
                    self._outstanding[address] = left
                else:
                    self._outstanding.pop(address, None)
        # The caller (and the inspector) see the request it made, not the address.
        response.request = request
        response.url = str(request.url)
        return response

    def _direct_pool(self) -> BaseAdapter:
        with self._lock:
            if self._direct is None:
                self._direct = self.make_pool()
            return self._direct
