"""Impersonation (the procedure's g5 and g11-13): claims to be someone else, fake accounts,
taken-over accounts, and accounts that claim to speak for a school or the district."""

import pytest


def impersonation(classifier, text):
    return next((f for f in classifier.classify(text) if f.category == "impersonation"), None)


@pytest.mark.parametrize(
    ("post", "subcategory", "severity"),
    [
        ("official account of Lincoln High School, follow for updates", "official_claim", "high"),
        ("this is the official account of the school district", "official_claim", "high"),
        ("this is Principal Johnson, school is cancelled tomorrow", "claims_identity", "medium"),
        ("let's make a fake insta pretending to be Ms. Garcia", "fake_account", "medium"),
        ("i hacked her account and posted stuff as her", "fake_account", "medium"),
        ("he made a fake profile with my pictures", "fake_account", "medium"),
        ("someone is impersonating me", "fake_account", "medium"),
        ("hackeé su cuenta y publiqué cosas", "fake_account", "medium"),
        ("alguien se hace pasar por mí en insta", "fake_account", "medium"),
        ("hackeei a conta dela ontem", "fake_account", "medium"),
        ("tem alguém se passando por mim", "fake_account", "medium"),
        ("ik heb haar account gehackt", "fake_account", "medium"),
        ("iemand doet zich voor als mij", "fake_account", "medium"),
    ],
)
def test_flags_impersonation(packaged, post, subcategory, severity):
    flag = impersonation(packaged, post)
    assert flag is not None, post
    assert (flag.subcategory, flag.severity) == (subcategory, severity), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "the official account of the Lakers posted the schedule",  # no school near
        "follow my new acc, old one got deleted",
        "my finsta is private",
        "we made a fake volcano for science",  # 0.6: not alone
        "he was posing as a statue for the art class photo",  # 0.5: not alone
        "the movie is about a spy impersonating a diplomat",  # 0.6: not alone
    ],
)
def test_does_not_flag_look_alikes(packaged, post):
    assert impersonation(packaged, post) is None, impersonation(packaged, post).explanation
