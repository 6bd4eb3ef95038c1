#!/bin/sh
# socialwatch installer for Debian 12 and Ubuntu 24.04 (docs/deploy.md, "Install script").
#
#   sudo deploy/install.sh [--with-clickhouse] [--with-prometheus] [--migrate]
#   deploy/install.sh --root /srv/image --no-apt      # into a staging root (image builds, tests)
#
# Idempotent: run it again after `git pull` to upgrade. What is up to date is left alone; a
# changed source rebuilds the virtual environment beside the old one and swaps it in, then the
# running services are restarted. What it lays down:
#
#   /opt/socialwatch/venv              the virtual environment (root-owned, read-only to services)
#   /usr/local/bin/socialwatch         -> /opt/socialwatch/venv/bin/socialwatch (the units' ExecStart=)
#   /etc/socialwatch/socialwatch.toml  from deploy/socialwatch.production.toml, never overwritten
#                                      (a newer template goes to socialwatch.toml.new)
#   /var/lib/socialwatch               state: CA, keys, spool, accounts (user socialwatch, 0750)
#   /etc/systemd/system/socialwatch-*  the units; logs go to the journal (journalctl -u socialwatch-proxy)
#   /usr/lib/sysusers.d/socialwatch.conf and the system user socialwatch
#
# Options:
#   --root DIR          install under DIR instead of / (no apt, no systemctl, no migration there)
#   --source DIR        the socialwatch repository to install (default: the one holding this script)
#   --python PATH       Python 3.12 or newer (default: python3.13, python3.12, python3 on PATH)
#   --wheels DIR        install Python packages from this wheel directory only (offline appliances)
#   --no-apt            do not run apt-get
#   --with-clickhouse   apt install clickhouse-server; install deploy/clickhouse/users.d with new passwords
#   --with-prometheus   apt install prometheus; install socialwatch's configuration, rules and consoles
#   --migrate           run `socialwatch db migrate` (the proxy also migrates at start, when its
#                       database user may; with one user per component, migrate as the administrator)
#   --no-restart        do not restart running services after an upgrade
#   --no-compile        do not byte-compile the virtual environment (faster; slower service start)
#   --rebuild           rebuild the virtual environment even when it is up to date
set -eu

ROOT=/
SOURCE=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
PYTHON=
WHEELS=
APT=1
WITH_CLICKHOUSE=0
WITH_PROMETHEUS=0
MIGRATE=0
RESTART=1
COMPILE=1
REBUILD=0

usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "socialwatch install: $*"; }

while [ $# -gt 0 ]; do
    case $1 in
        --root) ROOT=${2:?--root DIR}; shift ;;
        --root=*) ROOT=${1#*=} ;;
        --source) SOURCE=${2:?--source DIR}; shift ;;
        --source=*) SOURCE=${1#*=} ;;
        --python) PYTHON=${2:?--python PATH}; shift ;;
        --python=*) PYTHON=${1#*=} ;;
        --wheels) WHEELS=${2:?--wheels DIR}; shift ;;
        --wheels=*) WHEELS=${1#*=} ;;
        --no-apt) APT=0 ;;
        --with-clickhouse) WITH_CLICKHOUSE=1 ;;
        --with-prometheus) WITH_PROMETHEUS=1 ;;
        --migrate) MIGRATE=1 ;;
        --no-restart) RESTART=0 ;;
        --no-compile) COMPILE=0 ;;
        --rebuild) REBUILD=1 ;;
        -h|--help) usage 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
    shift
done

