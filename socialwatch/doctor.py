"""``socialwatch doctor``: check the appliance end to end and say what to fix.

One line per check, in this order::

    OK|WARN|FAIL  <check>: <finding>; fix: <what to do>

configuration, CA certificate, CA key, CA rotation (when ``ca rotate`` prepared one),
storage, schema, storage privileges, spool, disk space, metrics endpoint, prometheus,
clock. A check that cannot run because an earlier one failed (no schema without
storage) is left out. The exit status is 1 when any check FAILs, else 0.

Doctor changes nothing: it writes no rows (write privileges are checked with
``INSERT INTO t (id) SELECT ... WHERE 0``, which inserts nothing), never creates the embedded
store, and never prints a password (storage URLs go through ``redact_url``).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from socialwatch import certificates
from socialwatch.config import Config, ConfigError, load_config

STATUSES = ("OK", "WARN", "FAIL")
CLOCK_TOLERANCE_SECONDS = 2.0
SPOOL_WARN_FRACTION = 0.5
WRITER_TABLES = ("events", "flags", "rollup_checks")
"""Tables the proxy and the sensor insert into."""
REVIEW_TABLES = ("review_actions", "audit_log", "alerts", "suppressions")
"""Tables the review application inserts into."""
WRITTEN_TABLES = WRITER_TABLES + REVIEW_TABLES
_NO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"
INSERTED_COLUMNS = {"events": ("event_id", _NO_UUID), "flags": ("flag_id", _NO_UUID),
                    "rollup_checks": ("hour", "toDateTime(0)"),
                    "review_actions": ("review_id", _NO_UUID), "audit_log": ("audit_id", _NO_UUID),
                    "alerts": ("alert_id", _NO_UUID), "suppressions": ("suppression_id", _NO_UUID)}
"""A column of each and a value of its type, named in the privilege check's insert of no rows."""
HTTP_TIMEOUT = 5.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""HTTP without the environment's proxy: doctor asks the appliance's own services."""
GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclasses.dataclass(frozen=True)
class Check:
    status: str
    name: str
    finding: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.finding}" + (f"; fix: {self.fix}" if self.fix else "")


def main(config_path: str | None, overrides: dict[str, Any] | None = None, prometheus_url: str | None = None,
         out=None, **options) -> int:
    """Print every check's line; 1 when one FAILed, else 0. `options` go to run_checks."""
    out = out or sys.stdout
    # clickhouse-driver logs a traceback when a server is down; the storage check already says so in one line.
    logging.getLogger("clickhouse_driver").setLevel(logging.CRITICAL)
    results = run_checks(config_path, overrides, prometheus_url, **options)
    for check in results:
        print(check.line(), file=out, flush=True)
    return 1 if any(check.status == "FAIL" for check in results) else 0


def run_checks(config_path: str | None, overrides: dict[str, Any] | None = None, prometheus_url: str | None = None,
               *, now: datetime.datetime | None = None, clock: Callable[[], float] = time.time,
               timedatectl: Sequence[str] = ("timedatectl",)) -> list[Check]:
    """Every check, in order. `clock` and `timedatectl` are the local clock and the command that
    asks systemd whether it is synchronized (for tests of a skewed or unsynchronized machine)."""
    now = now or datetime.datetime.now(datetime.UTC)
    try:
        config = load_config(config_path, overrides)
    except ConfigError as e:
        finding = " ".join(line.strip() for line in str(e).splitlines())
        return [Check("FAIL", "configuration", finding, "correct the key named (docs/configuration.md); "
                      "the other checks need a valid configuration")]
    results = [Check("OK", "configuration", f"{config_path} is valid" if config_path else
                     "no --config: built-in defaults")]
    results += ca_checks(config.proxy.confdir.expanduser(), now)
    storage = None
    try:
        storage_results, storage = storage_checks(config)
        results += storage_results
        results.append(spool_check(config))
        results.append(disk_check(config))
        results.append(metrics_check(config))
        results.append(prometheus_check(prometheus_url or config.metrics.prometheus_url))
        server = storage if config.storage.url.startswith(("clickhouse://", "clickhouses://")) else None
        results.append(clock_check(server, clock, timedatectl))
    finally:
        if storage is not None:
            storage.close()
    return results


# -- the CA ----------------------------------------------------------------------


