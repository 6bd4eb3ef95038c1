"""High-severity alerts: e-mail and webhook notifications to the on-call list, with escalation.

::

    alerter = Alerter(store, config.alerts, config.review.base_url, registry=registry)
    alerter.start()      # a daemon thread: run_once() every alerts.poll_seconds
    ...
    alerter.stop()

One poll (``run_once``) reads, from ClickHouse only:

- the flags of the lookback window (24 h) that are alerted on: severity at least
  ``alerts.min_severity``, or a match whose ``category/subcategory`` is in
  ``alerts.subcategories``;
- the ``alerts`` table: which deliveries were made, which failed, and when each
  escalation level started;
- ``review_actions``: a flag is acknowledged once any action set a status.

and then, per flag not acknowledged: notifies the level 0 contact of the flag's
on-call list if nobody was notified yet; retries every delivery that failed;
notifies the next contact once the current level started more than
``alerts.acknowledge_minutes`` ago. Every attempt is a row of ``alerts`` with
``alert_id = uuid5(flag_id, "level:channel:contact")``, so retries collapse and a
restarted Alerter neither sends again nor forgets where it was. See docs/alerts.md.

A notification carries no student content: the severity, the escalation level and
a link to the flag in the review application, nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import email.message
import email.utils
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Self

from prometheus_client import CollectorRegistry, Counter
from socialwatch.classifier.flags import SEVERITIES

from socialwatch.config import AlertsConfig, OnCallContact, OnCallList

log = logging.getLogger(__name__)

LOOKBACK = datetime.timedelta(hours=24)
"""Flags older than this (by event time) are not alerted on, and their escalation stops."""
CLOCK_SKEW = datetime.timedelta(hours=1)
"""Alerts and review actions are read from this much before the lookback window, in case the
proxy's clock (flag times) and the alerter's (alert times) disagree."""
SMTP_TIMEOUT = 10.0
"""Seconds for the SMTP connection and each of its commands."""
WEBHOOK_TIMEOUT = 5.0
"""Seconds for a webhook POST (connect and answer)."""
REASON_CHARS = 200
"""Longest failure reason kept in the alerts table."""

CHANNELS = ("email", "webhook")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One delivery attempt: one channel to one contact for one flag at one escalation level."""
    alert_id: uuid.UUID
    flag_id: str
    time: int
    """Unix seconds of the delivery's *first* attempt: a retry keeps it, so that its row replaces
    the earlier one (same id, same monthly partition) and the escalation clock is not reset."""
    school: str
    """The school of the on-call list used ('*' for the fallback list)."""
    level: int
    contact: str
    """The e-mail address (channel email) or the contact's name (channel webhook; the URL is never stored)."""
    channel: str
    outcome: str
    """``sent``, or ``failed: <reason>``."""

    def row(self) -> tuple:
        """The ``alerts`` row (storage.backend.ALERT_COLUMNS order)."""
        return (self.alert_id, uuid.UUID(self.flag_id), self.time, self.school, self.level, self.contact,
                self.channel, self.outcome)


@dataclasses.dataclass
class _Flag:
    flag_id: str
    school: str
    severity: str


@dataclasses.dataclass
class _Attempts:
    """What the alerts table says about one delivery (flag, level, channel, contact)."""
    first: int
    sent: bool


def alert_id(flag_id: str, level: int, channel: str, contact: str) -> uuid.UUID:
    return uuid.uuid5(uuid.UUID(flag_id), f"{level}:{channel}:{contact}")


