#!/usr/bin/env python3
"""Time from an address appearing to its MPTCP endpoint being in the kernel.

Runs inside the namespace under test (scripts/bench/daemon-latency starts it
with `ip netns exec`), with a path manager (mptcpctld, or the reference shell
loop) already running there. Each round:

  1. t0 = now; adds an IPv4 address to DEV with an RTM_NEWADDR request (no
     process spawned). The kernel announces the address on RTMGRP_IPV4_IFADDR
     (the notification every path manager listens to) synchronously, inside
     that request: the announcement lies between t0 and the request's ACK;
  2. waits for that announcement on its own RTMGRP_IPV4_IFADDR subscription
     (a round without it is a failure). Its arrival time is not used as t0:
     netlink has no receive timestamps, and this process can be preempted by
     the manager's freshly woken processes between the ACK and reading the
     notification, which once made the shell reference look 0.04 ms fast.
     `--calibrate` measures the request's duration (t0 to ACK) with no manager
     running: the bound on how early t0 can be;
  3. polls the endpoint list (generic netlink "mptcp_pm", MPTCP_PM_CMD_GET_ADDR
     dump) in a tight loop until the address is there: t1 = the end of the first
     dump that shows it. The latency is t1 - t0;
  4. deletes the address (RTM_DELADDR) and, with --cleanup wait, waits until the
     manager has removed the endpoint (that time is reported too); with
     --cleanup flush, removes it itself (for managers that never remove).

A round that does not finish within --timeout seconds is counted as a timeout.

  daemon-latency.py --dev a1 --rounds 500 [--cleanup wait|flush] [--timeout 2] [--samples]
  daemon-latency.py --dev a1 --rounds 100 --calibrate   -> {"request_median_ms":..,"request_p99_ms":..}

Prints one JSON object: {"rounds":N,"ok":K,"timeouts":T,"cleanup_timeouts":C,
"median_ms":..,"p99_ms":..,"max_ms":..,"removal_median_ms":..}.
Standard library only.
"""
import argparse
import json
import math
import os
import select
import socket
import struct
import sys
import time

NETLINK_GENERIC = 16
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWADDR, RTM_DELADDR = 20, 21
IFA_ADDRESS, IFA_LOCAL = 1, 2
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 1, 4, 0x200, 0x400, 0x300
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
MPTCP_PM_CMD_GET_ADDR, MPTCP_PM_CMD_FLUSH_ADDRS = 3, 4
MPTCP_PM_ATTR_ADDR, MPTCP_PM_ADDR_ATTR_ADDR4 = 1, 3


def attr(kind, payload):
    data = struct.pack("=HH", 4 + len(payload), kind) + payload
    return data + b"\0" * ((4 - len(data) % 4) % 4)


def attrs(data):
    """(type, value) of each attribute in data."""
    out, at = [], 0
    while at + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, at)
        if length < 4:
            break
        out.append((kind & 0x3FFF, data[at + 4:at + length]))
        at += (length + 3) & ~3
    return out


def messages(data):
    at = 0
    while at + 16 <= len(data):
        length, kind, flags, seq, pid = struct.unpack_from("=IHHII", data, at)
        if length < 16:
            break
        yield kind, data[at + 16:at + length]
        at += (length + 3) & ~3


class Netlink:
    """One request socket: sends a message and reads replies up to DONE or the ACK."""

    def __init__(self, protocol):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        self.sock.bind((0, 0))
        self.seq = 1

    def request(self, kind, flags, body):
        self.seq += 1
        self.sock.send(struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | flags, self.seq, 0) + body)
        replies = []
        while True:
            for k, payload in messages(self.sock.recv(65536)):
                if k == NLMSG_DONE:
                    return replies
                if k == NLMSG_ERROR:
                    code = struct.unpack_from("=i", payload)[0]
                    if code != 0:
                        raise OSError(-code, os.strerror(-code))
                    return replies
                replies.append((k, payload))