def ca_checks(confdir: pathlib.Path, now: datetime.datetime) -> list[Check]:
    try:
        ca = certificates.read_ca(confdir)
    except certificates.CAError as e:
        return [Check("FAIL", "CA certificate", str(e), "socialwatch ca init --force (or ca import), then "
                      "distribute it (docs/certificates.md)")]
    if ca is None:
        return [Check("FAIL", "CA certificate", f"no CA in {confdir} ({certificates.CA_FILE} is missing): the proxy "
                      "would create one of its own that no device trusts",
                      "socialwatch ca init (or ca import), then distribute it (docs/certificates.md)")]
    results = []
    days = ca.days_left(now)
    expires = ca.not_after.strftime("%Y-%m-%d")
    if ca.not_after <= now:
        results.append(Check(
            "FAIL", "CA certificate", f"{ca.common_name} expired on {expires}: devices refuse every decrypted "
            "connection", "socialwatch ca rotate --overlap-days 0, socialwatch ca export, push the export to devices, "
            "socialwatch ca activate, restart the proxy (docs/certificates.md)"))
    elif days < certificates.WARN_DAYS:
        results.append(Check(
            "WARN", "CA certificate", f"{ca.common_name} expires on {expires} ({days} days left)",
            "rotate it now: socialwatch ca rotate, socialwatch ca export, push the export to devices "
            "(docs/certificates.md)"))
    else:
        results.append(Check("OK", "CA certificate", f"{ca.common_name} (SHA-256 {ca.fingerprint[:23]}...) "
                             f"expires on {expires} ({days} days left)"))
    results.append(_key_check(ca))
    try:
        rotation = certificates.read_rotation(confdir)
    except certificates.CAError as e:
        results.append(Check("FAIL", "CA rotation", str(e), "socialwatch ca rotate --force to prepare it again"))
        return results
    if rotation is not None:
        after = rotation.activate_after.strftime("%Y-%m-%d")
        if now < rotation.activate_after:
            results.append(Check("OK", "CA rotation", f"next CA {rotation.ca.common_name} (SHA-256 "
                                 f"{rotation.ca.fingerprint[:23]}...) is prepared; activate it on or after {after}"))
        else:
            results.append(Check(
                "WARN", "CA rotation", f"the overlap of the next CA {rotation.ca.common_name} ended on {after}",
                "once every device has it: socialwatch ca activate, then restart the proxy"))
    return results


def _key_check(ca: certificates.StoredCA) -> Check:
    path = ca.key_path
    mode = certificates.key_mode(ca)
    if mode & 0o077:
        return Check("FAIL", "CA key", f"{path} has mode {mode:04o}: others may read the CA's key",
                     f"chmod 600 {path}, and consider the key exposed: rotate the CA (docs/certificates.md)")
    try:
        matches = certificates.key_matches(ca)
    except PermissionError:
        return Check("WARN", "CA key", f"{path} has mode {mode:04o} but cannot be read by this user",
                     "run socialwatch doctor as the proxy's user (sudo -u socialwatch socialwatch doctor ...)")
    except (OSError, certificates.CAError) as e:
        return Check("FAIL", "CA key", str(e), "socialwatch ca import CERT KEY --force with the CA's key")
    if not matches:
        return Check("FAIL", "CA key", f"the key in {path} does not belong to the certificate",
                     "socialwatch ca import CERT KEY --force with the CA's key")
    return Check("OK", "CA key", f"{path} has mode {mode:04o} and matches the certificate")


# -- storage ---------------------------------------------------------------------


def storage_checks(config: Config):
    """(checks, the open storage or None): storage, schema, storage privileges."""
    from socialwatch.storage import StorageError, open_storage, redact_url

    url = config.storage.url
    shown = redact_url(url)
    if url.startswith("chdb:"):
        from socialwatch.storage.chdb_embedded import parse_chdb_url

        try:
            path = pathlib.Path(parse_chdb_url(url)[0])
        except StorageError as e:
            return [Check("FAIL", "storage", str(e), "correct storage.url (docs/configuration.md)")], None
        if not path.exists():
            return [Check("WARN", "storage", f"{shown}: {path} does not exist yet",
                          "socialwatch db migrate (or start the proxy, which creates it)")], None
        if _locked(path / "status"):
            return [Check("WARN", "storage", f"{shown} is open in another process (the running proxy?): the "
                          "embedded store can be checked only while nothing else has it open",
                          "stop the proxy to check it, or use a ClickHouse server (docs/storage.md)")], None
    try:
        storage = open_storage(url)
    except StorageError as e:
        return [Check("FAIL", "storage", f"cannot open {shown}: {_first_line(e)}", _storage_fix(url))], None
    try:
        version = storage.query("SELECT version() AS v")[0]["v"]
    except StorageError as e:
        storage.close()
        return [Check("FAIL", "storage", f"{shown} does not answer: {_first_line(e)}", _storage_fix(url))], None
    results = [Check("OK", "storage", f"{shown} answers (ClickHouse {version})")]
    try:
        schema_version, pending = storage.schema_status()
    except StorageError as e:
        results.append(Check("FAIL", "schema", f"cannot read the schema version: {_first_line(e)}",
                             "socialwatch db status shows the error in full"))
        return results, storage
    if pending:
        results.append(Check("FAIL", "schema", f"version {schema_version}, {len(pending)} pending migration"
                             f"{'s' if len(pending) > 1 else ''}: {', '.join(pending)}",
                             "run socialwatch db migrate --config FILE"))
        return results, storage
    results.append(Check("OK", "schema", f"version {schema_version}, up to date"))
    results.append(_privileges_check(storage))
    return results, storage


