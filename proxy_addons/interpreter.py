"""From what the proxy saw to an event: what a request means, who made it, which rules it breaks.

The addon's hooks only take a `Capture` of each platform request (raw method, path, headers
and body), a WebSocket message or a connection passed through; `Interpreter.event` reads it:
the body, the platform's recognizer (action, target, the words written), the person behind
the device, and the procedure's rules (policy flags). With ``storage.writer = "thread"`` the
hooks interpret at once; with ``"process"`` the captures go to the writer process, which
interprets them there, off the proxy's event loop. Same code, same events, either way.
"""

from __future__ import annotations

import dataclasses
import datetime
import urllib.parse
import uuid
from collections.abc import Sequence

from socialwatch.classifier import Flag
from socialwatch.config import Config
from socialwatch.dashboards.metrics import Metrics
from socialwatch.events import ActivityEvent
from socialwatch.proxy_addons.bodies import BodySkipped, first_of, parse_body, string_values
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.expiring import ExpiringSet
from socialwatch.proxy_addons.identity import STAFF_ROLES, Identity, IdentityResolver
from socialwatch.proxy_addons.policy import ACCOUNT_ACTIONS, DistrictProfile, PolicyRules, read_registry
from socialwatch.proxy_addons.recognizers import Recognition, RequestRules

POLICY_RAISED_MAX = 100_000
POLICY_REPEAT_SECONDS = 86_400.0
"""A policy rule fires once per person (or device), platform and rule in this time, at most
POLICY_RAISED_MAX such triples remembered."""
HANDLE_FIELDS = ("username", "screen_name", "user_name", "handle")
"""Body fields that name the account a signup, login or profile edit is for."""
MAX_QUERY_FIELDS = 100
"""Query parameters read for text (only where a recognizer names them)."""
MAX_FIELD_CHARS = 2048
"""Host and path longer than this are cut: they are metadata, not content."""


@dataclasses.dataclass(frozen=True, slots=True)
class Capture:
    """What the proxy saw, not yet read: one platform request ("http"), one WebSocket message
    from a device ("websocket"), or one connection passed through undecrypted ("passthrough")."""

    kind: str
    event_id: uuid.UUID
    """Given at capture, so that a capture sent twice (to a restarted writer) is one event."""
    time: float
    """Seconds since the epoch: the request's start, the message, the ClientHello."""
    device: str
    platform: str
    host: str
    login: str = ""
    """The user the proxy's own authentication (proxyauth) names; empty without it."""
    method: str = ""
    path: str = ""
    """With its query string."""
    content_type: str = ""
    content_encoding: str = ""
    body: bytes | None = None
    """The request body or message as sent; None when it was not kept (see `body_skipped`)."""
    body_skipped: str = ""
    """Why the body was not kept ("too_large", "writer_backlog"), counted when interpreted."""
    is_text: bool = True
    """A WebSocket text message (binary frames are not read)."""
    action: str = ""
    """A passed-through connection's action: connect, or media for a platform's CDN."""
    status: int = 0
    protocol: str = ""
    request_bytes: int = 0
    response_bytes: int = 0

    @property
    def size(self) -> int:
        """Bytes of body held."""
        return len(self.body) if self.body else 0


