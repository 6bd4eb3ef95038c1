"""Who is behind a client address: device, person, school and age band — as pseudonyms.

Sources, each optional, all files IT already has:

- DHCP leases: ISC dhcpd's lease file (isc-dhcp-leases reads it) or Kea's lease
  CSV, for address -> MAC;
- a device inventory CSV (``mac,ip,hostname,asset_tag,assigned_user``) for
  MAC, address or host name -> the device's assigned user;
- the proxy's own authentication (mitmproxy ``proxyauth``, LDAP included), which
  wins over the device's assignment;
- a OneRoster 1.1 CSV export (``users.csv``, ``orgs.csv``) for user -> role,
  grade and school.

Events carry a pseudonymous person id, a keyed hash (HMAC-SHA256) under a key
only the appliance holds, never a name. Files are re-read when they change.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import hmac
import pathlib
import time
from typing import TYPE_CHECKING

from isc_dhcp_leases import IscDhcpLeases

from socialwatch.files import secret_key_file

if TYPE_CHECKING:
    from socialwatch.config import IdentityConfig

AGE_BANDS = ("under_13", "13_17", "adult", "unknown")
"""Age bands: under_13 is the COPPA group (students aged 12 and under)."""
UNDER_13_GRADES = frozenset({"IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06"})
"""OneRoster grade codes whose students are 12 or younger (grade 6 ends at 12)."""
TEEN_GRADES = frozenset({"07", "08", "09", "10", "11", "12"})
STAFF_ROLES = frozenset({"teacher", "administrator", "aide", "proctor", "districtAdministrator", "siteAdministrator",
                         "principal", "counselor", "staff"})
RELOAD_CHECK_SECONDS = 5.0
"""How often at most the files' modification times are checked."""


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    person: str = ""
    """Pseudonymous person id (keyed hash); empty when nobody is known."""
    role: str = ""
    """OneRoster role: student, teacher, ...; empty when unknown."""
    school: str = ""
    """School name from the roster; empty when unknown."""
    age_band: str = "unknown"
    """One of AGE_BANDS."""


@dataclasses.dataclass(frozen=True, slots=True)
class RosterUser:
    key: str
    """Stable key the pseudonym is made from: the OneRoster sourcedId."""
    role: str
    school: str
    age_band: str


class Pseudonyms:
    """Keyed, stable pseudonyms. The key file is created (mode 0600) on first use."""

    def __init__(self, key_file: pathlib.Path):
        self._key = secret_key_file(key_file)

    def of(self, key: str) -> str:
        return hmac.new(self._key, key.encode(), hashlib.sha256).hexdigest()[:20]


def age_band(role: str, grades: str) -> str:
    """The age band of a roster user from role and OneRoster grade codes (comma-separated)."""
    if role in STAFF_ROLES:
        return "adult"
    codes = {g.strip().upper() for g in grades.split(",") if g.strip()}
    if codes & UNDER_13_GRADES:
        return "under_13"
    if codes & TEEN_GRADES:
        return "13_17"
    return "unknown"


def read_roster(directory: pathlib.Path) -> dict[str, RosterUser]:
    """OneRoster 1.1 users.csv and orgs.csv -> {username, e-mail or sourcedId (lower case): user}."""
    with (directory / "orgs.csv").open(newline="", encoding="utf-8-sig") as f:
        orgs = {row["sourcedId"]: row["name"] for row in csv.DictReader(f)}
    users: dict[str, RosterUser] = {}
    with (directory / "users.csv").open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if row.get("status", "active") == "tobedeleted" or row.get("enabledUser", "true").lower() == "false":
                continue
            schools = [orgs[o.strip()] for o in row.get("orgSourcedIds", "").split(",") if o.strip() in orgs]
            user = RosterUser(row["sourcedId"], row["role"], schools[0] if schools else "",
                              age_band(row["role"], row.get("grades", "")))
            for name in (row["sourcedId"], row.get("username", ""), row.get("email", "")):
                if name:
                    users[name.lower()] = user
    return users


@dataclasses.dataclass(frozen=True, slots=True)
class Device:
    mac: str
    ip: str
    hostname: str
    asset_tag: str
    assigned_user: str


