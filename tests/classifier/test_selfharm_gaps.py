"""Self-harm phrases added for issue #3 (the coverage gaps): self-injury other than cutting,
help-seeking and crisis lines, a method near an intent, and paraphrases of ideation.

Each addition has posts it must flag and look-alike posts it must not flag (or not at high or
above): a counselor is paged by these, so the negatives matter as much as the positives.
"""

import pytest

SEVERITIES = ("low", "medium", "high", "critical")


def self_harm(classifier, text):
    """The self-harm flag of ``text``, or None."""
    return next((f for f in classifier.classify(text) if f.category == "self_harm"), None)


@pytest.mark.parametrize(
    ("post", "subcategory", "severity"),
    [
        # self-injury other than cutting
        ("i keep burning myself on purpose", "behaviour", "critical"),
        ("i hit myself on purpose when i mess up", "behaviour", "critical"),
        ("the urge to cut again is so strong tonight", "behaviour", "critical"),
        ("having really bad urges to self harm", "behaviour", "critical"),
        ("i want to hurt myself", "behaviour", "critical"),
        ("i scratch myself until i bleed", "behaviour", "critical"),
        ("cut my wrist again last night", "behaviour", "critical"),
        # method + intent
        ("i'm going to take all of the pills tonight", "active_planning", "critical"),
        ("gonna take all my meds and never wake up", "ideation", "high"),
        ("thinking of how to swallow all my pills without anyone noticing", "active_planning", "critical"),
        ("the rope is around my neck", "active_planning", "critical"),
        ("how many pills does it take to die", "active_planning", "critical"),
        ("is a bottle of pills enough to kill me", "active_planning", "critical"),
        ("i'm going to end it tonight", "active_planning", "critical"),
        # paraphrases of ideation
        ("i have nothing left to live for", "ideation", "high"),
        ("i want to end my own life", "ideation", "critical"),
        ("gonna blow my brains out", "ideation", "critical"),
        ("i just want to off myself", "ideation", "critical"),
        ("i wish i could just die", "ideation", "high"),
        # other languages
        ("voy a tomarme todas las pastillas", "active_planning", "critical"),
        ("vou tomar todos os remédios", "active_planning", "critical"),
        ("ik wil een einde aan mijn leven maken", "ideation", "critical"),
        # first-person statements that were missed (lexicon review of this stop)
        ("all i want to do is die", "ideation", "critical"),
        ("just wishing i was dead", "ideation", "critical"),
        ("i dont know if i want to live anymore", "ideation", "high"),
        ("why should i keep on living", "ideation", "high"),
        ("i cant go on living", "ideation", "high"),
        ("is there any point in living", "ideation", "high"),
        ("i want to overdose on my meds", "ideation", "critical"),
        ("i tried to commit suicide last year", "behaviour", "critical"),
        ("i almost attempted suicide again", "behaviour", "high"),
        ("i swallowed the pills", "behaviour", "critical"),
        ("i intend on hanging myself", "active_planning", "critical"),
        ("the legal procedures following my suicide", "active_planning", "critical"),
        ("lo único que quiero es morir", "ideation", "critical"),
        ("traté de suicidarme", "behaviour", "critical"),
        ("tudo que eu quero é morrer", "ideation", "critical"),
        ("tentei suicídio ontem", "behaviour", "critical"),
        ("ik heb geprobeerd zelfmoord te plegen", "behaviour", "critical"),
        ("my next suicide attempt will be tonight", "active_planning", "critical"),
        ("gonna end it on my birthday tomorrow, i cant do this anymore", "active_planning", "critical"),  # a time: a plan
        ("would they kill me if i took all the sleeping pills", "active_planning", "critical"),
        ("the only reason i haven't killed myself is my dog", "ideation", "critical"),
        ("i sometimes wish i wasn't here anymore", "ideation", "high"),
        ("i've attempted before and this time i won't fail", "behaviour", "high"),
        ("im trying not to kms right now", "ideation", "critical"),  # "not" here is no negation
        ("i just need a reason not to end my life", "ideation", "critical"),
        ("every night i put my gun in my mouth", "behaviour", "critical"),
        ("what's the least painful way to go", "active_planning", "critical"),
        ("i planned on dying today", "active_planning", "critical"),
        ("i think about dying all the time", "ideation", "high"),
        ("i just want it all to stop", "ideation", "high"),
        ("last night i nearly pulled the trigger", "behaviour", "critical"),
        ("estoy tratando de no matarme", "ideation", "critical"),
        ("tentando não me matar hoje", "ideation", "critical"),
        ("wat is de minst pijnlijke manier om dood te gaan", "active_planning", "critical"),
        # several statements of distress (hopelessness, loneliness, worthlessness) together
        ("i feel so empty. i have no one. i'm a failure and it will never get better", "ideation", "low"),
        ("me siento tan vacía. no tengo a nadie. soy un fracaso y nunca va a mejorar", "ideation", "low"),
        ("me sinto tão vazia, não tenho ninguém, sou um fracasso e nunca vai melhorar", "ideation", "low"),
        ("ik voel me zo leeg, ik heb niemand, ik ben een mislukking en het wordt nooit beter", "ideation", "low"),
        # the warning signs a suicide-risk screening asks about (the Columbia scale's items: a wish
        # to be dead, an attempt, an interrupted one, preparation, a goodbye), as students write them
        # an attempt: a jump from a height, an overdose, a method tried
        ("i tried to jump off my balcony last night", "behaviour", "critical"),
        ("i almost jumped off the parking garage yesterday", "behaviour", "critical"),
        ("i was standing on the bridge ready to jump", "active_planning", "critical"),
        ("i tried to overdose last week", "behaviour", "critical"),
        ("in the er, i tried to od and now here i am", "behaviour", "critical"),
        ("i swallowed a whole bottle of tylenol", "behaviour", "critical"),
        ("i tried to take my own life in march", "behaviour", "critical"),
        ("i attempted last night and lived", "behaviour", "critical"),
        # preparation
        ("i have been stockpiling pills for weeks", "active_planning", "critical"),
        ("i bought a gun so i can end it", "active_planning", "critical"),
        ("i already wrote my goodbye letters", "active_planning", "critical"),
        ("i researched how many pills it would take", "active_planning", "critical"),
        ("i was planning on overdosing this weekend", "active_planning", "critical"),
        ("suppose someone will have to find my body", "active_planning", "critical"),
        ("whats the easiest way to commit suicide painless", "active_planning", "critical"),
        ("can i tie the noose in my closet", "active_planning", "critical"),
        ("i still find myself planning my death", "active_planning", "critical"),
        ("is this enough pills? if i down a bottle of sleeping pills would it work", "active_planning", "high"),
        ("after several attempts on my life this will be the last one", "behaviour", "high"),
        ("i won't be here for much longer", "active_planning", "critical"),
        # a wish to be dead; feeling a burden
        ("i wish i would never wake up", "ideation", "high"),
        ("i pray i don't wake up tomorrow", "ideation", "high"),
        ("i've had enough of life", "ideation", "high"),
        ("i'm done living", "ideation", "high"),
        ("i cant do this life thing anymore", "ideation", "high"),
        ("no one would even notice if i was gone", "ideation", "high"),
        ("so sick of being told not to kill myself", "ideation", "critical"),  # "not" is no negation
        ("i don't want to die but i don't want to continue living like this", "ideation", "high"),
        ("people wont care if i die", "ideation", "high"),
        ("i dont deserve to be here", "ideation", "high"),
        ("i just can't handle my life anymore", "ideation", "high"),
        ("i'm too weak to kill my own self", "ideation", "critical"),
        # self-injury
        ("my arms are covered in cuts", "behaviour", "critical"),
        ("i burned myself with a lighter again", "behaviour", "critical"),
        ("i starved myself all week", "behaviour", "high"),
        # the same in Spanish, Portuguese and Dutch
        ("anoche intenté saltar del balcón", "behaviour", "critical"),
        ("intenté tomar una sobredosis el mes pasado", "behaviour", "critical"),
        ("llevo semanas guardando pastillas", "active_planning", "critical"),
        ("nadie notaría si me muero", "ideation", "high"),
        ("ontem tentei pular da varanda", "behaviour", "critical"),
        ("estou juntando remédios faz um mês", "active_planning", "critical"),
        ("ninguém notaria se eu sumisse", "ideation", "high"),
        ("ik probeerde gisteren van het balkon te springen", "behaviour", "critical"),
        ("ik ben pillen aan het sparen", "active_planning", "critical"),
        ("niemand zou het merken als ik er niet meer was", "ideation", "high"),
        ("ojalá no despertara mañana", "ideation", "high"),
        ("ya tengo un plan para matarme", "active_planning", "critical"),
        ("intenté matarme el año pasado", "behaviour", "critical"),
        ("tengo las pastillas listas", "active_planning", "critical"),
        ("queria dormir e não acordar mais", "ideation", "high"),
        ("todo mundo estaria melhor sem mim", "ideation", "critical"),
        ("já tenho um plano pra me matar", "active_planning", "critical"),
        ("penso em suicídio todo dia", "ideation", "high"),
        ("ik heb een plan om mezelf van kant te maken", "ideation", "critical"),
        ("ik heb vorig jaar geprobeerd zelfmoord te plegen", "behaviour", "critical"),
        ("ik heb mezelf weer gesneden", "behaviour", "critical"),
        ("de pillen liggen klaar", "active_planning", "critical"),
        ("ik denk elke dag aan zelfmoord", "ideation", "high"),
    ],
)
def test_flags(packaged, post, subcategory, severity):
    flag = self_harm(packaged, post)
    assert flag is not None, post
    assert (flag.subcategory, flag.severity) == (subcategory, severity), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "i burned myself on the stove",
        "ugh i burnt myself on the curling iron again",
        "stop hitting yourself lol",
        "i hit myself in the face with the door",
        "i have the urge to cut my hair short",
        "i'm so proud of myself",
        "i made a fool of myself at practice",
        "i have to take all these pills for my cold",
        "i took all my meds this morning like the doctor said",
        "my mom took all my meds away just in case",
        "she wore a necklace around my neck",
        "you have to jump off the diving board",
        "i'm not going to end my own life",
        "i don't want to hurt myself",
        "voy a cortarme el pelo mañana",
        "if you or someone you know is struggling, text 741741 or call 988",
        "you're going to overdose if you take that many",
        "she swallowed the pills the doctor gave her",
        "people think suicide is the only answer, it isn't",
        "let's end it here for today, see you tomorrow",  # a time, but no first person
        "would it kill me to eat a salad",  # no method near
        "i wish i wasn't here at this boring party",
        "this class makes me want to jump out of the window",  # hyperbole: medium at most
        "i'm not going to kill myself",
        "i wanna sleep and not wake up for a while",  # 0.8: not alone
    ],
)
def test_does_not_flag_high(packaged, post):
    flag = self_harm(packaged, post)
    assert flag is None or SEVERITIES.index(flag.severity) < SEVERITIES.index("high"), flag.explanation


