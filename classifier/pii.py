"""Personal information a student shares about themselves or others: find it, and redact it.

- phone numbers: Google's libphonenumber (the ``phonenumbers`` package), in the
  district's region and, written with a ``+``, in any region; then numbers shaped like
  phone numbers that it cannot place (digit groups, 7 to 13 digits, not a
  date, an IP address or a US social-security number);
- e-mail addresses, street addresses, birthdays and school names: small patterns below.

Each finding is a ``Span``: kind (a ``pii`` subcategory), start, end in the text.
What is stored is redacted with ``redact``: every character of a span becomes ``•``,
so the length of the text and every offset into it stay the same.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import phonenumbers

REDACTION_CHAR = "•"

KINDS = ("phone", "email", "address", "birthday", "school")


@dataclasses.dataclass(frozen=True, slots=True)
class Span:
    kind: str
    """One of KINDS."""
    start: int
    """Offset of the first character in the text."""
    end: int
    """Offset one past the last character."""


# At least seven digits with at most three separators between each: the cheap test
# that lets libphonenumber (slow) run only on text that may hold a number.
_MAYBE_PHONE = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")

# Numbers libphonenumber cannot place in the district's region (written without "+"):
# three or more digit groups, an area code in parentheses (then up to five digits: a Brazilian
# mobile "(21) 98765-4321"), a 2-4 digit prefix and a 6-8 digit number, or a Brazilian area
# code and number without parentheses ("11 98765-4321"); 7 to 13 digits in all, plus an
# extension ("x123").
_PHONE_SHAPED = re.compile(r"(?<![\w.+/-])\+?(?:\(\d{2,4}\)[ .-]?\d{2,5}(?:[ .-]\d{2,4}){0,2}"
                           r"|\d{1,4}(?:[ .-]\d{2,4}){2,4}|\d{3}[ .-]\d{4}|\d{2,4}[ -]\d{6,8}|\d{2} \d{4,5}-\d{4})"
                           r"(?:[ ]?(?:x|ext\.?)[ ]?\d{1,5})?(?![\w/:-]|\.\d)")
_IP_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_DATE_SHAPED = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")


def _phone_shaped(text: str) -> list[Span]:
    spans = []
    for found in _PHONE_SHAPED.finditer(text):
        number = found.group()
        digits = sum(c.isdigit() for c in number)
        if not 7 <= digits <= 13 + 5 * ("x" in number) or _SSN.fullmatch(number) or _DATE_SHAPED.match(number):
            continue
        if _IP_ADDRESS.fullmatch(number):
            continue
        spans.append(Span("phone", found.start(), found.end()))
    return spans


# Phone numbers written to get past a filter, one digit at a time: as keycap emoji ("5️⃣5️⃣5️⃣"),
# as words in the district's languages ("five five five two three ..."), or as single digits
# with spaces ("5 5 5 2 3 4 ..."), mixed as students mix them. 7 to 13 digits; not a count up
# or down ("one two three four five six seven") nor one digit over and over.
DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9",
    "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6", "siete": "7",
    "ocho": "8", "nueve": "9",
    "um": "1", "dois": "2", "três": "3", "quatro": "4", "sete": "7", "oito": "8", "nove": "9",
    "nul": "0", "een": "1", "twee": "2", "drie": "3", "vier": "4", "vijf": "5", "zes": "6", "zeven": "7",
    "acht": "8", "negen": "9",
}
"""Digits as words, lower case (English, Spanish, Portuguese, Dutch; words two languages share once)."""
_DIGIT_WORD_SET = frozenset(DIGIT_WORDS)
_DIGIT_TOKEN = ("(?:" + "|".join(sorted(DIGIT_WORDS, key=len, reverse=True)) + r")(?![^\W\d_])"
                r"|\d\ufe0f?\u20e3|(?<!\d)\d(?!\d)")
# Lower case: searched in the lowered text when it is ASCII (IGNORECASE costs five times as much).
_DIGITS_ONE_BY_ONE = re.compile(rf"(?<![^\W\d_])(?:{_DIGIT_TOKEN})(?:[ \t,.\-]{{0,3}}(?:{_DIGIT_TOKEN})){{6,}}")
_SPACED_DIGITS = re.compile(r"\d[ \t,.\-]{1,3}\d")
_KEYCAP = re.compile(r"(\d)\ufe0f?\u20e3")


def _words(lowered: str) -> frozenset[str]:
    """The words of ``lowered`` split at spaces, "-", "," and ".": what the quick tests of the
    numbers and addresses written out look for."""
    return frozenset(lowered.replace("-", " ").replace(",", " ").replace(".", " ").split())


def _may_spell_digits(text: str, words: frozenset[str], has_digit: bool) -> bool:
    """False when ``_digits_one_by_one`` finds nothing: without a digit or a keycap, seven
    words of which two differ (one digit over and over is no number)."""
    return ("\u20e3" in text or len(_DIGIT_WORD_SET & words) >= 2
            or (has_digit and (not _DIGIT_WORD_SET.isdisjoint(words) or _SPACED_DIGITS.search(text) is not None)))


def _digits_one_by_one(text: str, lowered: str) -> list[Span]:
    """Phone numbers written one digit at a time (keycaps, words, spaced digits)."""
    spans = []
    for found in _finditer_any_case(_DIGITS_ONE_BY_ONE, text, lowered):
        tokens = re.findall(_DIGIT_TOKEN, found.group().lower())
        digits = [int(DIGIT_WORDS.get(token) or _KEYCAP.sub(r"\1", token)) for token in tokens]
        steps = {b - a for a, b in zip(digits, digits[1:])}
        if 7 <= len(digits) <= 13 and steps not in ({1}, {-1}, {0}):
            spans.append(Span("phone", found.start(), found.end()))
    return spans


# An "@" and a domain name with a dot: what every _EMAIL match holds, and quick to look for
# ("@name" mentions, common in posts, have no dot).
_MAYBE_EMAIL = re.compile(r"@[\w-]+\.")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[a-z]{2,24}(?![\w])", re.IGNORECASE)
# An address with "at" and "dot" written out, as students write it to get past a filter:
# "jo.doe (at) gmail (dot) com", "jo [at] example [dot] org", "jo dot doe at gmail dot com".
# An "at" in brackets (or "arroba", Dutch "apenstaartje") says it is an address; a bare "at"
# only before a mail provider's name ("look at google dot com" is not an address).
_SPELLED_DOT = r"(?: *[\[({<] *(?:dot|punto|ponto|punt) *[\])}>] *| +(?:dot|punto|ponto|punt) +|\.)"
_SPELLED_AT = r"(?: *[\[({<] *(?:at|arroba|apenstaartje) *[\])}>] *| +(?:arroba|apenstaartje) +| +@ +)"
MAIL_PROVIDERS = ("gmail", "googlemail", "yahoo", "ymail", "hotmail", "outlook", "live", "msn", "icloud", "me",
                  "aol", "proton", "protonmail", "gmx", "zoho", "uol", "bol", "terra", "ziggo", "kpnmail")
"""Domains before which a bare "at" is taken for "@"."""
_LOCAL = rf"[\w+-]{{1,64}}(?:{_SPELLED_DOT}[\w+-]{{1,64}}){{0,3}}"
_TLD = rf"{_SPELLED_DOT}[a-z]{{2,24}}(?![\w])"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.+-])(?:{_LOCAL}{_SPELLED_AT}[\w-]{{1,63}}(?:{_SPELLED_DOT}[\w-]{{1,63}}){{0,3}}{_TLD}"
    rf"|{_LOCAL} +at +(?:{'|'.join(MAIL_PROVIDERS)}){_TLD})", re.IGNORECASE)
# What every _SPELLED_EMAIL match holds, quick to look for: a spelled "dot", "@" or its name
# between spaces (one of the words), a word in brackets, or a bare "at" before a provider.
_BRACKETED_WORD = re.compile(r"[\[({<] *(?:at|dot|punt|ponto|arroba|apenstaartje)")
_BARE_AT_PROVIDER = re.compile(rf" at +(?:{'|'.join(MAIL_PROVIDERS)})")
_SPELLED_EMAIL_WORDS = frozenset({"dot", "punto", "ponto", "punt", "arroba", "apenstaartje", "@"})


def _may_spell_email(lowered: str, words: frozenset[str]) -> bool:
    return (not _SPELLED_EMAIL_WORDS.isdisjoint(words)
            or (("(" in lowered or "[" in lowered or "{" in lowered or "<" in lowered)
                and _BRACKETED_WORD.search(lowered) is not None)
            or ("at" in words and _BARE_AT_PROVIDER.search(lowered) is not None))


# Street addresses. A street is found by what names it as one: a suffix after the name
# ("1668 Glyn St", "350 5th Ave"), a word before it ("Calle Mayor 12", "Rua das Flores, 120"),
# an ending of the name ("Kerkstraat 5"), a post-office or military box, a unit ("Apt. 297"),
# or, for an intersection, "corner of ... and ...". A unit and the city, state or country and
# postal code written after a street are part of its span. Tables are data: a format is added
# by adding a word.

# Suffixes that name a street in any case: "1668 glyn st" is how a student writes it.
_STREET_SUFFIX = ("street|streets|st|str|avenue|ave|av|boulevard|blvd|rd|ln|dr|ct|pl|pkwy|hwy|cir|ter|terr|"
                  "trl|sq|expy|fwy|tpke|aly|plz|cres|crt")
# The USPS suffixes (Publication 28) and British ones that are also everyday words ("a 3 hour
# drive", "2 more on the way"): a street only when capitalized, after a capitalized name.
_STREET_SUFFIX_CAPITALIZED = (
    "Alley|Annex|Arcade|Bayou|Beach|Bend|Bluffs?|Bottom|Branch|Bridge|Brooks?|Burg|Bypass|Camp|Canyon|Cape|"
    "Causeway|Center|Centre|Circle|Cliffs?|Close|Club|Commons?|Corners?|Course|Courts?|Coves?|Creek|Crescent|"
    "Crest|Crossing|Crossroads?|Curve|Dale|Dam|Divide|Drives?|Estates?|Expressway|Extension|Falls|Ferry|Fields?|"
    "Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Haven|"
    "Heights|Highway|Hills?|Hollow|Inlet|Islands?|Isle|Junction|Keys?|Knolls?|Lakes?|Landing|Lane|Lights?|"
    "Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|"
    "Parade|Parks?|Parkway|Pass|Passage|Path|Pike|Pines?|Place|Plains?|Plaza|Points?|Ports?|Prairie|Ranch|"
    "Rapids?|Ridges?|Rise|River|Roads?|Route|Row|Run|Shoals?|Shores?|Skyway|Springs?|Spur|Squares?|Station|"
    "Stream|Summit|Terrace|Trace|Track|Trail|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Viaduct|Views?|"
    "Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Wharf|Yard")
# Words that are never part of a street's name between its number and its suffix: what makes
# "2 hours on the road" or "10 minute walk" a phrase and not an address.
_NOT_A_STREET_NAME = (
    "the|a|an|and|or|of|to|in|on|at|by|for|from|with|into|onto|over|under|up|down|out|off|my|your|his|her|our|"
    "their|its|this|that|these|those|is|are|was|were|be|been|am|it|i|you|he|she|we|they|me|him|us|them|more|"
    "most|less|some|any|all|no|not|so|too|very|just|only|also|than|then|but|if|as|about|like|other|another|"
    "times?|x|hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|months?|years?|yrs?|miles?|mi|km|"
    "meters?|feet|ft|blocks?|people|kids|guys|things?|points?|pts|dollars?|bucks|percent|lbs?|kg|other")
_NUMBER = r"\d{1,6}(?:-?[a-z](?!\w))?"
_WORD = r"[^\W\d_][\w'.-]*"
_NAME_WORD = rf"(?!(?:{_NOT_A_STREET_NAME})\b)(?:{_WORD}|\d{{1,3}}(?:st|nd|rd|th)\b)"
_CAPITALIZED_NAME_WORD = rf"(?!(?:{_NOT_A_STREET_NAME})\b)(?-i:[A-Z][\w'.-]*|\d{{1,3}}(?:st|nd|rd|th)\b)"
# Words before the name, where the number follows it: Spanish, Portuguese, French, Italian
# (capitalized: "via" and "piazza" are English words too), Polish.
_STREET_PREFIX = (r"calle|c/|avenida|avda\.|av\.|paseo|plaza|carrera|cra\.|camino|pasaje|callejón|calzada|"
                  r"carretera|bulevar|ronda|rua|r\.|travessa|alameda|praça|largo|estrada|rodovia|ladeira|beco|"
                  r"avenue|rue|boulevard|chemin|ul\.|ulica")
_STREET_PREFIX_CAPITALIZED = "Via|Viale|Piazza|Piazzetta"
# Prefixes written after the number as well ("12 rue de la Paix", "76 Boulevard de Normandie").
_STREET_PREFIX_AFTER_NUMBER = r"rue|boulevard|chemin|allée|impasse"
# Endings of one-word street names, followed by the number: Dutch, German, Nordic.
_STREET_WORD_ENDING = (r"straat|laan|weg|plein|gracht|kade|singel|dijk|dreef|steeg|markt|strasse|straße|gasse|"
                       r"platz|allee|gatan|gata|gade|vej|veien|vägen|katu")
_STREET_AFTER_NAME = r"u\.|út|utca|útja"
_UNIT = r"suite|ste\.?|apt\.?|apartment|apto\.?|unit|flat|#"
_POSTCODE = (r"\d{5}(?:-\d{3,4})?"                                  # US ZIP (+4), Brazilian CEP
             r"|\d{4}[ \t]?(?-i:[A-Z]{2})\b"                         # Dutch
             r"|(?-i:[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}\b)"         # British
             r"|(?-i:[A-Z]\d[A-Z][ \t]?\d[A-Z]\d\b)")                # Canadian
# A place's name: capitalized words, with the small words inside names such as "Soto del Barco",
# "Rio de Janeiro", "Ostrov nad Ohří", "Bergen op Zoom" or "Frankfurt am Main".
_PLACE_JOINER = r"(?-i:del|de|da|do|dos|das|di|du|la|le|nad|pod|op|aan|am|an|im|upon|on|sur|en)"
_PLACE = (r"(?-i:[A-Z][\w'.-]*)"
          rf"(?:[ \t]+(?:{_PLACE_JOINER}[ \t]+)?(?-i:[A-Z][\w'.-]*)){{0,3}}")
# What may stand before a line of an address block: a bullet, a quote mark, or characters a bad
# encoding turned into "???" when the address was pasted.
_LINE_LEAD = r"(?:[^\w\s,#]{1,4}[ \t]+)?"
_NEXT_LINE_OR_COMMA = rf"[ \t]*[,\n][ \t\n,]*{_LINE_LEAD}"
_ADDRESS = re.compile(
    r"(?:"
    # "1668 Glyn St", "14 Crown Street", "370 3911 Fourth Avenue", "350 5th Ave", "10 Downing Street"
    rf"\b\d{{1,6}}(?:[ \t]+\d{{1,6}})?[ \t]+(?:{_NAME_WORD}[ \t]+){{1,4}}(?:{_STREET_SUFFIX})\b\.?"
    # "4 Privet Drive", "119 Countess Close"
    rf"|\b\d{{1,6}}(?:[ \t]+\d{{1,6}})?[ \t]+(?:{_CAPITALIZED_NAME_WORD}[ \t]+){{1,4}}"
    rf"(?-i:{_STREET_SUFFIX_CAPITALIZED})\b"
    # "Calle Mayor 12", "Rua das Flores, 120", "Avenida Paulista 1578"
    rf"|(?<!\w)(?:{_STREET_PREFIX}|(?-i:{_STREET_PREFIX_CAPITALIZED}))[ \t]+(?:{_NAME_WORD}[ \t]+){{0,5}}{_NAME_WORD},?[ \t]+(?:n[º°o]\.?[ \t]*)?{_NUMBER}\b"
    # "12 rue de la Paix"
    rf"|\b\d{{1,5}},?[ \t]+(?:{_STREET_PREFIX_AFTER_NUMBER})[ \t]+(?:{_WORD}[ \t]+){{0,3}}{_WORD}"
    # "Kerkstraat 5", "Kerkstraat 5a", "Ziegelgasse 19"
    rf"|\b[^\W\d_]{{3,}}(?:{_STREET_WORD_ENDING})[ \t]+{_NUMBER}\b\.?"
    rf"|\b{_WORD}[ \t]+(?:{_STREET_AFTER_NAME})[ \t]+\d{{1,5}}\b\.?"
    # Military mail: "PSC 0413, Box 8144", "Unit 2050 Box 4190", "USNS Bergman\nFPO AE 12382"
    rf"|\b(?:psc|unit|cmr)[ \t]+\d{{3,5}},?[ \t]+box[ \t]+\d{{3,5}}\b"
    rf"|(?-i:\b(?:USS|USNS|USNV|USCGC)[ \t]+[A-Z][\w'.-]*{_NEXT_LINE_OR_COMMA})?"
    rf"(?-i:\b[AFD]PO[ \t]+A[AEP])[ \t]+\d{{5}}(?:-\d{{4}})?\b"
    # "Suite 501", "Apt. 297", "PO Box 149", "Postbus 12", "Caixa Postal 5", "Apartado 7"
    rf"|\b(?:suite|apt\.?|apartment|apto\.?)[ \t]*#?[ \t]*\d{{1,5}}\b"
    rf"|\b(?:p\.?[ \t]?o\.?[ \t]*box|post[ \t]?box|postbus|caixa[ \t]+postal|apartado(?:[ \t]+postal)?)[ \t]+\d{{1,6}}\b"
    # "the corner of Main and 5th", "la esquina de Olive y 3rd", "hoek van de Dorpsstraat en de Kerkweg",
    # "the corner of Kerkstraat 5 and Molenweg"
    rf"|\b(?:corner[ \t]+of|esquina[ \t]+d[eao]|hoek[ \t]+van)[ \t]+(?:(?:the|la|de|het)[ \t]+)?"
    rf"(?:\d{{1,6}}[ \t]+)?{_CAPITALIZED_NAME_WORD}(?:[ \t]+{_CAPITALIZED_NAME_WORD}){{0,3}}(?:[ \t]+\d{{1,6}})?"
    rf"[ \t]+(?:and|&|y|e|com|con|en)[ \t]+(?:(?:the|la|de|het|a|o)[ \t]+)?"
    rf"{_CAPITALIZED_NAME_WORD}(?:[ \t]+{_CAPITALIZED_NAME_WORD}){{0,3}}"
    # after "my address is": "address: 329 Arenales 9462", "mijn adres is Dorpsweg 12"
    rf"|\b(?:address|direcci[oó]n|endere[cç]o|adres)(?:[ \t]+(?:is|es|é)|\?[ \t]*it(?:'s|[ \t]+is))?"
    rf"(?:[ \t]*:[ \t]*\n?)?[ \t]*"
    rf"(?P<after_cue>{_NUMBER}[ \t]+(?:{_NAME_WORD}[ \t]+){{0,3}}{_NAME_WORD}(?:[ \t]+{_NUMBER}\b)?"
    rf"|(?:{_NAME_WORD}[ \t]+){{0,3}}{_NAME_WORD},?[ \t]+{_NUMBER}\b)"
    r")"
    # a unit after the street: "1668 Glyn St Apt 5", "14 Crown Street, Suite 321"
    rf"(?:(?:{_NEXT_LINE_OR_COMMA}|[ \t]+)(?:{_UNIT})[ \t]*#?[ \t]*\d{{1,5}}[a-z]?\b\.?)?"
    # city, state or country, and a postal code: ", Springfield, IL 62704", "\n1012 AB Amsterdam"
    rf"(?:(?:{_NEXT_LINE_OR_COMMA}{_PLACE}){{1,3}}(?:[ \t]+|{_NEXT_LINE_OR_COMMA})(?:{_POSTCODE})"
    rf"|{_NEXT_LINE_OR_COMMA}(?:{_POSTCODE})(?:[ \t]+{_PLACE})?)?",
    re.IGNORECASE)

# An address is written as a block of lines. A unit alone at the start of a line ("Suite 578")
# means the line before it is the street, whatever its form ("Tylova 285", "4596 Tylova 285"):
# a name with a house number, or a number with a name. A number written just before a street
# ("4844 Søndergade 52") is a house or building number. Both join the street's span, so that
# redaction hides the whole address and not only the part a pattern recognizes.
_UNIT_WITH_NUMBER = re.compile(rf"(?:{_UNIT})[ \t]*#?[ \t]*\d", re.IGNORECASE)
_STREET_LINE_BEFORE_UNIT = re.compile(
    rf"(?:^|\n){_LINE_LEAD}(?P<street>(?:\d{{1,6}}[ \t]+)?(?:{_NAME_WORD}[ \t]+){{0,4}}{_NAME_WORD}[ \t]+"
    rf"\d{{1,6}}[a-z]?\.?|\d{{1,6}}[ \t]+(?:{_NAME_WORD}[ \t]+){{0,4}}{_NAME_WORD}\.?)[ \t]*,?[ \t]*\n"
    rf"[ \t]*{_LINE_LEAD}$",
    re.IGNORECASE)
_NUMBER_BEFORE_STREET = re.compile(r"(?:^|(?<=[\s(\[\"']))\d{1,6}[ \t]+$")
_BLOCK_LOOKBACK = 160
"""How far before a unit the street line is looked for (characters)."""


def _address_start(text: str, start: int) -> int:
    """Where the address whose pattern matched at ``start`` begins: earlier when a street line
    stands before a unit, or a house number before a street."""
    before = text[max(0, start - _BLOCK_LOOKBACK):start]
    if _UNIT_WITH_NUMBER.match(text, start):  # a unit; its street line ends the text before it
        street = _STREET_LINE_BEFORE_UNIT.search(before)
        if street:
            return start - len(before) + street.start("street")
    elif not text[start].isdigit():
        number = _NUMBER_BEFORE_STREET.search(before)
        if number:
            return start - len(before) + number.start()
    return start


# What every _ADDRESS match holds, one pattern for each of its branches, for _may_match: without
# the branches' leading \b or look-behind, a search skips to a digit or a literal. An _ADDRESS
# search costs about 60 us in a post that has digits, these about 10. Only the intersection
# branch can match without a digit: _INTERSECTION_CUES are for text without one.
_INTERSECTION_CUES = (re.compile(r"(?:corner[ \t]+of|esquina[ \t]+d[eao]|hoek[ \t]+van)[ \t]"),)
_ADDRESS_CUES = tuple(re.compile(cue) for cue in (
    rf"\d[ \t]+(?:\w[\w'.-]*[ \t]+){{1,5}}(?:{_STREET_SUFFIX}|{_STREET_SUFFIX_CAPITALIZED.lower()})\b",
    rf"(?:{_STREET_PREFIX}|{_STREET_PREFIX_CAPITALIZED.lower()})[ \t]+(?:\w[\w'.-]*[ \t]+){{0,5}}\w[\w'.-]*,?[ \t]+"
    rf"(?:n[º°o]\.?[ \t]*)?\d",
    rf"\d,?[ \t]+(?:{_STREET_PREFIX_AFTER_NUMBER})[ \t]",
    rf"(?:{_STREET_WORD_ENDING}|{_STREET_AFTER_NAME}|psc|unit|cmr|box|postbus|postal|apartado)[ \t]+\d",
    r"[afd]po[ \t]+a[aep][ \t]+\d",
    r"(?:address|direcci[oó]n|endere[cç]o|adres)",
    r"(?:suite|apt\.?|apartment|apto\.?)[ \t]*#?[ \t]*\d")) + _INTERSECTION_CUES

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
           r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
           r"janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|novembro|dezembro|"
           r"januari|februari|maart|mei|juni|juli|augustus|oktober")
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?"
         rf"|(?:{_MONTHS})\b\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ \t]+\d{{4}})?"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+|de[ \t]+)?(?:{_MONTHS})\b(?:,?[ \t]+(?:de[ \t]+)?\d{{4}})?)")
_BIRTHDAY_CUE = (
    r"my[ \t]+(?:birthday|bday|b-day|dob)(?:['\u2019]s|[ \t]+is)?(?:[ \t]+on)?(?:[ \t]+the)?|"
    r"(?:i[ \t]+was[ \t]+)?born[ \t]+(?:on[ \t]+)?|turning[ \t]+\d{1,2}[ \t]+on(?:[ \t]+the)?|"
    r"date[ \t]+of[ \t]+birth:?|dob:?|mi[ \t]+cumple(?:años)?[ \t]+es(?:[ \t]+el)?|nací[ \t]+el|"
    r"nacid[oa][ \t]+el|meu[ \t]+(?:aniversário|niver)[ \t]+é(?:[ \t]+(?:dia|em))?|"
    r"(?:nasci|nascid[oa])[ \t]+(?:em|no[ \t]+dia)|mijn[ \t]+verjaardag[ \t]+is(?:[ \t]+op)?|"
    r"geboren(?:[ \t]+op)?")
_BIRTHDAY = re.compile(rf"\b(?:{_BIRTHDAY_CUE})[ \t]*:?[ \t]*(?P<date>{_DATE})", re.IGNORECASE)
# What every _BIRTHDAY match holds, for _may_match.
_BIRTHDAY_CUES = (re.compile(_BIRTHDAY_CUE),)

# A school is named after a phrase that says the writer goes there, in any case ("I go to",
# "I'm a sophomore at", "my school is", "voy al", "estudo no", "ik zit op het"), as capitalized
# words with a school word.
_NOT_A_STREET = r"(?![ \t]+(?i:street|st|road|rd|way|lane|ave|avenue)\b)"  # "High Street" is a street
_SCHOOL_GRADE = r"(?:a[ \t]+)?(?:student|freshman|sophomore|junior|senior|\d{1,2}(?:st|nd|rd|th)[ \t]+grader)[ \t]+"
_SCHOOL = re.compile(
    r"\b(?i:(?:i|we)[ \t]+(?:go|goto|attend|study)[ \t]+(?:to[ \t]+|at[ \t]+)?"
    rf"|(?:i'?m|i[ \t]+am)[ \t]+(?:{_SCHOOL_GRADE})?at[ \t]+|student[ \t]+at[ \t]+|my[ \t]+school[ \t]+is[ \t]+"
    r"|estudio[ \t]+en[ \t]+(?:el[ \t]+|la[ \t]+)?|voy[ \t]+(?:al|a[ \t]+la)[ \t]+"
    r"|mi[ \t]+(?:escuela|colegio)[ \t]+es[ \t]+"
    r"|estudo[ \t]+n[ao][ \t]+|minha[ \t]+escola[ \t]+é[ \t]+|ik[ \t]+zit[ \t]+op[ \t]+(?:de[ \t]+|het[ \t]+)?"
    r"|mijn[ \t]+school[ \t]+is[ \t]+)"
    r"(?P<school>(?:[A-Z][\w'.-]*[ \t]+){1,4}(?i:high|middle|elementary|primary|secondary|junior[ \t]+high)"
    rf"{_NOT_A_STREET}"
    r"(?i:[ \t]+school)?|(?:[A-Z][\w'.-]*[ \t]+){1,4}(?i:academy|school|college|lyceum|gymnasium)"
    r"|(?i:escola|escuela|colegio|colégio|instituto|liceo|liceu|basisschool)(?:[ \t]+[A-Z][\w'.-]*){1,4})\b")

# As students write it, in lower case: a name before "high", "middle" or "elementary", after
# "I go to" or "I attend" ("i go to jefferson middle school", "im 12 and go to lakeview
# elementary"); after "at" or "from" ("in mrs kim's homeroom at oakwood middle, room 12",
# "from lincoln high school"; not "at home middle of the night"); or opening a profile line
# before the grade ("westfield high sophomore 🏐").
# The name's words are not words that say which kind of school it is ("we go to public high
# school"), or how high something is ("i'm at such high risk" has no such lead anyway).
_NOT_A_SCHOOL_NAME = (
    r"the|my|our|a|an|this|that|his|her|their|your|its|every|each|some|any|no|to|at|in|on|and|or|of|for|so|"
    r"such|very|too|pretty|really|super|high|middle|elementary|primary|secondary|junior|senior|school|public|"
    r"private|catholic|christian|charter|boarding|local|new|old|same|different|regular|normal|online|virtual|"
    r"summer|night|sunday|big|small|another|best|worst|first|last|great|favorite|favourite|fav|whole|entire|"
    r"next|former|future|ex|freshman|sophomore|student|grade|class|all|time|record|peak|level|tide|home|work|"
    r"church|lunch|practice|camp|party|gym|mall|park|recess|ur|u|ya|yo|least|most")
_SCHOOL_NAME_WORD = rf"(?!(?:{_NOT_A_SCHOOL_NAME})\b)[^\W\d_]"
"""The first letter of a word of a school's name, not a word that names no school."""
_LOWER_CASE_NAME = (rf"(?:{_SCHOOL_NAME_WORD}[\w'.-]*[ \t]+){{1,3}}"
                    rf"(?:high|middle|elementary){_NOT_A_STREET}(?:[ \t]+school)?")
