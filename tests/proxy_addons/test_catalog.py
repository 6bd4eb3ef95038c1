import csv
import pathlib

import pytest

from socialwatch.proxy_addons.catalog import Catalog, HostMatch, Platform

NDPI_HOSTS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "reference" / "ndpi_social_hosts.tsv"
NDPI_TO_ID = {
    "Facebook": "facebook", "FbookReelStory": "facebook", "FacebookMessenger": "messenger",
    "Instagram": "instagram", "Threads": "threads", "WhatsApp": "whatsapp", "WhatsAppFiles": "whatsapp",
    "Twitter": "x", "YouTube": "youtube", "YouTubeUpload": "youtube", "TikTok": "tiktok",
    "Snapchat": "snapchat", "Pinterest": "pinterest", "LinkedIn": "linkedin", "Reddit": "reddit",
    "Discord": "discord", "Tumblr": "tumblr", "Twitch": "twitch", "Telegram": "telegram",
    "Bluesky": "bluesky", "Mastodon": "mastodon", "Roblox": "roblox",
}
STUDENT_PLATFORMS = {
    "x", "instagram", "youtube", "facebook", "messenger", "snapchat", "tiktok", "pinterest", "linkedin",
    "reddit", "discord", "tumblr", "twitch", "threads", "bluesky", "mastodon", "bereal", "whatsapp",
    "telegram", "roblox", "blogger", "wordpress", "medium", "substack",
}


@pytest.fixture(scope="module")
def catalog():
    return Catalog.load()


def ndpi_samples() -> list[tuple[str, str]]:
    """(host, platform id) examples for every nDPI pattern, as its README defines them."""
    with NDPI_HOSTS.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) > 100, f"{NDPI_HOSTS} looks truncated"
    samples = []
    for row in rows:
        platform, pattern = NDPI_TO_ID[row["platform"]], row["domain"]
        if pattern.endswith(".") and "." in pattern[:-1]:  # "pinterest.co." -> pinterest.co.uk
            samples += [(pattern + "uk", platform), ("www." + pattern + "kr", platform)]
        elif pattern.endswith("."):  # the label under any public suffix
            samples += [(pattern + "com", platform), ("www." + pattern + "de", platform), (pattern + "co.uk", platform)]
        elif pattern.endswith("-"):  # a name that starts with it
            samples += [(pattern + "video-a.akamaihd.net", platform)]
        else:  # a suffix on a label boundary
            samples += [(pattern, platform), ("a.b." + pattern, platform)]
    return samples


def test_every_ndpi_host_pattern_maps_to_its_platform(catalog):
    wrong = [(host, expected, catalog.platform_for(host)) for host, expected in ndpi_samples()
             if catalog.platform_for(host) != expected]
    assert wrong == []


def test_the_catalog_has_every_platform_students_use(catalog):
    assert STUDENT_PLATFORMS <= set(catalog.platforms)


@pytest.mark.parametrize("host, platform, media", [
    ("www.instagram.com", "instagram", False),
    ("i.instagram.com", "instagram", False),
    ("instagram.com", "instagram", False),
    ("WWW.INSTAGRAM.COM.", "instagram", False),
    ("www.instagram.co.uk", "instagram", False),
    ("scontent-ams2-1.cdninstagram.com", "instagram", True),
    ("x.com", "x", False),
    ("api.twitter.com", "x", False),
    ("pbs.twimg.com", "x", True),
    ("m.youtube.com", "youtube", False),
    ("rr3---sn-5hne6nsr.googlevideo.com", "youtube", True),
    ("upload.youtube.com", "youtube", True),
    ("www.tiktok.com", "tiktok", False),
    ("web.snapchat.com", "snapchat", False),
    ("edge-mqtt.facebook.com", "messenger", False),
    ("www.facebook.com", "facebook", False),
    ("scontent.xx.fbcdn.net", "facebook", True),
    ("discord.com", "discord", False),
    ("cdn.discordapp.com", "discord", True),
    ("mastodon.social", "mastodon", False),
    ("someone.blogspot.com", "blogger", False),
    ("someone.wordpress.com", "wordpress", False),
    ("mega.nz", "mega", False),
])
def test_hosts_are_recognised(catalog, host, platform, media):
    match = catalog.lookup(host)
    assert (match.platform, match.media) == (platform, media)


@pytest.mark.parametrize("host", [
    "notinstagram.com", "fakex.com", "instagram.com.evil.example", "instagram.github.io",
    "example.org", "com", "", "xcom", "mytwitter.com", "youtube.evil.com",
])
def test_look_alikes_and_other_hosts_are_not_platforms(catalog, host):
    assert catalog.lookup(host) is None


@pytest.mark.parametrize("host, intercept", [
    ("www.instagram.com", True),
    ("someone.medium.com", True),
    ("scontent.cdninstagram.com", False),
    ("rr1---sn-abc.googlevideo.com", False),
    ("mega.nz", False),
    ("thepiratebay.org", False),
])
def test_only_hosts_where_words_travel_are_decrypted(catalog, host, intercept):
    assert catalog.lookup(host).intercept is intercept


def test_file_sharing_and_piracy_are_tagged_as_such(catalog):
    assert catalog.lookup("mega.nz").category == "file_sharing"
    assert catalog.lookup("thepiratebay.org").category == "piracy"
    assert catalog.lookup("www.1337x.to").category == "piracy"


def test_a_domain_listed_for_two_platforms_is_refused():
    with pytest.raises(ValueError, match="x.com"):
        Catalog([Platform("a", "A", "social", ("x.com",)), Platform("b", "B", "social", ("x.com",))])


def test_an_unknown_category_is_refused():
    with pytest.raises(ValueError, match="category"):
        Catalog([Platform("a", "A", "gaming", ("a.example",))])


def test_lookup_result_is_a_plain_value():
    assert HostMatch("x", "social", False).intercept
