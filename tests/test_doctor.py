"""`socialwatch doctor` against real components: a ClickHouse server (migrated, not migrated,
read-only, a wrong password), the embedded store (and one held open by another process), a real
Prometheus scraping a real metrics endpoint that then goes down, missing, expiring and expired CAs,
a spool with quarantined chunks."""

from __future__ import annotations

import datetime
import io
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from socialwatch import certificates, doctor
from socialwatch.config import load_config
from socialwatch.dashboards.metrics import Metrics, serve
from socialwatch.storage import open_storage
from socialwatch.storage.backend import load_migrations
from socialwatch.storage.spool import Spool
from support.processes import free_port
from support.prometheus_server import running_prometheus

BIN = Path(sys.executable).parent
NOW = datetime.datetime.now(datetime.UTC)
NO_TIMEDATECTL = ("false",)
"""A timedatectl that cannot tell (as in a container without systemd): the clock is compared with ClickHouse."""
DISK = re.compile(r"OK    disk space: [\d.]+ [KMGTP]?i?B free of [\d.]+ [KMGTP]?i?B on /\S*")


def socialwatch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "socialwatch"), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def migrated(clickhouse_server):
    """A migrated database on the real ClickHouse server: its storage URL."""
    url = clickhouse_server.url_for(f"doctor_{uuid.uuid4().hex[:8]}")
    store = open_storage(url)
    store.migrate()
    store.close()
    return url


def appliance(tmp_path: Path, *, metrics_port: int = 0, spool_max: int = 1 << 30, ca: bool = True) -> Path:
    """A configuration with everything under tmp_path (and a valid CA unless not): its path."""
    if ca:
        certificates.init_ca(tmp_path / "mitmproxy", "Essex Tech",
                             not_after=NOW + datetime.timedelta(days=400, hours=12))
    (tmp_path / "spool").mkdir(exist_ok=True)
    config = tmp_path / "socialwatch.toml"
    config.write_text(
        f'[proxy]\nconfdir = "{tmp_path / "mitmproxy"}"\n'
        f'[spool]\ndirectory = "{tmp_path / "spool"}"\nmax_bytes = {spool_max}\n'
        f'[identity]\npseudonym_key_file = "{tmp_path / "var" / "pseudonym.key"}"\n'
        f'[metrics]\nlisten_port = {metrics_port}\n')
    return config


def check_lines(config: Path, url: str, prometheus: str | None = None, **kw) -> list[str]:
    kw.setdefault("timedatectl", NO_TIMEDATECTL)
    return [c.line() for c in doctor.run_checks(str(config), {"storage.url": url}, prometheus, **kw)]


def ca_line(tmp_path: Path) -> str:
    ca = certificates.read_ca(tmp_path / "mitmproxy")
    return (f"OK    CA certificate: Essex Tech socialwatch CA (SHA-256 {ca.fingerprint[:23]}...) expires on "
            f"{ca.not_after:%Y-%m-%d} (400 days left)")


def key_line(tmp_path: Path) -> str:
    return f"OK    CA key: {tmp_path / 'mitmproxy' / 'mitmproxy-ca.pem'} has mode 0600 and matches the certificate"


def storage_lines(url: str, version: str) -> list[str]:
    latest = max(m.version for m in load_migrations())
    shown = url.replace("default:@", "default:***@")
    return [f"OK    storage: {shown} answers (ClickHouse {version})",
            f"OK    schema: version {latest}, up to date",
            "OK    storage privileges: may insert into events, flags, rollup_checks, review_actions, audit_log, alerts, "
            "suppressions (checked with inserts of no rows)"]