def _privileges_check(storage) -> Check:
    """May this user insert into the tables its component writes? Asked with inserts of no rows
    (``INSERT INTO t (id) SELECT ... WHERE 0``), which the server authorizes like any insert and
    which need no right to read the table. One storage url serves one component (docs/storage.md,
    "Least privilege"): the proxy's and sensor's user writes events, flags and rollup_checks, the review
    application's the review tables; either complete set is right."""
    from socialwatch.storage import StorageError

    refused = {}
    for table, (column, value) in INSERTED_COLUMNS.items():
        try:
            storage.execute(f"INSERT INTO {{database}}.{table} ({column}) SELECT {value} WHERE 0")
        except StorageError as e:
            refused[table] = _first_line(e)
    if not refused:
        return Check("OK", "storage privileges", f"may insert into {', '.join(WRITTEN_TABLES)} "
                     "(checked with inserts of no rows)")
    for tables, component in ((WRITER_TABLES, "the proxy's and the sensor's"),
                              (REVIEW_TABLES, "the review application's")):
        if not refused.keys() & set(tables):
            return Check("OK", "storage privileges", f"may insert into {', '.join(tables)}, not into "
                         f"{', '.join(refused)} (checked with inserts of no rows): right for {component} user "
                         "only (docs/storage.md#least-privilege)")
    table = next(iter(refused))
    return Check("FAIL", "storage privileges", f"cannot insert into {storage.database}.{table}: {refused[table]}",
                 "let the user of storage.url insert into the tables of its component (docs/storage.md#least-"
                 "privilege: deploy/clickhouse/grants.sql, or on 18.16 deploy/clickhouse/users.d/socialwatch.xml)")


def _storage_fix(url: str) -> str:
    if url.startswith("chdb:"):
        return "check that the directory is readable and not damaged (docs/storage.md)"
    return "check that ClickHouse runs and that storage.url (host, port, user, password, database) is right"


