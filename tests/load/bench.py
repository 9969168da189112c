#!/usr/bin/env python3
"""The benchmark report: every headline number in one run, as one table.

Starts the `bench` build of steadyloop (and the minimal Beast /ping baseline) on free
loopback ports, preloads data, runs bounded wrk scenarios, samples /loop/stream through
two of them for a lag trace, measures memory, and writes tests/load/results/<date>.md
(with an SVG of the lag trace when gnuplot is installed). Run it through bench.sh, which
builds first:

    tests/load/bench.sh                # 8 s per scenario
    tests/load/bench.sh --seconds 2    # a smoke run (what CI does)

Ratios are what to compare across machines; absolute numbers on shared machines drift.
Standard library only.
"""

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOAD = os.path.join(ROOT, "tests", "load")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def write_report(stem, lines):
    """Writes the report's Markdown to <stem>.md and prints it."""
    report = "\n".join(lines)
    with open(stem + ".md", "w") as f:
        f.write(report)
    print(report)
    log("written: %s.md" % stem)


# ---------------------------------------------------------------------------------------
# Processes

class Server:
    """A steadyloop (or baseline) process on a free port, stopped on exit."""

    def __init__(self, argv, env=None):
        self.out = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("STEADYLOOP_")}
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT, env=full_env,
                                     start_new_session=True)
        self.port = None
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(self.out.name) as f:
                m = re.search(r'"port":(\d+)', f.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + open(self.out.name).read())
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("server did not print its port")
        self.url = "http://127.0.0.1:%d" % self.port

    def wait_ready(self, path="/readyz", timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("not ready: " + self.url)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        os.unlink(self.out.name)

    def tree(self):
        """The server and its children (the workers)."""
        pids = [self.proc.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def memory_mib(self):
        """(RSS summed, PSS summed) of the process tree, in MiB. PSS shares shared pages
        fairly between the processes that map them, so it does not count libraries twice."""
        rss = pss = 0
        for pid in self.tree():
            try:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1])
            except OSError:
                pass
        return rss / 1024.0, pss / 1024.0


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


# ---------------------------------------------------------------------------------------
# wrk

UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else float("nan")


class WrkResult:
    def __init__(self, text, seconds):
        self.text = text
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        self.rps = float(m.group(1)) if m else 0.0
        self.p = {}
        for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", text, re.M):
            self.p[pct] = to_ms(value)
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        self.non2xx = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        self.socket_errors = sum(int(x) for x in m.groups()) if m else 0
        m = re.search(r"(\d+) requests in", text)
        self.requests = int(m.group(1)) if m else 0


