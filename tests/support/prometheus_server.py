"""A real Prometheus (Debian's package) scraping socialwatch on loopback."""

from __future__ import annotations

import contextlib
import pathlib
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import yaml

from support.processes import free_port, stop, wait_for_port


class Prometheus:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def query(self, promql: str) -> list[dict]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict]:
        """Query until the result is non-empty (scrapes happen every second)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


@contextlib.contextmanager
def running_prometheus(workdir: pathlib.Path, targets: list[str] = (), *, config: dict | None = None,
                       consoles: pathlib.Path | None = None) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` every second, or with a whole `config`; with the console
    templates and libraries under `consoles` (its consoles/ and console_libraries/)."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus is not installed: run `make test`, which installs Debian's package")
    workdir.mkdir(parents=True, exist_ok=True)
    config = config or {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "socialwatch", "static_configs": [{"targets": list(targets)}]}],
    }
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log = workdir / "prometheus.log"
    args = [binary, f"--config.file={config_file}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    if consoles is not None:
        args += [f"--web.console.templates={consoles / 'consoles'}",
                 f"--web.console.libraries={consoles / 'console_libraries'}"]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield Prometheus(port)
    finally:
        stop(process)
