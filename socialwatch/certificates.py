"""The proxy's CA certificate: create or import it, rotate it, export it for device management.

District devices trust one certificate authority, and the proxy signs a
certificate for every platform host it decrypts with that CA's key. mitmproxy
loads exactly one CA, at start-up, from its configuration directory
(``proxy.confdir``; mitmproxy/certs.py ``CertStore.from_store``)::

    confdir/mitmproxy-ca.pem        the key, then the CA certificate (and its issuers, for a
                                    subordinate CA), mode 0600: the only file mitmproxy loads
    confdir/mitmproxy-dhparam.pem   DH parameters (mitmproxy's defaults), loaded next to it
    confdir/mitmproxy-ca-cert.pem   the certificate alone, PEM  } copies mitmproxy writes when it
    confdir/mitmproxy-ca-cert.cer   the same PEM bytes          } creates a CA itself (its
    confdir/mitmproxy-ca-cert.p12   the certificate, PKCS #12   } onboarding page serves them)

If ``mitmproxy-ca.pem`` is missing, mitmproxy creates a CA of its own ("mitmproxy",
RSA 2048, 10 years) that no device trusts; ``socialwatch ca init`` writes these
files instead, and ``socialwatch ca import`` writes a CA the district supplies.

Rotation, since the proxy signs with one CA at a time::

    confdir/next/       ``ca rotate``: a new CA in the same files, plus rotation.json
                        (when the overlap ends). ``ca export`` exports it with the current one,
                        so devices trust both while the profile is pushed out.
    confdir/previous/   ``ca activate`` (after the overlap) copies the current CA here and puts
                        next/ in its place; restart the proxy to sign with it.

The key is never printed, logged or exported: exports hold certificates only.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import os
import pathlib
import plistlib
import shutil
import sys
import uuid
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from socialwatch.files import write_atomically

CA_FILE = "mitmproxy-ca.pem"
"""Key and certificate(s): what mitmproxy loads."""
KEY_P12 = "mitmproxy-ca.p12"
"""Key and certificate in PKCS #12, written by mitmproxy when it creates a CA itself (never by us)."""
CERT_PEM = "mitmproxy-ca-cert.pem"
CERT_CER = "mitmproxy-ca-cert.cer"
CERT_P12 = "mitmproxy-ca-cert.p12"
DHPARAM = "mitmproxy-dhparam.pem"
CA_FILES = (CERT_PEM, CERT_CER, CERT_P12, KEY_P12, CA_FILE)
"""The files of one CA, in the order they are replaced (the one mitmproxy loads last)."""
NEXT = "next"
PREVIOUS = "previous"
ROTATION_FILE = "rotation.json"

CN_SUFFIX = " socialwatch CA"
MAX_NAME = 64
"""Upper bound of a common name and an organization name (RFC 5280, ub-common-name)."""
DEFAULT_DAYS = 1095
DEFAULT_OVERLAP_DAYS = 30
WARN_DAYS = 30
"""Fewer days left than this is a warning (socialwatch doctor, the SocialwatchCACertificateExpiresSoon alert)."""
BACKDATE = datetime.timedelta(days=2)
"""Certificates start this long before they are made, for devices whose clock is behind (as mitmproxy's)."""
KEY_TYPES = ("ec", "rsa")
RSA_KEY_SIZE = 3072
PROFILE_IDENTIFIER = "socialwatch.proxy-ca"
"""PayloadIdentifier of the exported Apple profile: the same for every export, so that a new export
pushed by MDM replaces the installed profile instead of adding a second one."""
_UUID_NAMESPACE = uuid.UUID("0b6c5f3e-2d0a-4c55-9a1e-7f4f3c2b9d61")


class CAError(Exception):
    """A CA cannot be created, imported, rotated, activated or exported; the message says why."""