class Alerter:
    """Polls storage for flags to alert on, notifies on-call contacts and escalates.

    ``store`` is a socialwatch Storage (shared with other threads: its calls are serialized),
    ``alerts_config`` the ``[alerts]`` section, ``base_url`` the review application's address
    (``review.base_url``); links are ``{base_url}/flags/{flag_id}``. Metrics go on
    ``registry`` (a private one when None). ``clock`` gives Unix seconds.

    Only one Alerter may run against a database: two would both send.
    """

    def __init__(self, store, alerts_config: AlertsConfig, base_url: str, *,
                 registry: CollectorRegistry | None = None, clock: Callable[[], float] = time.time):
        self.store = store
        self.config = alerts_config
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        registry = registry if registry is not None else CollectorRegistry()
        self.sent = Counter(
            "socialwatch_alerts_sent", "Alert delivery attempts, by channel (email, webhook) and outcome "
            "(sent, failed); failed deliveries are retried at every poll.", ["channel", "outcome"],
            registry=registry)
        for channel in CHANNELS:
            for outcome in ("sent", "failed"):
                self.sent.labels(channel=channel, outcome=outcome)
        self.escalations = Counter(
            "socialwatch_alert_escalations", "Alerts passed on to the next on-call contact because nobody "
            "acknowledged the flag in time.", registry=registry)
        self.without_on_call = Counter(
            "socialwatch_alerts_without_on_call", "Flags that should have been alerted on but whose school has "
            "no on-call list (and there is no '*' list); counted once per flag and process.", registry=registry)
        self._severities = SEVERITIES[SEVERITIES.index(alerts_config.min_severity):]
        self._lists: dict[str, OnCallList] = {}
        for on_call in alerts_config.on_call:
            self._lists.setdefault(on_call.school, on_call)
        self._warned_schools: set[str] = set()
        self._counted_flags: dict[str, float] = {}
        self._unrecorded: list[Delivery] = []
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # one poll at a time (the thread, or a caller of run_once)

    # -- the thread

    def start(self) -> None:
        """Poll every ``poll_seconds`` in a daemon thread (nothing when alerts are disabled)."""
        if not self.config.enabled:
            log.info("alerts are disabled (alerts.enabled = false): no alert will be sent")
            return
        if not self.config.on_call:
            log.warning("alerts are enabled but alerts.on_call is empty: no alert can be sent")
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="socialwatch-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling; waits for a poll in progress (its sends are bounded by their timeouts)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        failing = ""  # the last poll's error: a storage outage is logged once, not at every poll
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if error != failing:
                    log.exception("alert poll failed; trying again every %s s", self.config.poll_seconds)
                failing = error
            else:
                if failing:
                    log.warning("alert polls work again")
                failing = ""
            self._stopping.wait(self.config.poll_seconds)

    # -- one poll

    def run_once(self) -> list[Delivery]:
        """One poll: notify, retry and escalate as due; return the delivery attempts made."""
        if not self.config.enabled:
            return []
        with self._lock:
            if self._unrecorded:  # sent, but storage failed before the rows were written
                self.store.append("alerts", [d.row() for d in self._unrecorded])
                self._unrecorded = []
            now = int(self.clock())
            since = datetime.datetime.fromtimestamp(now, datetime.UTC) - LOOKBACK
            flags = self._flags(since)
            if not flags:
                return []
            attempts = self._attempts(since - CLOCK_SKEW)
            acknowledged = self._acknowledged(since - CLOCK_SKEW)
            self._forget_counted(now)
            with _Senders(self.config) as senders:
                deliveries = []
                for flag in flags:
                    if flag.flag_id in acknowledged:
                        continue
                    deliveries += self._due(flag, attempts.get(flag.flag_id, {}), now, senders)
            if deliveries:
                try:
                    self.store.append("alerts", [d.row() for d in deliveries])
                except Exception:
                    self._unrecorded = deliveries  # written first thing next poll, so nothing is sent twice
                    raise
            return deliveries

    def _due(self, flag: _Flag, attempts: dict[tuple[int, str, str], _Attempts], now: int,
             senders: _Senders) -> list[Delivery]:
        on_call = self._on_call(flag)
        if on_call is None:
            return []
        contacts = on_call.contacts
        deliveries = []
        levels = {level for level, _, _ in attempts}
        current = max(levels, default=-1)
        # Retry what failed (or was never tried, e.g. a channel added to a contact) at every level so far.
        for level in range(min(current + 1, len(contacts))):
            deliveries += self._notify(flag, on_call, level, attempts, now, senders)
        if current < 0:
            deliveries += self._notify(flag, on_call, 0, attempts, now, senders)
        elif current + 1 < len(contacts):
            started = min(a.first for (level, _, _), a in attempts.items() if level == current)
            if now - started >= self.config.acknowledge_minutes * 60:
                self.escalations.inc()
                log.warning("flag %s not acknowledged within %s min: escalating to level %d (%s)",
                            flag.flag_id, self.config.acknowledge_minutes, current + 1, contacts[current + 1].name)
                deliveries += self._notify(flag, on_call, current + 1, attempts, now, senders)
        return deliveries

    def _notify(self, flag: _Flag, on_call: OnCallList, level: int, attempts: dict, now: int,
                senders: _Senders) -> list[Delivery]:
        contact = on_call.contacts[level]
        link = f"{self.base_url}/flags/{flag.flag_id}"
        deliveries = []
        for channel, name in _channels(contact):
            earlier = attempts.get((level, channel, name))
            if earlier is not None and earlier.sent:
                continue
            message = _Message(flag.severity, level, link, self.config.acknowledge_minutes,
                               last=level + 1 >= len(on_call.contacts))
            if channel == "email":
                outcome = senders.email(contact.email, message)
            else:
                outcome = senders.webhook(contact.webhook, message)
            self.sent.labels(channel=channel, outcome="sent" if outcome == "sent" else "failed").inc()
            if outcome == "sent":
                log.info("alert for flag %s, level %d, sent by %s to %s", flag.flag_id, level, channel, name)
            else:
                log.warning("alert for flag %s, level %d, by %s to %s %s (retried at the next poll)",
                            flag.flag_id, level, channel, name, outcome)
            deliveries.append(Delivery(
                alert_id(flag.flag_id, level, channel, name), flag.flag_id,
                earlier.first if earlier is not None else now, on_call.school, level, name, channel, outcome))
        return deliveries

    def _on_call(self, flag: _Flag) -> OnCallList | None:
        on_call = self._lists.get(flag.school) or self._lists.get("*")
        if on_call is not None and on_call.contacts:
            return on_call
        if flag.flag_id not in self._counted_flags:
            self._counted_flags[flag.flag_id] = self.clock()
            self.without_on_call.inc()
        if flag.school not in self._warned_schools:
            self._warned_schools.add(flag.school)
            log.warning("a flag of school %r is to be alerted on, but neither that school nor '*' has an "
                        "on-call list with contacts in alerts.on_call: nobody is notified", flag.school)
        return None

    def _forget_counted(self, now: float) -> None:
        horizon = now - (LOOKBACK + CLOCK_SKEW).total_seconds()
        self._counted_flags = {f: t for f, t in self._counted_flags.items() if t >= horizon}

    # -- what storage says

    def _flags(self, since: datetime.datetime) -> list[_Flag]:
        params: dict = {"since": since, "severities": list(self._severities)}
        by_category: dict[str, list[str]] = {}
        for pair in self.config.subcategories:
            category, _, subcategory = pair.partition("/")
            by_category.setdefault(category, []).append(subcategory)
        # One condition per category: ClickHouse 18.16's lambdas cannot read other columns.
        listed = ""
        for n, (category, subcategories) in enumerate(sorted(by_category.items())):
            listed += (f" OR (category = {{c{n}:String}}"
                       f" AND arrayExists(s -> has({{s{n}:Array(String)}}, s), match_subcategory))")
            params[f"c{n}"], params[f"s{n}"] = category, subcategories
        rows = self.store.query(
            "SELECT toString(flag_id) AS flag_id, school, severity, toUInt32(time) AS t"
            " FROM {database}.flags FINAL"
            " WHERE time >= {since:DateTime('UTC')}"
            " AND (has({severities:Array(String)}, severity)" + listed + ")"
            " ORDER BY t, flag_id", params)
        return [_Flag(row["flag_id"], row["school"], row["severity"]) for row in rows]

    def _attempts(self, since: datetime.datetime) -> dict[str, dict[tuple[int, str, str], _Attempts]]:
        # Grouped rather than FINAL: correct whether or not the copies of a retried delivery were merged.
        rows = self.store.query(
            "SELECT toString(flag_id) AS flag_id, level, channel, contact,"
            " min(toUInt32(time)) AS first, max(outcome = 'sent') AS sent"
            " FROM {database}.alerts WHERE time >= {since:DateTime('UTC')}"
            " GROUP BY flag_id, level, channel, contact", {"since": since})
        attempts: dict[str, dict[tuple[int, str, str], _Attempts]] = {}
        for row in rows:
            attempts.setdefault(row["flag_id"], {})[(row["level"], row["channel"], row["contact"])] = \
                _Attempts(row["first"], bool(row["sent"]))
        return attempts

    def _acknowledged(self, since: datetime.datetime) -> set[str]:
        rows = self.store.query(
            "SELECT DISTINCT toString(flag_id) AS flag_id FROM {database}.review_actions"
            " WHERE status != '' AND time >= {since:DateTime('UTC')}", {"since": since})
        return {row["flag_id"] for row in rows}


