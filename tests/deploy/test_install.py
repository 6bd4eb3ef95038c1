"""deploy/install.sh, run for real into a staging root (--root), twice, then as an upgrade.

The script builds the virtual environment with pip exactly as on an appliance, offline from a
wheel directory (--wheels) that support/wheelhouse.py repacks from this test environment's
installed packages (plus setuptools, the build backend, fetched from the package index once per
run), so no 300 MB download happens per run and the installed versions are the tested ones. The
environment is built with --no-compile: byte-compiling it takes longer than installing it on
this 2-core machine, and is one compileall call.

The staging root starts as an operating-system tree would (an /etc/passwd with root in it), so the
system user is created there by systemd-sysusers --root. The source is a snapshot of this
repository, so that edits made to the working tree while the test runs cannot change it.

A venv's paths point at its final location (/opt/socialwatch/venv), which does not exist on the
test machine: the installed command is run in a private mount namespace where the staged
/opt/socialwatch is mounted at /opt/socialwatch, as it will be on the appliance. `socialwatch doctor`, the
install's last step, runs there too, with the staged /var/lib/socialwatch and a network namespace of its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PYTHON = pathlib.Path(sys._base_executable).resolve()
PARTS = ["pyproject.toml", "README.md", "socialwatch", "proxy_addons", "classifier", "storage", "dashboards",
         "deploy", "docs"]
UNITS = sorted(p.name for p in (REPO / "deploy" / "systemd").iterdir() if p.suffix in (".service", ".timer"))
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="ownership, systemd-sysusers and mount namespaces need root")


@dataclasses.dataclass
class Run:
    result: subprocess.CompletedProcess
    seconds: float


def install(root: pathlib.Path, source: pathlib.Path, wheels: pathlib.Path, *extra: str) -> Run:
    start = time.monotonic()
    result = subprocess.run(
        ["sh", str(source / "deploy" / "install.sh"), "--root", str(root), "--no-apt", "--source", str(source),
         "--wheels", str(wheels), "--python", str(PYTHON), "--no-compile", "--with-prometheus", "--with-clickhouse",
         *extra], capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Run(result, time.monotonic() - start)


def tree_state(root: pathlib.Path) -> dict[str, tuple]:
    """Every path under root: content hash (mtime and size inside the venv), mode, owner, mtime."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        key = str(path.relative_to(root))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        elif path.is_dir():
            state[key] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        elif "opt/socialwatch/venv/" in f"{key}/" and not key.endswith(".socialwatch-install"):
            state[key] = ("file", st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
        else:
            state[key] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns,
                          stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return state


def in_target_namespace(root: pathlib.Path, *command: str, state: bool = False,
                        network: bool = False) -> subprocess.CompletedProcess:
    """`command` with the staged /opt/socialwatch mounted at /opt/socialwatch, in a private mount namespace.

    state: the staged /var/lib/socialwatch is mounted at /var/lib/socialwatch too (over an empty /var/lib), so
    whatever this machine has there is out of sight; network: in a network namespace of its own with only
    loopback up, where no server of this machine answers (nothing listens on ClickHouse's or the metrics' port)."""
    script = 'mount -t tmpfs tmpfs /opt && mkdir /opt/socialwatch && mount --bind "$1/opt/socialwatch" /opt/socialwatch'
    if state:
        script += (' && mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/socialwatch'
                   ' && mount --bind "$1/var/lib/socialwatch" /var/lib/socialwatch')
    if network:
        script += " && ip link set lo up"
    script += ' && shift && exec "$@"'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", *(["--net"] if network else []),
                           "sh", "-c", script, "sh", str(root), *command],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> pathlib.Path:
    snapshot = tmp_path_factory.mktemp("source")
    for part in PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, snapshot / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, snapshot / part)
    return snapshot


@pytest.fixture(scope="module")
def wheels(tmp_path_factory, source) -> pathlib.Path:
    from support.wheelhouse import build_wheelhouse

    directory = tmp_path_factory.mktemp("wheels")
    build_wheelhouse(directory, source / "pyproject.toml")
    # pip builds socialwatch itself with setuptools (pyproject's build backend), not in this venv.
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest",
                             str(directory), "setuptools>=69"], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"cannot fetch setuptools for the offline build: {result.stderr[-2000:]}"
    return directory


