"""Personal information: found with offsets, flagged as ``pii``, and redacted in place."""

import re
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from socialwatch.classifier import pii


@pytest.mark.parametrize(
    ("text", "kind", "found"),
    [
        ("call me at (212) 555-0134 tonight", "phone", "(212) 555-0134"),
        ("my number is 212.555.0134", "phone", "212.555.0134"),
        ("text me +31 6 12345678", "phone", "+31 6 12345678"),  # another region, written with +
        ("whatsapp +55 11 91234-5678", "phone", "+55 11 91234-5678"),
        ("mail me at jo.doe+x@example.org!", "email", "jo.doe+x@example.org"),
        ("i live at 1668 Glyn St, come over", "address", "1668 Glyn St"),
        ("we moved to 14 Crown Street Suite 321", "address", "14 Crown Street Suite 321"),
        ("vivo en Calle Mayor 12", "address", "Calle Mayor 12"),
        ("moro na Rua das Flores, 120", "address", "Rua das Flores, 120"),
        ("ik woon op de Kerkstraat 5", "address", "Kerkstraat 5"),
        ("siamo in Via Tasso 129", "address", "Via Tasso 129"),
        ("mieszkam ul. Północna 73", "address", "ul. Północna 73"),
        ("PSC 0413, Box 8144", "address", "PSC 0413, Box 8144"),
        ("meet at 350 5th Ave", "address", "350 5th Ave"),  # an ordinal street name
        ("we live at 4 Privet Drive now", "address", "4 Privet Drive"),  # a capitalized USPS suffix
        ("123 main st apt 4b, Springfield, IL 62704", "address", "123 main st apt 4b, Springfield, IL 62704"),
        ("1668 Glyn St\nApt. 5\nAustin, TX 78701-1234", "address", "1668 Glyn St\nApt. 5\nAustin, TX 78701-1234"),
        ("10 Downing Street, London SW1A 2AA", "address", "10 Downing Street, London SW1A 2AA"),
        ("USNS Comfort\nFPO AE 09501", "address", "USNS Comfort\nFPO AE 09501"),  # military mail
        ("meet me at the corner of Main and 5th", "address", "corner of Main and 5th"),
        ("my address is 77 Elm Ct", "address", "77 Elm Ct"),
        ("vivo en la Avenida Insurgentes 1602", "address", "Avenida Insurgentes 1602"),
        ("mi dirección es Arenales 946", "address", "Arenales 946"),
        ("estamos en la esquina de Olvera y Main", "address", "esquina de Olvera y Main"),
        ("moro na Avenida Paulista, 1578", "address", "Avenida Paulista, 1578"),
        ("meu endereço é Rua Augusta 12, 01305-000 São Paulo", "address", "Rua Augusta 12, 01305-000 São Paulo"),
        ("ik woon op de Kerkstraat 5a, 1012 AB Amsterdam", "address", "Kerkstraat 5a, 1012 AB Amsterdam"),
        ("mijn adres is Dorpsweg 12", "address", "Dorpsweg 12"),
        ("postbus 123", "address", "postbus 123"),
        ("Calle Mayor 12, Soto del Barco 33126", "address", "Calle Mayor 12, Soto del Barco 33126"),  # "del"
        ("on the corner of Kerkstraat 5 and Molenweg", "address", "corner of Kerkstraat 5 and Molenweg"),
        ("my address:\n12 rua olmos 4, braga", "address", "12 rua olmos 4"),  # a form's label, then a line
        ("whats your address? it's 5 Aasa 43", "address", "5 Aasa 43"),  # a question and its answer
        ("call 345-899-3560x4587", "phone", "345-899-3560x4587"),  # an extension
        ("bel 0393 1144137", "phone", "0393 1144137"),  # a number libphonenumber cannot place
        ("me chama no zap (21) 98765-4321", "phone", "(21) 98765-4321"),  # a Brazilian mobile, no "+55"
        ("me manda mensagem no 11 98765-4321", "phone", "11 98765-4321"),  # ... nor parentheses
        ("text me 5️⃣5️⃣5️⃣ 2️⃣3️⃣4️⃣ 5️⃣6️⃣7️⃣8️⃣ ok", "phone", "5️⃣5️⃣5️⃣ 2️⃣3️⃣4️⃣ 5️⃣6️⃣7️⃣8️⃣"),  # keycap digits
        ("my # is five five five two three four five six seven eight", "phone",
         "five five five two three four five six seven eight"),  # digits as words
        ("Five Five Five, two three four, 5 6 7 8!", "phone", "Five Five Five, two three four, 5 6 7 8"),  # mixed
        ("mi numero es seis uno cinco cuatro dos tres ocho nueve siete", "phone",
         "seis uno cinco cuatro dos tres ocho nueve siete"),
        ("meu zap: nove oito sete um dois três quatro cinco seis", "phone", "nove oito sete um dois três quatro cinco seis"),
        ("bel me nul zes een twee drie vier vijf zes", "phone", "nul zes een twee drie vier vijf zes"),
        ("call 5 5 5 2 3 4 5 6 7 8", "phone", "5 5 5 2 3 4 5 6 7 8"),  # single digits spaced out
        ("email me: jake.smith (at) gmail (dot) com", "email", "jake.smith (at) gmail (dot) com"),  # written out
        ("JAKE [AT] EXAMPLE [DOT] ORG", "email", "JAKE [AT] EXAMPLE [DOT] ORG"),
        ("its jake dot smith at gmail dot com", "email", "jake dot smith at gmail dot com"),  # a bare "at": a provider
        ("hmu jake at gmail.com", "email", "jake at gmail.com"),
        ("mi correo es ana arroba hotmail punto com", "email", "ana arroba hotmail punto com"),
        ("my birthday is March 3rd", "birthday", "March 3rd"),
        ("i was born on 04/12/2011", "birthday", "04/12/2011"),
        ("mi cumpleaños es el 5 de mayo", "birthday", "5 de mayo"),
        ("mi cumple es el 3 de mayo", "birthday", "3 de mayo"),  # as students shorten it
        ("meu niver é dia 4 de abril", "birthday", "4 de abril"),
        ("My birthday is on March 3rd", "birthday", "March 3rd"),
        ("my birthday’s March 3rd", "birthday", "March 3rd"),
        ("my birthday is the 3rd of March", "birthday", "3rd of March"),
        ("i'm turning 13 on the 5th of May", "birthday", "5th of May"),  # an age and a date
        ("hoi ik ben Fleur, geboren 4 maart 2011", "birthday", "4 maart 2011"),  # "geboren" without "op"
        ("nacida el 4 de marzo de 2011", "birthday", "4 de marzo de 2011"),
        ("nascido em 4 de março de 2011", "birthday", "4 de março de 2011"),
        ("i go to Lincoln High School", "school", "Lincoln High School"),
        ("estudio en Colegio San José", "school", "Colegio San José"),
        ("I go to Lincoln High School", "school", "Lincoln High School"),  # "I" as everyone writes it
        ("I'm a sophomore at Jefferson High", "school", "Jefferson High"),
        ("we go to Jefferson Elementary", "school", "Jefferson Elementary"),
        ("my school is Lincoln High", "school", "Lincoln High"),
        ("Estudio en el Colegio San José", "school", "Colegio San José"),
        ("Voy al Instituto Cervantes", "school", "Instituto Cervantes"),
        ("Estudo no Colégio Bandeirantes", "school", "Colégio Bandeirantes"),
        ("Ik zit op het Stedelijk Gymnasium", "school", "Stedelijk Gymnasium"),
        ("i go to jefferson middle school, come say hi", "school", "jefferson middle school"),  # lower case
        ("im 12 and go to lakeview elementary lol", "school", "lakeview elementary"),
        ("westfield high sophomore 🏐 #classof2027", "school", "westfield high"),  # a profile line
        ("bio: lincoln high junior | she/her", "school", "lincoln high"),
        ("meet me after 3rd period, im at riverside middle btw", "school", "riverside middle"),  # after "at"
        ("she's from lincoln high school i think", "school", "lincoln high school"),  # "from", "school" follows
        ("voy a la secundaria benito juárez, en 2do", "school", "secundaria benito juárez"),  # the kind, then the name
        ("estudo na escola estadual machado de assis", "school", "escola estadual machado de assis"),
        ("mi escuela es la primaria emiliano zapata", "school", "primaria emiliano zapata"),
        ("voy a la prepa 5", "school", "prepa 5"),
        ("estudo na escola estadual fernando pessoa", "school", "escola estadual fernando pessoa"),  # not a gerund
    ],
)
def test_personal_information_is_found_at_its_offsets(text, kind, found):
    spans = pii.find(text)
    assert [(s.kind, text[s.start:s.end]) for s in spans] == [(kind, found)]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        # a unit alone on its line: the line before it is the street, in any language's form
        ("Lindholmen 12\nApt. 4\nGöteborg 41756", "Lindholmen 12\nApt. 4\nGöteborg 41756"),
        ("send it to\n4596 Tylova 285\nSuite 578\nOstrov nad Ohri 36301",
         "4596 Tylova 285\nSuite 578\nOstrov nad Ohri 36301"),
        # lines pasted from a list, a quoted message, or through a bad encoding
        ("• 14 Crown Street\n• Apt. 5\n• Springfield, IL 62704", "14 Crown Street\n• Apt. 5\n• Springfield, IL 62704"),
        ("> Allika 46\n> Suite 501\n> Estonia 62488", "Allika 46\n> Suite 501\n> Estonia 62488"),
        ("??? Strickstrasse 61\n??? Suite 292\n??? Zuoz 75524", "Strickstrasse 61\n??? Suite 292\n??? Zuoz 75524"),
        # a house or building number written before the street
        ("meet at 12 Kerkstraat 5 tonight", "12 Kerkstraat 5"),
        ("4844 Søndergade 52\nApt. 656", "4844 Søndergade 52\nApt. 656"),
        # the line before a unit that is a sentence, not a street
        ("see you at 5\nSuite 12", "Suite 12"),
        ("I got 99 problems\nApt 4", "Apt 4"),
        ("12:30 Kerkstraat 5", "Kerkstraat 5"),  # a time is no house number
    ],
)
def test_an_address_block_is_found_whole_so_that_redaction_hides_all_of_it(text, address):
    assert [(s.kind, text[s.start:s.end]) for s in pii.find(text)] == [("address", address)]


