"""The proxy's CA: created and imported into the files mitmproxy loads, rotated with an overlap,
exported for device management (PEM, DER, an Apple profile) without its key, and served by a real
mitmdump to a client that trusts only the export."""

from __future__ import annotations

import contextlib
import datetime
import io
import plistlib
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from mitmproxy.certs import CertStore
from prometheus_client.parser import text_string_to_metric_families

from socialwatch import certificates, cli
from socialwatch.certificates import CAError
from support.proxy import DeviceClient, running_mitmdump
from support.tls_certs import make_upstream_certs
from support.upstream import UpstreamServer

BIN = Path(sys.executable).parent
NOW = datetime.datetime.now(datetime.UTC)
DEVICE = "127.60.0.5"


def socialwatch(*args: str) -> subprocess.CompletedProcess:
    """`socialwatch ARGS` as a user runs it (a subprocess)."""
    return subprocess.run([str(BIN / "socialwatch"), *args], capture_output=True, text=True, timeout=60)


def command(*args: str) -> subprocess.CompletedProcess:
    """The same command line, run in this process (a subprocess costs a second)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def private_value(confdir: Path) -> bytes:
    """The secret part of the CA key in confdir (the EC private scalar), to look for in exports."""
    key = serialization.load_pem_private_key((confdir / certificates.CA_FILE).read_bytes(), None)
    return key.private_numbers().private_value.to_bytes(32, "big")


def loaded_by_mitmproxy(confdir: Path) -> CertStore:
    """Load confdir exactly as mitmproxy's tlsconfig addon does (and fail if it had to create a CA)."""
    before = sorted(p.name for p in confdir.iterdir())
    store = CertStore.from_store(confdir, "mitmproxy", 2048)
    assert sorted(p.name for p in confdir.iterdir()) == before, "mitmproxy created a CA of its own"
    return store


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_init_writes_a_ca_mitmproxy_loads_and_signs_host_certificates_with(tmp_path, key_type):
    confdir = tmp_path / "mitmproxy"
    ca = certificates.init_ca(confdir, "Essex Tech", days=400, key_type=key_type)

    assert (confdir / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    assert {p.name for p in confdir.iterdir()} == {"mitmproxy-ca.pem", "mitmproxy-ca-cert.pem", "mitmproxy-ca-cert.cer",
                                                   "mitmproxy-ca-cert.p12", "mitmproxy-dhparam.pem"}
    cert = ca.certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Essex Tech socialwatch CA"
    assert ca.subject == "CN=Essex Tech socialwatch CA,O=Essex Tech"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.NameConstraints)
    if key_type == "ec":
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    else:
        assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 3072
    assert 399 <= ca.days_left() <= 400

    store = loaded_by_mitmproxy(confdir)
    assert store.default_ca.to_cryptography() == cert
    leaf = store.get_cert("www.instagram.com", [x509.DNSName("www.instagram.com")]).cert.to_cryptography()
    leaf.verify_directly_issued_by(cert)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.instagram.com"


