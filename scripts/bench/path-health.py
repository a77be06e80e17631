#!/usr/bin/env python3
"""Path health: a path that is up but broken (issue 14), measured side by side
in one run on the realistic lab (scripts/lab/lab realistic, variant b: a
default route per uplink, 50 Mbit/s each way per uplink) for five setups:

  kernel PM alone   no daemon; an endpoint "10.1.2.2 dev eth2 subflow" and
                    limits set by hand, as a user would (the reference);
  mptcpctld kernel  path_manager = "kernel", both uplinks active;
  ud aggregate      path_manager = "userspace", per-interface, aggregate;
  ud active-backup  path_manager = "userspace", eth1 active, eth2 backup;
  kernel, backup    no daemon; the same as the kernel alone but the endpoint
                    is "subflow backup": active-backup's reference, like for
                    like (the kernel alone keeps both paths active).

The daemon runs at its default [probe] settings. Path 1 is blackholed by an
nft drop rule in router 1 (links stay up): by default everything arriving at
the router is dropped, the gateway's own answers included (--blackhole
router); --blackhole upstream drops only what the router forwards (the
gateway still answers, the Internet behind it does not).

Usage (root): scripts/bench/path-health.py [--mptcpctld PATH] [--runs N] [--quick]
              [--setups LIST] [--measure LIST] [--stall-repeats N] [--outages LIST]
              [--blackhole router|upstream] [--json FILE]

Each setup gets a lab of its own, all up for the whole run, and the setups take
turns episode by episode (an upload blackhole in each, then a download in each,
...), so a change in the shared machine's load falls on every setup alike.
Per setup (--runs N, default 5, each; --measure picks stall, connect, failback):
  detection    from inserting the drop rule to the daemon's path_down event
               for eth1 (its `time`, against the wall clock read once the
               rule is in), in every blackhole below; "not detected within
               T s" when none came;
  stall, t90   uploads and downloads blackholed 3 s in (a 5 s outage; --stall-repeats
               of each per run, default 2): the
               longest pause at the receiver from the blackhole on, and the
               time until 250 ms windows of receiving reach 90 % of one
               path's rate (a single-path upload measured first in the same
               lab) for 1 s in a row, bytes sampled every 50 ms by the receiver;
               and the longest pause at the receiver in the 2.5 s after
               healing (what a close of the stale subflows costs then);
  connect      new connections opened 0.5, 1, 2 and 5 s after the blackhole
               (10 s timeout): connected or not, time to connect, MPTCP or
               fallen back to TCP (MPTCP_INFO);
  failback     uploads blackholed for 2, 10 and 60 s (--outages): from
               removing the drop rule to 64 KiB more acknowledged on path 1's
               subflows (ss -ti bytes_acked, every 50 ms; gave up after
               --failback-wait s); a slower failback than 1 s is traced to
               failback-trace-SETUP.txt in the log directory (both ends'
               ss -Mti and MPTcpExt counters every 0.25 s for 12 s after
               healing, and the daemon's events stamped against it);
  probing      an idle daemon for --probe-window s: ICMP echo requests
               arriving at each router (nft counters) per second, and the
               daemon's CPU (utime+stime from /proc/PID/stat).
  joins        over every episode: joins the client sent, MP_TCPRST resets it
               received (MPRstRx) and the server's DSS mapping mismatches
               (DSSNotMatching, after which it resets the subflow: README
               "connections that lose their second subflow"), from each lab's
               /proc/net/netstat.
Prints a table per measurement with the setups as columns and a summary
against the issue's targets (reported, never asserted; exit 0 when every setup
ran to the end, 1 when one did not; a setup that stops keeps what it measured).
The stall is compared with the kernel alone's (active-backup's also with the
kernel alone's with a backup endpoint) by the difference of medians and
its 95 % bootstrap interval: "no worse" when the interval's top is at most
50 ms, "worse" when its bottom is above 50 ms, else "not told apart"; no
verdict on fewer than 5 transfers a side. A stall is one or two retransmission
timeouts of the dead subflow (about 0.2 or 0.45 s), so the ratio of two medians
of a few transfers swings either way between runs of the same code. Raw
results go to a JSON file (--json, default in the log directory).

Run time: the full run (5 runs, outages 2/10/60 s) takes about 90 to 110
minutes for the five setups (70 to 90 for four) when they fail back within
seconds, and up to about 3 hours when every failback waits out
--failback-wait (90 s); --stall-repeats 6 adds about 10 minutes per
setup. --quick (1 run, outages 2 and 10 s, failback wait 20 s, 5 s probe
window) takes about 6 to 10 minutes.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import signal
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(ROOT, "scripts", "lab", "lab")
PEER = os.path.join(HERE, "path-health-peer.py")
PY = sys.executable

# --- what the daemon publishes (the health service's events), in one place ---
EVENT_PATH_DOWN = "path_down"
EVENT_PATH_UP = "path_up"
EVENT_PATH_DEGRADED = "path_degraded"
EVENT_FIELD_INTERFACE = "interface"
EVENT_FIELD_FAMILY = "family"
EVENT_FIELD_EVIDENCE = "evidence"
EVENT_FAMILY_IPV4 = ("ipv4", "4", "inet")
# The default [probe] interval (MPTCPPolicy ProbeSettings.intervalMilliseconds).
PROBE_INTERVAL_S = 0.4

# --- the lab ---
SERVICE = "10.3.0.1"
CLIENT1 = "10.1.1.2"
CLIENT2 = "10.1.2.2"
BLACKHOLE_AT = 3.0          # seconds into a transfer
STALL_OUTAGE = 5.0          # the blackhole of the stall/t90 transfers
CONNECT_OFFSETS = (0.5, 1.0, 2.0, 5.0)
ACCEPT_PORT = 5999          # the new connections' listener in every lab (transfers count up from 6001)
CONNECT_TIMEOUT = 10.0
FAILBACK_BYTES = 65536
FAILBACK_TARGET = 1.0       # the failback target; slower ones are traced
TRACE_EVERY = 0.25          # FailbackTrace: a snapshot every TRACE_EVERY s ...
TRACE_SECONDS = 12.0        # ... for TRACE_SECONDS after healing
MEASUREMENTS = ("stall", "connect", "failback")
BOOTSTRAP = 4000            # resamples for the stall comparison's confidence interval
STALL_MARGIN = 0.05         # a stall this much longer than the kernel alone's median still counts as no worse
STALL_MIN = 5               # fewer transfers a side give no stall verdict
WINDOW = 0.25               # the t90 window
HEAL_PAUSE_WINDOW = 2.5     # after healing, where the pause at the receiver is looked for
SUSTAIN = 4                 # windows in a row at 90 % (1 s) for t90


def sh(*args, check=True, capture=False):
    r = subprocess.run(list(args), check=False, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise SystemExit("bench: %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def nsx(ns, *args, **kw):
    return sh("ip", "netns", "exec", ns, *args, **kw)


def json_lines(text):
    out = []
    for line in (text or "").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Lab:
    """A fresh realistic lab (variant b) with a blackhole chain and probe counters in router 1 and 2."""
    count = 0

    def __init__(self, blackhole):
        Lab.count += 1
        # mptl-<PID>-...: `lab gc` sweeps it if this run dies.
        self.name = "mptl-%d-ph%d" % (os.getpid(), Lab.count)
        self.c, self.s = self.name + "-c", self.name + "-s"
        self.routers = {1: self.name + "-r1", 2: self.name + "-r2"}
        self.hook = "prerouting priority -300" if blackhole == "router" else "forward priority -300"
        sh("bash", LAB, "realistic", "up", self.name, "--variant", "b")
        try:
            self._tables()
        except BaseException:
            self.close()
            raise

    def _tables(self):
        for u, ns in self.routers.items():
            script = ("table inet pathhealthbench {\n"
                      "  chain count { type filter hook prerouting priority -400; policy accept;\n"
                      "    iifname \"lan\" icmp type echo-request counter\n"
                      "    iifname \"lan\" icmpv6 type echo-request counter\n  }\n"
                      "  chain blackhole { type filter hook %s; policy accept; }\n}\n" % self.hook)
            r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode != 0:
                raise SystemExit("bench: nft in %s: %s" % (ns, r.stderr.strip()))
        nsx(self.s, "sysctl", "-qw", "net.core.somaxconn=4096")

    def blackhole(self):
        """Drops everything on path 1 (router 1); returns (monotonic, wall clock) once the rule is in."""
        nsx(self.routers[1], "nft", "add", "rule", "inet", "pathhealthbench", "blackhole",
            "iifname", "{", "lan", ",", "wan", "}", "drop")
        return time.monotonic(), time.time()

    def heal(self):
        nsx(self.routers[1], "nft", "flush", "chain", "inet", "pathhealthbench", "blackhole")
        return time.monotonic(), time.time()

    def echo_requests(self):
        """{uplink: (IPv4, IPv6) echo requests counted so far}."""
        out = {}
        for u, ns in self.routers.items():
            text = nsx(ns, "nft", "-j", "list", "chain", "inet", "pathhealthbench", "count", capture=True).stdout
            counts = []
            for item in json.loads(text).get("nftables", []):
                rule = item.get("rule")
                if rule:
                    counts.append(next((e["counter"]["packets"] for e in rule.get("expr", []) if "counter" in e), 0))
            out[u] = tuple((counts + [0, 0])[:2])
        return out

    def close(self):
        sh("bash", LAB, "down", self.name, check=False)


class Events:
    """The daemon's path health events (its control socket's `subscribe` to kind "health"), read by a thread.

    Only that kind: subscribed to everything, this reader woke at each connection's kernel
    events, at the moment its second subflow joined, and the kernel then reset that join far
    more often (29 of 440 against 2 of 200; README, "Connections that lose their second subflow")."""

    def __init__(self, path):
        self.events = []
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(b'{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"kinds":["health"]}}\n')
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if msg.get("method") == "event" and isinstance(msg.get("params"), dict):
                    with self.lock:
                        self.events.append(msg["params"])

    def find(self, etype, interface, since, seconds, until=None):
        """The first `etype` event for `interface` (IPv4 preferred) stamped at or after `since`
        (and at or before `until`; wall clock), waiting up to `seconds` from now for it."""
        deadline = time.monotonic() + seconds
        while True:
            with self.lock:
                hits = [e for e in self.events if e.get("type") == etype
                        and e.get(EVENT_FIELD_INTERFACE) == interface and float(e.get("time", 0)) >= since - 0.001
                        and (until is None or float(e.get("time", 0)) <= until)]
            v4 = [e for e in hits if str(e.get(EVENT_FIELD_FAMILY, "")).lower() in EVENT_FAMILY_IPV4]
            if v4 or hits:
                return (v4 or hits)[0]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def rpc(path, method):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method}).encode() + b"\n")
        buf = b""
        while b"\n" not in buf:
            data = s.recv(65536)
            if not data:
                break
            buf += data
        return json.loads(buf.split(b"\n", 1)[0])


def mptcp_counters(ns):
    """The namespace's MPTcpExt counters (/proc/net/netstat) by name; {} when unreadable."""
    lines = nsx(ns, "cat", "/proc/net/netstat", capture=True, check=False).stdout.splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("MPTcpExt:"):
            return dict(zip(names.split()[1:], (int(v) for v in values.split()[1:])))
    return {}


