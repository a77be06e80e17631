#!/usr/bin/env python3
"""MPTCP bulk sender/receiver and connection holder for tests and the demo.

  mptcp-peer.py server --bind ADDR --port P [--once] [--send]
  mptcp-peer.py client --connect ADDR --port P [--bind ADDR] [--seconds S [--receive]]

Every line on stdout is one JSON object with an "event" key, flushed at once.

server: an MPTCP listener. Prints {"event":"listening","port":P} once it
  listens, then for every connection reads until EOF (discarding the data) and
  prints {"event":"closed","bytes":N,"seconds":S,"mbit_per_s":X}. Connections
  are served concurrently; with --once it exits after the first one. With
  --send it is a download source instead: it sends bulk data to every
  connection until the client closes, then prints the same "closed" line with
  the bytes it sent.

client: connects (from --bind ADDR if given) and prints {"event":"connected",
  "local_address":..,"local_port":..,"remote_address":..,"remote_port":..}.
  With --seconds S it sends bulk data for S seconds, shuts down writing, waits
  for the server to close and prints {"event":"done","bytes":N,"seconds":S,
  "mbit_per_s":X,"subflows":K}; S counts until the server has closed, so X is
  what the server received. K is mptcpi_subflows (the extra subflows) just
  before the shutdown. With --receive (against a --send server) it reads for
  S seconds instead, closes, and prints "done" with the bytes it received.
  Without --seconds it holds the connection and reads commands on stdin, one
  per line:
    info     -> {"event":"info","subflows":K,"token":"%08x","fallback":B}
    send N   -> sends N bytes, then {"event":"sent","bytes":N}
    reset    -> an abortive close (SO_LINGER 0: MP_FASTCLOSE, the connection is
                gone at once), then {"event":"reset"}, and exits 0
    quit/EOF -> closes and exits 0

Any socket error (MPTCP unavailable, connection refused, ...) prints one line
on stderr and exits 1. Standard library only.
"""

import argparse
import signal
import ipaddress
import json
import socket
import struct
import sys
import threading
import time

IPPROTO_MPTCP = 262
SOL_MPTCP = 284
MPTCP_INFO = 1
CHUNK = 64 * 1024

_print_lock = threading.Lock()


def emit(**fields):
    line = json.dumps(fields, separators=(",", ":"))
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def fail(message):
    with _print_lock:
        sys.stderr.write("mptcp-peer: error: %s\n" % message)
        sys.stderr.flush()


def family_of(address):
    try:
        return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        raise SystemExit("mptcp-peer: error: not a numeric IP address: %r" % address)


def mptcp_socket(family):
    return socket.socket(family, socket.SOCK_STREAM, IPPROTO_MPTCP)


def mptcp_info(sock):
    """(subflows, token, fallback) from struct mptcp_info; (0, 0, True) if the
    kernel gave nothing (a connection that fell back to TCP may not answer)."""
    try:
        raw = sock.getsockopt(SOL_MPTCP, MPTCP_INFO, 256)
    except OSError:
        return 0, 0, True
    subflows = raw[0] if len(raw) >= 1 else 0
    fallback = len(raw) >= 12 and struct.unpack_from("=I", raw, 8)[0] & 1 == 1  # MPTCP_INFO_FLAG_FALLBACK
    token = struct.unpack_from("=I", raw, 12)[0] if len(raw) >= 16 else 0
    return subflows, token, fallback


def rate(nbytes, seconds):
    return round(nbytes * 8 / seconds / 1e6, 3) if seconds > 0 else 0.0


# --- server ---------------------------------------------------------------

def serve_connection(conn):
    start = time.monotonic()
    total = 0
    buf = bytearray(256 * 1024)
    try:
        with conn:
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                total += n
    except OSError as e:
        fail("connection: %s" % e)
        return False
    seconds = time.monotonic() - start
    emit(event="closed", bytes=total, seconds=round(seconds, 3), mbit_per_s=rate(total, seconds))
    return True


def send_connection(conn):
    """A download source: bulk data until the client closes."""
    start = time.monotonic()
    total = 0
    payload = b"\x5a" * CHUNK
    try:
        with conn:
            while True:
                total += conn.send(payload)
    except OSError:
        pass  # the client closed (EPIPE, ECONNRESET): the end of the download
    seconds = time.monotonic() - start
    emit(event="closed", bytes=total, seconds=round(seconds, 3), mbit_per_s=rate(total, seconds))
    return True


