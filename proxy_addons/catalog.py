"""The platform catalog: host name -> platform, from the data file platforms.toml."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

from publicsuffixlist import PublicSuffixList

CATALOG_FILE = pathlib.Path(__file__).with_name("platforms.toml")

CATEGORIES = ("social", "blog", "forum", "file_sharing", "piracy")
INTERCEPTED_CATEGORIES = frozenset({"social", "blog", "forum"})
"""Where students' words travel: only these platforms' web and API hosts are decrypted."""
LOOKUP_CACHE_MAX = 65_536
"""Most host names whose lookup is remembered; the memory is emptied when it is full."""


@dataclasses.dataclass(frozen=True, slots=True)
class Platform:
    id: str
    """Short lowercase id used in events, metrics and configuration."""
    name: str
    """Display name."""
    category: str
    """One of CATEGORIES."""
    domains: tuple[str, ...] = ()
    """Web and API host suffixes, matched on label boundaries."""
    media: tuple[str, ...] = ()
    """CDN and media host suffixes: recorded from the server name, never decrypted."""
    brands: tuple[str, ...] = ()
    """Registrable names matched under any public suffix (``instagram`` -> instagram.de)."""
    prefixes: tuple[str, ...] = ()
    """Host name prefixes of CDN host families (media)."""
    min_age: int = 13
    """Youngest age the platform is made for (its terms; COPPA); 0 for made for children."""


@dataclasses.dataclass(frozen=True, slots=True)
class HostMatch:
    platform: str
    """The platform id."""
    category: str
    """The platform's category."""
    media: bool
    """True for a CDN or media host."""

    @property
    def intercept(self) -> bool:
        """Whether the proxy decrypts connections to this host (words travel here)."""
        return not self.media and self.category in INTERCEPTED_CATEGORIES


class Catalog:
    """Maps host names to platforms.

    >>> catalog = Catalog.load()
    >>> catalog.platform_for("www.instagram.com")
    'instagram'
    >>> catalog.lookup("scontent.cdninstagram.com")
    HostMatch(platform='instagram', category='social', media=True)
    >>> catalog.platform_for("notinstagram.com") is None
    True
    """

    def __init__(self, platforms: list[Platform]):
        self.platforms = {p.id: p for p in platforms}
        self._suffixes: dict[str, HostMatch] = {}
        self._brands: dict[str, HostMatch] = {}
        self._prefixes: list[tuple[str, HostMatch]] = []
        for p in platforms:
            if p.category not in CATEGORIES:
                raise ValueError(f"platform {p.id!r}: unknown category {p.category!r}")
            for domains, media in ((p.domains, False), (p.media, True)):
                for domain in domains:
                    _claim(self._suffixes, domain, HostMatch(p.id, p.category, media))
            for brand in p.brands:
                _claim(self._brands, brand, HostMatch(p.id, p.category, False))
            self._prefixes += [(prefix, HostMatch(p.id, p.category, True)) for prefix in p.prefixes]
        # Only ICANN suffixes: "instagram.github.io" is somebody's page, not Instagram.
        self._psl = PublicSuffixList(only_icann=True)
        self._lookups: dict[str, HostMatch | None] = {}

    @classmethod
    def load(cls, path: pathlib.Path = CATALOG_FILE) -> Catalog:
        with path.open("rb") as f:
            data = tomllib.load(f)
        return cls([
            Platform(
                id=p["id"], name=p["name"], category=p["category"], min_age=p.get("min_age", 13),
                **{key: tuple(v.lower() for v in p.get(key, ())) for key in ("domains", "media", "brands", "prefixes")},
            )
            for p in data["platform"]
        ])

    def lookup(self, host: str) -> HostMatch | None:
        """The platform `host` belongs to, or None (remembered per host name: the proxy asks at
        every request and connection, and the public-suffix walk is the costly part)."""
        try:
            return self._lookups[host]
        except KeyError:
            pass
        if len(self._lookups) >= LOOKUP_CACHE_MAX:
            self._lookups.clear()  # bounded: hostile clients may send any number of names
        match = self._lookups[host] = self._lookup(host)
        return match

    def _lookup(self, host: str) -> HostMatch | None:
        host = host.lower().rstrip(".")
        labels = host.split(".")
        for i in range(len(labels)):
            match = self._suffixes.get(".".join(labels[i:]))
            if match is not None:
                return match
        registrable = self._psl.privatesuffix(host)
        if registrable is not None:
            match = self._brands.get(registrable.split(".", 1)[0])
            if match is not None:
                return match
        for prefix, match in self._prefixes:
            if host.startswith(prefix):
                return match
        return None

    def platform_for(self, host: str) -> str | None:
        """The platform id of `host`, or None."""
        match = self.lookup(host)
        return match.platform if match else None


def _claim(table: dict[str, HostMatch], key: str, match: HostMatch) -> None:
    owner = table.setdefault(key, match)
    if owner != match:
        raise ValueError(f"{key!r} is listed for both {owner.platform!r} and {match.platform!r}")
