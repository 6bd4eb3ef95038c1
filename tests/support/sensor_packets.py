"""Captures for the sensor tests, built from real clients' bytes and written with scapy.

ClientHellos come from Python's TLS client (ssl, into a memory BIO), QUIC Initials
from aioquic's client; hostile QUIC Initials are encrypted with aioquic's own
Initial keys (not the sensor's code), so a decryption bug cannot hide in both.
"""

from __future__ import annotations

import itertools
import pathlib
import ssl

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.crypto import CryptoPair
from scapy.all import DNS, DNSQR, IP, TCP, UDP, Ether, IPv6, Raw, wrpcap

QUIC_V1, QUIC_V2 = 0x00000001, 0x6B3343CF
CLIENT, SERVER = "10.20.30.40", "198.51.100.7"
ETHER = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def client_hello(server_name: str) -> bytes:
    """The first flight of a real TLS client: one or more records holding the ClientHello."""
    context = ssl.create_default_context()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def quic_initials(server_name: str, version: int = QUIC_V1) -> list[bytes]:
    """The datagrams a real QUIC client (aioquic) sends first: its Initial with the ClientHello."""
    configuration = QuicConfiguration(is_client=True, server_name=server_name, supported_versions=[version])
    connection = QuicConnection(configuration=configuration)
    connection.connect(("192.0.2.1", 443), now=0.0)
    return [datagram for datagram, _ in connection.datagrams_to_send(now=0.0)]


def _varint(value: int) -> bytes:
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    return (value | 0x80000000).to_bytes(4, "big")


def crypto_frame(offset: int, data: bytes) -> bytes:
    return b"\x06" + _varint(offset) + _varint(len(data)) + data


def quic_initial(frames: bytes, *, dcid: bytes = bytes(range(8)), version: int = QUIC_V1,
                 packet_number: int = 0) -> bytes:
    """A client Initial carrying `frames`, padded to 1200 bytes, encrypted with aioquic's Initial keys."""
    frames += bytes(max(0, 1162 - len(frames)))  # PADDING
    pn_len = 2
    initial_type = 0 if version == QUIC_V1 else 1
    first = 0xC0 | (initial_type << 4) | (pn_len - 1)
    header = (bytes([first]) + version.to_bytes(4, "big") + bytes([len(dcid)]) + dcid + b"\x00"
              + _varint(0) + (0x4000 | (pn_len + len(frames) + 16)).to_bytes(2, "big")
              + packet_number.to_bytes(pn_len, "big"))
    pair = CryptoPair()
    pair.setup_initial(cid=dcid, is_client=True, version=version)
    return pair.encrypt_packet(header, frames, packet_number)


def handshake_of(records: bytes) -> bytes:
    """The handshake message inside TLS records (for QUIC CRYPTO frames)."""
    out, p = b"", 0
    while p + 5 <= len(records):
        size = int.from_bytes(records[p + 3:p + 5], "big")
        out += records[p + 5:p + 5 + size]
        p += 5 + size
    return out


def udp(payload: bytes, dport: int, *, client: str = CLIENT, server: str = SERVER, sport: int = 50000):
    ip = IPv6(src=client, dst=server) if ":" in client else IP(src=client, dst=server)
    return ETHER / ip / UDP(sport=sport, dport=dport) / Raw(payload)


def dns_query(name: str, **kw):
    ip = IP(src=kw.get("client", CLIENT), dst=kw.get("server", SERVER))
    return ETHER / ip / UDP(sport=kw.get("sport", 53000), dport=53) / DNS(rd=1, qd=DNSQR(qname=name))


def tcp_segments(payload: bytes, dport: int, cuts: list[int], *, client: str = CLIENT, server: str = SERVER,
                 sport: int = 40000, isn: int = 1000, handshake: bool = True):
    """A client's SYN then `payload` cut at `cuts` into segments, in order."""
    ip = IP(src=client, dst=server)
    packets = [ETHER / ip / TCP(sport=sport, dport=dport, flags="S", seq=isn)] if handshake else []
    bounds = [0, *cuts, len(payload)]
    for start, end in itertools.pairwise(bounds):
        packets.append(ETHER / ip / TCP(sport=sport, dport=dport, flags="PA", seq=isn + 1 + start)
                       / Raw(payload[start:end]))
    return packets


def write(path: pathlib.Path, packets) -> pathlib.Path:
    wrpcap(str(path), packets)
    return path
