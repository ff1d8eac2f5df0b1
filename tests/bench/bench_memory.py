#!/usr/bin/env python3
"""bench_memory: patchqd's memory while it ingests a very large list.

The 10,000 linux-kbuild messages of the corpus
(real/bench/linux-kbuild-last10000.mbox.zst, mboxrd), copied ROUNDS times
(default 20, PQ_BENCH_ROUNDS: 200,000 messages): each copy's Message-ID,
In-Reply-To and References get a prefix of the round ("bench07.") in every
message id they name, so each round's threads and series form again among
themselves, distinct from the other rounds'. Nothing else changes.

patchqd runs as users run it: the queues and rules of
contrib/patchq.conf.example on a small real git repository the script
makes (the few kbuild files of bench_triage.sh's stand-in, branches
rust-next, rust-fixes, rust-dev, rust), no [smtp] (replies wait in the
outbox), one [source "list"] of type maildir. Each round is delivered the
way an MTA does (written in tmp/, renamed into new/), all 10,000 files at
once; the next round goes in when new/ is empty again, that is when the
daemon has committed them all, and the files it moved to cur/ are deleted
then, so the disk holds one round of files and the database. The pipeline
(triage, three dry runs per complete series, the rules, automatic
application, rebuilds) runs on its own worker meanwhile, as it does for
users; at the end the bench waits until it has caught up.

Every second: VmRSS, RssAnon, RssFile, RssShmem of /proc/PID/status, the
CPU time of each thread (the daemon names its workers "ingest" and "git";
"children" is the git apply runs of the dry runs), and the messages stored
(a read-only SQLite connection, opened and closed each time). Printed: RSS
after every 20,000 messages delivered and stored, its peak (VmHWM at the
end), whether it levels off (the highest figure of the last third within
10% or 5 MB of the highest of the middle third), the time of each phase,
and the CPU of each thread. A CSV of every sample goes to PQ_BENCH_CSV when set;
PQ_BENCH_KEEP=1 keeps the work directory (the database, patchqd.log).

About 20 minutes on 2 cores: the ingest takes about 5, the rest is the
pipeline catching up, some 14,000 complete series with three dry runs
each (on the stand-in nearly every patch fails in libgit2 and again in
the `git apply` fallback, a process each). The database takes about 5 GB
(TMPDIR).

usage: bench_memory.py --patchqd PATH --corpus DIR
Exits 77 (skipped) without the corpus, zstd or git.
"""
import argparse
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

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
from test_daemon import Daemon, Notify  # noqa: E402

ME = "bench_memory"
FROM_LINE = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
STEP = 20000  # a figure every this many messages stored
HZ = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def skip(why):
    print("%s: SKIP: %s" % (ME, why), file=sys.stderr)
    sys.exit(77)


def die(why):
    print("%s: FAIL: %s" % (ME, why), file=sys.stderr)
    sys.exit(1)


