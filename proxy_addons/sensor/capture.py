"""Where packets come from: pcap/pcapng files or a live interface, through scapy, undissected.

Both paths yield (linktype, frame bytes, timestamp) and never build scapy
`Packet` objects: `RawPcapReader` reads pcap and pcapng records as bytes, and a
live `L2ListenSocket` with a kernel BPF filter (compiled by libpcap through
scapy) hands over only packets to the sensor's ports, read with `recv_raw`.
"""

from __future__ import annotations

import logging
import select
import struct
import threading
import time
from collections.abc import Iterator

import scapy.arch  # noqa: F401  (sets conf.L2listen for this platform)
from scapy.config import conf
from scapy.utils import RawPcapNgReader, RawPcapReader
from socialwatch.proxy_addons.sensor.decode import BPF_FILTER, LINKTYPE_ETHERNET

log = logging.getLogger(__name__)

Frame = tuple[int, bytes, float]
"""(pcap link type, frame bytes, capture time in seconds since the epoch)."""

_SOL_PACKET, _PACKET_STATISTICS = 263, 6
_TPACKET_STATS = struct.Struct("II")  # tp_packets, tp_drops; reading resets both


def read_file(path: str) -> Iterator[Frame]:
    """The frames of a pcap or pcapng file (scapy picks the format from the magic number)."""
    reader = RawPcapReader(path)
    try:
        if isinstance(reader, RawPcapNgReader):
            for frame, meta in reader:
                ts = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
                yield meta.linktype, frame, ts
        else:
            linktype = reader.linktype
            divisor = 1e9 if getattr(reader, "nano", False) else 1e6
            for frame, meta in reader:
                yield linktype, frame, meta.sec + meta.usec / divisor
    finally:
        reader.close()


class LiveCapture:
    """Frames from `interface`, filtered in the kernel by `bpf`; needs CAP_NET_RAW.

    Iterating yields frames as they arrive and None about every `tick` seconds
    without traffic (so the caller can flush time-based state), until `stop()`.
    """

    def __init__(self, interface: str, bpf: str = BPF_FILTER, tick: float = 0.5):
        self.interface = interface
        self.tick = tick
        self._stop = threading.Event()
        self._socket = conf.L2listen(iface=interface, filter=bpf, promisc=True)
        self._linktypes: dict[type, int] = {}
        # Between socket() and bind()+filter the kernel queues packets of every interface (and may
        # count drops for them): discard those and reset the counters, as libpcap does.
        self._drain()
        self.drops()

    def _drain(self) -> None:
        fd = self._socket.ins
        fd.setblocking(False)
        try:
            while True:
                fd.recv(65536)
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            fd.setblocking(True)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._socket.close()

    def drops(self) -> int:
        """Packets the kernel dropped since the last call (the socket's receive buffer was full)."""
        try:
            raw = self._socket.ins.getsockopt(_SOL_PACKET, _PACKET_STATISTICS, _TPACKET_STATS.size)
        except OSError:
            return 0
        return _TPACKET_STATS.unpack(raw)[1]

    def __iter__(self) -> Iterator[Frame | None]:
        fd = self._socket.ins
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], self.tick)
            if not ready:
                yield None
                continue
            try:
                cls, frame, ts = self._socket.recv_raw()
            except (TimeoutError, OSError) as e:
                log.warning("socialwatch sensor: reading from %s: %s", self.interface, e)
                continue
            if frame is None:
                continue
            yield self._linktype(cls), frame, ts if ts is not None else time.time()

    def _linktype(self, cls: type | None) -> int:
        if cls is None:
            return LINKTYPE_ETHERNET
        linktype = self._linktypes.get(cls)
        if linktype is None:
            linktype = self._linktypes[cls] = conf.l2types.layer2num.get(cls, LINKTYPE_ETHERNET)
        return linktype

