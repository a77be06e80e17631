#!/usr/bin/env python3
"""mptcpctld as the userspace path manager, against the in-kernel path manager
(the reference) and mptcpd, side by side in one run on the same lab.

Usage (root): scripts/bench/userspace-pm.py [--mptcpctld PATH] [--serial N] [--burst N]
                                     [--failover-runs N] [--no-mptcpd] [--no-trace] [--quick]

For each manager, in a fresh two-path lab (scripts/lab/lab, unshaped veth):
  latency   N serial connections (default 500): connect() to the first extra
            subflow established (MPTCP_TCPINFO), median and p99;
  burst     N connections at once (default 1000): wall time until every one
            has its extra subflow, and how many never got it (30 s limit);
  cpu       the manager's CPU time (every thread, /proc/PID/task/*/schedstat)
            over both phases, per connection, and for each phase alone;
  rss       the manager's resident memory after them;
  wake-ups  with tracefs (unless --no-trace), during the serial connections:
            how long mptcpctld's event thread waits for a CPU once woken, and
            how long the in-kernel PM's mptcp_worker waits once queued.
The kernel reference: one "subflow" endpoint on a2. mptcpctld: path_manager =
"userspace", per-interface over a1 and a2. mptcpd 0.12 (Debian package
"mptcpd", installed with apt-get when missing): path_manager = "userspace"
with its only userspace plugin, sspi.

Then, for the in-kernel PM (a "subflow,backup" endpoint on a2) and mptcpctld
(active-backup: a1 active, a2 backup), on two paths shaped to 50 Mbit/s with
tc tbf: a bulk transfer, 2 s in, the client's a1 goes down; the longest pause
between two reads at the receiver from then on is the failover gap. Median
of --failover-runs runs (default 5), uploads and downloads.

Last, goodput in aggregate mode over 2 and 3 such paths (the mean of two
10 s uploads, the first 2 s of each not counted) as a fraction of the summed
rate (tbf counts headers: about 0.956 is the ceiling).

Prints a table; exit 0 when every run happened (targets are reported, not
asserted: a benchmark on a shared 2-core machine is not a test).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAB = os.path.join(ROOT, "scripts", "lab", "lab")
BURST = os.path.join(ROOT, "scripts", "lab", "mptcp-burst.py")
BULK = os.path.join(ROOT, "scripts", "lab", "mptcp-bulk.py")
PY = sys.executable
MPTCPD = "/usr/libexec/mptcpd"


def sh(*args, check=True, capture=False):
    r = subprocess.run(list(args), check=False, text=True,
                       stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise SystemExit("bench: %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r


def nsx(ns, *args, **kw):
    return sh("ip", "netns", "exec", ns, *args, **kw)


def json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


class Lab:
    count = 0

    def __init__(self, paths, rate=0):
        Lab.count += 1
        self.name = "mptub-%d-%d" % (os.getpid(), Lab.count)
        self.a, self.b = self.name + "-a", self.name + "-b"
        sh("bash", LAB, "up", self.name, str(paths), str(rate))
        for ns in (self.a, self.b):
            nsx(ns, "ip", "mptcp", "limits", "set", "subflows", "8", "add_addr_accepted", "8")
        # No SYN of a burst dropped (two lost SYN+MP_CAPABLE fall back to plain TCP).
        nsx(self.b, "sysctl", "-qw", "net.core.somaxconn=65535", "net.ipv4.tcp_max_syn_backlog=65535")

    def close(self):
        sh("bash", LAB, "down", self.name, check=False)


class Manager:
    """A path manager for the client namespace: start(), pid (None: the kernel), stop()."""

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.log = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class KernelPM(Manager):
    def __init__(self, backup=False, paths=2):
        super().__init__("in-kernel PM")
        self.backup = backup
        self.paths = paths

    def start(self, lab, tmp):
        nsx(lab.a, "sysctl", "-qw", "net.mptcp.path_manager=kernel")
        for i in range(2, self.paths + 1):
            flags = ["subflow"] + (["backup"] if self.backup else [])
            nsx(lab.a, "ip", "mptcp", "endpoint", "add", "10.0.%d.1" % i, "dev", "a%d" % i, *flags)


class Mptcpctld(Manager):
    def __init__(self, binary, mode="aggregate", paths=2, name="mptcpctld"):
        super().__init__(name)
        self.binary = binary
        self.mode = mode
        self.paths = paths

    def start(self, lab, tmp):
        names = ", ".join('"a%d"' % i for i in range(1, self.paths + 1))
        if self.mode == "active-backup":
            interfaces = '[[interface]]\nname = "a1"\nrole = "active"\nfamilies = ["ipv4"]\n' \
                         '[[interface]]\nname = "a2"\nrole = "backup"\nfamilies = ["ipv4"]\n'
        else:
            interfaces = '[[interface]]\nname = [%s]\nrole = "active"\nfamilies = ["ipv4"]\n' % names
        policy = os.path.join(tmp, "mptcpctld-%s.toml" % lab.name)
        with open(policy, "w") as f:
            f.write('[daemon]\nstate_directory = "%s"\nresync_interval = 0\n'
                    '[kernel]\npath_manager = "userspace"\n%s'
                    '[[connection]]\nname = "bench"\nstrategy = "per-interface"\nmode = "%s"\nfailback_hold = "3s"\n'
                    % (os.path.join(tmp, "state"), interfaces, self.mode))
        self.log = open(os.path.join(tmp, "mptcpctld-%s.log" % lab.name), "w")
        self.proc = subprocess.Popen([self.binary, "-n", lab.a, "--config", policy, "--log-level", "notice"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        wait_for(lambda: sysctl(lab.a, "net.mptcp.path_manager") == "userspace", "mptcpctld to select userspace")
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise SystemExit("bench: mptcpctld exited: see %s" % self.log.name)


    def statistic(self, key):
        """A value of the "userspace path manager statistics" line logged at exit."""
        with open(self.log.name) as f:
            for line in f:
                if "userspace path manager statistics" in line:
                    for field in line.split():
                        if field.startswith(key + "="):
                            return int(field.split("=", 1)[1].strip('"'))
        return None


class Mptcpd(Manager):
    def __init__(self):
        super().__init__("mptcpd (sspi)")

    def start(self, lab, tmp):
        nsx(lab.a, "sysctl", "-qw", "net.mptcp.path_manager=userspace")
        self.log = open(os.path.join(tmp, "mptcpd-%s.log" % lab.name), "w")
        # "ip netns exec" execs mptcpd: the pid is mptcpd's.
        self.proc = subprocess.Popen(["ip", "netns", "exec", lab.a, MPTCPD, "--log=stderr",
                                      "--path-manager=sspi", "--load-plugins=sspi"],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise SystemExit("bench: mptcpd exited: see %s" % self.log.name)


TRACEFS = "/sys/kernel/tracing"


class WakeTrace:
    """How long the code that reacts to a new connection waits for a CPU, from
    tracefs in an instance of its own (the global trace is left alone):
    "thread" times mptcpctld's event thread from sched_waking to running,
    "kworker" times the in-kernel PM's mptcp_worker from queued to running.
    start() returns False when tracefs cannot be used; nothing is timed then."""

    def __init__(self, kind):
        self.kind = kind
        self.dir = None
        self.mounted = False

    def _write(self, path, text):
        with open(os.path.join(self.dir, path), "w") as f:
            f.write(text)

    def start(self):
        try:
            if not os.path.isdir(os.path.join(TRACEFS, "instances")):
                if sh("mount", "-t", "tracefs", "nodev", TRACEFS, check=False).returncode != 0:
                    return False
                self.mounted = True
            self.dir = os.path.join(TRACEFS, "instances", "mptcpctl-bench-%d" % os.getpid())
            os.mkdir(self.dir)
            self._write("buffer_size_kb", "8192")
            if self.kind == "thread":
                self._write("events/sched/sched_waking/filter", 'comm == "mptcpctld-event"')
                self._write("events/sched/sched_switch/filter", 'next_comm == "mptcpctld-event"')
                self._write("events/sched/sched_waking/enable", "1")
                self._write("events/sched/sched_switch/enable", "1")
            else:
                for e in ("workqueue_queue_work", "workqueue_execute_start"):
                    self._write("events/workqueue/%s/filter" % e, "function.function == mptcp_worker")
                    self._write("events/workqueue/%s/enable" % e, "1")
            self._write("tracing_on", "1")
            return True
        except OSError:
            self.stop()
            return False

    def stop(self):
        """The delays in microseconds (empty when nothing was traced)."""
        delays = []
        if self.dir and os.path.isdir(self.dir):
            try:
                self._write("tracing_on", "0")
                with open(os.path.join(self.dir, "trace")) as f:
                    text = f.read()
                delays = self._delays(text)
            except OSError:
                pass
            for e in ("sched/sched_waking", "sched/sched_switch", "workqueue/workqueue_queue_work",
                      "workqueue/workqueue_execute_start"):
                try:
                    self._write("events/%s/enable" % e, "0")
                except OSError:
                    pass
            try:
                os.rmdir(self.dir)
            except OSError:
                pass
        self.dir = None
        if self.mounted:
            sh("umount", TRACEFS, check=False)
            self.mounted = False
        return delays

    def _delays(self, text):
        pending = {}
        delays = []
        for line in text.splitlines():
            if line.startswith("#") or ": " not in line:
                continue
            head, _, rest = line.partition(": ")
            try:
                ts = float(head.split()[-1].rstrip(":"))
            except ValueError:
                continue
            event, _, fields = rest.partition(": ")
            if event == "sched_waking":
                key = next((f[4:] for f in fields.split() if f.startswith("pid=")), None)
                pending[key] = ts
            elif event == "sched_switch":
                key = next((f[9:] for f in fields.split() if f.startswith("next_pid=")), None)
                if key in pending:
                    delays.append((ts - pending.pop(key)) * 1e6)
            elif event == "workqueue_queue_work":
                key = next((f[7:] for f in fields.split() if f.startswith("struct=")), None)
                pending.setdefault(key, ts)
            elif event == "workqueue_execute_start":
                key = fields.split()[2].rstrip(":") if fields.startswith("work struct") else None
                if key in pending:
                    delays.append((ts - pending.pop(key)) * 1e6)
        return delays


def sysctl(ns, key):
    return nsx(ns, "sysctl", "-n", key, capture=True).stdout.strip()


def wait_for(condition, what, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise SystemExit("bench: timed out waiting for %s" % what)


def cpu_ns(pid):
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def connections_phase(manager, args, tmp):
    lab = Lab(2)
    server = None
    try:
        manager.start(lab, tmp)
        server = subprocess.Popen(["ip", "netns", "exec", lab.b, PY, BURST, "server", "--port", "5201"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        pid = manager.pid
        cpu0 = cpu_ns(pid) if pid else 0
        give_up = ["--give-up", "20"]
        trace = None
        if args.trace_wakeups and isinstance(manager, (KernelPM, Mptcpctld)):
            trace = WakeTrace("thread" if isinstance(manager, Mptcpctld) else "kworker")
            if not trace.start():
                print("bench: tracefs is not usable: no wake-up delays", file=sys.stderr)
                trace = None
        try:
            out = nsx(lab.a, PY, BURST, "client", "--connect", "10.0.1.2", "--port", "5201", "--count", str(args.serial),
                      "--subflows", "1", "--timeout", "1", "--serial", *give_up, capture=True).stdout
        finally:
            wakeups = trace.stop() if trace else None
        lat = next((r for r in json_lines(out) if r.get("event") == "latency"), None)
        if lat is None:
            raise SystemExit("bench: no latency result from %s" % manager.name)
        time.sleep(0.3)  # the last closes are handled
        cpu1 = cpu_ns(pid) if pid else 0
        out = nsx(lab.a, PY, BURST, "client", "--connect", "10.0.1.2", "--port", "5201", "--count", str(args.burst),
                  "--subflows", "1", "--timeout", "30", capture=True).stdout
        burst = next((r for r in json_lines(out) if r.get("event") == "round"), None)
        if burst is None:
            raise SystemExit("bench: no burst result from %s" % manager.name)
        time.sleep(0.5)
        result = {"name": manager.name, "latency": lat["ms"], "tried": lat["tried"], "serial_missing": lat["missing"],
                  "gave_up": lat["gave_up"], "burst_seconds": burst["seconds"], "burst_missing": burst["missing"],
                  "burst_connected": burst["connected"]}
        if wakeups:
            result["wakeups"] = wakeups
        if pid:
            conns = max(1, lat["tried"] + burst["connected"])
            cpu2 = cpu_ns(pid)
            result["cpu_us_per_conn"] = (cpu2 - cpu0) / 1000.0 / conns
            result["cpu_us_serial"] = (cpu1 - cpu0) / 1000.0 / max(1, lat["tried"])
            result["cpu_us_burst"] = (cpu2 - cpu1) / 1000.0 / max(1, burst["connected"])
            result["rss_mb"] = rss_kb(pid) / 1024.0
            if isinstance(manager, Mptcpctld):
                manager.stop()
                create = manager.statistic("subflow_create_cpu_us")
                if create is not None:
                    result["create_us_per_conn"] = create / conns
        return result
    finally:
        if server:
            server.kill()
            server.wait()
        manager.stop()
        lab.close()


def transfer(lab, direction, seconds, down_at=None, port=5301):
    """One bulk transfer; direction "upload" (client sends) or "download".
    Takes a1 down `down_at` s in. Returns (receiver result, down time)."""
    server_role, client_role = ("recv", "send") if direction == "upload" else ("send", "recv")
    server = subprocess.Popen(["ip", "netns", "exec", lab.b, PY, BULK, "server", "--port", str(port), "--role", server_role,
                               "--seconds", str(seconds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if "listening" not in line:
        raise SystemExit("bench: bulk server did not start: %s" % server.stderr.read())
    client = subprocess.Popen(["ip", "netns", "exec", lab.a, PY, BULK, "client", "--connect", "10.0.1.2", "--port", str(port),
                               "--role", client_role, "--seconds", str(seconds)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t_down = None
    if down_at is not None:
        time.sleep(down_at)
        t_down = time.monotonic()
        nsx(lab.a, "ip", "link", "set", "a1", "down")
    try:
        cout, cerr = client.communicate(timeout=seconds + 60)
        sout, serr = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        client.kill()
        server.kill()
        raise SystemExit("bench: a bulk transfer did not finish")
    if down_at is not None:
        nsx(lab.a, "ip", "link", "set", "a1", "up")
    receiver = sout if direction == "upload" else cout
    rec = next((r for r in json_lines(receiver) if r.get("event") == "received"), None)
    if rec is None:
        raise SystemExit("bench: no receiver result (%s): %s %s" % (direction, serr.strip(), cerr.strip()))
    return rec, t_down


def failover_gap(rec, t_down):
    """The longest pause between reads that ends after the link went down (ms)."""
    gap = 0.0
    for a, b in rec["gaps"]:
        if b > t_down and a < t_down + 5:
            gap = max(gap, b - max(a, t_down))
    if rec["last"] is not None and rec["last"] < t_down:
        return float("inf")
    return gap * 1000.0


def failover_phase(manager, args, tmp):
    lab = Lab(2, 50)
    results = {}
    try:
        manager.start(lab, tmp)
        for direction in ("upload", "download"):
            gaps = []
            for run in range(args.failover_runs):
                rec, t_down = transfer(lab, direction, 5.0, down_at=2.0, port=5301 + run + (100 if direction == "download" else 0))
                gaps.append(failover_gap(rec, t_down))
                time.sleep(1.5)  # a1 back; a fresh connection next
            results[direction] = gaps
        return results
    finally:
        manager.stop()
        lab.close()


def goodput_phase(manager_for_paths, paths, tmp, runs=2, seconds=10.0):
    """Mean goodput of `runs` uploads of `seconds` each, the first 2 s not counted."""
    lab = Lab(paths, 50)
    manager = manager_for_paths(paths)
    try:
        manager.start(lab, tmp)
        rates = []
        for run in range(runs):
            rec, _ = transfer(lab, "upload", seconds, port=5401 + run)
            samples = rec["samples"]
            if len(samples) < 30:
                raise SystemExit("bench: goodput transfer too short")
            t0, b0 = samples[20]   # 2 s in
            t1, b1 = samples[-1]
            rates.append((b1 - b0) * 8 / (t1 - t0) / 1e6)
        mbit = statistics.mean(rates)
        return mbit, mbit / (50.0 * paths)
    finally:
        manager.stop()
        lab.close()


def ensure_mptcpd():
    if os.access(MPTCPD, os.X_OK):
        return True
    print("bench: installing mptcpd (apt-get install -y mptcpd) ...", file=sys.stderr)
    r = subprocess.run(["apt-get", "install", "-y", "mptcpd"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0 or not os.access(MPTCPD, os.X_OK):
        print("bench: mptcpd unavailable, skipped: %s" % r.stderr.strip()[-200:], file=sys.stderr)
        return False
    return True


def main():
    p = argparse.ArgumentParser(prog="userspace-pm.py")
    p.add_argument("--mptcpctld", default=os.path.join(ROOT, ".build/release/mptcpctld"))
    p.add_argument("--serial", type=int, default=500)
    p.add_argument("--burst", type=int, default=1000)
    p.add_argument("--failover-runs", type=int, default=5)
    p.add_argument("--no-mptcpd", action="store_true")
    p.add_argument("--baseline", metavar="MPTCPCTLD",
                   help="an earlier mptcpctld to measure in the same run (connections phase), e.g. before a change")
    p.add_argument("--no-trace", dest="trace_wakeups", action="store_false",
                   help="do not time wake-ups through tracefs during the serial connections")
    p.add_argument("--quick", action="store_true", help="100 serial, 300 burst, 2 failover runs")
    p.add_argument("--phases", default="connections,failover,goodput",
                   help="comma-separated subset of connections,failover,goodput")
    args = p.parse_args()
    if args.quick:
        args.serial, args.burst, args.failover_runs = 100, 300, 2
    if os.geteuid() != 0:
        raise SystemExit("bench: must run as root")
    if not os.access(args.mptcpctld, os.X_OK):
        raise SystemExit("bench: %s is not built (swift build -c release, or --mptcpctld)" % args.mptcpctld)
    for v in (args.serial, args.burst, args.failover_runs):
        if v <= 0 or v > 100000:
            raise SystemExit("bench: counts must be 1 to 100000")
    phases = set(args.phases.split(","))
    if not phases or not phases <= {"connections", "failover", "goodput"}:
        raise SystemExit("bench: --phases takes connections, failover and/or goodput")
    tmp = tempfile.mkdtemp(prefix="bench-userspace-pm-")
    kernel = os.uname().release
    print("userspace path manager benchmark: kernel %s, %d CPUs, %s" % (kernel, os.cpu_count() or 0,
                                                                         time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())))
    print("logs in %s" % tmp)
    managers = [KernelPM(), Mptcpctld(args.mptcpctld)]
    if args.baseline:
        if not os.access(args.baseline, os.X_OK):
            raise SystemExit("bench: --baseline %s is not executable" % args.baseline)
        managers.insert(1, Mptcpctld(args.baseline, name="mptcpctld (before)"))
    if not args.no_mptcpd and ensure_mptcpd():
        managers.append(Mptcpd())

    if "connections" in phases:
        connections_report(managers, args, tmp)
    if "failover" in phases:
        failover_report(args, tmp)
    if "goodput" in phases:
        goodput_report(args, tmp)
    shutil.rmtree(os.path.join(tmp, "state"), ignore_errors=True)
    return 0


def connections_report(managers, args, tmp):
    rows = [connections_phase(m, args, tmp) for m in managers]
    print()
    print("connections: %d serial (connect -> first extra subflow established), then a burst of %d" % (args.serial, args.burst))
    print("%-16s %10s %10s %12s %12s %12s %10s" % ("", "median ms", "p99 ms", "serial miss", "burst s", "burst miss", "CPU us/conn"))
    for r in rows:
        lat = r["latency"]
        miss = "%d%s" % (r["serial_missing"], " (gave up)" if r["gave_up"] else "")
        cpu = "%.1f" % r["cpu_us_per_conn"] if "cpu_us_per_conn" in r else "-"
        print("%-16s %10.3f %10.3f %12s %12.2f %12d %10s" % (
            r["name"], statistics.median(lat) if lat else float("nan"), percentile(lat, 99), miss,
            r["burst_seconds"], r["burst_missing"], cpu))
    for r in rows:
        if "rss_mb" in r:
            print("%s RSS after the burst: %.1f MB" % (r["name"], r["rss_mb"]))
        if "cpu_us_serial" in r:
            print("%s CPU per connection: %.1f us serial, %.1f us in the burst" % (
                r["name"], r["cpu_us_serial"], r["cpu_us_burst"]))
        if "create_us_per_conn" in r:
            print("%s CPU per connection inside subflow-create requests (the kernel's connect work, which the"
                  " in-kernel PM does in a kworker): %.1f us; the rest: %.1f us" % (
                      r["name"], r["create_us_per_conn"], r["cpu_us_per_conn"] - r["create_us_per_conn"]))
    for r in rows:
        if "wakeups" in r:
            w = r["wakeups"]
            what = "event thread (woken -> running)" if r["name"].startswith("mptcpctld") else "mptcp_worker (queued -> running)"
            print("%s %s during the serial connections: median %.0f us, p90 %.0f us over %d wake-ups" % (
                r["name"], what, statistics.median(w), percentile(w, 90), len(w)))
    def median(r):
        return statistics.median(r["latency"]) if r["latency"] else float("nan")
    ref = median(rows[0])
    ours = median(next(r for r in rows if r["name"] == "mptcpctld"))
    for r in rows:
        if r["name"].startswith("mptcpctld"):
            print("ratio of medians %s / in-kernel PM: %.2f (target <= 1.25)" % (r["name"], median(r) / ref))
    before = [r for r in rows if r["name"] == "mptcpctld (before)"]
    if before:
        after = next(r for r in rows if r["name"] == "mptcpctld")
        print("mptcpctld after / before: latency median %.2f, CPU per connection %.2f, burst seconds %.2f" % (
            ours / median(before[0]), after["cpu_us_per_conn"] / before[0]["cpu_us_per_conn"],
            after["burst_seconds"] / before[0]["burst_seconds"]))
    theirs_rows = [r for r in rows if r["name"].startswith("mptcpd ")]
    if theirs_rows:
        theirs = theirs_rows[0]
        if theirs["latency"]:
            print("ratio of medians mptcpctld / mptcpd: %.2f (target <= 1.00)" % (ours / statistics.median(theirs["latency"])))
        else:
            print("mptcpd opened no subflow on any of %d connections (its sspi plugin creates none)" % theirs["tried"])


def failover_report(args, tmp):
    print()
    print("failover: 2 paths of 50 Mbit/s, a1 down 2 s into a bulk transfer; longest pause at the receiver, ms")
    fo = [(m.name, failover_phase(m, args, tmp)) for m in (KernelPM(backup=True), Mptcpctld(args.mptcpctld, mode="active-backup"))]
    print("%-16s %-10s %8s   %s" % ("", "direction", "median", "runs"))
    for name, res in fo:
        for direction in ("upload", "download"):
            g = res[direction]
            print("%-16s %-10s %8.0f   %s" % (name, direction, statistics.median(g), " ".join("%.0f" % x for x in g)))
    print("(target for mptcpctld: median <= 100 ms both ways)")


def goodput_report(args, tmp):
    print()
    print("aggregation: upload goodput over N paths of 50 Mbit/s (aggregate mode, mean of 2 x 10 s), fraction of the sum")
    for paths in (2, 3):
        k = goodput_phase(lambda n: KernelPM(paths=n), paths, tmp)
        d = goodput_phase(lambda n: Mptcpctld(args.mptcpctld, paths=n), paths, tmp)
        print("%d paths: in-kernel PM %.1f Mbit/s (%.3f)   mptcpctld %.1f Mbit/s (%.3f)   (target >= 0.93)" % (
            paths, k[0], k[1], d[0], d[1]))


if __name__ == "__main__":
    sys.exit(main())