def wait_for_health(prometheus_url: str, health: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        targets = httpx.get(f"{prometheus_url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        if targets and all(t["health"] == health for t in targets):
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus targets not {health} within {timeout}s: {targets}")


def test_a_healthy_appliance_passes_and_a_stopped_proxy_fails(tmp_path, clickhouse_server, migrated):
    metrics_port = free_port()
    config = appliance(tmp_path, metrics_port=metrics_port)
    server = serve(Metrics(CollectorRegistry()), "127.0.0.1", metrics_port)  # the proxy's real metrics endpoint
    with running_prometheus(tmp_path / "prometheus", [f"127.0.0.1:{metrics_port}"]) as prometheus:
        try:
            wait_for_health(prometheus.url, "up")
            lines = check_lines(config, migrated, prometheus.url)
            assert lines[:2] == [f"OK    configuration: {config} is valid", ca_line(tmp_path)]
            assert lines[2:6] == [key_line(tmp_path), *storage_lines(migrated, clickhouse_server.version)]
            assert lines[6] == f"OK    spool: {tmp_path / 'spool'} is writable, holds 0 B of 1.0 GiB"
            assert DISK.fullmatch(lines[7]), lines[7]
            assert lines[8:] == [
                f"OK    metrics endpoint: http://127.0.0.1:{metrics_port}/metrics serves the socialwatch metrics",
                f"OK    prometheus: {prometheus.url}: 1 socialwatch target up (socialwatch 127.0.0.1:{metrics_port})",
                "OK    clock: agrees with ClickHouse's within 2 s (timedatectl cannot tell here)",
            ]

            # As a user runs it: the same lines, exit status 0.
            run = socialwatch("doctor", "--config", str(config), "--storage-url", migrated,
                              "--prometheus", prometheus.url)
            assert run.returncode == 0, run.stdout + run.stderr
            printed = run.stdout.splitlines()
            assert printed[:-1] == lines[:-1]
            assert re.fullmatch(r"OK    clock: (agrees with ClickHouse's within 2 s \(timedatectl cannot tell here\)"
                                r"|synchronized \(timedatectl: NTPSynchronized=yes\))", printed[-1])
        finally:
            server.shutdown()
            server.server_close()

        # The proxy stops: its endpoint no longer answers, and Prometheus sees the target down.
        wait_for_health(prometheus.url, "down")
        out = io.StringIO()
        assert doctor.main(str(config), {"storage.url": migrated}, prometheus.url, out=out) == 1
        lines = out.getvalue().splitlines()
    assert lines[8] == (f"FAIL  metrics endpoint: http://127.0.0.1:{metrics_port}/metrics does not answer ([Errno 111] "
                        "Connection refused); fix: is the proxy running? systemctl status socialwatch-proxy; "
                        "journalctl -u socialwatch-proxy")
    assert lines[9].startswith(f"FAIL  prometheus: {prometheus.url}: 1 of 1 socialwatch targets down: socialwatch "
                               f"127.0.0.1:{metrics_port} (")
    assert f'Get "http://127.0.0.1:{metrics_port}/metrics"' in lines[9]  # Prometheus's lastError
    assert lines[9].endswith("; fix: start the service behind each target, or correct its address in Prometheus's "
                             "configuration")


def test_a_database_not_migrated_fails_the_schema_check(tmp_path, clickhouse_server):
    url = clickhouse_server.url_for(f"doctor_new_{uuid.uuid4().hex[:8]}")
    config = appliance(tmp_path)
    out = io.StringIO()
    assert doctor.main(str(config), {"storage.url": url}, out=out) == 1
    lines = out.getvalue().splitlines()
    pending = [m.name for m in load_migrations()]
    assert lines[3:5] == [
        f"OK    storage: {url.replace('default:@', 'default:***@')} answers (ClickHouse {clickhouse_server.version})",
        f"FAIL  schema: version 0, {len(pending)} pending migrations: {', '.join(pending)}; "
        "fix: run socialwatch db migrate --config FILE",
    ]
    assert not any("storage privileges" in line for line in lines)
    assert lines[5].startswith("OK    spool: ")
    assert lines[7] == "WARN  metrics endpoint: off (metrics.listen_port = 0): Prometheus cannot watch the proxy; " \
                       "fix: set metrics.listen_port (9464) and restart the proxy"
    assert lines[8] == "WARN  prometheus: not checked: no Prometheus URL; fix: pass --prometheus URL or set " \
                       "metrics.prometheus_url"


def test_a_read_only_user_fails_the_privileges_check_and_nothing_is_written(tmp_path, migrated):
    config = appliance(tmp_path)
    readonly = migrated + "?readonly=1"  # the server enforces it as for a readonly profile in users.xml
    lines = check_lines(config, readonly)
    database = migrated.rsplit("/", 1)[1]
    assert lines[5] == (
        f"FAIL  storage privileges: cannot insert into {database}.events: ServerException: Code: 164. "
        "DB::Exception: Cannot insert into table in readonly mode; fix: let the user of storage.url insert into the "
        "tables of its component (docs/storage.md#least-privilege: deploy/clickhouse/grants.sql, or on 18.16 "
        "deploy/clickhouse/users.d/socialwatch.xml)")
    store = open_storage(migrated)
    try:
        counts = {table: store.query(f"SELECT count() AS n FROM {{database}}.{table}")[0]["n"]
                  for table in doctor.WRITTEN_TABLES}
    finally:
        store.close()
    assert check_lines(config, migrated)[5].startswith("OK    storage privileges: ")
    assert set(counts.values()) == {0}, "the privilege check inserts no rows"


def test_a_wrong_password_fails_storage_and_is_never_printed(tmp_path, clickhouse_server):
    config = appliance(tmp_path)
    url = clickhouse_server.url_for("socialwatch").replace("default:@", "default:hunter2@")
    out = io.StringIO()
    assert doctor.main(str(config), {"storage.url": url}, out=out, timedatectl=NO_TIMEDATECTL) == 1
    assert "hunter2" not in out.getvalue()
    storage = [line for line in out.getvalue().splitlines() if " storage: " in line]
    assert storage == [
        f"FAIL  storage: clickhouse://default:***@{clickhouse_server.host}:{clickhouse_server.port}/socialwatch "
        "does not answer: ServerException: Code: 193. DB::Exception: Wrong password for user default; fix: check "
        "that ClickHouse runs and that storage.url (host, port, user, password, database) is right"]
    assert out.getvalue().splitlines()[-1] == (
        "WARN  clock: not checked: timedatectl cannot tell here, and there is no ClickHouse server to compare with; "
        "fix: make sure NTP (chrony or systemd-timesyncd) runs")


def test_the_embedded_store_absent_held_open_by_the_proxy_and_checked(tmp_path):
    config = appliance(tmp_path)
    url = f"chdb:{tmp_path / 'store'}"
    out = io.StringIO()
    assert doctor.main(str(config), {"storage.url": url}, out=out, timedatectl=NO_TIMEDATECTL) == 0  # warnings only
    assert out.getvalue().splitlines()[3] == (
        f"WARN  storage: {url}: {tmp_path / 'store'} does not exist yet; fix: socialwatch db migrate (or start the "
        "proxy, which creates it)")
    assert not (tmp_path / "store").exists(), "doctor never creates the store"

    holder = subprocess.Popen(  # the running proxy: it migrates the embedded store and holds it open
        [sys.executable, "-c", "import sys\nfrom socialwatch.storage import open_storage\n"
         f"s = open_storage({url!r}); s.migrate(); print('open', flush=True); sys.stdin.read(); s.close()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        held = [c.line() for c in doctor.run_checks(str(config), {"storage.url": url}, timedatectl=NO_TIMEDATECTL)]
    finally:
        holder.communicate("", timeout=30)
    assert held[3] == (
        f"WARN  storage: {url} is open in another process (the running proxy?): the embedded store can be checked "
        "only while nothing else has it open; fix: stop the proxy to check it, or use a ClickHouse server "
        "(docs/storage.md)")

    run = socialwatch("doctor", "--config", str(config), "--storage-url", url)  # the proxy has stopped
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    latest = max(m.version for m in load_migrations())
    assert re.fullmatch(rf"OK    storage: {re.escape(url)} answers \(ClickHouse [\d.]+\)", lines[3])
    assert lines[4:6] == [f"OK    schema: version {latest}, up to date",
                          "OK    storage privileges: may insert into events, flags, rollup_checks, review_actions, audit_log, alerts, "
                          "suppressions (checked with inserts of no rows)"]
    assert "Cannot lock file" not in run.stdout + run.stderr


def test_a_missing_an_expiring_and_an_expired_ca(tmp_path, migrated):
    config = appliance(tmp_path, ca=False)
    confdir = tmp_path / "mitmproxy"
    lines = check_lines(config, migrated)
    assert lines[1] == (f"FAIL  CA certificate: no CA in {confdir} (mitmproxy-ca.pem is missing): the proxy would "
                        "create one of its own that no device trusts; fix: socialwatch ca init (or ca import), then "
                        "distribute it (docs/certificates.md)")
    assert lines[2].startswith("OK    storage: ")

    soon = certificates.init_ca(confdir, "Essex Tech", not_after=NOW + datetime.timedelta(days=12, hours=12))
    (confdir / "mitmproxy-ca.pem").chmod(0o644)
    out = io.StringIO()
    assert doctor.main(str(config), {"storage.url": migrated}, out=out) == 1
    lines = out.getvalue().splitlines()
    assert lines[1:3] == [
        f"WARN  CA certificate: Essex Tech socialwatch CA expires on {soon.not_after:%Y-%m-%d} (12 days left); "
        "fix: rotate it now: socialwatch ca rotate, socialwatch ca export, push the export to devices "
        "(docs/certificates.md)",
        f"FAIL  CA key: {confdir / 'mitmproxy-ca.pem'} has mode 0644: others may read the CA's key; fix: chmod 600 "
        f"{confdir / 'mitmproxy-ca.pem'}, and consider the key exposed: rotate the CA (docs/certificates.md)",
    ]

    expired = certificates.init_ca(confdir, "Essex Tech", force=True, not_before=NOW - datetime.timedelta(days=400),
                                   not_after=NOW - datetime.timedelta(days=3))
    certificates.rotate_ca(confdir, "Essex Tech", overlap_days=0, now=NOW - datetime.timedelta(days=1))
    lines = check_lines(config, migrated)
    assert lines[1:4] == [
        f"FAIL  CA certificate: Essex Tech socialwatch CA expired on {expired.not_after:%Y-%m-%d}: devices refuse "
        "every decrypted connection; fix: socialwatch ca rotate --overlap-days 0, socialwatch ca export, push the "
        "export to devices, socialwatch ca activate, restart the proxy (docs/certificates.md)",
        key_line(tmp_path),
        f"WARN  CA rotation: the overlap of the next CA Essex Tech socialwatch CA ended on "
        f"{NOW - datetime.timedelta(days=1):%Y-%m-%d}; fix: once every device has it: socialwatch ca activate, "
        "then restart the proxy",
    ]


def test_a_spool_with_quarantined_chunks_and_over_half_full_warns(tmp_path, migrated):
    config = appliance(tmp_path, spool_max=65536)
    spool = Spool(tmp_path / "spool", max_bytes=65536, fsync="never")
    for i in range(8):
        spool.append(bytes([i]) * 5000, oldest=time.time())
    spool.close()
    segment = tmp_path / "spool" / "000000000001.seg"
    data = bytearray(segment.read_bytes())
    data[100:110] = b"\xff" * 10  # a flipped chunk in the first record: it fails its checksum
    segment.write_bytes(bytes(data))
    Spool(tmp_path / "spool", max_bytes=65536, fsync="never").close()  # the proxy's start-up quarantines it
    assert [p.name for p in (tmp_path / "spool" / "quarantine").iterdir()] == ["000000000001.seg.0.bad"]

    lines = check_lines(config, migrated)
    used = segment.stat().st_size
    assert lines[6] == (
        f"WARN  spool: {tmp_path / 'spool'} holds {used / 1024:.1f} KiB, {used / 65536:.0%} of spool.max_bytes "
        f"(64.0 KiB); 1 corrupt chunk in {tmp_path / 'spool' / 'quarantine'} (000000000001.seg.0.bad): their events "
        "are lost; fix: bring storage back (the storage check above); the spool replays by itself, and drops events "
        "once full; look for the cause (a full disk, a crash) in the journal, then delete "
        f"{tmp_path / 'spool' / 'quarantine'}/*")


def test_a_spool_limit_beyond_the_free_disk_space_warns(tmp_path):
    config = load_config(appliance(tmp_path, spool_max=1 << 60))
    check = doctor.disk_check(config)
    assert check.status == "WARN"
    assert check.finding.endswith("; less than spool.max_bytes (1024.0 PiB) can still be spooled: a long storage "
                                  "outage would fill the disk")
    assert check.fix == "lower spool.max_bytes or free space"


def test_the_clock_from_timedatectl_or_compared_with_clickhouse(tmp_path, migrated):
    config = appliance(tmp_path)
    answers = {}
    for answer in ("yes", "no"):
        script = tmp_path / f"timedatectl-{answer}"  # what systemd's timedatectl prints for this property
        script.write_text(f"#!/bin/sh\necho {answer}\n")
        script.chmod(0o755)
        answers[answer] = check_lines(config, migrated, timedatectl=(str(script),))[-1]
    assert answers == {
        "yes": "OK    clock: synchronized (timedatectl: NTPSynchronized=yes)",
        "no": "WARN  clock: not synchronized (timedatectl: NTPSynchronized=no): event times and the ages of flags "
              "may be wrong; fix: timedatectl set-ntp true (systemd-timesyncd), or run chrony",
    }
    skewed = check_lines(config, migrated, clock=lambda: time.time() + 10)[-1]
    assert re.fullmatch(r"WARN  clock: this machine's clock is (9|10|11) s ahead of ClickHouse's \(timedatectl cannot "
                        r"tell here\); fix: synchronize both machines with NTP \(chrony or systemd-timesyncd\)", skewed)


def test_an_invalid_configuration_is_the_only_check_and_fails(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[storage]\nurl = "clickhouse://sw:hunter2@db:9000/x"\nbatch_sise = 10\n')
    run = socialwatch("doctor", "--config", str(config))
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f"FAIL  configuration: {config}: invalid configuration: storage.batch_sise: unknown key; fix: correct the key "
        "named (docs/configuration.md); the other checks need a valid configuration"]
    assert "hunter2" not in run.stdout + run.stderr
