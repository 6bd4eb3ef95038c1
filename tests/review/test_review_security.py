"""The review application's security: sign-in, roles, school scope on every route, CSRF, rate limits, headers.

Runs the real application (waitress) over a real ClickHouse database; requests come from httpx.
"""

import datetime
import re

import httpx
import pytest

from support.review_site import NORTH, PASSWORD, SOUTH, csrf_token

SOUTH_TEXT = "you are such a loser, nobody likes you, kys"


def url_rules(site) -> list[tuple[str, str]]:
    """Every route of the running application with its methods: a new route is covered at once."""
    rules = []
    for rule in site.server.app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):  # the stylesheet
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            rules.append((method, rule.rule))
    return rules


def concrete(path: str, flag_id: str) -> str:
    return (path.replace("<flag_id>", flag_id).replace("<suppression_id>", "00000000-0000-0000-0000-000000000000")
            .replace("<decision>", "accept"))


PUBLIC = {("GET", "/sign-in"), ("POST", "/sign-in"), ("POST", "/sign-out"), ("GET", "/metrics")}


def test_every_route_needs_a_signed_in_account(site):
    flag = site.seed(SOUTH_TEXT, school=SOUTH)
    anonymous = site.client()
    token = csrf_token(anonymous)
    checked = 0
    for method, path in url_rules(site):
        if (method, path) in PUBLIC:
            continue
        response = anonymous.request(method, concrete(path, flag), data={"csrf_token": token})
        assert response.status_code == 302 and response.headers["location"].startswith("/sign-in"), (method, path)
        checked += 1
    assert checked >= 12
    assert site.audit("-", "view_flag") == []


def test_a_counselor_of_one_school_cannot_reach_another_schools_flag_on_any_route(site):
    south_flag = site.seed(SOUTH_TEXT, school=SOUTH, device="10.2.0.2")
    north = site.client("north")
    token = csrf_token(north, "/queue")
    flag_routes = [(m, p) for m, p in url_rules(site) if "<flag_id>" in p]
    assert len(flag_routes) >= 6
    for method, path in flag_routes:
        data = {"csrf_token": token, "reason": "checking a safety concern", "action": "note", "note": "x",
                "status": "resolved"}
        response = north.request(method, concrete(path, south_flag), data=data)
        assert response.status_code == 404, (method, path, response.status_code)
    group = north.post("/groups/action", data={"csrf_token": token, "flag_id": south_flag, "status": "resolved"})
    assert group.status_code == 404
    assert SOUTH_TEXT not in north.get("/queue?status=all").text
    assert "South Middle" not in north.get("/queue?status=all").text
    # nothing was recorded against the flag, nothing of it was shown
    assert site.store.query("SELECT count() AS n FROM {database}.review_actions") == [{"n": 0}]
    assert site.audit("north", "view_flag") == [] and site.audit("north", "reveal") == []
    # the South counselor reaches it
    south = site.client("south").get(f"/flags/{south_flag}")
    assert south.status_code == 200 and ">loser</mark>" in south.text


def test_roles_reach_only_their_pages(site):
    flag = site.seed(SOUTH_TEXT, school=NORTH)
    expectations = {
        "north": {"/queue": 200, f"/flags/{flag}": 200, "/audit": 403, "/suppressions": 403, "/health": 403},
        "admin": {"/queue": 200, f"/flags/{flag}": 200, "/audit": 200, "/suppressions": 200, "/health": 200},
        "itstaff": {"/queue": 403, f"/flags/{flag}": 403, "/audit": 403, "/suppressions": 403, "/health": 200,
                    f"/flags/{flag}/report": 403, f"/flags/{flag}/report.csv": 403, "/audit.csv": 403},
    }
    for username, pages in expectations.items():
        client = site.client(username)
        for path, status in pages.items():
            assert client.get(path).status_code == status, (username, path)
    assert site.audit("itstaff", "view_flag") == []


def test_forms_without_the_csrf_token_are_refused(site):
    flag = site.seed(SOUTH_TEXT, school=NORTH)
    north = site.client("north")
    response = north.post(f"/flags/{flag}/action", data={"action": "acknowledge"})
    assert response.status_code == 400 and "form expired" in response.text
    forged = north.post(f"/flags/{flag}/action", data={"action": "acknowledge", "csrf_token": "forged"})
    assert forged.status_code == 400
    assert site.store.query("SELECT count() AS n FROM {database}.review_actions") == [{"n": 0}]


