"""A real ZooKeeper (Debian's zookeeper package) for the replicated-cluster tests.

Standalone, on a free loopback port, with its own data directory; what ClickHouse
18.16 needs for Replicated tables and ON CLUSTER (distributed DDL).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from support.processes import free_port, stop, wait_for_port

JAR = Path("/usr/share/java/zookeeper.jar")
CONFIG = """\
dataDir={data}
clientPort={port}
clientPortAddress=127.0.0.1
tickTime=500
admin.enableServer=false
"""


class ZooKeeperProcess:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        (directory / "data").mkdir(parents=True, exist_ok=True)
        (directory / "zoo.cfg").write_text(CONFIG.format(data=directory / "data", port=self.port))

    def start(self) -> None:
        java = shutil.which("java")
        if java is None or not JAR.exists():
            pytest.fail("ZooKeeper is not installed: run `make test`, which installs Debian's zookeeper "
                        "package (and Java) and then runs the tests", pytrace=False)
        log = self.directory / "zookeeper.log"
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [java, "-Xmx256m", "-cp", f"/etc/zookeeper/conf:{JAR}",
                 "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.directory / "zoo.cfg")],
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.port, self.process, log)
            self._wait_until_serving(java, log)
        except BaseException:
            self.stop()
            raise

    def _wait_until_serving(self, java: str, log: Path, timeout: float = 30.0) -> None:
        """The port opens before ZooKeeper takes sessions, and ClickHouse 18.16 crashes when
        its first session is refused: wait until ZooKeeper's own client lists "/"."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = subprocess.run(
                [java, "-cp", str(JAR), "org.apache.zookeeper.ZooKeeperMain", "-server", f"127.0.0.1:{self.port}",
                 "ls", "/"], capture_output=True, text=True, timeout=timeout)
            if "[zookeeper]" in listed.stdout:
                return
            time.sleep(0.2)
        raise RuntimeError(f"ZooKeeper took no session within {timeout:.0f} s:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=10)
            self.process = None
