"""The counselor's workflow over real ClickHouse (server and embedded): queue order, filters, grouping, statuses,
reveal, reports, audit."""

import csv
import datetime
import io
import re

from support.review_site import NORTH, SOUTH, csrf_token

NOW = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
PLANNING = "i am going to kill myself tonight, i have the pills ready"
INSULT = "you are such a loser, nobody likes you"


def queue_items(html: str) -> list[str]:
    """The severity and category of each queue item, in page order."""
    return re.findall(r'<span class="badge severity-(\w+)">\w+</span>\s*<span class="category">([\w ]+)</span>', html)


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/queue"), **data})


def test_the_queue_shows_the_worst_first_then_the_latest(any_site):
    site = any_site
    site.seed(INSULT, when=NOW - datetime.timedelta(minutes=5))
    site.seed(PLANNING, when=NOW - datetime.timedelta(hours=3), device="10.1.0.11", category="self_harm")
    site.seed("call me at 978-555-0142", when=NOW - datetime.timedelta(hours=1), device="10.1.0.12")
    site.seed("text me at 978-555-0143", when=NOW - datetime.timedelta(minutes=1), device="10.1.0.13")
    items = queue_items(site.client("north").get("/queue").text)
    assert items == [("critical", "self harm"), ("medium", "pii"), ("medium", "bullying"), ("medium", "pii")]


def test_filters_and_counts_per_status(any_site):
    site = any_site
    insult = site.seed(INSULT)
    site.seed(PLANNING, device="10.1.0.11", category="self_harm")
    north = site.client("north")
    assert queue_items(north.get("/queue", params={"category": "self_harm"}).text) == [("critical", "self harm")]
    assert queue_items(north.get("/queue", params={"severity": "critical"}).text) == [("critical", "self harm")]
    assert queue_items(north.get("/queue", params={"platform": "tiktok"}).text) == []
    post(north, f"/flags/{insult}/action", action="status", status="resolved", note="talked to both students")
    page = north.get("/queue").text
    assert re.search(r"New <b>1</b>", page) and re.search(r"Resolved <b>1</b>", page)
    assert queue_items(page) == [("critical", "self harm")]
    assert queue_items(north.get("/queue", params={"status": "resolved"}).text) == [("medium", "bullying")]


def test_near_duplicates_from_many_devices_are_one_item_resolved_at_once(any_site):
    site = any_site
    viral = "this meme is everywhere: you are a loser, kys"  # the same post shared by a class
    ids = [site.seed(viral, device=f"10.1.0.{n}", person=f"u-{n}", when=NOW - datetime.timedelta(minutes=n))
           for n in range(20, 26)]
    single = site.seed(INSULT, device="10.1.0.99")
    north = site.client("north")
    page = north.get("/queue").text
    assert "6 similar flags from 6 devices" in page
    assert len(queue_items(page)) == 2
    group_ids = re.findall(r'name="flag_id" value="([0-9a-f-]+)"', page)
    assert sorted(group_ids) == sorted(ids)
    response = north.post("/groups/action", data={"csrf_token": csrf_token(north, "/queue"), "flag_id": group_ids,
                                                  "status": "false_positive", "note": "English class reading"})
    assert response.status_code == 302
    assert queue_items(north.get("/queue").text) == [("medium", "bullying")]
    statuses = site.store.query(
        "SELECT toString(flag_id) AS id, argMax(status, sequence) AS status FROM {database}.review_actions FINAL"
        " GROUP BY flag_id")
    assert sorted(row["id"] for row in statuses) == sorted(ids) and {row["status"] for row in statuses} == {
        "false_positive"}
    assert single not in {row["id"] for row in statuses}
    [entry] = site.audit("north", "review")
    assert "6 near-duplicate flags" in entry["detail"]


def test_personal_information_flags_are_never_grouped(any_site):
    site = any_site
    for n in range(3):
        site.seed(f"text me at 978-555-014{n}", device=f"10.1.0.{30 + n}")
    assert len(queue_items(site.client("north").get("/queue").text)) == 3


def test_the_detail_shows_the_words_explanation_context_and_earlier_flags(any_site):
    site = any_site
    earlier = site.seed(INSULT, when=NOW - datetime.timedelta(days=2))
    site.activity(device="10.1.0.10", when=NOW - datetime.timedelta(minutes=4), platform="tiktok")
    site.activity(device="10.1.0.10", when=NOW - datetime.timedelta(hours=5), platform="roblox")  # outside the window
    site.activity(device="10.9.9.9", when=NOW, platform="discord")  # another device
    flag = site.seed(PLANNING, category="self_harm", when=NOW)
    page = site.client("north").get(f"/flags/{flag}").text
    marks = re.findall(r'<mark data-match="\d+" title="[^"]*">([^<]*)</mark>', page)
    assert marks and all(mark in PLANNING for mark in marks)
    assert "against threshold" in page and "self_harm: matched" in page
    activity = page.split('id="context"')[1].split("</table>")[0]
    assert "tiktok" in activity and "roblox" not in activity and "discord" not in activity
    assert earlier in page.split('id="earlier"')[1]
    assert [row["object"] for row in site.audit("north", "view_flag")] == [flag]