@dataclasses.dataclass
class Installed:
    root: pathlib.Path
    first: Run
    second: Run
    before: dict
    after: dict


@pytest.fixture(scope="module")
def installed(tmp_path_factory, source, wheels) -> Installed:
    root = tmp_path_factory.mktemp("root")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    first = install(root, source, wheels)
    before = tree_state(root)
    time.sleep(0.05)  # a rewrite after this would show in mtimes even on coarse clocks
    second = install(root, source, wheels)
    return Installed(root, first, second, before, tree_state(root))


def test_a_second_run_changes_nothing(installed):
    print(f"first run {installed.first.seconds:.1f} s, second {installed.second.seconds:.1f} s")
    assert "building the virtual environment" in installed.first.result.stdout
    assert "everything up to date, nothing changed" in installed.second.result.stdout
    assert "installed" not in installed.second.result.stdout
    assert installed.after == installed.before
    assert installed.second.seconds < 30


@needs_root
def test_layout_user_permissions_and_files(installed, source):
    root = installed.root
    passwd = dict(line.split(":", 1) for line in (root / "etc" / "passwd").read_text().splitlines())
    uid, gid, _comment, home, shell = passwd["socialwatch"].split(":")[1:6]
    assert (home, shell) == ("/var/lib/socialwatch", "/usr/sbin/nologin")
    group = {line.split(":")[0]: line.split(":")[2] for line in (root / "etc" / "group").read_text().splitlines()}
    assert group["socialwatch"] == gid

    def mode(path: str) -> tuple:
        st = (root / path).stat()
        return stat.S_IMODE(st.st_mode), str(st.st_uid), str(st.st_gid)

    assert mode("etc/socialwatch") == (0o750, "0", gid)
    assert mode("etc/socialwatch/socialwatch.toml") == (0o640, "0", gid)  # holds the ClickHouse password
    assert mode("var/lib/socialwatch") == (0o750, uid, gid)
    assert mode("opt/socialwatch/venv") == (0o755, "0", "0")
    assert (root / "etc/socialwatch/socialwatch.toml").read_bytes() == \
        (source / "deploy/socialwatch.production.toml").read_bytes()
    assert os.readlink(root / "usr/local/bin/socialwatch") == "/opt/socialwatch/venv/bin/socialwatch"
    assert (root / "usr/lib/sysusers.d/socialwatch.conf").read_bytes() == \
        (source / "deploy/systemd/socialwatch.sysusers.conf").read_bytes()
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).read_bytes() == (source / "deploy/systemd" / unit).read_bytes()
    assert "socialwatch-backup.timer" in UNITS
    assert (root / "usr/share/doc/socialwatch/deploy.md").is_file()
    # Prometheus: Debian's paths, the console templates where Debian's prometheus looks by default.
    assert {p.name for p in (root / "etc/prometheus").glob("*.yml")} == {"prometheus.yml", "rules.yml", "rules_test.yml"}
    assert (root / "etc/prometheus/consoles/socialwatch-overview.html").is_file()
    assert (root / "etc/prometheus/console_libraries/socialwatch.lib").is_file()
    # ClickHouse: every placeholder replaced by the SHA-256 of a password kept for root only.
    users = (root / "etc/clickhouse-server/users.d/socialwatch.xml").read_text()
    assert "SHA256_HEX_OF_THE_" not in users.split("-->", 1)[1]
    passwords = root / "etc/clickhouse-server/socialwatch-passwords"  # root only, and outside backups
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    for line in passwords.read_text().splitlines():
        user, password = line.split("=", 1)
        assert len(password) >= 24
        digest = hashlib.sha256(password.encode()).hexdigest()
        assert re.search(rf"<{user}>\s*<password_sha256_hex>{digest}</password_sha256_hex>", users), user


