"""The systemd units in deploy/systemd: valid for systemd, sandboxed, and the programs work inside the sandbox.

No systemd runs as PID 1 here, so units are not started; instead
- `systemd-analyze verify` checks every unit (against a copy whose ExecStart= is this venv's
  socialwatch: verify requires the binary to exist), and any message it prints is a failure;
- `systemd-analyze security --offline` rates each service's exposure;
- the retention job and the sensor run under their unit's kernel-enforced sandbox
  (support/systemd_sandbox.py); the proxy does in test_deploy_transparent.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
from support.appliance_network import DISTRICT_SUBNET, appliance_network
from support.processes import stop

BIN = pathlib.Path(sys.executable).parent
UNITS = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "systemd"
SANDBOX = pathlib.Path(__file__).resolve().parents[1] / "support" / "systemd_sandbox.py"
INSTALLED = "/usr/local/bin/socialwatch"
SERVICES = ["socialwatch-proxy.service", "socialwatch-sensor.service", "socialwatch-retention.service",
            "socialwatch-review.service", "socialwatch-backup.service", "socialwatch-rollups.service"]
ALL_UNITS = [*SERVICES, "socialwatch-retention.timer", "socialwatch-backup.timer", "socialwatch-rollups.timer"]

COMMON = {
    "User": "socialwatch", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "StateDirectory": "socialwatch", "ReadWritePaths": "/var/lib/socialwatch",
    "WorkingDirectory": "/var/lib/socialwatch", "LockPersonality": "yes", "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes", "SystemCallArchitectures": "native", "SystemCallErrorNumber": "EPERM",
}
EXPECTED = {
    "socialwatch-proxy.service": {
        **COMMON, "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "ExecStart": f"{INSTALLED} run --config /etc/socialwatch/socialwatch.toml",
    },
    "socialwatch-sensor.service": {
        **COMMON, "CapabilityBoundingSet": "CAP_NET_RAW CAP_NET_ADMIN",
        "AmbientCapabilities": "CAP_NET_RAW CAP_NET_ADMIN",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET",
    },
    "socialwatch-review.service": {
        **COMMON, "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "ExecStart": f"{INSTALLED} review --config /etc/socialwatch/socialwatch.toml",
    },
    "socialwatch-retention.service": {
        **COMMON, "Type": "oneshot", "CapabilityBoundingSet": "",
        "ExecStart": f"{INSTALLED} db retention --config /etc/socialwatch/socialwatch.toml",
    },
    "socialwatch-rollups.service": {
        **COMMON, "Type": "oneshot", "CapabilityBoundingSet": "",
        "ExecStart": f"{INSTALLED} db repair-rollups --config /etc/socialwatch/socialwatch.toml",
    },
    "socialwatch-backup.service": {
        **COMMON, "Type": "oneshot", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "ExecStart": f"{INSTALLED} backup create --config /etc/socialwatch/socialwatch.toml"
                     " --out /var/lib/socialwatch/backups --keep 14",
    },
}


def directives(unit: pathlib.Path) -> dict[str, list[str]]:
    sys.path.insert(0, str(SANDBOX.parent))
    from systemd_sandbox import service_directives
    return service_directives(str(unit))


@pytest.fixture(scope="module")
def verifiable(tmp_path_factory) -> pathlib.Path:
    """A copy of the units whose ExecStart= names this venv's socialwatch."""
    directory = tmp_path_factory.mktemp("units")
    for name in ALL_UNITS:
        text = (UNITS / name).read_text()
        (directory / name).write_text(text.replace(INSTALLED, str(BIN / "socialwatch")))
    return directory


def verify(directory: pathlib.Path, names: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["systemd-analyze", "verify", *(str(directory / n) for n in names)],
                          capture_output=True, text=True, timeout=60, check=False)


def test_systemd_analyze_verify_accepts_every_unit_silently(verifiable):
    result = verify(verifiable, ALL_UNITS)
    # verify exits 0 on unknown keys and bad values, printing them: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_would_report_a_misspelled_directive(verifiable, tmp_path):
    # The control for the test above: the same check sees a typo.
    bad = tmp_path / "socialwatch-proxy.service"
    bad.write_text((verifiable / "socialwatch-proxy.service").read_text().replace("ProtectHome=", "ProtectHomee="))
    result = verify(tmp_path, ["socialwatch-proxy.service"])
    assert "Unknown key 'ProtectHomee'" in result.stderr


