#!/usr/bin/env python3
"""The control API's speed: `mptcpctl status` as a whole process, and the
request rate for `status` over one connection, against a daemon in a
throw-away namespace. Reference in the same run: `ip mptcp endpoint show`
(a process that asks the kernel one question).

Usage (root): scripts/bench/api.py [--mptcpctl PATH] [--mptcpctld PATH] [--runs N] [--requests N]

Prints the medians and p99 of N runs (default 200) of each command, and the
rate of N requests (default 20000) written back to back on one connection and
answered in order. Targets (issue 5): status round trip under 15 ms, more than
20000 requests per second. Reported, not asserted: a benchmark on a shared
2-core machine is not a test.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def timed_runs(argv, runs):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        out.append((time.perf_counter() - t0) * 1000)
        if r.returncode != 0:
            raise SystemExit("bench-api: %s failed: %s" % (" ".join(argv), r.stderr.decode().strip()))
    return out


def request_rate(path, count):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    request = b'{"jsonrpc":"2.0","id":1,"method":"status"}\n'
    batch = 500
    answered = 0
    pending = b""
    t0 = time.perf_counter()
    sent = 0
    while answered < count:
        if sent < count and sent - answered < batch:
            n = min(batch, count - sent)
            s.sendall(request * n)
            sent += n
        data = s.recv(1 << 20)
        if not data:
            raise SystemExit("bench-api: the daemon closed the connection after %d answers" % answered)
        pending += data
        lines = pending.count(b"\n")
        answered += lines
        pending = pending[pending.rfind(b"\n") + 1:]
    seconds = time.perf_counter() - t0
    s.close()
    return count / seconds


def serve(mptcpctld, ns, tmp, label):
    """Starts a daemon in ns and waits for its socket; returns (process, socket path)."""
    policy = os.path.join(tmp, "policy-%s.toml" % label)
    state = os.path.join(tmp, "state-%s" % label)
    os.makedirs(state, exist_ok=True)
    with open(policy, "w") as f:
        f.write('[daemon]\nstate_directory = "%s"\nresync_interval = 0\n' % state)
    log = open(os.path.join(tmp, "daemon-%s.log" % label), "w")
    daemon = subprocess.Popen([mptcpctld, "-n", ns, "--config", policy, "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=log)
    path = "/run/mptcpctl/mptcpctld-%s.sock" % ns
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            raise SystemExit("bench-api: the daemon did not serve %s (log: %s)" % (path, log.name))
        time.sleep(0.02)
    time.sleep(0.2)
    return daemon, path


def stop(daemon):
    daemon.terminate()
    try:
        daemon.wait(10)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mptcpctl", default=os.path.join(ROOT, ".build/release/mptcpctl"))
    p.add_argument("--mptcpctld", default=os.path.join(ROOT, ".build/release/mptcpctld"))
    p.add_argument("--baseline", metavar="DIR",
                   help="a directory with an earlier mptcpctl and mptcpctld to measure in the same run")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--requests", type=int, default=20000)
    args = p.parse_args()
    builds = [("", args.mptcpctl, args.mptcpctld)]
    if args.baseline:
        builds.insert(0, (" (before)", os.path.join(args.baseline, "mptcpctl"), os.path.join(args.baseline, "mptcpctld")))
    for _, cli, daemon in builds:
        for path in (cli, daemon):
            if not os.access(path, os.X_OK):
                raise SystemExit("bench-api: %s is not built (run make release)" % path)
    if args.runs < 1 or args.requests < 1:
        raise SystemExit("bench-api: --runs and --requests must be positive")
    if os.geteuid() != 0:
        raise SystemExit("bench-api: run as root (it makes a network namespace)")

    ns = "mptapi-%d" % os.getpid()
    tmp = tempfile.mkdtemp(prefix="bench-api-")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for i in range(1, 5):
            subprocess.run(["ip", "-n", ns, "mptcp", "endpoint", "add", "10.0.%d.1" % i, "id", str(i), "subflow"], check=True)
        print("control API benchmark: kernel %s, %d CPUs, %s" % (
            os.uname().release, os.cpu_count(), time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())))
        print("%d runs each, as whole processes            median ms   p99 ms" % args.runs)
        rates = []
        for label, cli, mptcpctld in builds:
            daemon, path = serve(mptcpctld, ns, tmp, "before" if label else "after")
            try:
                ip = timed_runs(["ip", "-n", ns, "mptcp", "endpoint", "show"], args.runs)
                status = timed_runs([cli, "-n", ns, "status"], args.runs)
                print("ip -n NS mptcp endpoint show (reference)     %8.2f %8.2f" % (statistics.median(ip), percentile(ip, 99)))
                print("%-44s %8.2f %8.2f   (target: median < 15 ms)" % (
                    "mptcpctl -n NS status" + label, statistics.median(status), percentile(status, 99)))
                print("ratio of medians status%s / ip: %.2f" % (label, statistics.median(status) / statistics.median(ip)))
                rate = request_rate(path, args.requests)
                rates.append(rate)
                print("status requests over one connection%s: %d in order, %.0f per second (target > 20000)" % (
                    label, args.requests, rate))
            finally:
                stop(daemon)
        if len(rates) == 2:
            print("request rate after / before: %.2f" % (rates[1] / rates[0]))
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