@dataclasses.dataclass(frozen=True)
class StoredCA:
    """A CA certificate as it lies in a directory (the key stays on disk)."""

    directory: pathlib.Path
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    """The issuers mitmproxy serves after it (an imported subordinate CA); empty for a root."""

    @property
    def key_path(self) -> pathlib.Path:
        return self.directory / CA_FILE

    @property
    def common_name(self) -> str:
        return common_name(self.certificate)

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER certificate, as AB:CD:... (what device and MDM consoles show)."""
        return fingerprint(self.certificate)

    @property
    def not_after(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc

    def days_left(self, now: datetime.datetime | None = None) -> int:
        """Whole days until it expires (negative once expired)."""
        return (self.not_after - (now or _now())) // datetime.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class Rotation:
    """A CA prepared by ``ca rotate``, waiting in confdir/next/."""

    ca: StoredCA
    created: datetime.datetime
    activate_after: datetime.datetime


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def default_district_name(names: Sequence[str]) -> str:
    """The first of the district's names that fits in a common name with " socialwatch CA"."""
    for name in names:
        if 0 < len(name) <= MAX_NAME - len(CN_SUFFIX):
            return name
    return "District"


def generate_ca(district: str, *, not_after: datetime.datetime, key_type: str = "ec",
                not_before: datetime.datetime | None = None):
    """A new self-signed CA for the proxy: (private key, certificate).

    CN "<district> socialwatch CA", O "<district>"; basicConstraints CA:TRUE with
    pathlen 0 (it signs the proxy's host certificates and nothing else), keyUsage
    keyCertSign and cRLSign, no name constraints (the platforms' hosts are too many
    and change). ``key_type``: "ec" (P-256, cheap TLS handshakes for the proxy, which
    signs every host certificate with this key) or "rsa" (3072 bits).
    """
    district = district.strip()
    if not district:
        raise CAError("the district name is empty")
    if len(district) + len(CN_SUFFIX) > MAX_NAME:
        raise CAError(f"district name {district!r} is too long for a certificate's common name "
                      f"(at most {MAX_NAME - len(CN_SUFFIX)} characters): give a shorter --district-name")
    if key_type == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    else:
        raise CAError(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, district),
        x509.NameAttribute(NameOID.COMMON_NAME, district + CN_SUFFIX),
    ])
    not_before = not_before or _now() - BACKDATE
    if not_after <= not_before:
        raise CAError("the CA would expire before it starts: give a positive --days")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


# -- reading -------------------------------------------------------------------


def read_ca(directory: pathlib.Path) -> StoredCA | None:
    """The CA in `directory` (confdir, or its next/ or previous/), None when there is none.

    Certificates are read from mitmproxy-ca.pem, the file mitmproxy loads; when this
    user may not read it (mode 0600, another owner), from the public copy mitmproxy-ca-cert.pem.
    """
    directory = pathlib.Path(directory).expanduser()
    if not (directory / CA_FILE).exists():
        return None
    try:
        raw = (directory / CA_FILE).read_bytes()
    except PermissionError:
        try:
            raw = (directory / CERT_PEM).read_bytes()
        except OSError as e:
            raise CAError(f"cannot read {directory / CA_FILE} (permission denied) nor {directory / CERT_PEM}: "
                          f"{e.strerror}") from None
    except OSError as e:
        raise CAError(f"cannot read {directory / CA_FILE}: {e.strerror}") from None
    try:
        certificates = x509.load_pem_x509_certificates(raw)
    except ValueError:
        raise CAError(f"{directory / CA_FILE} holds no PEM certificate") from None
    return StoredCA(directory, certificates[0], tuple(certificates[1:]))


def read_rotation(confdir: pathlib.Path) -> Rotation | None:
    """The CA ``ca rotate`` prepared in confdir/next/, None when there is none."""
    confdir = pathlib.Path(confdir).expanduser()
    ca = read_ca(confdir / NEXT)
    if ca is None:
        return None
    try:
        data = json.loads((confdir / NEXT / ROTATION_FILE).read_text())
        created = datetime.datetime.fromisoformat(data["created"])
        activate_after = datetime.datetime.fromisoformat(data["activate_after"])
    except (OSError, ValueError, KeyError, TypeError):
        created = activate_after = ca.certificate.not_valid_before_utc + BACKDATE
    return Rotation(ca, created, activate_after)


