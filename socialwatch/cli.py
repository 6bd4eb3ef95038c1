"""The `socialwatch` command.

    socialwatch run         the proxy with classifier, storage and metrics (one process)
    socialwatch db migrate  bring the storage schema up to date
    socialwatch db status   show the schema version and pending migrations
    socialwatch classify    classify text given as arguments or on standard input
    socialwatch platforms lookup HOST...   which platform each host belongs to
    socialwatch version     print versions

Every subcommand reads the same configuration file (--config); the options
given on the command line override its keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
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

    classify = commands.add_parser("classify", help="classify text; prints one JSON line per input")
    _config_arguments(classify)
    classify.add_argument("text", nargs="*", help="texts to classify; none: one text per line of standard input")
    classify.set_defaults(handler=_classify)

    platforms = commands.add_parser("platforms", help="the platform catalog").add_subparsers(
        dest="platforms_command", required=True)
    lookup = platforms.add_parser("lookup", help="print HOST<TAB>PLATFORM_ID (or -) for each host")
    lookup.add_argument("hosts", nargs="+", metavar="HOST")
    lookup.set_defaults(handler=_platforms_lookup)

    version = commands.add_parser("version", help="print versions")
    version.set_defaults(handler=_version)
    return parser


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


def _db_status(args: argparse.Namespace) -> int:
    from socialwatch.storage import open_storage, redact_url

    config = _config(args)
    storage = open_storage(config.storage.url)
    try:
        version, pending = storage.schema_status()
    finally:
        storage.close()
    print(f"{redact_url(config.storage.url)}: schema version {version}")
    for name in pending:
        print(f"pending: {name}")
    return 0


def _classify(args: argparse.Namespace) -> int:
    from socialwatch.classifier import Classifier

    config = _config(args)
    classifier = Classifier.load(config.classifier.lexicon_dir, threshold=config.classifier.threshold)
    texts = args.text or (line.rstrip("\n") for line in sys.stdin)
    for text in texts:
        flags = classifier.classify(text)
        print(json.dumps({"text": text, "flags": [dataclasses.asdict(flag) for flag in flags]}, ensure_ascii=False))
    return 0


def _platforms_lookup(args: argparse.Namespace) -> int:
    from socialwatch.proxy_addons.catalog import Catalog

    catalog = Catalog.load()
    for host in args.hosts:
        print(f"{host}\t{catalog.platform_for(host) or '-'}")
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
