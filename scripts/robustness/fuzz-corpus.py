#!/usr/bin/env python3
"""Capture real netlink datagrams from the kernel as seed corpora for the fuzz
targets (Tests/Fuzz/Corpus). Run as root: `make fuzz-corpus`.

It makes a throw-away namespace with two veth pairs, MPTCP endpoints and real
MPTCP connections (IPv4 and IPv6, with joins), and records, byte for byte:
- mptcp_pm events as the event socket reads them,
- mptcp_pm replies (endpoint dump, limits, an error with its extended ack),
- rtnetlink link, address, route and rule dumps (with a source-routing rule, its suppress rules
  and table as mptcpctld makes them),
- sock_diag dumps of MPTCP and TCP sockets while the connections live.
Each file is the datagram behind one selector byte, as the targets expect.
"""
import os, socket, struct, subprocess, sys, time, uuid

NETLINK_ROUTE, NETLINK_SOCK_DIAG, NETLINK_GENERIC = 0, 4, 16
SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NETLINK_EXT_ACK = 270, 1, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300


def attr(t, v):
    n = 4 + len(v)
    return struct.pack("=HH", n, t) + v + b"\0" * ((4 - n % 4) % 4)


def attrs(b):
    out, i = {}, 0
    while i + 4 <= len(b):
        n, t = struct.unpack_from("=HH", b, i)
        if n < 4:
            break
        out.setdefault(t & 0x3FFF, b[i + 4:i + n])
        i += (n + 3) & ~3
    return out


class Sock:
    def __init__(self, proto):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
        self.s.bind((0, 0))
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.seq = 1

    def request(self, mtype, flags, payload):
        self.seq += 1
        self.s.send(struct.pack("=IHHII", 16 + len(payload), mtype, flags | NLM_F_REQUEST, self.seq, 0) + payload)
        datagrams = []
        while True:
            d = self.s.recv(1 << 20)
            datagrams.append(d)
            # Done at NLMSG_DONE; not dumping: at the error/ack (type 2) asked
            # for, or at the one reply.
            types = []
            i = 0
            while i + 16 <= len(d):
                n, t = struct.unpack_from("=IH", d, i)
                types.append(t)
                i += (n + 3) & ~3 if n else len(d)
            if 3 in types or (not flags & NLM_F_DUMP and (2 in types or not flags & NLM_F_ACK)):
                return datagrams


def genl_family(sock, name):
    reply = sock.request(16, 0, struct.pack("BBH", 3, 1, 0) + attr(2, name.encode() + b"\0"))[0]
    a = attrs(reply[20:])
    family = struct.unpack("=H", a[1])[0]
    groups = {}
    g = a.get(7, b"")
    i = 0
    while i + 4 <= len(g):
        n, _ = struct.unpack_from("=HH", g, i)
        inner = attrs(g[i + 4:i + n])
        groups[inner[1].rstrip(b"\0").decode()] = struct.unpack("=I", inner[2])[0]
        i += (n + 3) & ~3
    return family, groups


