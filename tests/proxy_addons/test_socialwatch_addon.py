"""The addon's hooks, driven by mitmproxy's own test helpers (no network)."""

import pathlib
import ssl

import pytest
from mitmproxy import exceptions, tls
from mitmproxy.options import Options
from mitmproxy.proxy.context import Context
from mitmproxy.test import taddons, tflow

from socialwatch.proxy_addons import socialwatch_addon as addon_module
from socialwatch.proxy_addons.identity import IdentityResolver, Pseudonyms


@pytest.fixture
def addon():
    return addon_module.SocialWatch()


@pytest.fixture
def tctx(addon):
    with taddons.context(addon) as tctx:
        tctx.configure(addon, socialwatch_district_subnets=["10.0.0.0/8"], socialwatch_max_body_bytes=2048)
        yield tctx


def client_hello(client_ip: str, sni: str | None) -> tls.ClientHelloData:
    client = tflow.tclient_conn()
    client.peername = (client_ip, 50000)
    return tls.ClientHelloData(Context(client, Options()), tls.ClientHello(_client_hello_bytes(sni)))


def _client_hello_bytes(sni: str | None) -> bytes:
    """A real ClientHello from Python's ssl module, without record and handshake headers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    outgoing = ssl.MemoryBIO()
    connection = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        connection.do_handshake()
    return outgoing.read()[5 + 4:]


@pytest.mark.parametrize("client_ip, sni, passed_through, reason", [
    ("10.1.2.3", "www.instagram.com", False, None),
    ("10.1.2.3", "www.example.org", True, "not_social"),
    ("192.0.2.7", "www.instagram.com", True, "not_district"),
    ("10.1.2.3", None, True, "no_sni"),
])
def test_tls_is_intercepted_only_for_district_social_media(addon, tctx, client_ip, sni, passed_through, reason):
    data = client_hello(client_ip, sni)
    addon.tls_clienthello(data)
    assert data.ignore_connection is passed_through
    if reason:
        assert addon.metrics.registry.get_sample_value(
            "socialwatch_connections_passed_through_total", {"reason": reason}) == 1


def platform_flow(client_ip="10.1.2.3", host="www.instagram.com", **request):
    flow = tflow.tflow(resp=False)
    flow.client_conn.peername = (client_ip, 50000)
    flow.request.host = host
    flow.request.headers["host"] = host
    for name, value in request.items():
        setattr(flow.request, name, value)
    return flow


def test_a_district_request_to_a_platform_is_tagged_and_its_text_extracted(addon, tctx):
    flow = platform_flow(method="POST", path="/api/v1/web/comments/1/add/")
    flow.request.headers["content-type"] = "application/x-www-form-urlencoded"
    flow.request.content = b"comment_text=hello+there&csrftoken=zzz"
    event = recorded_event(addon, flow)
    assert flow.metadata[addon_module.PLATFORM] == "instagram"
    assert (event.platform, event.action, event.target, event.text) == ("instagram", "comment", "1", "hello there")
    assert not flow.request.stream
    assert addon.metrics.registry.get_sample_value(
        "socialwatch_activity_events_total", {"platform": "instagram", "action": "comment", "school": ""}) == 1


def test_other_requests_are_streamed_through_unread(addon, tctx):
    flow = platform_flow(host="www.example.org", method="POST")
    flow.request.content = b"secret=1"
    submitted = []
    addon.pipeline = type("Recorder", (), {"submit": staticmethod(submitted.append)})()
    addon.requestheaders(flow)
    addon._record(flow, 200)
    assert flow.request.stream is True
    assert addon_module.PLATFORM not in flow.metadata and submitted == []


def test_a_body_declared_over_the_limit_is_streamed_and_counted(addon, tctx):
    flow = platform_flow(method="POST")
    flow.request.headers["content-length"] = "999999"
    event = recorded_event(addon, flow)
    assert flow.request.stream is True
    assert (event.platform, event.action, event.text) == ("instagram", "other", ""), "recorded, not read"
    assert addon.metrics.registry.get_sample_value("socialwatch_bodies_skipped_total", {"reason": "too_large"}) == 1


def test_a_malformed_body_is_counted_and_nothing_raises(addon, tctx):
    flow = platform_flow(method="POST")
    flow.request.headers["content-type"] = "application/json"
    flow.request.content = b"{not json"
    event = recorded_event(addon, flow)
    assert (event.action, event.text) == ("other", ""), "recognized from the path alone"
    assert addon.metrics.registry.get_sample_value("socialwatch_bodies_skipped_total", {"reason": "malformed_json"}) == 1


@pytest.mark.parametrize("option, value, message", [
    ("socialwatch_district_subnets", ["10.0.0.0/33"], "proxy.district_subnets.0"),
    ("socialwatch_storage_url", "mysql://root:secret@db/x", "storage.url"),
    ("socialwatch_max_body_bytes", 10, "proxy.max_body_bytes"),
])
def test_bad_options_are_refused_naming_the_key(addon, tctx, option, value, message):
    with pytest.raises(exceptions.OptionsError, match=message) as refused:
        tctx.configure(addon, **{option: value})
    assert "secret" not in str(refused.value)


FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def test_a_bad_approved_accounts_registry_is_refused_at_configuration(addon, tctx, tmp_path):
    registry = tmp_path / "approved.csv"
    registry.write_text("platform,handle,owner,approved_on\nmyspace,a,b,2025-01-01\n")
    config = tmp_path / "socialwatch.toml"
    config.write_text(f"[district]\napproved_accounts_file = '{registry}'\n")
    with pytest.raises(exceptions.OptionsError, match="approved.csv:2: platform"):
        tctx.configure(addon, socialwatch_config=str(config))


@pytest.fixture
def identified(addon, tctx, tmp_path):
    """The addon with the test roster, inventory and leases, as running() sets it up."""
    config = tmp_path / "socialwatch.toml"
    config.write_text(
        f"[identity]\npseudonym_key_file = '{tmp_path / 'key'}'\nroster_dir = '{FIXTURES / 'identity' / 'oneroster'}'\n"
        f"inventory_file = '{FIXTURES / 'identity' / 'inventory.csv'}'\n"
        f"dhcpd_leases = '{FIXTURES / 'identity' / 'dhcpd.leases'}'\n"
        f"[district]\napproved_accounts_file = '{FIXTURES / 'approved_accounts.csv'}'\n"
    )
    tctx.configure(addon, socialwatch_config=str(config), socialwatch_district_subnets=["10.0.0.0/8"])
    addon.interpreter.identity = IdentityResolver(Pseudonyms(tmp_path / "key"), roster_dir=FIXTURES / "identity" / "oneroster",
                                      inventory=FIXTURES / "identity" / "inventory.csv",
                                      dhcpd_leases=FIXTURES / "identity" / "dhcpd.leases")
    return addon


def recorded_event(addon, flow, status=200):
    submitted = []
    addon.pipeline = type("Recorder", (), {"submit": staticmethod(submitted.append)})()
    addon.requestheaders(flow)
    addon._record(flow, status)
    [event] = submitted
    return event


def test_events_carry_a_pseudonym_school_and_age_band_never_a_name(identified, tmp_path):
    flow = platform_flow(client_ip="10.20.0.12", method="GET", path="/explore/")  # asmith's Chromebook, grade 6
    event = recorded_event(identified, flow)
    assert event.person == Pseudonyms(tmp_path / "key").of("u-1002")
    assert (event.school, event.age_band) == ("Example Middle School", "under_13")
    assert "asmith" not in repr(event)
    assert [flag.category for flag in event.policy] == ["coppa"]


def test_a_policy_flag_fires_once_a_day_per_person_platform_and_rule(identified):
    first = recorded_event(identified, platform_flow(client_ip="10.20.0.12", method="GET", path="/"))
    again = recorded_event(identified, platform_flow(client_ip="10.20.0.12", method="GET", path="/reels/"))
    assert [f.category for f in first.policy] == ["coppa"] and again.policy == ()


def test_a_signup_with_a_district_email_raises_a_district_account_flag(identified):
    flow = platform_flow(client_ip="10.20.0.11", method="POST", path="/api/v1/web/accounts/web_create_ajax/")
    flow.request.headers["content-type"] = "application/x-www-form-urlencoded"
    flow.request.content = b"email=jdoe%40essextech.net&username=jdoe_art&first_name=Jane&enc_password=x"
    event = recorded_event(identified, flow)
    assert event.action == "signup"
    assert [flag.category for flag in event.policy] == ["district_account"]
    assert "essextech.net" in event.policy[0].explanation
    assert event.text == "", "nothing of a signup form is text"


def test_a_query_padded_past_the_field_limit_is_still_recorded_and_counted(identified):
    # TikTok's web app sends a comment's words in the query string.
    padding = "&".join(f"p{i}=x" for i in range(500))
    event = recorded_event(identified, platform_flow(
        client_ip="10.20.0.11", host="www.tiktok.com", method="POST",
        path=f"/api/comment/publish/?aweme_id=7301&text=see%20you%20there&{padding}&text=unread"))
    assert (event.platform, event.action, event.path) == ("tiktok", "comment", "/api/comment/publish/")
    assert (event.target, event.text) == ("7301", "see you there"), "the fields past the limit are not read"
    assert identified.metrics.registry.get_sample_value(
        "socialwatch_bodies_skipped_total", {"reason": "too_many_query_fields"}) == 1


def test_a_query_no_recognizer_reads_is_not_parsed(identified):
    padding = "&".join(f"p{i}=x" for i in range(500))
    event = recorded_event(identified, platform_flow(client_ip="10.20.0.11", method="GET", path=f"/explore/?{padding}"))
    assert (event.platform, event.action, event.path) == ("instagram", "view", "/explore/")
    assert identified.metrics.registry.get_sample_value(
        "socialwatch_bodies_skipped_total", {"reason": "too_many_query_fields"}) is None


def test_staff_and_approved_district_accounts_are_professional_students_are_not(identified):
    teacher = platform_flow(client_ip="10.20.0.99", method="GET", path="/")
    teacher.metadata["proxyauth"] = ("mlee", "")  # the proxy's own sign-in: a teacher
    assert recorded_event(identified, teacher).professional
    student = platform_flow(client_ip="10.20.0.11", method="GET", path="/")  # jdoe's Chromebook
    assert not recorded_event(identified, student).professional
    # A student's device signed in to the district's approved athletics account: a district account.
    official = platform_flow(client_ip="10.20.0.11", method="POST", path="/api/v1/web/accounts/login/ajax/")
    official.request.headers["content-type"] = "application/x-www-form-urlencoded"
    official.request.content = b"username=essextechhawks&enc_password=x"
    assert recorded_event(identified, official).professional


def test_a_configuration_change_while_running_keeps_people_identified(identified, tctx, tmp_path):
    flow = platform_flow(client_ip="10.20.0.12", method="GET", path="/explore/")  # asmith's Chromebook
    before = recorded_event(identified, flow)
    assert before.person and before.school  # recorded_event left a pipeline in place: the proxy is running
    config = tmp_path / "socialwatch.toml"
    config.write_text(config.read_text() + "\n[proxy]\nmax_body_bytes = 4096\n")
    tctx.configure(identified, socialwatch_config=str(config))
    after = recorded_event(identified, platform_flow(client_ip="10.20.0.12", method="GET", path="/explore/"))
    assert (after.person, after.school, after.age_band) == (before.person, before.school, before.age_band)
