"""Identity and the procedure's rules through a real mitmdump: pseudonyms, schools, age bands, policy flags.

The appliance is given the test roster (OneRoster CSV), a device inventory and
the approved-accounts registry; district devices make real HTTPS requests.
"""

from __future__ import annotations

import json
import pathlib
import uuid

import pytest

from socialwatch.proxy_addons.identity import Pseudonyms
from socialwatch.storage import open_storage
from support.proxy import running_mitmdump
from support.stored import stored_rows
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
GRADE_6_DEVICE = "127.50.0.6"   # assigned to asmith, grade 6, Example Middle School
GRADE_10_DEVICE = "127.50.0.10"  # assigned to jdoe, grade 10, the high school


@pytest.fixture(scope="module")
def appliance(tmp_path_factory, clickhouse_server):
    workdir = tmp_path_factory.mktemp("appliance")
    inventory = workdir / "inventory.csv"
    inventory.write_text("mac,ip,hostname,asset_tag,assigned_user\n"
                         f",{GRADE_6_DEVICE},,ET-6,asmith\n,{GRADE_10_DEVICE},,ET-10,jdoe\n")
    key = workdir / "pseudonym.key"
    config = workdir / "socialwatch.toml"
    config.write_text(
        f'[identity]\npseudonym_key_file = "{key}"\nroster_dir = "{FIXTURES / "identity" / "oneroster"}"\n'
        f'inventory_file = "{inventory}"\n'
        f'[district]\napproved_accounts_file = "{FIXTURES / "approved_accounts.csv"}"\n'
    )
    certs = make_upstream_certs(workdir / "upstream", ["www.tiktok.com", "www.instagram.com"])
    store = open_storage(clickhouse_server.url_for(f"identity_{uuid.uuid4().hex[:8]}"))
    with UpstreamServer(certs) as upstream, running_mitmdump(
        workdir / "proxy", storage_url=clickhouse_server.url_for(store.database), upstream_port=upstream.port,
        certs=certs, district_subnets=["127.50.0.0/16"], options={"socialwatch_config": str(config)},
    ) as proxy:
        yield proxy, store, Pseudonyms(key)
    store.close()


def test_a_grade_6_student_on_tiktok_raises_one_coppa_flag_a_day(appliance):
    proxy, store, pseudonyms = appliance
    with proxy.client(GRADE_6_DEVICE) as client:
        for video in range(3):
            assert client.get(f"https://www.tiktok.com/@someone/video/{video}").status == 200
    events = stored_rows(store, "SELECT * FROM {database}.events WHERE device = {d:String}", {"d": GRADE_6_DEVICE})
    assert {(e["person"], e["school"], e["age_band"]) for e in events} == {
        (pseudonyms.of("u-1002"), "Example Middle School", "under_13")}
    flags = stored_rows(store, "SELECT * FROM {database}.flags WHERE category = 'coppa'", {})
    assert len(flags) == 1, "once a day per person, platform and rule"
    assert flags[0]["person"] == pseudonyms.of("u-1002") and "tiktok" in flags[0]["explanation"]
    stored = json.dumps(store.query("SELECT * FROM {database}.events") + store.query("SELECT * FROM {database}.flags"))
    assert "asmith" not in stored and "Alex" not in stored, "names never reach storage"


def test_a_signup_with_a_district_email_raises_a_district_account_flag(appliance):
    proxy, store, pseudonyms = appliance
    with proxy.client(GRADE_10_DEVICE) as client:
        response = client.post("https://www.instagram.com/api/v1/web/accounts/web_create_ajax/",
                               data={"email": "jdoe@essextech.net", "username": "jdoe_art", "first_name": "Jane",
                                     "enc_password": "#PWD_INSTAGRAM_BROWSER:0:0:secret"})
    assert response.status == 200
    [flag] = stored_rows(store, "SELECT * FROM {database}.flags WHERE category = 'district_account'", {})
    assert (flag["person"], flag["action"], flag["school"]) == (pseudonyms.of("u-1001"), "signup",
                                                                 "Essex North Shore Agricultural & Technical High School")
    assert flag["text"] == "" and "secret" not in json.dumps(store.query("SELECT * FROM {database}.flags"))


def test_an_approved_district_account_may_log_in(appliance):
    proxy, store, _ = appliance
    with proxy.client(GRADE_10_DEVICE) as client:
        client.post("https://www.instagram.com/accounts/login/ajax/",
                    data={"username": "essextechhawks", "email": "athletics@essextech.net", "enc_password": "x"})
    [event] = stored_rows(store, "SELECT * FROM {database}.events WHERE action = 'login'", {})
    assert event["flagged"] == 0


@pytest.fixture(scope="module")
def authenticating_proxy(tmp_path_factory, clickhouse_server):
    """The proxy with mitmproxy's own proxy authentication on (LDAP works the same way: --proxyauth ldap:...)."""
    workdir = tmp_path_factory.mktemp("proxyauth")
    key = workdir / "pseudonym.key"
    config = workdir / "socialwatch.toml"
    config.write_text(f'[identity]\npseudonym_key_file = "{key}"\nroster_dir = "{FIXTURES / "identity" / "oneroster"}"\n')
    certs = make_upstream_certs(workdir / "upstream", ["www.instagram.com"])
    store = open_storage(clickhouse_server.url_for(f"proxyauth_{uuid.uuid4().hex[:8]}"))
    with UpstreamServer(certs) as upstream, running_mitmdump(
        workdir / "proxy", storage_url=clickhouse_server.url_for(store.database), upstream_port=upstream.port,
        certs=certs, district_subnets=["127.50.0.0/16"],
        options={"socialwatch_config": str(config), "proxyauth": "mlee:correct-horse"},
    ) as proxy:
        yield proxy, store, Pseudonyms(key)
    store.close()


def test_the_proxy_login_names_the_person_and_wins_over_the_device(authenticating_proxy):
    proxy, store, pseudonyms = authenticating_proxy
    with proxy.client(GRADE_6_DEVICE, login=("mlee", "correct-horse")) as client:
        assert client.get("https://www.instagram.com/explore/").status == 200
    [event] = stored_rows(store, "SELECT * FROM {database}.events", {})
    assert (event["person"], event["age_band"]) == (pseudonyms.of("u-1003"), "adult")
    assert "mlee" not in json.dumps(event) and "correct-horse" not in json.dumps(event)