case $ROOT in /*) ;; *) die "--root must be an absolute path" ;; esac
ROOT=$(CDPATH= cd -- "$ROOT" 2>/dev/null && pwd) || die "--root $ROOT: no such directory"
[ "$ROOT" = / ] && R= || R=$ROOT
case $R in *'|'*|*' '*) die "--root must not contain '|' or spaces" ;; esac
SOURCE=$(CDPATH= cd -- "$SOURCE" && pwd)
[ -f "$SOURCE/pyproject.toml" ] && [ -d "$SOURCE/deploy/systemd" ] || die "$SOURCE is not a socialwatch repository"
[ -z "$WHEELS" ] || WHEELS=$(CDPATH= cd -- "$WHEELS" && pwd)
if [ -z "$R" ]; then
    [ "$(id -u)" = 0 ] || die "run as root (or give --root DIR to stage an installation)"
elif [ "$APT" = 1 ]; then
    die "with --root, give --no-apt: apt-get installs into the running system; install the packages" \
        "in the image with its own tooling (python3-venv libpcap0.8, and clickhouse-server, prometheus)"
fi
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1

OPT=$R/opt/socialwatch
VENV=$OPT/venv
CHANGED=0
UNITS_CHANGED=0
VENV_CHANGED=0
NOTES=

note() { NOTES="$NOTES
  - $*"; }

# ---------------------------------------------------------------- packages
apt_install() {
    missing=
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $package"
    done
    [ -n "$missing" ] || return 0
    say "apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    CHANGED=1
}

if [ "$APT" = 1 ]; then
    packages="python3 python3-venv libpcap0.8 ca-certificates"
    [ "$WITH_CLICKHOUSE" = 1 ] && packages="$packages clickhouse-server clickhouse-client"
    [ "$WITH_PROMETHEUS" = 1 ] && packages="$packages prometheus"
    apt_install $packages
fi

# ---------------------------------------------------------------- helpers
file_mode() { stat -c '%a %u %g' "$1"; }

# ensure_dir DIR MODE UID GID: create, and fix mode/owner only when they differ (no needless writes).
ensure_dir() {
    if [ ! -d "$1" ]; then mkdir -p "$1"; CHANGED=1; say "created $1"; fi
    set_mode "$1" "$2" "$3" "$4"
}

set_mode() {
    owner=$3 group=$4
    [ "$IS_ROOT" = 1 ] || { owner=$(stat -c %u "$1"); group=$(stat -c %g "$1"); }
    [ "$(file_mode "$1")" = "$2 $owner $group" ] && return 0
    chmod "$2" "$1"
    [ "$IS_ROOT" = 1 ] && chown "$owner:$group" "$1"
    CHANGED=1
}

# install_file SRC DEST MODE [UID GID]: copy when the content differs.
install_file() {
    if [ ! -f "$2" ] || ! cmp -s "$1" "$2"; then
        mkdir -p "$(dirname "$2")"
        cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
        CHANGED=1
        say "installed $2"
        return_changed=1
    else
        return_changed=0
    fi
    set_mode "$2" "$3" "${4:-0}" "${5:-0}"
}

# install_conffile SRC DEST MODE UID GID [DISTRIBUTION_MD5]: a configuration file the administrator owns.
# Installed when absent, or when unchanged since this script installed it (or still the
# distribution's default); otherwise the new version goes to DEST.new and DEST is left alone.
install_conffile() {
    record=$OPT/conffiles/$(echo "${2#"$R"}" | tr / _)
    if [ ! -f "$2" ] || cmp -s "$1" "$2" \
        || { [ -f "$record" ] && cmp -s "$record" "$2"; } \
        || { [ -n "${6:-}" ] && [ "$(md5sum < "$2" | cut -d' ' -f1)" = "$6" ]; }; then
        if [ -f "$2" ] && ! cmp -s "$1" "$2" && [ -n "${6:-}" ] && [ ! -f "$2.dist" ]; then
            cp -p "$2" "$2.dist"   # the distribution's default, for reference
        fi
        install_file "$1" "$2" "$3" "$4" "$5"
    elif ! { [ -f "$record" ] && cmp -s "$record" "$1"; }; then
        install_file "$1" "$2.new" "$3" "$4" "$5"
        note "$2 was changed here: the new version is $2.new; compare and merge (docs/configuration.md)"
    fi
    mkdir -p "$OPT/conffiles"
    if [ ! -f "$record" ] || ! cmp -s "$1" "$record"; then cp "$1" "$record"; CHANGED=1; fi
}

# ---------------------------------------------------------------- the system user
ensure_dir "$OPT" 755 0 0
install_file "$SOURCE/deploy/systemd/socialwatch.sysusers.conf" "$R/usr/lib/sysusers.d/socialwatch.conf" 644

lookup_id() {  # lookup_id passwd|group NAME: the numeric id in the target's files, empty if none
    [ -f "$R/etc/$1" ] && awk -F: -v n="$2" '$1 == n { print $3 }' "$R/etc/$1"
}

USER_ID=$(lookup_id passwd socialwatch || true)
if [ -z "$USER_ID" ]; then
    if [ -z "$R" ]; then
        if command -v systemd-sysusers >/dev/null; then
            systemd-sysusers /usr/lib/sysusers.d/socialwatch.conf
        else
            useradd --system --user-group --home-dir /var/lib/socialwatch --no-create-home \
                --shell /usr/sbin/nologin --comment "socialwatch student-safety monitoring" socialwatch
        fi
        CHANGED=1
    elif [ -f "$R/etc/passwd" ] && command -v systemd-sysusers >/dev/null; then
        # An operating-system tree (image build): the user goes into its own passwd and group.
        systemd-sysusers --root="$R" "$R/usr/lib/sysusers.d/socialwatch.conf"
        CHANGED=1
    else
        note "no $R/etc/passwd to add the user socialwatch to: systemd-sysusers creates it at boot from /usr/lib/sysusers.d/socialwatch.conf (files stay root-owned until then; the units' StateDirectory= fixes /var/lib/socialwatch)"
    fi
    USER_ID=$(lookup_id passwd socialwatch || true)
fi
GROUP_ID=$(lookup_id group socialwatch || true)
[ -n "$USER_ID" ] || USER_ID=0
[ -n "$GROUP_ID" ] || GROUP_ID=0

# ---------------------------------------------------------------- directories
ensure_dir "$R/etc/socialwatch" 750 0 "$GROUP_ID"
ensure_dir "$R/var/lib/socialwatch" 750 "$USER_ID" "$GROUP_ID"
ensure_dir "$R/usr/local/bin" 755 0 0

# ---------------------------------------------------------------- the virtual environment
find_python() {
    for candidate in ${PYTHON:-python3.13 python3.12 python3}; do
        path=$(command -v "$candidate" 2>/dev/null) || continue
        if "$path" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            echo "$path"; return 0
        fi
    done
    return 1
}
PY=$(find_python) || die "socialwatch needs Python 3.12 or newer with venv and ensurepip (${PYTHON:-python3.13, python3.12, python3} found lacking).
  Ubuntu 24.04: apt-get install python3-venv.  Debian 12 ships Python 3.11: build 3.12 into a system-wide
  prefix readable by the service user (e.g. ./configure --prefix=/opt/python3.12 && make altinstall) and
  give --python /opt/python3.12/bin/python3.12. Not under /root or /home: the units run with ProtectHome=yes."
PY_REAL=$(readlink -f "$PY")
case $PY_REAL in
    /root/*|/home/*) [ -z "$R" ] && die "$PY_REAL lives under /root or /home, which the units hide (ProtectHome=yes): use a system-wide Python"
                     note "the environment uses $PY_REAL, under /root or /home: the units hide those (ProtectHome=yes), so the target needs a system-wide Python at that path" ;;
esac

PACKAGE_PARTS="pyproject.toml README.md socialwatch proxy_addons classifier storage dashboards"
fingerprint() {
    {
        echo "python $PY_REAL $("$PY" -c 'import sys; print(sys.version)')"
        echo "compile $COMPILE"
        [ -z "$WHEELS" ] || (cd "$WHEELS" && ls -1)
        (cd "$SOURCE" && find $PACKAGE_PARTS -type f ! -name '*.pyc' ! -path '*/__pycache__/*' | LC_ALL=C sort \
            | while IFS= read -r f; do sha256sum "$f"; done)
    } | sha256sum | cut -c1-64
}
WANT=$(fingerprint)
HAVE=$(cat "$VENV/.socialwatch-install" 2>/dev/null || true)

if [ "$REBUILD" = 1 ] || [ "$WANT" != "$HAVE" ] || [ ! -x "$VENV/bin/python" ]; then
    NEW=$OPT/venv.new
    say "building the virtual environment (this takes a few minutes)"
    rm -rf "$NEW"
    BUILD=$(mktemp -d)
    trap 'rm -rf "$BUILD" "$NEW"' EXIT
    # Build from a copy: pip builds in the source tree, which must stay untouched.
    (cd "$SOURCE" && cp -R $PACKAGE_PARTS "$BUILD/")
    find "$BUILD" -name __pycache__ -prune -exec rm -rf {} +
    "$PY" -m venv "$NEW"
    set -- --quiet --no-compile --disable-pip-version-check
    [ -z "$WHEELS" ] || set -- "$@" --no-index --find-links "$WHEELS"
    "$NEW/bin/python" -m pip install "$@" "$BUILD"
    if [ "$COMPILE" = 1 ]; then
        # The services cannot write __pycache__ (ProtectSystem=strict): compile once, here.
        "$NEW/bin/python" -m compileall -q -j 0 "$NEW/lib" >/dev/null 2>&1 || true
    fi
    # The environment was built as $NEW; it runs as /opt/socialwatch/venv on the target.
    for f in "$NEW"/bin/*; do
        [ -f "$f" ] && [ ! -L "$f" ] || continue
        if head -c 2 "$f" | grep -q '^#!' || case $f in */activate*) true ;; *) false ;; esac; then
            sed -i "1,3s|$NEW|/opt/socialwatch/venv|g" "$f"
        fi
    done
    sed -i "s|$NEW|/opt/socialwatch/venv|g" "$NEW/bin/activate" "$NEW/bin/activate.csh" "$NEW/bin/activate.fish" "$NEW/pyvenv.cfg" 2>/dev/null || true
    "$NEW/bin/python" -m socialwatch.cli version >/dev/null || die "the new environment does not run socialwatch"
    echo "$WANT" > "$NEW/.socialwatch-install"
    if [ -d "$VENV" ]; then mv "$VENV" "$OPT/venv.old"; fi
    mv "$NEW" "$VENV"
    rm -rf "$OPT/venv.old" "$BUILD"
    trap - EXIT
    CHANGED=1
    VENV_CHANGED=1
    say "installed $("$VENV/bin/python" -m socialwatch.cli version)"
