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
# three or more digit groups, an area code in parentheses, or a 2-4 digit prefix and a
# 6-8 digit number; 7 to 13 digits in all, plus an extension ("x123").
_PHONE_SHAPED = re.compile(r"(?<![\w.+/-])\+?(?:\(\d{2,4}\)[ .-]?\d{2,4}(?:[ .-]\d{2,4}){0,2}"
                           r"|\d{1,4}(?:[ .-]\d{2,4}){2,4}|\d{3}[ .-]\d{4}|\d{2,4}[ -]\d{6,8})"
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


# An "@" and a domain name with a dot: what every _EMAIL match holds, and quick to look for
# ("@name" mentions, common in posts, have no dot).
_MAYBE_EMAIL = re.compile(r"@[\w-]+\.")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[a-z]{2,24}(?![\w])", re.IGNORECASE)

_STREET_SUFFIX = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|"
    r"parkway|pkwy|circle|cir|highway|hwy|square|sq|trail|crescent|parks?|squares?|streets?|union|"
    r"calle|avenida|rua|travessa|straat|laan|weg|plein|gracht|kade|strasse|straße")
_STREET_PREFIX = (r"calle|avenida|avda\.|av\.|rua|travessa|avenue|rue|via|viale|piazza|strada|calea|ul\.|ulica|"
                  r"c/|pl\.|al\.")
_STREET_WORD_ENDING = (r"straat|laan|weg|plein|gracht|kade|strasse|straße|gatan|gata|gade|katu|tie|vej|"
                       r"vägen|stræti|braut|ova|ská|ého")
_STREET_AFTER_NAME = r"u\.|út|utca|útja"
_WORD = r"[^\W\d_][\w'.-]*"
_ADDRESS = re.compile(
    # "1668 Glyn St", "14 Crown Street", "370 3911 Fourth Avenue Suite 697"
    rf"\b\d{{1,6}}(?:[ \t]+\d{{1,6}})?[ \t]+(?:{_WORD}[ \t]+){{1,4}}(?:{_STREET_SUFFIX})\b\.?"
    rf"(?:,?[ \t]+(?:suite|apt\.?|apartment|unit)[ \t]*#?\d{{1,5}})?"
    # "Calle Mayor 12", "Rua das Flores, 120", "Kerkstraat 5"
    rf"|(?<!\w)(?:{_STREET_PREFIX})[ \t]+(?:{_WORD}[ \t]+){{0,4}}"
    rf"{_WORD},?[ \t]+\d{{1,5}}\b"
    rf"|\b[^\W\d_]{{3,}}(?:{_STREET_WORD_ENDING})[ \t]+\d{{1,5}}\b\.?"
    rf"|\b{_WORD}[ \t]+(?:{_STREET_AFTER_NAME})[ \t]+\d{{1,5}}\b\.?"
    rf"|\b(?:psc|unit)[ \t]+\d{{3,5}},?[ \t]+box[ \t]+\d{{3,5}}\b"
    # "Suite 501", "Apt. 297", "PO Box 149"
    rf"|\b(?:suite|apt\.?|apartment|unit)[ \t]*#?\d{{1,5}}\b|\bp\.?[ \t]?o\.?[ \t]+box[ \t]+\d{{1,6}}\b",
    re.IGNORECASE)
# What every _ADDRESS match holds, one pattern for each of its branches, for _may_match: without
# the branches' leading \b or look-behind, a search skips to a digit or a literal. An _ADDRESS
# search costs about 60 us in a post that has digits, these about 10.
_ADDRESS_CUES = tuple(re.compile(cue) for cue in (
    rf"\d[ \t]+(?:{_WORD}[ \t]+){{1,4}}(?:{_STREET_SUFFIX})\b",
    rf"(?:{_STREET_PREFIX})[ \t]+(?:{_WORD}[ \t]+){{0,4}}{_WORD},?[ \t]+\d",
    rf"(?:{_STREET_WORD_ENDING}|{_STREET_AFTER_NAME}|psc|unit|box)[ \t]+\d",
    r"(?:suite|apt\.?|apartment|unit)[ \t]*#?\d"))

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|"
           r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
           r"janeiro|fevereiro|março|marco|maio|junho|julho|setembro|outubro|novembro|dezembro|"
           r"januari|februari|maart|mei|juni|juli|augustus|oktober")
