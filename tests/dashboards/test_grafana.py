"""Grafana dashboards (dashboards/grafana/*.json): well-formed, and every query runs for real.

PromQL goes to a real Prometheus, the ClickHouse drill-down SQL to the real
ClickHouse server with the socialwatch schema, with Grafana's macros expanded
the way its ClickHouse data source expands them.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import uuid

import httpx
import pytest

from socialwatch.classifier.flags import Flag, Match
from socialwatch.events import ActivityEvent
from socialwatch.storage import open_storage
from support.prometheus_server import running_prometheus

GRAFANA = pathlib.Path(__file__).resolve().parents[2] / "dashboards" / "grafana"
DASHBOARDS = sorted(GRAFANA.glob("*.json"))


def targets(kind: str) -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == kind:
                    found.append((f"{path.stem}#{panel['id']}", target["expr" if kind == "prometheus" else "rawSql"]))
    return found


def test_there_are_dashboards_for_activity_and_for_health():
    assert {p.stem for p in DASHBOARDS} >= {"socialwatch-overview", "socialwatch-health"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_a_dashboard_is_well_formed(path):
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']} has no query"
        uid = panel["datasource"]["uid"]
        assert uid.startswith("${") and uid[2:-1] in variables, "data sources are chosen on import, never hard-coded"
        for box in ("x", "y", "w", "h"):
            assert isinstance(panel["gridPos"][box], int)


def test_no_query_groups_by_a_person_or_a_device():
    for name, query in targets("prometheus") + targets("grafana-clickhouse-datasource"):
        grouped = " ".join(re.findall(r"by \(([^)]*)\)|GROUP BY ([\w ,]+)", query, re.IGNORECASE)[0]) \
            if re.search(r"by \(|GROUP BY", query, re.IGNORECASE) else ""
        assert not {"user", "person", "device", "host", "path"} & set(re.findall(r"\w+", grouped)), name


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), []) as prometheus:
        yield prometheus


@pytest.mark.parametrize("name, expr", targets("prometheus"), ids=[n for n, _ in targets("prometheus")])
def test_every_promql_query_is_accepted_by_prometheus(prometheus, name, expr):
    expr = expr.replace("$school", ".*")
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": expr}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"


DRILL_FLAG = Flag("bullying", "high", 1.0, 1.0, (Match("kys", "bullying", "harassment", "high", 1.0, 0, 3),),
                  "bullying: matched \"kys\"", "harassment")


@pytest.fixture(scope="module")
def store(clickhouse_server):
    store = open_storage(clickhouse_server.url_for(f"grafana_{uuid.uuid4().hex[:8]}"))
    store.migrate()
    yield store
    store.close()


@pytest.mark.parametrize("name, sql", targets("grafana-clickhouse-datasource"),
                         ids=[n for n, _ in targets("grafana-clickhouse-datasource")])
def test_every_clickhouse_drill_down_reads_the_dashboards_rollups(store, name, sql):
    # Grafana's $__timeFilter(col) expands to a range on col; the dashboards name the default database.
    # They read only the dashboards database: the one the least-privileged dashboards user may read.
    assert "socialwatch_dashboards." in sql and "socialwatch." not in sql
    sql = re.sub(r"\$__timeFilter\((\w+)\)", r"\1 >= toDateTime(0) AND \1 <= now()", sql)
    before = store.query(sql.replace("socialwatch_dashboards.", "{database}_dashboards."))
    store.write([(ActivityEvent(uuid.uuid4(), datetime.datetime.now(datetime.UTC), "10.0.0.1", "p", "tiktok",
                                "www.tiktok.com", "POST", "/c", "comment", 200, 10, 10, "proxy", "https",
                                school="North High", text="kys"), [DRILL_FLAG])])
    after = store.query(sql.replace("socialwatch_dashboards.", "{database}_dashboards."))
    assert sum(row[column] for row in after for column in row if column in ("requests", "flags")) == sum(
        row[column] for row in before for column in row if column in ("requests", "flags")) + 1
