"""A running review application over a real ClickHouse database, with four accounts and seeded flags.

    site = start_review_site(store, tmp_path)
    flag_id = site.seed("you are such a loser, nobody likes you", school=NORTH)
    client = site.client("north")            # httpx client, signed in as the North High counselor
"""

from __future__ import annotations

import dataclasses
import functools
import datetime
import re
import tempfile
import uuid
from pathlib import Path

import httpx

from socialwatch.classifier import Classifier
from socialwatch.config import load_config
from socialwatch.dashboards.review.accounts import Account, AccountStore
from socialwatch.dashboards.review.server import ReviewServer
from socialwatch.events import ActivityEvent
from socialwatch.proxy_addons.identity import Pseudonyms
from socialwatch.storage import Storage
from socialwatch.storage.backend import flag_id as make_flag_id

from .processes import free_port

NORTH = "North High"
SOUTH = "South Middle"
PASSWORD = "correct horse battery staple"
ACCOUNTS = {
    "north": Account("north", "counselor", (NORTH,), "Nora North", "north@district.example"),
    "south": Account("south", "counselor", (SOUTH,), "Sam South", "south@district.example"),
    "admin": Account("admin", "administrator", (), "Ada Admin", "admin@district.example"),
    "itstaff": Account("itstaff", "it", (), "Ivan IT", "it@district.example"),
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROSTER = Path(__file__).parent.parent / "fixtures" / "identity" / "oneroster"

_classifier: Classifier | None = None


def classifier() -> Classifier:
    global _classifier
    if _classifier is None:
        _classifier = Classifier.load()
    return _classifier


@dataclasses.dataclass
class ReviewSite:
    url: str
    store: Storage
    server: ReviewServer
    workdir: Path
    pseudonyms: Pseudonyms

    def seed(self, text: str, *, school: str = NORTH, device: str = "10.1.0.10", person: str = "u-1001",
             platform: str = "instagram", action: str = "comment", when: datetime.datetime | None = None,
             category: str | None = None) -> str:
        """Classify `text` with the real classifier and store the event and its flags; the id of the
        flag of `category` (default: the first). `person` is a roster id, stored as its pseudonym."""
        when = when or datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        flags = classifier().classify(text)
        assert flags, f"the classifier does not flag {text!r}"
        event = ActivityEvent(
            event_id=uuid.uuid4(), time=when, device=device, person=self.pseudonyms.of(person) if person else "",
            platform=platform, host=f"www.{platform}.com", method="POST", path="/api/comment", action=action,
            status=200, request_bytes=len(text), response_bytes=2, source="proxy", protocol="https",
            school=school, age_band="13_17", text=classifier().redact(text))
        self.store.write([(event, flags)])
        chosen = next(f for f in flags if category in (None, f.category))
        return str(make_flag_id(event.event_id, chosen.category))

    def activity(self, *, device: str, when: datetime.datetime, platform: str = "tiktok", action: str = "view",
                 school: str = NORTH) -> None:
        """An unflagged event (metadata only) of the device."""
        event = ActivityEvent(
            event_id=uuid.uuid4(), time=when, device=device, person="", platform=platform,
            host=f"www.{platform}.com", method="GET", path="/", action=action, status=200, request_bytes=0,
            response_bytes=10, source="proxy", protocol="https", school=school, age_band="13_17")
        self.store.write([(event, [])])

    def client(self, username: str | None = None) -> httpx.Client:
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)
        if username:
            sign_in(client, username)
        return client

    def audit(self, actor: str, action: str) -> list[dict]:
        return self.store.query(
            "SELECT object, detail FROM {database}.audit_log FINAL WHERE actor = {a:String} AND action = {b:String}"
            " ORDER BY time", {"a": actor, "b": action})

    def stop(self) -> None:
        self.server.stop()


def loopback_client(url: str) -> httpx.Client:
    """An httpx client for an application with Secure session cookies on http://127.0.0.1, which browsers
    treat as secure and httpx does not: Set-Cookie values are kept as plain cookies."""

    def keep(response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            client.cookies.set(name, rest.split(";", 1)[0])

    client = httpx.Client(base_url=url, follow_redirects=False, timeout=10, event_hooks={"response": [keep]})
    return client


def csrf_token(client: httpx.Client, path: str = "/sign-in") -> str:
    return CSRF.search(client.get(path).text).group(1)


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_token(client)
    response = client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.text
    return response


@functools.cache
def _accounts_json() -> str:
    """The four accounts, hashed once per test run (argon2id at its production cost takes a while)."""
    with tempfile.TemporaryDirectory() as directory:
        accounts = AccountStore(Path(directory) / "accounts.json")
        for account in ACCOUNTS.values():
            accounts.put(account, PASSWORD)
        return accounts.path.read_text()


def start_review_site(store: Storage, workdir: Path, *, secure_cookies: bool = False, **settings) -> ReviewSite:
    """The review application on a free port, over `store` (migrated), with the four ACCOUNTS."""
    store.migrate()
    port = free_port()
    key = workdir / "pseudonym.key"
    review = {"listen_port": port, "base_url": f"http://127.0.0.1:{port}", "secure_cookies": secure_cookies,
              "accounts_file": str(workdir / "accounts.json"), "secret_key_file": str(workdir / "secret.key"),
              **settings.pop("review", {})}
    config = load_config(None, {"storage.url": "clickhouse://unused", "review": review,
                                "identity.pseudonym_key_file": str(key), "identity.roster_dir": str(ROSTER),
                                **settings})
    accounts_file = config.review.accounts_file
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    accounts_file.write_text(_accounts_json())
    accounts_file.chmod(0o600)
    server = ReviewServer(store, config)
    server.start()
    return ReviewSite(f"http://127.0.0.1:{server.port}", store, server, workdir, Pseudonyms(key))
