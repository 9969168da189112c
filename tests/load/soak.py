#!/usr/bin/env python3
"""The soak test: mixed traffic for minutes, and the service's vital signs must stay flat.

Starts steadyloop on a free loopback port with a database file, preloads 10,000 keys, runs
wrk with mixed.lua (50 % ping, 35 % kv, 8 % /loop, 5 % hash, 2 % Argon2id) for --seconds,
and every --interval seconds records: RSS and PSS of the whole process tree, open
descriptors of the main process, worker processes alive (GET /loop), connections open,
answers that are errors (non-2xx from /metrics' request counters, 503s excepted) and 503s
(deliberate load shedding by a full pool, counted apart). Writes
<out>/<date>-soak.md with the table and an SVG plot (with gnuplot), and exits 1 when the
series are not flat, saying which:

  * RSS: the median of the last third of the samples after warm-up is at most
    --rss-growth percent (10) plus 4 MiB above the median of the first third, for the
    main process and for the whole tree (which may add 19 MiB per worker: Argon2id's
    memory, held only while a worker hashes);
  * descriptors: within --fd-range (8) of each other over the samples after warm-up;
  * workers alive: always the number configured;
  * errors: none (no non-2xx answer other than 503, no wrk socket error or timeout).

Run it through soak.sh, which builds first:

    tests/load/soak.sh                                  # 5 minutes
    tests/load/soak.sh --seconds 30 --build build/ci    # what CI runs

Standard library only; the process and wrk helpers come from bench.py.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import LOAD, Server, http, log, machine, wrk_background, write_report  # noqa: E402


ARGON2_MIB = 19  # the service's default Argon2id memory cost, 19456 KiB


def counters(url):
    """(answers by status, 503s) summed over every route, from /metrics."""
    text = http("GET", url + "/metrics")[1].decode()
    by_status = {}
    for line in text.splitlines():
        # Route labels hold braces ("/kv/{key}"): the status label and the last field.
        m = re.search(r'status="(\d+)"', line)
        if line.startswith("steadyloop_http_requests_total{") and m:
            status = int(m.group(1))
            by_status[status] = by_status.get(status, 0) + int(float(line.rsplit(" ", 1)[1]))
    return by_status


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def main_rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class Sample:
    def __init__(self, t, rss, pss, main_rss, fds, workers, connections, errors, shed, requests):
        self.t, self.rss, self.pss, self.main_rss, self.fds = t, rss, pss, main_rss, fds
        self.workers, self.connections = workers, connections
        self.errors, self.shed, self.requests = errors, shed, requests


def sample(srv, start, before=None):
    """The vital signs now; errors, 503s and requests counted since `before` (a sample)."""
    snap = json.loads(http("GET", srv.url + "/loop")[1])
    by_status = counters(srv.url)
    rss, pss = srv.memory_mib()
    errors = sum(n for s, n in by_status.items() if not 200 <= s < 400 and s != 503)
    shed, requests = by_status.get(503, 0), sum(by_status.values())
    if before is not None:
        errors, shed, requests = errors - before.errors, shed - before.shed, requests - before.requests
    return Sample(time.time() - start, rss, pss, main_rss_mib(srv.proc.pid), fd_count(srv.proc.pid),
                  snap["worker_pool"]["alive"],
                  snap["connections"], errors, shed, requests)


def judge(samples, warmup, workers, wrk_errors, rss_growth, fd_range):
    """The reasons the run is not flat (empty when it is)."""
    why = []
    steady = [s for s in samples if s.t >= warmup]
    if len(steady) < 3:
        return ["too few samples after the %d s warm-up (%d); run longer" % (warmup, len(steady))]
    third = max(1, len(steady) // 3)
    # The main process holds what could leak per request or connection: judged strictly.
    # The tree adds the workers, each of which holds Argon2id's 19 MiB while it hashes and
    # frees it after, so a sample taken mid-hash may show that much more per worker.
    for what, get, slack in (("main process", lambda s: s.main_rss, 0.0),
                              ("process tree", lambda s: s.rss, workers * ARGON2_MIB)):
        first = statistics.median(get(s) for s in steady[:third])
        last = statistics.median(get(s) for s in steady[-third:])
        allowed = first * (1 + rss_growth / 100.0) + 4 + slack
        if last > allowed:
            why.append("RSS of the %s grew: median %.1f MiB in the last third against %.1f MiB in the first "
                       "(allowed %.1f)" % (what, last, first, allowed))
    fds = [s.fds for s in steady]
    if max(fds) - min(fds) > fd_range:
        why.append("open descriptors moved from %d to %d (allowed range %d)" % (min(fds), max(fds), fd_range))
    short = [s for s in samples if s.workers != workers]
    if short:
        why.append("workers alive was not %d at %d samples (first at %.0f s: %d)"
                   % (workers, len(short), short[0].t, short[0].workers))
    if samples[-1].errors > 0:
        why.append("%d error answers (non-2xx other than 503)" % samples[-1].errors)
    if wrk_errors > 0:
        why.append("wrk saw %d socket errors or timeouts" % wrk_errors)
    return why


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(LOAD, "..", "..", "build", "bench"))
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=None, help="seconds left out of the flatness checks "
                    "(default: a tenth of the run, 10 to 30 s: the workers' first Argon2id hashes and SQLite's cache "
                    "grow memory once)")
    ap.add_argument("--rss-growth", type=float, default=10.0, help="percent")
    ap.add_argument("--fd-range", type=int, default=8)
    ap.add_argument("--out", default=os.path.join(LOAD, "results"))
    args = ap.parse_args()
    warmup = args.warmup if args.warmup is not None else max(10, min(30, args.seconds // 10))
    binary = os.path.join(args.build, "steadyloop")
    tmp = tempfile.mkdtemp(prefix="steadyloop-soak-")
    info = machine()
    log("soak: %d s of mixed traffic over %d connections, a sample every %g s, commit %s"
        % (args.seconds, args.connections, args.interval, info["commit"]))

    srv = Server([binary, "--port", "0", "--address", "127.0.0.1", "--db", os.path.join(tmp, "soak.db"),
                  "--log-level", "warn"])
    samples = []
    try:
        srv.wait_ready()
        subprocess.run(["bash", os.path.join(LOAD, "kv_preload.sh"), srv.url], check=True, capture_output=True)
        workers = json.loads(http("GET", srv.url + "/loop")[1])["worker_pool"]["workers"]
        start = time.time()
        # The counts start here: the preload and the /readyz polls (503 until the workers
        # are up) are not the soak's.
        base = sample(srv, start)
        samples.append(sample(srv, start, base))
        load = wrk_background(srv.url, args.seconds, args.connections, "mixed.lua")
        next_at = start + args.interval
        while load.is_alive():
            time.sleep(max(0.0, min(next_at, start + args.seconds + 5) - time.time()))
            if not load.is_alive():
                break
            s = sample(srv, start, base)
            samples.append(s)
            next_at += args.interval
            log("  %5.0f s  RSS %6.1f MiB (main %5.1f)  fds %4d  workers %d  connections %3d  errors %d  shed %d  "
                "requests %d" % (s.t, s.rss, s.main_rss, s.fds, s.workers, s.connections, s.errors, s.shed, s.requests))
        load.join()
        result = load.holder.get("result")
        # After the load: its connections closed. (wrk's last in-flight Argon2id requests
        # end as 503 client_gone when it leaves, so this row's 503s are not shedding.)
        time.sleep(1)
        samples.append(sample(srv, start, base))
        after_exit = srv.proc.poll()
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if result is None:
        log("soak: wrk did not finish")
        return 1
    wrk_errors = result.socket_errors
    why = judge(samples[:-1], warmup, workers, wrk_errors, args.rss_growth, args.fd_range)
    if after_exit is not None:
        why.append("the service exited during the run (code %s)" % after_exit)

    # ---- the report -------------------------------------------------------------------
    date = datetime.datetime.now(datetime.timezone.utc)
    stem = os.path.join(args.out, date.strftime("%Y-%m-%d") + "-soak")
    os.makedirs(args.out, exist_ok=True)
    lines = ["# steadyloop soak, %s" % date.strftime("%Y-%m-%d %H:%M UTC"), ""]
    lines.append("Machine: %d cores (%d usable), %s. Commit %s. `%s`, %d workers. wrk -t1 -c%d with `mixed.lua` "
                 "for %d s: %d requests, %.1f req/s, %d non-2xx (503s included), %d socket errors."
                 % (info["cores"], info["cpus_usable"], info["model"], info["commit"], binary, workers,
                    args.connections, args.seconds, result.requests, result.rps, result.non2xx, wrk_errors))
    lines.append("")
    lines.append("Flat means, after a %d s warm-up: RSS median of the last third at most %g %% + 4 MiB above "
                 "that of the first third, for the main process and for the whole tree (which may add %d MiB "
                 "per worker: Argon2id's memory, held while a worker hashes); open descriptors within %d; "
                 "workers alive always %d; no error answer (non-2xx other than 503) and no socket error. 503s are load shedding by a full pool, "
                 "counted apart." % (warmup, args.rss_growth, ARGON2_MIB, args.fd_range, workers))
    lines.append("")
    lines.append("**Result: %s**" % ("flat" if not why else "NOT flat"))
    for reason in why:
        lines.append("- %s" % reason)
    lines.append("")
    lines.append("| s | RSS MiB (tree) | PSS MiB (tree) | RSS MiB (main) | fds (main) | workers alive | connections "
                 "| errors | 503 shed | requests |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, s in enumerate(samples):
        label = "%.0f" % s.t if i < len(samples) - 1 else "after"
        lines.append("| %s | %.1f | %.1f | %.1f | %d | %d | %d | %d | %d | %d |"
                     % (label, s.rss, s.pss, s.main_rss, s.fds, s.workers, s.connections, s.errors, s.shed,
                        s.requests))
    lines.append("")
    if shutil.which("gnuplot"):
        dat = os.path.join(tempfile.mkdtemp(prefix="steadyloop-soak-plot-"), "soak.dat")
        with open(dat, "w") as f:
            for s in samples[:-1]:
                f.write("%.1f %.2f %.2f %d %d %d %.2f\n" % (s.t, s.rss, s.pss, s.fds, s.workers, s.errors, s.main_rss))
        svg = stem + ".svg"
        script = ("set terminal svg size 900,420 dynamic noenhanced; set output '%s'; "
                  "set xlabel 'seconds'; set ylabel 'MiB'; set y2label 'count'; set ytics nomirror; set y2tics; "
                  "set yrange [0:*]; set y2range [0:*]; set key bottom right; set grid; "
                  "plot '%s' using 1:2 with linespoints title 'RSS, process tree (MiB)', "
                  "'%s' using 1:3 with linespoints title 'PSS, process tree (MiB)', "
                  "'%s' using 1:7 with linespoints title 'RSS, main process (MiB)', "
                  "'%s' using 1:4 axes x1y2 with steps title 'open descriptors, main process', "
                  "'%s' using 1:5 axes x1y2 with steps title 'workers alive', "
                  "'%s' using 1:6 axes x1y2 with steps title 'error answers'"
                  % (svg, dat, dat, dat, dat, dat, dat))
        subprocess.run(["gnuplot", "-e", script], check=True)
        shutil.rmtree(os.path.dirname(dat), ignore_errors=True)
        lines.append("![RSS, descriptors, workers and errors through the soak](%s)" % os.path.basename(svg))
        lines.append("")
    write_report(stem, lines)
    if why:
        log("soak: NOT flat:\n  " + "\n  ".join(why))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
