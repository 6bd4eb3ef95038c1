"""Three network namespaces — device, appliance, internet — for transparent-mode tests (needs root).

    device ──veth── appliance (routes; the proxy behind nftables) ──veth── internet (stand-in servers)

Addresses are private (10.66.0.0/24 district LAN, 10.67.0.0/24 a non-district
network on the same wire) and TEST-NET-2 (198.51.100.0/24, the "internet"); they
exist only inside these namespaces, which share nothing with the host's network
and are deleted on exit, also when the test fails.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
from collections.abc import Iterator

DISTRICT_SUBNET = "10.66.0.0/24"
DISTRICT_SUBNET6 = "fd66::/64"


@dataclasses.dataclass(frozen=True)
class ApplianceNetwork:
    device: str
    appliance: str
    internet: str
    """Namespace names."""
    device_ip: str = "10.66.0.2"
    """A district device."""
    device_ip6: str = "fd66::2"
    guest_ip: str = "10.67.0.2"
    """The same device's address on a network outside the district subnets."""
    platform_ip: str = "198.51.100.10"
    """Where the device's DNS would send www.instagram.com."""
    platform_ip6: str = "2001:db8:51::10"
    other_ip: str = "198.51.100.20"
    """Where the device's DNS would send an ordinary, non-platform site."""

    def command(self, namespace: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *argv]

    def run(self, namespace: str, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(namespace, *argv), capture_output=True, text=True, timeout=timeout,
                              check=False)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@contextlib.contextmanager
def appliance_network() -> Iterator[ApplianceNetwork]:
    tag = f"{os.getpid() % 100000}"
    net = ApplianceNetwork(device=f"swdev{tag}", appliance=f"swapp{tag}", internet=f"swnet{tag}")
    created = []
    try:
        for ns in (net.device, net.appliance, net.internet):
            _ip("netns", "add", ns)
            created.append(ns)
        # Links are created straight inside the namespaces: nothing appears in the host's namespace.
        _ip("link", "add", "lan0", "netns", net.device, "type", "veth", "peer", "name", "lan0", "netns", net.appliance)
        _ip("link", "add", "wan0", "netns", net.appliance, "type", "veth",
            "peer", "name", "wan0", "netns", net.internet)
        setup = {
            net.device: [
                ["addr", "add", f"{net.device_ip}/24", "dev", "lan0"],
                ["addr", "add", f"{net.guest_ip}/24", "dev", "lan0"],
                ["-6", "addr", "add", f"{net.device_ip6}/64", "dev", "lan0", "nodad"],
                ["link", "set", "lan0", "up"], ["link", "set", "lo", "up"],
                ["route", "add", "default", "via", "10.66.0.1"],
                ["-6", "route", "add", "default", "via", "fd66::1"],
            ],
            net.appliance: [
                ["addr", "add", "10.66.0.1/24", "dev", "lan0"],
                ["addr", "add", "10.67.0.1/24", "dev", "lan0"],
                ["-6", "addr", "add", "fd66::1/64", "dev", "lan0", "nodad"],
                ["addr", "add", "198.51.100.1/24", "dev", "wan0"],
                ["-6", "addr", "add", "2001:db8:51::1/64", "dev", "wan0", "nodad"],
                ["link", "set", "lan0", "up"], ["link", "set", "wan0", "up"], ["link", "set", "lo", "up"],
            ],
            net.internet: [
                ["addr", "add", "198.51.100.2/24", "dev", "wan0"],
                ["addr", "add", f"{net.platform_ip}/24", "dev", "wan0"],
                ["addr", "add", f"{net.other_ip}/24", "dev", "wan0"],
                ["-6", "addr", "add", f"{net.platform_ip6}/64", "dev", "wan0", "nodad"],
                ["link", "set", "wan0", "up"], ["link", "set", "lo", "up"],
                ["route", "add", "default", "via", "198.51.100.1"],
                ["-6", "route", "add", "default", "via", "2001:db8:51::1"],
            ],
        }
        for ns, commands in setup.items():
            for args in commands:
                _ip("-n", ns, *args)
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            result = net.run(net.appliance, "sysctl", "-q", "-w", key)
            if result.returncode:
                raise RuntimeError(f"sysctl {key}: {result.stderr.strip()}")
        yield net
    finally:
        for ns in reversed(created):  # deleting a namespace deletes its veth ends, and their peers
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
