"""High-severity alerts against real components: ClickHouse 18.16 (and chDB), an SMTP server
(aiosmtpd) and a webhook receiver (http.server), each on a free loopback port.

Flags are stored with ``Storage.write`` as the writer stores them; counselors acknowledge by
appending a ``review_actions`` row, as the review application's Acknowledge button does.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid

import pytest
from prometheus_client import CollectorRegistry
from socialwatch.classifier.flags import Flag, Match
from socialwatch.dashboards.review import alerts as alerts_module
from socialwatch.dashboards.review.alerts import Alerter, alert_id
from socialwatch.storage import open_storage
from socialwatch.storage.backend import flag_id as make_flag_id
from support.alert_receivers import SmtpServer, WebhookReceiver
from support.processes import free_port

from socialwatch.config import AlertsConfig
from socialwatch.events import ActivityEvent

BASE_URL = "https://review.district.example"
TEXT = "zq-secret-text: i have the pills ready and wrote the note tonight"
PHRASE = "pills ready"
PERSON = "p-7f3a9c2e1b"
DEVICE = "10.66.77.88"
ACK_MINUTES = 0.02  # 1.2 s


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def webhooks():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def migrated_store(request, backend: str, tmp_path):
    if backend == "clickhouse":
        url = request.getfixturevalue("clickhouse_server").url_for(f"alerts_{uuid.uuid4().hex[:10]}")
    else:
        url = f"chdb:{tmp_path / 'chdb'}"
    store = open_storage(url)
    store.migrate()
    return store


@pytest.fixture
def store(request, tmp_path):
    """A migrated store on the ClickHouse 18.16 server."""
    store = migrated_store(request, "clickhouse", tmp_path)
    yield store
    store.close()


@pytest.fixture(params=["clickhouse", "chdb"])
def any_store(request, tmp_path):
    """A migrated store on each backend: the alerter's SQL runs on both."""
    store = migrated_store(request, request.param, tmp_path)
    yield store
    store.close()


# -- helpers