class Interpreter:
    def __init__(self, catalog: Catalog, rules: RequestRules, policy: PolicyRules, identity: IdentityResolver | None,
                 metrics: Metrics, max_body_bytes: int):
        self.catalog, self.rules, self.policy, self.identity = catalog, rules, policy, identity
        self.metrics, self.max_body_bytes = metrics, max_body_bytes
        self.policy_raised = ExpiringSet(max_entries=POLICY_RAISED_MAX, ttl_seconds=POLICY_REPEAT_SECONDS)
        self._activity_counters: dict[tuple[str, str, str], object] = {}
        """metrics.activity's children by (platform, action, school): labels() is costly at every request."""

    @classmethod
    def from_config(cls, config: Config, metrics: Metrics, catalog: Catalog | None = None,
                    rules: RequestRules | None = None) -> Interpreter:
        """The interpreter `config` describes; reads the approved-accounts registry (RegistryError,
        OSError) and the identity files, creating the pseudonym key on first start."""
        catalog = catalog or Catalog.load()
        district = config.district
        approved = (read_registry(district.approved_accounts_file, catalog.platforms)
                    if district.approved_accounts_file else frozenset())
        return cls(catalog, rules or RequestRules.load(),
                   PolicyRules(DistrictProfile(district.names, district.email_domains), approved),
                   IdentityResolver.from_config(config.identity), metrics, config.proxy.max_body_bytes)

    def event(self, capture: Capture) -> ActivityEvent:
        """The event `capture` records, counted in ``socialwatch_activity_events_total``. Never raises
        for bad input: a body that cannot be read is counted and the event recorded without it."""
        if capture.body_skipped:
            self.metrics.bodies_skipped.labels(reason=capture.body_skipped).inc()
        if capture.kind == "http":
            event = self._request(capture)
        elif capture.kind == "websocket":
            event = self._message(capture)
        else:
            event = self._connection(capture)
        key = (event.platform, event.action, event.school)
        counter = self._activity_counters.get(key)
        if counter is None:
            counter = self._activity_counters[key] = self.metrics.activity.labels(
                platform=event.platform, action=event.action, school=event.school)
        counter.inc()
        return event

    def _request(self, capture: Capture) -> ActivityEvent:
        body = None
        if capture.body is not None:
            try:
                body = parse_body(capture.body, capture.content_type, capture.content_encoding, self.max_body_bytes,
                                  self.rules.json_fields)
            except BodySkipped as skipped:
                self.metrics.bodies_skipped.labels(reason=skipped.reason).inc()
        path, _, query = capture.path.partition("?")
        recognition = self.rules.recognize(capture.platform, capture.method, path, _QueryFields(query, self.metrics),
                                           body)
        handle, strings = "", ()
        if body is not None:
            handle = first_of(body, HANDLE_FIELDS)
            # Only signups and logins are searched for e-mail addresses: skip the walk for the rest.
            strings = string_values(body) if recognition.action in ACCOUNT_ACTIONS else ()
        return self._event(capture, recognition, path, handle, strings)

    def _message(self, capture: Capture) -> ActivityEvent:
        if capture.body is None:
            recognition = Recognition("message")
        elif capture.is_text:
            recognition = self.rules.recognize_websocket(capture.platform, capture.body.decode("utf-8", "replace"))
        else:
            recognition = Recognition("message")  # binary frames (MQTT, protobuf) are not read
        return self._event(capture, recognition, capture.path.split("?", 1)[0])

    def _connection(self, capture: Capture) -> ActivityEvent:
        return self._event(capture, Recognition(capture.action), "", source="passthrough")

    def _event(self, capture: Capture, recognition: Recognition, path: str, handle: str = "",
               strings: tuple[str, ...] = (), source: str = "proxy") -> ActivityEvent:
        identity = self.identity.resolve(capture.device, capture.login) if self.identity else Identity()
        platform = capture.platform
        return ActivityEvent(
            event_id=capture.event_id,
            time=datetime.datetime.fromtimestamp(capture.time, datetime.timezone.utc),
            device=capture.device,
            person=identity.person,
            school=identity.school,
            age_band=identity.age_band,
            policy=self._policy(capture.device, identity, platform, recognition.action, handle, strings,
                                recognition.text),
            platform=platform,
            host=_clean(capture.host),
            method=_clean(capture.method),
            path=_clean(path),
            action=recognition.action,
            status=capture.status,
            target=recognition.target,
            text=recognition.text,
            professional=identity.role in STAFF_ROLES or bool(handle and self.policy.is_approved(platform, handle)),
            source=source,
            protocol=capture.protocol,
            request_bytes=capture.request_bytes,
            response_bytes=capture.response_bytes,
        )

    def _policy(self, device: str, identity: Identity, platform: str, action: str, handle: str,
                strings: tuple[str, ...], text: str) -> tuple[Flag, ...]:
        """The procedure's rules for one request; each fires once a day per person, platform and rule."""
        flags = self.policy.check(
            platform=platform, min_age=self.catalog.platforms[platform].min_age, action=action,
            age_band=identity.age_band, handle=handle, strings=strings, text=text,
        )
        fresh = []
        for flag in flags:
            key = (identity.person or device, platform, flag.category)
            if flag.category == "district_impersonation" or not self.policy_raised.contains(key):
                # An impersonating post is itself the evidence: each one is kept.
                self.metrics.evictions.labels(table="policy_raised").inc(self.policy_raised.add(key))
                fresh.append(flag)
        return tuple(fresh)


class _QueryFields(Sequence):
    """The fields of a query string, parsed on first use: most requests' recognizers never read
    the query. The first MAX_QUERY_FIELDS are read; more are counted and not read (a padded
    query must not stop the request from being recorded)."""

    def __init__(self, query: str, metrics: Metrics):
        self._query, self._metrics = query, metrics
        self._fields: list[tuple[str, str]] | None = None

    def _parsed(self) -> list[tuple[str, str]]:
        if self._fields is None:
            fields = self._query.split("&", MAX_QUERY_FIELDS) if self._query else []
            if len(fields) > MAX_QUERY_FIELDS:
                self._metrics.bodies_skipped.labels(reason="too_many_query_fields").inc()
                fields = fields[:MAX_QUERY_FIELDS]
            self._fields = urllib.parse.parse_qsl("&".join(fields))
        return self._fields

    def __getitem__(self, index):
        return self._parsed()[index]

    def __len__(self) -> int:
        return len(self._parsed())

    def __iter__(self):
        return iter(self._parsed())


def _clean(value: str) -> str:
    """Metadata from the wire, cut to size and made valid UTF-8 for storage."""
    return value[:MAX_FIELD_CHARS].encode("utf-8", "replace").decode("utf-8")
