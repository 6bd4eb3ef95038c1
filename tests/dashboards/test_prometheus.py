"""Prometheus for administrators: rules that pass promtool, and consoles a real browser renders.

A real mitmdump with the addon is fed generated traffic; a real Prometheus
(Debian's package) scrapes it with our configuration, rules and console
templates; Debian's Chromium, driven by Playwright, opens each console and must
find non-empty graphs and tables. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import time
import uuid

import pytest
import yaml
from playwright.sync_api import sync_playwright

from socialwatch.storage import open_storage
from support.prometheus_server import running_prometheus
from support.proxy import running_mitmdump
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

REPO = pathlib.Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "dashboards" / "prometheus"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEVICE = "127.40.0.5"
CONSOLES = {
    "socialwatch-overview.html": ["#activityTable", "#flagsTable"],
    "socialwatch-school.html?school=": ["#schoolsTable"],
    "socialwatch-health.html": ["#healthTable"],
}


@pytest.mark.parametrize("command", [
    ["check", "config", str(PROMETHEUS_DIR / "prometheus.yml")],
    ["check", "rules", str(PROMETHEUS_DIR / "rules.yml")],
    ["test", "rules", str(PROMETHEUS_DIR / "rules_test.yml")],
], ids=["config", "rules", "rule-unit-tests"])
def test_promtool_accepts_the_configuration_and_the_rules_pass_their_unit_tests(command):
    result = subprocess.run(["promtool", *command], capture_output=True, text=True, cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test():
    rules = yaml.safe_load((PROMETHEUS_DIR / "rules.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((PROMETHEUS_DIR / "rules_test.yml").read_text())["tests"]
    tested = {t["alertname"] for test in tests for t in test.get("alert_rule_test", [])}
    assert alerts == tested


def feed(proxy) -> None:
    """Some platform traffic, flagged and not, from one district device."""
    with proxy.client(DEVICE) as client:
        for i in range(6):
            client.get(f"https://www.tiktok.com/@someone/video/{i}")
            client.post(f"https://www.instagram.com/api/v1/web/comments/{i}/add/",
                        data={"comment_text": "nobody likes you" if i % 2 else "great game"})


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, clickhouse_server):
    certs = make_upstream_certs(tmp_path_factory.mktemp("upstream"), ["www.instagram.com", "www.tiktok.com"])
    store = open_storage(clickhouse_server.url_for(f"consoles_{uuid.uuid4().hex[:8]}"))
    with UpstreamServer(certs) as upstream, running_mitmdump(
        tmp_path_factory.mktemp("proxy"), storage_url=clickhouse_server.url_for(store.database),
        upstream_port=upstream.port, certs=certs, district_subnets=["127.40.0.0/16"],
    ) as proxy:
        yield proxy
    store.close()


def test_the_consoles_show_graphs_and_tables_in_a_real_browser(proxy, tmp_path):
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / "rules.yml")]
    config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{proxy.metrics_port}"]}]
    ARTIFACTS.mkdir(exist_ok=True)
    with running_prometheus(tmp_path / "prometheus", config=config, consoles=REPO / "dashboards") as prometheus:
        assert prometheus.wait_for('up{job="socialwatch"} == 1')
        # Twice: a series is born on the first request, and Prometheus counts increase from its first sample.
        feed(proxy)
        time.sleep(2)
        feed(proxy)
        assert prometheus.wait_for('increase(socialwatch_activity_events_total{platform="tiktok"}[1m]) > 0')
        assert prometheus.wait_for('socialwatch:flags:increase1h{category="bullying"} > 0'), "recording rules run"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
            ])
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            for console, tables in CONSOLES.items():
                page.goto(f"{prometheus.url}/consoles/{console}")
                for table in tables:
                    rows = page.locator(f"{table} tr")
                    assert rows.count() >= 2, f"{console}: {table} is empty"
                    assert "No activity" not in page.locator(table).inner_text()
                if page.locator(".sw-graph").count():
                    # A line per series; with a few seconds of data it may be a single point, so "attached".
                    page.wait_for_selector(".sw-graph svg path.path", state="attached", timeout=15_000)
                    assert page.locator(".sw-graph svg path.path").count() >= 1, f"{console}: no series drawn"
                page.screenshot(path=str(ARTIFACTS / f"{console.split('?')[0].removesuffix('.html')}.png"),
                                full_page=True)
            overview = page.goto(f"{prometheus.url}/consoles/socialwatch-overview.html")
            assert overview.ok
            text = page.locator("#activityTable").inner_text()
            assert "instagram" in text and "tiktok" in text
            assert "bullying" in page.locator("#flagsTable").inner_text()
            assert DEVICE not in page.content(), "no device address on an administrator page"
            browser.close()
    assert errors == []
