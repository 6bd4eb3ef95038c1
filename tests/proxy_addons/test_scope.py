import ipaddress

import pytest

from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.scope import DistrictScope


@pytest.fixture(scope="module")
def scope():
    subnets = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]
    return DistrictScope(subnets, Catalog.load())


@pytest.mark.parametrize("client, sni, reason", [
    ("10.1.2.3", "www.instagram.com", None),
    ("::ffff:10.1.2.3", "www.instagram.com", None),
    ("2001:db8::5", "www.tiktok.com", None),
    ("192.0.2.7", "www.instagram.com", "not_district"),
    ("10.1.2.3", "www.example.org", "not_social"),
    ("10.1.2.3", None, "no_sni"),
    ("10.1.2.3", "", "no_sni"),
    ("not-an-ip", "www.instagram.com", "not_district"),
])
def test_only_district_social_media_connections_are_decrypted(scope, client, sni, reason):
    assert scope.passthrough_reason(client, sni) == reason


def test_a_request_is_ours_only_from_a_district_device_to_a_platform(scope):
    assert scope.platform_for("10.9.9.9", "www.instagram.com") == "instagram"
    assert scope.platform_for("192.0.2.7", "www.instagram.com") is None
    assert scope.platform_for("10.9.9.9", "www.example.org") is None
