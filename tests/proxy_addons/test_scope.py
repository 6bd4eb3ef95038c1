import ipaddress

import pytest

from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.scope import DistrictScope


@pytest.fixture(scope="module")
def scope():
    subnets = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]
    return DistrictScope(subnets, Catalog.load())


@pytest.mark.parametrize("client, sni, reason, recorded", [
    ("10.1.2.3", "www.instagram.com", None, False),
    ("::ffff:10.1.2.3", "www.instagram.com", None, False),
    ("2001:db8::5", "www.tiktok.com", None, False),
    ("192.0.2.7", "www.instagram.com", "not_district", False),
    ("10.1.2.3", "www.example.org", "not_social", False),
    ("10.1.2.3", None, "no_sni", False),
    ("10.1.2.3", "", "no_sni", False),
    ("not-an-ip", "www.instagram.com", "not_district", False),
    ("10.1.2.3", "scontent.cdninstagram.com", "media", True),
    ("10.1.2.3", "mega.nz", "file_sharing", True),
    ("10.1.2.3", "thepiratebay.org", "piracy", True),
])
def test_only_district_connections_to_hosts_where_words_travel_are_decrypted(scope, client, sni, reason, recorded):
    decision = scope.tls_decision(client, sni)
    assert (decision.passthrough_reason, decision.record_metadata) == (reason, recorded)


def test_a_pinned_client_is_passed_through_and_recorded(scope):
    decision = scope.tls_decision("10.1.2.3", "i.instagram.com", pinned=True)
    assert (decision.passthrough_reason, decision.record_metadata) == ("pinned", True)


def test_a_request_is_ours_only_from_a_district_device_to_a_platform(scope):
    assert scope.platform_for("10.9.9.9", "www.instagram.com") == "instagram"
    assert scope.platform_for("192.0.2.7", "www.instagram.com") is None
    assert scope.platform_for("10.9.9.9", "www.example.org") is None


def test_listed_forum_hosts_are_decrypted_and_plain_http_may_be_identified():
    scope = DistrictScope([ipaddress.ip_network("10.0.0.0/8")], Catalog.load(), ["forum.example-school.org"])
    assert scope.tls_decision("10.1.2.3", "forum.example-school.org").passthrough_reason is None
    assert scope.tls_decision("10.1.2.3", "other.example-school.org").passthrough_reason == "not_social"
    assert scope.may_identify("10.1.2.3", "boards.example.net", "http")
    assert scope.may_identify("10.1.2.3", "www.forum.example-school.org", "https")
    assert not scope.may_identify("10.1.2.3", "boards.example.net", "https")
    assert not scope.may_identify("192.0.2.7", "boards.example.net", "http")