class Inventory:
    """The device inventory, indexed by MAC, address and host name: a district has thousands of
    devices, and every request looks one up."""

    def __init__(self, devices: list[Device] = ()):
        self.devices = list(devices)
        self._by: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
        for index, device in enumerate(self.devices):
            for table, key in zip(self._by, (device.mac, device.ip, device.hostname)):
                if key:
                    table.setdefault(key, index)

    def assigned_user(self, mac: str, ip: str, hostname: str) -> str:
        """The user of the first device in the file whose MAC, address or host name is this one's."""
        found = [table[key] for table, key in zip(self._by, (mac, ip, hostname)) if key and key in table]
        return self.devices[min(found)].assigned_user if found else ""


def read_inventory(path: pathlib.Path) -> Inventory:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return Inventory([Device(row.get("mac", "").lower(), row.get("ip", ""), row.get("hostname", "").lower(),
                                 row.get("asset_tag", ""), row.get("assigned_user", "")) for row in csv.DictReader(f)])


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    mac: str
    hostname: str
    expires: float
    """Unix time the lease ends (inf for never)."""


def read_kea_leases(path: pathlib.Path) -> dict[str, Lease]:
    """Kea's memfile lease CSV (v4) -> {address: Lease}, declined and expired-reclaimed leases left out."""
    leases: dict[str, Lease] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row.get("state", "0") == "0":  # 0 default (assigned), 1 declined, 2 expired-reclaimed
                leases[row["address"]] = Lease(row.get("hwaddr", "").lower(), row.get("hostname", "").lower(),
                                               float(row.get("expire") or 0))
    return leases


def read_dhcpd_leases(path: pathlib.Path) -> dict[str, Lease]:
    """ISC dhcpd's lease file -> {address: Lease} for active bindings; the file's last lease of an address wins."""
    leases: dict[str, Lease] = {}
    for lease in IscDhcpLeases(str(path)).get():
        if lease.binding_state != "active":
            continue
        end = lease.end.replace(tzinfo=datetime.timezone.utc).timestamp() if lease.end else float("inf")
        leases[lease.ip] = Lease((lease.ethernet or "").lower(), (lease.hostname or "").lower(), end)
    return leases


class _Watched:
    """A value read from a file, read again when the file's modification time changes."""

    def __init__(self, path: pathlib.Path | None, read, empty):
        self.path, self.read, self.value, self._mtime = path, read, empty, None

    def refresh(self) -> None:
        if self.path is None:
            return
        mtime = self.path.stat().st_mtime_ns
        if mtime != self._mtime:
            self.value, self._mtime = self.read(self.path), mtime


class IdentityResolver:
    """Client address (and proxy login) -> Identity."""

    def __init__(self, pseudonyms: Pseudonyms, *, roster_dir: pathlib.Path | None = None,
                 inventory: pathlib.Path | None = None, dhcpd_leases: pathlib.Path | None = None,
                 kea_leases: pathlib.Path | None = None):
        self.pseudonyms = pseudonyms
        # The roster is read again when users.csv changes (exports rewrite every file).
        self._roster = _Watched(roster_dir and roster_dir / "users.csv", lambda p: read_roster(p.parent), {})
        self._inventory = _Watched(inventory, read_inventory, Inventory())
        self._dhcpd = _Watched(dhcpd_leases, read_dhcpd_leases, {})
        self._kea = _Watched(kea_leases, read_kea_leases, {})
        self._checked = -RELOAD_CHECK_SECONDS

    @classmethod
    def from_config(cls, identity: "IdentityConfig") -> IdentityResolver:
        """The resolver of the configuration's [identity] section (creates the pseudonym key on first use)."""
        return cls(Pseudonyms(identity.pseudonym_key_file), roster_dir=identity.roster_dir,
                   inventory=identity.inventory_file, dhcpd_leases=identity.dhcpd_leases,
                   kea_leases=identity.kea_leases)

    def resolve(self, client_ip: str, login: str = "") -> Identity:
        self._refresh()
        user = login or self._assigned_user(client_ip)
        if not user:
            return Identity()
        found = self._roster.value.get(user.lower())
        if found is None:
            # Not in the roster: still a person, known only by a pseudonym.
            return Identity(person=self.pseudonyms.of(user.lower()))
        return Identity(self.pseudonyms.of(found.key), found.role, found.school, found.age_band)

    def _assigned_user(self, client_ip: str) -> str:
        lease = self._dhcpd.value.get(client_ip) or self._kea.value.get(client_ip)
        mac, hostname = (lease.mac, lease.hostname) if lease and lease.expires >= time.time() else ("", "")
        return self._inventory.value.assigned_user(mac, client_ip, hostname)

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < RELOAD_CHECK_SECONDS:
            return
        self._checked = now
        for watched in (self._roster, self._inventory, self._dhcpd, self._kea):
            watched.refresh()