@pytest.mark.parametrize(
    "text",
    [
        "the score was 21-14 and then 35-28",
        "see you at 3:30 on 5/12",  # a date without a birthday cue
        "chapter 12, pages 100-150",
        "my @ handle is cool",
        "the year 2024 was 365 days",
        "my high school is great",  # no school name
        "I go to school at 8",
        "the game is on March 3rd",  # a date without a birthday cue
        "I'm at school",
        "i go to the high school game",  # no capitalized name
        "we go to middle school together",  # which kind of school, not its name
        "i go to public high school",
        "I'm at such high risk right now",
        "i was up at home middle of the night again",  # "at" a place, then "middle of"
        "gas prices at all time high.",
        "i was at practice high on energy drinks lol",
        "best high school senior year ever",  # an adjective, not a name
        "17 yo male high school senior living with my parents",  # not a profile line
        "i go to jefferson high street market",  # a street
        "I go to Lincoln tomorrow",  # no school word
        "I am at Starbucks High Street",  # a street
        "server at 36.160.14.148 is down",  # an IP address
        "on 2007-01-17 23:08:55 it began",  # a date and time
        "ssn 123-45-6789",  # not a phone number (and not looked for)
        "it's a 3 hour drive from here",  # a duration before a word that is a street suffix
        "we have 2 more on the way",
        "i ran 5 miles down the road",
        "see you at 10 Main",  # no suffix: a time and a name
        "we got 2 tickets to the Park",
        "get your kicks on Route 66",  # a song, not an address
        "highway 61 revisited",
        "it costs $12 at the plaza",
        "the score was 3 to 1 at the court",
        "version 2.3.1 on the street",
        "my bestie 4 life",  # "-tie" is no longer a street ending
        "sent via email 2 days ago",
        "et al. found 3 cases",
        "out of the corner of my eye and then",  # no street names
        "unit 5 test is tomorrow",  # a school unit, not an apartment
        "on March 12 2024 at 5 pm",
        "one two three four five six seven eight nine",  # counting, not a number
        "10 9 8 7 6 5 4 3 2 1 0 happy new year",
        "we won 2 1 then 3 0 then 4 2",  # too few digits
        "no no no no no no no",
        "someone two three four five six",  # "one" inside a word
        "look at google dot com",  # a bare "at" before a site, not a mail provider
        "meet me at the mall dot dot dot",
        "voy a la secundaria mañana",  # the kind of school, then a word of the sentence
        "voy a la secundaria en bici",
        "voy a la secundaria caminando",  # a gerund
        "voy a la prepa 2 veces por semana",
        "estudo na escola estadual perto de casa",
        "voy a la escuela con mi hermano",  # "escuela" alone names no school
    ],
)
def test_text_without_personal_information(text):
    assert pii.find(text) == []


