"""The PAC file of explicit mode, evaluated by a real JavaScript engine (Node.js, as in Debian's `nodejs`).

The PAC file must send a host to the proxy exactly when the proxy would decrypt
it: `Catalog.lookup(host).intercept`. Every catalog host, names under them,
brands under many public suffixes and near-misses are checked against the
catalog itself.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from socialwatch.proxy_addons.catalog import Catalog

BIN = pathlib.Path(sys.executable).parent
PROXY = "10.66.0.1:8080"
SUFFIXES = ["com", "de", "co.uk", "com.br", "co.jp", "com.au", "foo.ck", "github.io", "appspot.com", "notatld"]
EXPLICIT = {
    "www.instagram.com": f"PROXY {PROXY}",
    "WWW.Instagram.COM.": f"PROXY {PROXY}",
    "i.instagram.com": f"PROXY {PROXY}",
    "www.instagram.co.uk": f"PROXY {PROXY}",   # a brand under a two-label public suffix
    "instagram.de": f"PROXY {PROXY}",
    "scontent.cdninstagram.com": "DIRECT",       # media: passed through by the proxy anyway
    "notinstagram.com": "DIRECT",                # not on a label boundary
    "instagram.github.io": "DIRECT",             # somebody's page (github.io is not an ICANN suffix)
    "instagram.co.uk.example.org": "DIRECT",
    "i.redd.it": "DIRECT",                       # a media host under a decrypted domain: the longest entry wins
    "redd.it": f"PROXY {PROXY}",
    "igcdn-photos-a.akamaihd.net": "DIRECT",     # prefix: media
    "thepiratebay.org": "DIRECT",                # piracy: recorded from the server name, never decrypted
    "example.org": "DIRECT",
    "intranet": "DIRECT",
    "198.51.100.10": "DIRECT",
}


def catalog_hosts(catalog: Catalog) -> list[str]:
    hosts = []
    for p in catalog.platforms.values():
        for domain in (*p.domains, *p.media):
            hosts += [domain, f"www.{domain}", f"a.b.{domain}", f"not{domain}", f"{domain}.example.net"]
        for brand in p.brands:
            hosts += [f"{brand}.{suffix}" for suffix in SUFFIXES] + [f"www.{brand}.{s}" for s in SUFFIXES]
            hosts += [f"{brand}x.com", f"{brand}.com.example.org"]
        for prefix in p.prefixes:
            hosts += [f"{prefix}1.example.net", f"x{prefix}1.example.net"]
    return hosts


def find_proxy(pac: str, hosts: list[str]) -> dict[str, str]:
    """FindProxyForURL(url, host) for each host, evaluated by Node in a fresh V8 context."""
    script = (
        "const vm = require('vm'); const fs = require('fs');"
        "const [pac, hosts] = [fs.readFileSync(0, 'utf8'), JSON.parse(process.argv[1])];"
        "const ctx = vm.createContext({}); vm.runInContext(pac, ctx);"
        "const out = {}; for (const h of hosts) out[h] = ctx.FindProxyForURL('https://' + h + '/', h);"
        "console.log(JSON.stringify(out));"
    )
    out = subprocess.run(["node", "-e", script, json.dumps(hosts)], input=pac,
                         capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def pac() -> str:
    out = subprocess.run([str(BIN / "socialwatch"), "deploy", "pac", "--proxy", PROXY],
                         capture_output=True, text=True, check=True)
    return out.stdout


@pytest.mark.parametrize("host, expected", EXPLICIT.items())
def test_find_proxy_for_known_hosts(pac, host, expected):
    assert find_proxy(pac, [host]) == {host: expected}


def test_pac_agrees_with_the_catalog_on_every_host(pac):
    catalog = Catalog.load()
    hosts = catalog_hosts(catalog)
    answers = find_proxy(pac, hosts)
    expected = {}
    for host in hosts:
        match = catalog.lookup(host)
        expected[host] = f"PROXY {PROXY}" if match is not None and match.intercept else "DIRECT"
    disagreements = {h: (answers[h], expected[h]) for h in hosts if answers[h] != expected[h]}
    assert not disagreements
    assert sum(a != "DIRECT" for a in answers.values()) > 100  # the table really exercises both answers


def test_pac_needs_an_address_devices_can_reach():
    result = subprocess.run([str(BIN / "socialwatch"), "deploy", "pac"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "give --proxy HOST:PORT" in result.stderr


def test_pac_default_proxy_is_the_configured_listen_address(tmp_path):
    config = tmp_path / "socialwatch.toml"
    config.write_text('[proxy]\nlisten_host = "10.66.0.1"\nlisten_port = 3128\n')
    result = subprocess.run([str(BIN / "socialwatch"), "deploy", "pac", "--config", str(config)],
                            capture_output=True, text=True, check=True)
    assert find_proxy(result.stdout, ["www.tiktok.com"]) == {"www.tiktok.com": "PROXY 10.66.0.1:3128"}