def test_revealing_the_person_needs_a_reason_and_is_audited(any_site):
    site = any_site
    flag = site.seed(INSULT, person="u-1001")
    north = site.client("north")
    page = north.get(f"/flags/{flag}").text
    assert "Jane" not in page and site.pseudonyms.of("u-1001") in page
    refused = post(north, f"/flags/{flag}/reveal", reason="curious")
    assert refused.status_code == 302 and site.audit("north", "reveal") == []
    revealed = post(north, f"/flags/{flag}/reveal", reason="student may be at risk; calling home")
    assert "Jane Doe" in revealed.text and "jdoe@essextech.net" in revealed.text
    [entry] = site.audit("north", "reveal")
    assert entry["object"] == flag and "calling home" in entry["detail"]


def test_status_assignment_and_notes_make_a_timeline(any_site):
    site = any_site
    flag = site.seed(PLANNING, category="self_harm")
    north = site.client("north")
    post(north, f"/flags/{flag}/action", action="acknowledge")
    post(north, f"/flags/{flag}/action", action="assign", assignee="admin")
    post(north, f"/flags/{flag}/action", action="note", note="spoke with the student <b>at 10:05</b>")
    post(north, f"/flags/{flag}/action", action="status", status="escalated", note="parents called")
    assert post(north, f"/flags/{flag}/action", action="assign", assignee="south").status_code == 400
    page = north.get(f"/flags/{flag}").text
    timeline = page.split('id="timeline"')[1].split("</section>")[0]
    assert [a for a in re.findall(r"</b> (\w+)", timeline)] == ["acknowledge", "assign", "note", "status"]
    assert "&lt;b&gt;at 10:05&lt;/b&gt;" in timeline
    assert "Escalated" in page.split("<h1>")[1].split("</h1>")[0] and "assigned to admin" in page
    assert len(site.audit("north", "review")) == 4


def test_case_reports_print_and_export_and_are_audited(any_site):
    site = any_site
    flag = site.seed("=HYPERLINK(\"http://x\") " + INSULT)
    north = site.client("north")
    html = north.get(f"/flags/{flag}/report")
    assert html.status_code == 200 and "socialwatch case report" in html.text and flag in html.text
    exported = north.get(f"/flags/{flag}/report.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    text = next(row[3] for row in rows if row[2] == "text")
    assert text.startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it
    assert sorted(row["detail"] for row in site.audit("north", "export")) == [
        "exported the case report (CSV)", "printed the case report (HTML)"]


def test_administrators_browse_and_export_the_audit_log(any_site):
    site = any_site
    flag = site.seed(INSULT, school=SOUTH)
    site.client("south").get(f"/flags/{flag}")
    admin = site.client("admin")
    page = admin.get("/audit", params={"actor": "south"}).text
    assert "view_flag" in page and flag in page and "sign_in" in page
    exported = list(csv.reader(io.StringIO(admin.get("/audit.csv", params={"action": "view_flag"}).text)))
    assert exported[0] == ["time", "actor", "action", "object", "detail"]
    assert [row[1:4] for row in exported[1:]] == [["south", "view_flag", flag]]
    assert len(site.audit("admin", "view_audit")) == 1 and len(site.audit("admin", "export_audit")) == 1


def test_a_counselor_with_several_schools_sees_both(any_site):
    site = any_site
    from socialwatch.dashboards.review.accounts import Account

    site.server.app.extensions["socialwatch"].accounts.put(
        Account("both", "counselor", (NORTH, SOUTH), "Bo Both"), "correct horse battery staple")
    site.seed(INSULT, school=NORTH)
    site.seed(PLANNING, school=SOUTH, device="10.2.0.1", category="self_harm")
    assert len(queue_items(site.client("both").get("/queue").text)) == 2


def test_suppressions_are_refused_for_identity_terms_and_personal_information(any_site):
    site = any_site
    north = site.client("north")
    hate = site.seed(INSULT)
    post(north, f"/flags/{hate}/false-positive", phrase="loser", context="gay club", note="x")
    phone = site.seed("call me at 978-555-0142", device="10.1.0.77")
    post(north, f"/flags/{phone}/false-positive", phrase="<phone>", context="pizza", note="x")
    assert site.store.query("SELECT count() AS n FROM {database}.suppressions") == [{"n": 0}]
    statuses = site.store.query("SELECT status FROM {database}.review_actions FINAL")
    assert [row["status"] for row in statuses] == ["false_positive", "false_positive"]
