"""Certificate-pinned clients: remember who refused the proxy's certificate, and let them through.

An app that pins its certificates refuses the proxy's. Rather than break the
app, later connections from that device to that host pass through undecrypted
(still recorded as metadata) until the entry expires.
"""

from __future__ import annotations

import collections
import time


class PinnedClients:
    """A bounded, expiring set of (client address, server name) pairs.

    >>> pinned = PinnedClients(max_entries=2, ttl_seconds=60)
    >>> pinned.add("10.0.0.5", "i.instagram.com", now=0)
    0
    >>> pinned.contains("10.0.0.5", "i.instagram.com", now=30)
    True
    >>> pinned.contains("10.0.0.5", "i.instagram.com", now=61)
    False
    """

    def __init__(self, max_entries: int, ttl_seconds: float):
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._expiry: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()

    def add(self, client: str, server_name: str, now: float | None = None) -> int:
        """Remember the pair; returns how many older pairs were pushed out to stay within the bound."""
        now = time.monotonic() if now is None else now
        key = (client, server_name.lower())
        self._expiry[key] = now + self.ttl_seconds
        self._expiry.move_to_end(key)
        evicted = 0
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)
            evicted += 1
        return evicted

    def contains(self, client: str, server_name: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        key = (client, server_name.lower())
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry < now:
            del self._expiry[key]
            return False
        return True

    def __len__(self) -> int:
        return len(self._expiry)
