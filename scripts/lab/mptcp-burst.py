#!/usr/bin/env python3
"""Many MPTCP connections at once, for burst, memory and latency tests.

  mptcp-burst.py server --port P
      An MPTCP listener on the wildcard address that accepts any number of
      connections (one thread, selectors), discards what it reads and closes
      when the peer closes. Prints {"event":"listening","port":P}.

  mptcp-burst.py client --connect A --port P --count N --subflows K
                        [--timeout S] [--rounds R] [--serial]
      Opens N connections as fast as it can (non-blocking), sends one byte on
      each (a client is fully established once data flowed), then polls
      MPTCP_TCPINFO on every socket until each has K extra established subflows or S seconds
      pass, and closes them all at once. Prints per round
      {"event":"round","round":i,"count":N,"connected":C,"complete":X,
       "missing":M,"fallback":F,"seconds":T}; F counts the missing ones that fell
      back to plain TCP (MPTCP_INFO_FLAG_FALLBACK), which no path manager can help.
      With --hold S, it prints {"event":"held",...} once they are complete and
      keeps them open S seconds before closing.
      With --serial, connections are made one at a time and each is timed from
      connect() to its first extra subflow being established:
      {"event":"latency","ms":[...],"tried":T,"missing":M,"gave_up":B}
      (--give-up K stops after K misses in a row).
      Subflows are counted established, from MPTCP_TCPINFO.

Standard library only; raises RLIMIT_NOFILE as far as the hard limit allows.
"""

import argparse
import ctypes
import errno
import json
import os
import resource
import selectors
import socket
import struct
import sys
import time

IPPROTO_MPTCP = 262
SOL_MPTCP = 284
MPTCP_INFO = 1
MPTCP_TCPINFO = 2
LIBC = ctypes.CDLL(None, use_errno=True)


def emit(**fields):
    sys.stdout.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))


def extra_subflows(sock, room=16):
    """Established subflows beyond the first, from MPTCP_TCPINFO (the state of
    each subflow's tcp_info), or -1. mptcpi_subflows is not used: the kernel
    counts a subflow there as soon as it starts connecting."""
    size_user = 8  # tcpi_state is the first byte
    buf = ctypes.create_string_buffer(16 + room * size_user)
    # struct mptcp_subflow_data: size_subflow_data, num_subflows, size_kernel, size_user
    struct.pack_into("IIII", buf, 0, 16, 0, 0, size_user)
    length = ctypes.c_uint32(len(buf))
    if LIBC.getsockopt(sock.fileno(), SOL_MPTCP, MPTCP_TCPINFO, buf, ctypes.byref(length)) != 0:
        return -1
    _, count, _, size = struct.unpack_from("IIII", buf, 0)
    raw = buf.raw
    established = sum(1 for i in range(min(count, room)) if raw[16 + i * size] == 1)
    return established - 1


def fell_back(sock):
    """MPTCP_INFO_FLAG_FALLBACK: the connection is plain TCP, no subflow can join it."""
    try:
        info = sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 16)
    except OSError:
        return True  # a fallback socket may not answer MPTCP_INFO at all
    return len(info) >= 12 and struct.unpack_from("I", info, 8)[0] & 1 == 1


def run_server(args):
    raise_fd_limit(200_000)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", args.port))
    listener.listen(65535)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    emit(event="listening", port=args.port)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()


def open_all(args):
    socks, pending = [], set()
    for _ in range(args.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
        s.setblocking(False)
        rc = s.connect_ex((args.connect, args.port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            continue
        socks.append(s)
        pending.add(s)
    sel = selectors.DefaultSelector()
    for s in pending:
        sel.register(s, selectors.EVENT_WRITE)
    connected = []
    deadline = time.monotonic() + args.timeout
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            sel.unregister(s)
            pending.discard(s)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                try:
                    s.send(b"x")
                    connected.append(s)
                except OSError:
                    pass
    sel.close()
    return socks, connected


def run_client(args):
    raise_fd_limit(args.count * 2 + 1000)
    if args.serial:
        samples = []
        misses = 0
        tried = 0
        for _ in range(args.count):
            if args.give_up and misses >= args.give_up:
                break
            tried += 1
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)
            t0 = time.monotonic()
            s.connect((args.connect, args.port))
            s.send(b"x")
            deadline = t0 + args.timeout
            # Spin, yielding the CPU: a sleep would round up to the timer slack (50 us).
            while extra_subflows(s) < 1 and time.monotonic() < deadline:
                os.sched_yield()
            if extra_subflows(s) >= 1:
                samples.append((time.monotonic() - t0) * 1000)
                misses = 0
            else:
                misses += 1
            s.close()
        emit(event="latency", ms=samples, tried=tried, missing=args.count - len(samples),
             gave_up=tried < args.count)
        return 0
    for r in range(args.rounds):
        t0 = time.monotonic()
        socks, connected = open_all(args)
        deadline = time.monotonic() + args.timeout
        remaining = list(connected)
        while remaining and time.monotonic() < deadline:
            remaining = [s for s in remaining if extra_subflows(s) < args.subflows]
            if remaining:
                time.sleep(0.01)
        elapsed = time.monotonic() - t0
        fallback = sum(1 for s in remaining if fell_back(s))
        if args.hold > 0:
            emit(event="held", round=r + 1, connected=len(connected), missing=len(remaining), fallback=fallback,
                 seconds=round(elapsed, 3))
            time.sleep(args.hold)
        for s in socks:
            s.close()
        emit(event="round", round=r + 1, count=args.count, connected=len(connected),
             complete=len(connected) - len(remaining), missing=len(remaining), fallback=fallback,
             seconds=round(elapsed, 3))
    return 0


def main():
    parser = argparse.ArgumentParser(prog="mptcp-burst.py")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, required=True)
    c = sub.add_parser("client")
    c.add_argument("--connect", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--subflows", type=int, default=1)
    c.add_argument("--timeout", type=float, default=30.0)
    c.add_argument("--rounds", type=int, default=1)
    c.add_argument("--serial", action="store_true")
    c.add_argument("--hold", type=float, default=0.0, metavar="S",
                   help="keep the connections open S seconds once complete (prints a \"held\" line first)")
    c.add_argument("--give-up", type=int, default=0, metavar="K",
                   help="with --serial: stop after K connections in a row got no subflow")
    args = parser.parse_args()
    if args.mode == "server":
        return run_server(args)
    return run_client(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
