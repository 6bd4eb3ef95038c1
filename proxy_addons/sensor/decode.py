"""Link, IP and transport headers, read by hand, with the port filter applied as early as possible.

Scapy's dissection builds a Python object per layer and field for every packet; a
sensor on a busy mirror port cannot afford that for the 99% of packets it drops.
This module reads the few header bytes that decide whether a packet matters
(ethertype, IP protocol, destination port) with `struct`, and slices out the
payload only for packets to the ports below. It also trims Ethernet padding by
the IP and UDP lengths.
"""

from __future__ import annotations

import struct

from socialwatch.proxy_addons.sensor.observation import ParseError

TCP_PORTS = frozenset({53, 80, 443})
"""TCP destination ports read: DNS over TCP, HTTP (Host), TLS (ClientHello)."""
UDP_PORTS = frozenset({53, 443})
"""UDP destination ports read: DNS, QUIC."""
BPF_FILTER = (
    "(tcp dst port 53 or tcp dst port 80 or tcp dst port 443 or udp dst port 53 or udp dst port 443)"
    " or (vlan and (tcp dst port 53 or tcp dst port 80 or tcp dst port 443 or udp dst port 53 or udp dst port 443))"
)
"""The kernel-side filter for live capture: the same ports, so uninteresting packets never reach Python."""

# pcap link types (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_LINUX_SLL, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2 = 113, 228, 229, 276
SUPPORTED_LINKTYPES = frozenset({0, 1, 101, 108, 113, 228, 229, 276})

_ETH_IPV4, _ETH_IPV6, _ETH_VLAN, _ETH_QINQ = 0x0800, 0x86DD, 0x8100, 0x88A8
_IPV6_EXTENSIONS = frozenset({0, 43, 60, 51})  # hop-by-hop, routing, destination options, AH
_TCP, _UDP = 6, 17

_u16 = struct.Struct("!H").unpack_from
_u32 = struct.Struct("!I").unpack_from
_u32_le = struct.Struct("<I").unpack_from

TCP, UDP = "tcp", "udp"


def network_offset(linktype: int, frame: bytes) -> tuple[int, int] | None:
    """(ethertype, offset of the IP header), or None for frames that carry no IP."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = _u16(frame, 12)[0]
        offset = 14
        while ethertype in (_ETH_VLAN, _ETH_QINQ) and len(frame) >= offset + 4:
            ethertype = _u16(frame, offset + 2)[0]
            offset += 4
        return ethertype, offset
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if not frame:
            return None
        return (_ETH_IPV6 if frame[0] >> 4 == 6 else _ETH_IPV4), 0
    if linktype == LINKTYPE_LINUX_SLL:
        return (_u16(frame, 14)[0], 16) if len(frame) >= 16 else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return (_u16(frame, 0)[0], 20) if len(frame) >= 20 else None
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        family = _u32_le(frame, 0)[0] if linktype == LINKTYPE_NULL else _u32(frame, 0)[0]
        if family > 0xFFFF:  # NULL is host byte order: written on a big-endian machine
            family = int.from_bytes(frame[:4], "big")
        return (_ETH_IPV4 if family == 2 else _ETH_IPV6 if family in (10, 24, 28, 30) else 0), 4
    raise ParseError("linktype")


def transport(linktype: int, frame: bytes):
    """Decode `frame` if it goes to one of the ports we read, else None.

    Returns (proto, src, sport, dst, dport, seq, flags, payload): addresses as packed
    bytes (4 or 16), `seq` and `flags` only for TCP (0 for UDP). Raises ParseError for
    truncated or inconsistent IP headers of packets to our ports.
    """
    found = network_offset(linktype, frame)
    if found is None:
        return None
    ethertype, off = found
    if ethertype == _ETH_IPV4:
        if len(frame) < off + 20:
            return None
        ihl = (frame[off] & 0x0F) * 4
        proto = frame[off + 9]
        if proto != _TCP and proto != _UDP:
            return None
        if _u16(frame, off + 6)[0] & 0x3FFF:  # a fragment (more fragments, or an offset)
            return None
        end = off + _u16(frame, off + 2)[0]
        src_at, addr_len = off + 12, 4
        off += ihl
        if ihl < 20 or end < off:
            return None
    elif ethertype == _ETH_IPV6:
        if len(frame) < off + 40:
            return None
        proto = frame[off + 6]
        end = off + 40 + _u16(frame, off + 4)[0]
        src_at, addr_len = off + 8, 16
        off += 40
        hops = 0
        while proto in _IPV6_EXTENSIONS or proto == 44:
            hops += 1
            if hops > 8 or len(frame) < off + 8:
                return None
            if proto == 44:  # fragment header: only unfragmented packets (offset 0, no more fragments)
                if _u16(frame, off + 2)[0] & 0xFFF9:
                    return None
                length = 8
            elif proto == 51:
                length = (frame[off + 1] + 2) * 4
            else:
                length = (frame[off + 1] + 1) * 8
            proto = frame[off]
            off += length
        if proto != _TCP and proto != _UDP:
            return None
    else:
        return None
    if len(frame) < off + 8:
        return None
    dport = _u16(frame, off + 2)[0]
    if proto == _UDP:
        if dport not in UDP_PORTS:
            return None
        udp_end = off + _u16(frame, off + 4)[0]
        end = min(end, udp_end, len(frame))
        if end < off + 8:
            raise ParseError("ip_malformed")
        payload = frame[off + 8:end]
        return (UDP, frame[src_at:src_at + addr_len], _u16(frame, off)[0],
                frame[src_at + addr_len:src_at + 2 * addr_len], dport, 0, 0, payload)
    if dport not in TCP_PORTS:
        return None
    if len(frame) < off + 20:
        raise ParseError("ip_malformed")
    header = (frame[off + 12] >> 4) * 4
    end = min(end, len(frame))
    if header < 20 or end < off + header:
        raise ParseError("ip_malformed")
    return (TCP, frame[src_at:src_at + addr_len], _u16(frame, off)[0],
            frame[src_at + addr_len:src_at + 2 * addr_len], dport,
            _u32(frame, off + 4)[0], frame[off + 13], frame[off + header:end])
