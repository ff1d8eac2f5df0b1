#!/usr/bin/env python3
"""bench_latency: from IMAP APPEND to the database, and to rust-dev.

A private dovecot on loopback (tests/integration/dovecot.py) and patchqd
reading it with IDLE (pollInterval an hour, so no poll helps). N patch
mails (default 300; PQ_BENCH_MESSAGES), each a one-patch series adding a
file under rust/ with a Reviewed-by:, so the demo configuration's "dev"
rule applies it to rust-dev automatically, are APPENDed one at a time by
another client (imaplib). For each, the clock starts just before APPEND
and stops when the message is committed in the database (read-only SQLite
reads every millisecond), and when its commit is recorded on rust-dev.

Dovecot tells IDLE clients of new mail only after a fixed delay of its
own (NOTIFY_DELAY_MSECS, 500 ms, in its mailbox-watch.c). So before the
daemon starts, an IDLE client of the bench's own (imaplib on the raw
socket) measures that delay alone, from APPEND to the server's EXISTS, on
a mailbox of its own: the difference of the medians is patchq's share.

Printed: p50, p90, p99 and max of each, and, as the reference from git's
own tools, `git am` of the same mail one message at a time on a checkout
of the demo repository (its median per message), with the ratio.

usage: bench_latency.py --patchqd PATH --patchq PATH --source DIR
Exits 77 (skipped) without dovecot.
"""
import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
from dovecot import Dovecot, have_dovecot  # noqa: E402
from test_daemon import Daemon, Notify  # noqa: E402
from test_queue import run, setup_demo  # noqa: E402


def make_mail(d, n):
    """n one-patch mails made by git format-patch, in order."""
    w = os.path.join(d, "bench-src")
    run(["git", "clone", "-q", "-b", "rust-next", os.path.join(d, "queues.git"), w], cwd=d)
    g = ["git", "-c", "user.name=Bea Bench", "-c", "user.email=bea@example.org"]
    os.makedirs(os.path.join(w, "rust", "bench"))
    for i in range(n):
        with open(os.path.join(w, "rust", "bench", "f%04d.rs" % i), "w") as f:
            f.write("// SPDX-License-Identifier: GPL-2.0\n\npub const N%d: u32 = %d;\n" % (i, i))
        run(g + ["add", "-A"], cwd=w)
        run(g + ["commit", "-q", "-m", "rust: bench: add f%04d" % i, "-m",
                 "One more constant.", "-m",
                 "Reviewed-by: Rita Reviewer <rita@example.org>\n"
                 "Signed-off-by: Bea Bench <bea@example.org>"], cwd=w)
    out = os.path.join(d, "bench-mail")
    # --thread for the Message-IDs; the threading headers go: one series each
    run(["git", "format-patch", "-q", "-o", out, "--thread", "--no-numbered", "HEAD~%d" % n],
        cwd=w)
    mails = []
    for name in sorted(os.listdir(out)):
        text = open(os.path.join(out, name), "rb").read()
        text = b"\n".join(l for l in text.split(b"\n")
                          if not l.startswith((b"In-Reply-To:", b"References:")))
        mails.append(text)
    return mails


def msgid(mail):
    for line in mail.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b"<", 1)[1].split(b">", 1)[0].decode()
    raise ValueError("no Message-ID")


class IdleWatch:
    """An IDLE session of its own: the time each "* N EXISTS" arrives."""

    def __init__(self, dc, mailbox="INBOX"):
        self.c = dc.client()
        self.c.select(mailbox)
        self.times = []
        self.cond = threading.Condition()
        self.c.send(b"w1 IDLE\r\n")
        if not self.c.readline().startswith(b"+"):
            raise SystemExit("the server refused IDLE")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                line = self.c.readline()
            except (OSError, ValueError):
                return
            if not line:
                return
            if line.rstrip().endswith(b" EXISTS"):
                with self.cond:
                    self.times.append(time.monotonic())
                    self.cond.notify_all()

    def wait(self, n, timeout=60):
        """The time the n-th EXISTS arrived (1-based)."""
        with self.cond:
            self.cond.wait_for(lambda: len(self.times) >= n, timeout)
            return self.times[n - 1] if len(self.times) >= n else None

    def close(self):
        try:
            self.c.send(b"DONE\r\n")
            self.c.shutdown()
        except OSError:
            pass