def test_init_refuses_to_overwrite_and_force_keeps_the_old_ca_in_previous(tmp_path):
    confdir = tmp_path / "mitmproxy"
    first = socialwatch("ca", "init", "--confdir", str(confdir), "--district-name", "North District")
    assert first.returncode == 0, first.stderr
    assert "created the CA 'North District socialwatch CA'" in first.stdout
    original = (confdir / "mitmproxy-ca.pem").read_bytes()

    again = socialwatch("ca", "init", "--confdir", str(confdir))
    assert again.returncode == 1
    assert "already holds a CA" in again.stderr and "--force" in again.stderr
    assert (confdir / "mitmproxy-ca.pem").read_bytes() == original

    forced = socialwatch("ca", "init", "--confdir", str(confdir), "--force", "--key-type", "rsa")
    assert forced.returncode == 0, forced.stderr
    assert (confdir / "mitmproxy-ca.pem").read_bytes() != original
    assert (confdir / "previous" / "mitmproxy-ca.pem").read_bytes() == original
    assert (confdir / "previous" / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    loaded_by_mitmproxy(confdir)
    for output in (first.stdout, forced.stdout):
        assert "PRIVATE" not in output


def test_the_district_name_must_fit_a_common_name(tmp_path):
    with pytest.raises(CAError, match="too long"):
        certificates.init_ca(tmp_path, "Essex North Shore Agricultural & Technical School District")
    assert certificates.default_district_name(
        ["Essex North Shore Agricultural & Technical School District", "ENSATSD"]) == "ENSATSD"


def district_ca(directory: Path, *, not_after=NOW + datetime.timedelta(days=700), name="District IT"):
    """A CA the district made itself, as PEM files: (certificate file, key file)."""
    key, cert = certificates.generate_ca(name, not_after=not_after, not_before=NOW - datetime.timedelta(days=3))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return directory / "ca.pem", directory / "ca.key"


def test_import_takes_a_district_ca_and_validates_it(tmp_path):
    cert_file, key_file = district_ca(tmp_path / "district")
    confdir = tmp_path / "mitmproxy"
    result = command("ca", "import", str(cert_file), str(key_file), "--confdir", str(confdir))
    assert result.returncode == 0, result.stderr
    assert "imported the CA 'District IT socialwatch CA'" in result.stdout
    assert (confdir / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    store = loaded_by_mitmproxy(confdir)
    assert store.default_ca.to_cryptography() == x509.load_pem_x509_certificate(cert_file.read_bytes())

    _, other_key = district_ca(tmp_path / "other", name="Other")
    expired_cert, expired_key = district_ca(tmp_path / "expired", not_after=NOW - datetime.timedelta(days=1))
    leaf = make_upstream_certs(tmp_path / "leaf", ["www.example.org"])
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(serialization.load_pem_private_key(key_file.read_bytes(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse")))
    refused = {
        "does not belong to the certificate": (cert_file, other_key),
        "expired on": (expired_cert, expired_key),
        "is not a CA certificate": (leaf.cert_pem, leaf.key_pem),
        "is encrypted": (cert_file, encrypted),
    }
    for message, (cert, key) in refused.items():
        with pytest.raises(CAError, match=message):
            certificates.import_ca(tmp_path / "refused", cert, key)
        assert not (tmp_path / "refused" / "mitmproxy-ca.pem").exists()
    answer = command("ca", "import", str(cert_file), str(other_key), "--confdir", str(tmp_path / "refused"))
    assert answer.returncode == 1 and "does not belong to the certificate" in answer.stderr


def test_import_of_a_subordinate_ca_serves_its_chain(tmp_path):
    root_key, root = certificates.generate_ca("District Root", not_after=NOW + datetime.timedelta(days=3650))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "District proxy issuing CA")])
    issuing = (
        x509.CertificateBuilder().subject_name(name).issuer_name(root.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1)).not_valid_after(NOW + datetime.timedelta(days=700))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    chain = tmp_path / "chain.pem"
    chain.write_bytes(issuing.public_bytes(serialization.Encoding.PEM) + root.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "issuing.der"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    wrong_order = tmp_path / "wrong-order.pem"
    wrong_order.write_bytes(issuing.public_bytes(serialization.Encoding.PEM) * 2)
    with pytest.raises(CAError, match="is not issued by the next certificate"):
        certificates.import_ca(tmp_path / "refused", wrong_order, key_file)

    ca = certificates.import_ca(tmp_path / "mitmproxy", chain, key_file)
    assert ca.chain == (root,)
    store = loaded_by_mitmproxy(tmp_path / "mitmproxy")
    assert [c.to_cryptography() for c in store.default_chain_certs] == [issuing, root]


def test_export_writes_pem_der_and_an_apple_profile_never_the_key(tmp_path):
    confdir = tmp_path / "mitmproxy"
    current = certificates.init_ca(confdir, "Essex Tech")
    upcoming = certificates.rotate_ca(confdir, "Essex Tech", overlap_days=14).ca
    out = tmp_path / "export"
    result = command("ca", "export", "--confdir", str(confdir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "socialwatch-ca-next.cer", "socialwatch-ca-next.pem", "socialwatch-ca.cer", "socialwatch-ca.mobileconfig",
        "socialwatch-ca.pem"]
    assert f"current: Essex Tech socialwatch CA, SHA-256 {current.fingerprint}" in result.stdout
    assert f"next: Essex Tech socialwatch CA, SHA-256 {upcoming.fingerprint}" in result.stdout

    assert x509.load_pem_x509_certificates((out / "socialwatch-ca.pem").read_bytes()) == [current.certificate]
    assert x509.load_der_x509_certificate((out / "socialwatch-ca.cer").read_bytes()) == current.certificate
    assert x509.load_der_x509_certificate((out / "socialwatch-ca-next.cer").read_bytes()) == upcoming.certificate

    profile = plistlib.loads((out / "socialwatch-ca.mobileconfig").read_bytes())
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    assert profile["PayloadIdentifier"] == "socialwatch.proxy-ca"
    payloads = profile["PayloadContent"]
    assert [p["PayloadType"] for p in payloads] == ["com.apple.security.root"] * 2
    assert [p["PayloadContent"] for p in payloads] == [
        ca.certificate.public_bytes(serialization.Encoding.DER) for ca in (current, upcoming)]
    uuids = [profile["PayloadUUID"], *(p["PayloadUUID"] for p in payloads)]
    assert len(set(uuids)) == 3 and all(uuid.UUID(u) for u in uuids)

    # Stable: the same certificates give the same profile; only-pem writes only PEM.
    again = tmp_path / "again"
    assert command("ca", "export", "--confdir", str(confdir), "--out", str(again)).returncode == 0
    assert (again / "socialwatch-ca.mobileconfig").read_bytes() == (out / "socialwatch-ca.mobileconfig").read_bytes()
    pem_only = tmp_path / "pem-only"
    assert command("ca", "export", "--confdir", str(confdir), "--out", str(pem_only), "--format",
                       "pem").returncode == 0
    assert sorted(p.name for p in pem_only.iterdir()) == ["socialwatch-ca-next.pem", "socialwatch-ca.pem"]

    secrets = [private_value(confdir), private_value(confdir / "next")]
    for path in [*out.iterdir(), *pem_only.iterdir()]:
        data = path.read_bytes()
        assert b"PRIVATE" not in data, path
        for secret in secrets:
            assert secret not in data, path
    assert "PRIVATE" not in result.stdout + result.stderr


def test_rotate_then_activate_keeps_the_old_and_the_new_ca(tmp_path):
    confdir = tmp_path / "mitmproxy"
    old = certificates.init_ca(confdir, "Essex Tech")
    with pytest.raises(CAError, match="run 'socialwatch ca rotate' first"):
        certificates.activate_ca(confdir)

    rotated = command("ca", "rotate", "--confdir", str(confdir), "--overlap-days", "10", "--days", "800",
                      "--district-name", "Essex Tech")
    assert rotated.returncode == 0, rotated.stderr
    rotation = certificates.read_rotation(confdir)
    assert (rotation.activate_after - NOW).days in (9, 10)
    assert f"on or after {rotation.activate_after:%Y-%m-%d}" in rotated.stdout
    new = rotation.ca
    assert (confdir / "next" / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    assert certificates.read_ca(confdir).certificate == old.certificate, "the proxy keeps the current CA"
    assert loaded_by_mitmproxy(confdir).default_ca.to_cryptography() == old.certificate
    assert certificates.expiry_timestamps(confdir) == {"current": old.not_after.timestamp(),
                                                       "next": new.not_after.timestamp()}
    assert command("ca", "rotate", "--confdir", str(confdir)).returncode == 1, "a second rotation needs --force"

    early = command("ca", "activate", "--confdir", str(confdir))
    assert early.returncode == 1 and "the overlap lasts until" in early.stderr
    previous, current = certificates.activate_ca(confdir, now=NOW + datetime.timedelta(days=11))

    assert current.certificate == new.certificate and previous.certificate == old.certificate
    assert not (confdir / "next").exists()
    assert certificates.read_ca(confdir / "previous").certificate == old.certificate
    for directory in (confdir, confdir / "previous"):
        assert (directory / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    assert x509.load_pem_x509_certificate((confdir / "mitmproxy-ca-cert.pem").read_bytes()) == new.certificate
    assert loaded_by_mitmproxy(confdir).default_ca.to_cryptography() == new.certificate
    assert certificates.expiry_timestamps(confdir) == {"current": new.not_after.timestamp()}

    show = command("ca", "show", "--confdir", str(confdir))
    assert show.returncode == 0, show.stderr
    assert re.search(rf"current  Essex Tech socialwatch CA\n  subject  .*\n  SHA-256  {new.fingerprint}\n"
                     r"  expires  \S+ \((799|800) days left\)\n  key      \S+mitmproxy-ca.pem \(mode 0600;",
                     show.stdout)
    assert f"previous Essex Tech socialwatch CA\n  subject  CN=Essex Tech socialwatch CA,O=Essex Tech\n" \
           f"  SHA-256  {old.fingerprint}" in show.stdout


def test_show_prints_the_days_left(tmp_path):
    confdir = tmp_path / "mitmproxy"
    certificates.init_ca(confdir, "Essex Tech", not_after=NOW + datetime.timedelta(days=45, hours=12))
    show = command("ca", "show", "--confdir", str(confdir))
    assert show.returncode == 0, show.stderr
    assert "(45 days left)" in show.stdout
    missing = command("ca", "show", "--confdir", str(tmp_path / "none"))
    assert missing.returncode == 1 and "no CA in" in missing.stderr


def test_a_real_mitmdump_serves_certificates_chained_to_the_exported_ca(tmp_path):
    workdir = tmp_path / "proxy"
    confdir = workdir / "mitmproxy"  # running_mitmdump's confdir
    ca = certificates.init_ca(confdir, "Essex Tech")
    upcoming = certificates.rotate_ca(confdir, "Essex Tech").ca
    export = tmp_path / "export"
    certificates.export_ca(confdir, export, ["pem"])
    upstream = make_upstream_certs(tmp_path / "upstream", ["www.instagram.com"])
    with UpstreamServer(upstream) as server, running_mitmdump(
        workdir, storage_url=f"chdb:{tmp_path / 'store'}", upstream_port=server.port, certs=upstream,
        district_subnets=["127.60.0.0/16"],
    ) as proxy:
        client = DeviceClient(proxy, DEVICE, trust=[export / "socialwatch-ca.pem"], trust_proxy=False)
        conn = client.connect("www.instagram.com")
        try:
            conn.request("GET", "/")  # the TLS handshake verifies against the exported PEM only
            assert conn.getresponse().status == 200
            served = x509.load_der_x509_certificate(conn.sock.getpeercert(binary_form=True))
        finally:
            conn.close()
        metrics = {sample.labels["ca"]: sample.value
                   for family in text_string_to_metric_families(proxy.metrics())
                   for sample in family.samples if sample.name == "socialwatch_ca_expiry_timestamp_seconds"}
    served.verify_directly_issued_by(ca.certificate)
    assert served.issuer == ca.certificate.subject
    assert metrics == {"current": ca.not_after.timestamp(), "next": upcoming.not_after.timestamp()}
