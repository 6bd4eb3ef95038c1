"""`socialwatch deploy nftables`: the ruleset loads into a real nftables (in a throwaway namespace) and says
what the configuration says. What it does to traffic is tested end to end in test_deploy_transparent.py."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

BIN = pathlib.Path(sys.executable).parent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace and nftables")


@contextlib.contextmanager
def namespace():
    name = f"swnft{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def ruleset(tmp_path: pathlib.Path, toml: str, *args: str) -> str:
    config = tmp_path / "socialwatch.toml"
    config.write_text(toml)
    return subprocess.run([str(BIN / "socialwatch"), "deploy", "nftables", "--config", str(config), *args],
                          capture_output=True, text=True, check=True).stdout


def load(ns: str, text: str) -> dict:
    """nft -f the ruleset inside `ns`; the table as nftables reads it back (JSON)."""
    result = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    listed = subprocess.run(["ip", "netns", "exec", ns, "nft", "-j", "list", "table", "inet", "socialwatch"],
                            capture_output=True, text=True, check=True)
    return json.loads(listed.stdout)


def without_handles(value):
    """The listing without the kernel's object handles, which a reload renumbers."""
    if isinstance(value, dict):
        return {k: without_handles(v) for k, v in value.items() if k != "handle"}
    if isinstance(value, list):
        return [without_handles(v) for v in value]
    return value


def sets(table: dict) -> dict[str, list]:
    out = {}
    for item in table["nftables"]:
        if "set" in item:
            out[item["set"]["name"]] = [e["prefix"]["addr"] + "/" + str(e["prefix"]["len"])
                                        for e in item["set"].get("elem", [])]
    return out


def redirect_ports(table: dict) -> list[int]:
    return [part["redirect"]["port"] for item in table["nftables"] if "rule" in item
            for part in item["rule"]["expr"] if "redirect" in part]


def test_ruleset_follows_the_configuration_and_reloads_in_place(tmp_path):
    text = ruleset(tmp_path, '[proxy]\nlisten_port = 3128\n'
                   'district_subnets = ["10.20.0.0/16", "172.20.0.0/24", "fd00:20::/48"]\n')
    with namespace() as ns:
        first = load(ns, text)
        again = load(ns, text)  # loading twice replaces the table instead of failing or duplicating rules
    assert without_handles(first) == without_handles(again)
    assert sets(first) == {"district4": ["10.20.0.0/16", "172.20.0.0/24"], "district6": ["fd00:20::/48"]}
    assert redirect_ports(first) == [3128, 3128]


def test_port_option_and_ipv4_only_districts(tmp_path):
    text = ruleset(tmp_path, '[proxy]\ndistrict_subnets = ["192.168.10.0/24"]\n', "--port", "8443")
    with namespace() as ns:
        table = load(ns, text)
    assert sets(table) == {"district4": ["192.168.10.0/24"], "district6": []}
    assert redirect_ports(table) == [8443, 8443]
    assert "udp dport 443 reject" in text


def test_bad_configuration_is_refused(tmp_path):
    config = tmp_path / "socialwatch.toml"
    config.write_text('[proxy]\ndistrict_subnets = ["not a network"]\n')
    result = subprocess.run([str(BIN / "socialwatch"), "deploy", "nftables", "--config", str(config)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "proxy.district_subnets" in result.stderr
