"""What the sensor reads from one packet or stream: a name, where it came from, when."""

from __future__ import annotations

import dataclasses
import datetime


class ParseError(Exception):
    """Malformed or hostile input. `kind` is a metric label from a fixed set (see docs/metrics.md)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind




class _NeedMore:
    """Returned by a stream parser that has not seen enough bytes yet."""

    def __repr__(self) -> str:
        return "NEED_MORE"


NEED_MORE = _NeedMore()


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    ts: float
    """Capture time of the packet that completed the observation (seconds since the epoch, UTC)."""
    proto: str
    """Where the name came from: ``dns``, ``tls``, ``quic`` or ``http``."""
    client: str
    """Source address of the query or connection: the device."""
    server: str
    """Destination address."""
    port: int
    """Destination port (53, 80 or 443)."""
    name: str
    """The name read: DNS query name, TLS/QUIC server name, or HTTP Host (lower case, no port)."""
    size: int
    """Bytes of the message the name came from (DNS message, ClientHello, QUIC datagrams, HTTP head)."""

    def as_json(self, platform: str | None) -> dict:
        """The `socialwatch sensor --read` line."""
        ts = datetime.datetime.fromtimestamp(self.ts, datetime.UTC)
        return {
            "ts": ts.isoformat().replace("+00:00", "Z"), "proto": self.proto, "client": self.client,
            "server": self.server, "port": self.port, "name": self.name, "platform": platform,
        }