def inside(out):
    files = []

    def save(target, selector, datagram, name):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(bytes([selector]) + datagram)
        files.append(path)

    gen = Sock(NETLINK_GENERIC)
    family, groups = genl_family(gen, "mptcp_pm")
    events = Sock(NETLINK_GENERIC)
    events.s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, groups["mptcp_pm_events"])
    events.s.settimeout(0.5)

    listeners = []
    for fam, addr in ((socket.AF_INET, "10.9.1.1"), (socket.AF_INET6, "fd00:9:1::1")):
        l = socket.socket(fam, socket.SOCK_STREAM, 262)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind((addr, 5000))
        l.listen()
        listeners.append((fam, addr, l))
    pairs = []
    for fam, addr, l in listeners:
        c = socket.socket(fam, socket.SOCK_STREAM, 262)
        c.connect((addr, 5000))
        a, _ = l.accept()
        c.sendall(b"x" * 4000)
        a.recv(65536)
        a.sendall(b"y" * 100)
        c.recv(65536)
        pairs.append((c, a))
    time.sleep(0.5)

    diag = Sock(NETLINK_SOCK_DIAG)
    for fam in (socket.AF_INET, socket.AF_INET6):
        for mptcp in (True, False):
            req = struct.pack("=BBBBI", fam, 262 & 0xFF if mptcp else 6, 1 << 1, 0, 0xFFFFFFFF) + b"\0" * 48
            if mptcp:
                req += attr(3, struct.pack("=I", 262))
            for i, d in enumerate(diag.request(20, NLM_F_DUMP, req)):
                save("FuzzSockDiag", 1 if mptcp else 0, d, f"diag-{'mptcp' if mptcp else 'tcp'}-{fam}-{i}")

    # A subflow closed, an endpoint changed, the connections closed: more events.
    gen.request(family, NLM_F_ACK, struct.pack("BBH", 2, 1, 0) + attr(1, attr(1, struct.pack("=H", 2)) + attr(2, struct.pack("=B", 2))))
    for c, a in pairs:
        c.close()
        a.close()
    for _, _, l in listeners:
        l.close()
    n = 0
    while True:
        try:
            d = events.s.recv(1 << 16)
        except socket.timeout:
            break
        save("FuzzEvents", 0, d, f"event-{n}")
        n += 1

    # mptcp_pm replies: endpoint dump, limits, an error with extended ack.
    for i, d in enumerate(gen.request(family, NLM_F_DUMP, struct.pack("BBH", 3, 1, 0))):
        save("FuzzEvents", 1, d, f"reply-endpoints-{i}")
    for i, d in enumerate(gen.request(family, 0, struct.pack("BBH", 6, 1, 0))):
        save("FuzzEvents", 1, d, f"reply-limits-{i}")
    bad = attr(1, attr(1, struct.pack("=H", 2)) + attr(2, struct.pack("=B", 200)))
    for i, d in enumerate(gen.request(family, NLM_F_ACK, struct.pack("BBH", 2, 1, 0) + bad)):
        save("FuzzEvents", 1, d, f"reply-error-{i}")

    route = Sock(NETLINK_ROUTE)
    for name, mtype, payload in (("links", 18, b"\0" * 16), ("addresses", 22, b"\0" * 8), ("routes", 26, b"\0" * 12),
                                 ("rules", 34, b"\0" * 12)):
        for i, d in enumerate(route.request(mtype, NLM_F_DUMP, payload)):
            save("FuzzEvents", 2, d, f"rtnetlink-{name}-{i}")
    print(f"{len(files)} datagrams captured")


def main():
    out = os.path.abspath(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else os.path.abspath("Tests/Fuzz/Corpus")
    if "--inside" in sys.argv:
        return inside(out)
    ns = "fuzzcap-" + uuid.uuid4().hex[:6]
    sh = lambda *a: subprocess.run(["ip", "-n", ns] + list(a), check=True)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        sh("link", "set", "lo", "up")
        for i in (1, 2):
            sh("link", "add", f"v{i}", "type", "veth", "peer", "name", f"p{i}")
            sh("addr", "add", f"10.9.{i}.1/24", "dev", f"v{i}")
            sh("addr", "add", f"fd00:9:{i}::1/64", "dev", f"v{i}", "nodad")
            sh("link", "set", f"v{i}", "up")
            sh("link", "set", f"p{i}", "up")
        # Source routing as mptcpctld makes it (proto 242, a table above 255).
        sh("rule", "add", "from", "10.9.2.1", "table", "1002", "pref", "1002", "proto", "242")
        sh("route", "add", "default", "via", "10.9.2.2", "dev", "v2", "table", "1002", "proto", "242")
        sh("-6", "rule", "add", "from", "fd00:9:2::1", "table", "1002", "pref", "1002", "proto", "242")
        # Its suppress rules (main's specific routes first, its default route passed over).
        sh("rule", "add", "from", "all", "lookup", "main", "suppress_prefixlength", "0", "pref", "1001", "proto", "242")
        sh("-6", "rule", "add", "from", "all", "lookup", "main", "suppress_prefixlength", "0", "pref", "1001", "proto", "242")
        # On-link gateways as cloud images set them up (RTNH_F_ONLINK in rtm_flags, and per next hop).
        sh("route", "add", "default", "via", "10.9.3.1", "dev", "v1", "onlink", "table", "1003", "proto", "242")
        sh("route", "add", "10.77.0.0/16", "table", "1003", "proto", "242",
           "nexthop", "via", "10.9.4.1", "dev", "v1", "onlink", "nexthop", "via", "10.9.2.2", "dev", "v2")
        sh("mptcp", "limits", "set", "subflow", "4", "add_addr_accepted", "4")
        sh("mptcp", "endpoint", "add", "10.9.2.1", "dev", "v2", "subflow", "signal")
        sh("mptcp", "endpoint", "add", "fd00:9:2::1", "dev", "v2", "subflow", "backup")
        subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "--inside", "--out", out], check=True)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


if __name__ == "__main__":
    main()
