"""Signals as they happen at school, written as students write them: bullying (the
procedure's g9: exclusion, threats to meet after school, hazing to join a team, pictures used
as a threat, a student telling that it happens to them), danger to others (g6) and
impersonation (g5, g11-13); and their look-alikes from sport, games, tests and pranks."""

import pytest

from socialwatch.classifier import Classifier


def flag_of(classifier, text, category):
    return next((f for f in classifier.classify(text) if f.category == category), None)


@pytest.mark.parametrize(
    ("post", "category", "subcategory", "severity"),
    [
        # bullying at school (g9)
        ("don't invite her, nobody likes her", "bullying", "exclusion", "medium"),
        ("no wonder nobody talks to you", "bullying", "exclusion", "medium"),
        ("we're all going to ignore her tomorrow", "bullying", "exclusion", "medium"),
        ("let's make a group chat without her", "bullying", "exclusion", "medium"),
        ("i'm going to jump you after school", "bullying", "threat", "high"),
        ("you have to drink the whole bottle or you're not on the team", "bullying", "hazing", "medium"),
        ("freshmen have to get paddled to join", "bullying", "hazing", "medium"),
        ("we got hazed so bad last night", "bullying", "hazing", "medium"),
        ("i'm going to post your pics everywhere", "bullying", "sexual_harassment", "high"),
        ("they keep calling me names every day at school", "bullying", "harassment", "low"),
        ("si quieres entrar tienes que aguantar la novatada", "bullying", "hazing", "medium"),
        ("o trote violento dos veteranos foi ontem", "bullying", "hazing", "medium"),
        ("als je erbij wilt horen moet je de ontgroening doen", "bullying", "hazing", "medium"),
        ("no la inviten, nadie la soporta", "bullying", "exclusion", "medium"),
        ("eres una gorda asquerosa", "bullying", "targeted_insult", "medium"),
        ("voy a subir tus fotos a todas partes", "bullying", "sexual_harassment", "high"),
        ("vete a tu país", "bullying", "hate", "high"),
        ("se burlan de mí todos los días en el colegio", "bullying", "harassment", "low"),
        ("não chama ela, ninguém suporta ela", "bullying", "exclusion", "medium"),
        ("vou te pegar na saída", "bullying", "threat", "high"),
        ("vou espalhar suas fotos", "bullying", "sexual_harassment", "high"),
        ("eles zoam de mim todo dia na escola", "bullying", "harassment", "low"),
        ("niemand mag jou", "bullying", "exclusion", "medium"),
        ("nodig haar niet uit, niemand mag haar", "bullying", "exclusion", "low"),
        ("je bent een vieze dikzak", "bullying", "targeted_insult", "medium"),
        ("ik wacht je na school op en dan sla ik je in elkaar", "bullying", "threat", "high"),
        ("ik ga je foto's overal verspreiden", "bullying", "sexual_harassment", "high"),
        ("ze lachen me elke dag uit op school", "bullying", "harassment", "low"),
        # danger to others (g6)
        ("bringing my dad's gun to school monday", "violence", "weapon", "critical"),
        ("they're all going to pay for what they did", "violence", "threat", "high"),
        ("i'm going to kill him", "violence", "threat", "high"),
        ("im gonna kill her tomorrow", "violence", "threat", "high"),
        ("i swear i'll stab her if she says that again", "violence", "threat", "high"),
        ("i have a list of people i'm going to hurt", "violence", "planning", "critical"),
        ("i want to hurt everyone who made fun of me", "violence", "threat", "high"),
        ("someone should shoot this school up", "violence", "threat", "critical"),
        ("vou matar ele amanhã na escola", "violence", "threat", "high"),
        ("la voy a matar si vuelve a hablar", "violence", "threat", "high"),
        ("ik ga morgen iedereen op school neerschieten", "violence", "threat", "critical"),
        # impersonation (g5, g11-13)
        ("official account of Lincoln High School, follow for updates", "impersonation", "official_claim", "high"),
        ("this is the official account of the school district", "impersonation", "official_claim", "high"),
        ("this is Principal Johnson, school is cancelled tomorrow", "impersonation", "claims_identity", "medium"),
        ("let's make a fake insta pretending to be Ms. Garcia", "impersonation", "fake_account", "medium"),
        ("i hacked her account and posted stuff as her", "impersonation", "fake_account", "medium"),
        ("he made a fake profile with my pictures", "impersonation", "fake_account", "medium"),
        ("someone is impersonating me", "impersonation", "fake_account", "medium"),
        ("hackeé su cuenta y publiqué cosas", "impersonation", "fake_account", "medium"),
        ("alguien se hace pasar por mí en insta", "impersonation", "fake_account", "medium"),
        ("hackeei a conta dela ontem", "impersonation", "fake_account", "medium"),
        ("tem alguém se passando por mim", "impersonation", "fake_account", "medium"),
        ("ik heb haar account gehackt", "impersonation", "fake_account", "medium"),
        ("iemand doet zich voor als mij", "impersonation", "fake_account", "medium"),
    ],
)
def test_flags(packaged, post, category, subcategory, severity):
    flag = flag_of(packaged, post, category)
    assert flag is not None, post
    assert (flag.subcategory, flag.severity) == (subcategory, severity), flag.explanation


