"""An ordinary client on a district device, run inside the "device" namespace; prints one JSON result.

    python namespace_client.py https IP SERVER_NAME PATH [--source ADDR] [--trust PEM]... [--data FIELD=VALUE]
    python namespace_client.py http IP HOST PATH [--source ADDR] [--data FIELD=VALUE]
    python namespace_client.py udp IP PORT [--source ADDR]

https: TLS to IP:443 with SNI and Host SERVER_NAME (connecting by address, as after
DNS), verifying against the trusted PEMs only; prints the status, the body and the
issuer of the certificate the client was shown, or the error.
http: plain HTTP to IP:80 with Host HOST; prints the status and body.
udp: one datagram to IP:PORT; prints whether it was "answered", "refused" (ICMP
port unreachable) or met "timeout".
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl
import urllib.parse


def https(args) -> dict:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    for pem in args.trust:
        context.load_verify_locations(cafile=pem)
    family = socket.AF_INET6 if ":" in args.ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        if args.source:
            sock.bind((args.source, 0))
        sock.connect((args.ip, 443))
        tls = context.wrap_socket(sock, server_hostname=args.server_name)
    except (OSError, ssl.SSLError) as e:
        sock.close()
        return {"error": f"{type(e).__name__}: {e}"}
    issuer = dict(item[0] for item in tls.getpeercert()["issuer"])
    conn = http.client.HTTPConnection(args.server_name)
    conn.sock = tls
    body = urllib.parse.urlencode(dict(pair.split("=", 1) for pair in args.data)).encode() if args.data else None
    headers = {"content-type": "application/x-www-form-urlencoded"} if body else {}
    conn.request("POST" if body else "GET", args.path, body=body, headers=headers)
    response = conn.getresponse()
    result = {"status": response.status, "body": response.read().decode(), "issuer": issuer.get("commonName", ""),
              "client_address": tls.getsockname()[0]}
    conn.close()
    return result


def plain_http(args) -> dict:
    conn = http.client.HTTPConnection(args.ip, 80, timeout=10, source_address=(args.source, 0) if args.source else None)
    body = urllib.parse.urlencode(dict(pair.split("=", 1) for pair in args.data)).encode() if args.data else None
    headers = {"host": args.server_name}
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    try:
        conn.request("POST" if body else "GET", args.path, body=body, headers=headers)
        response = conn.getresponse()
        return {"status": response.status, "body": response.read().decode()}
    except OSError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        conn.close()


def udp(args) -> dict:
    family = socket.AF_INET6 if ":" in args.ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        if args.source:
            sock.bind((args.source, 0))
        sock.connect((args.ip, args.port))  # connected: an ICMP error comes back as ECONNREFUSED
        sock.send(b"\xc0" + b"\x00" * 1199)  # shaped like a QUIC Initial: long header, padded to 1200 bytes
        try:
            sock.recv(2048)
            return {"result": "answered"}
        except ConnectionRefusedError:
            return {"result": "refused"}
        except TimeoutError:
            return {"result": "timeout"}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="kind", required=True)
    h = sub.add_parser("https")
    h.add_argument("ip")
    h.add_argument("server_name")
    h.add_argument("path")
    h.add_argument("--source")
    h.add_argument("--trust", action="append", default=[])
    h.add_argument("--data", action="append", default=[])
    h.set_defaults(run=https)
    p = sub.add_parser("http")
    p.add_argument("ip")
    p.add_argument("server_name")
    p.add_argument("path")
    p.add_argument("--source")
    p.add_argument("--data", action="append", default=[])
    p.set_defaults(run=plain_http)
    u = sub.add_parser("udp")
    u.add_argument("ip")
    u.add_argument("port", type=int)
    u.add_argument("--source")
    u.set_defaults(run=udp)
    args = parser.parse_args()
    print(json.dumps(args.run(args)))


if __name__ == "__main__":
    main()
