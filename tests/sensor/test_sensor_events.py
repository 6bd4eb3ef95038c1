"""From observations to stored events: district devices only, one per device, platform and minute."""

from __future__ import annotations

import ipaddress
import pathlib
import uuid

from clickhouse_driver import Client
from prometheus_client import CollectorRegistry
from socialwatch.dashboards.metrics import Metrics
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.scope import DistrictScope
from socialwatch.proxy_addons.sensor import Observation, Sensor
from socialwatch.proxy_addons.sensor.aggregate import Aggregator
from support.sensor_packets import (
    client_hello,
    dns_query,
    quic_initials,
    tcp_segments,
    udp,
    write,
)

from socialwatch.cli import main

DISTRICT = "10.20.30.40"
GUEST = "192.0.2.50"


def obs(ts: float, name: str = "www.instagram.com", client: str = DISTRICT, proto: str = "tls", size: int = 100):
    return Observation(ts, proto, client, "198.51.100.7", 443, name, size)


def test_repeats_in_a_minute_become_one_event_with_their_bytes_summed():
    events = []
    aggregator = Aggregator(events.append, max_entries=100)
    for ts, client, platform in [(600.0, "a", "instagram"), (610.0, "a", "instagram"), (615.0, "a", "tiktok"),
                                 (620.0, "b", "instagram"), (659.9, "a", "instagram")]:
        aggregator.add(obs(ts, client=client), platform)
    assert events == []  # the minute is not over
    aggregator.add(obs(660.0, client="a"), "instagram")  # the next minute closes the previous one
    assert sorted((e.device, e.platform, e.request_bytes, e.time.timestamp()) for e in events) == [
        ("a", "instagram", 300, 600.0), ("a", "tiktok", 100, 615.0), ("b", "instagram", 100, 620.0)]
    aggregator.flush()
    assert len(events) == 4
    first = events[0]
    assert (first.source, first.protocol, first.action, first.status, first.person, first.method, first.path,
            first.response_bytes, first.host) == ("sensor", "tls", "connect", 0, "", "", "", 0, "www.instagram.com")


def test_a_full_aggregation_table_emits_its_oldest_entry_and_counts_it():
    events, hits = [], []
    aggregator = Aggregator(events.append, max_entries=2, on_limit=hits.append)
    for device in "abc":
        aggregator.add(obs(60.0, client=device), "instagram")
    assert [e.device for e in events] == ["a"] and hits == ["aggregation_entries"] and len(aggregator) == 2


def test_only_district_devices_on_catalog_platforms_become_events(tmp_path):
    packets = [
        dns_query("www.tiktok.com"),                       # district, platform: event
        dns_query("www.tiktok.com", client=GUEST),         # guest network: printed, not stored
        dns_query("example.org"),                          # no platform: printed, not stored
        *tcp_segments(client_hello("www.instagram.com"), 443, [90]),
    ]
    path = write(tmp_path / "mixed.pcap", packets)
    metrics = Metrics(CollectorRegistry())
    events, printed = [], []
    scope = DistrictScope([ipaddress.ip_network("10.0.0.0/8")], Catalog.load())
    sensor = Sensor(metrics, Catalog.load(), scope=scope, on_event=events.append,
                    on_observation=lambda o, p: printed.append((o.client, o.name, p)))
    from socialwatch.proxy_addons.sensor.capture import read_file
    for frame in read_file(str(path)):
        sensor.packet(*frame)
    sensor.close()
    assert len(printed) == 4
    assert sorted((e.device, e.platform, e.protocol) for e in events) == [
        (DISTRICT, "instagram", "tls"), (DISTRICT, "tiktok", "dns")]
    registry = metrics.registry
    assert registry.get_sample_value("socialwatch_sensor_events_total", {"proto": "dns"}) == 1
    assert registry.get_sample_value("socialwatch_sensor_observations_total", {"proto": "dns"}) == 3
    assert registry.get_sample_value("socialwatch_sensor_observations_total", {"proto": "tls"}) == 1


def test_read_store_writes_sensor_events_to_clickhouse(tmp_path, clickhouse_server, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the spool directory lands here
    database = f"sensor_{uuid.uuid4().hex[:8]}"
    packets = [dns_query("www.tiktok.com"), *[udp(d, 443) for d in quic_initials("www.instagram.com")],
               dns_query("www.instagram.com", client=GUEST)]
    path = write(tmp_path / "store.pcap", packets)
    assert main(["sensor", "--read", str(path), "--store", "--storage-url", clickhouse_server.url_for(database),
                 "--district-subnet", "10.0.0.0/8"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3
    assert "events: dns 1, quic 1" in captured.err
    client = Client(host=clickhouse_server.host, port=clickhouse_server.port)
    try:
        rows = client.execute(
            f"SELECT device, platform, host, source, protocol, action, status FROM {database}.events FINAL "
            "ORDER BY platform")
    finally:
        client.disconnect()
    assert rows == [(DISTRICT, "instagram", "www.instagram.com", "sensor", "quic", "connect", 0),
                    (DISTRICT, "tiktok", "www.tiktok.com", "sensor", "dns", "connect", 0)]


def stored_from_one_dns_query(tmp_path, server, config_text: str, columns: str) -> list[tuple]:
    """`columns` of the events the sensor stores from one DNS query for TikTok, with `config_text`."""
    database = f"sensor_{uuid.uuid4().hex[:8]}"
    config = tmp_path / "socialwatch.toml"
    config.write_text(config_text)
    path = write(tmp_path / "one.pcap", [dns_query("www.tiktok.com")])
    assert main(["sensor", "--read", str(path), "--store", "--config", str(config),
                 "--storage-url", server.url_for(database), "--district-subnet", "10.0.0.0/8"]) == 0
    client = Client(host=server.host, port=server.port)
    try:
        return client.execute(f"SELECT {columns} FROM {database}.events FINAL")
    finally:
        client.disconnect()


def test_the_sensor_stores_events_without_loading_a_lexicon(tmp_path, clickhouse_server, monkeypatch):
    """Names only, never text: the sensor's writer has no classifier, so a lexicon directory that
    no classifier could load (here an empty one) does not stop it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "no-lexicons").mkdir()
    rows = stored_from_one_dns_query(tmp_path, clickhouse_server,
                                     f'[classifier]\nlexicon_dir = "{tmp_path / "no-lexicons"}"\n', "platform, source")
    assert rows == [("tiktok", "sensor")]


def test_stored_sensor_events_carry_the_devices_person_school_and_age_band(tmp_path, clickhouse_server, monkeypatch):
    """Traffic that bypasses the proxy is still attributed like the proxy's: device -> person (pseudonym)."""
    from socialwatch.proxy_addons.identity import Pseudonyms

    monkeypatch.chdir(tmp_path)
    roster = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "identity" / "oneroster"
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(f"mac,ip,hostname,asset_tag,assigned_user\n,{DISTRICT},,ET-1,asmith\n")
    rows = stored_from_one_dns_query(
        tmp_path, clickhouse_server,
        f'[identity]\npseudonym_key_file = "{tmp_path / "key"}"\nroster_dir = "{roster}"\n'
        f'inventory_file = "{inventory}"\n', "device, person, school, age_band")
    assert rows == [(DISTRICT, Pseudonyms(tmp_path / "key").of("u-1002"), "Example Middle School", "under_13")]
