"""The procedure's rules as policy flags.

- ``coppa``: a student aged 12 or under (by grade) on a platform not made for
  that age group (the procedure's COPPA section).
- ``district_account``: a signup or login on a platform with an e-mail address in
  the district's domain, for an account not on the approved-accounts registry
  (an account made with a district e-mail is a district account, and professional
  accounts must be approved: g11-13).
- ``district_impersonation``: a post or profile that claims to speak officially
  for the district, or uses the district's name as an account name, from an
  account not on the registry (g5, g12).

The district profile (names, e-mail domains) is configuration; the registry is
a CSV file IT maintains. socialwatch stores no credentials.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import pathlib
import re
from collections.abc import Iterable

from socialwatch.classifier.flags import Flag, Match

REGISTRY_COLUMNS = ("platform", "handle", "owner", "approved_on")
ACCOUNT_ACTIONS = frozenset({"signup", "login"})
"""Actions whose body's strings are searched for district e-mail addresses (district_account)."""
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)")
_OFFICIAL_CUE = re.compile(
    r"\b(official|officially|on behalf of|speaking for|speak for|represent|representing|we at|account of)\b",
    re.IGNORECASE)
OFFICIAL_CUE_WINDOW = 40
"""Characters around a district name in which an official-claim cue makes a claim."""


class RegistryError(Exception):
    """The approved-accounts registry is invalid; the message names the file, line and field."""


@dataclasses.dataclass(frozen=True, slots=True)
class ApprovedAccount:
    platform: str
    """Platform id."""
    handle: str
    """Account name on the platform, lower case, without a leading @."""
    owner: str
    """Who answers for the account (a staff member or office)."""
    approved_on: datetime.date
    """When IT approved it."""


def read_registry(path: pathlib.Path, platforms: Iterable[str]) -> frozenset[tuple[str, str]]:
    """The registry file -> {(platform, handle)}; refuses unknown platforms, bad dates and any credential column."""
    known = set(platforms)
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != REGISTRY_COLUMNS:
            raise RegistryError(f"{path}:1: header must be {','.join(REGISTRY_COLUMNS)} (and no credentials), "
                                f"not {','.join(reader.fieldnames or ())}")
        accounts = set()
        for row in reader:
            line = reader.line_num
            if row["platform"] not in known:
                raise RegistryError(f"{path}:{line}: platform: unknown platform id {row['platform']!r}")
            handle = (row["handle"] or "").strip().lstrip("@").lower()
            if not handle:
                raise RegistryError(f"{path}:{line}: handle: empty")
            if not (row["owner"] or "").strip():
                raise RegistryError(f"{path}:{line}: owner: empty")
            try:
                datetime.date.fromisoformat(row["approved_on"] or "")
            except ValueError:
                raise RegistryError(f"{path}:{line}: approved_on: not a date (YYYY-MM-DD)") from None
            accounts.add((row["platform"], handle))
    return frozenset(accounts)


@dataclasses.dataclass(frozen=True, slots=True)
class DistrictProfile:
    names: tuple[str, ...]
    """The district's names and abbreviations, as people write them."""
    email_domains: tuple[str, ...]
    """The district's e-mail domains (lower case)."""


class PolicyRules:
    def __init__(self, district: DistrictProfile, approved: frozenset[tuple[str, str]] = frozenset()):
        self.district = district
        self.approved = approved
        self._names = re.compile(
            r"(?<![\w])(" + "|".join(re.escape(n) for n in sorted(district.names, key=len, reverse=True)) + r")(?![\w])",
            re.IGNORECASE,
        )
        self._compact_names = {re.sub(r"[\W_]+", "", n.lower()) for n in district.names}

    def is_approved(self, platform: str, handle: str) -> bool:
        """The account `handle` on `platform` is on the approved-accounts registry."""
        return (platform, handle.lstrip("@").lower()) in self.approved

    def check(self, *, platform: str, min_age: int, action: str, age_band: str, handle: str,
              strings: Iterable[str], text: str) -> list[Flag]:
        """Policy flags for one request.

        `handle` is the account name the request shows (a username field), `strings`
        every string value of its body (where e-mail addresses are looked for; read only
        for ACCOUNT_ACTIONS), `text` the words written.
        """
        flags = []
        if age_band == "under_13" and min_age > 12:
            flags.append(_flag("coppa", "medium",
                               f"coppa: a student aged 12 or under used {platform}, made for ages {min_age} and up"))
        approved = self.is_approved(platform, handle)
        if action in ACCOUNT_ACTIONS and not approved:
            domains = {m.group(1).lower() for s in strings for m in _EMAIL.finditer(s)}
            district = sorted(domains & set(self.district.email_domains))
            if district:
                flags.append(_flag(
                    "district_account", "medium",
                    f"district_account: {action} on {platform} with a district e-mail address (@{district[0]}) "
                    "for an account not on the approved-accounts registry"))
        if not approved:
            claim = self._official_claim(text)
            if claim is not None:
                flags.append(_flag("district_impersonation", "medium",
                                   f'district_impersonation: "{claim.phrase}" claims to speak for the district, '
                                   "from an account not on the approved-accounts registry", claim))
            elif handle and self._is_district_name(handle):
                flags.append(_flag("district_impersonation", "medium",
                                   f"district_impersonation: the account name {handle!r} is the district's name, "
                                   "and the account is not on the approved-accounts registry"))
        return flags

    def _is_district_name(self, handle: str) -> bool:
        compact = re.sub(r"[\W_]+", "", handle.lower())
        return any(name in compact for name in self._compact_names if len(name) >= 5)

    def _official_claim(self, text: str) -> Match | None:
        for found in self._names.finditer(text):
            window = text[max(0, found.start() - OFFICIAL_CUE_WINDOW):found.end() + OFFICIAL_CUE_WINDOW]
            if _OFFICIAL_CUE.search(window):
                return Match(found.group(0), "district_impersonation", "official_claim", "medium", 1.0,
                             found.start(), found.end())
        return None


def _flag(category: str, severity: str, explanation: str, match: Match | None = None) -> Flag:
    return Flag(category, severity, 1.0, 1.0, (match,) if match else (), explanation)
