"""What the proxy may look at: social-media traffic from district devices, nothing else."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable

from socialwatch.proxy_addons.catalog import Catalog, HostMatch

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DISTRICT_CACHE_MAX = 65_536
"""Most client addresses whose district membership is remembered; emptied when full."""


@dataclasses.dataclass(frozen=True, slots=True)
class TlsDecision:
    """What to do with a TLS connection, decided at its ClientHello."""

    passthrough_reason: str | None
    """None to decrypt; else why not: not_district, no_sni, not_social, media, file_sharing, piracy, pinned."""
    match: HostMatch | None
    """The catalog entry of the server name, when it is from a district device and in the catalog."""

    @property
    def record_metadata(self) -> bool:
        """A passed-through connection to a catalog host is still recorded, from its server name."""
        return self.passthrough_reason is not None and self.match is not None


class DistrictScope:
    """District subnets plus the platform catalog.

    >>> scope = DistrictScope([ipaddress.ip_network("10.0.0.0/8")], Catalog.load())
    >>> scope.platform_for("10.1.2.3", "www.instagram.com")
    'instagram'
    >>> scope.tls_decision("192.0.2.7", "www.instagram.com").passthrough_reason
    'not_district'
    """

    def __init__(self, subnets: Iterable[Network], catalog: Catalog, forum_hosts: Iterable[str] = ()):
        self.subnets = tuple(subnets)
        self.catalog = catalog
        self.forum_hosts = frozenset(h.lower().rstrip(".") for h in forum_hosts)
        """Hosts (and names under them) of forums to decrypt and recognise by request shape."""
        self._district: dict[str, bool] = {}

    def is_district(self, client_ip: str) -> bool:
        """Remembered per address: asked at every request (parsing the address is the costly part)."""
        try:
            return self._district[client_ip]
        except KeyError:
            pass
        if len(self._district) >= DISTRICT_CACHE_MAX:
            self._district.clear()
        district = self._district[client_ip] = self._is_district(client_ip)
        return district

    def _is_district(self, client_ip: str) -> bool:
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in subnet for subnet in self.subnets)

    def platform_for(self, client_ip: str, host: str) -> str | None:
        """The platform of a decrypted request, or None when it is not ours to record."""
        if not self.is_district(client_ip):
            return None
        return self.catalog.platform_for(host)

    def is_forum_host(self, host: str) -> bool:
        labels = host.lower().rstrip(".").split(".")
        return any(".".join(labels[i:]) in self.forum_hosts for i in range(len(labels)))

    def may_identify(self, client_ip: str, host: str, scheme: str) -> bool:
        """Whether a request outside the catalog may be recognised by its shape (forum software):
        plain HTTP from a district device, or a listed forum host."""
        return self.is_district(client_ip) and (scheme == "http" or self.is_forum_host(host))

    def tls_decision(self, client_ip: str, sni: str | None, pinned: bool = False) -> TlsDecision:
        """Decrypt only district devices' connections to hosts where words travel."""
        if not self.is_district(client_ip):
            return TlsDecision("not_district", None)
        if not sni:
            return TlsDecision("no_sni", None)
        match = self.catalog.lookup(sni)
        if match is None:
            return TlsDecision(None if self.is_forum_host(sni) else "not_social", None)
        if match.media:
            return TlsDecision("media", match)
        if not match.intercept:
            return TlsDecision(match.category, match)
        if pinned:
            return TlsDecision("pinned", match)
        return TlsDecision(None, match)
