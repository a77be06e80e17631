#!/usr/bin/env python3
"""Traffic for the path-health benchmark (scripts/bench/path-health.py): one
bulk transfer sampled every 50 ms at the receiver, an accept loop, and
connections opened at set times. Standard library only.

  path-health-peer.py server  --port P --role send|recv [--seconds S]
  path-health-peer.py client  --connect ADDR --port P --role send|recv [--seconds S]
  path-health-peer.py accept  --port P
  path-health-peer.py connect --connect ADDR --port P --at T0 --offsets 0.5,1,2,5 [--timeout S]

server/client: the server accepts one connection, the client makes it; the
side with --role send writes 64 KiB chunks for S seconds (default 10) or
until SIGTERM, then closes; the other reads to EOF and prints
  {"event":"received","bytes":N,"first":T0,"last":T1,
   "gaps":[[A,B],...],          # every pause between two reads over 5 ms
   "samples":[[T,BYTES],...]}   # cumulative bytes every 50 ms
accept: accepts MPTCP connections until killed, reading each to EOF.
connect: at T0 + each offset (CLOCK_MONOTONIC, which every network
namespace shares), opens one MPTCP connection and prints
  {"event":"connect","offset":O,"ok":true|false,"seconds":S,"mptcp":true|false,"error":"..."}
("mptcp": the connection did not fall back to TCP, from MPTCP_INFO).
The server prints {"event":"listening"} once it listens.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time

IPPROTO_MPTCP = 262
SOL_MPTCP = 284
MPTCP_INFO = 1
MPTCP_INFO_FLAG_FALLBACK = 1
CHUNK = 65536
SAMPLE = 0.05

_print_lock = threading.Lock()


def emit(**fields):
    with _print_lock:
        sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
        sys.stdout.flush()


class Stop(Exception):
    pass


def _stop(signum, frame):
    raise Stop()


def send(sock, seconds):
    data = b"\x5a" * CHUNK
    deadline = time.monotonic() + seconds
    signal.signal(signal.SIGTERM, _stop)
    try:
        while time.monotonic() < deadline:
            sock.sendall(data)
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        while sock.recv(CHUNK):
            pass
    except OSError:
        pass


def receive(sock):
    total = 0
    first = last = None
    gaps = []
    samples = []
    next_sample = None
    while True:
        try:
            data = sock.recv(1 << 20)
        except OSError:
            data = b""
        now = time.monotonic()
        if not data:
            break
        if first is None:
            first = now
            next_sample = now
        elif now - last > 0.005:
            gaps.append([round(last, 6), round(now, 6)])
        while now >= next_sample:
            samples.append([round(next_sample, 6), total])
            next_sample += SAMPLE
        total += len(data)
        last = now
    emit(event="received", bytes=total, first=first, last=last, gaps=gaps, samples=samples)


def listener(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    emit(event="listening")
    return s


def drain(conn):
    with conn:
        try:
            while conn.recv(CHUNK):
                pass
        except OSError:
            pass


def accept_forever(port):
    s = listener(port)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def is_mptcp(sock):
    try:
        raw = sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 256)
    except OSError:
        return False
    return not (len(raw) >= 12 and struct.unpack_from("=I", raw, 8)[0] & MPTCP_INFO_FLAG_FALLBACK)


def connect_at(address, port, at, offset, timeout, results):
    delay = at + offset - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    start = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    sock.settimeout(timeout)
    record = {"event": "connect", "offset": offset, "started": round(start, 6)}
    try:
        sock.connect((address, port))
        record.update(ok=True, seconds=round(time.monotonic() - start, 6), mptcp=is_mptcp(sock))
    except (OSError, socket.timeout) as e:
        record.update(ok=False, seconds=round(time.monotonic() - start, 6), mptcp=False,
                      error=str(e) or type(e).__name__)
    finally:
        sock.close()
    results.append(record)
    emit(**record)


def main():
    p = argparse.ArgumentParser(prog="path-health-peer.py")
    p.add_argument("mode", choices=["server", "client", "accept", "connect"])
    p.add_argument("--connect")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--role", choices=["send", "recv"])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--at", type=float, help="CLOCK_MONOTONIC time the offsets count from")
    p.add_argument("--offsets", default="0.5,1,2,5")
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args()
    if a.mode == "accept":
        accept_forever(a.port)
        return 0
    if a.mode == "connect":
        if not a.connect or a.at is None:
            p.error("connect needs --connect and --at")
        offsets = [float(x) for x in a.offsets.split(",") if x]
        results = []
        threads = [threading.Thread(target=connect_at, args=(a.connect, a.port, a.at, o, a.timeout, results))
                   for o in offsets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return 0
    if a.role is None:
        p.error("server and client need --role")
    s = None
    if a.mode == "server":
        # The listener stays open: the peer's extra subflows (MP_JOIN) are accepted through it.
        s = listener(a.port)
        sock, _ = s.accept()
    else:
        if not a.connect:
            p.error("client needs --connect")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.connect((a.connect, a.port))
        emit(event="connected", mptcp=is_mptcp(sock))
    if a.role == "send":
        send(sock, a.seconds)
    else:
        receive(sock)
    sock.close()
    if s:
        s.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        sys.exit("path-health-peer: %s" % e)
