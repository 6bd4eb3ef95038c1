"""One event per device, platform and minute, so a busy device cannot flood storage.

An app opens dozens of connections and asks DNS for the same names again and
again; the first observation of a (device, platform, minute) opens an entry, the
repeats add their bytes to it, and the entry becomes an event once its minute
has passed (by capture time) or when the sensor stops. The table holds at most
`max_entries`; when full, its oldest entry is emitted early (counted).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from socialwatch.proxy_addons.sensor.observation import Observation

from socialwatch.events import ActivityEvent, new_event_id


class _Entry:
    __slots__ = ("bytes", "first", "platform")

    def __init__(self, first: Observation, platform: str):
        self.first = first
        self.platform = platform
        self.bytes = 0


class Aggregator:
    """Observations of district devices' platform use in, ActivityEvents (source ``sensor``) out.

    >>> events = []
    >>> agg = Aggregator(events.append, max_entries=10)
    >>> o = Observation(60.5, "dns", "10.0.0.2", "10.0.0.1", 53, "www.tiktok.com", 32)
    >>> agg.add(o, "tiktok"); agg.add(o, "tiktok"); agg.flush()
    >>> [(e.platform, e.host, e.protocol, e.request_bytes) for e in events]
    [('tiktok', 'www.tiktok.com', 'dns', 64)]
    """

    def __init__(self, emit: Callable[[ActivityEvent], None], *, max_entries: int,
                 on_limit: Callable[[str], None] = lambda name: None):
        self.emit = emit
        self.max_entries = max_entries
        self.on_limit = on_limit
        self._entries: dict[tuple[str, str, int], _Entry] = {}
        self._minute = None

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, observation: Observation, platform: str) -> None:
        minute = int(observation.ts // 60)
        if self._minute is None or minute > self._minute:
            self._minute = minute
            self.flush(before_minute=minute)
        key = (observation.client, platform, minute)
        entry = self._entries.get(key)
        if entry is None:
            if len(self._entries) >= self.max_entries:
                self.on_limit("aggregation_entries")
                self._emit(self._entries.pop(next(iter(self._entries))))
            entry = self._entries[key] = _Entry(observation, platform)
        entry.bytes += observation.size

    def tick(self, now: float) -> None:
        """Emit the entries of minutes that have passed (for live capture between packets)."""
        self.flush(before_minute=int(now // 60))

    def flush(self, before_minute: int | None = None) -> None:
        """Emit entries of minutes before `before_minute` (None: all)."""
        done = [key for key in self._entries if before_minute is None or key[2] < before_minute]
        for key in done:
            self._emit(self._entries.pop(key))

    def _emit(self, entry: _Entry) -> None:
        o = entry.first
        self.emit(ActivityEvent(
            event_id=new_event_id(),
            time=datetime.datetime.fromtimestamp(o.ts, datetime.UTC),
            device=o.client, person="", platform=entry.platform, host=o.name,
            method="", path="", action="connect", status=0,
            request_bytes=entry.bytes, response_bytes=0,
            source="sensor", protocol=o.proto,
        ))