def test_personal_information_raises_a_pii_flag_with_placeholder_phrases(packaged):
    text = "text me at (212) 555-0134 or jo@example.org"
    (flag,) = packaged.classify(text)
    assert (flag.category, flag.subcategory, flag.severity, flag.score) == ("pii", "phone", "medium", 2.0)
    assert [(m.phrase, text[m.start:m.end]) for m in flag.matches] == [
        ("<phone>", "(212) 555-0134"), ("<email>", "jo@example.org")]
    assert "555" not in flag.explanation  # the explanation never repeats the information


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("call (212) 555-0134 now", "call •••••••••••••• now"),
        ("jo@example.org kys", "•••••••••••••• kys"),
        ("nothing here", "nothing here"),
        ("", ""),
    ],
)
def test_redaction_keeps_length_and_offsets(packaged, text, redacted):
    assert packaged.redact(text) == redacted
    assert len(packaged.redact(text)) == len(text)


def test_offsets_of_other_flags_stay_exact_in_the_redacted_text(packaged):
    text = "call me (212) 555-0134, kill yourself"
    stored = packaged.redact(text)
    bullying = next(f for f in packaged.classify(text) if f.category == "bullying")
    assert [stored[m.start:m.end] for m in bullying.matches] == ["kill yourself"]


def test_a_failing_detector_redacts_everything_rather_than_leak(packaged, monkeypatch):
    def broken(text, region):
        raise RuntimeError("library bug")
    monkeypatch.setattr(pii, "find", broken)
    assert packaged.redact("call (212) 555-0134") == "•" * 19
    assert packaged.classify("kys")[0].category == "bullying"  # classification goes on


