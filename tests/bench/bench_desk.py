#!/usr/bin/env python3
"""bench_desk: the desk's pages and API under 32 concurrent clients.

The issue's target: with the 10,000-message corpus list and a
200,000-message database built from it, every page and API call at p95
under 50 ms with 32 concurrent clients, the daemon ingesting meanwhile.

The database: the 10,000 linux-kbuild messages of the corpus copied ROUNDS
times (PQ_BENCH_ROUNDS, default 20: 200,000 messages) with the message ids
of each copy prefixed as bench_memory.py does (its code, imported), each
round written as an mboxrd file and read by `patchq import` (much faster
than through the daemon). With PQ_BENCH_DB=PATH the database is kept
there, with its queue repository next to it (PATH.queues.git), and a
re-run only measures (PATH.built says how many rounds it holds).

patchqd then runs on it as bench_memory.py runs it (contrib/patchq.conf.example
on a stand-in repository, no [smtp], [http] listen = 127.0.0.1:0, a maildir
source). Its pipeline triages on its own worker, as for users: the bench
lets it run PQ_BENCH_WARM seconds (default 120) before measuring, and it
keeps running during the measurement. A thread delivers new mail into the
maildir meanwhile (PQ_BENCH_RATE messages a second, default 50, more copies
of the list with fresh prefixes), so the daemon ingests while it serves.

Each URL is measured by ab (apache2-utils) with -c 32 (PQ_BENCH_CONCURRENCY),
sending Accept-Encoding: gzip as browsers do (PQ_BENCH_GZIP=0: not),
and -n 2000 (PQ_BENCH_REQUESTS) requests, fewer when a second request alone
is slow (at least 200, about PQ_BENCH_SECONDS, default 20, a URL; "alone"
is the first, which made the page); ab -e gives
the percentiles. Printed: per URL requests, the CPU time of patchqd's http
thread per request (the figure the load of the machine moves least), p50, p95, p99 (ms), non-2xx
answers (a 503 is the desk's queue of 64 pending requests full), failed
requests other than ab's length check (pages change as mail comes in),
and whether p95 is under 50 ms; the messages stored during the
measurement. Exits non-zero only when the harness fails, not on a missed
target.

usage: bench_desk.py --patchqd PATH --patchq PATH --corpus DIR
Exits 77 (skipped) without the corpus, zstd, git or ab.
"""
import argparse
import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import bench_memory as bm  # noqa: E402
from bench_memory import Template, make_repo, make_conf, read_mboxrd, run  # noqa: E402
from test_daemon import Daemon, Notify  # noqa: E402  (bench_memory put its path first)

ME = "bench_desk"
TARGET_MS = 50
# as browsers ask; PQ_BENCH_GZIP=0 measures the pages as they are made
GZIP = os.environ.get("PQ_BENCH_GZIP", "1") != "0"


def skip(why):
    print("%s: SKIP: %s" % (ME, why), file=sys.stderr)
    sys.exit(77)


def die(why):
    print("%s: FAIL: %s" % (ME, why), file=sys.stderr)
    sys.exit(1)


bm.ME = ME
FROM_QUOTE = re.compile(rb"(?m)^(>*From )")


def write_mboxrd(path, templates, prefix):
    """One round as an mboxrd file: every ">*From " line gets one ">" more."""
    with open(path, "wb") as f:
        for t in templates:
            raw = t.render(prefix)
            f.write(bm.FROM_LINE)
            f.write(FROM_QUOTE.sub(rb">\1", raw.rstrip(b"\n")))
            f.write(b"\n\n")


def build(patchq, db, templates, rounds, work):
    """The database of ROUNDS copies of the list, by patchq import."""
    t0 = time.monotonic()
    for r in range(rounds):
        mbox = os.path.join(work, "round.mbox")
        write_mboxrd(mbox, templates, b"bench%02d." % r)
        t1 = time.monotonic()
        run([patchq, "--db", db, "-q", "import", mbox])
        os.unlink(mbox)
        print("  import round %2d: %.1f s" % (r + 1, time.monotonic() - t1))
        sys.stdout.flush()
    return time.monotonic() - t0


def count(db, sql):
    ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None, timeout=30)
    try:
        return ro.execute(sql).fetchall()
    finally:
        ro.close()


