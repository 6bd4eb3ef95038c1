"""socialwatch backup create / restore: files and tables out of one appliance and into a fresh one.

Against the real ClickHouse 18.16 server (a user with a password, which must never enter the
archive) and the embedded chDB engine; rows are written through socialwatch's Storage, the
backup and the restore run as the `socialwatch` command does on an appliance (a subprocess), and
the restored store must hold exactly the rows of the original, rollups included.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import pathlib
import stat
import subprocess
import sys
import tarfile
import time
import uuid

import pytest
from socialwatch.classifier.flags import Flag, Match
from socialwatch.storage import open_storage

from socialwatch.events import ActivityEvent

BIN = pathlib.Path(sys.executable).parent
UTC = datetime.UTC
PASSWORD = "Backup-pw-4711-never-in-archive"
USER = "sw_backup_test"
SOURCE_TABLES = ["events", "flags", "review_actions", "audit_log", "alerts", "suppressions"]
ROLLUPS = {"activity_hourly": ["hour", "school", "platform", "action"],
           "flags_hourly": ["hour", "category", "severity", "school"]}
TRICKY_TEXT = "nobody likes you \U0001F621 loser\n\t'quoted' \"double\" back\\slash \u00e9\u00e8 \u0000end"


def event(n: int, when: datetime.datetime, text: str = "") -> ActivityEvent:
    return ActivityEvent(
        event_id=uuid.UUID(int=n + 1), time=when, device=f"10.20.0.{n}", person=f"p{n:04d}", platform="instagram",
        host="www.instagram.com", method="POST", path=f"/api/v1/web/comments/{n}/add/", action="comment",
        status=200, request_bytes=100 + n, response_bytes=18446744073709551615 if n == 3 else 2048,
        school="north-high" if n % 2 else "south-middle", age_band="13_17", target=str(n), text=text)


FLAG = Flag(category="bullying", severity="medium", score=0.1 + 0.2, threshold=0.3,
            matches=(Match("nobody likes you", "bullying", "targeted_insult", "medium", 0.1, 0, 16),
                     Match("loser", "bullying", "insult", "low", 0.2, 19, 24)),
            explanation="'nobody likes you' (0.1) + 'loser' (0.2) = 0.30000000000000004 >= 0.3")


def fill(url: str) -> None:
    """Events in two months, flagged ones with awkward text, and a row in every review table."""
    now = datetime.datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
    earlier = datetime.datetime(2026, 2, 27, 23, 59, 59, tzinfo=UTC)
    batch = [(event(n, now if n % 3 else earlier, TRICKY_TEXT), [FLAG] if n % 4 == 0 else []) for n in range(12)]
    store = open_storage(url)
    try:
        store.migrate()
        store.write(batch)
        flag_id = uuid.uuid5(uuid.UUID(int=1), "bullying")
        store.append("review_actions", [(uuid.UUID(int=901), flag_id, uuid.UUID(int=1), now, "ada", "note",
                                         "note with ' and \\ and \u00fc", "in_review", "ada", 1773500966123456)])
        store.append("audit_log", [(uuid.UUID(int=902), now, "ada", "view_flag", str(flag_id), "opened a flag")])
        store.append("alerts", [(uuid.UUID(int=903), flag_id, now, "north-high", 1, "oncall@district.example",
                                 "email", "sent")])
        store.append("suppressions", [(uuid.UUID(int=904), 1773500966000001, now, flag_id, "bullying", "loser",
                                       "chess", "ada", "accepted", "root", "a chess club")])
    finally:
        store.close()


def snapshot(url: str) -> dict[str, list]:
    """Every row of the source tables, and the rollups summed by key, in a comparable order."""
    store = open_storage(url)
    try:
        out = {}
        for table in SOURCE_TABLES:
            rows = store.query(f"SELECT * FROM {{database}}.{table}")
            out[table] = sorted(json.dumps(row, sort_keys=True) for row in rows)
        for prefix in ("{database}", "{database}_dashboards"):
            for table, key in ROLLUPS.items():
                sums = store.query("SELECT name FROM system.columns WHERE database = {db:String}"
                                   " AND table = {t:String}", {"db": prefix.format(database=store.database),
                                                                  "t": table})
                values = [c["name"] for c in sums if c["name"] not in key]
                rows = store.query(
                    f"SELECT {', '.join(key)}, {', '.join(f'sum({v}) AS {v}' for v in values)}"
                    f" FROM {prefix}.{table} GROUP BY {', '.join(key)}".replace("{database}", store.database))
                out[f"{prefix}.{table}"] = sorted(json.dumps(row, sort_keys=True) for row in rows)
        return out
    finally:
        store.close()


def write_layout(root: pathlib.Path, url: str, *, with_state: bool) -> pathlib.Path:
    """An appliance's files under `root`: /etc/socialwatch and /var/lib/socialwatch as install.sh lays them out."""
    etc, state = root / "etc" / "socialwatch", root / "var" / "lib" / "socialwatch"
    etc.mkdir(parents=True)
    state.mkdir(parents=True)
    config = etc / "socialwatch.toml"
    config.write_text(
        "# test appliance\n[proxy]\n"
        f'confdir = "{state}/mitmproxy"\n'
        f'[storage]\nurl = "{url}"\n'
        f'[identity]\npseudonym_key_file = "{state}/pseudonym.key"\n'
        f'[review]\naccounts_file = "{state}/review-accounts.json"\nsecret_key_file = "{state}/review-secret.key"\n'
        f'[classifier]\nsuppressions_file = "{etc}/suppressions.csv"\n')
    config.chmod(0o640)
    if with_state:
        (state / "mitmproxy").mkdir(mode=0o700)
        files = {
            state / "mitmproxy" / "mitmproxy-ca.pem": ("-----BEGIN PRIVATE KEY-----\nCAKEY\n", 0o600),
            state / "mitmproxy" / "mitmproxy-ca-cert.pem": ("-----BEGIN CERTIFICATE-----\nCACERT\n", 0o644),
            state / "mitmproxy" / "wireguard.conf": ('{"server_key": "S", "client_key": "C"}', 0o600),
            state / "mitmproxy" / "next" / "mitmproxy-ca.pem": ("-----BEGIN PRIVATE KEY-----\nNEXT\n", 0o600),
            state / "pseudonym.key": ("k" * 32, 0o600),
            state / "review-accounts.json": ('{"ada": {"role": "administrator"}}', 0o600),
            state / "review-secret.key": ("s" * 32, 0o600),
            etc / "suppressions.csv": ("category,phrase,context\nbullying,loser,chess\n", 0o644),
        }
        for path, (text, mode) in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(mode)
    return config