def server_delay(dc, n):
    """From APPEND to the EXISTS an IDLE client gets, n times, alone."""
    dc.create_mailbox("calibrate")
    watch = IdleWatch(dc, "calibrate")
    client = dc.client()
    delays = []
    for k in range(1, n + 1):
        t0 = time.monotonic()
        dc.append("calibrate", b"Subject: calibrate %d\r\n\r\nbody\r\n" % k, client=client)
        tn = watch.wait(k)
        if tn is None:
            raise SystemExit("the IDLE client never heard of message %d" % k)
        delays.append(tn - t0)
        time.sleep(0.6)  # the server's notice timer is idle again
    client.logout()
    watch.close()
    return delays


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def git_am_times(d, mails):
    w = os.path.join(d, "am-check")
    run(["git", "clone", "-q", "-b", "rust-next", os.path.join(d, "queues.git"), w], cwd=d)
    times = []
    for m in mails:
        t0 = time.monotonic()
        subprocess.run(["git", "-c", "user.name=B", "-c", "user.email=b@example.org", "am", "-q"],
                       cwd=w, input=m, check=True)
        times.append(time.monotonic() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    if not have_dovecot():
        print("bench_latency: SKIP: dovecot (dovecot-imapd) or openssl is missing",
              file=sys.stderr)
        return 77
    n = int(os.environ.get("PQ_BENCH_MESSAGES", "300"))
    work = tempfile.mkdtemp(prefix="pq-bench-latency-")
    notify = Notify()
    dm = None
    dc = None
    try:
        d = os.path.join(work, "demo")
        os.mkdir(d)
        setup_demo(os.path.abspath(a.source), d)
        mails = make_mail(d, n)
        dc = Dovecot(work)
        dc.start()
        notified = server_delay(dc, 20)
        conf = os.path.join(d, "patchq.conf")
        db = os.path.join(d, "patchq.db")
        with open(conf, "a") as f:
            f.write('\n[source "list"]\n\ttype = imap\n\thost = 127.0.0.1\n\tport = %d\n'
                    '\ttls = imaps\n\tcaFile = %s\n\tuser = %s\n\tpasswordFile = %s\n'
                    '\tpollInterval = 3600\n' % (dc.imaps_port, dc.ca_file, dc.user,
                                                 dc.password_file))
        dm = Daemon(os.path.abspath(a.patchqd), conf, notify, os.path.join(work, "patchqd.log"))
        if notify.wait("READY=1", timeout=60) is None:
            raise SystemExit("patchqd did not get ready:\n" + dm.text())
        ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None)
        client = dc.client()
        ingest, applied = [], []
        for m in mails:
            mid = msgid(m)
            t0 = time.monotonic()
            dc.append("INBOX", m, client=client)
            t1 = t2 = None
            deadline = t0 + 60
            while t2 is None and time.monotonic() < deadline:
                if t1 is None and ro.execute("SELECT 1 FROM message WHERE msgid = ?",
                                             (mid,)).fetchone():
                    t1 = time.monotonic()
                if t1 is not None and ro.execute(
                        "SELECT 1 FROM application WHERE msgid = ? AND queue = 'rust-dev'",
                        (mid,)).fetchone():
                    t2 = time.monotonic()
                    break
                time.sleep(0.001)
            if t2 is None:
                raise SystemExit("%s: not %s within 60 s:\n%s" %
                                 (mid, "stored" if t1 is None else "applied", dm.text()[-3000:]))
            ingest.append(t1 - t0)
            applied.append(t2 - t0)
        client.logout()
        rc = dm.stop()
        dm = None
        am = git_am_times(d, mails)
        ms = lambda x: "%7.1f ms" % (x * 1000)  # noqa: E731
        print("latency benchmark: %d one-patch series APPENDed one at a time to a dovecot on"
              " loopback (imaps), patchqd in IDLE" % n)
        print("  %-36s %10s %10s %10s %10s" % ("", "p50", "p90", "p99", "max"))
        rows = [("APPEND -> the server's EXISTS (IDLE)", notified),
                ("APPEND -> committed in the database", ingest),
                ("APPEND -> applied on rust-dev", applied),
                ("git am of the same mail (checkout)", am)]
        for label, xs in rows:
            print("  %-36s %s %s %s %s" % (label, ms(pct(xs, 50)), ms(pct(xs, 90)),
                                           ms(pct(xs, 99)), ms(max(xs))))
        work_ms = pct(applied, 50) - pct(notified, 50)
        print("  from the server's notice to applied on rust-dev (ingest, dry runs on every"
              " queue, rules, apply, reply): %.1f ms, %.2f times git am's %.1f ms (medians)"
              % (work_ms * 1000, work_ms / pct(am, 50), pct(am, 50) * 1000))
        own = pct(ingest, 50) - pct(notified, 50)
        print("  patchq's share of the ingestion (p50 less the server's notice delay): %.1f ms"
              % (own * 1000))
        print("  ingestion p50 goal, under 50 ms: from APPEND %s; patchq's share %s" %
              ("met" if pct(ingest, 50) < 0.050 else "not met",
               "met" if own < 0.050 else "not met"))
        print("  patchqd exit status after SIGTERM: %s" % rc)
        return 0
    finally:
        if dm:
            dm.kill()
        if dc:
            dc.cleanup()
        notify.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
