"""From a student's post to a counselor's acknowledgement: the real proxy stores a post about
active self-harm planning, the review application's alerter e-mails and webhooks the on-call
contact within seconds, escalates when nobody answers, and stops when the link in the e-mail
is followed and the flag acknowledged in a real browser."""

import re
import shutil
import time
import uuid

from playwright.sync_api import expect, sync_playwright

from socialwatch.storage import open_storage
from support.alert_receivers import SmtpServer, WebhookReceiver
from support.proxy import running_mitmdump
from support.review_site import PASSWORD, start_review_site
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
POST = "i can't do this anymore, i am going to kill myself tonight, i have the pills ready"
ACK_SECONDS = 8.0  # long enough to sign in and acknowledge in the browser


def wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return result


def test_an_alert_reaches_the_on_call_counselor_escalates_and_stops_when_acknowledged(clickhouse_server, tmp_path):
    store = open_storage(clickhouse_server.url_for(f"alerts_{uuid.uuid4().hex[:8]}"))
    smtp, webhooks = SmtpServer().start(), WebhookReceiver()
    on_call = [{"school": "*", "contacts": [
        {"name": "first counselor", "email": "first@district.example", "webhook": webhooks.url("first")},
        {"name": "administrator", "email": "admin@district.example"},
        {"name": "superintendent", "email": "super@district.example"},
    ]}]
    site = start_review_site(store, tmp_path / "review", secure_cookies=True, alerts={
        "enabled": True, "poll_seconds": 0.5, "acknowledge_minutes": ACK_SECONDS / 60, "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port, "sender": "socialwatch@district.example", "on_call": on_call})
    certs = make_upstream_certs(tmp_path / "upstream", ["www.instagram.com"])
    try:
        with UpstreamServer(certs) as upstream, running_mitmdump(
                tmp_path / "proxy", storage_url=clickhouse_server.url_for(store.database), upstream_port=upstream.port,
                certs=certs, district_subnets=["127.10.0.0/16"]) as proxy:
            posted = time.monotonic()
            response = proxy.client("127.10.0.7").post(
                "https://www.instagram.com/api/v1/web/comments/4242/add/", data={"comment_text": POST})
            assert response.status == 200

            [first] = wait_for(lambda: smtp.to("first@district.example"), timeout=15)
            emailed = time.monotonic() - posted
            [hook] = wait_for(lambda: webhooks.to("first"), timeout=5)
        print(f"capture to first e-mail: {emailed:.2f} s")
        assert emailed < 10
        body = first.get_body(preferencelist=("plain",)).get_content()
        [link] = re.findall(rf"{re.escape(site.url)}/flags/[0-9a-f-]+", body)
        assert link in str(hook)
        for secret in ("kill myself", "pills", "instagram", "127.10.0.7"):
            assert secret not in body and secret not in str(hook) and secret not in first["Subject"]

        # Nobody answers: the next contact is notified after the acknowledgement time.
        [second] = wait_for(lambda: smtp.to("admin@district.example"), timeout=ACK_SECONDS + 10)
        assert link in second.get_body(preferencelist=("plain",)).get_content()

        # The administrator follows the link, signs in and acknowledges.
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
            page = browser.new_page()
            page.goto(link)
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(link)
            expect(page.locator("blockquote.captured mark").first).to_be_visible()
            page.get_by_role("button", name="Acknowledge (I am on it)").click()
            expect(page.locator("h1 small")).to_contain_text("In review")
            browser.close()
        time.sleep(ACK_SECONDS + 1)  # past the time the third contact would have been notified
        assert smtp.to("super@district.example") == []
        levels = store.query("SELECT level, contact, channel, outcome FROM {database}.alerts ORDER BY level, channel")
        assert [(r["level"], r["contact"], r["channel"], r["outcome"]) for r in levels] == [
            (0, "first@district.example", "email", "sent"), (0, "first counselor", "webhook", "sent"),
            (1, "admin@district.example", "email", "sent")]
    finally:
        site.stop()
        smtp.stop()
        webhooks.stop()
        store.close()
