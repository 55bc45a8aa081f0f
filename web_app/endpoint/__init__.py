"""The web app's side of the HTTP contract with the model service: the
client (`client`), the records of each exchange (`exchange`), the ways a
call fails (`errors`, the tree drawn in its docstring) and the retry policy
(`retry`) and the balancing over the model service's replicas
(`replicas`). The names most of the app needs are re-exported here."""

from web_app.endpoint.client import EndpointClient, Ping
from web_app.endpoint.errors import (
    ConnectionLost,
    ConnectTimeout,
    EndpointError,
    EndpointFailed,
    EndpointNotReady,
    EndpointRejected,
    EndpointTimeout,
    EndpointUnauthorized,
    EndpointUnreachable,
    ModelChanged,
    ReadTimeout,
    TransportError,
    UnreadableResponse,
)
from web_app.endpoint.exchange import (
    NOT_READY,
    REFUSED,
    Answer,
    Exchange,
    ReceivedResponse,
    SentRequest,
)
from web_app.endpoint.replicas import ReplicaAdapter, replica_session
from web_app.endpoint.retry import RetryPolicy

__all__ = [
    "NOT_READY",
    "REFUSED",
    "Answer",
    "ConnectTimeout",
    "ConnectionLost",
    "EndpointClient",
    "EndpointError",
    "EndpointFailed",
    "EndpointNotReady",
    "EndpointRejected",
    "EndpointTimeout",
    "EndpointUnauthorized",
    "EndpointUnreachable",
    "Exchange",
    "ModelChanged",
    "Ping",
    "ReadTimeout",
    "ReceivedResponse",
    "ReplicaAdapter",
    "RetryPolicy",
    "SentRequest",
    "TransportError",
    "UnreadableResponse",
    "replica_session",
]