def test_sign_in_is_rate_limited_and_failures_are_audited(site):
    client = site.client()
    statuses = []
    for _ in range(7):
        token = csrf_token(client)
        statuses.append(client.post("/sign-in", data={"username": "north", "password": "guess", "csrf_token": token})
                        .status_code)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
    assert len(site.audit("north", "sign_in_failed")) == 5


def test_passwords_are_stored_as_argon2id_hashes_only(site):
    text = (site.workdir / "accounts.json").read_text()
    assert PASSWORD not in text
    assert text.count('"$argon2id$') == 4
    assert oct((site.workdir / "accounts.json").stat().st_mode & 0o777) == "0o600"


def test_pages_carry_a_strict_content_security_policy_and_no_cache(site):
    north = site.client("north")
    response = north.get("/queue")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_session_cookie_is_secure_http_only_and_strict(clickhouse_server, tmp_path):
    import uuid

    from socialwatch.storage import open_storage
    from support.review_site import start_review_site

    store = open_storage(clickhouse_server.url_for(f"review_{uuid.uuid4().hex[:12]}"))
    secure = start_review_site(store, tmp_path, secure_cookies=True)
    try:
        cookie = httpx.get(f"{secure.url}/sign-in").headers["set-cookie"]  # the session holds the CSRF token
        assert re.search(r"socialwatch_review=", cookie)
        for attribute in ("Secure", "HttpOnly", "SameSite=Strict"):
            assert attribute in cookie
    finally:
        secure.stop()
        store.close()


def test_sign_in_never_redirects_off_site(site):
    client = site.client()
    token = csrf_token(client)
    response = client.post("/sign-in?next=//evil.example/x",
                           data={"username": "north", "password": PASSWORD, "csrf_token": token})
    assert response.headers["location"] == "/"


def test_single_sign_on_header_is_believed_only_from_a_trusted_proxy(clickhouse_server, tmp_path):
    import uuid

    from socialwatch.storage import open_storage
    from support.review_site import start_review_site

    store = open_storage(clickhouse_server.url_for(f"review_{uuid.uuid4().hex[:12]}"))
    trusted = start_review_site(store, tmp_path / "t", review={
        "trusted_header": "X-Remote-User", "trusted_proxies": ["127.0.0.1"]})
    untrusted = start_review_site(store, tmp_path / "u", review={
        "trusted_header": "X-Remote-User", "trusted_proxies": ["192.0.2.1"]})
    try:
        assert httpx.get(f"{trusted.url}/queue", headers={"X-Remote-User": "north"}).status_code == 200
        assert httpx.get(f"{trusted.url}/queue", headers={"X-Remote-User": "nobody"}).status_code == 302
        assert httpx.get(f"{untrusted.url}/queue", headers={"X-Remote-User": "north"}).status_code == 302
    finally:
        trusted.stop()
        untrusted.stop()
        store.close()


def test_a_removed_account_is_signed_out_at_its_next_request(site):
    north = site.client("north")
    assert north.get("/queue").status_code == 200
    site.server.app.extensions["socialwatch"].accounts.remove("north")
    assert north.get("/queue").status_code == 302


@pytest.mark.parametrize("bad", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "'; DROP TABLE flags; --"])
def test_unknown_or_malformed_flag_ids_are_not_found(site, bad):
    assert site.client("admin").get(f"/flags/{bad}").status_code == 404
    assert site.store.query("SELECT count() AS n FROM system.tables WHERE database = {d:String} AND name = 'flags'",
                            {"d": site.store.database}) == [{"n": 1}]


def test_queue_filters_with_hostile_values_are_parameters_not_sql(site):
    site.seed(SOUTH_TEXT, school=NORTH, when=datetime.datetime(2026, 11, 20, 10, tzinfo=datetime.UTC))
    admin = site.client("admin")
    response = admin.get("/queue", params={"school": "x' OR '1'='1", "platform": "') --", "status": "all"})
    assert response.status_code == 200 and "No flags match." in response.text
    assert admin.get("/queue", params={"since": "2026-13-45"}).status_code == 400