def key_matches(ca: StoredCA) -> bool:
    """Whether the key in mitmproxy-ca.pem is the certificate's. Raises OSError (e.g. PermissionError)
    when the file cannot be read, CAError when it holds no usable key."""
    key = _load_key(ca.key_path.read_bytes(), ca.key_path)
    return _public(key.public_key()) == _public(ca.certificate.public_key())


def key_mode(ca: StoredCA) -> int:
    return ca.key_path.stat().st_mode & 0o777


def expiry_timestamps(confdir: pathlib.Path, loaded: x509.Certificate | None = None) -> dict[str, float]:
    """Not-after times (Unix seconds) for the metric: "current" (`loaded`, the CA mitmproxy
    signs with, else the one in confdir) and "next" (prepared by ``ca rotate``), when present."""
    confdir = pathlib.Path(confdir).expanduser()
    times = {}
    current = loaded if loaded is not None else getattr(read_ca(confdir), "certificate", None)
    if current is not None:
        times["current"] = current.not_valid_after_utc.timestamp()
    upcoming = read_ca(confdir / NEXT)
    if upcoming is not None:
        times["next"] = upcoming.not_after.timestamp()
    return times


# -- init, import, rotate, activate --------------------------------------------


def init_ca(confdir: pathlib.Path, district: str, *, days: int = DEFAULT_DAYS, key_type: str = "ec",
            force: bool = False, not_after: datetime.datetime | None = None,
            not_before: datetime.datetime | None = None) -> StoredCA:
    """Generate a CA into confdir, in the files mitmproxy loads. An existing CA is replaced only
    with `force`, and is then kept in confdir/previous/. (`not_before`/`not_after` override
    `days`, e.g. for tests of an expired CA.)"""
    confdir = pathlib.Path(confdir).expanduser()
    if days < 1:
        raise CAError("--days must be at least 1")
    existing = _existing(confdir, force, "or 'socialwatch ca rotate' to replace it without breaking devices")
    key, certificate = generate_ca(district, not_after=not_after or _now() + datetime.timedelta(days=days),
                                   key_type=key_type, not_before=not_before)
    _install(confdir, key, [certificate], retire=existing)
    return read_ca(confdir)


def _existing(confdir: pathlib.Path, force: bool, alternative: str) -> bool:
    """Whether confdir holds a CA (or a damaged CA file) that `force` allows to replace."""
    if not (confdir / CA_FILE).exists():
        return False
    try:
        existing = read_ca(confdir)
        described = f"a CA ({existing.common_name}, SHA-256 {existing.fingerprint})"
    except CAError as e:
        described = f"a CA file it cannot read ({e})"
    if not force:
        raise CAError(f"{confdir} already holds {described}: use --force to replace it (it is then kept in "
                      f"previous/), {alternative}")
    return True


def import_ca(confdir: pathlib.Path, certificate_file: pathlib.Path, key_file: pathlib.Path, *,
              force: bool = False) -> StoredCA:
    """Install a CA the district supplies: its certificate (PEM or DER; a PEM file may go on with
    its issuers, in order) and its unencrypted key (PEM or DER). Refused unless it is a CA that can
    sign certificates, is valid now, and the key is its key."""
    confdir = pathlib.Path(confdir).expanduser()
    certificates = _load_certificates(pathlib.Path(certificate_file))
    try:
        key = _load_key(pathlib.Path(key_file).read_bytes(), key_file)
    except OSError as e:
        raise CAError(f"cannot read {key_file}: {e.strerror}") from None
    validate_ca(certificates, key)
    existing = _existing(confdir, force, "or 'socialwatch ca rotate' first if devices trust it")
    _install(confdir, key, certificates, retire=existing)
    return read_ca(confdir)