def wrk(url, seconds, connections=64, script=None, env=None, path=""):
    argv = ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency", "--timeout", "10s"]
    if script:
        argv += ["-s", os.path.join(LOAD, script)]
    argv.append(url + path)
    full_env = dict(os.environ)
    full_env.update(env or {})
    out = subprocess.run(argv, capture_output=True, text=True, env=full_env, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError("wrk failed: " + out.stderr + out.stdout)
    return WrkResult(out.stdout, seconds)


def wrk_background(url, seconds, connections, script=None, env=None, path=""):
    """wrk in a thread; .result once joined."""
    holder = {}

    def run():
        holder["result"] = wrk(url, seconds, connections, script, env, path)

    t = threading.Thread(target=run)
    t.start()
    t.holder = holder
    return t


# ---------------------------------------------------------------------------------------
# The lag trace: /loop/stream sampled in the background

class LagTrace:
    def __init__(self, url, label, interval_ms=100):
        self.samples = []  # (seconds since start, p99 ms, max ms)
        self.label = label
        self.stop_flag = False
        self.start = time.time()
        host, port = url.replace("http://", "").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(("GET /loop/stream?interval_ms=%d HTTP/1.1\r\nHost: x\r\n\r\n" % interval_ms).encode())
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        buf = b""
        self.sock.settimeout(1.0)
        while not self.stop_flag:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    # A line may still carry the chunk-size line before it.
                    if b"data: " in line:
                        self.add(json.loads(line[line.index(b"data: ") + 6:]))

    def add(self, snap):
        # The last second's p99 and max: the 10 s window's maximum would hold for 10 s.
        recent = snap["lag_ms"]["last_second"]
        self.samples.append((time.time() - self.start, recent["p99"], recent["max"]))

    def finish(self):
        self.stop_flag = True
        self.thread.join()
        self.sock.close()
        return self.samples


# ---------------------------------------------------------------------------------------
# Idle keep-alive connections

def open_idle_connections(port, count):
    """`count` connections that each made one request and now sit idle (keep-alive)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and count + 256 > hard:
        count = max(0, hard - 256)  # what the descriptor limit allows; the report says how many
        log("  idle connections: only %d (descriptor limit %d)" % (count, hard))
    want = count + 256 if hard == resource.RLIM_INFINITY else min(hard, count + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = []
    request = b"GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n"
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        socks.append(s)
    for s in socks:
        got = b""
        while b"pong\n" not in got:
            part = s.recv(4096)
            if not part:
                raise RuntimeError("an idle connection was closed")
            got += part
    return socks


# ---------------------------------------------------------------------------------------
# The run

def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {"cores": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "model": model,
            "commit": commit + ("+changes" if dirty else "")}


def pool_bench(build, seconds):
    """The worker pool's dispatch cost against a bare socketpair, and Argon2id on one thread."""
    exe = os.path.join(build, "tests", "load", "pool_bench")
    out = subprocess.run([exe, "--benchmark_format=json", "--benchmark_min_time=%g" % max(0.2, seconds / 8),
                          "--benchmark_filter=baseline/socketpair|pool/noop_roundtrip/1/|argon2id/in_process/real_time/threads:1"],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError("pool_bench failed: " + out.stderr)
    data = json.loads(out.stdout)
    found = {}
    for b in data["benchmarks"]:
        unit = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
        found[b["name"]] = b["real_time"] * unit  # microseconds
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(LOAD, "results"))
    ap.add_argument("--idle-connections", type=int, default=10000)
    args = ap.parse_args()
    secs = args.seconds
    build = args.build
    binary = os.path.join(build, "steadyloop")
    tmp = tempfile.mkdtemp(prefix="steadyloop-bench-")
    rows = []  # (scenario, req/s, p50 ms, p99 ms, errors, note)
    info = machine()
    log("bench: %d s per scenario, %d cores, commit %s" % (secs, info["cores"], info["commit"]))

    def row(name, r, note="", errors=None):
        errs = r.socket_errors + r.non2xx if errors is None else errors
        rows.append((name, r.rps, r.p.get("50"), r.p.get("99"), errs, note))
        log("  %-20s %10.1f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  %s" %
            (name, r.rps, r.p.get("50", 0), r.p.get("99", 0), errs, note))

    # Baseline first, alone on the machine.
    base = Server([os.path.join(build, "tests", "load", "baseline_ping")])
    try:
        base_ping = wrk(base.url, secs, 64, path="/ping")
        base_rss, _ = base.memory_mib()
    finally:
        base.stop()
    row("baseline_ping", base_ping, "minimal single-threaded Beast server")

    photo12 = os.path.join(tmp, "photo-12mp.jpg")
    photo1 = os.path.join(tmp, "photo-1mp.jpg")
    make_image = os.path.join(build, "tests", "load", "make_image")
    subprocess.run([make_image, "4000", "3000", photo12], check=True, capture_output=True)
    subprocess.run([make_image, "1155", "866", photo1], check=True, capture_output=True)

    srv = Server([binary, "--port", "0", "--address", "127.0.0.1", "--db", os.path.join(tmp, "bench.db"),
                  "--log-level", "warn", "--max-connections", str(args.idle_connections + 1000)])
    extra = {}
    traces = {}
    try:
        srv.wait_ready()
        time.sleep(0.5)
        idle = srv.memory_mib()
        extra["idle_memory"] = idle
        log("  idle memory: RSS %.1f MiB, PSS %.1f MiB (process tree)" % idle)
        workers = json.loads(http("GET", srv.url + "/loop")[1])["worker_pool"]["workers"]
        extra["workers"] = workers

        ping = wrk(srv.url, secs, 64, path="/ping")
        row("ping", ping, "%.2f x baseline" % (ping.rps / base_ping.rps if base_ping.rps else 0))
        extra["ping_ratio"] = ping.rps / base_ping.rps if base_ping.rps else 0

        # /ping while Argon2id keeps every worker busy (and the hash rate meanwhile).
        trace = LagTrace(srv.url, "ping_under_cpu")
        hashing = wrk_background(srv.url, secs + 2, 2 * workers, "password_hash.lua")
        time.sleep(1)
        under_cpu = wrk(srv.url, secs, 64, path="/ping")
        hashing.join()
        traces["ping_under_cpu"] = trace.finish()
        h = hashing.holder["result"]
        row("ping_under_cpu", under_cpu, "argon2 meanwhile: %.1f hashes/s" % h.rps,
            under_cpu.socket_errors + under_cpu.non2xx + h.socket_errors + h.non2xx)

        # /ping while the blocking pool is saturated (sleeps, so no CPU is taken).
        sleeping = wrk_background(srv.url, secs + 2, 24, path="/demo/io?mode=thread&ms=50")
        time.sleep(1)
        under_blocking = wrk(srv.url, secs, 64, path="/ping")
        sleeping.join()
        s = sleeping.holder["result"]
        row("ping_under_blocking", under_blocking,
            "blocking pool: %.0f sleeps/s, %d shed with 503" % (s.rps, s.non2xx),
            under_blocking.socket_errors + under_blocking.non2xx + s.socket_errors)

        # The anti-pattern: CPU work on the loop itself.
        trace = LagTrace(srv.url, "ping_under_inline")
        inline = wrk_background(srv.url, secs + 2, 2, path="/demo/cpu?mode=inline&n=20000000")
        time.sleep(1)
        under_inline = wrk(srv.url, secs, 64, path="/ping")
        inline.join()
        traces["ping_under_inline"] = trace.finish()
        row("ping_under_inline", under_inline, "the anti-pattern: /demo/cpu?mode=inline meanwhile",
            under_inline.socket_errors + under_inline.non2xx)

        row("hash_1mib", wrk(srv.url, secs, 4, "hash.lua"), "SHA-256 of 1 MiB bodies")
        argon = wrk(srv.url, secs, 2 * workers, "password_hash.lua")
        row("argon2", argon, "Argon2id m=19456 t=2 p=1, hashes/s")
        extra["argon2_rps"] = argon.rps
        row("resize_12mp", wrk(srv.url, secs, 2 * workers, "resize.lua", {"IMAGE": photo12}),
            "4000x3000 JPEG (%.1f MB) -> 256 px" % (os.path.getsize(photo12) / 1e6))
        row("resize_1mp", wrk(srv.url, secs, 2 * workers, "resize.lua", {"IMAGE": photo1}),
            "1155x866 JPEG (%.2f MB) -> 256 px" % (os.path.getsize(photo1) / 1e6))

        subprocess.run(["bash", os.path.join(LOAD, "kv_preload.sh"), srv.url], check=True, capture_output=True)
        row("kv_get", wrk(srv.url, secs, 64, "kv.lua"), "10,000 keys of 100 bytes")
        row("kv_put", wrk(srv.url, secs, 64, "kv.lua", {"KV_METHOD": "PUT"}), "10,000 keys of 100 bytes")

        http("POST", srv.url + "/users", b'{"username":"bench","password":"correct horse"}',
             {"Content-Type": "application/json"})
        row("login", wrk(srv.url, secs, 2 * workers, "login.lua"), "Argon2id verify + SQLite read")

        # Memory under mixed load: sampled every 250 ms, the highest kept.
        mixed = wrk_background(srv.url, secs, 64, "mixed.lua")
        peak = (0.0, 0.0)
        while mixed.is_alive():
            m = srv.memory_mib()
            peak = (max(peak[0], m[0]), max(peak[1], m[1]))
            time.sleep(0.25)
        mixed.join()
        row("mixed", mixed.holder["result"], "50% ping, 35% kv, 8% /loop, 5% hash, 2% argon2")
        extra["load_memory"] = peak

        socks = open_idle_connections(srv.port, args.idle_connections)
        time.sleep(1)
        extra["idle_conn_memory"] = srv.memory_mib()
        extra["idle_conn_count"] = json.loads(http("GET", srv.url + "/loop")[1])["connections"]
        for s in socks:
            s.close()
    finally:
        srv.stop()

    dispatch = pool_bench(build, secs)
    shutil.rmtree(tmp, ignore_errors=True)

    # ---- the report -------------------------------------------------------------------
    date = datetime.datetime.now(datetime.timezone.utc)
    lines = []
    lines.append("# steadyloop benchmark, %s" % date.strftime("%Y-%m-%d %H:%M UTC"))
    lines.append("")
    lines.append("Machine: %d cores (%d usable), %s. Commit %s. wrk -t1 on the same machine, %d s per scenario; "
                 "%d workers." % (info["cores"], info["cpus_usable"], info["model"], info["commit"], secs,
                                  extra["workers"]))
    lines.append("")
    lines.append("| scenario | req/s | p50 ms | p99 ms | errors | note |")
    lines.append("|---|---:|---:|---:|---:|---|")
    for name, rps, p50, p99, errs, note in rows:
        lines.append("| `%s` | %s | %s | %s | %d | %s |" % (
            name, "{:,.1f}".format(rps), "%.2f" % p50 if p50 is not None else "–",
            "%.2f" % p99 if p99 is not None else "–", errs, note))
    lines.append("")
    lines.append("| memory (whole process tree) | RSS MiB | PSS MiB |")
    lines.append("|---|---:|---:|")
    lines.append("| `idle_rss` | %.1f | %.1f |" % extra["idle_memory"])
    lines.append("| `rss_under_load` (peak during `mixed`) | %.1f | %.1f |" % extra["load_memory"])
    lines.append("| `rss_%d_idle_connections` (%d open) | %.1f | %.1f |" % (
        args.idle_connections, extra["idle_conn_count"], *extra["idle_conn_memory"]))
    lines.append("| baseline Beast server, idle | %.1f | – |" % base_rss)
    lines.append("")
    def lookup(pattern):
        return next((v for k, v in dispatch.items() if re.search(pattern, k)), None)

    sp = lookup(r"^baseline/socketpair_roundtrip_64B")
    noop = lookup(r"^pool/noop_roundtrip/1(/|$)")
    one_thread = lookup(r"^argon2id/in_process/.*threads:1$")
    lines.append("| ratio | value |")
    lines.append("|---|---:|")
    lines.append("| `ping` / baseline Beast `ping` | %.2f |" % extra["ping_ratio"])
    if sp and noop:
        lines.append("| no-op worker job round trip / bare socketpair round trip | %.2f (%.1f µs / %.1f µs) |"
                     % (noop / sp, noop, sp))
    if one_thread:
        ideal = extra["workers"] * 1e6 / one_thread
        lines.append("| argon2 hashes/s / (workers × one in-process thread) | %.2f (%.1f / %.1f) |"
                     % (extra["argon2_rps"] / ideal, extra["argon2_rps"], ideal))
    lines.append("")

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, date.strftime("%Y-%m-%d"))
    for name, samples in traces.items():
        with open("%s-%s.dat" % (stem, name), "w") as f:
            f.write("# seconds, then the loop lag's p99 and max over the last second, ms\n")
            for t, p99, mx in samples:
                f.write("%.2f %.3f %.3f\n" % (t, p99, mx))
    if shutil.which("gnuplot") and traces:
        svg = stem + "-lag.svg"
        plots = ", ".join("'%s-%s.dat' using 1:3 with lines title '%s: max of the last second'" % (stem, n, n)
                          for n in traces)
        script = ("set terminal svg size 900,420 dynamic noenhanced; set output '%s'; set logscale y; "
                  "set xlabel 'seconds'; set ylabel 'loop lag, ms'; set key top left; set grid; plot %s"
                  % (svg, plots))
        subprocess.run(["gnuplot", "-e", script], check=True)
        lines.append("![loop lag through ping_under_cpu and ping_under_inline](%s)" % os.path.basename(svg))
        lines.append("")
    write_report(stem, lines)


if __name__ == "__main__":
    main()