def _channels(contact: OnCallContact) -> list[tuple[str, str]]:
    """(channel, the name stored in the alerts table) for each way of reaching the contact."""
    channels = []
    if contact.email:
        channels.append(("email", contact.email))
    if contact.webhook:
        channels.append(("webhook", contact.name))
    return channels


@dataclasses.dataclass(frozen=True)
class _Message:
    """What a notification says: severity, level and link, deliberately nothing else."""
    severity: str
    level: int
    link: str
    acknowledge_minutes: float
    last: bool

    @property
    def subject(self) -> str:
        escalated = f", escalation level {self.level}" if self.level else ""
        return f"[socialwatch] {self.severity} flag: review now{escalated}"

    @property
    def body(self) -> str:
        who = "You are the first on-call contact." if self.level == 0 else \
            f"Escalation level {self.level}: the previous on-call contact did not acknowledge it."
        then = "You are the last on-call contact." if self.last else \
            f"If nobody acknowledges it within {self.acknowledge_minutes:g} minutes, the next on-call contact is notified."
        return (
            f"A flag of severity {self.severity} needs a counselor's review now.\n\n"
            f"{self.link}\n\n"
            f"{who} Open the link (sign-in required) and press Acknowledge. {then}\n\n"
            "This message carries no student content on purpose: everything is behind the link.\n"
        )

    def webhook_json(self) -> bytes:
        return json.dumps({
            "text": f"socialwatch: a {self.severity} flag needs review now (escalation level {self.level}): {self.link}",
            "severity": self.severity, "level": self.level, "link": self.link,
        }).encode()