# A column's joins: those the client sent, the MP_TCPRST resets it received (any subflow, any
# reason), and the server's DSS mapping mismatches, after which its receive path resets the
# subflow: a join so reset has no successor under the in-kernel path manager.
JOIN_COUNTERS = (("joins sent (client)", "c", "MPJoinSynTx"), ("MP_TCPRST recv (client)", "c", "MPRstRx"),
                 ("DSSNotMatching (server)", "s", "DSSNotMatching"))


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Setup:
    """What one column runs: start(lab, tmp) / stop(); `daemon` False for the kernel alone."""
    daemon = True

    def __init__(self, key, name):
        self.key, self.name = key, name
        self.proc = self.events = self.log = self.socket = None

    def policy(self):
        raise NotImplementedError

    def start(self, lab, tmp, binary):
        state = os.path.join(tmp, "state-%s" % lab.name)
        self.socket = os.path.join(tmp, "%s.sock" % lab.name)
        path = os.path.join(tmp, "%s-%s.toml" % (self.key, lab.name))
        with open(path, "w") as f:
            f.write('[daemon]\nstate_directory = "%s"\nsocket = "%s"\nresync_interval = 0\n%s'
                    % (state, self.socket, self.policy()))
        self.log = open(os.path.join(tmp, "mptcpctld-%s-%s.log" % (self.key, lab.name)), "w")
        self.proc = subprocess.Popen([binary, "-n", lab.c, "--config", path, "--log-level", "info"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit("bench: mptcpctld (%s) exited: see %s" % (self.name, self.log.name))
            try:
                if "result" in rpc(self.socket, "status"):
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench: mptcpctld (%s) did not answer status: see %s" % (self.name, self.log.name))
            time.sleep(0.1)
        self.events = Events(self.socket)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        if self.events:
            self.events.close()
            self.events = None
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class KernelAlone(Setup):
    daemon = False
    flags = ()

    def __init__(self, key="kernel", name="kernel PM alone"):
        super().__init__(key, name)

    def start(self, lab, tmp, binary):
        nsx(lab.c, "sysctl", "-qw", "net.mptcp.path_manager=kernel")
        nsx(lab.c, "ip", "mptcp", "limits", "set", "subflows", "8", "add_addr_accepted", "8")
        nsx(lab.c, "ip", "mptcp", "endpoint", "add", CLIENT2, "dev", "eth2", "subflow", *self.flags)


class KernelAloneBackup(KernelAlone):
    """The kernel alone with path 2 a backup endpoint: what active-backup is without the daemon."""
    flags = ("backup",)

    def __init__(self):
        super().__init__("kbackup", "kernel, backup")


class DaemonKernel(Setup):
    def __init__(self):
        super().__init__("dkernel", "mptcpctld kernel")

    def policy(self):
        return ('[kernel]\npath_manager = "kernel"\nlimits = { subflows = 8, add_addr_accepted = 8 }\n'
                'on_exit = "remove"\n[[interface]]\nname = "eth*"\nrole = "active"\n')


class DaemonUserspace(Setup):
    def __init__(self, mode):
        super().__init__("aggregate" if mode == "aggregate" else "backup",
                         "ud aggregate" if mode == "aggregate" else "ud active-backup")
        self.mode = mode

    def policy(self):
        if self.mode == "aggregate":
            interfaces = '[[interface]]\nname = "eth*"\nrole = "active"\n'
        else:
            interfaces = ('[[interface]]\nname = "eth1"\nrole = "active"\n'
                          '[[interface]]\nname = "eth2"\nrole = "backup"\n')
        return ('[kernel]\npath_manager = "userspace"\n%s'
                '[[connection]]\nname = "bench"\nstrategy = "per-interface"\nmode = "%s"\n' % (interfaces, self.mode))


SETUPS = {"kernel": KernelAlone, "dkernel": DaemonKernel,
          "aggregate": lambda: DaemonUserspace("aggregate"), "backup": lambda: DaemonUserspace("active-backup"),
          "kbackup": KernelAloneBackup}
# The stall target compares each daemon setup with the kernel alone (the reference);
# active-backup also with the kernel alone in active-backup (a backup endpoint), like for like.
STALL_REFERENCES = {"backup": ("kernel", "kbackup")}


class Transfer:
    """One bulk transfer to the service; direction "upload" (the client sends) or "download"."""
    port = 6000

    def __init__(self, lab, direction, seconds):
        Transfer.port += 1
        self.lab, self.direction, self.port = lab, direction, Transfer.port
        srole, crole = ("recv", "send") if direction == "upload" else ("send", "recv")
        self.server = subprocess.Popen(["ip", "netns", "exec", lab.s, PY, PEER, "server", "--port", str(self.port),
                                        "--role", srole, "--seconds", str(seconds)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if "listening" not in self.server.stdout.readline():
            raise SystemExit("bench: the transfer server did not start: %s" % self.server.stderr.read())
        self.client = subprocess.Popen(["ip", "netns", "exec", lab.c, PY, PEER, "client", "--connect", SERVICE,
                                        "--port", str(self.port), "--role", crole, "--seconds", str(seconds)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started = time.monotonic()

    def stop_sender(self):
        sender = self.client if self.direction == "upload" else self.server
        if sender.poll() is None:
            sender.terminate()

    def finish(self, timeout):
        try:
            cout, cerr = self.client.communicate(timeout=timeout)
            sout, serr = self.server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.client.kill()
            self.server.kill()
            self.client.communicate()
            self.server.communicate()
            return None
        receiver = sout if self.direction == "upload" else cout
        return next((r for r in json_lines(receiver) if r.get("event") == "received"), None)

    def path1_acked(self):
        """{local port: bytes_acked} of the client's subflows from path 1's address."""
        text = nsx(self.lab.c, "ss", "-tinH", "state", "all", "( dport = :%d )" % self.port,
                   capture=True, check=False).stdout
        out, key = {}, None
        for line in text.splitlines():
            if line and not line[0].isspace():
                words = line.split()
                key = None
                if len(words) >= 5:
                    local = words[3]
                    host, _, lport = local.rpartition(":")
                    if host.split("%")[0] == CLIENT1:
                        key = lport
                        out[key] = 0
            elif key is not None:
                for w in line.split():
                    if w.startswith("bytes_acked:"):
                        out[key] = int(w.split(":", 1)[1])
        return out


def stall_and_t90(rec, t0, t_heal, ref_mbit):
    """(stall s, t90 s or None, where the stall began in s after the blackhole) after the
    blackhole at t0 (monotonic), until t_heal."""
    if not rec or rec.get("first") is None:
        return None, None, None
    if rec["last"] is None or rec["last"] < t0:
        return t_heal - t0, None, 0.0
    stall, began = longest_gap(rec["gaps"], t0, t_heal)
    stall_from = None if began is None else began - t0
    # t90: the end of the first 250 ms window after the blackhole that reaches 90 % of one
    # path's rate and stays there for SUSTAIN windows in a row (a burst of data released
    # after head-of-line blocking does not count as recovered).
    samples = rec["samples"]
    need = 0.9 * ref_mbit * 1e6 / 8 * WINDOW
    lag = int(round(WINDOW / 0.05))
    def reaches(i):
        return i < len(samples) and samples[i][0] <= t_heal and samples[i][1] - samples[i - lag][1] >= need
    for i in range(lag, len(samples)):
        if samples[i - lag][0] < t0 - 1e-6:
            continue
        if samples[i][0] > t_heal:
            break
        if all(reaches(i + k * lag) for k in range(SUSTAIN)):
            return stall, samples[i][0] - t0, stall_from
    return stall, None, stall_from


def longest_gap(gaps, start, end):
    """(length, start) of the longest of the receiver's pauses cut to [start, end]; (0.0, None) when none."""
    longest, began = 0.0, None
    for a, b in gaps:
        if b > start and a < end and min(b, end) - max(a, start) > longest:
            longest, began = min(b, end) - max(a, start), max(a, start)
    return longest, began


def pause_after(rec, t_heal, seconds=HEAL_PAUSE_WINDOW):
    """The longest pause at the receiver within `seconds` after healing (0 when none), or None
    without a record."""
    if not rec or rec.get("first") is None or rec["last"] is None or rec["last"] < t_heal:
        return None
    return longest_gap(rec["gaps"], t_heal, t_heal + seconds)[0]


def reference_rate(lab):
    """One path's goodput (Mbit/s): a plain MPTCP upload over uplink 1 before the setup starts in that lab."""
    t = Transfer(lab, "upload", 4.0)
    rec = t.finish(60)
    if not rec or len(rec["samples"]) < 60:
        raise SystemExit("bench: the single-path reference transfer failed")
    (ta, ba), (tb, bb) = rec["samples"][20], rec["samples"][-1]
    return (bb - ba) * 8 / (tb - ta) / 1e6


def detection(setup, t_wall, heal_wall):
    """Seconds from the blackhole to the path_down event while it lasted, or None."""
    if not setup.daemon or not setup.events:
        return None
    e = setup.events.find(EVENT_PATH_DOWN, "eth1", t_wall, 0.2, until=heal_wall)
    return None if e is None else float(e["time"]) - t_wall


def settle(setup, heal_wall, detected):
    """After healing: waits for path_up when the daemon said path_down, then a moment, so the next run starts healthy."""
    if detected is not None and setup.events:
        setup.events.find(EVENT_PATH_UP, "eth1", heal_wall, 10)
    time.sleep(2.0)


def stall_episode(lab, setup, direction, ref):
    """A transfer blackholed BLACKHOLE_AT s in for STALL_OUTAGE s: stall, t90, detection."""
    t = Transfer(lab, direction, BLACKHOLE_AT + STALL_OUTAGE + 3.0)
    time.sleep(max(0.0, t.started + BLACKHOLE_AT - time.monotonic()))
    t0, w0 = lab.blackhole()
    time.sleep(max(0.0, t0 + STALL_OUTAGE - time.monotonic()))
    t1, w1 = lab.heal()
    rec = t.finish(120)
    stall, t90, stall_from = stall_and_t90(rec, t0, t1, ref)
    found = detection(setup, w0, w1)
    settle(setup, w1, found)
    return {"stall": stall, "t90": t90, "stall_from": stall_from, "heal_pause": pause_after(rec, t1), "detection": found,
            "received": rec is not None}


def connect_episode(lab, setup, port):
    """New connections at CONNECT_OFFSETS after the blackhole: one record per offset, and detection."""
    t0, w0 = lab.blackhole()
    conn = subprocess.Popen(["ip", "netns", "exec", lab.c, PY, PEER, "connect", "--connect", SERVICE, "--port", str(port),
                             "--at", repr(t0), "--offsets", ",".join(str(o) for o in CONNECT_OFFSETS),
                             "--timeout", str(CONNECT_TIMEOUT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = conn.communicate(timeout=max(CONNECT_OFFSETS) + CONNECT_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        conn.kill()
        out, err = conn.communicate()
    t1, w1 = lab.heal()
    found = detection(setup, w0, w1)
    records = [r for r in json_lines(out) if r.get("event") == "connect"]
    for r in records:
        r["after_blackhole"] = r["started"] - t0  # the offset as it happened
    settle(setup, w1, found)
    return {"connections": records, "detection": found}


class FailbackTrace:
    """What the client and the server saw around one healing, for a failback slower than
    FAILBACK_TARGET: every TRACE_EVERY s for TRACE_SECONDS, both ends' `ss -Mtin` of the
    transfer and their non-zero MPTcpExt counters (`mptcp_counters`), and the daemon's health events
    (the only kind `Events` reads) from the blackhole on, stamped against the healing. Taken by a thread, written only on a miss."""

    def __init__(self, lab, port):
        self.lab, self.port, self.snaps = lab, port, []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def snap(self):
        def counters(ns):
            return " ".join("%s=%d" % kv for kv in mptcp_counters(ns).items() if kv[1])
        return (time.monotonic(),
                nsx(self.lab.c, "ss", "-MtinH", "state", "all", "( dport = :%d )" % self.port, capture=True, check=False).stdout,
                nsx(self.lab.s, "ss", "-MtinH", "state", "all", "( sport = :%d )" % self.port, capture=True, check=False).stdout,
                counters(self.lab.c), counters(self.lab.s))

    def start(self):
        self.snaps.append(self.snap())
        self.thread.start()

    def _run(self):
        end = time.monotonic() + TRACE_SECONDS
        while not self.stopped.wait(TRACE_EVERY) and time.monotonic() < end:
            self.snaps.append(self.snap())

    def write(self, path, setup, outage, failback, t_heal, w_blackhole, w_heal):
        self.stopped.set()
        self.thread.join()
        with open(path, "a") as f:
            f.write("=== %s, %g s outage: failback %s\n" % (setup.name, outage, fmt_s(failback)))
            if setup.events:
                with setup.events.lock:
                    events = [e for e in setup.events.events if float(e.get("time", 0)) >= w_blackhole - 0.5]
                for e in events:
                    f.write("  event %+.3f s %s\n" % (float(e["time"]) - w_heal, json.dumps(e, sort_keys=True)))
            for at, client, server, cc, sc in self.snaps:
                f.write("--- %+.2f s\nclient:\n%s\nserver:\n%s\nMPTcpExt client: %s\nMPTcpExt server: %s\n"
                        % (at - t_heal, client.rstrip(), server.rstrip(), cc, sc))

    def discard(self):
        self.stopped.set()
        self.thread.join()


def failback_episode(lab, setup, outage, wait, trace_path=None):
    """An upload blackholed BLACKHOLE_AT s in for `outage` s: seconds from healing until
    FAILBACK_BYTES more are acked on path 1's subflows (None: not within `wait`), and detection.
    A failback slower than FAILBACK_TARGET is traced to `trace_path` (FailbackTrace)."""
    t = Transfer(lab, "upload", BLACKHOLE_AT + outage + wait + 5.0)
    time.sleep(max(0.0, t.started + BLACKHOLE_AT - time.monotonic()))
    t0, w0 = lab.blackhole()
    time.sleep(max(0.0, t0 + outage - time.monotonic()))
    trace = FailbackTrace(lab, t.port) if trace_path else None
    if trace:
        trace.start()
    base = t.path1_acked()
    t1, w1 = lab.heal()
    seen = dict(base)
    failback = None
    while time.monotonic() < t1 + wait:
        now = time.monotonic()
        for port, acked in t.path1_acked().items():
            seen[port] = max(seen.get(port, 0), acked)
        grown = sum(acked - base.get(port, 0) for port, acked in seen.items())
        if grown >= FAILBACK_BYTES:
            failback = now - t1
            break
        if t.client.poll() is not None:
            break
        time.sleep(0.05)
    if trace and (failback is None or failback > FAILBACK_TARGET):
        trace.write(trace_path, setup, outage, failback, t1, w0, w1)
    elif trace:
        trace.discard()
    t.stop_sender()
    t.finish(60)
    found = detection(setup, w0, w1)
    settle(setup, w1, found)
    return {"outage": outage, "failback": failback, "detection": found}


def probing(lab, setup, window):
    """Echo requests per second at each router and the daemon's CPU, over `window` s of idling."""
    c0, cpu0, t0 = lab.echo_requests(), (cpu_seconds(setup.pid) if setup.pid else None), time.monotonic()
    time.sleep(window)
    c1, cpu1, t1 = lab.echo_requests(), (cpu_seconds(setup.pid) if setup.pid else None), time.monotonic()
    elapsed = t1 - t0
    rates = {str(u): [(c1[u][i] - c0[u][i]) / elapsed for i in (0, 1)] for u in c0}
    cpu = None if cpu0 is None else (cpu1 - cpu0) / elapsed * 100.0
    return {"per_second": rates, "cpu_percent": cpu, "window": elapsed}


def wait_ready(lab, setup):
    """The setup has made what it makes on eth2 (an endpoint, or the userspace PM selected), then probes settle."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if isinstance(setup, DaemonUserspace):
            if nsx(lab.c, "sysctl", "-n", "net.mptcp.path_manager", capture=True).stdout.strip() == "userspace":
                break
        elif CLIENT2 in nsx(lab.c, "ip", "mptcp", "endpoint", "show", capture=True).stdout:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("bench: %s made nothing on eth2 within 60 s" % setup.name)
    time.sleep(3.0)  # probes measure an RTT before the first blackhole


def warm_up(lab):
    """A short upload; whether a subflow from path 2's address carried data (the setup works at all)."""
    t = Transfer(lab, "upload", 4.0)
    time.sleep(3.0)
    text = nsx(lab.c, "ss", "-tinH", "( dport = :%d )" % t.port, capture=True, check=False).stdout
    t.finish(60)
    return CLIENT2 in text


class Column:
    """One setup's lab, daemon and results. Every column's lab is up for the whole run and the
    columns take turns episode by episode, so a change in the machine's load over the run
    (it is shared) falls on every setup alike rather than on whichever ran then."""

    def __init__(self, setup):
        self.setup, self.lab, self.acceptor, self.ref, self.counted = setup, None, None, None, None
        self.result = {"name": setup.name, "key": setup.key, "daemon": setup.daemon, "detections": {}, "stall": {"upload": [], "download": []},
                       "connections": [], "failback": {}}

    @property
    def live(self):
        return "error" not in self.result

    def prepare(self, args, tmp, log):
        self.lab = Lab(args.blackhole)
        self.result["reference_mbit"] = self.ref = reference_rate(self.lab)
        self.setup.start(self.lab, tmp, args.mptcpctld)
        wait_ready(self.lab, self.setup)
        self.result["path2_used"] = warm_up(self.lab)
        log("%s: one path %.1f Mbit/s; path 2 %s" % (self.setup.name, self.ref,
                                                    "used" if self.result["path2_used"] else "NOT used"))
        self.acceptor = accept_server(self.lab.s, ACCEPT_PORT)
        self.counted = {"c": mptcp_counters(self.lab.c), "s": mptcp_counters(self.lab.s)}
        time.sleep(0.3)

    def joins(self):
        """JOIN_COUNTERS over the measured episodes (from the end of `prepare`)."""
        now = {"c": mptcp_counters(self.lab.c), "s": mptcp_counters(self.lab.s)}
        if not all(self.counted.values()) or not all(now.values()):
            return  # unreadable: the table shows "-"
        self.result["joins"] = {key: now[side].get(key, 0) - self.counted[side].get(key, 0)
                                for _, side, key in JOIN_COUNTERS}

    def probe(self, window):
        self.result["probing"] = probing(self.lab, self.setup, window)

    def stall(self, run, direction, log):
        r = stall_episode(self.lab, self.setup, direction, self.ref)
        self.result["stall"][direction].append(r)
        self.result["detections"].setdefault(direction, []).append(r["detection"])
        log("%s run %d %s: stall %s from %s, t90 %s, detection %s, pause after healing %s"
            % (self.setup.name, run + 1, direction, fmt_s(r["stall"]), fmt_s(r["stall_from"]), fmt_s(r["t90"]),
               fmt_s(r["detection"]), fmt_s(r["heal_pause"])))

    def connect(self, run, log):
        r = connect_episode(self.lab, self.setup, ACCEPT_PORT)
        self.result["connections"].append(r["connections"])
        self.result["detections"].setdefault("no transfer (new connections)", []).append(r["detection"])
        log("%s run %d connect: %s" % (self.setup.name, run + 1, " ".join(
            "%.1fs:%s" % (c["offset"], ("%.1fms%s" % (c["seconds"] * 1000, "" if c["mptcp"] else "/TCP"))
                          if c["ok"] else "fail")
            for c in sorted(r["connections"], key=lambda c: c["offset"]))))

    def failback(self, run, outage, args, tmp, log):
        r = failback_episode(self.lab, self.setup, outage, args.failback_wait,
                             trace_path=os.path.join(tmp, "failback-trace-%s.txt" % self.setup.key))
        self.result["failback"].setdefault(str(outage), []).append(r["failback"])
        self.result["detections"].setdefault("upload, %g s outage" % outage, []).append(r["detection"])
        log("%s run %d failback after %g s: %s" % (self.setup.name, run + 1, outage, fmt_s(r["failback"])))

    def guard(self, log, step, *args):
        """Runs one step; a setup that fails (a daemon that exits, a lab that breaks, a
        surprise in the script) leaves the others' columns: its own keeps what it measured,
        says why it stopped, and its lab goes."""
        if not self.live:
            return
        try:
            step(*args)
            if self.setup.proc is not None and self.setup.proc.poll() is not None:
                raise SystemExit("mptcpctld exited (status %s): see %s" % (self.setup.proc.returncode, self.setup.log.name))
        except (SystemExit, Exception) as e:
            detail = str(e) if isinstance(e, SystemExit) else traceback.format_exc()
            log("%s stopped: %s" % (self.setup.name, detail))
            self.result["error"] = str(e) or type(e).__name__
            self.close()

    def close(self):
        """Idempotent; each part is given back even when another fails."""
        acceptor, lab, self.acceptor, self.lab = self.acceptor, self.lab, None, None
        for part in ((lambda: (acceptor.kill(), acceptor.wait())) if acceptor else None, self.setup.stop,
                     lab.close if lab else None):
            if part is None:
                continue
            try:
                part()
            except Exception as e:
                print("bench: cleaning up %s: %s" % (self.setup.name, e), file=sys.stderr)


def measure(setups, args, tmp, log):
    """Every setup's column, its episodes interleaved with the others' (Column)."""
    columns = [Column(s) for s in setups]
    def each(step, *a):
        for c in columns:
            c.guard(log, getattr(c, step), *a)
    try:
        each("prepare", args, tmp, log)
        each("probe", args.probe_window)  # one column at a time, every other one idle
        for run in range(args.runs):
            if "stall" in args.measure:
                for _ in range(args.stall_repeats):
                    for direction in ("upload", "download"):
                        each("stall", run, direction, log)
            if "connect" in args.measure:
                each("connect", run, log)
            if "failback" in args.measure:
                for outage in args.outages:
                    each("failback", run, outage, args, tmp, log)
        each("joins")
        return [c.result for c in columns]
    finally:
        for c in columns:
            c.close()


def accept_server(lab_ns, port):
    return subprocess.Popen(["ip", "netns", "exec", lab_ns, PY, PEER, "accept", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fmt_s(v):
    return "-" if v is None else "%.3f s" % v


# --- the report ---

def cell_stats(values, scale=1.0):
    """'median / p95 (k/n)' of the measured values; misses counted."""
    got = [v * scale for v in values if v is not None]
    if not values:
        return "-"
    if not got:
        return "none of %d" % len(values)
    text = "%.2f / %.2f" % (statistics.median(got), percentile(got, 95))
    return text + ("" if len(got) == len(values) else " (%d/%d)" % (len(got), len(values)))


def table(title, setups_results, rows, note=None):
    print()
    print(title)
    if note:
        print("  " + note)
    width = 26
    print("%-30s" % "" + "".join("%*s" % (width, r["name"]) for r in setups_results))
    for label, cell in rows:
        print("%-30s" % label + "".join("%*s" % (width, "did not run" if "error" in r else cell(r))
                                        for r in setups_results))


def connection_cell(r, offset, what):
    recs = [c for run in r["connections"] for c in run if abs(c["offset"] - offset) < 1e-6]
    if not recs:
        return "-"
    ok = [c for c in recs if c["ok"]]
    if what == "success":
        return "%d/%d" % (len(ok), len(recs))
    if what == "mptcp":
        return "%d/%d" % (sum(1 for c in ok if c["mptcp"]), len(recs))
    return cell_stats([c["seconds"] for c in ok], scale=1000.0) if ok else "none"


def report(results, args):
    n = len(results)
    if not n:
        return
    def window(kind):
        """How long the blackhole of that kind of episode lasted (s)."""
        if kind in ("upload", "download"):
            return STALL_OUTAGE
        if kind.startswith("upload, "):
            return float(kind.split()[1])
        return max(CONNECT_OFFSETS) + CONNECT_TIMEOUT

    def detection_cell(r, kind):
        values = r["detections"].get(kind, [])
        if not r["daemon"]:
            return "n/a (no daemon)"
        if values and all(v is None for v in values):
            return "not detected within %g s" % window(kind)
        return cell_stats(values)

    table("detection: blackhole -> %s event for eth1 (s, median / p95; (k/n): only k of n blackholes saw it)"
          % EVENT_PATH_DOWN, results,
          [(kind, lambda r, k=kind: detection_cell(r, k))
           for kind in sorted({k for r in results for k in r.get("detections", {})})],
          note="target: <= 1.5 s p95 at default settings")
    for direction in ("upload", "download") if "stall" in args.measure else ():
        table("%s blackholed %g s in, %g s outage: stall and time to 90 %% of one path's rate (s, median / p95)"
              % (direction, BLACKHOLE_AT, STALL_OUTAGE), results,
              [("stall", lambda r, d=direction: cell_stats([e["stall"] for e in r["stall"][d]])),
               ("t90 (reached/runs)", lambda r, d=direction: cell_stats([e["t90"] for e in r["stall"][d]])),
               ("pause after healing", lambda r, d=direction: cell_stats([e.get("heal_pause") for e in r["stall"][d]])),
               ("one path's rate (Mbit/s)", lambda r: "%.1f" % r["reference_mbit"])],
              note="t90: 90 % for 1 s in a row; not reached before healing counts as a miss; "
                   "target: stall no worse than the kernel's alone")
    rows = []
    for o in CONNECT_OFFSETS if "connect" in args.measure else ():
        rows += [("%.1f s: connected" % o, lambda r, o=o: connection_cell(r, o, "success")),
                 ("%.1f s: as MPTCP" % o, lambda r, o=o: connection_cell(r, o, "mptcp")),
                 ("%.1f s: connect ms (med / p95)" % o, lambda r, o=o: connection_cell(r, o, "time"))]
    if rows:
        table("new connections opened after the blackhole (%g s timeout)" % CONNECT_TIMEOUT, results, rows,
              note="target: every connection opened >= 2 s after the blackhole connects within 1 s, as MPTCP")
    if "failback" in args.measure:
        table("failback: healed -> %d KiB more acked on path 1's subflows (s, median / p95)" % (FAILBACK_BYTES // 1024),
              results, [("after %g s outage" % o, lambda r, o=o: cell_stats(r["failback"].get(str(o), [])))
                        for o in args.outages],
              note="target: <= 1 s whatever the outage; (k/n): only k of n runs failed back within %g s"
                   % args.failback_wait)
    if any("joins" in r for r in results):
        table("joins, and the resets that follow the kernel's DSS mapping mismatch (README: connections that lose"
              " their second subflow)", results,
              [(label, lambda r, k=key: str(r["joins"][k]) if "joins" in r else "-") for label, _, key in JOIN_COUNTERS],
              note="counted over every episode; a join the server resets after a DSSNotMatching is never opened again"
                   " by the in-kernel path manager, and a blackhole of path 1 then stalls its connection for the whole outage")
    table("probing while idle (%g s): ICMP echo requests per second arriving at each router, daemon CPU"
          % args.probe_window, results,
          [("uplink 1 IPv4 / IPv6 (pkt/s)", lambda r: "%.2f / %.2f" % tuple(r["probing"]["per_second"]["1"])),
           ("uplink 2 IPv4 / IPv6 (pkt/s)", lambda r: "%.2f / %.2f" % tuple(r["probing"]["per_second"]["2"])),
           ("daemon CPU (%)", lambda r: "-" if r["probing"]["cpu_percent"] is None else "%.2f" % r["probing"]["cpu_percent"])],
          note="target: <= 1 probe per interval (%g s default: %.1f/s) per path" % (PROBE_INTERVAL_S, 1 / PROBE_INTERVAL_S))
    summary(results, args)


def median_difference(ours, theirs, seed=14):
    """(median(ours) - median(theirs), and its 95 % bootstrap interval): both samples resampled
    with replacement BOOTSTRAP times, seeded so a report can be reproduced from its JSON."""
    rng = random.Random(seed)
    diffs = sorted(statistics.median(rng.choices(ours, k=len(ours))) - statistics.median(rng.choices(theirs, k=len(theirs)))
                   for _ in range(BOOTSTRAP))
    return (statistics.median(ours) - statistics.median(theirs),
            diffs[int(0.025 * (BOOTSTRAP - 1))], diffs[int(0.975 * (BOOTSTRAP - 1))])


def stall_verdict(ours, theirs, reference):
    """The stall target, 'no worse than the kernel's alone', on two samples of stalls (s; theirs:
    the reference setup named `reference`), by the
    difference of their medians and its 95 % interval: "no worse" when the interval's top is at
    most STALL_MARGIN, "worse" when its bottom is above it, else "not told apart"; no verdict
    on fewer than STALL_MIN transfers a side. The stall is bimodal (one or two retransmission
    timeouts of the dead subflow, about 0.2 or 0.45 s), so a ratio of two medians of a few
    transfers swings either way between runs of the same code."""
    text = "median %.3f s vs %s %.3f s" % (statistics.median(ours), reference, statistics.median(theirs))
    if min(len(ours), len(theirs)) < STALL_MIN:
        return text + ": too few transfers to judge (%d and %d; at least %d a side)" % (len(ours), len(theirs), STALL_MIN)
    diff, low, high = median_difference(ours, theirs)
    if high <= STALL_MARGIN:
        word = "no worse"
    elif low > STALL_MARGIN:
        word = "worse"
    else:
        word = "not told apart by %d and %d transfers" % (len(ours), len(theirs))
    return text + ": difference %+.3f s, 95 %% interval %+.3f to %+.3f s: %s" % (diff, low, high, word)


def summary(results, args):
    print()
    print("summary against the issue's targets (reported, not asserted):")
    references = {r["key"]: r for r in results if not r["daemon"] and "error" not in r}
    for r in results:
        if "error" in r:
            print("  %s: did not run: %s" % (r["name"], r["error"]))
            continue
        if not r["daemon"]:
            continue
        lines = []
        det = [v for vs in r["detections"].values() for v in vs]
        got = [v for v in det if v is not None]
        if not got:
            lines.append("detection: no %s event in %d blackholes" % (EVENT_PATH_DOWN, len(det)))
        else:
            p95 = percentile(got, 95)
            lines.append("detection p95 %.2f s in %d/%d blackholes (target <= 1.5 s): %s"
                         % (p95, len(got), len(det), "met" if p95 <= 1.5 and len(got) == len(det) else "NOT met"))
        if "connect" in args.measure:
            late = [c for run in r["connections"] for c in run if c["offset"] >= 2.0]
            good = [c for c in late if c["ok"] and c["seconds"] <= 1.0 and c["mptcp"]]
            lines.append("connections >= 2 s after: %d/%d within 1 s as MPTCP: %s"
                         % (len(good), len(late), "met" if late and len(good) == len(late) else "NOT met"))
        if "failback" in args.measure:
            fb = [v for vs in r["failback"].values() for v in vs]
            fb_ok = [v for v in fb if v is not None and v <= 1.0]
            lines.append("failback <= 1 s: %d/%d: %s"
                         % (len(fb_ok), len(fb), "met" if fb and len(fb_ok) == len(fb) else "NOT met"))
        for key in STALL_REFERENCES.get(r["key"], ("kernel",)) if "stall" in args.measure else ():
            ref = references.get(key)
            for d in ("upload", "download") if ref else ():
                ours = [e["stall"] for e in r["stall"][d] if e["stall"] is not None]
                theirs = [e["stall"] for e in ref["stall"][d] if e["stall"] is not None]
                if ours and theirs:
                    lines.append("stall %s: %s" % (d, stall_verdict(ours, theirs, ref["name"])))
        rates = [v for u in ("1", "2") for v in r["probing"]["per_second"][u]]
        window = r["probing"]["window"]
        worst = max(rates) * window if rates else 0
        allowed = window / PROBE_INTERVAL_S + 1  # a window of W s holds at most W/interval + 1 probes
        if worst == 0:
            lines.append("probing: no echo request seen at either router (no ICMP probing)")
        else:
            lines.append("probing: at most %.0f echo requests in %.1f s per path and family (one per %g s interval"
                         " allows %.0f): %s" % (worst, window, PROBE_INTERVAL_S, allowed,
                                                "met" if worst <= allowed + 1e-6 else "NOT met"))
        print("  %s:" % r["name"])
        for line in lines:
            print("    " + line)


def main():
    p = argparse.ArgumentParser(prog="path-health.py", description=__doc__.split("\n\n")[0],
                                epilog="Run time: full (5 runs, 2/10/60 s outages) about 90-110 min for the five setups (70-90 for four), up to ~3 h when "
                                       "setups do not fail back; --stall-repeats 6 adds ~10 min per setup; --quick about 6-10 min.")
    p.add_argument("--mptcpctld", default=os.path.join(ROOT, ".build/release/mptcpctld"))
    p.add_argument("--runs", type=int, help="runs per measurement (default 5)")
    p.add_argument("--quick", action="store_true",
                   help="1 run, outages 2 and 10 s, 20 s failback wait, 5 s probe window (for development;"
                        " options given explicitly still apply)")
    p.add_argument("--setups", default="kernel,dkernel,aggregate,backup,kbackup",
                   help="comma-separated subset of kernel (PM alone), dkernel, aggregate, backup, kbackup"
                        " (PM alone, path 2 a backup endpoint)")
    p.add_argument("--outages", help="failback outages in seconds (default 2,10,60)")
    p.add_argument("--failback-wait", type=float, help="seconds after healing to wait for failback (default 90)")
    p.add_argument("--probe-window", type=float, help="idle seconds over which probing is counted (default 20)")
    p.add_argument("--stall-repeats", type=int,
                   help="stall transfers per direction in each run (default 2; 1 with --quick)")
    p.add_argument("--measure", default="stall,connect,failback",
                   help="comma-separated subset of stall, connect, failback (probing is always measured)")
    p.add_argument("--blackhole", choices=["router", "upstream"], default="router",
                   help="router: router 1 drops everything it receives (default); upstream: only what it forwards")
    p.add_argument("--json", help="write the raw results here (default: results.json in the log directory)")
    args = p.parse_args()
    defaults = {"runs": 5, "outages": "2,10,60", "failback_wait": 90.0, "probe_window": 20.0, "stall_repeats": 2}
    if args.quick:
        defaults = {"runs": 1, "outages": "2,10", "failback_wait": 20.0, "probe_window": 5.0, "stall_repeats": 1}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    try:
        args.outages = [float(x) for x in args.outages.split(",") if x]
    except ValueError:
        raise SystemExit("bench: --outages takes seconds separated by commas")
    args.measure = [m for m in args.measure.split(",") if m]
    if not args.measure or any(m not in MEASUREMENTS for m in args.measure):
        raise SystemExit("bench: --measure takes a subset of %s" % ",".join(MEASUREMENTS))
    if not 1 <= args.stall_repeats <= 20:
        raise SystemExit("bench: --stall-repeats is 1 to 20")
    keys = [k for k in args.setups.split(",") if k]
    if not keys or any(k not in SETUPS for k in keys):
        raise SystemExit("bench: --setups takes a subset of %s" % ",".join(SETUPS))
    if not 1 <= args.runs <= 100 or not args.outages or any(not 0 < o <= 600 for o in args.outages):
        raise SystemExit("bench: --runs is 1 to 100, outages 0 to 600 s")
    if os.geteuid() != 0:
        raise SystemExit("bench: must run as root")
    setups = [SETUPS[k]() for k in keys]
    if any(s.daemon for s in setups) and not os.access(args.mptcpctld, os.X_OK):
        raise SystemExit("bench: %s is not built (swift build -c release, or --mptcpctld)" % args.mptcpctld)
    def terminated(signum, frame):
        raise KeyboardInterrupt  # not caught by a column's guard: every lab and daemon is given back
    signal.signal(signal.SIGTERM, terminated)
    tmp = tempfile.mkdtemp(prefix="bench-path-health-")
    print("path health benchmark: kernel %s, %d CPUs, %s, %d run(s), blackhole %s"
          % (os.uname().release, os.cpu_count() or 0, time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), args.runs,
             args.blackhole))
    print("logs in %s" % tmp)
    started = time.monotonic()

    def log(text):
        print("  [%5.0f s] %s" % (time.monotonic() - started, text), file=sys.stderr, flush=True)

    results = measure(setups, args, tmp, log)
    path = args.json or os.path.join(tmp, "results.json")
    with open(path, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kernel": os.uname().release,
                   "cpus": os.cpu_count(), "runs": args.runs, "stall_repeats": args.stall_repeats, "measure": args.measure, "blackhole": args.blackhole, "results": results}, f, indent=1)
    report(results, args)
    print()
    print("raw results: %s; took %.0f s" % (path, time.monotonic() - started))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
