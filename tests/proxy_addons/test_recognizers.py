import pathlib
import tomllib
import urllib.parse

import pytest

from socialwatch.proxy_addons.bodies import parse_body
from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.recognizers import RequestRules


@pytest.fixture(scope="module")
def rules():
    return RequestRules.load()


@pytest.mark.parametrize("method, path, action", [
    ("POST", "/api/v1/web/comments/3141/add/", "comment"),
    ("POST", "/api/v1/direct_v2/threads/broadcast/text/", "message"),
    ("POST", "/api/v1/web/likes/3141/like/", "like"),
    ("POST", "/api/v1/web/friendships/99/follow/", "follow"),
    ("POST", "/accounts/login/ajax/", "login"),
    ("POST", "/api/v1/web/accounts/web_create_ajax/", "signup"),
    ("POST", "/rupload_igphoto/fb_uploader_1", "upload"),
    ("POST", "/api/v1/media/configure/", "post"),
    ("GET", "/explore/", "view"),
    ("HEAD", "/", "view"),
    ("POST", "/ajax/bz", "other"),
    ("GET", "/api/v1/web/comments/3141/", "view"),
])
def test_requests_are_given_a_coarse_action(rules, method, path, action):
    assert rules.action_for(method, path) == action


def test_no_credential_field_is_a_text_field(rules):
    assert not {"password", "enc_password", "token", "csrftoken", "access_token"} & rules.text_fields


FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "platform_requests.toml"
PLATFORM_REQUESTS = tomllib.loads(FIXTURES.read_text())["request"]
DEDICATED = {"x", "instagram", "tiktok", "youtube", "facebook", "reddit", "discord", "snapchat", "pinterest", "linkedin"}


def test_every_platform_the_issue_names_has_a_dedicated_recognizer_and_a_fixture(rules):
    assert DEDICATED <= set(rules.recognizers)
    assert DEDICATED <= {r["expect"]["platform"] for r in PLATFORM_REQUESTS}


@pytest.mark.parametrize("request_", PLATFORM_REQUESTS, ids=[r["name"] for r in PLATFORM_REQUESTS])
def test_real_shaped_requests_are_recognized(rules, request_):
    url = urllib.parse.urlsplit(request_["url"])
    platform = Catalog.load().platform_for(url.hostname) or rules.identify(request_["method"], url.path)
    body = parse_body(request_["body"].encode(), request_["content_type"], "", 1_000_000, rules.json_fields)
    recognition = rules.recognize(platform, request_["method"], url.path, urllib.parse.parse_qsl(url.query), body)
    expect = request_["expect"]
    assert (platform, recognition.action, recognition.target, recognition.text) == (
        expect["platform"], expect["action"], expect["target"], expect["text"])


def test_text_in_the_query_string_is_read_only_where_a_recognizer_says_so(rules):
    query = [("text", "hello")]
    assert rules.recognize("instagram", "POST", "/api/v1/web/comments/1/add/", query, None).text == ""
    assert rules.recognize("tiktok", "POST", "/api/comment/publish/", query, None).text == "hello"


@pytest.mark.parametrize("platform, message, expected", [
    ("twitch", "PRIVMSG #somechannel :you should die\r\n", ("message", "somechannel", "you should die")),
    ("twitch", "PING :tmi.twitch.tv", ("message", "", "")),
    ("discord", '{"op": 1, "d": 42}', ("message", "", "")),
    ("discord", '{"content": "hi there"}', ("message", "", "hi there")),
    ("discord", "[" * 5000, ("message", "", "")),
])
def test_websocket_messages_are_read_by_rule_or_as_json(rules, platform, message, expected):
    recognition = rules.recognize_websocket(platform, message)
    assert (recognition.action, recognition.target, recognition.text) == expected


@pytest.mark.parametrize("method, path, platform", [
    ("POST", "/posts.json", "discourse"),
    ("POST", "/posts", "discourse"),
    ("POST", "/forum/posting.php", "phpbb"),
    ("GET", "/posts.json", None),
    ("POST", "/api/v1/web/comments/1/add/", None),
])
def test_forum_software_is_identified_by_its_request_shape(rules, method, path, platform):
    assert rules.identify(method, path) == platform


@pytest.mark.parametrize("path, action, target", [
    ("/web/comments/1663256735663694497/add/", "comment", "1663256735663694497"),
    ("/api/v1/web/comments/1663256735663694497/add/", "comment", "1663256735663694497"),
    ("/api/v1/comments/1663256735663694497/add/", "comment", "1663256735663694497"),
    ("/web/likes/1663256735663694497/like/", "like", "1663256735663694497"),
    ("/web/friendships/25025320/follow/", "follow", "25025320"),
    ("/api/v1/friendships/create/25025320/", "follow", "25025320"),
])
def test_instagram_web_paths_old_and_new(rules, path, action, target):
    recognition = rules.recognize("instagram", "POST", path, [], None)
    assert (recognition.action, recognition.target) == (action, target)
