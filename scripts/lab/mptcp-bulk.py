#!/usr/bin/env python3
"""One MPTCP bulk transfer, timed at the receiver, for failover and goodput benchmarks.

  mptcp-bulk.py server --port P --role send|recv [--seconds S]
  mptcp-bulk.py client --connect ADDR --port P --role send|recv [--seconds S]

The server accepts one connection, the client makes it; the side with
--role send writes 64 KiB chunks for S seconds (default 6) and closes, the
other reads until EOF. The receiver prints one JSON line:
  {"event":"received","bytes":N,"first":T0,"last":T1,
   "gaps":[[A,B],...],            # every pause between two reads over 5 ms
   "samples":[[T,BYTES],...]}     # cumulative bytes every 100 ms
with CLOCK_MONOTONIC times, which every network namespace shares, so the
caller can line them up with the moment it took a link down.
The server prints {"event":"listening"} once it listens. Standard library only.
"""

import argparse
import json
import socket
import sys
import time

IPPROTO_MPTCP = 262
CHUNK = 65536


def emit(**fields):
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def send(sock, seconds):
    data = b"\x5a" * CHUNK
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(CHUNK):
        pass


def receive(sock):
    total = 0
    first = last = None
    gaps = []
    samples = []
    next_sample = None
    while True:
        data = sock.recv(1 << 20)
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
            next_sample += 0.1
        total += len(data)
        last = now
    emit(event="received", bytes=total, first=first, last=last, gaps=gaps, samples=samples)


def main():
    p = argparse.ArgumentParser(prog="mptcp-bulk.py")
    p.add_argument("mode", choices=["server", "client"])
    p.add_argument("--connect")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--role", choices=["send", "recv"], required=True)
    p.add_argument("--seconds", type=float, default=6.0)
    a = p.parse_args()
    if a.mode == "server":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", a.port))
        listener.listen(8)
        emit(event="listening")
        sock, _ = listener.accept()
    else:
        if not a.connect:
            p.error("client needs --connect")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        sock.connect((a.connect, a.port))
    if a.role == "send":
        send(sock, a.seconds)
    else:
        receive(sock)
    sock.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:
        sys.exit("mptcp-bulk: %s" % e)
