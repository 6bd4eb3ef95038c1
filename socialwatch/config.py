"""Configuration: one TOML file, validated at start-up, overridable from the command line.

Every key is documented here (the field descriptions) and in docs/configuration.md.
A wrong key or value is reported with its dotted name, e.g. ``proxy.listen_port``.
"""

from __future__ import annotations

import ipaddress
import pathlib
import tomllib
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]


class ConfigError(Exception):
    """The configuration is invalid; the message names the file and the bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProxyConfig(_Section):
    listen_host: str = Field("127.0.0.1", description="Address the proxy listens on.")
    listen_port: int = Field(8080, ge=1, le=65535, description="Port the proxy listens on.")
    district_subnets: tuple[pydantic.IPvAnyNetwork, ...] = Field(
        tuple(ipaddress.ip_network(n) for n in PRIVATE_NETWORKS),
        description="Client networks of district devices. Only their social-media traffic is "
        "decrypted and recorded; every other connection passes through untouched.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=64 * 1_048_576,
        description="Largest request body (on the wire and after decompression) read for text. "
        "Larger bodies are skipped and counted.",
    )
    forum_hosts: tuple[str, ...] = Field(
        (), description="Forums on hosts of their own (a school's Discourse, a club's phpBB) to decrypt and "
        "recognise by request shape; plain-HTTP forums are recognised without being listed.",
    )
    pinned_client_ttl_seconds: float = Field(
        86_400, gt=0,
        description="How long a device that refused the proxy's certificate for a host (a pinned app) "
        "gets that host passed through undecrypted.",
    )
    confdir: pathlib.Path = Field(
        pathlib.Path("~/.socialwatch/mitmproxy"),
        description="mitmproxy's directory: the proxy's CA certificate and key live here.",
    )


class StorageConfig(_Section):
    url: str = Field(
        "chdb:var/socialwatch.chdb",
        description="Where events go: 'chdb:PATH' (embedded, no server) or "
        "'clickhouse://USER:PASSWORD@HOST:PORT/DATABASE' (ClickHouse server, native protocol).",
    )

    @pydantic.field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("chdb:", "clickhouse://")):
            raise ValueError("must start with 'chdb:' or 'clickhouse://'")
        return url

    queue_size: int = Field(10_000, ge=1, description="Events held in memory between the proxy and the writer.")
    batch_size: int = Field(500, ge=1, description="Most events written in one insert.")
    flush_interval_seconds: float = Field(
        1.0, gt=0, le=60, description="Longest an event waits in a partial batch before it is written."
    )
    writer: Literal["thread", "process"] = Field(
        "thread",
        description="Where events are classified and written: 'thread' (in the proxy's process) or 'process' "
        "(a writer process of its own, so that the proxy's single-threaded event loop keeps its core; "
        "needs a 'clickhouse://' url: the embedded store opens in one process only).",
    )
    writer_cpus: tuple[Annotated[int, Field(ge=0)], ...] = Field(
        (), description="CPUs the writer process runs on, e.g. [1, 2, 3] with the proxy on CPU 0; "
        "empty: the proxy's own.",
    )

    @pydantic.model_validator(mode="after")
    def _process_writer_needs_server(self) -> StorageConfig:
        if self.writer == "process" and not self.url.startswith("clickhouse://"):
            raise ValueError("writer = 'process' needs a 'clickhouse://' url (the embedded store opens in one "
                             "process only)")
        return self


class ClassifierConfig(_Section):
    lexicon_dir: pathlib.Path | None = Field(
        None, description="Directory of lexicon CSV files; empty for the lexicons socialwatch ships."
    )
    threshold: float = Field(1.0, gt=0, description="Score a category must reach to raise a flag.")
    thresholds: dict[Literal["bullying", "self_harm", "violence", "impersonation", "pii"],
                     Annotated[float, Field(gt=0)]] = Field(
        {}, description="Threshold per category, overriding 'threshold', e.g. {self_harm = 0.8}.")
    age_band_thresholds: dict[str, dict[Literal["bullying", "self_harm", "violence", "impersonation", "pii"],
                                        Annotated[float, Field(gt=0)]]] = Field(
        {}, description="Thresholds per age band and category, e.g. {elementary = {bullying = 0.8}}; "
        "used when a text is classified for that age band.")
    phone_region: str = Field(
        "US", pattern="^[A-Z]{2}$", description="Region (ISO 3166 code) of phone numbers written without '+'.")
    suppressions_file: pathlib.Path | None = Field(
        None, description="CSV of accepted suppressions, appended by the review application when an "
        "administrator accepts a false-positive proposal; empty: none.")

    @pydantic.field_validator("suppressions_file", mode="before")
    @classmethod
    def _no_suppressions_file(cls, value: object) -> object:
        return None if value == "" else value


class SpoolConfig(_Section):
    directory: pathlib.Path | None = Field(
        pathlib.Path("var/socialwatch.spool"),
        description="Directory of the on-disk spool that keeps batches storage could not take, "
        "replayed in order when it is back. Empty: no spool (the writer retries in memory only).",
    )

    @pydantic.field_validator("directory", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    max_bytes: int = Field(
        1024 * 1_048_576, ge=65536,
        description="Most bytes the spool's segment files may hold; past it batches are dropped, "
        "counted and logged as errors.",
    )
    fsync: Literal["always", "never"] = Field(
        "always", description="'always': every spooled batch is on disk before the writer goes on; "
        "'never': leave write-back to the kernel (a power cut may lose the last seconds).",
    )
    retries_before_spooling: int = Field(
        3, ge=0, le=20, description="Failed insert attempts (0.5 s, 1 s, 2 s, ... apart) before a batch is spooled.",
    )


class IdentityConfig(_Section):
    pseudonym_key_file: pathlib.Path = Field(
        pathlib.Path("var/pseudonym.key"),
        description="Key of the pseudonymous person ids (created with mode 0600 on first start). "
        "Keep it with the appliance's backups: a new key gives everyone new ids.",
    )
    dhcpd_leases: pathlib.Path | None = Field(None, description="ISC dhcpd lease file, e.g. /var/lib/dhcp/dhcpd.leases.")
    kea_leases: pathlib.Path | None = Field(None, description="Kea lease CSV, e.g. /var/lib/kea/kea-leases4.csv.")
    inventory_file: pathlib.Path | None = Field(
        None, description="Device inventory CSV: mac,ip,hostname,asset_tag,assigned_user.")
    roster_dir: pathlib.Path | None = Field(
        None, description="Directory of a OneRoster 1.1 CSV export (users.csv, orgs.csv).")


class DistrictConfig(_Section):
    names: tuple[str, ...] = Field(
        ("Essex North Shore Agricultural & Technical School District",
         "Essex North Shore Agricultural and Technical School District",
         "Essex North Shore Agricultural & Technical High School", "ENSATSD", "Essex Tech"),
        description="The district's names and abbreviations, as people write them.",
    )
    email_domains: tuple[str, ...] = Field(("essextech.net",), description="The district's e-mail domains.")
    contact: str = Field(
        "the school's counseling office or the district's IT department",
        description="Who students and families ask about monitoring (shown in the transparency notice).",
    )
    approved_accounts_file: pathlib.Path | None = Field(
        None, description="The approved-accounts registry CSV: platform,handle,owner,approved_on.")


class RetentionConfig(_Section):
    activity_days: int = Field(
        90, ge=1, le=36500, description="Days the activity metadata (events table) is kept.",
    )
    flagged_content_days: int = Field(
        365, ge=1, le=36500, description="Days flags and the flagged text (flags table) are kept.",
    )
    professional_activity_days: int = Field(
        2555, ge=1, le=36500,
        description="Days the activity metadata of district staff and of approved district accounts "
        "(events with professional = 1) is kept: public records under the procedure.",
    )

    review_days: int = Field(
        2555, ge=1, le=36500,
        description="Days review actions and alert deliveries (review_actions and alerts tables) are kept.",
    )
    audit_days: int = Field(
        2555, ge=1, le=36500, description="Days the audit log (audit_log table) is kept.",
    )

    def days_by_kind(self) -> dict[str, int]:
        """Days per kind of record of storage/retention.py."""
        return {"events": self.activity_days, "events_professional": self.professional_activity_days,
                "flags": self.flagged_content_days, "review_actions": self.review_days,
                "audit_log": self.audit_days, "alerts": self.review_days}


class MetricsConfig(_Section):
    listen_host: str = Field("127.0.0.1", description="Address of the Prometheus /metrics endpoint.")
    listen_port: int = Field(9464, ge=0, le=65535, description="Port of the /metrics endpoint; 0 turns it off.")
    prometheus_url: str = Field(
        "", pattern=r"^(https?://\S+)?$",
        description="The Prometheus that scrapes this appliance, e.g. http://127.0.0.1:9090: 'socialwatch doctor' "
        "asks it whether the socialwatch targets are up. Empty: not asked (unless doctor --prometheus).",
    )


class ReviewConfig(_Section):
    listen_host: str = Field("127.0.0.1", description="Address the review application listens on.")
    listen_port: int = Field(8090, ge=1, le=65535, description="Port of the review application.")
    with_proxy: bool = Field(
        True, description="Serve the review application (and alerts) inside 'socialwatch run' when storage is "
        "embedded (chdb: only one process can open it); with a ClickHouse server run 'socialwatch review'.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8090",
        description="The address counselors open (behind the district's TLS reverse proxy, e.g. "
        "https://review.district.example); alert links point here.",
    )
    accounts_file: pathlib.Path = Field(
        pathlib.Path("var/review-accounts.json"),
        description="Local accounts (argon2 password hashes, role, schools); managed with "
        "'socialwatch review user ...'.",
    )
    secret_key_file: pathlib.Path = Field(
        pathlib.Path("var/review-secret.key"),
        description="Key that signs session cookies and CSRF tokens (created with mode 0600 on first start).",
    )
    secure_cookies: bool = Field(
        True, description="Send the session cookie only over HTTPS (keep on; browsers treat "
        "http://127.0.0.1 as secure for testing).",
    )
    session_minutes: int = Field(480, ge=5, le=1440, description="How long a sign-in lasts.")
    sign_in_limit: str = Field(
        "5 per minute", description="Sign-in attempts allowed per client address (Flask-Limiter syntax).")
    trusted_header: str = Field(
        "", description="Header set by the district's single-sign-on reverse proxy with the signed-in "
        "account name, e.g. X-Remote-User; empty: local passwords only.",
    )
    trusted_proxies: tuple[pydantic.IPvAnyAddress, ...] = Field(
        (), description="Addresses of the reverse proxies whose trusted_header is believed.")
    duplicate_window_minutes: int = Field(
        60, ge=1, le=1440,
        description="Flags with the same category and phrases within this window are one queue item "
        "(a class assignment, a viral post).",
    )
    context_minutes: int = Field(
        30, ge=1, le=1440, description="The device's other activity shown around a flag: this many minutes "
        "before and after.",
    )


class OnCallContact(_Section):
    name: str = Field(description="Who this is, for the alert log (the alerts table's contact for webhooks).")
    email: str = Field("", description="E-mail address notified.")
    webhook: str = Field("", description="http(s) URL receiving a JSON POST (chat or paging system); "
                         "never logged or stored, since such URLs often carry a token.")

    @pydantic.model_validator(mode="after")
    def _has_a_channel(self) -> OnCallContact:
        if not self.email and not self.webhook:
            raise ValueError("give an email, a webhook or both")
        if self.webhook and not self.webhook.startswith(("http://", "https://")):
            raise ValueError("webhook must be an http:// or https:// URL")
        return self


class OnCallList(_Section):
    school: str = Field(description="School name as in the roster; '*' for every school without its own list.")
    contacts: tuple[OnCallContact, ...] = Field(description="Notified in order until one acknowledges.")


class AlertsConfig(_Section):
    enabled: bool = Field(False, description="Send alerts for the highest-severity flags.")
    min_severity: Literal["low", "medium", "high", "critical"] = Field(
        "critical", description="Flags of this severity or higher are alerted on.")
    subcategories: tuple[str, ...] = Field(
        ("self_harm/active_planning", "violence/threat", "violence/planning"),
        description="Flags with a match of one of these category/subcategory pairs are alerted on "
        "whatever their severity.",
    )
    acknowledge_minutes: float = Field(
        10, gt=0, description="Minutes a contact has to acknowledge before the next contact is notified.")
    poll_seconds: float = Field(2, gt=0, le=60, description="How often new flags are looked for.")
    smtp_host: str = Field("localhost", description="SMTP server.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port (587 with starttls).")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_user: str = Field("", description="SMTP user; empty: no authentication.")
    smtp_password_file: pathlib.Path | None = Field(
        None, description="File holding the SMTP password (read at each connection, never logged).")
    sender: str = Field("socialwatch@localhost", description="From address of alert e-mail.")
    on_call: tuple[OnCallList, ...] = Field(
        (), description="On-call lists, per school: a flag goes to its school's list, else to the '*' list.")


class Config(_Section):
    proxy: ProxyConfig = ProxyConfig()
    storage: StorageConfig = StorageConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    spool: SpoolConfig = SpoolConfig()
    retention: RetentionConfig = RetentionConfig()
    identity: IdentityConfig = IdentityConfig()
    district: DistrictConfig = DistrictConfig()
    metrics: MetricsConfig = MetricsConfig()
    review: ReviewConfig = ReviewConfig()
    alerts: AlertsConfig = AlertsConfig()


def load_config(path: pathlib.Path | str | None, overrides: dict[str, Any] | None = None) -> Config:
    """Read `path` (None: defaults only), apply dotted-key `overrides`, validate.

    >>> load_config(None, {"proxy.listen_port": 8081}).proxy.listen_port
    8081
    """
    data: dict[str, Any] = {}
    source = "options"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"{source}: cannot read configuration: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{source}: not valid TOML: {e}") from None
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        *sections, key = dotted.split(".")
        node = data
        for section in sections:
            node = node.setdefault(section, {})
        node[key] = value
    try:
        return Config.model_validate(data)
    except pydantic.ValidationError as e:
        raise ConfigError(f"{source}: invalid configuration:\n{_describe(e)}") from None


SECRET_KEYS = frozenset({"storage.url"})
"""Keys whose values may hold a password: an error never repeats their value."""


def _describe(error: pydantic.ValidationError) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        elif key in SECRET_KEYS:
            lines.append(f"  {key}: {problem['msg']}")
        else:
            lines.append(f"  {key}: {problem['msg']} (got {problem.get('input')!r})")
    return "\n".join(lines)
