"""The platform catalog: host name -> platform id, from the data file platforms.toml."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

CATALOG_FILE = pathlib.Path(__file__).with_name("platforms.toml")


@dataclasses.dataclass(frozen=True, slots=True)
class Platform:
    id: str
    """Short lowercase id used in events, metrics and configuration."""
    name: str
    """Display name."""
    domains: tuple[str, ...]
    """Domain suffixes matched on a label boundary."""


class Catalog:
    """Maps host names to platforms by domain suffix on label boundaries.

    >>> catalog = Catalog.load()
    >>> catalog.platform_for("www.instagram.com")
    'instagram'
    >>> catalog.platform_for("notinstagram.com") is None
    True
    """

    def __init__(self, platforms: list[Platform]):
        self.platforms = {p.id: p for p in platforms}
        self._by_domain: dict[str, str] = {}
        for platform in platforms:
            for domain in platform.domains:
                owner = self._by_domain.setdefault(domain, platform.id)
                if owner != platform.id:
                    raise ValueError(f"domain {domain!r} is listed for both {owner!r} and {platform.id!r}")

    @classmethod
    def load(cls, path: pathlib.Path = CATALOG_FILE) -> Catalog:
        with path.open("rb") as f:
            data = tomllib.load(f)
        return cls([
            Platform(id=p["id"], name=p["name"], domains=tuple(d.lower() for d in p["domains"]))
            for p in data["platform"]
        ])

    def platform_for(self, host: str) -> str | None:
        """The platform id of `host`, or None. The longest listed suffix wins."""
        labels = host.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            platform = self._by_domain.get(".".join(labels[i:]))
            if platform is not None:
                return platform
        return None
