"""Counselors and administrators use the review application in a real browser (Debian's Chromium via Playwright).

Screenshots of the main pages are kept in test-artifacts/ (and copied to docs/screenshots/ by hand).
"""

import datetime
import pathlib
import shutil
import uuid

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from socialwatch.classifier import Classifier
from socialwatch.classifier.suppressions import load_suppressions
from socialwatch.storage import open_storage
from support.proxy import running_mitmdump
from support.review_site import PASSWORD, start_review_site
from support.stored import stored_rows
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
PLANNING = "honestly i can't do this anymore. i am going to kill myself tonight, i have the pills ready"
VIRAL = "this meme is everywhere: you are a loser, kys"
CARD_GAME = "uno night! you are the loser, you buy the snacks, nobody likes you uno cheater"


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def secure_site(clickhouse_server, tmp_path):
    """The review application with secure cookies, as deployed (browsers treat 127.0.0.1 as secure)."""
    store = open_storage(clickhouse_server.url_for(f"review_{uuid.uuid4().hex[:12]}"))
    site = start_review_site(store, tmp_path, secure_cookies=True,
                             **{"classifier.suppressions_file": str(tmp_path / "suppressions.csv")})
    yield site
    site.stop()
    store.close()


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/queue")
    expect(page).to_have_url(f"{url}/sign-in?next=/queue")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Flags to review")).to_be_visible()


def test_a_counselor_triages_a_critical_flag(browser, secure_site):
    site = secure_site
    critical = site.seed(PLANNING, category="self_harm", person="u-1001", when=NOW - datetime.timedelta(minutes=2))
    site.seed(VIRAL, device="10.1.0.40", when=NOW - datetime.timedelta(minutes=1))
    site.activity(device="10.1.0.10", when=NOW - datetime.timedelta(minutes=3), platform="tiktok")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site.url, "north")
    first = page.locator(".queue .item").first
    expect(first.locator(".badge")).to_have_text("critical")
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)

    first.get_by_role("link", name="Open flag").click()
    expect(page).to_have_url(f"{site.url}/flags/{critical}")
    [flag] = site.store.query("SELECT match_start, match_end FROM {database}.flags WHERE category = 'self_harm'")
    marks = page.locator("blockquote.captured mark")
    expected = [PLANNING[start:end] for start, end in sorted(zip(flag["match_start"], flag["match_end"]))]
    assert marks.all_inner_texts() == expected and expected
    assert page.locator("blockquote.captured").inner_text() == PLANNING
    expect(page.locator("#context ~ table")).to_contain_text("tiktok")
    page.screenshot(path=str(ARTIFACTS / "review-flag.png"), full_page=True)

    page.get_by_role("button", name="Acknowledge (I am on it)").click()
    expect(page.locator("h1 small")).to_contain_text("In review")
    page.get_by_label("Reason").fill("student may be in danger tonight; calling home")
    page.get_by_role("button", name="Reveal identity").click()
    expect(page.locator(".revealed")).to_contain_text("Jane Doe")
    [audit] = site.audit("north", "reveal")
    assert audit["object"] == critical and "calling home" in audit["detail"]
    page.screenshot(path=str(ARTIFACTS / "review-reveal.png"), full_page=True)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(phone, site.url, "north")
    expect(phone.locator(".queue .item").first).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    phone.screenshot(path=str(ARTIFACTS / "review-queue-phone.png"), full_page=True)


def test_a_group_of_near_duplicates_is_resolved_at_once(browser, secure_site):
    site = secure_site
    ids = [site.seed(VIRAL, device=f"10.1.0.{n}", person=f"u-{n}", when=NOW - datetime.timedelta(minutes=n))
           for n in range(50, 58)]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site.url, "north")
    group = page.locator(".queue .item", has_text="8 similar flags from 8 devices")
    group.locator("summary").click()
    group.get_by_label("Note").fill("the same meme shared by a whole class; talked to the class")
    group.get_by_role("button", name="Resolve all 8").click()
    expect(page.locator(".notice")).to_have_text("8 flags marked resolved.")
    expect(page.locator(".queue .item")).to_have_count(0)
    rows = site.store.query("SELECT toString(flag_id) AS id FROM {database}.review_actions FINAL"
                            " WHERE status = 'resolved'")
    assert sorted(row["id"] for row in rows) == sorted(ids)