def _locked(status_file: pathlib.Path) -> bool:
    """Whether a ClickHouse engine (chDB in another process) holds the data directory's lock."""
    import fcntl

    try:
        fd = os.open(status_file, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


# -- the spool, the disk ---------------------------------------------------------


def spool_check(config: Config) -> Check:
    directory = config.spool.directory
    if directory is None:
        return Check("OK", "spool", "off (spool.directory is empty): batches storage refuses are retried in memory "
                     "only")
    directory = directory.expanduser()
    if not directory.exists():
        parent = _existing_ancestor(directory)
        if _writable(parent):
            return Check("OK", "spool", f"{directory} does not exist yet; the proxy creates it")
        return Check("FAIL", "spool", f"{directory} does not exist and {parent} is not writable",
                     f"create it for the proxy's user: install -d -m 700 -o socialwatch {directory}")
    if not directory.is_dir():
        return Check("FAIL", "spool", f"{directory} is not a directory", "set spool.directory to a directory")
    if not _writable(directory):
        return Check("FAIL", "spool", f"{directory} is not writable", f"chown -R socialwatch {directory}")
    used = sum(p.stat().st_size for p in directory.glob("*.seg"))
    limit = config.spool.max_bytes
    quarantine = directory / "quarantine"
    bad = sorted(p.name for p in quarantine.iterdir()) if quarantine.is_dir() else []
    problems, fixes = [], []
    if used > SPOOL_WARN_FRACTION * limit:
        problems.append(f"holds {_size(used)}, {used / limit:.0%} of spool.max_bytes ({_size(limit)})")
        fixes.append("bring storage back (the storage check above); the spool replays by itself, and drops "
                     "events once full")
    if bad:
        problems.append(f"{len(bad)} corrupt chunk{'s' if len(bad) > 1 else ''} in {quarantine} "
                        f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): their events are lost")
        fixes.append(f"look for the cause (a full disk, a crash) in the journal, then delete {quarantine}/*")
    if problems:
        return Check("WARN", "spool", f"{directory} " + "; ".join(problems), "; ".join(fixes))
    return Check("OK", "spool", f"{directory} is writable, holds {_size(used)} of {_size(limit)}")


def disk_check(config: Config) -> Check:
    """Free space where the state lives: the embedded store, the spool, the CA, the keys."""
    paths = [config.proxy.confdir.expanduser(), config.identity.pseudonym_key_file.parent]
    if config.spool.directory is not None:
        paths.append(config.spool.directory.expanduser())
    if config.storage.url.startswith("chdb:"):
        from socialwatch.storage import StorageError
        from socialwatch.storage.chdb_embedded import parse_chdb_url

        try:
            paths.append(pathlib.Path(parse_chdb_url(config.storage.url)[0]))
        except StorageError:  # reported by the storage check
            pass
    filesystems: dict[int, list[pathlib.Path]] = {}
    for path in paths:
        existing = _existing_ancestor(path)
        filesystems.setdefault(existing.stat().st_dev, []).append(existing)
    worst, findings, fixes = "OK", [], []
    spool = config.spool.directory and _existing_ancestor(config.spool.directory.expanduser())
    for places in filesystems.values():
        usage = shutil.disk_usage(places[0])
        where = _mount_point(places[0])
        finding = f"{_size(usage.free)} free of {_size(usage.total)} on {where}"
        status = "OK"
        if usage.free < 256 * MIB or usage.free < 0.01 * usage.total:
            status = "FAIL"
            fixes.append(f"free space on {where}")
        elif usage.free < 0.1 * usage.total:
            status = "WARN"
            fixes.append(f"free space on {where}")
        if spool in places:
            spooled = sum(p.stat().st_size for p in config.spool.directory.expanduser().glob("*.seg")) \
                if config.spool.directory.expanduser().is_dir() else 0
            if usage.free < config.spool.max_bytes - spooled:
                finding += (f"; less than spool.max_bytes ({_size(config.spool.max_bytes)}) can still be spooled: "
                            "a long storage outage would fill the disk")
                status = "FAIL" if status == "FAIL" else "WARN"
                fixes.append("lower spool.max_bytes or free space")
        findings.append(finding)
        worst = max(worst, status, key=STATUSES.index)
    return Check(worst, "disk space", "; ".join(findings), "; ".join(fixes))


# -- metrics and Prometheus ------------------------------------------------------


def metrics_check(config: Config) -> Check:
    port = config.metrics.listen_port
    if not port:
        return Check("WARN", "metrics endpoint", "off (metrics.listen_port = 0): Prometheus cannot watch the proxy",
                     "set metrics.listen_port (9464) and restart the proxy")
    host = config.metrics.listen_host
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/metrics"
    try:
        with _DIRECT.open(url, timeout=HTTP_TIMEOUT) as response:
            body = response.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as e:
        reason = getattr(e, "reason", e)
        return Check("FAIL", "metrics endpoint", f"{url} does not answer ({reason})",
                     "is the proxy running? systemctl status socialwatch-proxy; journalctl -u socialwatch-proxy")
    if "socialwatch_" not in body:
        return Check("FAIL", "metrics endpoint", f"{url} answers without socialwatch metrics (another program on "
                     "the port?)", "give metrics.listen_port a free port and restart the proxy")
    return Check("OK", "metrics endpoint", f"{url} serves the socialwatch metrics")


def prometheus_check(url: str | None) -> Check:
    if not url:
        return Check("WARN", "prometheus", "not checked: no Prometheus URL",
                     "pass --prometheus URL or set metrics.prometheus_url")
    api = f"{url.rstrip('/')}/api/v1/targets?state=active"
    try:
        with _DIRECT.open(api, timeout=HTTP_TIMEOUT) as response:
            targets = json.load(response)["data"]["activeTargets"]
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError) as e:
        return Check("FAIL", "prometheus", f"{url} does not answer /api/v1/targets ({getattr(e, 'reason', e)})",
                     "is Prometheus running, and is this its address?")
    ours = sorted((t for t in targets if str(t.get("labels", {}).get("job", "")).startswith("socialwatch")),
                  key=lambda t: (t["labels"]["job"], t["labels"].get("instance", "")))
    if not ours:
        return Check("FAIL", "prometheus", f"{url} scrapes no socialwatch job",
                     "add the scrape configs of dashboards/prometheus/prometheus.yml to Prometheus's configuration")

    def name(target: dict) -> str:
        return f"{target['labels']['job']} {target['labels'].get('instance', '')}".strip()

    down = [t for t in ours if t.get("health") == "down"]
    unknown = [t for t in ours if t.get("health") not in ("up", "down")]
    if down:
        details = ", ".join(f"{name(t)} ({t.get('lastError') or 'down'})" for t in down)
        return Check("FAIL", "prometheus", f"{url}: {len(down)} of {len(ours)} socialwatch targets down: {details}",
                     "start the service behind each target, or correct its address in Prometheus's configuration")
    if unknown:
        return Check("WARN", "prometheus", f"{url}: not scraped yet: {', '.join(name(t) for t in unknown)}",
                     "run socialwatch doctor again in a minute")
    return Check("OK", "prometheus", f"{url}: {len(ours)} socialwatch target{'s' if len(ours) > 1 else ''} up "
                 f"({', '.join(name(t) for t in ours)})")


