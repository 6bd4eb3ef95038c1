import pytest

from socialwatch.proxy_addons.actions import RequestRules


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