def validate_ca(certificates: Sequence[x509.Certificate], key, now: datetime.datetime | None = None) -> None:
    """Raise CAError unless certificates[0] is a CA mitmproxy can sign with using `key`."""
    if not certificates:
        raise CAError("no certificate given")
    certificate, now = certificates[0], now or _now()
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise CAError(f"{certificate.subject.rfc4514_string()} is not a CA certificate (no basicConstraints CA:TRUE)")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise CAError(f"{certificate.subject.rfc4514_string()} may not sign certificates "
                      "(keyUsage without keyCertSign)")
    if certificate.not_valid_after_utc <= now:
        raise CAError(f"{certificate.subject.rfc4514_string()} expired on {_day(certificate.not_valid_after_utc)}")
    if certificate.not_valid_before_utc > now:
        raise CAError(f"{certificate.subject.rfc4514_string()} is not valid before "
                      f"{certificate.not_valid_before_utc.isoformat()}")
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise CAError(f"the RSA key has {key.key_size} bits: devices refuse fewer than 2048")
    elif not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CAError(f"unsupported key type {type(key).__name__}: mitmproxy signs with RSA or ECDSA keys only")
    if _public(key.public_key()) != _public(certificate.public_key()):
        raise CAError("the key does not belong to the certificate (their public keys differ)")
    for child, issuer in itertools.pairwise(certificates):
        try:
            child.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError) as e:
            raise CAError(f"{child.subject.rfc4514_string()} is not issued by the next certificate in the file, "
                          f"{issuer.subject.rfc4514_string()}: list the CA first, then its issuers in order "
                          f"({type(e).__name__})") from None


def rotate_ca(confdir: pathlib.Path, district: str, *, days: int = DEFAULT_DAYS,
              overlap_days: int = DEFAULT_OVERLAP_DAYS, key_type: str = "ec", force: bool = False,
              now: datetime.datetime | None = None) -> Rotation:
    """Generate the next CA into confdir/next/, to be activated `overlap_days` from now."""
    confdir = pathlib.Path(confdir).expanduser()
    now = now or _now()
    if read_ca(confdir) is None:
        raise CAError(f"{confdir} holds no CA to rotate: run 'socialwatch ca init' (or 'ca import') first")
    if overlap_days < 0:
        raise CAError("--overlap-days cannot be negative")
    if days < 1:
        raise CAError("--days must be at least 1")
    pending = read_rotation(confdir)
    if pending is not None and not force:
        raise CAError(f"{confdir / NEXT} already holds the next CA ({pending.ca.common_name}, SHA-256 "
                      f"{pending.ca.fingerprint}), to activate after {_day(pending.activate_after)}: export and "
                      "distribute it, then 'socialwatch ca activate'; --force replaces it")
    key, certificate = generate_ca(district, not_after=now + datetime.timedelta(days=days), key_type=key_type)
    directory = confdir / NEXT
    _install(directory, key, [certificate], retire=False, dhparam=False)
    rotation = {"created": now.isoformat(), "activate_after": (now + datetime.timedelta(days=overlap_days)).isoformat(),
                "overlap_days": overlap_days}
    write_atomically(directory / ROTATION_FILE, (json.dumps(rotation, indent=2) + "\n").encode(), 0o644)
    return read_rotation(confdir)


def activate_ca(confdir: pathlib.Path, *, force: bool = False,
                now: datetime.datetime | None = None) -> tuple[StoredCA, StoredCA]:
    """Put the next CA in place of the current one, which is kept in confdir/previous/ (replacing
    what was there). Refused before the overlap ends unless `force`. Returns (previous, current)."""
    confdir = pathlib.Path(confdir).expanduser()
    now = now or _now()
    rotation = read_rotation(confdir)
    if rotation is None:
        raise CAError(f"no next CA in {confdir / NEXT}: run 'socialwatch ca rotate' first")
    if now < rotation.activate_after and not force:
        raise CAError(f"the overlap lasts until {rotation.activate_after.isoformat(timespec='minutes')}: devices may "
                      "not trust the new CA yet. Wait, or use --force once every device has it")
    upcoming = rotation.ca
    try:
        key = _load_key(upcoming.key_path.read_bytes(), upcoming.key_path)
    except OSError as e:
        raise CAError(f"cannot read {upcoming.key_path}: {e.strerror}") from None
    validate_ca([upcoming.certificate, *upcoming.chain], key, now)
    current = read_ca(confdir)
    if current is not None:
        _retire(confdir)
    for name in CA_FILES:
        source = confdir / NEXT / name
        if source.exists():
            os.replace(source, confdir / name)
        elif name == KEY_P12:
            (confdir / name).unlink(missing_ok=True)  # the old key's PKCS #12 copy (kept in previous/)
    _ensure_dhparam(confdir)
    shutil.rmtree(confdir / NEXT)
    return (read_ca(confdir / PREVIOUS) if current is not None else None), read_ca(confdir)