@pytest.mark.parametrize(
    "post",
    [
        "i called 988 last night",
        "can someone give me the crisis text line number",
        "should i call the suicide hotline",
        "how do i stop cutting",
    ],
)
def test_help_seeking_is_never_critical(packaged, post):
    """Asking for help is medium at most on its own: the flag points, it does not page."""
    flag = self_harm(packaged, post)
    assert flag is None or SEVERITIES.index(flag.severity) <= SEVERITIES.index("medium"), flag.explanation
    if flag is not None:
        assert flag.subcategory == "help_seeking"


@pytest.mark.parametrize("post", [
    "i want to kill myself. what is the hotline number",
    "i want to kill myself and i don't know if i should call a hotline",
])
def test_asking_for_a_hotline_never_lowers_a_first_person_statement(packaged, post):
    """A crisis line is help-seeking, not news: a student who says it beside an intent is at risk."""
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "critical", flag and flag.explanation


@pytest.mark.parametrize("post", [
    "i feel so empty",
    "i'm a failure at cooking lol",
    "i have no friends in this class yet",
    "no tengo a nadie con quien ir al cine",
    "ik heb niemand gezien vandaag",
])
def test_one_statement_of_distress_alone_is_not_flagged(packaged, post):
    """Distress statements weigh 0.25-0.4: a counselor sees several together, not one."""
    assert self_harm(packaged, post) is None


