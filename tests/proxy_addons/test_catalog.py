import pytest

from socialwatch.proxy_addons.catalog import Catalog, Platform

PROCEDURE_PLATFORMS = {"x", "instagram", "youtube", "facebook", "snapchat", "tiktok", "pinterest", "linkedin"}


@pytest.fixture(scope="module")
def catalog():
    return Catalog.load()


def test_the_catalog_covers_every_platform_the_procedure_names(catalog):
    assert PROCEDURE_PLATFORMS <= set(catalog.platforms)


@pytest.mark.parametrize("host, platform", [
    ("www.instagram.com", "instagram"),
    ("instagram.com", "instagram"),
    ("scontent.cdninstagram.com", "instagram"),
    ("WWW.INSTAGRAM.COM.", "instagram"),
    ("x.com", "x"),
    ("api.twitter.com", "x"),
    ("m.youtube.com", "youtube"),
    ("www.tiktok.com", "tiktok"),
    ("web.snapchat.com", "snapchat"),
    ("www.linkedin.com", "linkedin"),
    ("www.pinterest.com", "pinterest"),
    ("www.facebook.com", "facebook"),
    ("www.messenger.com", "messenger"),
])
def test_platform_hosts_are_recognised(catalog, host, platform):
    assert catalog.platform_for(host) == platform


@pytest.mark.parametrize("host", [
    "notinstagram.com", "fakex.com", "instagram.com.evil.example", "example.org", "com", "", "xcom",
])
def test_look_alikes_and_other_hosts_are_not_platforms(catalog, host):
    assert catalog.platform_for(host) is None


def test_a_domain_listed_for_two_platforms_is_refused():
    with pytest.raises(ValueError, match="x.com"):
        Catalog([Platform("a", "A", ("x.com",)), Platform("b", "B", ("x.com",))])