# -- export --------------------------------------------------------------------


FORMATS = ("pem", "der", "mobileconfig")


def export_ca(confdir: pathlib.Path, out: pathlib.Path, formats: Sequence[str] = FORMATS,
              organization: str = "", identifier: str = PROFILE_IDENTIFIER) -> list[pathlib.Path]:
    """Write the current CA certificate, and the next one when ``ca rotate`` prepared it, for
    device management: socialwatch-ca[-next].pem, socialwatch-ca[-next].cer (DER) and one
    socialwatch-ca.mobileconfig trusting both. Certificates only, never the key."""
    confdir = pathlib.Path(confdir).expanduser()
    current = read_ca(confdir)
    if current is None:
        raise CAError(f"{confdir} holds no CA: run 'socialwatch ca init' (or 'ca import') first")
    upcoming = read_ca(confdir / NEXT)
    cas = [("socialwatch-ca", current)] + ([("socialwatch-ca-next", upcoming)] if upcoming else [])
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise CAError(f"unknown format(s) {', '.join(sorted(unknown))}: use {', '.join(FORMATS)} or all")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, ca in cas:
        if "pem" in formats:
            written.append(write_atomically(out / f"{stem}.pem", ca.certificate.public_bytes(serialization.Encoding.PEM), 0o644))
        if "der" in formats:
            written.append(write_atomically(out / f"{stem}.cer", ca.certificate.public_bytes(serialization.Encoding.DER), 0o644))
    if "mobileconfig" in formats:
        profile = mobileconfig([ca.certificate for _, ca in cas], organization or _organization(current), identifier)
        written.append(write_atomically(out / "socialwatch-ca.mobileconfig", profile, 0o644))
    return written


def mobileconfig(certificates: Sequence[x509.Certificate], organization: str,
                 identifier: str = PROFILE_IDENTIFIER) -> bytes:
    """An unsigned Apple configuration profile with one com.apple.security.root payload per
    certificate (PayloadContent: the DER bytes). Payload UUIDs derive from the fingerprints, so the
    same certificates always give the same profile; the profile's identifier stays the same across
    rotations, so that MDM replaces the installed profile."""
    payloads = []
    for certificate in certificates:
        digest = certificate.fingerprint(hashes.SHA256()).hex()
        name = common_name(certificate)
        payloads.append({
            "PayloadType": "com.apple.security.root",
            "PayloadVersion": 1,
            "PayloadIdentifier": f"{identifier}.{digest[:16]}",
            "PayloadUUID": str(uuid.uuid5(_UUID_NAMESPACE, f"root:{digest}")).upper(),
            "PayloadDisplayName": name,
            "PayloadDescription": f"Root certificate {name}, SHA-256 {fingerprint(certificate)}",
            "PayloadCertificateFileName": f"socialwatch-ca-{digest[:8]}.cer",
            "PayloadContent": certificate.public_bytes(serialization.Encoding.DER),
        })
    digests = ",".join(sorted(c.fingerprint(hashes.SHA256()).hex() for c in certificates))
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": str(uuid.uuid5(_UUID_NAMESPACE, f"profile:{identifier}:{digests}")).upper(),
        "PayloadDisplayName": f"{organization} socialwatch CA".strip(),
        "PayloadDescription": "Trusts the certificate authority of the district's socialwatch proxy, which "
                              "monitors social-media activity on district devices.",
        "PayloadOrganization": organization,
        "PayloadScope": "System",
        "PayloadContent": payloads,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