@pytest.mark.parametrize("unit", SERVICES)
def test_sandbox_directives_are_present(unit):
    found = directives(UNITS / unit)
    for key, value in EXPECTED[unit].items():
        assert found.get(key, [None])[-1] == value, key
    assert found["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]


@pytest.mark.parametrize("unit", [s for s in SERVICES if s != "socialwatch-review.service"])
def test_no_write_execute_restriction(unit):
    # Measured under the sandbox: pyOpenSSL's cffi callbacks (the proxy's TLS) need write+execute
    # memory, and chDB mprotects code with PROT_EXEC; with MemoryDenyWriteExecute=yes the proxy's
    # handshakes and every chdb: store fail (see the comments in the units, and the test below).
    assert "MemoryDenyWriteExecute" not in directives(UNITS / unit)


def test_retention_fails_under_memory_deny_write_execute(tmp_path):
    # Why the units cannot have it (systemd 252, Debian 12): the control for the test above.
    unit = tmp_path / "mdwe.service"
    unit.write_text((UNITS / "socialwatch-retention.service").read_text() + "MemoryDenyWriteExecute=yes\n")
    url = "chdb:var/socialwatch.chdb"
    subprocess.run([str(BIN / "socialwatch"), "db", "migrate", "--storage-url", url], cwd=tmp_path,
                   capture_output=True, text=True, check=True, timeout=120)
    result = subprocess.run([sys.executable, str(SANDBOX), str(unit), "--", str(BIN / "socialwatch"), "db",
                             "retention", "--storage-url", url], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode != 0 and "CANNOT_MPROTECT" in result.stderr


@pytest.mark.parametrize("unit, threshold", [
    ("socialwatch-proxy.service", 15), ("socialwatch-retention.service", 15), ("socialwatch-sensor.service", 20),
    ("socialwatch-review.service", 15), ("socialwatch-backup.service", 15), ("socialwatch-rollups.service", 15)])
def test_exposure_rating_is_low(verifiable, unit, threshold):
    # systemd's own scale, 0 (sandboxed) to 10 (unprotected); the threshold is in tenths.
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", f"--threshold={threshold}",
                             str(verifiable / unit)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout[-2000:]


def test_timer_runs_the_retention_service_daily():
    text = (UNITS / "socialwatch-retention.timer").read_text()
    assert "OnCalendar=*-*-* 03:30:00" in text and "Persistent=true" in text
    assert "WantedBy=timers.target" in text


def test_timer_runs_the_rollup_repair_every_ten_minutes():
    text = (UNITS / "socialwatch-rollups.timer").read_text()
    assert "OnBootSec=5min" in text and "OnUnitActiveSec=10min" in text
    assert "WantedBy=timers.target" in text


def sandboxed(unit: str, *command: str) -> list[str]:
    return [sys.executable, str(SANDBOX), str(UNITS / unit), "--", *command]


@pytest.mark.parametrize("unit, command, says", [
    ("socialwatch-retention.service", ("db", "retention"), "retention applied"),
    ("socialwatch-rollups.service", ("db", "repair-rollups"), "0 rollup row(s) repaired")])
def test_a_database_job_runs_inside_its_sandbox(tmp_path, unit, command, says):
    url = "chdb:var/socialwatch.chdb"
    subprocess.run([str(BIN / "socialwatch"), "db", "migrate", "--storage-url", url], cwd=tmp_path,
                   capture_output=True, text=True, check=True, timeout=120)
    result = subprocess.run(sandboxed(unit, str(BIN / "socialwatch"), *command, "--storage-url", url),
                            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"chdb:var/socialwatch.chdb: {says}" in result.stdout


def test_sandbox_refuses_what_the_unit_forbids():
    # The sandbox really is applied: packet sockets and capabilities are gone.
    code = ("import mmap, socket\n"
            "caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0]\n"
            "try:\n  socket.socket(socket.AF_PACKET, socket.SOCK_RAW); packet = 'allowed'\n"
            "except OSError as e: packet = e.errno\n"
            "try:\n  mmap.mmap(-1, 4096, prot=7); wx = 'allowed'\n"
            "except OSError as e: wx = e.errno\n"
            "print(caps, packet, wx)")
    out = subprocess.run(sandboxed("socialwatch-retention.service", sys.executable, "-c", code),
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert out == ["0000000000000000", "97", "allowed"]  # no capabilities, EAFNOSUPPORT; W+X: see above


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace and raw sockets")
def test_sensor_captures_inside_its_sandbox(tmp_path):
    query = ("import socket, struct; q = b''.join(bytes([len(l)]) + l for l in b'www.tiktok.com'.split(b'.'))"
             " + b'\\x00'; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
             " s.sendto(struct.pack('!HHHHHH', 7, 0x0100, 1, 0, 0, 0) + q + struct.pack('!HH', 1, 1),"
             " (__import__('sys').argv[1], 53))")
    # In namespaces of its own (the appliance captures on its LAN side), so no address appears on the host.
    with appliance_network() as net:
        out, err = tmp_path / "sensor.out", tmp_path / "sensor.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            sensor = subprocess.Popen(
                net.command(net.appliance, *sandboxed(
                    "socialwatch-sensor.service", str(BIN / "socialwatch"), "sensor", "--interface", "lan0",
                    "--print", "--storage-url", "chdb:var/socialwatch.chdb", "--metrics-port", "0",
                    "--district-subnet", DISTRICT_SUBNET)),
                stdout=stdout, stderr=stderr, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while "capturing on" not in err.read_text():
                assert sensor.poll() is None and time.monotonic() < deadline, err.read_text()[-3000:]
                time.sleep(0.1)
            lines: list[dict] = []
            while not lines and time.monotonic() < deadline:
                assert net.run(net.device, sys.executable, "-c", query, net.platform_ip).returncode == 0
                time.sleep(0.5)
                lines = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        finally:
            stop(sensor, timeout=30)
    assert {(l["proto"], l["name"], l["platform"], l["client"]) for l in lines} == {
        ("dns", "www.tiktok.com", "tiktok", net.device_ip)}
    assert sensor.returncode == 0, err.read_text()[-3000:]


def test_the_review_application_serves_inside_its_sandbox(tmp_path, clickhouse_server):
    """With a ClickHouse server, `socialwatch review` runs as its own unit, memory W^X included."""
    import httpx

    from support.processes import free_port, stop, wait_for_port

    port = free_port()
    process = subprocess.Popen(
        sandboxed("socialwatch-review.service", str(BIN / "socialwatch"), "review", "--port", str(port),
                  "--storage-url", clickhouse_server.url_for("review_unit")),
        cwd=tmp_path, stdout=(tmp_path / "review.log").open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, tmp_path / "review.log", timeout=60)
        page = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=10)
        assert page.status_code == 200 and "Sign in" in page.text
    finally:
        stop(process)
    assert "MemoryDenyWriteExecute" in (UNITS / "socialwatch-review.service").read_text()
