"""Least privilege: one database user per component, on a real ClickHouse 18.16 server.

The server runs with deploy/clickhouse/users.d/socialwatch.xml exactly as shipped (its password
placeholders replaced), which also removes the `default` user. Each user does its job through
socialwatch's own code and is refused, by the server, what it must not do: the assertions are on
the server's error codes. What 18.16 cannot refuse is asserted too (``test_what_18_16_does_not_refuse``),
so that docs/storage.md ("Least privilege") stays true. deploy/clickhouse/grants.sql, for current
servers, cannot run here: it is parsed with chDB's (current) parser and checked against the schema
and the XML.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import http.client
import re
import secrets
import time
import uuid
from pathlib import Path
from xml.etree import ElementTree

import pytest
from clickhouse_driver import Client
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage import StorageError, backend, open_storage
from socialwatch.storage.backend import APPEND_ONLY_TABLES, Migration, load_migrations
from socialwatch.storage.rollup_repair import pending_hours, repair_rollups
from support.clickhouse_server import ClickHouseProcess

from socialwatch.events import ActivityEvent

REPO = Path(__file__).resolve().parents[2]
USERS_D = REPO / "deploy" / "clickhouse" / "users.d" / "socialwatch.xml"
GRANTS = REPO / "deploy" / "clickhouse" / "grants.sql"
ROLES = ("admin", "writer", "review", "dashboards")
PASSWORDS = {role: secrets.token_urlsafe(18) for role in ROLES}
MIGRATIONS = [migration.name for migration in load_migrations()]

# Server error codes (ClickHouse's ErrorCodes.cpp).
READONLY = 164
UNKNOWN_USER = 192
WRONG_PASSWORD = 193
IP_ADDRESS_NOT_ALLOWED = 195
DATABASE_ACCESS_DENIED = 291
QUERY_IS_PROHIBITED = 392

UTC = datetime.UTC
T0 = datetime.datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
FLAGGED_TEXT = "nobody likes you, just go away loser"
BULLYING = Flag("bullying", "medium", 1.5, 1.0,
                (Match("nobody likes you", "bullying", "targeted_insult", "medium", 1.0, 0, 16),
                 Match("loser", "bullying", "insult", "low", 0.5, 31, 36)),
                "'nobody likes you' (1.0) + 'loser' (0.5) = 1.5 >= 1.0")


def event(school: str = "north-high", text: str = "", **changes) -> ActivityEvent:
    fields = {"event_id": uuid.uuid4(), "time": T0, "device": "10.20.30.40", "person": "p-1",
              "platform": "instagram", "host": "i.instagram.com", "method": "POST", "path": "/api/v1/comments/",
              "action": "comment", "status": 200, "request_bytes": 100, "response_bytes": 200, "text": text,
              "school": school, "age_band": "13_17"}
    fields.update(changes)
    return ActivityEvent(**fields)


def users_d(passwords: dict[str, str]) -> str:
    """The shipped users.d file with each placeholder replaced by the SHA-256 of the password."""
    text = USERS_D.read_text()
    for role, password in passwords.items():
        placeholder = f"SHA256_HEX_OF_THE_{role.upper()}_PASSWORD"
        assert text.count(placeholder) == 1, placeholder
        text = text.replace(placeholder, hashlib.sha256(password.encode()).hexdigest())
    assert not re.search(r"SHA256_HEX_OF_THE_\w+_PASSWORD", text)
    return text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("least_privilege")
    process = ClickHouseProcess(directory, ready_user=("socialwatch_admin", PASSWORDS["admin"]))
    (directory / "users.d").mkdir()
    (directory / "users.d" / "socialwatch.xml").write_text(users_d(PASSWORDS))
    try:
        yield process.start()
    finally:
        process.stop()


def url(server, role: str, database: str = "socialwatch", password: str | None = None) -> str:
    password = PASSWORDS[role] if password is None else password
    return f"clickhouse://socialwatch_{role}:{password}@{server.host}:{server.port}/{database}"


@pytest.fixture(scope="module")
def stores(server):
    """One Storage per user, the schema migrated by the admin, one batch written by the writer."""
    opened = {
        "admin": open_storage(url(server, "admin")),
        "writer": open_storage(url(server, "writer")),
        "review": open_storage(url(server, "review")),
        "dashboards": open_storage(url(server, "dashboards", "socialwatch_dashboards")),
    }
    try:
        assert opened["admin"].migrate() == MIGRATIONS
        yield opened
    finally:
        for store in opened.values():
            store.close()


@pytest.fixture(scope="module")
def written(stores):
    """A flagged and an unflagged event, written by the writer after its own (read-only) migrate()."""
    writer = stores["writer"]
    assert writer.migrate() == []  # up to date: reads system tables, schema_migrations and _features, no DDL
    flagged = event(text=FLAGGED_TEXT)
    batch = [(flagged, [BULLYING]), (event(device="10.20.30.41", action="view"), [])]
    writer.write(batch)
    assert writer.write_missing(batch) == (0, 0)  # a retry's lookup finds both, writes nothing
    return flagged


def refused(code: int, call, *args, **kwargs) -> StorageError:
    """`call` fails with a StorageError caused by the server's error `code`, and says no password."""
    with pytest.raises(StorageError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert getattr(error.__cause__, "code", None) == code, str(error)
    for password in PASSWORDS.values():
        assert password not in str(error) and password not in repr(error)
    return error


# --- each user does its job -----------------------------------------------------------------------

def test_the_admin_migrates_both_databases(stores):
    admin = stores["admin"]
    assert admin.schema_status() == (len(MIGRATIONS), [])
    tables = admin.query("SELECT name FROM system.tables WHERE database = 'socialwatch_dashboards' ORDER BY name")
    assert [row["name"] for row in tables] == ["activity_hourly", "flags_hourly"]


def test_the_writer_writes_a_batch_and_it_reaches_the_rollups(stores, written):
    admin = stores["admin"]
    [row] = admin.query("SELECT count() AS n, sum(flagged) AS f FROM {database}.events FINAL"
                        " WHERE school = 'north-high'")
    assert row == {"n": 2, "f": 1}
    assert admin.query("SELECT text FROM {database}.flags FINAL WHERE event_id = {e:UUID}",
                       {"e": written.event_id}) == [{"text": FLAGGED_TEXT}]
    for database in ("socialwatch", "socialwatch_dashboards"):
        assert admin.query(f"SELECT sum(events) AS n FROM {database}.activity_hourly WHERE school = 'north-high'") \
            == [{"n": 2}]


def test_the_admin_checks_the_rollups_of_the_hours_the_writer_noted(stores, written):
    """The writer's retry found its batch stored and noted the hour; the admin's repair (the
    rollups timer) reads events, flags and all four rollups, finds nothing lost, marks it checked."""
    admin = stores["admin"]
    assert pending_hours(admin) == [T0.replace(minute=0, second=0, microsecond=0)]
    assert repair_rollups(admin, settle=1.0) == ([], [])
    assert pending_hours(admin) == []


def test_the_review_application_works_as_socialwatch_review(server, stores, written, tmp_path):
    """The real review application (pages, workflow, audit, health, metrics, alerts) on the review user;
    its flags are written by the writer."""
    from support.processes import free_port
    from support.review_site import csrf_token, start_review_site

    review, admin = stores["review"], stores["admin"]
    dead_webhook = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: the delivery fails, and is recorded
    site = start_review_site(review, tmp_path, alerts={
        "enabled": True, "poll_seconds": 0.2,
        "on_call": [{"school": "*", "contacts": [{"name": "on-call", "webhook": dead_webhook}]}]})
    try:
        flag_id = dataclasses.replace(site, store=stores["writer"]).seed(
            "i am going to kill myself tonight, i have the pills ready", category="self_harm")
        north, boss = site.client("north"), site.client("admin")
        assert flag_id in north.get("/queue").text
        assert north.get(f"/flags/{flag_id}").status_code == 200
        response = north.post(f"/flags/{flag_id}/action", data={
            "csrf_token": csrf_token(north, "/queue"), "action": "status", "status": "escalated", "note": "called"})
        assert response.status_code == 302
        for page in ("/audit", "/activity", "/health", "/suppressions", f"/flags/{flag_id}/report"):
            assert boss.get(page).status_code == 200, page
        assert "socialwatch_review_storage_up 1.0" in north.get("/metrics").text  # its queries answered
        deadline = time.monotonic() + 10
        while not admin.query("SELECT outcome FROM {database}.alerts WHERE flag_id = {f:UUID}", {"f": flag_id}):
            assert time.monotonic() < deadline, "no alert delivery was recorded"
            time.sleep(0.1)
    finally:
        site.stop()
    [status] = admin.query("SELECT status FROM {database}.review_actions FINAL WHERE flag_id = {f:UUID}",
                           {"f": flag_id})
    assert status == {"status": "escalated"}
    audit = admin.query("SELECT action FROM {database}.audit_log FINAL WHERE object = {f:String} ORDER BY time",
                        {"f": flag_id})
    assert {"view_flag", "review"} <= {row["action"] for row in audit}


def test_the_review_user_proposes_a_suppression(stores, written):
    from socialwatch.dashboards.review.queries import ReviewQueries, Scope

    queries = ReviewQueries(stores["review"])
    flag = queries.flag(Scope(True), str(backend.flag_id(written.event_id, "bullying")))
    queries.propose_suppression("north", flag, "loser", "video game", "a game, not a person")
    assert [row["phrase"] for row in queries.suppressions("proposed")] == ["loser"]


def test_the_dashboards_user_reads_the_rollups(stores, written):
    dashboards = stores["dashboards"]
    assert dashboards.query(
        "SELECT sum(events) AS events, sum(flagged) AS flagged FROM {database}.activity_hourly"
        " WHERE school = 'north-high'") == [{"events": 2, "flagged": 1}]
    assert dashboards.query(
        "SELECT category, sum(flags) AS flags FROM {database}.flags_hourly WHERE school = 'north-high'"
        " GROUP BY category") == [{"category": "bullying", "flags": 1}]


# --- and is refused what it must not do ----------------------------------------------------------

DDL = [
    "DROP TABLE {database}.flags",
    "TRUNCATE TABLE {database}.events",
    "ALTER TABLE {database}.flags DELETE WHERE 1",
    "ALTER TABLE {database}.events DROP PARTITION 202603",
    "ALTER TABLE {database}.audit_log DELETE WHERE 1",
    "ALTER TABLE {database}.events ADD COLUMN note String",
    "CREATE TABLE {database}.copy (text String) ENGINE = Memory",
    "RENAME TABLE {database}.review_actions TO {database}.gone",
    "OPTIMIZE TABLE {database}.flags FINAL",
    "SET allow_ddl = 1",
]


@pytest.mark.parametrize("role", ["writer", "review"])
def test_writer_and_review_cannot_change_the_schema_or_delete_rows(stores, written, role):
    def state() -> tuple[list[dict], list[dict]]:
        """Rows per table, and every table's columns."""
        admin = stores["admin"]
        return (admin.query("SELECT table, sum(rows) AS n FROM system.parts WHERE database = 'socialwatch'"
                            " AND active GROUP BY table ORDER BY table"),
                admin.query("SELECT table, name, type FROM system.columns WHERE database = 'socialwatch'"
                            " ORDER BY table, name"))

    before = state()
    for sql in DDL:
        refused(QUERY_IS_PROHIBITED, stores[role].execute, sql)
    assert state() == before


@pytest.mark.parametrize("role", ["writer", "review"])
def test_a_pending_migration_is_the_admins_job(stores, monkeypatch, role):
    """migrate() by the writer or the review application stops at the first DDL, changing nothing."""
    extra = Migration(99, "0099_extra", "CREATE TABLE {database}.extra (x UInt8) ENGINE = Memory;")
    monkeypatch.setattr(backend, "load_migrations", lambda: [*load_migrations(), extra])
    store = stores[role]
    assert store.schema_status() == (len(MIGRATIONS), ["0099_extra"])
    error = refused(QUERY_IS_PROHIBITED, store.migrate)
    assert "DDL queries are prohibited" in str(error)
    assert stores["admin"].query("SELECT count() AS n FROM system.tables WHERE database = 'socialwatch'"
                                 " AND name = 'extra'") == [{"n": 0}]


@pytest.mark.parametrize("role", ["writer", "review"])
def test_writer_and_review_cannot_reach_another_database(server, stores, role):
    store = stores[role]
    refused(DATABASE_ACCESS_DENIED, store.query, "SELECT count() AS n FROM socialwatch_dashboards.activity_hourly")
    refused(DATABASE_ACCESS_DENIED, store.query, "SELECT count() AS n FROM default.nothing")
    refused(DATABASE_ACCESS_DENIED, store.query,
            f"SELECT count() AS n FROM remote('127.0.0.1:{server.port}', socialwatch_dashboards.flags_hourly)")
    assert store.query("SELECT count() AS n FROM system.tables WHERE database = 'socialwatch_dashboards'") \
        == [{"n": 0}]


def test_the_dashboards_user_cannot_read_raw_data_or_write(server, stores, written):
    dashboards = stores["dashboards"]
    for table in ("events", "flags", "review_actions", "audit_log", "activity_hourly"):
        refused(DATABASE_ACCESS_DENIED, dashboards.query, f"SELECT count() AS n FROM socialwatch.{table}")
    # Nor through a view in its own database (18.16 reads a view with the reader's rights) ...
    admin = stores["admin"]
    admin.execute("CREATE VIEW socialwatch_dashboards.peek AS SELECT count() AS n FROM socialwatch.flags")
    try:
        refused(DATABASE_ACCESS_DENIED, dashboards.query, "SELECT n FROM {database}.peek")
    finally:
        admin.execute("DROP TABLE socialwatch_dashboards.peek")
    # ... nor through a table function, or by listing what is there.
    for function in (f"remote('127.0.0.1:{server.port}', socialwatch.flags)",
                     f"url('http://127.0.0.1:{server.http_port}/?query=SELECT%201', TSV, 'x UInt8')",
                     "file('flags.tsv', TSV, 'text String')"):
        refused(READONLY, dashboards.query, f"SELECT count() AS n FROM {function}")
    for table in ("tables", "columns", "parts"):
        assert dashboards.query(f"SELECT count() AS n FROM system.{table} WHERE database = 'socialwatch'") \
            == [{"n": 0}], table
    # readonly = 1: no INSERT, DDL or SET, and no query setting lowers it.
    refused(READONLY, dashboards.execute,
            "INSERT INTO {database}.activity_hourly SELECT * FROM {database}.activity_hourly")
    refused(READONLY, dashboards.execute, "DROP TABLE {database}.flags_hourly")
    refused(READONLY, dashboards.execute, "SET readonly = 0")
    client = Client(server.host, port=server.port, user="socialwatch_dashboards", password=PASSWORDS["dashboards"])
    try:
        with pytest.raises(Exception) as caught:
            client.execute("INSERT INTO socialwatch_dashboards.flags_hourly SELECT * FROM"
                           " socialwatch_dashboards.flags_hourly", settings={"readonly": 0})
        assert caught.value.code == READONLY
    finally:
        client.disconnect()
    # A Storage of the dashboards user on the main database can neither write nor migrate it.
    on_main = open_storage(url(server, "dashboards"))
    try:
        refused(READONLY, on_main.write, [(event(), [])])
        refused(READONLY, on_main.migrate)
    finally:
        on_main.close()
    assert admin.query("SELECT count() AS n FROM {database}.events FINAL WHERE school = 'north-high'") == [{"n": 2}]


def test_wrong_passwords_unknown_users_and_default_are_refused(server):
    cases = [
        (url(server, "writer", password="not-" + PASSWORDS["writer"]), WRONG_PASSWORD),
        (url(server, "dashboards", password=PASSWORDS["admin"]), WRONG_PASSWORD),  # another user's password
        (f"clickhouse://default:@{server.host}:{server.port}/socialwatch", UNKNOWN_USER),  # removed
        (f"clickhouse://socialwatch:{PASSWORDS['admin']}@{server.host}:{server.port}/socialwatch", UNKNOWN_USER),
    ]
    for store_url, code in cases:
        store = open_storage(store_url)
        try:
            error = refused(code, store.query, "SELECT 1 AS one")
            assert "not-" + PASSWORDS["writer"] not in str(error)
        finally:
            store.close()


def http_query(server, role: str, sql: str, *, params: str = "", source: str = "127.0.0.1") -> tuple[int, str]:
    """(status, body) of `sql` sent to the HTTP interface as socialwatch_`role`, from address `source`."""
    connection = http.client.HTTPConnection(server.host, server.http_port, timeout=10, source_address=(source, 0))
    token = base64.b64encode(f"socialwatch_{role}:{PASSWORDS[role]}".encode()).decode()
    try:
        connection.request("POST", f"/?{params}", body=sql.encode(), headers={"Authorization": f"Basic {token}"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def test_only_loopback_may_connect(server):
    """From 127.0.0.2 (a loopback address, but not one the users list) with the right password."""
    assert http_query(server, "admin", "SELECT 1") == (200, "1\n")
    status, body = http_query(server, "admin", "SELECT 1", source="127.0.0.2")
    assert status != 200 and body.startswith(f"Code: {IP_ADDRESS_NOT_ALLOWED}")
    assert PASSWORDS["admin"] not in body


def test_a_placeholder_left_in_stops_the_server(tmp_path):
    process = ClickHouseProcess(tmp_path, ready_user=("socialwatch_admin", ""))
    (tmp_path / "users.d").mkdir()
    (tmp_path / "users.d" / "socialwatch.xml").write_text(USERS_D.read_text())
    with pytest.raises(pytest.fail.Exception, match="exited"):
        process.start()
    assert "password_sha256_hex for user socialwatch_admin has length" in (tmp_path / "server.err.log").read_text()


def test_what_18_16_does_not_refuse(server, stores, written):
    """The gaps docs/storage.md lists, measured, so that the documentation stays true: 18.16 grants
    whole databases, and allow_ddl binds SQL text only."""
    # The writer can read what students wrote (18.16 has no per-table SELECT right).
    assert FLAGGED_TEXT in [row["text"] for row in stores["writer"].query("SELECT text FROM {database}.flags")]
    # ... and write the audit log; the review user can insert events (no per-table INSERT right).
    stores["writer"].append("audit_log", [(uuid.uuid4(), T0, "gap", "gap", "", "written by the writer")])
    stores["review"].write([(event(school="gap-school"), [])])
    # A client holding the writer's password can switch allow_ddl back on with a query setting,
    # over the native protocol or as an HTTP url parameter.
    client = Client(server.host, port=server.port, user="socialwatch_writer", password=PASSWORDS["writer"])
    try:
        client.execute("CREATE TABLE socialwatch.gap (x UInt8) ENGINE = Memory", settings={"allow_ddl": 1})
        client.execute("ALTER TABLE socialwatch.audit_log DELETE WHERE 0", settings={"allow_ddl": 1})
    finally:
        client.disconnect()
    assert http_query(server, "writer", "DROP TABLE socialwatch.gap", params="allow_ddl=1")[0] == 200
    assert http_query(server, "writer", "DROP TABLE socialwatch.events")[1].startswith(f"Code: {QUERY_IS_PROHIBITED}")


# --- the SQL grants for current servers ----------------------------------------------------------

_GRANT = re.compile(r"GRANT (\w+(?:\([\w, ]+\))?) ON (\w+)\.(\w+|\*) TO socialwatch_role_(\w+)")

EXPECTED_GRANTS = {
    "admin": {("ALL", "socialwatch.*"), ("ALL", "socialwatch_dashboards.*")},
    "writer": {("INSERT", "socialwatch.events"), ("INSERT", "socialwatch.flags"),
               ("INSERT", "socialwatch.rollup_checks"),  # write_missing notes hours to check
               # write_missing's lookups: ids and the sort-key columns that find them, never text
               ("SELECT(event_id, device, time)", "socialwatch.events"),
               ("SELECT(flag_id, category, time)", "socialwatch.flags"),
               ("SELECT", "socialwatch.schema_migrations"), ("SELECT", "socialwatch.schema_features")},
    "review": {*(("SELECT", f"socialwatch.{table}") for table in (
                   "events", "flags", "review_actions", "audit_log", "alerts", "suppressions", "activity_hourly",
                   "schema_migrations", "schema_features")),
               *(("INSERT", f"socialwatch.{table}") for table in APPEND_ONLY_TABLES)},
    "dashboards": {("SELECT", "socialwatch_dashboards.activity_hourly"),
                   ("SELECT", "socialwatch_dashboards.flags_hourly")},
}


def grant_statements() -> list[str]:
    return Migration(0, "grants", GRANTS.read_text()).statements("socialwatch")


def granted() -> dict[str, set[tuple[str, str]]]:
    rights: dict[str, set[tuple[str, str]]] = {role: set() for role in ROLES}
    for statement in grant_statements():
        if not statement.startswith("GRANT ") or " ON " not in statement:
            continue  # roles granted to users
        match = _GRANT.fullmatch(statement)
        assert match, f"one privilege on one table to one role per statement: {statement}"
        privilege, database, table, role = match.groups()
        rights[role].add((privilege, f"{database}.{table}"))
    return rights


def test_grants_give_each_role_exactly_its_rights():
    assert granted() == EXPECTED_GRANTS
    assert "SHA256_HEX_OF_THE_" in GRANTS.read_text()  # placeholders, never a real hash


def test_grants_cover_what_the_review_application_reads_and_writes():
    """Every table the review application's SQL names, and every table it appends to, is granted."""
    sources = "\n".join(path.read_text() for path in (REPO / "dashboards" / "review").glob("*.py"))
    read = set(re.findall(r"\{\{?database\}?\}\.(\w+)", sources)) | {"schema_migrations"}
    appended = set(re.findall(r"\.append\(\"(\w+)\"", sources))
    review = EXPECTED_GRANTS["review"]
    assert {("SELECT", f"socialwatch.{table}") for table in read} <= review
    assert {("INSERT", f"socialwatch.{table}") for table in appended} <= review


def test_grants_and_users_xml_agree_on_users_and_databases():
    root = ElementTree.fromstring(USERS_D.read_text())
    users = {element.tag: element for element in root.find("users") if element.tag != "default"}
    assert sorted(users) == sorted(f"socialwatch_{role}" for role in ROLES)
    assert root.find("users/default").get("remove") == "remove"
    for role, rights in granted().items():
        databases = {target.partition(".")[0] for _privilege, target in rights}
        allowed = {element.text for element in users[f"socialwatch_{role}"].find("allow_databases")}
        assert allowed == databases, role
        assert [ip.text for ip in users[f"socialwatch_{role}"].find("networks")] == ["::1", "127.0.0.1"]
    profiles = root.find("profiles")
    assert profiles.find("socialwatch_dashboards/readonly").text == "1"
    assert profiles.find("socialwatch_writer/allow_ddl").text == "0"
    assert profiles.find("socialwatch_review/allow_ddl").text == "0"


def test_grants_parse_on_current_clickhouse_and_name_real_tables(tmp_path):
    """Each statement through chDB's parser (current ClickHouse; chDB cannot create users), and each
    table a grant names exists once migrate() has run."""
    store = open_storage(f"chdb:{tmp_path / 'chdb'}")
    try:
        for statement in grant_statements():
            [row] = store.query("SELECT formatQuery({q:String}) AS f", {"q": statement})
            assert row["f"].split()[0] == statement.split()[0]
        store.migrate()
        tables = {f"{row['database']}.{row['name']}" for row in store.query(
            "SELECT database, name FROM system.tables WHERE database IN ('socialwatch', 'socialwatch_dashboards')")}
    finally:
        store.close()
    named = {target for rights in granted().values() for _privilege, target in rights if not target.endswith("*")}
    assert named <= tables


# --- the dashboards copy of the rollups, on both backends ----------------------------------------

def test_migration_0005_copies_the_rollups_once_and_keeps_the_copy_in_step(fresh_store, monkeypatch):
    before = [migration for migration in load_migrations() if migration.version < 5]
    monkeypatch.setattr(backend, "load_migrations", lambda: before)
    fresh_store.migrate()
    # The writer of that schema: without migration 0007's last column.
    monkeypatch.setattr(backend, "EVENT_COLUMNS", backend.EVENT_COLUMNS[:-1])
    columns = backend.event_columns
    monkeypatch.setattr(backend, "event_columns", lambda batch: columns(batch)[:-1])
    fresh_store.write([(event(text=FLAGGED_TEXT), [BULLYING]), (event(), [])])
    monkeypatch.undo()
    assert fresh_store.migrate()[0] == "0005_dashboards_database"
    fresh_store.write([(event(school="south-middle"), [])])

    def rollups(database: str) -> tuple[list[dict], list[dict]]:
        activity = fresh_store.query(
            f"SELECT toString(hour) AS hour, school, platform, action, sum(events) AS events,"
            f" sum(flagged) AS flagged, sum(request_bytes) AS rb, sum(response_bytes) AS sb"
            f" FROM {database}.activity_hourly GROUP BY hour, school, platform, action ORDER BY school")
        flags = fresh_store.query(f"SELECT school, category, severity, sum(flags) AS flags FROM {database}.flags_hourly"
                            " GROUP BY school, category, severity")
        return activity, flags

    main, copy = rollups(fresh_store.database), rollups(f"{fresh_store.database}_dashboards")
    assert copy == main
    assert [(row["school"], row["events"]) for row in copy[0]] == [("north-high", 2), ("south-middle", 1)]
    assert copy[1] == [{"school": "north-high", "category": "bullying", "severity": "medium", "flags": 1}]