def test_a_false_positive_becomes_a_suppression_an_administrator_accepts(browser, secure_site, tmp_path):
    site = secure_site
    flag = site.seed(CARD_GAME)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site.url, "north")
    page.locator(".queue .item").first.get_by_role("link", name="Open flag").click()
    page.get_by_text("Not a concern (false positive)").click()
    page.get_by_label("Why it is not a concern").fill("friends joking about a card game")
    page.get_by_label("Matched phrase").select_option("loser")
    page.get_by_label("Context word or phrase").fill("uno")
    page.get_by_role("button", name="Mark false positive").click()
    expect(page.locator(".notice")).to_contain_text("awaits an administrator")

    admin = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(admin, site.url, "admin")
    admin.get_by_role("link", name="Suppressions").click()
    row = admin.locator("tr", has_text="card game")
    expect(row).to_contain_text("proposed")
    admin.screenshot(path=str(ARTIFACTS / "review-suppressions.png"), full_page=True)
    row.get_by_role("button", name="Accept").click()
    expect(admin.locator("tr", has_text="card game")).to_contain_text("accepted by admin")

    [suppression] = load_suppressions(tmp_path / "suppressions.csv")
    assert (suppression.category, suppression.phrase, suppression.context) == ("bullying", "loser", "uno")
    classifier = Classifier.load(suppressions=[suppression])
    assert "loser" not in [m.phrase for f in classifier.classify(CARD_GAME) for m in f.matches]
    assert classifier.classify("you are a loser")  # the phrase still counts elsewhere
    assert [row["object"] for row in site.audit("north", "review")] == [flag]

    admin.get_by_role("link", name="Audit log").click()
    expect(admin.locator("table.audit")).to_contain_text("suppression")
    admin.screenshot(path=str(ARTIFACTS / "review-audit.png"), full_page=True)


HOSTILE = [
    '<script>window.__pwned = 1</script> kys loser',
    '<img src=x onerror="window.__pwned = 2"> you are a loser, kys',
    '"><svg onload=window.__pwned=3> nobody likes you loser',
    "javascript:window.__pwned=4 &lt;b&gt;bold&lt;/b&gt; kys you loser",
    "'); DROP TABLE flags; -- kys loser {{7*7}} ${7*7}",
    "\u202eevil\u202c <iframe src=//example.org></iframe> kys loser",
]


def test_hostile_posts_through_the_real_proxy_are_shown_as_text(browser, clickhouse_server, tmp_path):
    """Captured text is hostile: posts with script, markup and injection travel through the real proxy
    into ClickHouse, and the real browser shows them as text and runs nothing."""
    store = open_storage(clickhouse_server.url_for(f"hostile_{uuid.uuid4().hex[:8]}"))
    certs = make_upstream_certs(tmp_path / "upstream", ["www.instagram.com"])
    with UpstreamServer(certs) as upstream, running_mitmdump(
            tmp_path / "proxy", storage_url=clickhouse_server.url_for(store.database), upstream_port=upstream.port,
            certs=certs, district_subnets=["127.10.0.0/16"]) as proxy:
        device = proxy.client("127.10.0.9")
        for n, text in enumerate(HOSTILE):
            response = device.post(f"https://www.instagram.com/api/v1/web/comments/{1000 + n}/add/",
                                   data={"comment_text": text})
            assert response.status == 200
        flags = stored_rows(store, "SELECT DISTINCT toString(event_id) AS id, text FROM {database}.flags",
                            at_least=len(HOSTILE))
    assert sorted(row["text"] for row in flags) == sorted(HOSTILE)
    # The proxy does not know the device's school; an administrator sees flags of every school.
    site = start_review_site(store, tmp_path / "review", secure_cookies=True)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{site.url}/queue")
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        links = page.locator(".queue a[href^='/flags/']")  # single flags and the members of groups
        expect(links).to_have_count(len(HOSTILE))
        hrefs = [links.nth(n).get_attribute("href") for n in range(len(HOSTILE))]
        shown = []
        for href in hrefs:
            page.goto(f"{site.url}{href}")
            shown.append(page.locator("blockquote.captured").inner_text())
            assert page.evaluate("window.__pwned") is None
            assert page.locator("main script, main img, main svg, main iframe").count() == 0
        page.screenshot(path=str(ARTIFACTS / "review-hostile.png"), full_page=True)
        assert sorted(shown) == sorted(HOSTILE)
        assert dialogs == []
    finally:
        site.stop()
        store.close()