class _Senders:
    """The SMTP session and webhook posts of one poll.

    One SMTP connection serves the whole poll; if it cannot be opened (or breaks), the poll's
    remaining e-mails fail at once with the same reason. A webhook URL that failed is not tried
    again within the poll. Failure reasons never hold the password or a webhook URL.
    """

    def __init__(self, config: AlertsConfig):
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self._smtp_failure = ""
        self._webhook_failures: dict[str, str] = {}
        self._secrets: set[str] = set()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self._smtp is not None:
            with contextlib.suppress(Exception):
                self._smtp.quit()
            with contextlib.suppress(Exception):
                self._smtp.close()
            self._smtp = None

    def email(self, to: str, message: _Message) -> str:
        if self._smtp_failure:
            return self._smtp_failure
        msg = email.message.EmailMessage()
        msg["From"] = self.config.sender
        msg["To"] = to
        msg["Subject"] = message.subject
        msg["Date"] = email.utils.formatdate(usegmt=True)
        msg["Message-ID"] = email.utils.make_msgid(domain="socialwatch")
        msg.set_content(message.body)
        try:
            smtp = self._connect()
            smtp.send_message(msg, from_addr=self.config.sender, to_addrs=[to])
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return self._failed(exc)  # this message only; the session goes on
        except Exception as exc:  # noqa: BLE001  (any other failure: the session is unusable)
            self._smtp_failure = self._failed(exc)
            self.__exit__()
            return self._smtp_failure
        return "sent"

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        config = self.config
        password = ""
        if config.smtp_user:
            if config.smtp_password_file is None:
                raise _Refused("alerts.smtp_user is set but alerts.smtp_password_file is not")
            try:
                password = config.smtp_password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise _Refused(f"cannot read alerts.smtp_password_file: {exc.strerror}") from None
            self._secrets.add(password)
        smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=SMTP_TIMEOUT)
        try:
            if config.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.smtp_user:
                smtp.login(config.smtp_user, password)
        except BaseException:
            smtp.close()
            raise
        self._smtp = smtp
        return smtp

    def webhook(self, url: str, message: _Message) -> str:
        if url in self._webhook_failures:
            return self._webhook_failures[url]
        self._secrets.add(url)
        request = urllib.request.Request(url, data=message.webhook_json(), method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "socialwatch-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            outcome = self._failed(_Refused(f"HTTP {exc.code}"))
        except urllib.error.URLError as exc:
            reason = exc.reason
            outcome = self._failed(reason if isinstance(reason, BaseException) else _Refused(str(reason)))
        except Exception as exc:  # noqa: BLE001  (recorded as the delivery's outcome)
            outcome = self._failed(exc)
        else:
            return "sent"
        self._webhook_failures[url] = outcome
        return outcome

    def _failed(self, exc: BaseException) -> str:
        if isinstance(exc, _Refused):
            reason = str(exc)
        elif isinstance(exc, (TimeoutError, socket.timeout)):
            reason = "timed out"
        elif isinstance(exc, smtplib.SMTPResponseException):
            reason = f"SMTP {exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            reason = "; ".join(f"SMTP {code} {text.decode(errors='replace')}"
                               for code, text in exc.recipients.values())
        elif isinstance(exc, OSError) and exc.strerror:
            reason = exc.strerror
        else:
            reason = f"{type(exc).__name__}: {exc}"
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret:
                reason = reason.replace(secret, "***")
        reason = " ".join(reason.split())[:REASON_CHARS]
        return f"failed: {reason}"


class _Refused(Exception):
    """A delivery failure whose message is already fit for the alerts table."""


__all__ = ["LOOKBACK", "Alerter", "Delivery", "alert_id"]
