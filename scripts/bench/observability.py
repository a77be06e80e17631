#!/usr/bin/env python3
"""The cost of observability: mptcpctld's CPU on a host with 1 000 live MPTCP
connections, without and with its /metrics scraped every second and
`mptcpctl top` running, in one run on the same lab.

Usage (root): scripts/bench/observability.py [--mptcpctl PATH] [--mptcpctld PATH]
                                     [--connections N] [--seconds S] [--quick]

A two-path lab (scripts/lab/lab, unshaped veth); mptcpctld in the client with
the in-kernel path manager (a1 and a2 active: every connection gets a second
subflow on a2) and `[metrics] listen` on the client's loopback. N connections
(default 1 000; scripts/lab/mptcp-burst.py --hold) are opened, each with its
extra subflow, and kept open, idle, for the whole run. Then three phases of S
seconds each (default 60; --quick: 15):
  quiet     nothing reads the daemon;
  observed  /metrics fetched every second (a scraper inside the client's
            namespace, as a Prometheus would) and `mptcpctl top --json
            --interval 1` running (the CLI reads the kernel's connection table
            itself and asks the daemon for its paths);
  quiet     again (drift of the baseline);
  with --breakdown, then /metrics alone and top alone.
Each phase's daemon CPU is utime+stime of /proc/PID/stat (every thread),
in % of one core. The overhead is the observed phase's minus the mean of the
quiet ones, against the target: under 5 % of one core. top's own CPU and the
scraper's are reported apart (they are not the daemon's).

Prints a table; exit 0 when every phase ran (the target is reported, not
asserted: a benchmark on a shared 2-core machine is not a test).
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(ROOT, "scripts", "lab", "lab")
BURST = os.path.join(ROOT, "scripts", "lab", "mptcp-burst.py")
PY = sys.executable
METRICS = "127.0.0.1:9464"
TARGET_PERCENT = 5.0
TICK = os.sysconf("SC_CLK_TCK")

SCRAPER = r"""
import signal, sys, time, urllib.request
# Stopped by SIGINT, which a shell leaves ignored for a background job (and a
# Python started with it ignored raises no KeyboardInterrupt): take it back.
signal.signal(signal.SIGINT, signal.default_int_handler)
url, interval = sys.argv[1], float(sys.argv[2])
n = 0; size = 0; worst = 0.0; failed = 0
next_at = time.monotonic()
try:
    while True:
        t0 = time.monotonic()
        try:
            size = len(urllib.request.urlopen(url, timeout=10).read())
            n += 1
        except Exception:
            failed += 1
        worst = max(worst, time.monotonic() - t0)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
except KeyboardInterrupt:
    pass