# -- files ---------------------------------------------------------------------


def _install(directory: pathlib.Path, key, certificates: Sequence[x509.Certificate], *, retire: bool,
             dhparam: bool = True) -> None:
    """Write a CA's files into `directory` the way mitmproxy's create_store does, the key file 0600.
    With `retire`, the CA there is first copied to directory/previous/."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if retire:
        _retire(directory)
    certificate = certificates[0]
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    write_atomically(directory / CERT_PEM, cert_pem, 0o644)
    write_atomically(directory / CERT_CER, cert_pem, 0o644)  # mitmproxy's .cer holds PEM too (for Android)
    write_atomically(directory / CERT_P12, pkcs12.serialize_key_and_certificates(
        common_name(certificate).encode(), None, certificate, None, serialization.NoEncryption()), 0o644)
    (directory / KEY_P12).unlink(missing_ok=True)  # a stale copy of a replaced key (kept in previous/)
    write_atomically(directory / CA_FILE, key_pem + chain_pem, 0o600)
    if dhparam:
        _ensure_dhparam(directory)


def _retire(confdir: pathlib.Path) -> None:
    """Copy the CA in confdir to confdir/previous/ (replacing it), leaving confdir's files in place
    until they are overwritten: at no moment is there no CA for mitmproxy to load."""
    staging = confdir / ".previous.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    for name in CA_FILES:
        if (confdir / name).exists():
            shutil.copy2(confdir / name, staging / name)
    shutil.rmtree(confdir / PREVIOUS, ignore_errors=True)
    os.replace(staging, confdir / PREVIOUS)


def _ensure_dhparam(confdir: pathlib.Path) -> None:
    if not (confdir / DHPARAM).exists():
        from mitmproxy.certs import DEFAULT_DHPARAM

        write_atomically(confdir / DHPARAM, DEFAULT_DHPARAM, 0o644)




def _load_certificates(path: pathlib.Path) -> list[x509.Certificate]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CAError(f"cannot read {path}: {e.strerror}") from None
    try:
        if b"-----BEGIN" in raw:
            return x509.load_pem_x509_certificates(raw)
        return [x509.load_der_x509_certificate(raw)]
    except ValueError:
        raise CAError(f"{path} holds no certificate (PEM or DER)") from None


def _load_key(raw: bytes, path: os.PathLike | str):
    if b"ENCRYPTED" in raw:
        raise CAError(f"the key in {path} is encrypted: mitmproxy needs it unencrypted (protected by the file's "
                      "mode 0600); decrypt it first, e.g. openssl pkey -in KEY -out plain-key.pem")
    try:
        if b"-----BEGIN" in raw:
            return serialization.load_pem_private_key(raw, password=None)
        return serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError):
        # The message of a failed parse is generic and never contains key material.
        raise CAError(f"{path} holds no readable private key (PEM or DER, unencrypted)") from None


def _public(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _organization(ca: StoredCA) -> str:
    names = ca.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else ca.common_name


def _day(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- the command line (socialwatch ca ...) -------------------------------------


def command(args, config) -> int:
    """``socialwatch ca init|import|rotate|activate|export|show``; messages on stdout, errors on stderr."""
    confdir = config.proxy.confdir.expanduser()
    district = getattr(args, "district_name", None) or default_district_name(config.district.names)
    try:
        if args.ca_command == "init":
            ca = init_ca(confdir, district, days=args.days, key_type=args.key_type, force=args.force)
            _chown_like_parent(confdir)
            print(f"created the CA {ca.common_name!r} in {confdir}")
            _describe(ca)
            print("next: socialwatch ca export --out DIR, give DIR's files to device management "
                  "(docs/certificates.md), then restart the proxy")
        elif args.ca_command == "import":
            ca = import_ca(confdir, args.certificate, args.key, force=args.force)
            _chown_like_parent(confdir)
            print(f"imported the CA {ca.common_name!r} into {confdir}")
            _describe(ca)
            if ca.certificate.issuer != ca.certificate.subject:
                print(f"  issuer   {ca.certificate.issuer.rfc4514_string()} (a subordinate CA: devices must trust "
                      "its root)")
            print("next: restart the proxy; devices must trust this CA (socialwatch ca export, docs/certificates.md)")
        elif args.ca_command == "rotate":
            rotation = rotate_ca(confdir, district, days=args.days, overlap_days=args.overlap_days,
                                 key_type=args.key_type, force=args.force)
            _chown_like_parent(confdir)
            current = read_ca(confdir)
            print(f"prepared the next CA {rotation.ca.common_name!r} in {rotation.ca.directory}")
            _describe(rotation.ca)
            print("the proxy keeps signing with the current CA until you activate the next one:")
            print("  1. socialwatch ca export --out DIR   (the current and the next CA)")
            print("  2. push DIR's files to every device through device management (docs/certificates.md)")
            print(f"  3. on or after {_day(rotation.activate_after)} (the end of the overlap): "
                  "socialwatch ca activate, then restart the proxy")
            if current.not_after < rotation.activate_after:
                print(f"warning: the current CA expires on {_day(current.not_after)}, before the overlap ends: "
                      "activate earlier (ca activate --force) once devices have the next CA", file=sys.stderr)
        elif args.ca_command == "activate":
            previous, current = activate_ca(confdir, force=args.force)
            _chown_like_parent(confdir)
            print(f"the proxy's CA is now {current.common_name!r} (SHA-256 {current.fingerprint}, expires "
                  f"{_day(current.not_after)})")
            if previous is not None:
                print(f"the previous CA, {previous.common_name!r} (SHA-256 {previous.fingerprint}), is kept in "
                      f"{previous.directory}")
            print("next: restart the proxy to sign with it (systemctl restart socialwatch-proxy); then export "
                  "again and push the new export, which no longer holds the previous CA")
        elif args.ca_command == "export":
            formats = FORMATS if args.format == "all" else (args.format,)
            for path in export_ca(confdir, args.out, formats, identifier=args.profile_identifier):
                print(path)
            for label, ca in (("current", read_ca(confdir)), ("next", read_ca(confdir / NEXT))):
                if ca is not None:
                    print(f"{label}: {ca.common_name}, SHA-256 {ca.fingerprint}, expires {_day(ca.not_after)}")
        elif args.ca_command == "show":
            return _show(confdir)
    except CAError as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 1
    return 0


def _show(confdir: pathlib.Path) -> int:
    current = read_ca(confdir)
    if current is None:
        print(f"socialwatch: no CA in {confdir}: run 'socialwatch ca init' (or 'ca import')", file=sys.stderr)
        return 1
    print(f"current  {current.common_name}")
    _describe(current)
    rotation = read_rotation(confdir)
    if rotation is not None:
        print(f"next     {rotation.ca.common_name} (activate on or after {_day(rotation.activate_after)})")
        _describe(rotation.ca)
    previous = read_ca(confdir / PREVIOUS)
    if previous is not None:
        print(f"previous {previous.common_name}")
        _describe(previous, key=False)
    return 0


def _describe(ca: StoredCA, key: bool = True) -> None:
    days = ca.days_left()
    left = f"{days} days left" if days >= 0 else f"expired {-days} days ago"
    print(f"  subject  {ca.subject}")
    print(f"  SHA-256  {ca.fingerprint}")
    print(f"  expires  {ca.not_after.isoformat()} ({left})")
    if key:
        print(f"  key      {ca.key_path} (mode {key_mode(ca):04o}; never give it out)")


def _chown_like_parent(confdir: pathlib.Path) -> None:
    """Run as root for a confdir owned by the proxy's user: give the new files to that user,
    or the proxy could not read its own key."""
    if os.geteuid() != 0:
        return
    owner = confdir.stat()
    if owner.st_uid == 0:
        return
    for directory in (confdir, confdir / NEXT, confdir / PREVIOUS):
        if directory.is_dir():
            os.chown(directory, owner.st_uid, owner.st_gid)
            for path in directory.iterdir():
                if path.is_file():
                    os.chown(path, owner.st_uid, owner.st_gid)