def test_the_venv_knows_only_its_target_path(installed):
    root = installed.root
    venv = root / "opt/socialwatch/venv"
    for script in (venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            head = script.read_bytes()[:300]
            assert str(root).encode() not in head and b"venv.new" not in head, script
    assert (venv / "bin/socialwatch").read_text().startswith("#!/opt/socialwatch/venv/bin/python\n")
    assert not (root / "opt/socialwatch/venv.new").exists() and not (root / "opt/socialwatch/venv.old").exists()


@needs_root
def test_the_installed_command_runs_from_its_target_path(installed):
    root = installed.root
    config = root / "etc/socialwatch/socialwatch.toml"
    version = in_target_namespace(root, str(root / "usr/local/bin/socialwatch"), "version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("socialwatch 0.1.0 (mitmproxy 12.2.")
    code = ("import sys; from socialwatch.config import load_config; c = load_config(sys.argv[1]); "
            "print(sys.prefix, c.proxy.confdir, c.identity.pseudonym_key_file, c.spool.directory, "
            "c.review.accounts_file, c.classifier.suppressions_file)")
    loaded = in_target_namespace(root, "/opt/socialwatch/venv/bin/python", "-c", code, str(config))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == [
        "/opt/socialwatch/venv", "/var/lib/socialwatch/mitmproxy", "/var/lib/socialwatch/pseudonym.key",
        "/var/lib/socialwatch/spool", "/var/lib/socialwatch/review-accounts.json",
        "/var/lib/socialwatch/suppressions.csv"]


@needs_root
def test_doctor_on_the_fresh_install_says_what_is_missing(installed):
    # The install's last "next step": socialwatch doctor, run from its target path as it would run on the
    # appliance straight after install.sh: no CA yet, storage.url still the template's (nothing listens on its
    # port in this network namespace), no proxy running. It must run, find the configuration valid, and FAIL
    # on exactly what is missing, each line with its fix. Run as root: the staged root's path is not
    # traversable by the service user here (on the appliance: sudo -u socialwatch, docs/deploy.md).
    root = installed.root
    config = root / "etc/socialwatch/socialwatch.toml"
    start = time.monotonic()
    result = in_target_namespace(root, str(root / "usr/local/bin/socialwatch"), "doctor", "--config", str(config),
                                 state=True, network=True)
    seconds = time.monotonic() - start
    print(result.stdout, f"doctor took {seconds:.1f} s", sep="\n")
    assert result.returncode == 1, result.stdout + result.stderr  # 1: a check FAILed
    # Standard error holds clickhouse-driver's own warning of the refused connection (with its traceback);
    # no socialwatch code may appear in it.
    assert all("/clickhouse_driver/" in frame for frame in re.findall(r'File "([^"]+)"', result.stderr)), \
        result.stderr
    lines = result.stdout.splitlines()
    checks = {}
    for line in lines:
        status, _, rest = line.partition("  ")
        name, _, finding = rest.lstrip().partition(": ")
        checks[name] = (status.strip(), finding)
    # No CA, so no key or rotation check; storage fails, so no schema or privileges check (doctor.py).
    assert list(checks) == ["configuration", "CA certificate", "storage", "spool", "disk space", "metrics endpoint",
                            "prometheus", "clock"], lines
    assert lines[0] == f"OK    configuration: {config} is valid"
    status, finding = checks["CA certificate"]
    assert status == "FAIL" and finding.startswith("no CA in /var/lib/socialwatch/mitmproxy (mitmproxy-ca.pem is "
                                                   "missing)"), finding
    assert finding.endswith("; fix: socialwatch ca init (or ca import), then distribute it (docs/certificates.md)")
    status, finding = checks["storage"]
    assert status == "FAIL" and "clickhouse://socialwatch:***@127.0.0.1:9000/socialwatch" in finding, finding
    assert "; fix: check that ClickHouse runs and that storage.url" in finding
    assert "CHANGE_ME" not in result.stdout + result.stderr  # the template's password is never printed
    assert checks["spool"] == ("OK", "/var/lib/socialwatch/spool does not exist yet; the proxy creates it")
    assert checks["disk space"][0] in ("OK", "WARN", "FAIL") and " free of " in checks["disk space"][1]
    status, finding = checks["metrics endpoint"]
    assert status == "FAIL" and finding.startswith("http://127.0.0.1:9464/metrics does not answer"), finding
    assert "; fix: is the proxy running? systemctl status socialwatch-proxy" in finding
    assert checks["prometheus"][0] == "WARN" and checks["prometheus"][1].startswith("not checked: no Prometheus URL")
    assert checks["clock"][0] in ("OK", "WARN")  # WARN here: no systemd answers timedatectl, no ClickHouse
    assert seconds < 10


def test_units_verify_against_the_staged_root(installed, tmp_path):
    # systemd-analyze verify --root resolves ExecStart= inside the root: /usr/local/bin/socialwatch,
    # then its link to /opt/socialwatch/venv/bin/socialwatch. It also needs systemd's own units
    # (sysinit.target ...), which an image has and this staging root does not: the host's are copied in.
    root = tmp_path / "root"
    shutil.copytree(installed.root, root, symlinks=True, ignore=shutil.ignore_patterns("site-packages"))
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = [str(root / "etc/systemd/system" / unit) for unit in UNITS]
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *units], capture_output=True, text=True,
                            timeout=120, check=False)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    # The control: without the environment, the ExecStart= of every service is reported.
    shutil.rmtree(root / "opt/socialwatch/venv")
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *units], capture_output=True, text=True,
                            timeout=120, check=False)
    assert "Command /usr/local/bin/socialwatch is not executable" in result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_the_installed_prometheus_configuration_is_valid(installed):
    result = subprocess.run(["promtool", "check", "config", str(installed.root / "etc/prometheus/prometheus.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_a_root_without_passwd_gets_no_user_files(installed, source, wheels, tmp_path):
    # A bare staging tree (a package payload) must not grow an /etc/passwd that would replace the
    # system's when copied: the user is left to systemd-sysusers at boot. The environment is copied
    # from the first install (hard links) so that this run finds it up to date.
    root = tmp_path / "bare"
    (root / "opt").mkdir(parents=True)
    subprocess.run(["cp", "-al", str(installed.root / "opt/socialwatch"), str(root / "opt/")], check=True)
    run = install(root, source, wheels)
    assert not (root / "etc/passwd").exists() and not (root / "etc/shadow").exists()
    assert "systemd-sysusers creates it at boot" in run.result.stdout
    assert "building the virtual environment" not in run.result.stdout


@needs_root
def test_an_upgrade_keeps_the_configuration_and_swaps_the_environment(installed, source, wheels, tmp_path):
    root = tmp_path / "upgrade"
    shutil.copytree(installed.root, root, symlinks=True)
    upgraded = tmp_path / "source"
    shutil.copytree(source, upgraded, symlinks=True)
    config = root / "etc/socialwatch/socialwatch.toml"
    config.write_text(config.read_text().replace('district_subnets = ["10.20.0.0/16"]',
                                                 'district_subnets = ["10.99.0.0/16"]'))
    edited = config.read_bytes()
    # The new release: a changed template and a changed package.
    template = upgraded / "deploy/socialwatch.production.toml"
    template.write_text(template.read_text() + "# a new release's template\n")
    init = upgraded / "socialwatch/__init__.py"
    init.write_text(init.read_text() + "\nUPGRADE_MARKER = 2\n")

    run = install(root, upgraded, wheels)
    print(f"upgrade {run.seconds:.1f} s")
    assert "building the virtual environment" in run.result.stdout
    assert config.read_bytes() == edited  # the administrator's file is never overwritten
    assert (root / "etc/socialwatch/socialwatch.toml.new").read_bytes() == template.read_bytes()
    assert "socialwatch.toml.new" in run.result.stdout
    assert "UPGRADE_MARKER = 2" in next((root / "opt/socialwatch/venv/lib").glob(
        "python3*/site-packages/socialwatch/__init__.py")).read_text()
    assert not (root / "opt/socialwatch/venv.old").exists()
    # And again: nothing more to do, no second .new.
    again = install(root, upgraded, wheels)
    assert "everything up to date, nothing changed" in again.result.stdout
