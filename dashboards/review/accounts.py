"""Local accounts of the review application: argon2id password hashes, a role, and schools.

The accounts file is JSON, written atomically with mode 0600::

    {"accounts": [{"username": "jdoe", "name": "J. Doe", "role": "counselor",
                   "schools": ["North High"], "email": "jdoe@district.example",
                   "password_hash": "$argon2id$..."}]}

Behind a single-sign-on reverse proxy, accounts still say who has which role
and schools; their ``password_hash`` may be empty (no local password).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import threading

import argon2

from socialwatch.files import write_atomically

ROLES = ("counselor", "administrator", "it")
"""counselor: flags of their schools. administrator: every school, the audit log, suppressions and the
activity log. it: the appliance's health only, never student data."""

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_hasher = argon2.PasswordHasher()
_DUMMY_HASH = _hasher.hash("socialwatch: a password nobody has")


class AccountError(ValueError):
    """An invalid account or accounts file, with what is wrong."""


@dataclasses.dataclass(frozen=True)
class Account:
    username: str
    role: str
    schools: tuple[str, ...] = ()
    name: str = ""
    email: str = ""
    password_hash: str = ""

    def __post_init__(self) -> None:
        if not _USERNAME.fullmatch(self.username):
            raise AccountError(f"username {self.username!r}: use lower-case letters, digits and . _ @ -")
        if self.role not in ROLES:
            raise AccountError(f"role {self.role!r}: one of {', '.join(ROLES)}")
        if self.role == "counselor" and not self.schools:
            raise AccountError(f"counselor {self.username!r} needs at least one school")

    @property
    def all_schools(self) -> bool:
        """Administrators see every school, including flags whose school is unknown."""
        return self.role == "administrator"

    def may_see(self, school: str) -> bool:
        return self.all_schools or (self.role == "counselor" and school in self.schools)


class AccountStore:
    """The accounts file; re-read when it changes on disk, so `socialwatch review user` edits apply at once."""

    def __init__(self, path: pathlib.Path):
        self.path = path.expanduser()
        self._lock = threading.Lock()
        self._mtime: int | None = None
        self._accounts: dict[str, Account] = {}

    def get(self, username: str) -> Account | None:
        return self._load().get(username.lower())

    def all(self) -> list[Account]:
        return sorted(self._load().values(), key=lambda account: account.username)

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password is right; None otherwise. Takes the same time for an
        unknown user (a hash is verified either way), so names cannot be probed by timing."""
        account = self.get(username)
        stored = account.password_hash if account and account.password_hash else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return None
        return account if account and account.password_hash else None

    def put(self, account: Account, password: str | None = None) -> Account:
        """Add or replace an account; a new password is hashed (argon2id), None keeps the old hash."""
        with self._lock:
            accounts = dict(self._read())
            if password is not None:
                if len(password) < 12:
                    raise AccountError("passwords have at least 12 characters")
                account = dataclasses.replace(account, password_hash=_hasher.hash(password))
            elif account.username in accounts:
                account = dataclasses.replace(account, password_hash=accounts[account.username].password_hash)
            accounts[account.username] = account
            self._write(accounts)
            return account

    def remove(self, username: str) -> bool:
        with self._lock:
            accounts = dict(self._read())
            if accounts.pop(username, None) is None:
                return False
            self._write(accounts)
            return True

    def _load(self) -> dict[str, Account]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                return {}
            if mtime != self._mtime:
                self._accounts, self._mtime = self._read(), mtime
            return self._accounts

    def _read(self) -> dict[str, Account]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise AccountError(f"{self.path}: cannot read accounts: {e}") from None
        accounts = {}
        for item in data.get("accounts", []):
            try:
                account = Account(item["username"], item["role"], tuple(item.get("schools", ())),
                                  item.get("name", ""), item.get("email", ""), item.get("password_hash", ""))
            except (KeyError, TypeError) as e:
                raise AccountError(f"{self.path}: account entry without {e}") from None
            accounts[account.username] = account
        return accounts

    def _write(self, accounts: dict[str, Account]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"accounts": [dataclasses.asdict(a) | {"schools": list(a.schools)}
                             for a in sorted(accounts.values(), key=lambda a: a.username)]}
        write_atomically(self.path, json.dumps(data, indent=2).encode("utf-8"), 0o600)