print('{"scrapes": %d, "failed": %d, "bytes": %d, "worst_s": %.3f}' % (n, failed, size, worst), flush=True)
"""


def sh(*args, check=True, capture=False):
    r = subprocess.run(list(args), check=False, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise SystemExit("bench: %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def nsx(ns, *args, **kw):
    return sh("ip", "netns", "exec", ns, *args, **kw)


def cpu_seconds(pid):
    """utime + stime of the process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After "pid (comm)": state is field 3, utime 14 and stime 15 (1-based).
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_for(condition, what, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit("bench: timed out (%d s) waiting for %s" % (seconds, what))


class Lab:
    def __init__(self):
        # mptl-<PID>-...: `lab gc` sweeps it if this run dies.
        self.name = "mptl-%d-obs" % os.getpid()
        self.a, self.b = self.name + "-a", self.name + "-b"
        sh("bash", LAB, "gc", check=False)
        sh("bash", LAB, "up", self.name, "2")
        nsx(self.b, "sysctl", "-qw", "net.core.somaxconn=65535", "net.ipv4.tcp_max_syn_backlog=65535")

    def close(self):
        sh("bash", LAB, "down", self.name, check=False)


class Daemon:
    def __init__(self, binary, lab, tmp):
        policy = os.path.join(tmp, "mptcpctld.toml")
        with open(policy, "w") as f:
            f.write('[daemon]\nstate_directory = "%s"\nresync_interval = 0\n\n'
                    '[kernel]\npath_manager = "kernel"\nlimits = { subflows = 8, add_addr_accepted = 8 }\non_exit = "remove"\n\n'
                    '[metrics]\nlisten = "%s"\n\n'
                    '[[interface]]\nname = ["a1", "a2"]\nrole = "active"\nfamilies = ["ipv4"]\n'
                    % (os.path.join(tmp, "state"), METRICS))
        self.log = open(os.path.join(tmp, "mptcpctld.log"), "w")
        self.proc = subprocess.Popen([binary, "-n", lab.a, "--config", policy, "--log-level", "notice"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.pid = self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def endpoint_ready(lab):
    out = nsx(lab.a, "ip", "mptcp", "endpoint", "show", capture=True, check=False).stdout
    return "10.0.2.1" in out


def scraped(lab):
    r = nsx(lab.a, PY, "-c", "import urllib.request; urllib.request.urlopen('http://%s/metrics', timeout=5).read()" % METRICS,
            check=False)
    return r.returncode == 0


class Observers:
    """The scraper (1 s) and `mptcpctl top --json`, both in the client's namespace."""

    def __init__(self, mptcpctl, lab, tmp, scrape=True, top=True):
        self.scraper = self.top = None
        self.frames = 0
        self.frame_bytes = 0
        self.scrapes = {}
        self.top_ended_early = None
        if scrape:
            self.scraper = subprocess.Popen(["ip", "netns", "exec", lab.a, PY, "-u", "-c", SCRAPER,
                                             "http://%s/metrics" % METRICS, "1"],
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if top:
            self.top_err = open(os.path.join(tmp, "top.err"), "w")
            self.top = subprocess.Popen([mptcpctl, "-n", lab.a, "top", "--json", "--interval", "1"],
                                        stdout=subprocess.PIPE, stderr=self.top_err)
            self.reader = threading.Thread(target=self._count, daemon=True)
            self.reader.start()

    def _count(self):
        for line in self.top.stdout:
            self.frames += 1
            self.frame_bytes = len(line)

    def cpu(self):
        """(top's CPU seconds, the scraper's), None for one that is gone."""
        def of(p):
            if p is None:
                return None
            try:
                return cpu_seconds(p.pid)
            except (OSError, ValueError, IndexError):
                return None
        return of(self.top), of(self.scraper)

    def stop(self):
        if self.scraper:
            self.scraper.send_signal(2)
            try:
                out, _ = self.scraper.communicate(timeout=15)
                self.scrapes = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                self.scraper.kill()
        if not self.top:
            return
        top_status = self.top.poll()
        if top_status is None:
            self.top.terminate()
            try:
                self.top.wait(10)
            except subprocess.TimeoutExpired:
                self.top.kill()
                self.top.wait()
        self.top_ended_early = top_status
        self.top_err.close()


def phase(daemon, seconds, observers=None):
    """The daemon's CPU (% of one core) over `seconds`, and the observers' own."""
    d0, t0 = cpu_seconds(daemon.pid), time.monotonic()
    o0 = observers.cpu() if observers else (None, None)
    time.sleep(seconds)
    d1, t1 = cpu_seconds(daemon.pid), time.monotonic()
    o1 = observers.cpu() if observers else (None, None)
    wall = t1 - t0

    def pct(a, b):
        return None if a is None or b is None else (b - a) / wall * 100
    return {"daemon": pct(d0, d1), "top": pct(o0[0], o1[0]), "scraper": pct(o0[1], o1[1]), "wall": wall}


def fmt(v):
    return "-" if v is None else "%.2f %%" % v


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mptcpctl", default=os.path.join(ROOT, ".build", "release", "mptcpctl"))
    parser.add_argument("--mptcpctld", default=os.path.join(ROOT, ".build", "release", "mptcpctld"))
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=None, help="length of each phase (default 60, --quick 15)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--breakdown", action="store_true",
                        help="two more phases: /metrics alone, then top alone (each against the same quiet baseline)")
    args = parser.parse_args()
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root (namespaces)")
    for b in (args.mptcpctl, args.mptcpctld):
        if not os.access(b, os.X_OK):
            raise SystemExit("bench: %s is not built (make release)" % b)

    tmp = tempfile.mkdtemp(prefix="mptcpctl-obs-bench-")
    lab = Lab()
    daemon = server = client = None
    try:
        daemon = Daemon(args.mptcpctld, lab, tmp)
        wait_for(lambda: endpoint_ready(lab), "mptcpctld's endpoint on a2", 60)
        wait_for(lambda: scraped(lab), "mptcpctld's /metrics", 60)
        server = subprocess.Popen(["ip", "netns", "exec", lab.b, PY, "-u", BURST, "server", "--port", "5400"],
                                  stdout=subprocess.PIPE, text=True)
        server.stdout.readline()
        hold = 5 * seconds + 120
        client = subprocess.Popen(["ip", "netns", "exec", lab.a, PY, "-u", BURST, "client", "--connect", "10.0.1.2",
                                   "--port", "5400", "--count", str(args.connections), "--subflows", "1",
                                   "--timeout", "60", "--hold", str(hold)],
                                  stdout=subprocess.PIPE, text=True)
        held = json.loads(client.stdout.readline() or "{}")
        if held.get("event") != "held":
            raise SystemExit("bench: the connections were not opened: %s" % held)
        live = held["connected"] - held["missing"]
        print("bench: %d connections open (%d with their extra subflow), %s s phases"
              % (held["connected"], live, seconds), flush=True)
        time.sleep(5)  # the daemon's reaction to the burst is over

        def observed_phase(scrape, top):
            o = Observers(args.mptcpctl, lab, tmp, scrape=scrape, top=top)
            time.sleep(2)  # top's first frames and the first scrapes are its start, not its steady cost
            result = phase(daemon, seconds, o)
            o.stop()
            time.sleep(2)
            return result, o

        quiet1 = phase(daemon, seconds)
        observed, observers = observed_phase(True, True)
        quiet2 = phase(daemon, seconds)
        scrape_only, _ = observed_phase(True, False) if args.breakdown else (None, None)
        top_only, _ = observed_phase(False, True) if args.breakdown else (None, None)
        if daemon.proc.poll() is not None:
            raise SystemExit("bench: mptcpctld exited during the run: see %s" % daemon.log.name)

        baseline = (quiet1["daemon"] + quiet2["daemon"]) / 2
        overhead = observed["daemon"] - baseline
        print()
        print("observability overhead (%s, %s, %d cores, %s; %d connections, %d with 2 subflows)"
              % (platform.node(), platform.release(), os.cpu_count(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 held["connected"], live))
        print("| phase (%.0f s) | mptcpctld CPU | mptcpctl top CPU | scraper CPU |" % seconds)
        print("|---|---|---|---|")
        print("| quiet | %s | - | - |" % fmt(quiet1["daemon"]))
        print("| /metrics every 1 s + top | %s | %s | %s |" % (fmt(observed["daemon"]), fmt(observed["top"]), fmt(observed["scraper"])))
        print("| quiet again | %s | - | - |" % fmt(quiet2["daemon"]))
        if scrape_only:
            print("| /metrics every 1 s alone | %s | - | %s |" % (fmt(scrape_only["daemon"]), fmt(scrape_only["scraper"])))
            print("| top alone | %s | %s | - |" % (fmt(top_only["daemon"]), fmt(top_only["top"])))
        print("| **overhead** (observed − mean quiet) | **%s** of one core (target < %.0f %%: %s) | | |"
              % (fmt(overhead), TARGET_PERCENT, "met" if overhead < TARGET_PERCENT else "NOT met"))
        s = observers.scrapes
        print("scrapes: %s ok, %s failed, %s bytes each, slowest %s s; top: %d JSON frames (%d bytes the last)%s"
              % (s.get("scrapes", "?"), s.get("failed", "?"), s.get("bytes", "?"), s.get("worst_s", "?"),
                 observers.frames, observers.frame_bytes,
                 "" if observers.top_ended_early is None
                 else "; top EXITED early (%d): see %s" % (observers.top_ended_early, observers.top_err.name)))
        if observers.top_ended_early is not None or not s.get("scrapes"):
            print("bench: the observed phase did not run as meant (top ended early or no scrape succeeded)")
            return 1
    finally:
        for p in (client, server):
            if p and p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if daemon:
            daemon.stop()
        lab.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
