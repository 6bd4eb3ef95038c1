"""A bounded set whose members expire: per-device state that must not grow without limit.

Used for certificate-pinned clients (device, host: an app that refused the
proxy's certificate has that host passed through until the entry expires) and
for policy flags already raised (a rule fires once per person, platform and day).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Hashable


class ExpiringSet:
    """At most `max_entries` keys, each forgotten `ttl_seconds` after it was last added.

    >>> pinned = ExpiringSet(max_entries=2, ttl_seconds=60)
    >>> pinned.add(("10.0.0.5", "i.instagram.com"), now=0)
    0
    >>> pinned.contains(("10.0.0.5", "i.instagram.com"), now=30)
    True
    >>> pinned.contains(("10.0.0.5", "i.instagram.com"), now=61)
    False
    """

    def __init__(self, max_entries: int, ttl_seconds: float):
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._expiry: collections.OrderedDict[Hashable, float] = collections.OrderedDict()

    def add(self, key: Hashable, now: float | None = None) -> int:
        """Remember `key`; returns how many older keys were pushed out to stay within the bound."""
        now = time.monotonic() if now is None else now
        self._expiry[key] = now + self.ttl_seconds
        self._expiry.move_to_end(key)
        evicted = 0
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)
            evicted += 1
        return evicted

    def contains(self, key: Hashable, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        expiry = self._expiry.get(key)
        if expiry is None:
            return False
        if expiry < now:
            del self._expiry[key]
            return False
        return True

    def __len__(self) -> int:
        return len(self._expiry)
