"""Client address -> person, school and age band, from leases, inventory, roster and proxy login."""

import os
import pathlib
import shutil
import stat

import pytest

from socialwatch.proxy_addons.identity import Identity, IdentityResolver, Pseudonyms, age_band

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "identity"
HIGH_SCHOOL = "Essex North Shore Agricultural & Technical High School"


@pytest.fixture
def pseudonyms(tmp_path):
    return Pseudonyms(tmp_path / "keys" / "pseudonym.key")


@pytest.fixture
def resolver(pseudonyms):
    return IdentityResolver(
        pseudonyms, roster_dir=FIXTURES / "oneroster", inventory=FIXTURES / "inventory.csv",
        dhcpd_leases=FIXTURES / "dhcpd.leases", kea_leases=FIXTURES / "kea-leases4.csv",
    )


@pytest.mark.parametrize("client_ip, login, user, role, school, band", [
    ("10.20.0.11", "", "u-1001", "student", HIGH_SCHOOL, "13_17"),        # dhcpd lease -> MAC -> inventory
    ("10.20.0.12", "", "u-1002", "student", "Example Middle School", "under_13"),  # lease -> host name
    ("10.30.0.21", "", "u-1003", "teacher", HIGH_SCHOOL, "adult"),          # Kea lease -> MAC
    ("10.40.0.5", "", "u-1005", "student", "Example Middle School", "under_13"),  # inventory by address
    ("10.20.0.11", "mlee", "u-1003", "teacher", HIGH_SCHOOL, "adult"),       # the proxy login wins
    ("10.99.0.1", "JDOE@essextech.net", "u-1001", "student", HIGH_SCHOOL, "13_17"),  # login by e-mail
])
def test_a_client_resolves_to_a_pseudonymous_person_with_school_and_age_band(
        resolver, pseudonyms, client_ip, login, user, role, school, band):
    assert resolver.resolve(client_ip, login) == Identity(pseudonyms.of(user), role, school, band)


@pytest.mark.parametrize("client_ip", [
    "10.20.0.13",   # lease not active
    "10.30.0.22",   # Kea lease expired
    "10.30.0.23",   # Kea lease declined
    "10.99.9.9",    # unknown device
])
def test_unknown_or_stale_devices_resolve_to_nobody(resolver, client_ip):
    assert resolver.resolve(client_ip) == Identity()


def test_a_login_missing_from_the_roster_is_still_a_pseudonym(resolver, pseudonyms):
    assert resolver.resolve("10.99.0.1", "visitor") == Identity(person=pseudonyms.of("visitor"))


def test_a_disabled_roster_user_is_not_resolved_to_a_school(resolver, pseudonyms):
    assert resolver.resolve("10.99.0.1", "gone").school == ""


def test_pseudonyms_are_stable_keyed_and_reveal_nothing(tmp_path, pseudonyms):
    again = Pseudonyms(tmp_path / "keys" / "pseudonym.key")
    other = Pseudonyms(tmp_path / "other.key")
    assert pseudonyms.of("u-1001") == again.of("u-1001")
    assert pseudonyms.of("u-1001") != other.of("u-1001"), "another appliance's key gives other pseudonyms"
    assert "1001" not in pseudonyms.of("u-1001")
    mode = stat.S_IMODE(os.stat(tmp_path / "keys" / "pseudonym.key").st_mode)
    assert mode == 0o600


def test_files_are_read_again_when_they_change(tmp_path, pseudonyms, monkeypatch):
    import socialwatch.proxy_addons.identity as identity

    monkeypatch.setattr(identity, "RELOAD_CHECK_SECONDS", 0)
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("mac,ip,hostname,asset_tag,assigned_user\n,10.50.0.1,,A1,jdoe\n")
    roster = tmp_path / "roster"
    shutil.copytree(FIXTURES / "oneroster", roster)
    resolver = IdentityResolver(pseudonyms, roster_dir=roster, inventory=inventory)
    assert resolver.resolve("10.50.0.1").person == pseudonyms.of("u-1001")
    inventory.write_text("mac,ip,hostname,asset_tag,assigned_user\n,10.50.0.1,,A1,asmith\n")
    os.utime(inventory, ns=(1, 1))
    assert resolver.resolve("10.50.0.1").person == pseudonyms.of("u-1002")


@pytest.mark.parametrize("role, grades, band", [
    ("student", "KG", "under_13"), ("student", "06", "under_13"), ("student", "07", "13_17"),
    ("student", "12", "13_17"), ("student", "06,07", "under_13"), ("teacher", "", "adult"),
    ("student", "", "unknown"), ("student", "UG", "unknown"),
])
def test_age_bands_follow_oneroster_grades(role, grades, band):
    assert age_band(role, grades) == band


def test_the_first_inventory_device_matching_mac_address_or_host_name_wins():
    from socialwatch.proxy_addons.identity import Device, Inventory

    inventory = Inventory([
        Device("", "10.0.0.9", "", "A1", "by-address"),
        Device("aa:bb", "", "", "A2", "by-mac"),
        Device("", "", "lab-7", "A3", "by-name"),
        Device("aa:bb", "10.0.0.9", "lab-7", "A4", "later-duplicate"),
    ])
    assert inventory.assigned_user("aa:bb", "10.0.0.9", "lab-7") == "by-address"
    assert inventory.assigned_user("aa:bb", "10.9.9.9", "lab-7") == "by-mac"
    assert inventory.assigned_user("", "10.9.9.9", "lab-7") == "by-name"
    assert inventory.assigned_user("", "10.9.9.9", "") == ""
    assert inventory.assigned_user("", "", "") == "", "an empty field matches no device with that field empty"
