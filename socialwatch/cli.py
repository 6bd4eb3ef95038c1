"""The `socialwatch` command.

    socialwatch run         the proxy with classifier, storage and metrics (one process)
    socialwatch db migrate  bring the storage schema up to date
    socialwatch db status   show the schema version and pending migrations
    socialwatch db retention [--dry-run]  delete what the retention policy says to forget
    socialwatch db repair-rollups   give the hourly rollups back counts a ClickHouse crash took
    socialwatch classify    classify JSON lines {"id", "text"} from standard input (or arguments)
    socialwatch eval        measure the classifier on the evaluation sets
    socialwatch coverage    which terms of the research lexicons the classifier flags
    socialwatch sensor      read names passively from packets (live or pcap files)
    socialwatch platforms lookup HOST...   which platform each host belongs to
    socialwatch deploy nftables|pac   print the transparent-mode ruleset or the PAC file (docs/deploy.md)
    socialwatch deploy wireguard-client --endpoint HOST:PORT   a device profile for WireGuard mode
    socialwatch backup create|restore|show   configuration, CA, keys and data in one archive (mode 0600)
    socialwatch review      serve the counselor review application (and alerts)
    socialwatch review user add|remove|list   manage its local accounts
    socialwatch ca init|import|rotate|activate|export|show   the proxy's CA certificate (docs/certificates.md)
    socialwatch doctor      check the appliance end to end and say what to fix
    socialwatch version     print versions

Every subcommand reads the same configuration file (--config); the options
given on the command line override its keys.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from typing import Any

from socialwatch import __version__
from socialwatch.config import Config, ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="socialwatch", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the proxy, classifier, storage and metrics")
    _config_arguments(run)
    run.add_argument("--listen-host", help="proxy address (proxy.listen_host)")
    run.add_argument("--listen-port", type=int, help="proxy port (proxy.listen_port)")
    run.add_argument("--metrics-port", type=int, help="/metrics port, 0 for none (metrics.listen_port)")
    run.add_argument("--review-port", type=int,
                     help="port of the review application served on the embedded store (review.listen_port)")
    run.add_argument(
        "--district-subnet", action="append", metavar="CIDR",
        help="district device subnet, repeatable (proxy.district_subnets)",
    )
    run.add_argument(
        "mitmproxy_args", nargs="*", metavar="-- MITMPROXY_OPTION",
        help="further mitmproxy options after --, e.g. -- --mode transparent",
    )
    run.set_defaults(handler=_run)

    db = commands.add_parser("db", help="storage schema").add_subparsers(dest="db_command", required=True)
    migrate = db.add_parser("migrate", help="apply pending migrations")
    _config_arguments(migrate)
    migrate.set_defaults(handler=_db_migrate)
    status = db.add_parser("status", help="show the schema version and pending migrations")
    _config_arguments(status)
    status.set_defaults(handler=_db_status)
    retention = db.add_parser("retention", help="delete what the retention policy says to forget")
    _config_arguments(retention)
    retention.add_argument("--dry-run", action="store_true", help="list what would be deleted; change nothing")
    retention.set_defaults(handler=_db_retention)
    repair = db.add_parser("repair-rollups", help="give the hourly rollups back counts a ClickHouse crash took "
                           "(the hours writers noted; run by socialwatch-rollups.timer)")
    _config_arguments(repair)
    repair.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                        help="read each hour twice this far apart (at least 1); repair only counts that held "
                        "still (default 2)")
    repair.set_defaults(handler=_db_repair_rollups)

    classify = commands.add_parser(
        "classify", help="classify JSON lines {\"id\", \"text\"} from standard input (or TEXT arguments); "
        "prints one JSON line {\"id\", \"flags\"} per input, in order")
    _config_arguments(classify)
    classify.add_argument("text", nargs="*", help="texts to classify instead of standard input")
    classify.add_argument("--age-band", help="use this age band's thresholds (classifier.age_band_thresholds)")
    classify.set_defaults(handler=_classify)

    evaluate = commands.add_parser("eval", help="measure the classifier on the evaluation sets")
    _config_arguments(evaluate)
    evaluate.add_argument("--data", metavar="DIR", help="evaluation sets (default: ../shared/data/eval)")
    evaluate.add_argument("--set", action="append", metavar="NAME", dest="sets", help="only this set (repeatable)")
    evaluate.add_argument("--limit", type=int, metavar="N", help="at most N texts per set")
    evaluate.add_argument("--examples", type=int, default=5, metavar="N", help="misses and false positives shown")
    evaluate.set_defaults(handler=_eval)

    coverage = commands.add_parser("coverage", help="which terms of the research lexicons the classifier flags "
                                   "(a check of coverage; nothing is added to the lexicons)")
    _config_arguments(coverage)
    coverage.add_argument("--reference", metavar="DIR",
                          help="research lexicons (default: ../shared/data/eval/lexicons-reference)")
    coverage.add_argument("--uncovered", type=int, default=10, metavar="N",
                          help="terms not flagged shown per construct (default 10; 0 none, -1 all)")
    coverage.set_defaults(handler=_coverage)

    platforms = commands.add_parser("platforms", help="the platform catalog").add_subparsers(
        dest="platforms_command", required=True)
    lookup = platforms.add_parser("lookup", help="print HOST<TAB>PLATFORM_ID (or -) for each host")
    lookup.add_argument("hosts", nargs="+", metavar="HOST")
    lookup.set_defaults(handler=_platforms_lookup)

    sensor = commands.add_parser(
        "sensor", help="read DNS, TLS, QUIC and HTTP names from packets (docs/sensor.md)",
        description="Passive sensor. --read prints one JSON line per name read (every device); "
        "--interface captures live and stores events of district devices.",
    )
    _config_arguments(sensor)
    source = sensor.add_mutually_exclusive_group(required=True)
    source.add_argument("--read", nargs="+", metavar="FILE", help="pcap or pcapng files to read")
    source.add_argument("--interface", metavar="IFACE", help="capture live on IFACE (needs CAP_NET_RAW)")
    sensor.add_argument("--store", action="store_true",
                        help="with --read: also send events to storage (--interface always does)")
    sensor.add_argument("--print", dest="print_json", action="store_true",
                        help="with --interface: also print one JSON line per name read")
    sensor.add_argument("--metrics-port", type=int, help="/metrics port, 0 for none (metrics.listen_port)")
    sensor.add_argument(
        "--district-subnet", action="append", metavar="CIDR",
        help="district device subnet, repeatable (proxy.district_subnets)",
    )
    sensor.set_defaults(handler=_sensor)

    deploy = commands.add_parser("deploy", help="files that put the proxy on a network (docs/deploy.md)") \
        .add_subparsers(dest="deploy_command", required=True)
    nftables = deploy.add_parser("nftables", help="print the nftables ruleset of transparent mode (load with nft -f)")
    _config_arguments(nftables)
    nftables.add_argument("--port", type=int, help="the proxy's transparent port (default proxy.listen_port)")
    nftables.set_defaults(handler=_deploy_nftables)
    pac = deploy.add_parser("pac", help="print the proxy auto-config (PAC) file of explicit mode")
    _config_arguments(pac)
    pac.add_argument("--proxy", metavar="HOST:PORT", help="where devices reach the proxy "
                     "(default proxy.listen_host:proxy.listen_port)")
    pac.set_defaults(handler=_deploy_pac)
    wireguard = deploy.add_parser("wireguard-client", help="print the WireGuard client configuration of the proxy's "
                                  "WireGuard mode (docs/deploy.md)")
    _config_arguments(wireguard)
    wireguard.add_argument("--endpoint", required=True, metavar="HOST:PORT",
                           help="where devices reach the appliance's WireGuard port, e.g. vpn.district.example:51820")
    wireguard.add_argument("--conf", metavar="PATH", help="mitmproxy's WireGuard key file "
                           "(default: proxy.confdir/wireguard.conf, written by the proxy's first start in that mode)")
    wireguard.add_argument("--allowed-ips", default="0.0.0.0/0", metavar="CIDRS",
                           help="what the device sends through the tunnel (default 0.0.0.0/0: everything IPv4)")
    wireguard.set_defaults(handler=_deploy_wireguard_client)

    notice = commands.add_parser("notice", help="print the transparency notice (HTML) for students and families")
    _config_arguments(notice)
    notice.add_argument("--lang", default="en", help="language: en, es (default en)")
    notice.set_defaults(handler=_notice)

    review = commands.add_parser("review", help="serve the counselor review application and its alerts "
                                 "(docs/review.md)")
    _config_arguments(review)
    review.add_argument("--port", type=int, help="port (review.listen_port)")
    review.set_defaults(handler=_review)
    review_commands = review.add_subparsers(dest="review_command", metavar="user")
    users = review_commands.add_parser("user", help="local accounts").add_subparsers(dest="user_command", required=True)
    add = users.add_parser("add", help="add or change an account; asks for the password (or --password-stdin)")
    _config_arguments(add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("counselor", "administrator", "it"))
    add.add_argument("--school", action="append", default=[], help="a school the counselor serves (repeatable)")
    add.add_argument("--name", default="", help="full name shown in the application")
    add.add_argument("--email", default="", help="e-mail address")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--no-password", action="store_true", help="no local password (single sign-on only)")
    add.set_defaults(handler=_review_user_add)
    remove = users.add_parser("remove", help="remove an account")
    _config_arguments(remove)
    remove.add_argument("username")
    remove.set_defaults(handler=_review_user_remove)
    listing = users.add_parser("list", help="list accounts (never their password hashes)")
    _config_arguments(listing)
    listing.set_defaults(handler=_review_user_list)

    _ca_parsers(commands)

    doctor = commands.add_parser("doctor", help="check the appliance end to end and say what to fix",
                                 description="One line per check: OK|WARN|FAIL  check: finding; fix: what to do. "
                                 "Exits 1 when a check fails.")
    _config_arguments(doctor)
    doctor.add_argument("--prometheus", metavar="URL",
                        help="Prometheus to ask whether it scrapes socialwatch (metrics.prometheus_url)")
    doctor.set_defaults(handler=_doctor)

    backup = commands.add_parser("backup", help="back up and restore configuration, CA, keys and data "
                                 "(docs/deploy.md)").add_subparsers(dest="backup_command", required=True)
    create = backup.add_parser("create", help="write socialwatch-backup-TIME.tar.gz (mode 0600: it holds the CA key)")
    _config_arguments(create)
    create.add_argument("--out", required=True, metavar="DIR", help="directory of the archives (made 0700)")
    create.add_argument("--keep", type=int, default=0, metavar="N", help="then delete all but the newest N archives")
    create.set_defaults(handler=_backup_create)
    restore = backup.add_parser("restore", help="restore files and tables from an archive (stop the services first)")
    _config_arguments(restore)
    restore.add_argument("archive", metavar="ARCHIVE")
    restore.add_argument("--force", action="store_true", help="replace tables that have rows and files that differ")
    restore.set_defaults(handler=_backup_restore)
    show = backup.add_parser("show", help="list what an archive holds")
    show.add_argument("archive", metavar="ARCHIVE")
    show.set_defaults(handler=_backup_show)

    version = commands.add_parser("version", help="print versions")
    version.set_defaults(handler=_version)
    return parser


def _ca_parsers(commands) -> None:
    from socialwatch.certificates import DEFAULT_DAYS, DEFAULT_OVERLAP_DAYS, KEY_TYPES, PROFILE_IDENTIFIER

    ca = commands.add_parser("ca", help="the proxy's CA certificate for district devices (docs/certificates.md)") \
        .add_subparsers(dest="ca_command", required=True)

    def subcommand(name: str, help: str) -> argparse.ArgumentParser:
        parser = ca.add_parser(name, help=help)
        _config_arguments(parser)
        parser.add_argument("--confdir", metavar="DIR", help="mitmproxy's directory holding the CA (proxy.confdir)")
        parser.set_defaults(handler=_ca)
        return parser

    def new_ca_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--district-name", metavar="NAME", help="the CA is named \"NAME socialwatch CA\" "
                            "(default: the first of district.names short enough)")
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"validity (default {DEFAULT_DAYS})")
        parser.add_argument("--key-type", choices=KEY_TYPES, default="ec",
                            help="ec: ECDSA P-256 (default); rsa: RSA 3072")

    init = subcommand("init", "create the CA in proxy.confdir, in the files mitmproxy loads")
    new_ca_options(init)
    init.add_argument("--force", action="store_true", help="replace an existing CA (kept in previous/)")
    imported = subcommand("import", "install a CA the district supplies (certificate and unencrypted key)")
    imported.add_argument("certificate", metavar="CERT", help="the CA certificate, PEM or DER; a PEM file may "
                          "go on with its issuers, in order")
    imported.add_argument("key", metavar="KEY", help="its private key, PEM or DER, unencrypted")
    imported.add_argument("--force", action="store_true", help="replace an existing CA (kept in previous/)")
    rotate = subcommand("rotate", "prepare the next CA in confdir/next/ for an overlap period")
    new_ca_options(rotate)
    rotate.add_argument("--overlap-days", type=int, default=DEFAULT_OVERLAP_DAYS,
                        help=f"days devices get to receive it before it may be activated (default {DEFAULT_OVERLAP_DAYS})")
    rotate.add_argument("--force", action="store_true", help="replace a next CA already prepared")
    activate = subcommand("activate", "make the next CA the proxy's (the current one is kept in previous/)")
    activate.add_argument("--force", action="store_true", help="activate before the overlap ends")
    export = subcommand("export", "write the CA certificate(s) for device management: PEM, DER, Apple profile")
    export.add_argument("--format", choices=("pem", "der", "mobileconfig", "all"), default="all")
    export.add_argument("--out", required=True, metavar="DIR", help="directory to write to")
    export.add_argument("--profile-identifier", default=PROFILE_IDENTIFIER,
                        help=f"PayloadIdentifier of the Apple profile (default {PROFILE_IDENTIFIER})")
    subcommand("show", "print the CA's subject, SHA-256 fingerprint, expiry and days left")


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="configuration file (TOML); default: built-in defaults")
    parser.add_argument("--storage-url", help="storage URL (storage.url)")


def _config(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {
        "storage.url": args.storage_url,
        "proxy.listen_host": getattr(args, "listen_host", None),
        "proxy.listen_port": getattr(args, "listen_port", None),
        "proxy.district_subnets": getattr(args, "district_subnet", None),
        "metrics.listen_port": getattr(args, "metrics_port", None),
        "proxy.confdir": getattr(args, "confdir", None),
        "review.listen_port": getattr(args, "port", None) if args.handler is _review else getattr(
            args, "review_port", None),
    }
    return load_config(args.config, overrides)


def _run(args: argparse.Namespace) -> int:
    from mitmproxy.tools.main import mitmdump

    from socialwatch.proxy_addons import socialwatch_addon as addon

    config = _config(args)  # validate before the proxy starts
    mitm_args = [
        "--listen-host", config.proxy.listen_host,
        "--listen-port", str(config.proxy.listen_port),
        "--set", f"confdir={config.proxy.confdir}",
        # Never print flows: URLs of students' requests do not belong in the journal.
        "--set", "flow_detail=0",
        "-s", addon.__file__,
    ]
    if args.config:
        mitm_args += ["--set", f"socialwatch_config={args.config}"]
    if args.storage_url:
        mitm_args += ["--set", f"socialwatch_storage_url={args.storage_url}"]
    if args.metrics_port is not None:
        mitm_args += ["--set", f"socialwatch_metrics_port={args.metrics_port}"]
    if args.review_port is not None:
        mitm_args += ["--set", f"socialwatch_review_port={args.review_port}"]
    for subnet in args.district_subnet or []:
        mitm_args += ["--set", f"socialwatch_district_subnets={subnet}"]
    mitm_args += args.mitmproxy_args
    print(
        f"socialwatch: proxy on {config.proxy.listen_host}:{config.proxy.listen_port}; "
        f"CA certificate for district devices: {config.proxy.confdir.expanduser() / 'mitmproxy-ca-cert.pem'}",
        file=sys.stderr, flush=True,
    )
    mitmdump(mitm_args)
    return 0


def _db_migrate(args: argparse.Namespace) -> int:
    from socialwatch.storage import open_storage, redact_url

    config = _config(args)
    storage = open_storage(config.storage.url)
    try:
        applied = storage.migrate()
    finally:
        storage.close()
    print(f"{redact_url(config.storage.url)}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))
    return 0


def _db_retention(args: argparse.Namespace) -> int:
    import datetime

    from socialwatch.storage import open_storage, redact_url
    from socialwatch.storage.retention import apply_retention, retention_plan

    config = _config(args)
    storage = open_storage(config.storage.url)
    try:
        plan = retention_plan(storage, config.retention.days_by_kind(), datetime.datetime.now(datetime.timezone.utc))
        if not args.dry_run:
            apply_retention(storage, plan)
    finally:
        storage.close()
    verb = "would apply" if args.dry_run else "applied"
    print(f"{redact_url(config.storage.url)}: retention {verb} {len(plan)} step(s)")
    for step in plan:
        print(f"  {'(dry run) ' if args.dry_run else ''}{step}")
    return 0


def _db_repair_rollups(args: argparse.Namespace) -> int:
    from socialwatch.storage import open_storage, redact_url
    from socialwatch.storage.rollup_repair import repair_rollups

    config = _config(args)
    storage = open_storage(config.storage.url)
    try:
        repairs, busy = repair_rollups(storage, settle=args.settle)
    finally:
        storage.close()
    print(f"{redact_url(config.storage.url)}: {len(repairs)} rollup row(s) repaired")
    for repair in repairs:
        print(f"  {repair}")
    for hour in busy:
        print(f"  {hour:%Y-%m-%d %H:00} left for the next run: its counts moved while read")
    return 0


def _db_status(args: argparse.Namespace) -> int:
    from socialwatch.storage import open_storage, redact_url

    config = _config(args)
    storage = open_storage(config.storage.url)
    try:
        version, pending = storage.schema_status()
        features = storage.server_features()
    finally:
        storage.close()
    print(f"{redact_url(config.storage.url)}: schema version {version}")
    print(f"server features: {', '.join(sorted(features)) or 'none'}")
    for name in pending:
        print(f"pending: {name}")
    return 0


def _load_classifier(args: argparse.Namespace):
    from socialwatch.pipeline import load_classifier

    return load_classifier(_config(args))


def _classify(args: argparse.Namespace) -> int:
    from socialwatch.classifier.jsonl import classify_lines, classify_texts

    classifier = _load_classifier(args)
    if args.text:
        return classify_texts(classifier, args.text, sys.stdout, age_band=args.age_band)
    return classify_lines(classifier, sys.stdin, sys.stdout, sys.stderr, age_band=args.age_band)


def _eval(args: argparse.Namespace) -> int:
    from socialwatch.classifier.evaluate import main as evaluate

    return evaluate(_load_classifier(args), args.data, args.sets, args.limit, args.examples)


def _coverage(args: argparse.Namespace) -> int:
    from socialwatch.classifier.coverage import main as coverage

    return coverage(_load_classifier(args), args.reference, args.uncovered)


def _platforms_lookup(args: argparse.Namespace) -> int:
    from socialwatch.proxy_addons.catalog import Catalog

    catalog = Catalog.load()
    for host in args.hosts:
        print(f"{host}\t{catalog.platform_for(host) or '-'}")
    return 0


def _sensor(args: argparse.Namespace) -> int:
    from socialwatch.proxy_addons.sensor import command

    config = _config(args)
    return command.run(
        config, read=args.read or [], interface=args.interface, store=args.store or bool(args.interface),
        print_json=bool(args.read) or args.print_json,
    )


def _deploy_nftables(args: argparse.Namespace) -> int:
    from socialwatch.deploy import nftables_ruleset

    sys.stdout.write(nftables_ruleset(_config(args), args.port))
    return 0


def _deploy_pac(args: argparse.Namespace) -> int:
    from socialwatch.deploy import PacError, pac_file

    try:
        sys.stdout.write(pac_file(_config(args), args.proxy))
    except PacError as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 2
    return 0


def _notice(args: argparse.Namespace) -> int:
    from socialwatch.dashboards.notice import render_notice

    try:
        print(render_notice(_config(args), args.lang))
    except ValueError as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 2
    return 0


def _review(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    import prometheus_client

    from socialwatch.dashboards.review.server import ReviewServer
    from socialwatch.storage import open_storage, redact_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = _config(args)
    storage = open_storage(config.storage.url)
    stopped = threading.Event()
    try:
        storage.migrate()
        server = ReviewServer(storage, config, registry=prometheus_client.REGISTRY)
        server.start()
        print(f"socialwatch review: http://{config.review.listen_host}:{server.port}/ on "
              f"{redact_url(config.storage.url)}", file=sys.stderr, flush=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopped.set())
        stopped.wait()
        server.stop()
    finally:
        storage.close()
    return 0


def _accounts(args: argparse.Namespace):
    from socialwatch.dashboards.review.accounts import AccountStore

    return AccountStore(_config(args).review.accounts_file)


def _review_user_add(args: argparse.Namespace) -> int:
    import getpass

    from socialwatch.dashboards.review.accounts import Account, AccountError

    password = None
    if not args.no_password:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    try:
        account = _accounts(args).put(Account(args.username.lower(), args.role, tuple(args.school), args.name,
                                              args.email), password)
    except AccountError as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 2
    print(f"{account.username}: {account.role}" + (f" of {', '.join(account.schools)}" if account.schools else ""))
    return 0


def _review_user_remove(args: argparse.Namespace) -> int:
    if not _accounts(args).remove(args.username.lower()):
        print(f"socialwatch: no account {args.username!r}", file=sys.stderr)
        return 1
    return 0


def _review_user_list(args: argparse.Namespace) -> int:
    for account in _accounts(args).all():
        password = "password" if account.password_hash else "single sign-on only"
        print(f"{account.username}\t{account.role}\t{', '.join(account.schools) or '*'}\t{password}")
    return 0


def _ca(args: argparse.Namespace) -> int:
    from socialwatch.certificates import command

    return command(args, _config(args))


def _doctor(args: argparse.Namespace) -> int:
    from socialwatch.doctor import main as doctor

    return doctor(args.config, {"storage.url": args.storage_url}, args.prometheus)


def _deploy_wireguard_client(args: argparse.Namespace) -> int:
    from socialwatch.deploy import (
        WIREGUARD_CLIENT_ADDRESS,
        WireGuardError,
        wireguard_address_monitored,
        wireguard_client_conf,
    )

    config = _config(args)
    try:
        sys.stdout.write(wireguard_client_conf(config, args.endpoint, args.conf, args.allowed_ips))
    except WireGuardError as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 2
    if not wireguard_address_monitored(config):
        print(f"socialwatch: warning: WireGuard clients reach the proxy from {WIREGUARD_CLIENT_ADDRESS}, which is "
              "not in proxy.district_subnets: their traffic would pass unrecorded", file=sys.stderr)
    return 0


def _backup_create(args: argparse.Namespace) -> int:
    import pathlib

    from socialwatch import backup
    from socialwatch.storage import StorageError

    try:
        path = backup.create(_config(args), args.config, pathlib.Path(args.out), storage_url=args.storage_url,
                             keep=args.keep)
    except (backup.BackupError, StorageError) as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 1
    print(path)
    print(backup.WARNING, file=sys.stderr)
    return 0


def _backup_restore(args: argparse.Namespace) -> int:
    import pathlib

    from socialwatch import backup
    from socialwatch.storage import StorageError

    try:
        backup.restore(pathlib.Path(args.archive), _config(args), args.config, storage_url=args.storage_url,
                       force=args.force)
    except (backup.BackupError, StorageError, OSError) as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 1
    return 0


def _backup_show(args: argparse.Namespace) -> int:
    import pathlib

    from socialwatch import backup

    try:
        backup.show(pathlib.Path(args.archive))
    except (backup.BackupError, OSError) as e:
        print(f"socialwatch: {e}", file=sys.stderr)
        return 1
    return 0


def _version(args: argparse.Namespace) -> int:
    parts = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("mitmproxy", "pyahocorasick", "clickhouse-driver", "chdb", "prometheus-client")
    )
    print(f"socialwatch {__version__} ({parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
