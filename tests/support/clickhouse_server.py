"""A real ClickHouse server (Debian's clickhouse-server 18.16) for the test session.

The server gets its own config, users, data and logs in a pytest temporary
directory, listens on free loopback ports only, and runs in America/Chicago,
not UTC, so that any value not pinned to UTC shows up as a shifted time.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from clickhouse_driver import Client
from support.processes import free_port, stop

START_TIMEOUT = 30.0
SERVER_TIME_ZONE = "America/Chicago"

CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{dir}/server.log</log>
        <errorlog>{dir}/server.err.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{port}</tcp_port>
    <http_port>{http_port}</http_port>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>{time_zone}</timezone>
    <mark_cache_size>268435456</mark_cache_size>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
"""


@dataclasses.dataclass(frozen=True)
class ClickHouseServer:
    host: str
    port: int
    """Native protocol port."""
    http_port: int
    version: str
    directory: Path
    """Config, data and logs (server.log, server.err.log)."""

    @property
    def url(self) -> str:
        return self.url_for("socialwatch_test")

    def url_for(self, database: str) -> str:
        """A storage url for ``database`` (created by ``migrate()``)."""
        return f"clickhouse://default:@{self.host}:{self.port}/{database}"


class ClickHouseProcess:
    """One clickhouse-server in its own directory, which can be killed and started again
    on the same ports and data (fault tests)::

        server = ClickHouseProcess(tmp_path / "ch")
        info = server.start()        # a ClickHouseServer
        server.kill()                # SIGKILL, as a crash
        server.start()               # same ports, same data
        server.stop()
    """

    def __init__(self, directory: Path, users_xml: str = USERS, ready_user: tuple[str, str] = ("default", "")):
        """`ready_user` (name, password) is who asks the server whether it is up: give another
        user when `users_xml` or a users.d file removes `default`."""
        self.directory = directory
        self.ready_user = ready_user
        self.port, self.http_port = free_port(), free_port()
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.xml").write_text(CONFIG.format(
            dir=directory, port=self.port, http_port=self.http_port, time_zone=SERVER_TIME_ZONE))
        (directory / "users.xml").write_text(users_xml)

    def start(self) -> ClickHouseServer:
        binary = _find_binary()
        with open(self.directory / "stdout.log", "ab") as output:
            self.process = subprocess.Popen(
                [binary, f"--config-file={self.directory / 'config.xml'}"],
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )
        try:
            version = _wait_until_ready(self.process, "127.0.0.1", self.port, self.directory, self.ready_user)
        except BaseException:
            self.stop()
            raise
        return ClickHouseServer("127.0.0.1", self.port, self.http_port, version, self.directory)

    def kill(self) -> None:
        """SIGKILL: no flush, no clean shutdown."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=15)
            self.process = None


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory):
    server = ClickHouseProcess(tmp_path_factory.mktemp("clickhouse"))
    try:
        yield server.start()
    finally:
        server.stop()


def _find_binary() -> str:
    # Debian installs the server in /usr/sbin, which is not on every user's PATH.
    search_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    binary = shutil.which("clickhouse-server", path=search_path)
    if binary is None:
        pytest.fail("clickhouse-server is not installed: run `make test`, which installs "
                    "Debian's clickhouse-server package and then runs the tests", pytrace=False)
    return binary


def _wait_until_ready(process: subprocess.Popen, host: str, port: int, directory: Path,
                      user: tuple[str, str] = ("default", "")) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"clickhouse-server exited with status {process.returncode} during start-up\n"
                        f"{_log_tail(directory)}", pytrace=False)
        try:
            # A bare connect first: the driver logs a traceback for every refused attempt.
            socket.create_connection((host, port), timeout=1).close()
            client = Client(host=host, port=port, connect_timeout=1, user=user[0], password=user[1])
            try:
                return client.execute("SELECT version()")[0][0]
            finally:
                client.disconnect()
        except Exception as exc:  # not ready yet
            last_error = exc
        time.sleep(0.05)
    pytest.fail(f"clickhouse-server did not answer a query on {host}:{port} within {START_TIMEOUT:.0f} s "
                f"(last error: {last_error})\n{_log_tail(directory)}", pytrace=False)


def _log_tail(directory: Path, lines: int = 30) -> str:
    parts = []
    for name in ("stdout.log", "server.err.log", "server.log"):
        path = directory / name
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path} (last {len(tail)} lines) ---\n" + "\n".join(tail))
    return "\n".join(parts) or f"(no logs in {directory})"
