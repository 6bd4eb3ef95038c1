"""The activity event: one social-media request seen by the proxy.

Every later stage (classifier, storage, dashboards) reads this record; it is
defined once, here, and every field is explained where it is declared.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

from socialwatch.classifier.flags import Flag


@dataclasses.dataclass(frozen=True, slots=True)
class ActivityEvent:
    event_id: uuid.UUID
    """Stable identity of the event, so a retried insert can never count twice."""
    time: datetime.datetime
    """When the request reached the proxy (UTC, timezone-aware)."""
    device: str
    """The district device: the client's IP address as the proxy saw it."""
    person: str
    """The person: a pseudonymous id (keyed hash, proxy_addons/identity.py), never a name;
    empty when nobody is known."""
    platform: str
    """Short platform id from the catalog, e.g. ``instagram``."""
    host: str
    """The host name the request went to (SNI or Host header)."""
    method: str
    """HTTP method, upper case."""
    path: str
    """Request path without the query string (queries carry tokens and search terms)."""
    action: str
    """Coarse action guess: view, post, comment, message, like, follow, upload, login, other."""
    status: int
    """HTTP status of the response; 0 when the request got no response."""
    request_bytes: int
    """Size of the request body on the wire."""
    response_bytes: int
    """Size of the response body on the wire."""
    source: str = "proxy"
    """How it was seen: ``proxy`` (a decrypted request), ``passthrough`` (a TLS connection
    the proxy passed through, known by its server name only) or ``sensor`` (observed
    passively on the network)."""
    protocol: str = "https"
    """Where the name came from: ``http``, ``https``, ``tls`` (server name), ``dns`` or ``quic``."""
    school: str = ""
    """The person's school from the roster; empty when unknown."""
    age_band: str = "unknown"
    """The person's age band: under_13, 13_17, adult or unknown."""
    policy: tuple[Flag, ...] = ()
    """Flags the procedure's rules raised at capture (coppa, district_account,
    district_impersonation: proxy_addons/policy.py)."""
    target: str = ""
    """What the action was aimed at, where the request shows it: a post, thread, channel or
    recipient id as the platform names it (never a name or text); empty when unknown."""
    professional: bool = False
    """Professional activity: the person is district staff (roster role) or the account is on
    the approved-accounts registry. Public records under the procedure, so kept for
    ``retention.professional_activity_days`` rather than the students' shorter period."""
    text: str = dataclasses.field(default="", repr=False)
    """What the student wrote, extracted from the request body. Kept in memory only
    long enough to classify it; stored only if the classifier flags it."""

    def without_text(self) -> ActivityEvent:
        """The event with no text: itself when it has none (most events: views, likes), which
        spares a copy of twenty fields per event in the writer."""
        return dataclasses.replace(self, text="") if self.text else self


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
