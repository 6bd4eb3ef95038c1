"""The passive sensor: social-media use that bypasses the proxy, seen from packet metadata.

Certificate-pinned apps, QUIC where UDP/443 is open and segments without the proxy
never reach mitmproxy. The sensor reads packets (live from an interface, or from
pcap/pcapng files) and takes only names: DNS query names, the server name of TLS
ClientHellos and QUIC Initials, the HTTP Host header. Never content.

    packets -> capture -> decode (link, IP, port filter) -> [tcp reassembly] -> dns | tls | quic | http
            -> Observation -> JSON line (--read) and/or aggregation -> ActivityEvent -> Pipeline

Modules by concern: `capture` (scapy readers and live sockets, BPF), `decode` (link and
IP headers, the early port filter), `tcp` (bounded reassembly of stream starts), `dns`,
`clienthello` (TLS records and the ClientHello), `quic` (Initial decryption and CRYPTO
reassembly), `http` (Host header), `aggregate` (per device, platform and minute), `sensor`
(the dispatcher, metrics and the event sink). See docs/sensor.md.
"""

from socialwatch.proxy_addons.sensor.observation import Observation, ParseError
from socialwatch.proxy_addons.sensor.sensor import Sensor

__all__ = ["Observation", "ParseError", "Sensor"]