# After "at" or "from", "high" is too often a word of the sentence ("at least incredibly
# high"): "high school" in full, or "middle", "elementary"; a name's words hold no ".".
_NAME_AFTER_AT = (rf"(?:{_SCHOOL_NAME_WORD}[\w'-]*[ \t]+){{1,3}}"
                  rf"(?:(?:middle|elementary){_NOT_A_STREET}(?:[ \t]+school)?|high[ \t]+school)")
_SCHOOL_LOWER_CASE = re.compile(
    rf"\b(?:i|we|and)[ \t]+(?:go|goto|attend)[ \t]+(?:to[ \t]+)?(?P<school>{_LOWER_CASE_NAME})\b"
    rf"|(?:^|(?<=[\n|•·,;:!?.]))[ \t]*(?P<profile>{_LOWER_CASE_NAME})[ \t]+"
    r"(?:freshman|sophomore|junior|senior|class[ \t]+of|c/o|\d{1,2}(?:st|nd|rd|th)[ \t]+grade(?:r)?)\b",
    re.IGNORECASE)

_SCHOOL_AFTER_AT = re.compile(rf"\b(?:at|from)[ \t]+(?P<school>{_NAME_AFTER_AT})\b(?![ \t]+of\b)", re.IGNORECASE)
_SCHOOL_AFTER_AT_CUES = ("middle", "elementary", "high school")

