"""The procedure's rules as policy flags: each with a positive and a negative case."""

import pathlib

import pytest

from socialwatch.proxy_addons.catalog import Catalog
from socialwatch.proxy_addons.policy import DistrictProfile, PolicyRules, RegistryError, read_registry

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
ESSEX_TECH = DistrictProfile(
    names=("Essex North Shore Agricultural & Technical School District", "ENSATSD", "Essex Tech"),
    email_domains=("essextech.net",),
)


@pytest.fixture(scope="module")
def rules():
    return PolicyRules(ESSEX_TECH, read_registry(FIXTURES / "approved_accounts.csv", Catalog.load().platforms))


def check(rules, **request) -> list[str]:
    defaults = dict(platform="instagram", min_age=13, action="view", age_band="13_17", handle="", strings=(), text="")
    return [flag.category for flag in rules.check(**{**defaults, **request})]


@pytest.mark.parametrize("request_, flagged", [
    (dict(age_band="under_13", platform="tiktok"), ["coppa"]),
    (dict(age_band="under_13", platform="youtube_kids", min_age=0), []),
    (dict(age_band="13_17", platform="tiktok"), []),
    (dict(age_band="unknown", platform="tiktok"), []),
])
def test_students_aged_12_and_under_on_platforms_not_made_for_them(rules, request_, flagged):
    assert check(rules, **request_) == flagged


@pytest.mark.parametrize("request_, flagged", [
    (dict(action="signup", strings=["jdoe@essextech.net", "Jane"]), ["district_account"]),
    (dict(action="login", strings=["JDOE@EssexTech.net"]), ["district_account"]),
    (dict(action="signup", strings=["jane.doe@gmail.com"]), []),
    (dict(action="post", strings=["jdoe@essextech.net"]), []),
    (dict(action="login", handle="@EssexTechHawks", strings=["athletics@essextech.net"]), []),  # approved
    (dict(action="signup", strings=["someone@notessextech.net"]), []),
])
def test_district_email_signups_need_an_approved_account(rules, request_, flagged):
    assert check(rules, **request_) == flagged


@pytest.mark.parametrize("request_, flagged", [
    (dict(action="post", text="This is the official account of Essex Tech. School is cancelled!"),
     ["district_impersonation"]),
    (dict(action="post", text="posting on behalf of ENSATSD administration"), ["district_impersonation"]),
    (dict(action="profile_edit", handle="EssexTech_Official"), ["district_impersonation"]),
    (dict(action="post", text="the game at Essex Tech was great"), []),
    (dict(action="post", text="official results are in! go team"), []),
    (dict(action="post", platform="x", handle="EssexTechNews", text="Official Essex Tech news: snow day"), []),
    (dict(action="profile_edit", handle="jane_doe"), []),
])
def test_claims_to_speak_for_the_district_from_unapproved_accounts(rules, request_, flagged):
    assert check(rules, **request_) == flagged


def test_an_official_claim_points_at_the_district_name_in_the_text(rules):
    text = "This is the official account of Essex Tech."
    [flag] = rules.check(platform="instagram", min_age=13, action="post", age_band="13_17", handle="",
                         strings=(), text=text)
    [match] = flag.matches
    assert text[match.start:match.end] == "Essex Tech"
    assert "not on the approved-accounts registry" in flag.explanation


@pytest.mark.parametrize("content, error", [
    ("platform,handle,owner,approved_on,password\n", "header"),
    ("platform,handle,owner,approved_on\nmyspace,a,b,2025-01-01\n", ":2: platform"),
    ("platform,handle,owner,approved_on\nx,,b,2025-01-01\n", ":2: handle"),
    ("platform,handle,owner,approved_on\nx,a,,2025-01-01\n", ":2: owner"),
    ("platform,handle,owner,approved_on\nx,a,b,last week\n", ":2: approved_on"),
])
def test_the_registry_is_validated_when_loaded(tmp_path, content, error):
    path = tmp_path / "registry.csv"
    path.write_text(content)
    with pytest.raises(RegistryError, match=error):
        read_registry(path, Catalog.load().platforms)
