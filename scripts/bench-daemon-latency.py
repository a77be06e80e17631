#!/usr/bin/env python3
"""Time from an address appearing to its MPTCP endpoint being in the kernel.

Runs inside the namespace under test (scripts/bench-daemon-latency starts it
with `ip netns exec`). For each round it adds an IPv4 address to DEV, takes t0
when rtnetlink announces it (RTM_NEWADDR), then polls the mptcp_pm endpoint
dump until the address is there (t1). Then it deletes the address and waits
until the endpoint is gone (or removes it itself with --cleanup flush).

  bench-daemon-latency.py --dev a1 --rounds 500 [--cleanup flush] [--timeout 2]

Prints one JSON object: {"rounds":N,"ok":K,"timeouts":T,"median_ms":..,"p99_ms":..,"max_ms":..}
"""
import argparse
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

NETLINK_GENERIC = 16
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWADDR = 20
NLMSG_ERROR, NLMSG_DONE = 2, 3
GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 0x10, 3, 1, 2
MPTCP_PM_CMD_GET_ADDR, MPTCP_PM_CMD_FLUSH_ADDRS = 3, 4
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300


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


class Genl:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        self.seq = 1
        name = b"mptcp_pm\0"
        attr = struct.pack("=HH", 4 + len(name), CTRL_ATTR_FAMILY_NAME) + name + b"\0" * ((4 - len(name) % 4) % 4)
        self.family = None
        for kind, payload in self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, NLM_F_ACK, attr):
            for t, v in attrs(payload[4:]):
                if t == CTRL_ATTR_FAMILY_ID:
                    self.family = struct.unpack("=H", v[:2])[0]
        if self.family is None:
            sys.exit("bench: the kernel has no mptcp_pm genl family")

    def request(self, kind, cmd, flags, body=b""):
        self.seq += 1
        header = struct.pack("=IHHII", 16 + 4 + len(body), kind, NLM_F_REQUEST | flags, self.seq, 0)
        self.sock.send(header + struct.pack("=BBH", cmd, 1, 0) + body)
        replies = []
        while True:
            data = self.sock.recv(65536)
            for k, payload in messages(data):
                if k == NLMSG_DONE:
                    return replies
                if k == NLMSG_ERROR:
                    code = struct.unpack_from("=i", payload)[0]
                    if code != 0:
                        raise OSError(-code, os.strerror(-code))
                    return replies
                replies.append((k, payload))

    def endpoint_addresses(self):
        found = set()
        for _, payload in self.request(self.family, MPTCP_PM_CMD_GET_ADDR, NLM_F_DUMP):
            for t, nest in attrs(payload[4:]):
                if t == 1:  # MPTCP_PM_ATTR_ADDR
                    for t2, v in attrs(nest):
                        if t2 == 3 and len(v) == 4:  # MPTCP_PM_ADDR_ATTR_ADDR4, network order
                            found.add(socket.inet_ntoa(v))
        return found

    def flush(self):
        self.request(self.family, MPTCP_PM_CMD_FLUSH_ADDRS, NLM_F_ACK)


def wait_announced(rt, address, deadline):
    """Blocks until rtnetlink announces address; returns the time it arrived."""
    want = socket.inet_aton(address)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([rt], [], [], left)
        if not ready:
            return None
        data = rt.recv(65536)
        now = time.monotonic_ns()
        for kind, payload in messages(data):
            if kind == RTM_NEWADDR and any(t in (1, 2) and v == want for t, v in attrs(payload[8:])):
                return now


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", required=True)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--cleanup", choices=["wait", "flush"], default="wait",
                        help="wait: the manager removes the endpoint when the address goes; flush: remove it ourselves")
    args = parser.parse_args()

    genl = Genl()
    rt = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    rt.bind((0, RTMGRP_IPV4_IFADDR))
    samples, timeouts = [], 0
    for i in range(args.rounds):
        address = "10.77.%d.%d" % (i // 250, i % 250 + 1)
        deadline = time.monotonic() + args.timeout
        adder = subprocess.Popen(["ip", "addr", "add", address + "/32", "dev", args.dev])
        t0 = wait_announced(rt, address, deadline)
        t1 = None
        while t0 is not None and time.monotonic() < deadline:
            if address in genl.endpoint_addresses():
                t1 = time.monotonic_ns()
                break
            time.sleep(0.0001)
        adder.wait()
        if t0 is None or t1 is None:
            timeouts += 1
        else:
            samples.append((t1 - t0) / 1e6)
        subprocess.run(["ip", "addr", "del", address + "/32", "dev", args.dev], check=True)
        if args.cleanup == "flush":
            genl.flush()
        end = time.monotonic() + args.timeout
        while address in genl.endpoint_addresses() and time.monotonic() < end:
            time.sleep(0.0005)
    samples.sort()
    def pick(q):
        return samples[min(len(samples) - 1, int(q * len(samples)))] if samples else None
    print(json.dumps({"rounds": args.rounds, "ok": len(samples), "timeouts": timeouts,
                      "median_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": samples[-1] if samples else None}))


if __name__ == "__main__":
    main()
