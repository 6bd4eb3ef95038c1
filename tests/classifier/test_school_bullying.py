"""Bullying as it happens at school (the procedure's g9: bullying, cyberbullying and hazing):
exclusion, threats to meet after school, hazing to join a team, pictures used as a threat,
and a student telling that it happens to them."""

import pytest


def bullying(classifier, text):
    return next((f for f in classifier.classify(text) if f.category == "bullying"), None)


@pytest.mark.parametrize(
    ("post", "subcategory", "severity"),
    [
        ("don't invite her, nobody likes her", "exclusion", "medium"),
        ("no wonder nobody talks to you", "exclusion", "medium"),
        ("we're all going to ignore her tomorrow", "exclusion", "medium"),
        ("let's make a group chat without her", "exclusion", "medium"),
        ("i'm going to jump you after school", "threat", "high"),
        ("you have to drink the whole bottle or you're not on the team", "hazing", "medium"),
        ("freshmen have to get paddled to join", "hazing", "medium"),
        ("we got hazed so bad last night", "hazing", "medium"),
        ("i'm going to post your pics everywhere", "sexual_harassment", "high"),
        ("they keep calling me names every day at school", "harassment", "low"),
        ("si quieres entrar tienes que aguantar la novatada", "hazing", "medium"),
        ("o trote violento dos veteranos foi ontem", "hazing", "medium"),
        ("als je erbij wilt horen moet je de ontgroening doen", "hazing", "medium"),
    ],
)
def test_flags_school_bullying(packaged, post, subcategory, severity):
    flag = bullying(packaged, post)
    assert flag is not None, post
    assert (flag.subcategory, flag.severity) == (subcategory, severity), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "nobody wants to do the group project lol",
        "don't invite him, he's busy that day",
        "we're going to ignore the haters and win",
        "ignore him, he's just tired",  # 0.5: not alone
        "meet me behind the gym after practice",
        "i'm going to post the pics from the game",
        "can you jump my car after school",
        "hell week before finals is the worst",  # 0.4: not alone
        "ele passou um trote no telefone",  # a prank call, 0.5: not alone
    ],
)
def test_does_not_flag_look_alikes(packaged, post):
    assert bullying(packaged, post) is None, bullying(packaged, post).explanation