class MPTCP(Netlink):
    def __init__(self):
        super().__init__(NETLINK_GENERIC)
        self.family = None
        body = struct.pack("=BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr(CTRL_ATTR_FAMILY_NAME, b"mptcp_pm\0")
        for _, payload in self.request(GENL_ID_CTRL, NLM_F_ACK, body):
            for t, v in attrs(payload[4:]):
                if t == CTRL_ATTR_FAMILY_ID:
                    self.family = struct.unpack("=H", v[:2])[0]
        if self.family is None:
            sys.exit("bench: the kernel has no mptcp_pm generic netlink family")

    def endpoint_addresses(self):
        """The IPv4 addresses (4 raw bytes) of every endpoint."""
        found = set()
        body = struct.pack("=BBH", MPTCP_PM_CMD_GET_ADDR, 1, 0)
        for _, payload in self.request(self.family, NLM_F_DUMP, body):
            for t, nest in attrs(payload[4:]):
                if t == MPTCP_PM_ATTR_ADDR:
                    for t2, v in attrs(nest):
                        if t2 == MPTCP_PM_ADDR_ATTR_ADDR4 and len(v) == 4:
                            found.add(bytes(v))
        return found

    def flush(self):
        self.request(self.family, NLM_F_ACK, struct.pack("=BBH", MPTCP_PM_CMD_FLUSH_ADDRS, 1, 0))


class Route(Netlink):
    def __init__(self, dev):
        super().__init__(socket.NETLINK_ROUTE)
        self.index = socket.if_nametoindex(dev)

    def address(self, add, packed):
        """RTM_NEWADDR / RTM_DELADDR of packed/32 on the device."""
        body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, self.index)
        body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        flags = NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if add else 0)
        self.request(RTM_NEWADDR if add else RTM_DELADDR, flags, body)


def wait_announced(monitor, packed, deadline):
    """Blocks until rtnetlink announces the new address; returns when (ns), or None."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([monitor], [], [], left)
        if not ready:
            return None
        data = monitor.recv(1 << 16)
        now = time.monotonic_ns()
        for kind, payload in messages(data):
            if kind == RTM_NEWADDR and any(t == IFA_LOCAL and v == packed for t, v in attrs(payload[8:])):
                return now


def wait_endpoint(mptcp, packed, present, deadline):
    """Polls the endpoint dump until packed is (present=True) or is not in it; returns when (ns), or None."""
    while time.monotonic() < deadline:
        if (packed in mptcp.endpoint_addresses()) == present:
            return time.monotonic_ns()
        time.sleep(0.00005)
    return None


def quantile(sorted_samples, q):
    """Nearest-rank quantile."""
    if not sorted_samples:
        return None
    return sorted_samples[max(0, math.ceil(q * len(sorted_samples)) - 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", required=True)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per round")
    parser.add_argument("--cleanup", choices=["wait", "flush"], default="wait",
                        help="wait: the manager removes the endpoint when the address goes; flush: remove it ourselves")
    parser.add_argument("--samples", action="store_true", help="also print every round's latency (ms) on stderr")
    parser.add_argument("--calibrate", action="store_true", help="only time the add requests (run with no manager)")
    args = parser.parse_args()

    mptcp = MPTCP()
    route = Route(args.dev)
    monitor = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    monitor.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    monitor.bind((0, RTMGRP_IPV4_IFADDR))

    if args.calibrate:
        requests = []
        for i in range(args.rounds):
            packed = socket.inet_aton("10.76.%d.%d" % (i // 250, i % 250 + 1))
            t0 = time.monotonic_ns()
            route.address(True, packed)
            requests.append((time.monotonic_ns() - t0) / 1e6)
            if wait_announced(monitor, packed, time.monotonic() + args.timeout) is None:
                sys.exit("bench: the kernel did not announce an address it added")
            route.address(False, packed)
        requests.sort()
        print(json.dumps({"request_median_ms": quantile(requests, 0.5), "request_p99_ms": quantile(requests, 0.99)}))
        return

    samples, removals, timeouts, cleanup_timeouts = [], [], 0, 0
    for i in range(args.rounds):
        packed = socket.inet_aton("10.77.%d.%d" % (i // 250, i % 250 + 1))
        deadline = time.monotonic() + args.timeout
        t0 = time.monotonic_ns()
        route.address(True, packed)
        announced = wait_announced(monitor, packed, deadline)
        t1 = wait_endpoint(mptcp, packed, True, deadline) if announced is not None else None
        if t1 is None:
            timeouts += 1
        else:
            samples.append((t1 - t0) / 1e6)
            if args.samples:
                print("round %d: %.3f ms" % (i, samples[-1]), file=sys.stderr)

        route.address(False, packed)
        gone_from = time.monotonic_ns()
        if args.cleanup == "flush":
            mptcp.flush()
        gone = wait_endpoint(mptcp, packed, False, time.monotonic() + args.timeout)
        if gone is None:
            cleanup_timeouts += 1
            mptcp.flush()  # so the next round starts clean (and the 8-endpoint cap is not hit)
        elif args.cleanup == "wait":
            removals.append((gone - gone_from) / 1e6)

    samples.sort()
    removals.sort()
    print(json.dumps({
        "rounds": args.rounds, "ok": len(samples), "timeouts": timeouts, "cleanup_timeouts": cleanup_timeouts,
        "median_ms": quantile(samples, 0.5), "p99_ms": quantile(samples, 0.99),
        "max_ms": samples[-1] if samples else None,
        "removal_median_ms": quantile(removals, 0.5) if removals else None,
    }))


if __name__ == "__main__":
    main()