@pytest.mark.parametrize(("post", "beside_a_topic"), [
    ("the lyrics go i want to die", "this song reminds me of him. i want to die"),
    ("my essay on hamlet: he wants to kill himself", "finished my essay on hamlet.\ni want to kill myself"),
    ("this movie makes me want to die lmao", "watched a movie with my friends. i still want to die"),
])
def test_a_topic_lowers_only_its_own_sentence(packaged, post, beside_a_topic):
    """A song, an essay or a film is what its sentence is about; a statement in the next
    sentence is the student's own."""
    assert self_harm(packaged, post) is None
    flag = self_harm(packaged, beside_a_topic)
    assert flag is not None and flag.severity == "critical", flag and flag.explanation


@pytest.mark.parametrize("post", [
    "I tried to hang myself yesterday haha",
    "i took all my pills lol",
    "lmao i have a noose ready for tonight",
])
def test_a_laugh_lowers_an_act_or_a_plan_but_never_hides_it(packaged, post):
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "high", flag and flag.explanation  # critical, one level lower
    assert "context lowers it to the threshold, no further" in flag.explanation


@pytest.mark.parametrize("post", [
    "i'm gonna kill myself lol",
    "i want to die lol",
    "me quiero morir jaja",
    "quero morrer kkkk",
    "ik wil dood haha",
])
def test_a_laugh_keeps_a_wish_to_die_at_the_threshold_as_low(packaged, post):
    """Said in jest every day, and meant on some of them: the wish reaches the bottom of the
    counselor's queue and raises no alert."""
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "low", flag and flag.explanation
    assert "a wish to die beside a laugh: context lowers it to the threshold, no further" in flag.explanation