class Deliverer(threading.Thread):
    """New mail into the maildir at RATE messages a second, as an MTA
    delivers it; the files the daemon moved to cur/ are removed."""

    def __init__(self, maildir, templates, rate):
        super().__init__(daemon=True)
        self.maildir = maildir
        self.templates = templates
        self.rate = rate
        self.stop = threading.Event()
        self.sent = 0
        self.tag = "live%d" % int(time.time())

    def run(self):
        tmpd = os.path.join(self.maildir, "tmp")
        newd = os.path.join(self.maildir, "new")
        curd = os.path.join(self.maildir, "cur")
        t0 = time.monotonic()
        while not self.stop.is_set():
            due = int((time.monotonic() - t0) * self.rate) - self.sent
            for _ in range(max(0, due)):
                r, i = divmod(self.sent, len(self.templates))
                prefix = ("%s-%02d." % (self.tag, r)).encode()
                name = "%d.M%07dP%d.desk" % (int(time.time()), self.sent, os.getpid())
                with open(os.path.join(tmpd, name), "wb") as f:
                    f.write(self.templates[i].render(prefix))
                os.rename(os.path.join(tmpd, name), os.path.join(newd, name))
                self.sent += 1
            if self.sent % 1000 < self.rate:
                for name in os.listdir(curd):
                    os.unlink(os.path.join(curd, name))
            self.stop.wait(0.05)


def fetch(url):
    with urllib.request.urlopen(url, timeout=120) as r:
        return r.status, r.read()