POST_PARTS = st.lists(st.sampled_from([
    "1668 Glyn St", "14 crown STREET suite 5", "Calle Mayor 12", "Kerkstraat 5", "Fő u. 12", "apt5", "Apt. #297",
    "PO Box 149", "PSC 0413, Box 8144", "my birthday is March 3rd", "BORN ON 04/12/2011", "dob: 1/2",
    "mi cumpleaños es el 5 de mayo", "a@b.co", "jo.doe+x@EXAMPLE.org", "@user", "@user.", "(212) 555-0134",
    "I go to Lincoln High School", "I'm a junior at", "Colégio Bandeirantes", "High Street", "my birthday's", "turning 13 on the", "bırthday", "İ", "ſt", "K", "é", " ", "\t", "\n", ",", "5", "2 hours", "way",
    "350 5th Ave", "4 Privet Drive", "drive", "Springfield, IL 62704", "FPO AE 09501", "USNS Comfort",
    "corner of Main and 5th", "ESQUINA DE Olvera y Main", "my address is", "five", "Nine", "seis", "5️⃣", "5 5", "(at)",
    "[ dot ]", " dot ", "gmail", "at", "jake", "arroba", " @ ", "-", "İ", "2", "five 5", "-five", "dois.", "one,", "dirección", "adres", "Avenida Paulista",
    "Via Roma 3", "via Roma 3", "12 rue de la Paix", "postbus 1", "Caixa Postal 5", "Kerkstraat 5a", "1012 AB",
    "\U0001f3e0", "MAIN STREET", "Lindholmen 12\n", "\nApt. 4", "• ", "> ", "???", "Soto del Barco 33126",
    "address? it's", "address:\n", "Kerkstraat 5 and", "corner of",
]), max_size=8).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(POST_PARTS)
def test_the_quick_tests_before_each_pattern_never_skip_a_finding(text):
    found = pii.find(text)
    with mock.patch.object(pii, "_may_match", lambda cues, text, lowered: True), \
            mock.patch.object(pii, "_MAYBE_EMAIL", re.compile("")), \
            mock.patch.object(pii, "_may_spell_email", lambda lowered, words: True), \
            mock.patch.object(pii, "_may_spell_digits", lambda text, words, has_digit: True):
        assert pii.find(text) == found