# Spanish and Portuguese name a school after its kind, and students write it in lower case:
# "voy a la secundaria benito juárez", "estudo na escola estadual machado de assis". After
# a phrase that says the writer goes there, a kind that a name follows (not "escuela" or
# "escola" alone: "voy a la escuela caminando"), then up to four words of the name with "de",
# "da", "do" between them, or a number ("prepa 5", "Secundaria Técnica 45"); not a word of the
# sentence ("voy a la secundaria mañana", "… en bici", "… caminando"; a gerund is listed, as
# "Fernando" ends as one does).
_NOT_A_NAME_ES_PT = (
    r"mañana|manana|hoy|ayer|temprano|tarde|todos|todas|todo|toda|los|las|el|la|lo|os|as|o|a|al|de|del|da|do|"
    r"dos|das|en|em|no|na|con|com|por|para|pra|pro|que|y|e|cada|desde|hasta|pero|mas|porque|cuando|quando|"
    r"aqui|aquí|alli|allí|ahi|ahí|ali|lá|es|é|son|são|está|esta|estoy|tá|ta|muy|muito|mi|mis|meu|minha|su|sus|"
    r"seu|sua|nueva|nuevo|nova|novo|publica|pública|privada|privado|particular|amanhã|amanha|hoje|ontem|cedo|"
    r"perto|longe|cerca|lejos|ya|já|ja|otra|outra|misma|mesma|mesmo|sin|sem|tambien|también|também|"
    r"caminando|corriendo|andando|llegando|yendo|estudiando|manejando|volviendo|saliendo|correndo|chegando|indo|"
    r"estudando|voltando|saindo|pedalando")