def socialwatch(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "socialwatch"), *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def backup(config: pathlib.Path, out: pathlib.Path, *extra: str) -> pathlib.Path:
    result = socialwatch("backup", "create", "--config", str(config), "--out", str(out), *extra, cwd=out.parent)
    assert result.returncode == 0, result.stderr
    assert "CA private key" in result.stderr and "0600" in result.stderr  # said loudly
    return pathlib.Path(result.stdout.strip())


def state_files(root: pathlib.Path) -> dict[str, tuple[bytes, int]]:
    state = root / "var" / "lib" / "socialwatch"
    found = {str(p.relative_to(state)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
             for p in state.rglob("*") if p.is_file() and "socialwatch.chdb" not in p.parts}
    suppressions = root / "etc" / "socialwatch" / "suppressions.csv"
    found["suppressions.csv"] = (suppressions.read_bytes(), stat.S_IMODE(suppressions.stat().st_mode))
    return found


@pytest.fixture(scope="module")
def password_user(clickhouse_server):
    """A user with a password on the session's server (users.d, which the server re-reads within seconds)."""
    from clickhouse_driver import Client
    from clickhouse_driver import errors as clickhouse_errors

    users_d = clickhouse_server.directory / "users.d"
    users_d.mkdir(exist_ok=True)
    (users_d / "backup_test.xml").write_text(
        f"<?xml version=\"1.0\"?><yandex><users><{USER}><password>{PASSWORD}</password>"
        f"<networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></{USER}>"
        "</users></yandex>")
    deadline = time.monotonic() + 30
    while True:
        client = Client(host=clickhouse_server.host, port=clickhouse_server.port, user=USER, password=PASSWORD)
        try:
            client.execute("SELECT 1")
            break
        except (OSError, clickhouse_errors.Error):
            assert time.monotonic() < deadline, "the server did not load the test user from users.d"
            time.sleep(0.5)
        finally:
            client.disconnect()
    return f"clickhouse://{USER}:{PASSWORD}@{clickhouse_server.host}:{clickhouse_server.port}"


def test_clickhouse_backup_restores_into_a_fresh_database(tmp_path, password_user):
    source_url, target_url = f"{password_user}/bk_src_{uuid.uuid4().hex[:8]}", f"{password_user}/bk_dst_{uuid.uuid4().hex[:8]}"
    fill(source_url)
    old = tmp_path / "old"
    config = write_layout(old, source_url, with_state=True)
    # One configuration file per component (docs/deploy.md, "Database users"), with another password.
    (config.parent / "review.toml").write_text(
        '[storage]\nurl = "clickhouse://socialwatch_review:Other-pw-98765@127.0.0.1:9000/socialwatch"\n')
    archive = backup(config, tmp_path / "backups")

    # The archive: 0600 from the start, and no password anywhere in it (compressed or not).
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    raw = archive.read_bytes()
    for password in (PASSWORD, "Other-pw-98765"):
        assert password.encode() not in raw and password.encode() not in gzip.decompress(raw)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
        archived_config = tar.extractfile("files/config/socialwatch.toml").read().decode()
    assert "files/confdir/mitmproxy-ca.pem" in names and "files/confdir/next/mitmproxy-ca.pem" in names
    assert f"{USER}:***@" in archived_config and PASSWORD not in json.dumps(manifest)
    assert {t["table"]: t["rows"] for t in manifest["tables"]}["events"] == 12
    assert {(t["database"], t["table"]) for t in manifest["tables"] if t["kind"] == "derived"} == {
        ("@", "activity_hourly"), ("@", "flags_hourly"),
        ("@_dashboards", "activity_hourly"), ("@_dashboards", "flags_hourly")}

    # A new appliance: fresh install (template config, no state), another database.
    new = tmp_path / "new"
    new_config = write_layout(new, target_url, with_state=False)
    template = new_config.read_text()
    result = socialwatch("backup", "restore", str(archive), "--config", str(new_config), cwd=new)
    assert result.returncode == 0, result.stderr
    expected = snapshot(source_url)
    assert [len(expected[t]) for t in SOURCE_TABLES] == [12, 3, 1, 1, 1, 1]
    assert all(expected[f"{db}.{t}"] for db in ("{database}", "{database}_dashboards") for t in ROLLUPS)
    assert snapshot(target_url) == expected
    assert state_files(new) == state_files(old)  # content and mode
    # The live configuration is never replaced; the backed-up one is put beside it, password left out.
    assert new_config.read_text() == template
    restored = new_config.parent / "socialwatch.toml.restored"
    assert restored.read_text() == config.read_text().replace(PASSWORD, "***")
    assert stat.S_IMODE(restored.stat().st_mode) == 0o640
    assert "put it back" in result.stderr

    # Again: the tables have rows now, so without --force nothing happens ...
    again = socialwatch("backup", "restore", str(archive), "--config", str(new_config), cwd=new)
    assert again.returncode == 1 and "has rows" in again.stderr and "--force" in again.stderr
    # ... and with it the rows are replaced, not doubled (rollups included).
    forced = socialwatch("backup", "restore", str(archive), "--config", str(new_config), "--force", cwd=new)
    assert forced.returncode == 0, forced.stderr
    assert snapshot(target_url) == snapshot(source_url)


def test_a_password_outside_the_storage_url_stops_the_backup(tmp_path, password_user):
    url = f"{password_user}/bk_pw_{uuid.uuid4().hex[:8]}"
    config = write_layout(tmp_path / "a", url, with_state=True)
    (config.parent / "notes.txt").write_text(f"admin password is {PASSWORD}\n")
    result = socialwatch("backup", "create", "--config", str(config), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1 and "notes.txt contains the ClickHouse password" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []  # no archive, no partial file, no table dumps


def test_chdb_backup_restores_into_a_new_directory_and_into_a_server(tmp_path, clickhouse_server):
    source_url = f"chdb:{tmp_path / 'old' / 'var' / 'lib' / 'socialwatch' / 'socialwatch.chdb'}"
    old = tmp_path / "old"
    config = write_layout(old, source_url, with_state=True)
    fill(source_url)
    out = tmp_path / "backups"
    first = backup(config, out)
    time.sleep(1.1)  # archives are named by the second
    archive = backup(config, out, "--keep", "1")
    assert sorted(out.iterdir()) == [archive] and not first.exists()  # --keep 1: the older one went
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    target_url = f"chdb:{tmp_path / 'new' / 'var' / 'lib' / 'socialwatch' / 'socialwatch.chdb'}"
    new_config = write_layout(tmp_path / "new", target_url, with_state=False)
    result = socialwatch("backup", "restore", str(archive), "--config", str(new_config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = snapshot(source_url)
    assert snapshot(target_url) == expected
    assert state_files(tmp_path / "new") == state_files(old)

    # The same archive moves the embedded store onto a ClickHouse server (18.16).
    server_url = clickhouse_server.url_for(f"bk_from_chdb_{uuid.uuid4().hex[:8]}")
    result = socialwatch("backup", "restore", str(archive), "--config", str(new_config), "--storage-url", server_url,
                         "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert snapshot(server_url) == expected

    shown = socialwatch("backup", "show", str(archive), cwd=tmp_path)
    assert shown.returncode == 0 and "@.events" in shown.stdout and "12 rows" in shown.stdout


def test_a_restore_refuses_to_replace_a_different_ca_without_force(tmp_path):
    url = f"chdb:{tmp_path / 'store'}"
    config = write_layout(tmp_path / "a", url, with_state=True)
    archive = backup(config, tmp_path / "out")
    key = tmp_path / "a" / "var" / "lib" / "socialwatch" / "mitmproxy" / "mitmproxy-ca.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nA NEWER CA\n")
    result = socialwatch("backup", "restore", str(archive), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1 and f"{key} exists with other content" in result.stderr
    assert "NEWER" in key.read_text()
    result = socialwatch("backup", "restore", str(archive), "--config", str(config), "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert key.read_text() == "-----BEGIN PRIVATE KEY-----\nCAKEY\n" and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "NEWER" in key.with_name("mitmproxy-ca.pem.before-restore").read_text()
    assert os.path.exists(url.removeprefix("chdb:"))  # an empty store: migrated, nothing to restore


def test_the_backup_unit_runs_daily_inside_its_sandbox(tmp_path):
    units = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "systemd"
    timer = (units / "socialwatch-backup.timer").read_text()
    assert "OnCalendar=*-*-* 02:30:00" in timer and "Persistent=true" in timer and "WantedBy=timers.target" in timer
    # The unit's kernel-enforced sandbox (support/systemd_sandbox.py), on the embedded store.
    config = write_layout(tmp_path / "a", f"chdb:{tmp_path / 'a' / 'var' / 'lib' / 'socialwatch' / 'chdb'}",
                          with_state=True)
    fill(f"chdb:{tmp_path / 'a' / 'var' / 'lib' / 'socialwatch' / 'chdb'}")
    sandbox = pathlib.Path(__file__).resolve().parents[1] / "support" / "systemd_sandbox.py"
    result = subprocess.run(
        [sys.executable, str(sandbox), str(units / "socialwatch-backup.service"), "--", str(BIN / "socialwatch"),
         "backup", "create", "--config", str(config), "--out", str(tmp_path / "backups"), "--keep", "14"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    [archive] = (tmp_path / "backups").glob("socialwatch-backup-*.tar.gz")
    with tarfile.open(archive) as tar:
        assert {t["table"]: t["rows"] for t in json.load(tar.extractfile("manifest.json"))["tables"]}["flags"] == 3