def test_lower_case_finds_what_ignorecase_finds_but_for_the_odd_characters():
    """The quick tests look for lower-case cues in ``text.lower()``; IGNORECASE would compare
    each character's case forms. Over every code point, the two differ only on ``CASE_ODD``."""
    every_character = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    cues = [cue.pattern for cue in (*pii._ADDRESS_CUES, *pii._BIRTHDAY_CUES)]
    letters = sorted({c for cue in cues for c in cue if c.isalpha() or not c.isascii()})
    odd = {c for c in every_character if len(c.lower()) != 1}
    for letter in letters:
        odd |= {c for c in re.findall(re.escape(letter), every_character, re.IGNORECASE) if c.lower() != letter}
    for character_class in (r"\w", r"\d", r"\s"):
        pattern = re.compile(character_class)
        odd |= {c for c in every_character
                if len(c.lower()) == 1 and bool(pattern.match(c)) != bool(pattern.match(c.lower()))}
    assert "s" in letters and "ó" in letters
    assert odd == set(pii.CASE_ODD)


def test_redaction_after_classification_is_the_same_as_without(packaged):
    for text in ["call me (212) 555-0134, kill yourself", "no personal information", "x" * 20_001 + " a@b.co"]:
        packaged.classify(text)
        assert packaged.redact(text) == pii.redact(text, pii.find(text))
    packaged.classify("call me (212) 555-0134")
    assert packaged.redact("mail a@b.co") == "mail ••••••"


@pytest.mark.parametrize("text", [
    "1 " + "a " * 50_000,  # a number and words that never reach a suffix
    "1 Main St" + ", A" * 30_000,  # a street and places that never reach a postal code
    "corner of " + "Main " * 20_000,
    "1\t" * 50_000,
    "calle " + "x " * 50_000 + "st",
    "I am a senior at " * 20_000 + "X High",  # school cues that never reach a school name
    "1 a\n" * 25_000 + "Suite 5",  # street-shaped lines before a unit
    "Suite 5\n" + "> Abc\n" * 25_000,  # place-shaped lines after it
    "one " * 25_000,  # digits as words that never end
    "a dot " * 20_000 + "(at)",  # a local part that never reaches its "at"
    "x (at) " + "y (dot) " * 20_000,  # a domain that never reaches its end
    "5️⃣" * 30_000,
])
def test_a_pathological_post_of_100_kb_is_searched(text):
    pii.find(text)  # returns: no catastrophic backtracking