def config(smtp_port: int, on_call: list[dict], **changes) -> AlertsConfig:
    return AlertsConfig.model_validate({
        "enabled": True, "acknowledge_minutes": ACK_MINUTES, "poll_seconds": 0.2, "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port, "sender": "socialwatch@district.example", "on_call": on_call, **changes})


def contact(name: str, smtp: SmtpServer | None, webhooks: WebhookReceiver | None) -> dict:
    result = {"name": name}
    if smtp is not None:
        result["email"] = f"{name}@district.example"
    if webhooks is not None:
        result["webhook"] = webhooks.url(name)
    return result


def store_flag(store, *, category="self_harm", severity="critical", subcategory="active_planning",
               school="North High", text=TEXT, phrase=PHRASE) -> str:
    """An event and its flag, written as the writer writes them; the flag id."""
    event = ActivityEvent(
        event_id=uuid.uuid4(), time=datetime.datetime.now(datetime.UTC), device=DEVICE, person=PERSON,
        platform="instagram", host="i.instagram.com", method="POST", path="/api/v1/direct_v2/threads/broadcast/text/",
        action="message", status=200, request_bytes=200, response_bytes=100, school=school, text=text,
    )
    start = text.index(phrase)
    flag = Flag(category, severity, 3.0, 1.0,
                (Match(phrase, category, subcategory, severity, 3.0, start, start + len(phrase)),),
                f"'{phrase}' (3.0) >= 1.0")
    store.write([(event, [flag])])
    return str(make_flag_id(event.event_id, category))


def acknowledge(store, flag: str, status: str = "in_review") -> None:
    now = datetime.datetime.now(datetime.UTC)
    store.append("review_actions", [(uuid.uuid4(), uuid.UUID(flag), uuid.uuid4(), now, "counselor.jones",
                                     "acknowledge", "", status, "", int(now.timestamp() * 1e6))])


def alert_rows(store) -> list[dict]:
    return store.query(
        "SELECT toString(alert_id) AS alert_id, toString(flag_id) AS flag_id, school, level, contact, channel,"
        " outcome FROM {database}.alerts FINAL ORDER BY level, channel, contact")


def metric(registry: CollectorRegistry, name: str, **labels) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def wait_for(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return result


def outcomes(deliveries) -> set[tuple[int, str, str, str]]:
    return {(d.level, d.channel, d.contact, d.outcome.split(":")[0]) for d in deliveries}


# -- the specification


def test_a_critical_self_harm_flag_reaches_the_first_contact_within_seconds_without_student_content(
        store, smtp, webhooks):
    registry = CollectorRegistry()
    alerter = Alerter(store, config(smtp.port, [{"school": "North High", "contacts": [
        contact("first", smtp, webhooks), contact("second", smtp, webhooks)]}]), BASE_URL + "/", registry=registry)
    alerter.start()
    try:
        flag = store_flag(store)
        stored = time.monotonic()
        wait_for(lambda: smtp.to("first@district.example") and webhooks.to("first"))
    finally:
        alerter.stop()
    [(received, _, message)] = smtp.messages
    [(posted, _, headers, body)] = webhooks.posts
    assert received - stored < 5 and posted - stored < 5
    link = f"{BASE_URL}/flags/{flag}"

    assert message["From"] == "socialwatch@district.example" and message["To"] == "first@district.example"
    mail = message.as_string()
    assert link in message.get_content() and "critical" in message["Subject"]
    assert headers["Content-Type"] == "application/json"
    assert body == {"text": f"socialwatch: a critical flag needs review now (escalation level 0): {link}",
                    "severity": "critical", "level": 0, "link": link}
    for sent in (mail, json.dumps(body)):
        for content in ("zq-secret-text", "pills", PHRASE, "note tonight", PERSON, DEVICE, "instagram",
                        "self_harm", "active_planning", "North High"):
            assert content not in sent

    assert alert_rows(store) == [
        {"alert_id": str(alert_id(flag, 0, "email", "first@district.example")), "flag_id": flag,
         "school": "North High", "level": 0, "contact": "first@district.example", "channel": "email",
         "outcome": "sent"},
        {"alert_id": str(alert_id(flag, 0, "webhook", "first")), "flag_id": flag, "school": "North High",
         "level": 0, "contact": "first", "channel": "webhook", "outcome": "sent"},
    ]  # the webhook's URL is not stored: such URLs often carry a token
    assert metric(registry, "socialwatch_alerts_sent_total", channel="email", outcome="sent") == 1
    assert metric(registry, "socialwatch_alerts_sent_total", channel="webhook", outcome="sent") == 1
    assert metric(registry, "socialwatch_alert_escalations_total") == 0
    assert not smtp.to("second@district.example") and not webhooks.to("second")


def test_only_severe_flags_and_listed_subcategories_raise_alerts(any_store, smtp, webhooks):
    alerter = Alerter(any_store, config(smtp.port, [{"school": "*", "contacts": [contact("first", smtp, webhooks)]}]),
                      BASE_URL)
    store_flag(any_store, category="bullying", severity="low", subcategory="insult",
               text="you are such a loser lol", phrase="loser")
    store_flag(any_store, category="violence", severity="high", subcategory="hyperbole",
               text="this homework will kill me", phrase="kill me")
    assert alerter.run_once() == []
    threat = store_flag(any_store, category="violence", severity="high", subcategory="threat",
                        text="i will hurt you after school", phrase="hurt you")
    deliveries = alerter.run_once()
    assert {d.flag_id for d in deliveries} == {threat}
    assert outcomes(deliveries) == {(0, "email", "first@district.example", "sent"), (0, "webhook", "first", "sent")}
    assert len(smtp.messages) == 1 and len(webhooks.posts) == 1
    assert alerter.run_once() == []


def test_a_disabled_alerter_sends_nothing(store, smtp):
    alerter = Alerter(store, config(smtp.port, [{"school": "*", "contacts": [contact("first", smtp, None)]}],
                                    enabled=False), BASE_URL)
    store_flag(store)
    alerter.start()
    assert alerter.run_once() == []
    alerter.stop()
    assert smtp.messages == []


def test_an_unacknowledged_alert_escalates_to_the_next_contacts_in_turn(store, smtp, webhooks):
    registry = CollectorRegistry()
    alerter = Alerter(store, config(smtp.port, [{"school": "North High", "contacts": [
        contact("first", smtp, webhooks), contact("second", smtp, webhooks), contact("third", None, webhooks)]}]),
        BASE_URL, registry=registry)
    flag = store_flag(store)
    alerter.start()
    try:
        wait_for(lambda: webhooks.to("third"))
    finally:
        alerter.stop()
    times = {path: posted for posted, path, _, _ in webhooks.posts}
    assert len(webhooks.posts) == 3 and len(smtp.messages) == 2
    assert times["/second"] - times["/first"] > 0.9  # alert times are whole seconds: 1.2 s is at least 1 s
    assert times["/third"] - times["/second"] > 0.9
    [second] = smtp.to("second@district.example")
    assert "escalation level 1" in second["Subject"] and "did not acknowledge" in second.get_content()
    assert webhooks.to("third")[0]["level"] == 2
    assert [(row["level"], row["contact"], row["outcome"]) for row in alert_rows(store)] == [
        (0, "first@district.example", "sent"), (0, "first", "sent"), (1, "second@district.example", "sent"),
        (1, "second", "sent"), (2, "third", "sent")]
    assert {row["flag_id"] for row in alert_rows(store)} == {flag}
    assert metric(registry, "socialwatch_alert_escalations_total") == 2


def test_an_acknowledged_flag_is_not_escalated(any_store, smtp, webhooks):
    alerter = Alerter(any_store, config(smtp.port, [{"school": "*", "contacts": [
        contact("first", smtp, webhooks), contact("second", smtp, webhooks)]}]), BASE_URL)
    flag = store_flag(any_store)
    other = store_flag(any_store, school="South High")
    assert {d.flag_id for d in alerter.run_once()} == {flag, other}
    acknowledge(any_store, flag)
    time.sleep(ACK_MINUTES * 60 + 1)
    escalated = alerter.run_once()
    assert {(d.flag_id, d.level) for d in escalated} == {(other, 1)}  # only the unacknowledged one
    assert alerter.run_once() == []
    assert len(smtp.to("second@district.example")) == 1 and len(webhooks.to("second")) == 1


def test_a_flag_acknowledged_before_any_alert_is_not_alerted(store, smtp):
    alerter = Alerter(store, config(smtp.port, [{"school": "*", "contacts": [contact("first", smtp, None)]}]),
                      BASE_URL)
    acknowledge(store, store_flag(store), status="resolved")
    assert alerter.run_once() == []


def test_smtp_down_is_recorded_as_failed_and_delivered_once_it_is_back(store, webhooks, caplog):
    port = free_port()  # nothing listens here yet
    registry = CollectorRegistry()
    alerter = Alerter(store, config(port, [{"school": "*", "contacts": [
        {"name": "first", "email": "first@district.example", "webhook": webhooks.url("first")},
        contact("second", None, webhooks)]}]), BASE_URL, registry=registry)
    flag = store_flag(store)

    assert outcomes(alerter.run_once()) == {(0, "email", "first@district.example", "failed"),
                                            (0, "webhook", "first", "sent")}  # the other channel goes on
    [email_row, webhook_row] = alert_rows(store)
    assert email_row["outcome"] == "failed: Connection refused"
    assert webhook_row["outcome"] == "sent"

    assert outcomes(alerter.run_once()) == {(0, "email", "first@district.example", "failed")}  # retried
    time.sleep(ACK_MINUTES * 60 + 1)
    # The failing e-mail does not hold up the escalation clock.
    assert outcomes(alerter.run_once()) == {(0, "email", "first@district.example", "failed"),
                                            (1, "webhook", "second", "sent")}

    smtp = SmtpServer(port).start()
    try:
        assert outcomes(alerter.run_once()) == {(0, "email", "first@district.example", "sent")}
        assert alerter.run_once() == []
        [message] = smtp.to("first@district.example")
        assert f"{BASE_URL}/flags/{flag}" in message.get_content()
    finally:
        smtp.stop()
    assert [(row["level"], row["channel"], row["outcome"]) for row in alert_rows(store)] == [
        (0, "email", "sent"), (0, "webhook", "sent"), (1, "webhook", "sent")]  # the retries collapsed
    assert metric(registry, "socialwatch_alerts_sent_total", channel="email", outcome="failed") == 3
    assert metric(registry, "socialwatch_alerts_sent_total", channel="email", outcome="sent") == 1
    assert len(webhooks.to("first")) == 1 and len(webhooks.to("second")) == 1
    assert "failed: Connection refused" in caplog.text


def test_a_failing_webhook_is_retried_and_does_not_hold_up_email(store, smtp, webhooks, monkeypatch):
    monkeypatch.setattr(alerts_module, "WEBHOOK_TIMEOUT", 0.5)
    alerter = Alerter(store, config(smtp.port, [{"school": "*", "contacts": [contact("first", smtp, webhooks)]}]),
                      BASE_URL)
    flag = store_flag(store)
    webhooks.status = 500
    deliveries = alerter.run_once()
    assert {(d.channel, d.outcome) for d in deliveries} == {("email", "sent"), ("webhook", "failed: HTTP 500")}
    webhooks.status, webhooks.delay = 200, 2.0
    [timed_out] = alerter.run_once()
    assert (timed_out.channel, timed_out.outcome) == ("webhook", "failed: timed out")
    webhooks.delay = 0
    [sent] = alerter.run_once()
    assert (sent.channel, sent.outcome) == ("webhook", "sent")
    assert webhooks.to("first")[0]["link"] == f"{BASE_URL}/flags/{flag}"
    assert len(smtp.messages) == 1
    for row in alert_rows(store):
        assert webhooks.url("first") not in row["outcome"] + row["contact"]


def test_a_restarted_alerter_neither_sends_again_nor_forgets_the_escalation(any_store, smtp, webhooks):
    alerts_config = config(smtp.port, [{"school": "*", "contacts": [
        contact("first", smtp, webhooks), contact("second", smtp, webhooks)]}])
    flag = store_flag(any_store)
    assert len(Alerter(any_store, alerts_config, BASE_URL).run_once()) == 2

    restarted = Alerter(any_store, alerts_config, BASE_URL)
    assert restarted.run_once() == []
    time.sleep(ACK_MINUTES * 60 + 1)
    assert outcomes(Alerter(any_store, alerts_config, BASE_URL).run_once()) == {
        (1, "email", "second@district.example", "sent"), (1, "webhook", "second", "sent")}
    assert Alerter(any_store, alerts_config, BASE_URL).run_once() == []
    assert len(smtp.messages) == 2 and len(webhooks.posts) == 2
    assert {row["flag_id"] for row in alert_rows(any_store)} == {flag}


def test_flags_go_to_their_schools_list_else_to_the_star_list(store, smtp, webhooks):
    alerter = Alerter(store, config(smtp.port, [
        {"school": "North High", "contacts": [contact("north", None, webhooks)]},
        {"school": "*", "contacts": [contact("district", None, webhooks)]}]), BASE_URL)
    north = store_flag(store, school="North High")
    south = store_flag(store, school="South High")
    unknown = store_flag(store, school="")
    deliveries = alerter.run_once()
    assert {(d.flag_id, d.contact, d.school) for d in deliveries} == {
        (north, "north", "North High"), (south, "district", "*"), (unknown, "district", "*")}
    assert [body["link"].rsplit("/", 1)[1] for body in webhooks.to("north")] == [north]
    assert sorted(body["link"].rsplit("/", 1)[1] for body in webhooks.to("district")) == sorted([south, unknown])


def test_a_school_without_an_on_call_list_is_counted_and_warned_about_once(store, smtp, caplog):
    registry = CollectorRegistry()
    alerter = Alerter(store, config(smtp.port, [{"school": "North High", "contacts": [contact("north", smtp, None)]}]),
                      BASE_URL, registry=registry)
    store_flag(store, school="South High")
    store_flag(store, school="South High")
    with caplog.at_level(logging.WARNING, logger=alerts_module.__name__):
        assert alerter.run_once() == []
        assert alerter.run_once() == []
    assert metric(registry, "socialwatch_alerts_without_on_call_total") == 2  # once per flag, not per poll
    assert [r.getMessage() for r in caplog.records].count(
        "a flag of school 'South High' is to be alerted on, but neither that school nor '*' has an on-call "
        "list with contacts in alerts.on_call: nobody is notified") == 1
    assert smtp.messages == []


def test_the_smtp_password_comes_from_its_file_and_is_never_shown(store, tmp_path, caplog):
    password = "zq-smtp-pass-4417"
    server = SmtpServer(password=password).start()
    password_file = tmp_path / "smtp.password"
    password_file.write_text(password + "\n")
    try:
        alerts_config = config(server.port, [{"school": "*", "contacts": [contact("first", server, None)]}],
                               smtp_user="socialwatch", smtp_password_file=str(password_file))
        store_flag(store)
        with caplog.at_level(logging.DEBUG):
            [sent] = Alerter(store, alerts_config, BASE_URL).run_once()
            assert sent.outcome == "sent" and server.logins == ["ok"]
            password_file.write_text("wrong-" + password)
            store_flag(store)
            [failed] = Alerter(store, alerts_config, BASE_URL).run_once()
        assert failed.outcome.startswith("failed: SMTP 535")
        assert len(server.messages) == 1
    finally:
        server.stop()
    assert password not in caplog.text
    assert all(password not in row["outcome"] for row in alert_rows(store))


def test_the_thread_survives_storage_errors_and_logs_them_once(request, tmp_path, smtp, caplog):
    url = request.getfixturevalue("clickhouse_server").url_for(f"alerts_{uuid.uuid4().hex[:10]}")
    store = open_storage(url)  # not migrated yet: every poll fails
    alerter = Alerter(store, config(smtp.port, [{"school": "*", "contacts": [contact("first", smtp, None)]}]),
                      BASE_URL)
    try:
        with caplog.at_level(logging.WARNING, logger=alerts_module.__name__):
            alerter.start()
            time.sleep(1.0)  # five polls
            assert alerter._thread.is_alive()
            store.migrate()
            store_flag(store)
            wait_for(lambda: smtp.messages)
        failures = [r for r in caplog.records if r.getMessage().startswith("alert poll failed")]
        assert len(failures) == 1 and failures[0].exc_info is not None
        assert any(r.getMessage() == "alert polls work again" for r in caplog.records)
    finally:
        alerter.stop()
        store.close()