@pytest.mark.parametrize("post", [
    "i want to die lol im serious",
    "me quiero morir jaja en serio",
    "quero morrer kkkk sério",
    "ik wil dood haha echt serieus",
])
def test_saying_it_is_meant_after_a_laugh_keeps_a_wish_high(packaged, post):
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "high", flag and flag.explanation  # critical, one level lower


@pytest.mark.parametrize(("post", "beside_a_laugh"), [
    ("i have a chem test tomorrow i want to die", "i have a chem test tomorrow i want to die lol"),
    ("el examen de mate me mato, quiero morir", "el examen de mate me mato, quiero morir jaja"),
    ("a prova de mat me matou, quero morrer", "a prova de mat me matou, quero morrer kkkk"),
    ("die wiskundetoets heeft me gesloopt, ik wil dood", "die wiskundetoets heeft me gesloopt, ik wil dood haha"),
])
def test_a_test_beside_a_laugh_hides_a_wish_but_a_test_alone_lowers_nothing(packaged, post, beside_a_laugh):
    """An exam is the commonest reason a student jokes about dying; failing one is also a
    real pressure, so without a laugh the wish keeps its weight and its severity."""
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "critical", flag and flag.explanation
    assert self_harm(packaged, beside_a_laugh) is None


@pytest.mark.parametrize(("post", "category", "severity"), [
    ("i'm gonna shoot up the school lol", "violence", "high"),  # critical, one level lower
    ("bringing a gun to school tomorrow jk", "violence", "high"),
    ("gonna bomb the school lmao", "violence", "high"),
    ("kys ily", "bullying", "medium"),  # banter: high, one level lower
    ("kill yourself bestie ily", "bullying", "medium"),
    ("te voy a partir la cara tqm", "bullying", "medium"),
])
def test_a_laugh_or_banter_lowers_a_threat_or_telling_someone_to_die_but_never_hides_it(
        packaged, post, category, severity):
    (flag,) = [f for f in packaged.classify(post) if f.category == category]
    assert flag.severity == severity, flag.explanation
    assert "context lowers it to the threshold, no further" in flag.explanation


