#!/usr/bin/env python3
"""make soak DURATION=SECONDS: a long lab scenario against mptcpctld.

In a throw-away two-path lab, the daemon runs the userspace path manager
(every connection gets a subflow on path 2 while it is up), with a hook and
resyncs, while for DURATION seconds:
- connections churn at a steady rate (each opened, given data, held a while,
  closed), with a set of long-lived ones kept open throughout;
- path 2 flaps (down for 1 s every 4 s);
- the policy is reloaded every 30 s (through the API: `mptcpctl reload`);
- API clients poll status, connections and metrics.
It fails on any connection left unmanaged (after the last flap every live
connection must have its path-2 subflow again), on RSS or open descriptors
growing beyond a small bound between the warm-up and the end, on the daemon
dying, or on a critical log line; and prints the figures the README records.
"""
import argparse, json, os, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB = os.path.join(ROOT, "scripts", "lab", "lab")
RSS_BOUND_KIB = 16 * 1024
FD_BOUND = 8

SERVER = r"""
import socket, threading
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 7000)); l.listen(512)
def serve(c):
    try:
        while c.recv(65536): pass
    except OSError: pass
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

CLIENT = r"""
import socket, sys, time, collections
rate, hold, keep, duration = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
    s.settimeout(5)
    s.connect(("10.0.1.2", 7000))
    s.sendall(b"x" * 2000)
    return s
kept = [connect() for _ in range(keep)]
live = collections.deque()
made = failed = 0
start = time.time(); nxt = start
while time.time() - start < duration:
    now = time.time()
    while live and now - live[0][0] > hold:
        live.popleft()[1].close()
    if now >= nxt:
        try:
            live.append((now, connect())); made += 1
        except OSError:
            failed += 1
        nxt += 1.0 / rate
    else:
        time.sleep(min(0.01, nxt - now))
    for _, s in list(live)[-3:]:
        try: s.sendall(b"y" * 100)
        except OSError: pass
for _, s in live: s.close()
print(made, failed, flush=True)
# The long-lived connections stay open until told to stop (stdin closes).
sys.stdin.read()
for s in kept: s.close()
"""


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class API:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")
        self.id = 0

    def call(self, method, **params):
        self.id += 1
        self.f.write((json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params}) + "\n").encode())
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if r.get("id") == self.id:
                if "error" in r:
                    raise RuntimeError(f"{method}: {r['error']}")
                return r["result"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--duration", type=float, default=120)
    p.add_argument("--mptcpctld", required=True)
    p.add_argument("--mptcpctl", required=True)
    p.add_argument("--rate", type=float, default=20, help="new connections per second")
    p.add_argument("--keep", type=int, default=20, help="long-lived connections")
    a = p.parse_args()

    name = f"mptl-{os.getpid()}-soak"
    client, server = name + "-a", name + "-b"
    work = tempfile.mkdtemp(prefix="mptcpctl-soak-")
    hooks = os.path.join(work, "hooks.d")
    os.makedirs(hooks)
    with open(os.path.join(hooks, "10-count"), "w") as f:
        f.write(f"#!/bin/sh\necho \"$1\" >> {work}/hook-events\n")
    os.chmod(os.path.join(hooks, "10-count"), 0o755)
    config = os.path.join(work, "policy.toml")
    socket_path = os.path.join(work, "api.sock")

    def policy(resync):
        with open(config + ".new", "w") as f:
            f.write(f"""[daemon]