_NAME_WORD_ES_PT = rf"(?!(?:{_NOT_A_NAME_ES_PT})\b)[^\W\d_][\w'.-]*"
_SCHOOL_NAMED_AFTER_KIND = re.compile(
    r"\b(?:voy[ \t]+(?:a[ \t]+la|al)|estudio[ \t]+en(?:[ \t]+(?:la|el))?|mi[ \t]+(?:escuela|colegio)[ \t]+es(?:[ \t]+la)?"
    r"|estudo[ \t]+n[ao]|minha[ \t]+escola[ \t]+é(?:[ \t]+[ao])?)[ \t]+"
    r"(?P<school>(?:secundaria|primaria|preparatoria|prepa|escuela[ \t]+(?:secundaria|primaria)"
    r"|escola[ \t]+(?:estadual|municipal)|col[eé]gio[ \t]+estadual)"
    rf"[ \t]+(?:{_NAME_WORD_ES_PT}(?:[ \t]+(?:(?:de|del|da|do|dos|das)[ \t]+)?{_NAME_WORD_ES_PT}){{0,3}}"
    r"(?:[ \t]+\d{1,3}\b)?|\d{1,3}\b(?![ \t]+(?:veces|vezes|días|dias|horas|minutos|semanas|meses|años|anos)\b)))",
    re.IGNORECASE)
