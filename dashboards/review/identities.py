"""Reveal who is behind a pseudonymous person id, for a counselor who states why.

Events carry only the keyed pseudonym (``proxy_addons.identity.Pseudonyms``). With
the same key and the roster, the review application can find the person again;
it does so only on request, and the request is audited by the caller.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib

from socialwatch.proxy_addons.identity import Pseudonyms


@dataclasses.dataclass(frozen=True)
class Person:
    name: str
    username: str
    email: str
    role: str
    roster_id: str


class IdentityDirectory:
    def __init__(self, pseudonyms: Pseudonyms, roster_dir: pathlib.Path | None = None,
                 inventory_file: pathlib.Path | None = None):
        self._pseudonyms = pseudonyms
        self._roster_dir = roster_dir
        self._inventory_file = inventory_file

    def lookup(self, person: str) -> Person | None:
        """The roster person (or inventory user) whose pseudonym is `person`; None when unknown.
        Files are read at each call: reveals are rare, and the roster changes."""
        if not person:
            return None
        for candidate in self._roster():
            if self._pseudonyms.of(candidate.roster_id) == person:
                return candidate
        for candidate in [*self._roster(), *self._inventory_users()]:
            # People outside the roster have the pseudonym of their login or assigned user name.
            if candidate.username and self._pseudonyms.of(candidate.username.lower()) == person:
                return candidate
        return None

    def _roster(self) -> list[Person]:
        if self._roster_dir is None:
            return []
        try:
            with (self._roster_dir / "users.csv").open(newline="", encoding="utf-8-sig") as f:
                return [Person(" ".join(filter(None, (row.get("givenName", ""), row.get("familyName", "")))),
                               row.get("username", ""), row.get("email", ""), row.get("role", ""), row["sourcedId"])
                        for row in csv.DictReader(f) if row.get("sourcedId")]
        except OSError:
            return []

    def _inventory_users(self) -> list[Person]:
        if self._inventory_file is None:
            return []
        try:
            with self._inventory_file.open(newline="", encoding="utf-8-sig") as f:
                return [Person("", row["assigned_user"], "", "", "")
                        for row in csv.DictReader(f) if row.get("assigned_user")]
        except OSError:
            return []
