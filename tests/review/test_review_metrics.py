"""Review-health metrics (issue 7): /metrics on the review application, read from ClickHouse at scrape time.

Flags are stored with the real classifier in a real ClickHouse; a counselor acknowledges and resolves some
through the real application (httpx); Prometheus's own promtool lints what /metrics serves, and the catalog
(docs/metrics.md) documents every family.
"""

from __future__ import annotations

import datetime
import pathlib
import re
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from support.review_site import NORTH, SOUTH, csrf_token

REPO = pathlib.Path(__file__).resolve().parents[2]
SEVERITIES = ("low", "medium", "high", "critical")
AGES = ("lt_1h", "1h_24h", "1d_7d", "gt_7d")
ALLOWED_LABELS = {"severity": set(SEVERITIES), "age": set(AGES)}
SLACK = 60  # seconds between seeding, acting and scraping, on a slow machine


def scrape(client) -> dict:
    """{(sample name, frozenset of labels): value} and the families' types, from /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples, types = {}, {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return {"samples": samples, "types": types, "text": response.text}


def value(metrics: dict, name: str, **labels) -> float:
    return metrics["samples"][name, frozenset(labels.items())]


def act(client, flag_id: str, **form) -> None:
    token = csrf_token(client, f"/flags/{flag_id}")
    response = client.post(f"/flags/{flag_id}/action", data={"csrf_token": token, **form})
    assert response.status_code == 302, response.text


def test_the_gauges_follow_the_queue(site):
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    def ago(**delta) -> datetime.datetime:
        return now - datetime.timedelta(**delta)

    flags = {
        "critical_new": site.seed("i want to kill myself", when=ago(minutes=20), device="10.1.0.1", person="u-1"),
        "high_acknowledged": site.seed("I am going to kill you", when=ago(hours=2), device="10.1.0.2", person="u-2"),
        "medium_south": site.seed("nobody likes you", school=SOUTH, when=ago(days=3), device="10.2.0.3",
                                  person="u-3"),
        "high_old": site.seed("kys", when=ago(days=10), device="10.1.0.4", person="u-4"),
        "medium_resolved": site.seed("you are such a loser, nobody likes you", when=ago(hours=5),
                                     device="10.1.0.5", person="u-5"),
        "critical_too_old": site.seed("I want to die tonight", when=ago(days=100), device="10.1.0.6",
                                      person="u-6"),
    }
    anonymous = site.client()  # Prometheus does not sign in
    before = scrape(anonymous)
    assert value(before, "socialwatch_review_unacknowledged_flags", severity="high") == 2
    assert value(before, "socialwatch_review_storage_up") == 1

    north = site.client("north")
    act(north, flags["high_acknowledged"], action="acknowledge")
    act(north, flags["medium_resolved"], action="status", status="resolved")
    after = scrape(anonymous)

    expected_open = {("critical", "lt_1h"): 1, ("high", "1h_24h"): 1, ("medium", "1d_7d"): 1, ("high", "gt_7d"): 1}
    for severity in SEVERITIES:
        for age in AGES:
            assert value(after, "socialwatch_review_open_flags", severity=severity, age=age) == \
                expected_open.get((severity, age), 0), (severity, age)
    assert {s: value(after, "socialwatch_review_unacknowledged_flags", severity=s) for s in SEVERITIES} == \
        {"low": 0, "medium": 1, "high": 1, "critical": 1}
    oldest = {s: value(after, "socialwatch_review_oldest_unacknowledged_seconds", severity=s) for s in SEVERITIES}
    assert oldest["low"] == 0
    assert 20 * 60 <= oldest["critical"] <= 20 * 60 + SLACK, "the 100-day-old flag is beyond the lookback"
    assert 10 * 86400 <= oldest["high"] <= 10 * 86400 + SLACK
    assert 3 * 86400 <= oldest["medium"] <= 3 * 86400 + SLACK

    # Time to acknowledge: a gauge histogram of the flags first acknowledged in the last 7 days.
    assert after["types"]["socialwatch_review_time_to_acknowledge_seconds"] == "histogram"
    wait = "socialwatch_review_time_to_acknowledge_seconds"
    assert value(after, f"{wait}_gcount", severity="high") == 1
    assert 7200 <= value(after, f"{wait}_gsum", severity="high") <= 7200 + SLACK
    assert value(after, f"{wait}_bucket", severity="high", le="3600.0") == 0
    assert value(after, f"{wait}_bucket", severity="high", le="14400.0") == 1
    assert value(after, f"{wait}_bucket", severity="high", le="+Inf") == 1
    assert value(after, f"{wait}_gcount", severity="medium") == 1
    assert 5 * 3600 <= value(after, f"{wait}_gsum", severity="medium") <= 5 * 3600 + SLACK
    assert value(after, f"{wait}_bucket", severity="medium", le="14400.0") == 0
    assert value(after, f"{wait}_bucket", severity="medium", le="86400.0") == 1
    assert value(after, f"{wait}_gcount", severity="critical") == 0

    # No label names a student, a device, a person or a flag: only severities, age buckets and bucket bounds.
    identifying = set(flags.values()) | {f"10.{school}.0.{n}" for school in (1, 2) for n in range(1, 7)}
    identifying |= {site.pseudonyms.of(f"u-{n}") for n in range(1, 7)} | {NORTH, SOUTH}
    for name, labels in after["samples"]:
        for label, label_value in labels:
            assert label_value not in identifying, (name, label)
            if label == "le":
                assert label_value == "+Inf" or float(label_value) > 0
            else:
                assert label_value in ALLOWED_LABELS[label], (name, label, label_value)
    for flag_id in flags.values():
        assert flag_id not in after["text"]


def test_metrics_pass_promtool_and_are_in_the_catalog(site):
    site.seed("i want to kill myself")
    text = site.client().get("/metrics").text
    lint = subprocess.run(["promtool", "check", "metrics"], check=False, input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    catalog = {}
    for line in (REPO / "docs" / "metrics.md").read_text().splitlines():
        match = re.match(r"\| `([a-z_]+)` \| ([a-z ]+) \|", line)
        if match:
            catalog[match.group(1)] = match.group(2)
    families = {family.name: family.type for family in text_string_to_metric_families(text)}
    documented_types = {"gauge": "gauge", "histogram": "gauge histogram"}
    for name, kind in families.items():
        base = re.sub(r"_g(count|sum)$", "", name)
        if base != name:
            assert base in families, name  # the gauge histogram's count and sum
            continue
        assert name in catalog, f"{name} is not in docs/metrics.md"
        assert catalog[name] == documented_types[kind], name
    assert {name for name in catalog if name.startswith("socialwatch_review_")} <= set(families)


def test_metrics_without_storage_say_so_and_nothing_else(site):
    client = site.client()
    assert "socialwatch_review_open_flags" in client.get("/metrics").text
    site.store.close()
    metrics = scrape(client)
    assert value(metrics, "socialwatch_review_storage_up") == 0
    assert "socialwatch_review_open_flags" not in metrics["text"]