def ab(url, n, c, work):
    """ab's figures for URL: (p50, p95, p99, non-2xx, failed, failed_detail)."""
    csvf = os.path.join(work, "ab.csv")
    cmd = ["ab", "-q", "-n", str(n), "-c", str(c), "-s", "120", "-e", csvf]
    if GZIP:
        cmd += ["-H", "Accept-Encoding: gzip"]
    p = subprocess.run(cmd + [url], capture_output=True, text=True)
    if p.returncode != 0:
        die("ab %s: exit %d: %s" % (url, p.returncode, (p.stderr + p.stdout)[-2000:]))
    out = p.stdout
    pct = {}
    with open(csvf) as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        pct[int(float(row[0]))] = float(row[1])
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    detail = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)",
                       out)
    complete = re.search(r"Complete requests:\s+(\d+)", out)
    rps = re.search(r"Requests per second:\s+([\d.]+)", out)
    nfailed = int(failed.group(1)) if failed else 0
    other = nfailed
    if detail:
        other = nfailed - int(detail.group(3))  # differing lengths: pages change
    return dict(n=int(complete.group(1)) if complete else 0, p50=pct[50], p95=pct[95],
                p99=pct[99], non2xx=int(non2xx.group(1)) if non2xx else 0, failed=other,
                length=nfailed - other, rps=float(rps.group(1)) if rps else 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--source", default=os.path.join(here, "..", ".."))
    a = ap.parse_args()
    zst = os.path.join(a.corpus, "real", "bench", "linux-kbuild-last10000.mbox.zst")
    if not os.path.isfile(zst):
        skip("corpus file not found: %s" % zst)
    for tool in ("zstd", "git", "ab"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    env = lambda k, d: int(os.environ.get(k, d))  # noqa: E731
    rounds = env("PQ_BENCH_ROUNDS", "20")
    warm = env("PQ_BENCH_WARM", "120")
    rate = env("PQ_BENCH_RATE", "50")
    nreq = env("PQ_BENCH_REQUESTS", "2000")
    conc = env("PQ_BENCH_CONCURRENCY", "32")
    per_url = env("PQ_BENCH_SECONDS", "20")
    if rounds < 1:
        die("PQ_BENCH_ROUNDS must be at least 1")
    patchqd = os.path.abspath(a.patchqd)
    patchq = os.path.abspath(a.patchq)
    source = os.path.abspath(a.source)

    os.environ["LC_ALL"] = "C"
    for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_COMMON_DIR", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "MALLOC_PERTURB_",
              "http_proxy", "HTTP_PROXY"):
        os.environ.pop(k, None)
    os.environ.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
                      GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
                      GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org",
                      no_proxy="127.0.0.1")

    msgs = read_mboxrd(zst)
    if len(msgs) != 10000:
        die("%s: %d messages, expected 10000" % (zst, len(msgs)))
    templates = [Template(m) for m in msgs]
    del msgs

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="pq-bench-desk-")
    os.environ["GIT_CEILING_DIRECTORIES"] = os.path.dirname(work)
    notify = Notify()
    dm = None
    deliverer = None
    try:
        keep = os.environ.get("PQ_BENCH_DB")
        db = os.path.abspath(keep) if keep else os.path.join(work, "patchq.db")
        repo_keep = db + ".queues.git"
        marker = db + ".built"
        built = None
        if keep and os.path.exists(marker) and os.path.exists(repo_keep):
            built = open(marker).read().strip()
        if built and built != str(rounds):
            die("%s holds %s rounds, PQ_BENCH_ROUNDS asks for %d: remove it or set"
                " PQ_BENCH_ROUNDS" % (db, built, rounds))

        repo, _ = make_repo(work)
        if keep:
            if not built:
                for p in (db, db + "-wal", db + "-shm", repo_keep):
                    if os.path.isdir(p):
                        shutil.rmtree(p)
                    elif os.path.exists(p):
                        os.unlink(p)
                shutil.move(repo, repo_keep)
            repo = repo_keep
        maildir = os.path.join(work, "Maildir")
        for d in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, d))
        conf = make_conf(source, work, maildir)
        text = open(conf).read()
        text = text.replace("database = patchq.db", "database = %s" % db)
        text = text.replace("repository = queues.git", "repository = %s" % repo)
        with open(conf, "w") as f:
            f.write(text)

        print("desk benchmark: %d x the 10,000 linux-kbuild messages of the corpus,"
              " %d concurrent clients (ab%s), %s" % (
                  rounds, conc, ", Accept-Encoding: gzip" if GZIP else "",
                  run([patchqd, "--version"]).decode().strip()))
        print("  %d CPUs; load average before: %s" % (
            os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])))
        sys.stdout.flush()
        if built:
            print("  database kept in %s (%s rounds): not built again" % (db, built))
        else:
            t = build(patchq, db, templates, rounds, work)
            print("  built by patchq import in %.0f s" % t)
            if keep:
                with open(marker, "w") as f:
                    f.write("%d\n" % rounds)
        sys.stdout.flush()

        log = os.path.join(work, "patchqd.log")
        dm = Daemon(patchqd, conf, notify, log)
        deadline = time.monotonic() + 300
        while notify.wait("READY=1", timeout=1) is None:
            if not dm.alive() or time.monotonic() > deadline:
                die("patchqd did not get ready:\n" + dm.text()[-3000:])
        m = None
        deadline = time.monotonic() + 30
        while m is None and time.monotonic() < deadline:
            m = re.search(r"desk at (http://127\.0\.0\.1:\d+)/", dm.text())
            time.sleep(0.1)
        if m is None:
            die("patchqd did not say where the desk is:\n" + dm.text()[-3000:])
        base = m.group(1)

        print("  the pipeline runs %d s before the measurement (and on during it)" % warm)
        sys.stdout.flush()
        end = time.monotonic() + warm
        while time.monotonic() < end:
            if not dm.alive():
                die("patchqd exited:\n" + dm.text()[-3000:])
            time.sleep(1)

        # what the database holds now, and the series to ask for
        q1 = lambda sql: count(db, sql)[0][0]  # noqa: E731
        nmsg0 = q1("SELECT count(*) FROM message")
        nseries = q1("SELECT count(*) FROM series")
        ntriaged = q1("SELECT count(*) FROM series WHERE triaged IS NOT NULL")
        nqueue = count(db, "SELECT queue, state, count(*) FROM series_queue"
                           " GROUP BY queue, state ORDER BY queue, state")
        big = count(db, "SELECT series_id, count(*) FROM message WHERE kind = 'patch'"
                        " AND series_id IS NOT NULL GROUP BY series_id"
                        " ORDER BY 2 DESC, 1 DESC LIMIT 1")[0]
        # the most answered series of the last round built (the rounds
        # delivered live by earlier runs come after it), the big one aside
        chatty = count(db, "SELECT m.series_id, count(DISTINCT r.message_id) FROM ref r"
                           " JOIN message m ON m.msgid = r.msgid"
                           " WHERE m.series_id IS NOT NULL AND m.series_id != %d"
                           " AND m.msgid LIKE 'bench%02d.%%' AND r.msgid LIKE 'bench%02d.%%'"
                           " GROUP BY m.series_id ORDER BY 2 DESC LIMIT 1" %
                       (big[0], rounds - 1, rounds - 1))[0]
        newest = q1("SELECT max(id) FROM series")
        todo = json.loads(fetch(base + "/api/todo")[1])
        ntodo = sum(len(v) for qq in todo.get("queues", []) for v in qq.values()
                    if isinstance(v, list))
        print("  database: %d messages, %d series (%d triaged); series_queue: %s" % (
            nmsg0, nseries, ntriaged, ", ".join("%s %s %d" % r for r in nqueue) or "empty"))
        print("  to-do: %d entries over %d queues; series asked for: %d (%d patches),"
              " %d (%d replies), %d (newest)" % (
                  ntodo, len(todo.get("queues", [])), big[0], big[1], chatty[0], chatty[1],
                  newest))
        sys.stdout.flush()

        urls = ["/", "/api/todo", "/series", "/api/series?limit=50", "/series?search=kbuild",
                "/series/%d" % big[0], "/api/series/%d" % big[0],
                "/series/%d" % chatty[0], "/api/series/%d" % chatty[0],
                "/series/%d" % newest, "/queues/rust-next", "/api/queues/rust-dev",
                "/outbox", "/api/outbox"]

        deliverer = Deliverer(maildir, templates, rate)
        deliverer.start()
        t_meas = time.monotonic()
        results = []
        for u in urls:
            t0 = time.monotonic()
            st, body = fetch(base + u)
            one = time.monotonic() - t0
            if st != 200:
                die("%s: status %d" % (u, st))
            # the number of requests from the second answer: the first made
            # the page, the next may come from the desk's page cache
            t0 = time.monotonic()
            fetch(base + u)
            again = time.monotonic() - t0
            n = min(nreq, max(200, int(per_url / max(again, 1e-4))))
            cpu0 = bm.thread_cpu(dm.pid).get("http", 0.0)
            r = ab(base + u, n, conc, work)
            r["cpu"] = (bm.thread_cpu(dm.pid).get("http", 0.0) - cpu0) * 1000 / max(r["n"], 1)
            r["url"] = u
            r["one"] = one * 1000
            r["bytes"] = len(body)
            results.append(r)
            print("  %-26s %5d req, p50 %7.1f, p95 %7.1f, p99 %7.1f ms; alone %6.1f ms,"
                  " %6.0f req/s, %5.1f ms of CPU (http thread) a request, %4.0f kB" % (
                      u, r["n"], r["p50"], r["p95"], r["p99"], r["one"], r["rps"], r["cpu"],
                      r["bytes"] / 1000))
            sys.stdout.flush()
            if not dm.alive():
                die("patchqd exited:\n" + dm.text()[-3000:])
        t_meas = time.monotonic() - t_meas
        deliverer.stop.set()
        deliverer.join()
        time.sleep(2)
        nmsg1 = q1("SELECT count(*) FROM message")
        rc = dm.stop(timeout=60)
        dm = None

        print("  load average after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
        print()
        print("%-26s %8s %8s %8s %8s %8s %7s %8s  %s" % (
            "URL", "requests", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "failed", "CPU ms",
            "p95 < %d ms" % TARGET_MS))
        for r in results:
            print("%-26s %8d %8.0f %8.0f %8.0f %8d %7d %8.1f  %s" % (
                r["url"], r["n"], r["p50"], r["p95"], r["p99"], r["non2xx"], r["failed"],
                r["cpu"], "yes" if r["p95"] < TARGET_MS else "NO"))
        print()
        print("%d of %d URLs at p95 under %d ms with %d concurrent clients; %d messages"
              " delivered and %d stored during the %.0f s of measurement (%.0f/s)" % (
                  sum(r["p95"] < TARGET_MS for r in results), len(results), TARGET_MS, conc,
                  deliverer.sent, nmsg1 - nmsg0, t_meas, (nmsg1 - nmsg0) / t_meas))
        print("(failed: ab's failures other than a differing length, which pages that"
              " change as mail arrives always have: %d requests)" %
              sum(r["length"] for r in results))
        if rc != 0:
            die("patchqd exited %s after SIGTERM:\n%s" % (rc, open(log).read()[-3000:]))
        return 0
    finally:
        if deliverer:
            deliverer.stop.set()
        if dm:
            dm.kill()
        notify.close()
        if os.environ.get("PQ_BENCH_KEEP"):
            print("%s: kept %s" % (ME, work), file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