def run(cmd, cwd=None, **kw):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, **kw)
    if p.returncode != 0:
        die("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                  p.stderr.decode("utf-8", "replace")[-2000:]))
    return p.stdout


# ---- the mail ----

def read_mboxrd(zst):
    """The messages of a zstd-compressed mboxrd file, as bytes, unquoted."""
    data = run(["zstd", "-q", "-dc", "--", zst])
    if not data.startswith(FROM_LINE):
        die("%s: not an mboxrd file from public-inbox" % zst)
    msgs = []
    for chunk in data.split(b"\n" + FROM_LINE):
        if chunk.startswith(FROM_LINE):
            chunk = chunk[len(FROM_LINE):]
        # mboxrd: one ">" less before every ">*From "
        msgs.append(re.sub(rb"(?m)^>(>*From )", rb"\1", chunk) + b"\n")
    return msgs


ID_HEADER = re.compile(rb"(?im)^(message-id|in-reply-to|references):(?:.*\n(?:[ \t].*\n)*)")
ANGLE = re.compile(rb"<([^<>\s]+)>")


class Template:
    """A message cut where its message ids are: round r puts its prefix in."""

    def __init__(self, raw):
        end = raw.find(b"\n\n")
        head = raw[:end + 1] if end >= 0 else raw
        self.parts = []  # bytes between the ids; the ids themselves in between
        pos = 0
        for h in ID_HEADER.finditer(head):
            for a in ANGLE.finditer(h.group(0)):
                s = h.start() + a.start(1)
                self.parts.append(raw[pos:s])
                pos = s
        self.parts.append(raw[pos:])

    def render(self, prefix):
        return prefix.join(self.parts)


# ---- the repository and the configuration ----

def make_repo(work):
    """A bare repository of a few kbuild files, with the queue branches."""
    st = os.path.join(work, "stand-in")
    files = {
        "Makefile": "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\n\n"
                    "all: vmlinux\n",
        "Kbuild": "# SPDX-License-Identifier: GPL-2.0\n#\n# Kbuild for top-level directory"
                  " of the kernel\n",
        "scripts/Makefile.build": "# SPDX-License-Identifier: GPL-2.0\n# Building\n\n"
                                  "src := $(obj)\n",
        "scripts/Makefile.lib": "# SPDX-License-Identifier: GPL-2.0\n# Backward compatibility\n",
        "scripts/Kbuild.include": "# SPDX-License-Identifier: GPL-2.0\n# kbuild: generic"
                                  " definitions\n",
        "scripts/mod/modpost.c": "// SPDX-License-Identifier: GPL-2.0\nint main(void)\n{\n"
                                 "\treturn 0;\n}\n",
        "scripts/kconfig/conf.c": "// SPDX-License-Identifier: GPL-2.0\nint conf_main(void)\n"
                                  "{\n\treturn 0;\n}\n",
        "rust/Makefile": "# SPDX-License-Identifier: GPL-2.0\nobj-$(CONFIG_RUST) += core.o\n",
    }
    for name, text in files.items():
        path = os.path.join(st, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    repo = os.path.join(work, "queues.git")
    run(["git", "init", "-q", "--bare", "-b", "main", repo])
    g = ["git", "--git-dir=" + repo, "--work-tree=" + st]
    run(g + ["add", "-A", "-f", "."])
    env = dict(os.environ, GIT_AUTHOR_DATE="1700000000 +0000",
               GIT_COMMITTER_DATE="1700000000 +0000")
    run(g + ["commit", "-q", "--no-verify", "-m", "stand-in: a few kbuild files"], env=env)
    os.unlink(os.path.join(repo, "index"))
    for b in ("rust-next", "rust-fixes", "rust-dev", "rust"):
        run(["git", "--git-dir=" + repo, "branch", "-f", b, "main"])
    return repo, len(files)


def make_conf(source, work, maildir):
    conf = open(os.path.join(source, "contrib", "patchq.conf.example")).read()
    for old, new in (("/var/lib/patchq/patchq.db", "patchq.db"),
                     ("/var/lib/patchq/linux.git", "queues.git"),
                     ("Miguel Ojeda <ojeda@kernel.org>", "Bench Maint <maint@example.org>"),
                     ("listen = 127.0.0.1:8080", "listen = 127.0.0.1:0")):
        if old not in conf:
            die("contrib/patchq.conf.example no longer says %s" % old)
        conf = conf.replace(old, new)
    conf += '\n[source "list"]\n\ttype = maildir\n\tpath = %s\n\tpollInterval = 3600\n' % maildir
    path = os.path.join(work, "patchq.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


# ---- the samples ----

def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def thread_cpu(pid):
    """{thread name: CPU seconds} of the process's threads, and "children"
    for the processes it ran and waited for (git apply)."""
    out = {}
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        out["children"] = (int(fields[13]) + int(fields[14])) / HZ
    except OSError:
        pass
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for t in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / HZ
    return out


class Sampler(threading.Thread):
    def __init__(self, pid, db):
        super().__init__(daemon=True)
        self.pid = pid
        self.db = db
        self.samples = []  # (seconds, messages, status dict, cpu dict)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = time.monotonic()

    def stored(self):
        """Messages in the database: a read-only connection of its own each
        time, closed at once, so that no read transaction stays open (it
        would hold the daemon's WAL checkpoints back)."""
        if not os.path.exists(self.db):
            return 0
        ro = None
        try:
            ro = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, isolation_level=None,
                                 timeout=10)
            return ro.execute("SELECT count(*) FROM message").fetchall()[0][0]
        except sqlite3.Error:
            return None
        finally:
            if ro is not None:
                ro.close()

    def sample(self):
        n = self.stored()
        s = proc_status(self.pid)
        c = thread_cpu(self.pid)
        with self.lock:
            if n is None and self.samples:
                n = self.samples[-1][1]
            self.samples.append((time.monotonic() - self.t0, n or 0, s, c))
            return self.samples[-1]

    def run(self):
        while not self.stop.wait(1.0 - (time.monotonic() - self.t0) % 1.0):
            self.sample()

    def last(self):
        with self.lock:
            return self.samples[-1] if self.samples else None


def mb(kb):
    return kb * 1024 / 1e6


# ---- the run ----

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--source", default=os.path.join(here, "..", ".."))
    a = ap.parse_args()
    zst = os.path.join(a.corpus, "real", "bench", "linux-kbuild-last10000.mbox.zst")
    if not os.path.isfile(zst):
        skip("corpus file not found: %s" % zst)
    for tool in ("zstd", "git"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    rounds = int(os.environ.get("PQ_BENCH_ROUNDS", "20"))
    if rounds < 1:
        die("PQ_BENCH_ROUNDS must be at least 1")
    patchqd = os.path.abspath(a.patchqd)
    source = os.path.abspath(a.source)

    os.environ["LC_ALL"] = "C"
    for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_COMMON_DIR", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "MALLOC_PERTURB_"):
        os.environ.pop(k, None)
    os.environ.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
                      GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
                      GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org")

    msgs = read_mboxrd(zst)
    if len(msgs) != 10000:
        die("%s: %d messages, expected 10000" % (zst, len(msgs)))
    templates = [Template(m) for m in msgs]
    nbytes = sum(len(m) for m in msgs)
    del msgs
    if sum(len(t.parts) > 1 for t in templates) < 9900:
        die("fewer than 9,900 messages have a Message-ID in angle brackets")

    # meson ends a benchmark past its timeout with SIGTERM: clean up then too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="pq-bench-memory-")
    os.environ["GIT_CEILING_DIRECTORIES"] = os.path.dirname(work)
    notify = Notify()
    dm = None
    sampler = None
    try:
        repo, nfiles = make_repo(work)
        maildir = os.path.join(work, "Maildir")
        for d in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(maildir, d))
        conf = make_conf(source, work, maildir)
        db = os.path.join(work, "patchq.db")
        log = os.path.join(work, "patchqd.log")

        print("memory benchmark: patchqd ingesting %d x the 10,000 linux-kbuild messages"
              " of the corpus (%.0f MB each), Message-IDs made distinct per round" %
              (rounds, nbytes / 1e6))
        print("  maildir source (inotify), queues and rules of contrib/patchq.conf.example on"
              " a stand-in repository of %d kbuild files, no [smtp]" % nfiles)
        print("  %s; %d CPUs; load average before: %s" % (
            run([patchqd, "--version"]).decode().strip(), os.cpu_count(),
            " ".join(open("/proc/loadavg").read().split()[:3])))
        sys.stdout.flush()

        t_start = time.monotonic()
        dm = Daemon(patchqd, conf, notify, log)
        if notify.wait("READY=1", timeout=60) is None:
            die("patchqd did not get ready:\n" + dm.text()[-3000:])
        sampler = Sampler(dm.pid, db)
        sampler.start()
        base = sampler.sample()

        seq = 0
        stamp = int(time.time())
        t_ingest0 = time.monotonic()
        round_times = []
        round_marks = []  # (round, the sample when new/ was empty again)
        for r in range(rounds):
            prefix = b"bench%02d." % r
            t0 = time.monotonic()
            tmpd = os.path.join(maildir, "tmp")
            newd = os.path.join(maildir, "new")
            for t in templates:
                seq += 1
                # names sort in delivery order, the order patchqd reads new/ in
                name = "%d.M%07dP%d.bench" % (stamp, seq, os.getpid())
                with open(os.path.join(tmpd, name), "wb") as f:
                    f.write(t.render(prefix))
                os.rename(os.path.join(tmpd, name), os.path.join(newd, name))
            t_delivered = time.monotonic() - t0
            deadline = time.monotonic() + 900
            while os.listdir(newd):
                if not dm.alive():
                    die("patchqd exited:\n" + dm.text()[-3000:])
                if time.monotonic() > deadline:
                    die("round %d: new/ not drained in 15 minutes:\n%s" %
                        (r + 1, dm.text()[-3000:]))
                time.sleep(0.2)
            t_round = time.monotonic() - t0
            s = sampler.sample()
            round_times.append(t_round)
            round_marks.append((r + 1, s))
            print("  round %2d: %6d stored, %5.1f s (delivery %.1f s), RSS %5.1f MB"
                  " (anon %5.1f, file %5.1f, shmem %5.1f)" %
                  (r + 1, s[1], t_round, t_delivered, mb(s[2].get("VmRSS", 0)),
                   mb(s[2].get("RssAnon", 0)), mb(s[2].get("RssFile", 0)),
                   mb(s[2].get("RssShmem", 0))))
            sys.stdout.flush()
            cur = os.path.join(maildir, "cur")
            for name in os.listdir(cur):
                os.unlink(os.path.join(cur, name))
        t_ingest = time.monotonic() - t_ingest0
        cpu_ingested = thread_cpu(dm.pid)

        # the pipeline catches up: the last STATUS= says it is not running,
        # and nothing is said for 3 s
        t_pipe0 = time.monotonic()
        deadline = t_pipe0 + 1800
        while True:
            if not dm.alive():
                die("patchqd exited:\n" + dm.text()[-3000:])
            with notify.cond:
                st = [m for _, m in notify.msgs if m.startswith("STATUS=")]
            quiet = time.monotonic() - notify.last_time()
            if st and "pipeline running" not in st[-1] and quiet > 3:
                break
            if time.monotonic() > deadline:
                die("the pipeline did not catch up in 30 minutes")
            time.sleep(0.5)
        t_pipe = time.monotonic() - t_pipe0
        end = sampler.sample()
        sampler.stop.set()
        sampler.join()
        cpu = thread_cpu(dm.pid)
        hwm = proc_status(dm.pid).get("VmHWM", 0)
        rc = dm.stop(timeout=60)
        dm = None
        t_total = time.monotonic() - t_start

        ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        q = lambda sql: ro.execute(sql).fetchone()[0]  # noqa: E731
        nmsg = q("SELECT count(*) FROM message")
        nseries = q("SELECT count(*) FROM series")
        ncomplete = q("SELECT count(*) FROM complete_series")
        ntriaged = q("SELECT count(*) FROM series WHERE triaged IS NOT NULL")
        ndry = q("SELECT count(*) FROM check_result")
        nleft = q("SELECT count(*) FROM complete_series WHERE state = 'new' AND triaged IS NULL")
        nround0 = q("SELECT count(*) FROM message WHERE msgid LIKE 'bench00.%'")
        ro.close()
        dbsize = sum(os.path.getsize(db + x) for x in ("", "-wal", "-shm")
                     if os.path.exists(db + x))

        # ---- the report ----
        samples = sampler.samples
        print()
        print("  %-16s %9s %9s %9s %9s   %s" % ("delivered (stored)", "RSS", "anon", "file",
                                              "shmem", "time"))
        marks = []
        for k in range(1, len(round_marks) // (STEP // 10000) + 1):
            r, s = round_marks[k * (STEP // 10000) - 1]
            marks.append((k * STEP, s))
            print("  %-16s %6.1f MB %6.1f MB %6.1f MB %6.1f MB   %5.0f s" % (
                "%dk (%d)" % (k * STEP // 1000, s[1]), mb(s[2].get("VmRSS", 0)),
                mb(s[2].get("RssAnon", 0)), mb(s[2].get("RssFile", 0)),
                mb(s[2].get("RssShmem", 0)), s[0]))
        print("  %-16s %6.1f MB %6.1f MB %6.1f MB %6.1f MB   %5.0f s (pipeline caught up)" % (
            "end", mb(end[2].get("VmRSS", 0)), mb(end[2].get("RssAnon", 0)),
            mb(end[2].get("RssFile", 0)), mb(end[2].get("RssShmem", 0)), end[0]))
        peak = max(samples, key=lambda x: x[2].get("VmRSS", 0))
        print("  sampled peak %.1f MB at %d stored (%.0f s); VmHWM %.1f MB; at start %.1f MB" % (
            mb(peak[2].get("VmRSS", 0)), peak[1], peak[0], mb(hwm), mb(base[2].get("VmRSS", 0))))
        print()
        print("  messages stored: %d (round 1: %d of 10,000; the corpus repeats a few ids)"
              % (nmsg, nround0))
        print("  series: %d, complete %d, triaged %d (complete, new and never triaged: %d);"
              " dry runs recorded: %d" % (nseries, ncomplete, ntriaged, nleft, ndry))
        print("  database: %.0f MB" % (dbsize / 1e6))
        print("  time: %.0f s in all; ingest of the rounds %.0f s (%.0f messages/s, per round"
              " %.1f-%.1f s); the pipeline caught up %.0f s after the last round" % (
                  t_total, t_ingest, nmsg / t_ingest, min(round_times), max(round_times),
                  t_pipe))
        names = sorted(cpu, key=lambda k: -cpu[k])
        print("  CPU of patchqd's threads: %s (at the end of ingest: %s)" % (
            ", ".join("%s %.0f s" % (n, cpu[n]) for n in names),
            ", ".join("%s %.0f s" % (n, cpu_ingested.get(n, 0)) for n in names)))
        print("  patchqd exit status after SIGTERM: %s" % rc)
        if os.environ.get("PQ_BENCH_CSV"):
            with open(os.environ["PQ_BENCH_CSV"], "w") as f:
                f.write("seconds,stored,rss_kb,anon_kb,file_kb,shmem_kb,%s\n" %
                        ",".join("cpu_" + n for n in names))
                for t, n, s, c in samples:
                    f.write("%.1f,%d,%d,%d,%d,%d,%s\n" % (
                        t, n, s.get("VmRSS", 0), s.get("RssAnon", 0), s.get("RssFile", 0),
                        s.get("RssShmem", 0), ",".join("%.2f" % c.get(k, 0) for k in names)))

        # levels off: the highest figure of the last third of the run is
        # within 10% (or 5 MB) of the highest of the middle third. Each
        # connection's page cache (32 MiB) empties when the other one
        # writes and fills again, and when both stay full first varies from
        # run to run (40k in one, 120k in the next): the first third is left
        # out, and single figures are not compared.
        verdict = "too few figures to tell whether it levels off (the caches fill first)"
        if len(marks) >= 5:
            n = len(marks)
            mid = marks[n // 3:max(2 * n // 3, n // 3 + 1)] if n >= 3 else marks[:1]
            last = marks[max(2 * n // 3, n // 3 + 1):] if n >= 3 else marks[1:]
            m1 = max(m[1][2]["VmRSS"] for m in mid)
            m2 = max(m[1][2]["VmRSS"] for m in last)
            span = "%dk-%dk: %.1f MB, %dk-%dk: %.1f MB" % (
                mid[0][0] // 1000, mid[-1][0] // 1000, mb(m1),
                last[0][0] // 1000, last[-1][0] // 1000, mb(m2))
            if m2 - m1 <= max(0.10 * m1, 5000):
                verdict = "levels off (highest in %s)" % span
            else:
                verdict = "GROWS with the database (highest in %s)" % span
        print()
        if len(marks) >= 2:
            shown = [marks[0]] + ([marks[len(marks) // 2 - 1]] if len(marks) >= 3 else [])
            print("patchqd RSS: %s, peak %.0f MB; %s" % (
                ", ".join("%.0f MB after %dk" % (mb(m[1][2]["VmRSS"]), m[0] // 1000)
                          for m in shown + [marks[-1]]), mb(hwm), verdict))
        else:
            print("patchqd RSS: %.0f MB after %d messages, peak %.0f MB" % (
                mb(end[2].get("VmRSS", 0)), nmsg, mb(hwm)))
        if rc != 0:
            die("patchqd exited %s after SIGTERM:\n%s" % (rc, open(log).read()[-3000:]))
        return 0
    finally:
        if sampler:
            sampler.stop.set()
        if dm:
            dm.kill()
        notify.close()
        if os.environ.get("PQ_BENCH_KEEP"):
            print("%s: kept %s" % (ME, work), file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