@pytest.mark.parametrize(
    ("post", "category"),
    [
        ("nobody wants to do the group project lol", "bullying"),
        ("don't invite him, he's busy that day", "bullying"),
        ("we're going to ignore the haters and win", "bullying"),
        ("ignore him, he's just tired", "bullying"),  # 0.5: not alone
        ("meet me behind the gym after practice", "bullying"),
        ("i'm going to post the pics from the game", "bullying"),
        ("can you jump my car after school", "bullying"),
        ("hell week before finals is the worst", "bullying"),  # 0.4: not alone
        ("ele passou um trote no telefone", "bullying"),  # a prank call, 0.5: not alone
        ("nadie lo quiere hacer", "bullying"),
        ("niemand mag je foto's zien", "bullying"),  # "mag": may; 0.5: not alone
        ("ik wacht je na school op bij de bus", "bullying"),  # 0.8: not alone
        ("se burlaban de mí en el chiste de la película", "bullying"),
        ("we're going to shoot some hoops after school", "violence"),
        ("i'm going to kill this test", "violence"),
        ("i'm going to pay for lunch", "violence"),
        ("why did you bully kids into taking a gun to school", "violence"),  # a discussion: no first person near
        ("she thinks her enemy is gonna kill her", "violence"),  # not the writer's threat
        ("one day everyone will know my name", "violence"),  # 0.5: not alone
        ("he was gonna kill him self because i wasnt answering", "violence"),
        ("the official account of the Lakers posted the schedule", "impersonation"),  # no school near
        ("my finsta is private", "impersonation"),
        ("we made a fake volcano for science", "impersonation"),  # 0.6: not alone
        ("he was posing as a statue for the art class photo", "impersonation"),  # 0.5: not alone
        ("the movie is about a spy impersonating a diplomat", "impersonation"),  # 0.6: not alone
    ],
)
def test_does_not_flag_look_alikes(packaged, post, category):
    flag = flag_of(packaged, post, category)
    assert flag is None, flag.explanation


@pytest.fixture(scope="module")
def with_roster():
    return Classifier.load(roster=["Jake Miller", "Sophie Costa", "Daan de Vries", "Lucia Perez"])


@pytest.mark.parametrize(
    ("post", "category"),
    [
        ("everyone hates jake lol", "bullying"),
        ("nobody sits with sophie anymore", "bullying"),
        ("told jake to kill himself", "bullying"),
        ("todos odian a lucia", "bullying"),
        ("ojalá jake se muera", "bullying"),
        ("ninguém gosta da sophie", "bullying"),
        ("niemand vindt daan leuk", "bullying"),
        ("im pretending to be sophie on insta", "impersonation"),
        ("posing as jake on snap rn", "impersonation"),
        ("nadie habla con lucia", "bullying"),
        ("tomara que a sophie morra", "bullying"),
        ("ik deed me voor als daan", "impersonation"),
    ],
)
def test_a_roster_name_fills_a_slot_that_takes_names(with_roster, packaged, post, category):
    assert category in {flag.category for flag in with_roster.classify(post)}
    assert category not in {flag.category for flag in packaged.classify(post)}  # not without the roster


@pytest.mark.parametrize("post", ["everyone hates mondays", "nobody likes pineapple pizza", "pretending to be sick lol",
                                  "todos odian a los lunes", "niemand vindt wiskunde leuk"])
def test_a_slot_that_takes_names_takes_no_other_word(with_roster, post):
    assert with_roster.classify(post) == []
