"""What the proxy may look at: social-media traffic from district devices, nothing else."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from socialwatch.proxy_addons.catalog import Catalog

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class DistrictScope:
    """District subnets plus the platform catalog.

    >>> scope = DistrictScope([ipaddress.ip_network("10.0.0.0/8")], Catalog.load())
    >>> scope.platform_for("10.1.2.3", "www.instagram.com")
    'instagram'
    >>> scope.passthrough_reason("192.0.2.7", "www.instagram.com")
    'not_district'
    """

    def __init__(self, subnets: Iterable[Network], catalog: Catalog):
        self.subnets = tuple(subnets)
        self.catalog = catalog

    def is_district(self, client_ip: str) -> bool:
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in subnet for subnet in self.subnets)

    def platform_for(self, client_ip: str, host: str) -> str | None:
        """The platform of a request, or None when it is not ours to record."""
        if not self.is_district(client_ip):
            return None
        return self.catalog.platform_for(host)

    def passthrough_reason(self, client_ip: str, sni: str | None) -> str | None:
        """Why a TLS connection must not be decrypted, or None to intercept it."""
        if not self.is_district(client_ip):
            return "not_district"
        if not sni:
            return "no_sni"
        if self.catalog.platform_for(sni) is None:
            return "not_social"
        return None
