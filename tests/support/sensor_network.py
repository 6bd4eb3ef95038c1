"""A network namespace joined to this one by a veth pair, for live-capture tests (needs root).

The test's "device" lives in the namespace at CLIENT_IP; this namespace's end of
the pair has SERVER_IP, where the test's servers listen and the sensor captures.
Addresses are from TEST-NET-1 (192.0.2.0/24), reachable only over this pair, and
everything is removed on exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import subprocess
import time
from collections.abc import Iterator


@dataclasses.dataclass(frozen=True)
class VethNetwork:
    namespace: str
    interface: str
    """This namespace's end of the pair: where the sensor captures."""
    server_ip: str
    client_ip: str
    subnet: str

    def run(self, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        """Run a command inside the namespace (as the device)."""
        return subprocess.run(["ip", "netns", "exec", self.namespace, *argv],
                              capture_output=True, text=True, timeout=timeout, check=False)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _wait_until_up(interface: str, timeout: float = 5.0) -> None:
    """A veth end is up only once both ends are: until then what is sent over it is lost."""
    state = pathlib.Path("/sys/class/net") / interface / "operstate"
    deadline = time.monotonic() + timeout
    while state.read_text().strip() != "up":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{interface} is still {state.read_text().strip()} after {timeout} s")
        time.sleep(0.05)


@contextlib.contextmanager
def veth_network() -> Iterator[VethNetwork]:
    tag = f"{os.getpid() % 100000}"
    block = (os.getpid() % 60) * 4  # a /30 of its own, so parallel test runs do not collide
    net = VethNetwork(namespace=f"swsensor{tag}", interface=f"swh{tag}", server_ip=f"192.0.2.{block + 1}",
                      client_ip=f"192.0.2.{block + 2}", subnet=f"192.0.2.{block}/30")
    peer = f"swc{tag}"
    _ip("netns", "add", net.namespace)
    try:
        _ip("link", "add", net.interface, "type", "veth", "peer", "name", peer)
        try:
            _ip("link", "set", peer, "netns", net.namespace)
            _ip("addr", "add", f"{net.server_ip}/30", "dev", net.interface)
            _ip("link", "set", net.interface, "up")
            _ip("-n", net.namespace, "addr", "add", f"{net.client_ip}/30", "dev", peer)
            _ip("-n", net.namespace, "link", "set", peer, "up")
            _ip("-n", net.namespace, "link", "set", "lo", "up")
            _wait_until_up(net.interface)
            yield net
        finally:
            subprocess.run(["ip", "link", "del", net.interface], capture_output=True, check=False)
    finally:
        subprocess.run(["ip", "netns", "del", net.namespace], capture_output=True, check=False)