socket = "{socket_path}"
state_directory = "{work}/state"
resync_interval = {resync}
[kernel]
path_manager = "userspace"
limits = {{ subflows = 8, add_addr_accepted = 8 }}
[hooks]
directory = "{hooks}"
timeout = 5
[[interface]]
name = ["a1", "a2"]
role = "active"
families = ["ipv4"]
[[connection]]
name = "both-paths"
""")
        os.replace(config + ".new", config)

    sh("bash", LAB, "gc", check=False)
    sh("bash", LAB, "up", name, "2")
    procs = []
    status = 0
    try:
        sh("ip", "netns", "exec", server, "sysctl", "-q", "net.mptcp.path_manager=kernel")
        sh("ip", "-n", server, "mptcp", "limits", "set", "subflow", "8", "add_addr_accepted", "8")
        policy(10)
        log = open(os.path.join(work, "daemon.log"), "w")
        daemon = subprocess.Popen([a.mptcpctld, "-n", client, "--config", config, "--log-level", "info"], stderr=log, stdout=subprocess.DEVNULL)
        procs.append(daemon)
        for _ in range(100):
            if os.path.exists(socket_path):
                break
            time.sleep(0.1)
        API(socket_path).call("status")
        srv = subprocess.Popen(["ip", "netns", "exec", server, sys.executable, "-c", SERVER])
        procs.append(srv)
        time.sleep(0.5)
        hold = 2.0
        churn = subprocess.Popen(["ip", "netns", "exec", client, sys.executable, "-c", CLIENT, str(a.rate), str(hold), str(a.keep),
                                  str(a.duration)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(churn)

        stop = threading.Event()
        counts = {"flaps": 0, "reloads": 0, "polls": 0, "poll_errors": 0}

        def poller():
            c = None
            while not stop.is_set():
                try:
                    c = c or API(socket_path)
                    c.call("status"); c.call("connections"); c.call("metrics")
                    counts["polls"] += 3
                except Exception as e:
                    if not stop.is_set():
                        counts["poll_errors"] += 1
                        print(f"API poll failed: {e!r}", file=sys.stderr)
                    c = None
                time.sleep(0.5)
        pollers = [threading.Thread(target=poller, daemon=True) for _ in range(2)]
        for t in pollers:
            t.start()

        # Warm-up, then the reference RSS and descriptors.
        time.sleep(min(10, a.duration / 4))
        rss0, fd0 = rss_kib(daemon.pid), fds(daemon.pid)
        start = time.time()
        last_flap = last_reload = time.time()
        while time.time() - start < a.duration - min(10, a.duration / 4) and churn.poll() is None:
            now = time.time()
            if now - last_flap >= 4:
                sh("ip", "-n", client, "link", "set", "a2", "down")
                time.sleep(1)
                sh("ip", "-n", client, "link", "set", "a2", "up")
                counts["flaps"] += 1
                last_flap = time.time()
            if now - last_reload >= 30:
                policy(10 + counts["reloads"] % 2)
                r = sh(a.mptcpctl, "--socket", socket_path, "reload", check=False)
                if r.returncode != 0:
                    print("reload failed:", r.stderr, file=sys.stderr)
                    status = 1
                counts["reloads"] += 1
                last_reload = time.time()
            if daemon.poll() is not None:
                break
            time.sleep(0.2)
        # The churn ends on its own; the long-lived connections stay.
        line = ""
        while churn.poll() is None and not line:
            line = churn.stdout.readline().strip()
        made, failed = (int(x) for x in (line or "0 0").split())
        stop.set()
        alive = daemon.poll() is None
        if not alive:
            print(f"FAIL: the daemon exited with {daemon.returncode}", file=sys.stderr)
            status = 1
        # Every live connection has its path-2 subflow back after the last flap.
        # (A new API connection: the first one has been idle longer than the
        # daemon's 300 s idle timeout on a long run, and was closed.)
        if alive:
            api = API(socket_path)
        unmanaged = []
        deadline = time.time() + 15
        while alive and time.time() < deadline:
            conns = [c for c in api.call("connections") if c["side"] == "client" and c["remote_port"] == 7000]
            unmanaged = [c["token"] for c in conns
                         if not any(s["local_address"] == "10.0.2.1" for s in c["subflows"])]
            if not unmanaged and len(conns) >= a.keep:
                break
            time.sleep(0.5)
        if unmanaged or (alive and len(conns) < a.keep):
            print(f"FAIL: {len(unmanaged)} of {len(conns)} live connections without their path-2 subflow: {unmanaged[:10]}",
                  file=sys.stderr)
            status = 1
        rss1, fd1 = (rss_kib(daemon.pid), fds(daemon.pid)) if alive else (0, 0)
        status_result = api.call("status") if alive else {}
        churn.stdin.close()
        churn.wait(timeout=10)
        if alive:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=15)
        log.close()
        text = open(os.path.join(work, "daemon.log")).read()
        critical = [l for l in text.splitlines() if l.startswith("critical")]
        errors = [l for l in text.splitlines() if l.startswith("error")]
        stats = next((l for l in text.splitlines() if "userspace path manager statistics" in l), "")
        hook_events = len(open(os.path.join(work, "hook-events")).read().split()) if os.path.exists(os.path.join(work, "hook-events")) else 0
        if critical:
            print("FAIL: critical log lines:", *critical[:5], sep="\n  ", file=sys.stderr)
            status = 1
        if alive and (rss1 - rss0 > RSS_BOUND_KIB or fd1 - fd0 > FD_BOUND):
            print(f"FAIL: growth beyond the bound: RSS {rss0} -> {rss1} KiB, descriptors {fd0} -> {fd1}", file=sys.stderr)
            status = 1
        if counts["poll_errors"]:
            print(f"FAIL: {counts['poll_errors']} API polls failed", file=sys.stderr)
            status = 1
        print(f"soak {a.duration:.0f} s: {made} connections churned ({failed} failed to connect, {a.keep} long-lived), "
              f"{counts['flaps']} flaps, {counts['reloads']} reloads, {counts['polls']} API polls, {hook_events} hook runs")
        print(f"  daemon RSS {rss0} -> {rss1} KiB (bound +{RSS_BOUND_KIB}), descriptors {fd0} -> {fd1} (bound +{FD_BOUND}), "
              f"error lines {len(errors)}, api_requests {status_result.get('api_requests')}")
        print(f"  {stats}")
        print("PASS" if status == 0 else "FAIL")
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
        sh("bash", LAB, "down", name, check=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