@pytest.mark.parametrize(("post", "category"), [
    ("i'm gonna kill him lol", "violence"),  # a threat said in jest to a friend
    ("ur so dumb ily", "bullying"),  # an insult in banter
])
def test_a_laugh_or_banter_still_hides_a_lesser_threat_or_an_insult(packaged, post, category):
    assert [f for f in packaged.classify(post) if f.category == category] == []


@pytest.mark.parametrize(
    "post",
    [
        "i tried to jump off the diving board but chickened out",
        "the cat tried to jump off the balcony",  # no first person near
        "we tried to jump off the cliff into the lake",  # a cliff is not a height cue: cliff jumping
        "i was so ready to jump into the pool",
        "i'm saving up for a new phone",
        "i'm stockpiling snacks for the sleepover",
        "i gave away all my stuff before we moved",  # 0.5: not alone
        "see you all on the other side of spring break",  # 0.5: not alone
        "if you are thinking about suicide, please call or text 988",  # help given, not sought
        "i attempted last year's final twice",
        "they found the body in the last episode",  # no first person
        "i deserve to suffer through this homework",  # one statement of distress
        "i took my melatonin and went to bed",  # a method, no act
        "the only thing keeping me going this week is coffee",
        "i don't want to wake up early tomorrow",  # an idiom hides "don't want to wake up"
        "i dont want to wake up for school tomorrow ugh",
        "we have enough pills for the trip",  # 0.6: not alone
        "i could down a bottle of gatorade right now",  # no method near
        "intenté saltar la valla del colegio",
        "mi mamá me va a matar si ve mis notas",  # someone else, hyperbole
        "a minha mãe vai me matar quando vir as notas",
        "ik dacht dat de film over zelfmoord ging",  # a topic, not a thought of one's own
        "saltamos del puente al río en verano, qué divertido",
        "tentei pular a corda na educação física",
        "ik probeerde het raam open te doen",
        "we sprongen van de brug in het water, zo leuk",
        # a goodbye or an absence alone (0.8, 0.5): a class chat on the last day of school
        "goodbye everyone, have a great summer!",
        "goodbye everyone, see you next semester",
        "hey mr smith i won't be here tomorrow, can i get the homework",
        "i wont be here tomorrow, dentist appointment",
        "ill be gone by friday, visiting my grandma",
        "no one cares about the dress code lol",
    ],
)
def test_does_not_flag_look_alikes_of_the_warning_signs(packaged, post):
    assert self_harm(packaged, post) is None, self_harm(packaged, post).explanation


@pytest.mark.parametrize("post", [
    "i made up my mind. goodbye everyone",
    "goodbye everyone. no one cares anyway",
    "i won't be here tomorrow. goodbye everyone",
    "i'm finally at peace with my decision. goodbye world",
    "ill be gone in 6 hours. goodbye everyone",
    "i'm sorry for everything. goodbye everyone",
    "i can't do this any longer. goodbye everyone",
])
def test_a_goodbye_is_critical_beside_another_warning_sign(packaged, post):
    flag = self_harm(packaged, post)
    assert flag is not None and flag.severity == "critical", flag and flag.explanation


@pytest.mark.parametrize(("post", "elsewhere"), [
    ("i tried to jump off my balcony", "i tried to jump off my bed"),
    ("i almost jumped off the roof last night", "i almost jumped off the couch last night"),
])
def test_a_jump_counts_only_near_a_place_to_fall_from(packaged, post, elsewhere):
    """``near=height:N``: the same words without a height cue near are not flagged."""
    assert self_harm(packaged, post) is not None
    assert self_harm(packaged, elsewhere) is None
