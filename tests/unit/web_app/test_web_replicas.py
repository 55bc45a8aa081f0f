"""The replica balancer (web_app/endpoint/replicas.py) with a fake resolver,
a fake clock and fake per-address transports: no sockets, no DNS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.web_fakes import FakeTransport, dropped, refused, response
from web_app.endpoint import EndpointClient, EndpointUnreachable, RetryPolicy
from web_app.endpoint.replicas import ReplicaAdapter, replica_session

URL = "http://model_service:8080"


@dataclass
class Replicas:
    """Addresses the fake DNS answers with, and how each fake replica answers."""

    addresses: list[str]
    down: set[str] = field(default_factory=set)  # refuse connections
    broken: set[str] = field(default_factory=set)  # drop the connection after sending
    served: Counter[str] = field(default_factory=Counter)
    hosts: list[str] = field(default_factory=list)  # Host headers the replicas saw
    pools: list[FakeTransport] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    resolutions: int = 0
    now: float = 0.0
    nested: Callable[[], None] | None = None  # a call made while a request is under way

    def resolve(self, host: str, port: int) -> list[str]:
        assert (host, port) == ("model_service", 8080)
        self.resolutions += 1
        if not self.addresses:
            raise OSError("Name or service not known")
        return list(self.addresses)

    def pool(self) -> FakeTransport:
        replicas = self

        class Pool(FakeTransport):
            def close(self) -> None:
                replicas.closed.extend(
                    {urlsplit(r.url or "").hostname or "" for r in self.requests}
                )

        made = Pool(self.answer)
        self.pools.append(made)
        return made

    def answer(self, request: requests.PreparedRequest) -> requests.Response | Exception:
        address = urlsplit(request.url or "").hostname or ""
        if address in self.down:
            return refused(request)
        if address in self.broken:
            return dropped(request)
        self.served[address] += 1
        self.hosts.append(str(request.headers.get("Host")))
        if self.nested is not None:
            nested, self.nested = self.nested, None
            nested()
        return response(request, body={"replica": address})

    def adapter(self) -> ReplicaAdapter:
        return ReplicaAdapter(
            resolver=self.resolve, every=1.0, clock=lambda: self.now, make_pool=self.pool
        )


def session_for(replicas: Replicas) -> tuple[requests.Session, ReplicaAdapter]:
    adapter = replicas.adapter()
    session = requests.Session()
    session.mount(URL + "/", adapter)
    return session, adapter


def test_requests_take_turns_over_every_replica_and_keep_the_service_name() -> None:
    replicas = Replicas(["10.0.0.2", "10.0.0.3", "10.0.0.4"])
    session, _ = session_for(replicas)
    for _ in range(30):
        answer = session.get(f"{URL}/ping")
        assert answer.status_code == 200
        # The caller sees the URL it asked for, not the replica's address.
        assert answer.url == f"{URL}/ping"
    assert replicas.served == {"10.0.0.2": 10, "10.0.0.3": 10, "10.0.0.4": 10}
    assert set(replicas.hosts) == {"model_service:8080"}
    # One pool per address, and one resolution within the same second.
    assert len(replicas.pools) == 3
    assert replicas.resolutions == 1


def test_the_least_busy_replica_takes_the_next_request() -> None:
    replicas = Replicas(["10.0.0.2", "10.0.0.3"])
    session, adapter = session_for(replicas)
    during: list[dict[str, int]] = []
    seen: list[str] = []

    def another_request() -> None:
        during.append(dict(adapter.outstanding()))
        seen.append(session.get(f"{URL}/ping").json()["replica"])

    replicas.nested = another_request
    first = session.get(f"{URL}/ping").json()["replica"]
    # While the first is under way on one replica, the second goes to the other.
    assert during == [{first: 1}]
    assert len(seen) == 1
    assert seen[0] != first
    assert adapter.outstanding() == {"10.0.0.2": 0, "10.0.0.3": 0}


def test_the_name_is_resolved_again_and_a_vanished_replica_loses_its_pool() -> None:
    replicas = Replicas(["10.0.0.2", "10.0.0.3", "10.0.0.4"])
    session, adapter = session_for(replicas)
    for _ in range(3):
        session.get(f"{URL}/ping")
    replicas.addresses = ["10.0.0.2", "10.0.0.3", "10.0.0.5"]
    replicas.now = 0.5
    session.get(f"{URL}/ping")
    assert replicas.resolutions == 1, "resolved again before a second had passed"
    replicas.now = 1.5
    replicas.served.clear()
    for _ in range(6):
        session.get(f"{URL}/ping")
    assert replicas.resolutions == 2
    assert adapter.addresses == ["10.0.0.2", "10.0.0.3", "10.0.0.5"]
    assert replicas.closed == ["10.0.0.4"]
    assert set(replicas.served) == {"10.0.0.2", "10.0.0.3", "10.0.0.5"}


def test_a_refused_connection_goes_to_the_next_replica() -> None:
    replicas = Replicas(["10.0.0.2", "10.0.0.3", "10.0.0.4"], down={"10.0.0.3"})
    session, _ = session_for(replicas)
    for _ in range(9):
        assert session.get(f"{URL}/ping").status_code == 200
    assert set(replicas.served) == {"10.0.0.2", "10.0.0.4"}
    assert sum(replicas.served.values()) == 9


def _counting(replicas: Replicas) -> list[str]:
    """The replica address of every attempt, from now on."""
    attempts: list[str] = []
    original = replicas.answer

    def counting(request: requests.PreparedRequest) -> requests.Response | Exception:
        attempts.append(urlsplit(request.url or "").hostname or "")
        return original(request)

    replicas.answer = counting  # type: ignore[method-assign]
    return attempts


def test_a_connection_broken_before_the_answer_goes_to_one_other_replica() -> None:
    # A killed replica resets its kept-alive connection: predictions change
    # nothing, so the request is sent again, to another replica.
    replicas = Replicas(["10.0.0.2", "10.0.0.3"], broken={"10.0.0.2"})
    session, _ = session_for(replicas)
    attempts = _counting(replicas)
    for _ in range(4):
        answer = session.post(f"{URL}/invocations", data=b"[[1,2,3,4]]")
        assert answer.json() == {"replica": "10.0.0.3"}
    assert attempts.count("10.0.0.3") == 4


def test_a_request_that_broke_two_connections_is_not_sent_a_third_time() -> None:
    # One resend only: a request that brings replicas down does not go round
    # taking every one of them with it.
    replicas = Replicas(
        ["10.0.0.2", "10.0.0.3", "10.0.0.4"], broken={"10.0.0.2", "10.0.0.3", "10.0.0.4"}
    )
    session, _ = session_for(replicas)
    attempts = _counting(replicas)
    with pytest.raises(requests.ConnectionError):
        session.post(f"{URL}/invocations", data=b"[[1,2,3,4]]")
    assert len(attempts) == 2
    assert len(set(attempts)) == 2


def test_when_every_replica_refuses_the_caller_sees_a_refusal() -> None:
    replicas = Replicas(["10.0.0.2", "10.0.0.3"], down={"10.0.0.2", "10.0.0.3"})
    client = EndpointClient(
        URL, session_for(replicas)[0], retry=RetryPolicy(seconds=0, sleep=lambda _: None)
    )
    assert client.ping().ready is False
    with pytest.raises(EndpointUnreachable):
        client.metadata()


def test_a_name_that_does_not_resolve_goes_out_as_asked() -> None:
    replicas = Replicas([])
    session, adapter = session_for(replicas)
    answer = session.get(f"{URL}/ping")
    assert answer.status_code == 200
    # The direct pool got the service's own URL (and its DNS says "no such host").
    assert replicas.pools[0].requests[0].url == f"{URL}/ping"
    assert adapter.addresses == []


def test_the_web_app_balances_by_default() -> None:
    session = replica_session(URL + "/")
    assert isinstance(session.get_adapter(f"{URL}/invocations"), ReplicaAdapter)
    # Anything else keeps requests' own adapter.
    assert not isinstance(session.get_adapter("http://elsewhere:80/"), ReplicaAdapter)


def test_an_https_endpoint_is_reached_by_its_name() -> None:
    replicas = Replicas(["10.0.0.2", "10.0.0.3"])
    adapter = replicas.adapter()
    session = requests.Session()
    session.mount("https://model_service:8080/", adapter)
    assert session.get("https://model_service:8080/ping").status_code == 200
    # The certificate names the service, so the URL keeps the name.
    assert replicas.pools[0].requests[0].url == "https://model_service:8080/ping"
    assert replicas.resolutions == 0