def run_server(args):
    family = family_of(args.bind)
    listener = socket.socket(family, socket.SOCK_STREAM) if args.tcp else mptcp_socket(family)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and ipaddress.ip_address(args.bind) == ipaddress.ip_address("::"):
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    listener.bind((args.bind, args.port))
    listener.listen(64)
    emit(event="listening", port=listener.getsockname()[1])
    serve = send_connection if args.send else serve_connection
    if args.once:
        conn, _ = listener.accept()
        listener.close()
        return 0 if serve(conn) else 1
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


# --- client ---------------------------------------------------------------

def run_client(args):
    family = family_of(args.connect)
    sock = mptcp_socket(family)
    if args.bind:
        if family_of(args.bind) != family:
            raise SystemExit("mptcp-peer: error: --bind and --connect must be the same address family")
        sock.bind((args.bind, 0))
    sock.connect((args.connect, args.port))
    local, remote = sock.getsockname(), sock.getpeername()
    emit(event="connected", local_address=local[0], local_port=local[1],
         remote_address=remote[0], remote_port=remote[1])
    if args.seconds is not None:
        return receive(sock, args.seconds) if args.receive else bulk(sock, args.seconds)
    return hold(sock)


def receive(sock, seconds):
    """Reads a --send server's data for `seconds`, then closes."""
    buf = bytearray(256 * 1024)
    total = 0
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        n = sock.recv_into(buf)
        if n == 0:
            break
        total += n
    subflows, _, _ = mptcp_info(sock)
    elapsed = time.monotonic() - start
    sock.close()
    emit(event="done", bytes=total, seconds=round(elapsed, 3), mbit_per_s=rate(total, elapsed), subflows=subflows)
    return 0


def bulk(sock, seconds):
    payload = b"\x5a" * CHUNK
    total = 0
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        total += sock.send(payload)
    subflows, _, _ = mptcp_info(sock)
    sock.shutdown(socket.SHUT_WR)
    # The server closes once it has read everything: wait for its FIN.
    while sock.recv(CHUNK):
        pass
    elapsed = time.monotonic() - start
    sock.close()
    emit(event="done", bytes=total, seconds=round(elapsed, 3), mbit_per_s=rate(total, elapsed), subflows=subflows)
    return 0


def hold(sock):
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit" and len(words) == 1:
            break
        if words[0] == "reset" and len(words) == 1:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            emit(event="reset")
            return 0
        if words[0] == "info" and len(words) == 1:
            subflows, token, fallback = mptcp_info(sock)
            emit(event="info", subflows=subflows, token="%08x" % token, fallback=fallback)
        elif words[0] == "send" and len(words) == 2 and words[1].isdigit():
            n = int(words[1])
            left = n
            payload = b"\x5a" * CHUNK
            while left > 0:
                sock.sendall(payload[:min(left, CHUNK)])
                left -= min(left, CHUNK)
            emit(event="sent", bytes=n)
        else:
            fail("unknown command %r (expected: info | send N | quit)" % line.strip())
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()
    return 0


def main():
    # A parent may spawn us with signals blocked (Foundation's Process inherits the
    # mask of a test thread); SIGTERM and SIGINT must still end us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    parser = argparse.ArgumentParser(prog="mptcp-peer.py", description="MPTCP bulk peer for tests and the demo")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server", help="MPTCP listener that counts what it receives")
    s.add_argument("--bind", required=True, metavar="ADDR")
    s.add_argument("--port", required=True, type=int, metavar="P")
    s.add_argument("--once", action="store_true", help="exit after the first connection")
    s.add_argument("--tcp", action="store_true", help="a plain TCP listener: MPTCP clients fall back to TCP")
    s.add_argument("--send", action="store_true", help="send bulk data to each connection (a download source)")
    c = sub.add_parser("client", help="MPTCP client: bulk sender or held connection")
    c.add_argument("--connect", required=True, metavar="ADDR")
    c.add_argument("--port", required=True, type=int, metavar="P")
    c.add_argument("--bind", metavar="ADDR", help="source address")
    c.add_argument("--seconds", type=float, metavar="S", help="send bulk data for S seconds")
    c.add_argument("--receive", action="store_true", help="with --seconds: receive for S seconds instead (a download)")
    args = parser.parse_args()
    if args.mode == "client" and args.receive and args.seconds is None:
        parser.error("--receive needs --seconds")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be 0..65535")
    if args.mode == "client" and args.seconds is not None and not args.seconds > 0:
        parser.error("--seconds must be > 0")
    try:
        return run_server(args) if args.mode == "server" else run_client(args)
    except OSError as e:
        fail(str(e))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