_DATE = (rf"(?:\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?"
         rf"|(?:{_MONTHS})\b\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ \t]+\d{{4}})?"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+|de[ \t]+)?(?:{_MONTHS})\b(?:,?[ \t]+(?:de[ \t]+)?\d{{4}})?)")
_BIRTHDAY_CUE = (
    r"my[ \t]+(?:birthday|bday|b-day|dob)(?:[ \t]+is)?|(?:i[ \t]+was[ \t]+)?born[ \t]+(?:on[ \t]+)?|"
    r"date[ \t]+of[ \t]+birth:?|dob:?|mi[ \t]+cumpleaños[ \t]+es(?:[ \t]+el)?|nací[ \t]+el|"
    r"meu[ \t]+aniversário[ \t]+é(?:[ \t]+(?:dia|em))?|nasci[ \t]+(?:em|no[ \t]+dia)|"
    r"mijn[ \t]+verjaardag[ \t]+is(?:[ \t]+op)?|geboren[ \t]+op")
_BIRTHDAY = re.compile(rf"\b(?:{_BIRTHDAY_CUE})[ \t]*:?[ \t]*(?P<date>{_DATE})", re.IGNORECASE)
# What every _BIRTHDAY match holds, for _may_match.
_BIRTHDAY_CUES = (re.compile(_BIRTHDAY_CUE),)

_SCHOOL = re.compile(
    r"\b(?:i[ \t]+(?:go|goto|attend)[ \t]+(?:to[ \t]+)?|i'?m[ \t]+at[ \t]+|student[ \t]+at[ \t]+|"
    r"estudio[ \t]+en[ \t]+|estudo[ \t]+n[ao][ \t]+|ik[ \t]+zit[ \t]+op[ \t]+)"
    r"(?P<school>(?:[A-Z][\w'.-]*[ \t]+){1,4}(?i:high|middle|elementary|primary|secondary|junior[ \t]+high)"
    r"(?i:[ \t]+school)?|(?:[A-Z][\w'.-]*[ \t]+){1,4}(?i:academy|school|college|lyceum|gymnasium)"
    r"|(?i:escola|escuela|colegio|instituto|basisschool)(?:[ \t]+[A-Z][\w'.-]*){1,4})\b")


_DIGIT = re.compile(r"\d")
_SCHOOL_CUES = ("high", "middle", "elementary", "primary", "secondary", "academy", "school", "college", "lyceum",
                "gymnasium", "escola", "escuela", "colegio", "instituto")


def _may_match(cues: tuple[re.Pattern[str], ...], text: str, lowered: str) -> bool:
    """False when an IGNORECASE pattern cannot match ``text``: ``cues`` are lower-case patterns,
    one of which every match holds. Looked for in ``lowered`` (``text.lower()``) only when
    ``text`` is ASCII: there, lower case is exactly what IGNORECASE compares."""
    return not text.isascii() or any(cue.search(lowered) for cue in cues)


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
    if _MAYBE_EMAIL.search(text):
        spans += [Span("email", m.start(), m.end()) for m in _EMAIL.finditer(text)]
    lowered = text.lower()
    if has_digit:
        if _may_match(_ADDRESS_CUES, text, lowered):
            spans += [Span("address", m.start(), m.end()) for m in _ADDRESS.finditer(text)]
        if _may_match(_BIRTHDAY_CUES, text, lowered):
            spans += [Span("birthday", m.start("date"), m.end("date")) for m in _BIRTHDAY.finditer(text)]
    if any(cue in lowered for cue in _SCHOOL_CUES):
        spans += [Span("school", m.start("school"), m.end("school")) for m in _SCHOOL.finditer(text)]
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