_SCHOOL_NAMED_AFTER_KIND_CUES = ("secundaria", "primaria", "prepa", "estadual", "municipal")


_DIGIT = re.compile(r"\d")
_SCHOOL_CUES = ("high", "middle", "elementary", "primary", "secondary", "academy", "school", "college", "lyceum",
                "gymnasium", "escola", "escuela", "colegio", "colégio", "instituto", "liceo", "liceu", "secundaria",
                "primaria", "prepa")


_ANY_CASE = {cue: re.compile(cue.pattern, re.IGNORECASE)
             for cue in (*_ADDRESS_CUES, *_BIRTHDAY_CUES, _DIGITS_ONE_BY_ONE)}
"""The cues and lower-case patterns, case-insensitive: for text whose lower case is not what
IGNORECASE compares (it holds a ``CASE_ODD`` character), and, where offsets into the text are
needed (``_finditer_any_case``), for any text that is not ASCII."""
CASE_ODD = "\u0130\u0131\u017f"
"""The characters IGNORECASE matches to a letter of the cues that their ``lower()`` is not:
"İ" (which lowers to two characters), dotless "ı" (an "i") and long "ſ" (an "s")."""
_CASE_ODD = re.compile(f"[{CASE_ODD}]")


def _may_match(cues: tuple[re.Pattern[str], ...], text: str, lowered: str) -> bool:
    """False when a pattern cannot match ``text``: ``cues`` are lower-case patterns, one of which
    every match holds, case aside. Looked for in ``lowered`` (``text.lower()``), where lower case
    is what IGNORECASE compares, unless ``text`` holds one of the ``CASE_ODD`` characters: then
    case-insensitively in ``text`` itself (five times slower)."""
    if text.isascii() or not _CASE_ODD.search(text):
        return any(cue.search(lowered) for cue in cues)
    return any(_ANY_CASE[cue].search(text) for cue in cues)