fi

if [ "$(readlink "$R/usr/local/bin/socialwatch" 2>/dev/null || true)" != /opt/socialwatch/venv/bin/socialwatch ]; then
    ln -sfn /opt/socialwatch/venv/bin/socialwatch "$R/usr/local/bin/socialwatch"
    CHANGED=1
    say "linked /usr/local/bin/socialwatch"
fi

# ---------------------------------------------------------------- configuration, units, docs
install_conffile "$SOURCE/deploy/socialwatch.production.toml" "$R/etc/socialwatch/socialwatch.toml" 640 0 "$GROUP_ID"

for unit in "$SOURCE"/deploy/systemd/*.service "$SOURCE"/deploy/systemd/*.timer; do
    install_file "$unit" "$R/etc/systemd/system/$(basename "$unit")" 644
    [ "$return_changed" = 0 ] || UNITS_CHANGED=1
done
for doc in "$SOURCE"/docs/*.md; do
    install_file "$doc" "$R/usr/share/doc/socialwatch/$(basename "$doc")" 644
done

# ---------------------------------------------------------------- ClickHouse
if [ "$WITH_CLICKHOUSE" = 1 ]; then
    users=$SOURCE/deploy/clickhouse/users.d/socialwatch.xml
    target=$R/etc/clickhouse-server/users.d/socialwatch.xml
    if [ ! -f "$users" ]; then
        note "no deploy/clickhouse/users.d/socialwatch.xml in $SOURCE: give the socialwatch user rights by hand (docs/storage.md)"
    elif [ ! -f "$target" ]; then
        # One password per database user, kept for root only; the server keeps their SHA-256.
        passwords=$R/etc/clickhouse-server/socialwatch-passwords   # not under /etc/socialwatch: never in backups
        filled=$(mktemp)
        cp "$users" "$filled"
        mkdir -p "$(dirname "$passwords")"
        umask 077
        : > "$passwords.tmp"
        for placeholder in $(grep -o 'SHA256_HEX_OF_THE_[A-Z]*_PASSWORD' "$users" | sort -u); do
            name=$(echo "$placeholder" | sed 's/SHA256_HEX_OF_THE_\(.*\)_PASSWORD/\1/' | tr 'A-Z' 'a-z')
            password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
            echo "socialwatch_$name=$password" >> "$passwords.tmp"
            sed -i "s/$placeholder/$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)/" "$filled"
        done
        umask 022
        mv "$passwords.tmp" "$passwords"
        chmod 600 "$passwords"
        clickhouse_group=$(lookup_id group clickhouse || true)
        install_file "$filled" "$target" 640 0 "${clickhouse_group:-0}"
        rm -f "$filled"
        note "ClickHouse users created with new passwords, listed in /etc/clickhouse-server/socialwatch-passwords (root only): put the writer's into storage.url of /etc/socialwatch/socialwatch.toml, and run socialwatch db migrate with the administrator's (--storage-url)"
    fi
fi

# ---------------------------------------------------------------- Prometheus
if [ "$WITH_PROMETHEUS" = 1 ]; then
    prometheus_group=$(lookup_id group prometheus || true)
    # Debian's own prometheus.yml (a conffile) is replaced; one changed here is left alone.
    dist_md5=
    if command -v dpkg-query >/dev/null && [ -d "$R/var/lib/dpkg" ]; then
        dist_md5=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Conffiles}\n' prometheus 2>/dev/null \
            | awk '$1 == "/etc/prometheus/prometheus.yml" { print $2 }')
    fi
    for yml in "$SOURCE"/dashboards/prometheus/*.yml; do
        install_conffile "$yml" "$R/etc/prometheus/$(basename "$yml")" 644 0 "${prometheus_group:-0}" "$dist_md5"
    done
    for page in "$SOURCE"/dashboards/consoles/*; do
        install_file "$page" "$R/etc/prometheus/consoles/$(basename "$page")" 644
    done
    for library in "$SOURCE"/dashboards/console_libraries/*; do
        install_file "$library" "$R/etc/prometheus/console_libraries/$(basename "$library")" 644
    done
fi

# ---------------------------------------------------------------- migrations and services
SYSTEMD=0
[ -z "$R" ] && [ -d /run/systemd/system ] && SYSTEMD=1
if [ "$MIGRATE" = 1 ]; then
    if [ -n "$R" ]; then
        note "--migrate ignored with --root: run socialwatch db migrate on the appliance"
    else
        say "socialwatch db migrate"
        (cd /var/lib/socialwatch && runuser -u socialwatch -- /usr/local/bin/socialwatch db migrate \
            --config /etc/socialwatch/socialwatch.toml)
    fi
fi
if [ "$SYSTEMD" = 1 ]; then
    [ "$UNITS_CHANGED" = 1 ] || [ "$VENV_CHANGED" = 1 ] && systemctl daemon-reload
    if [ "$VENV_CHANGED" = 1 ] && [ "$RESTART" = 1 ]; then
        for service in socialwatch-proxy socialwatch-review socialwatch-sensor; do
            if systemctl is-active --quiet "$service"; then say "restarting $service"; systemctl restart "$service"; fi
        done
    fi
    [ "$WITH_PROMETHEUS" = 1 ] && systemctl try-reload-or-restart prometheus.service || true
fi

if [ "$CHANGED" = 0 ]; then
    say "everything up to date, nothing changed"
fi
[ -z "$NOTES" ] || echo "Notes:$NOTES"
cat <<EOF
Next steps (docs/deploy.md):
  1. Edit /etc/socialwatch/socialwatch.toml: district subnets, storage.url, district names (docs/configuration.md).
  2. systemctl daemon-reload && systemctl enable --now socialwatch-proxy.service socialwatch-retention.timer socialwatch-backup.timer
     (with a ClickHouse server also socialwatch-review.service socialwatch-rollups.timer; the sensor: docs/sensor.md)
  3. Give district devices the CA: /var/lib/socialwatch/mitmproxy/mitmproxy-ca-cert.pem (written at first start).
  4. Check: journalctl -u socialwatch-proxy; socialwatch doctor --config /etc/socialwatch/socialwatch.toml
EOF