# -- the clock -------------------------------------------------------------------


def clock_check(storage, clock: Callable[[], float] = time.time,
                timedatectl: Sequence[str] = ("timedatectl",)) -> Check:
    try:
        answer = subprocess.run([*timedatectl, "show", "-p", "NTPSynchronized", "--value"],
                                capture_output=True, text=True, timeout=HTTP_TIMEOUT, check=False)
        synchronized = answer.stdout.strip() if answer.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        synchronized = None
    if synchronized == "yes":
        return Check("OK", "clock", "synchronized (timedatectl: NTPSynchronized=yes)")
    if synchronized == "no":
        return Check("WARN", "clock", "not synchronized (timedatectl: NTPSynchronized=no): event times and the "
                     "ages of flags may be wrong", "timedatectl set-ntp true (systemd-timesyncd), or run chrony")
    if storage is None:
        return Check("WARN", "clock", "not checked: timedatectl cannot tell here, and there is no ClickHouse server "
                     "to compare with", "make sure NTP (chrony or systemd-timesyncd) runs")
    from socialwatch.storage import StorageError

    try:
        before = clock()
        server = storage.query("SELECT toUnixTimestamp(now()) AS t")[0]["t"]
        after = clock()
    except StorageError as e:
        return Check("WARN", "clock", f"not checked: ClickHouse did not tell its time ({_first_line(e)})",
                     "make sure NTP (chrony or systemd-timesyncd) runs")
    # now() has whole seconds: compare with the middle of the query, allowing for the truncation.
    offset = (before + after) / 2 - (server + 0.5)
    if abs(offset) > CLOCK_TOLERANCE_SECONDS:
        direction = "ahead of" if offset > 0 else "behind"
        return Check("WARN", "clock", f"this machine's clock is {abs(offset):.0f} s {direction} ClickHouse's "
                     "(timedatectl cannot tell here)", "synchronize both machines with NTP (chrony or "
                     "systemd-timesyncd)")
    return Check("OK", "clock", f"agrees with ClickHouse's within {CLOCK_TOLERANCE_SECONDS:.0f} s (timedatectl "
                 "cannot tell here)")


# -- helpers ---------------------------------------------------------------------


def _existing_ancestor(path: pathlib.Path) -> pathlib.Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _mount_point(path: pathlib.Path) -> pathlib.Path:
    path = path.absolute()
    while not os.path.ismount(path):
        path = path.parent
    return path


def _writable(directory: pathlib.Path) -> bool:
    """Really writable (a read-only file system or a root-squashed mount fool access())."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".socialwatch-doctor-"):
            return True
    except OSError:
        return False


def _size(n: float) -> str:
    for unit, size in (("PiB", 1024 ** 5), ("TiB", 1024 ** 4), ("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def _first_line(error: BaseException) -> str:
    """The error on one line, without the storage URL the check names already (StorageError's
    "query failed on URL: ") and ClickHouse's stack trace, at most 300 characters."""
    text = " ".join(str(error).split("Stack trace")[0].split()).rstrip(" .,:")
    text = re.sub(r"^[\w ]+ failed on \S+: ", "", text) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