def _finditer_any_case(pattern: re.Pattern[str], text: str, lowered: str) -> Iterator[re.Match[str]]:
    """The matches of lower-case ``pattern`` in ``text``, case aside (as ``_may_match`` looks)."""
    return pattern.finditer(lowered) if text.isascii() else _ANY_CASE[pattern].finditer(text)


def find(text: str, region: str = "US") -> list[Span]:
    """Every piece of personal information in ``text``, in text order; overlaps merged."""
    spans: list[Span] = []
    has_digit = _DIGIT.search(text) is not None
    if has_digit and _MAYBE_PHONE.search(text):
        for leniency in (phonenumbers.Leniency.VALID,):
            for found in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency, max_tries=200):
                if not _IP_ADDRESS.fullmatch(found.raw_string):
                    spans.append(Span("phone", found.start, found.end))
        spans += _phone_shaped(text)
    lowered = text.lower()
    words = _words(lowered)
    if _may_spell_digits(text, words, has_digit):
        spans += _digits_one_by_one(text, lowered)
    if _MAYBE_EMAIL.search(text):
        spans += [Span("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if _may_spell_email(lowered, words):
        spans += [Span("email", m.start(), m.end()) for m in _SPELLED_EMAIL.finditer(text)]
    if _may_match(_ADDRESS_CUES if has_digit else _INTERSECTION_CUES, text, lowered):
        for m in _ADDRESS.finditer(text):
            start = m.start("after_cue") if m.start("after_cue") >= 0 else _address_start(text, m.start())
            spans.append(Span("address", start, m.end()))
    if has_digit:
        if _may_match(_BIRTHDAY_CUES, text, lowered):
            spans += [Span("birthday", m.start("date"), m.end("date")) for m in _BIRTHDAY.finditer(text)]
    if any(cue in lowered for cue in _SCHOOL_CUES):
        spans += [Span("school", m.start("school"), m.end("school")) for m in _SCHOOL.finditer(text)]
        spans += [Span("school", *m.span("school" if m.start("school") >= 0 else "profile"))
                  for m in _SCHOOL_LOWER_CASE.finditer(text)]
        if any(cue in lowered for cue in _SCHOOL_AFTER_AT_CUES):
            spans += [Span("school", m.start("school"), m.end("school")) for m in _SCHOOL_AFTER_AT.finditer(text)]
        if any(cue in lowered for cue in _SCHOOL_NAMED_AFTER_KIND_CUES):
            spans += [Span("school", *m.span("school")) for m in _SCHOOL_NAMED_AFTER_KIND.finditer(text)]
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Span(merged[-1].kind, merged[-1].start, span.end)
            continue
        merged.append(span)
    return merged


def redact(text: str, spans: list[Span]) -> str:
    """``text`` with every character of every span replaced by ``REDACTION_CHAR`` (same length)."""
    chars = list(text)
    for span in spans:
        chars[span.start:span.end] = REDACTION_CHAR * (span.end - span.start)
    return "".join(chars)
