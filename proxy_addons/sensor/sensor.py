"""The sensor: packets in; observations (printed) and aggregated events (stored) out.

`Sensor.packet` is the one entry point for files and live capture alike: decode
and filter, parse by port, count what is read and what is malformed, tag each
name with the platform catalog, aggregate district devices' platform use.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections import Counter
from collections.abc import Callable

from socialwatch.dashboards.metrics import Metrics
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.scope import DistrictScope
from socialwatch.proxy_addons.sensor import clienthello, dns, http
from socialwatch.proxy_addons.sensor.aggregate import Aggregator
from socialwatch.proxy_addons.sensor.decode import TCP, transport
from socialwatch.proxy_addons.sensor.observation import (
    NEED_MORE,
    Observation,
    ParseError,
)
from socialwatch.proxy_addons.sensor.quic import InitialReader
from socialwatch.proxy_addons.sensor.tcp import StreamStarts

from socialwatch.events import ActivityEvent

log = logging.getLogger(__name__)

_PACKETS_BATCH = 4096
"""The packet counter is updated in batches: a locked metric update per packet costs more than parsing it."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """The bounds on the sensor's state; hitting one is counted in socialwatch_sensor_limit_hits_total."""

    tcp_streams: int = 8192
    """TCP streams whose first bytes are being collected (each at most 2 x tcp_bytes with held segments)."""
    tcp_bytes: int = 16 * 1024
    """First bytes kept per TCP stream (a ClientHello, an HTTP head, a DNS message)."""
    quic_connections: int = 4096
    """QUIC connections whose CRYPTO frames are being collected (each at most quic.MAX_CRYPTO bytes)."""
    aggregation_entries: int = 100_000
    """(device, platform, minute) entries waiting to become events."""


class Sensor:
    """Reads names from packets (`packet`) and reports them.

    `on_observation(observation, platform)` is called for every name read (platform
    None when the catalog has none) — the JSON lines of ``--read``. With `scope` and
    `on_event`, observations of district devices on catalog platforms are aggregated
    into ActivityEvents for the pipeline.
    """

    def __init__(
        self,
        metrics: Metrics,
        catalog: Catalog,
        *,
        scope: DistrictScope | None = None,
        on_observation: Callable[[Observation, str | None], None] | None = None,
        on_event: Callable[[ActivityEvent], None] | None = None,
        limits: Limits = Limits(),
    ):
        self.metrics = metrics
        self.catalog = catalog
        self.scope = scope
        self.on_observation = on_observation
        self.on_event = on_event
        self.errors: Counter[str] = Counter()
        """Parse errors by kind (also in the metrics): for the summary and tests."""
        self.observations: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.limit_hits: Counter[str] = Counter()
        self.packets = 0
        self._unreported_packets = 0
        self._streams = StreamStarts(max_streams=limits.tcp_streams, max_bytes=limits.tcp_bytes,
                                     on_limit=self._limit)
        self._quic = InitialReader(max_connections=limits.quic_connections, on_limit=self._limit)
        self._aggregator = Aggregator(self._emit, max_entries=limits.aggregation_entries, on_limit=self._limit)
        self._tcp_bytes = limits.tcp_bytes

    def packet(self, linktype: int, frame: bytes, ts: float) -> None:
        """Read one captured frame. Never raises for bad input: errors are counted by kind."""
        self.packets += 1
        self._unreported_packets += 1
        if self._unreported_packets >= _PACKETS_BATCH:
            self._report_packets()
        try:
            decoded = transport(linktype, frame)
            if decoded is None:
                return
            proto, src, sport, dst, dport, seq, flags, payload = decoded
            if proto == TCP:
                found = self._tcp(src, sport, dst, dport, seq, flags, payload)
            elif dport == 53:
                found = [("dns", name, len(payload)) for name in dns.query_names(payload)]
            else:
                found = [("quic", name, len(payload))
                         for name in self._quic.feed((src, sport, dst, dport), payload) if name]
        except ParseError as e:
            self._error(e.kind)
            return
        except Exception:  # a bug in a parser must not stop the capture; it is counted and logged
            log.exception("socialwatch sensor: unexpected error reading a packet")
            self._error("internal")
            return
        for kind, name, size in found:
            self._observe(ts, kind, src, dst, dport, name, size)

    def tick(self, now: float) -> None:
        """Between packets in live capture: emit the aggregation entries of past minutes."""
        self._report_packets()
        self._aggregator.tick(now)

    def close(self) -> None:
        """Emit everything still aggregated and bring the packet counter up to date."""
        self._report_packets()
        self._aggregator.flush()

    def _tcp(self, src, sport, dst, dport, seq, flags, payload) -> list[tuple[str, str, int]]:
        key = (src, sport, dst, dport)
        if dport == 443:
            parse, looks_new, proto = clienthello.from_records, clienthello.looks_like_start, "tls"
        elif dport == 80:
            parse, looks_new, proto = http.host, http.looks_like_start, "http"
        else:
            parse, looks_new, proto = _dns_over_tcp, _true, "dns"
        data = self._streams.feed(key, seq, flags, payload, looks_new(payload))
        if data is None:
            return []
        try:
            result = parse(data)
        except ParseError:
            self._streams.close(key)
            raise
        if result is NEED_MORE:
            if len(data) >= self._tcp_bytes:
                self._limit("tcp_bytes")
                self._streams.close(key)
            return []
        self._streams.close(key)
        return [(proto, name, len(data)) for name in ([result] if isinstance(result, str) else result or ())]

    def _observe(self, ts: float, proto: str, src: bytes, dst: bytes, port: int, name: str, size: int) -> None:
        family = socket.AF_INET if len(src) == 4 else socket.AF_INET6
        observation = Observation(ts, proto, socket.inet_ntop(family, src), socket.inet_ntop(family, dst),
                                  port, name, size)
        self.observations[proto] += 1
        self.metrics.sensor_observations.labels(proto=proto).inc()
        platform = self.catalog.platform_for(name) if name else None
        if self.on_observation is not None:
            self.on_observation(observation, platform)
        if platform and self.on_event is not None and self.scope is not None and \
                self.scope.is_district(observation.client):
            self._aggregator.add(observation, platform)

    def _emit(self, event: ActivityEvent) -> None:
        self.events[event.protocol] += 1
        self.metrics.sensor_events.labels(proto=event.protocol).inc()
        self.on_event(event)

    def _error(self, kind: str) -> None:
        self.errors[kind] += 1
        self.metrics.sensor_parse_errors.labels(kind=kind).inc()

    def _limit(self, bound: str) -> None:
        self.limit_hits[bound] += 1
        self.metrics.sensor_limits.labels(bound=bound).inc()

    def _report_packets(self) -> None:
        if self._unreported_packets:
            self.metrics.sensor_packets.inc(self._unreported_packets)
            self._unreported_packets = 0

    def summary(self) -> str:
        def counts(counter: Counter[str]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"
        return (f"{self.packets} packets; observations: {counts(self.observations)}; "
                f"parse errors: {counts(self.errors)}; events: {counts(self.events)}; "
                f"limits hit: {counts(self.limit_hits)}")


def _true(payload: bytes) -> bool:
    return True


def _dns_over_tcp(stream: bytes):
    """DNS over TCP: a two-byte length, then the message (RFC 1035 section 4.2.2)."""
    if len(stream) < 2:
        return NEED_MORE
    length = int.from_bytes(stream[:2], "big")
    if len(stream) < 2 + length:
        return NEED_MORE
    return dns.query_names(stream[2:2 + length])
