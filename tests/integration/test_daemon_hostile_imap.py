#!/usr/bin/env python3
"""patchqd against a hostile IMAP server (fake_imap.py) on loopback.

Nothing a server sends may hang patchqd, spin it or make its memory
unbounded, and SIGTERM ends it within seconds whatever a source is doing:

- the connection cut in the middle of a FETCH literal: the operation
  fails, the loss is logged once, the daemon backs off without burning
  CPU, reconnects, says "working again", and the message, served whole
  at last, is stored exactly once;
- "{4000000000}": a message whose RFC822.SIZE says so is not fetched
  but recorded (unparsable, with the reason; a warning); one whose size
  lied and whose literal says so is refused before it is read: the
  daemon's peak RSS stays far below the announced size, and it recovers
  once the server behaves;
- a server that never speaks (plain, or in the TLS handshake), that
  stalls in the middle of a literal, or that never answers IDLE's DONE:
  each wait times out (the log says so) and the daemon reconnects; with
  a long timeout, SIGTERM still ends it within 10 s with status 0;
- a server that trickles a literal a byte at a time, each byte within
  the timeout: the command's deadline ends it;
- a DNS server that never answers (the daemon run in a mount namespace
  whose /etc/resolv.conf names it; as root only): the resolution gives up
  after the source's timeout, and SIGTERM during it ends the daemon at
  once.

usage: test_daemon_hostile_imap.py --patchqd PATH
"""
import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, wait_until  # noqa: E402
from fake_imap import FakeImap, HUGE  # noqa: E402
from test_daemon import Daemon, Notify  # noqa: E402

SOURCE = "source hostile/INBOX"
STOP_LIMIT = 10.0  # seconds SIGTERM may take
TICK = os.sysconf("SC_CLK_TCK")


def mail(n, body=None):
    """A small message with a real header, CRLF as IMAP sends it."""
    body = body or "message number %d\r\n" % n
    return ("From: Sender %d <s%d@example.org>\r\nTo: list@example.org\r\n"
            "Subject: hostile test %d\r\nMessage-ID: <hostile-%d@example.org>\r\n"
            "Date: Mon, 1 Jan 2024 00:00:%02d +0000\r\n\r\n%s" % (n, n, n, n, n, body)).encode()


def cpu_seconds(pid):
    """User plus system CPU time the process used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1


def rows(db, sql, args=()):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        c.close()


class Setup:
    """A configuration with one imap source on the fake server, and its daemon."""

    def __init__(self, work, name, patchqd, srv, timeout, tls="none", poll=3600):
        self.dir = os.path.join(work, name)
        os.mkdir(self.dir)
        subprocess.run(["git", "init", "-q", "--bare", os.path.join(self.dir, "q.git")],
                       check=True)
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write("secret\n")
        os.chmod(pw, 0o600)
        self.conf = os.path.join(self.dir, "patchq.conf")
        self.db = os.path.join(self.dir, "patchq.db")
        extra = "\tverify = false\n" if tls != "none" else ""
        with open(self.conf, "w") as f:
            f.write("[patchq]\n\tdatabase = patchq.db\n\trepository = q.git\n"
                    "\tcommitter = Test <test@example.org>\n"
                    '[source "hostile"]\n\ttype = imap\n\thost = 127.0.0.1\n\tport = %d\n'
                    "\ttls = %s\n%s\tuser = patchq\n\tpasswordFile = pw\n"
                    "\tpollInterval = %d\n\ttimeout = %d\n"
                    % (srv.port, tls, extra, poll, timeout))
        self.notify = Notify()
        self.dm = Daemon(patchqd, self.conf, self.notify, os.path.join(self.dir, "patchqd.log"))

    def log(self):
        return self.dm.text()

    def stored(self):
        r = rows(self.db, "SELECT count(*) FROM message")
        return r[0][0] if r else 0

    def kill(self):
        if self.dm.alive():
            self.dm.kill()

    def stop(self):
        """SIGTERM: (exit status, seconds it took)."""
        t = time.monotonic()
        rc = self.dm.stop(timeout=30)
        return rc, time.monotonic() - t


def check_stop(s, what):
    rc, secs = s.stop()
    check(rc == 0 and secs < STOP_LIMIT,
          "SIGTERM %s: exit %r in %.2f s (limit %.0f s)" % (what, rc, secs, STOP_LIMIT))
    return secs


def test_cut(a, work, figures):
    """The connection closed mid-literal: error, backoff at rest, reconnect, stored once."""
    srv = FakeImap()
    srv.messages[1] = mail(1, "a body long enough to be cut in two\r\n" * 50)
    srv.body_plan[1] = ["cut", "cut", "cut", "ok"]
    s = Setup(work, "cut", a.patchqd, srv, timeout=30)
    try:
        check(wait_until(lambda: srv.count("cut") >= 1, 15), "the server cut a FETCH literal")
        c0 = cpu_seconds(s.dm.pid)
        t0 = time.monotonic()
        # backoff 1 s, 2 s, 4 s: the second and third cuts come within the window
        check(wait_until(lambda: srv.count("cut") >= 3, 15),
              "the source reconnected after each cut (%d cuts, %d connections)"
              % (srv.count("cut"), srv.connections))
        cpu = cpu_seconds(s.dm.pid) - c0
        wall = time.monotonic() - t0
        figures.append("cut: %.2f s CPU over %.1f s of backoff" % (cpu, wall))
        check(cpu < 0.1 * wall + 0.1,
              "no spinning while it backs off: %.2f s CPU over %.1f s" % (cpu, wall))
        check(wait_until(lambda: "working again" in s.log(), 20),
              "the source says it works again")
        check(wait_until(lambda: s.stored() == 1, 10), "the message, served whole, is stored")
        log = s.log()
        errors = [ln for ln in log.splitlines() if SOURCE in ln and "error" in ln]
        check(len(errors) == 1 and "connection closed by the server" in errors[0],
              "the loss is logged once: %s" % errors)
        check(s.stored() == 1 and len(rows(s.db, "SELECT id FROM raw")) == 1,
              "exactly once: one message, one raw")
        check(srv.connections >= 4, "a new connection after each cut (%d)" % srv.connections)
        check_stop(s, "after recovery")
    finally:
        s.kill()
        srv.close()


def test_huge(a, work, figures):
    """{4000000000}: an honest size skipped and recorded; a lying literal
    refused unread, once, and that message then left out on record, for a
    server that lies every time; with the UID after the literal too."""
    for uid_last in (False, True):
        srv = FakeImap()
        srv.uid_last = uid_last
        for n in range(1, 5):
            srv.messages[n] = mail(n)
        srv.sizes[2] = HUGE  # honest: RFC822.SIZE says it
        srv.body_plan[2] = ["huge"] * 10  # (never asked for)
        srv.body_plan[3] = ["huge"] * 10  # RFC822.SIZE lies, the literal says it, every time
        name = "huge-uid-last" if uid_last else "huge"
        s = Setup(work, name, a.patchqd, srv, timeout=30)
        try:
            check(wait_until(lambda: s.stored() == 4, 40),
                  "%s: the source moves past the liar, four messages stored (%d)"
                  % (name, s.stored()))
            lies = srv.count("huge")
            # the UID before the literal pins the lie at once; after it, the
            # batch is asked again one body at a time, which pins it
            check(lies == (2 if uid_last else 1),
                  "%s: the lying literal was met %d time(s), then never asked for" % (name, lies))
            peak = peak_rss_mb(s.dm.pid)
            if not uid_last:
                figures.append("huge: peak RSS %.1f MB; the client took %.1f MB of the 4 GB "
                               "literal" % (peak, srv.huge_sent / 1e6))
            check(0 < peak < 100, "%s: patchqd's peak RSS stays under 100 MB: %.1f MB"
                  % (name, peak))
            check(srv.huge_sent < 32 << 20 * lies,
                  "%s: of the 4 GB literal the client took only what the kernel buffered: "
                  "%.1f MB" % (name, srv.huge_sent / 1e6))
            log = s.log()
            check("announced a literal of %d bytes" % HUGE in log and
                  "refused before reading" in log, "%s: the refused literal is logged" % name)
            check(not srv.commands_like(r"UID FETCH 2 \(UID BODY\.PEEK\[\]\)"),
                  "%s: the body of the message announced at 4 GB is never asked for" % name)
            got = rows(s.db, "SELECT msgid, kind, error FROM message ORDER BY id")
            ids = [g[0] for g in got]
            # the liar left no bytes: its record's Message-ID is made up
            check(len(ids) == 4 and ids[0:2] == ["hostile-1@example.org", "hostile-2@example.org"]
                  and ids[2].endswith("@patchq.invalid") and ids[3] == "hostile-4@example.org",
                  "%s: exactly once each, in UID order: %s" % (name, ids))
            kinds = [g[1] for g in got]
            check(len(got) == 4 and kinds[0] != "unparsable" and kinds[3] != "unparsable",
                  "%s: the others are ordinary messages: %s" % (name, kinds))
            errors = [g[2] or "" for g in got]
            check(any("4000000000 bytes" in e and "over the limit" in e and "RFC822.SIZE" in e
                      and "not fetched" in e for e in errors[1:2]),
                  "%s: the honest one is on record with its reason: %s" % (name, errors[1:2]))
            check(any("came as a literal of %d bytes" % HUGE in e for e in errors),
                  "%s: the liar is on record with its reason: %s" % (name, errors))
            check(rows(s.db, "SELECT position FROM cursor WHERE source = ?", (SOURCE,)) ==
                  [("7:4",)], "%s: the cursor is past all four" % name)
            check_stop(s, "after recovery")
        finally:
            s.kill()
            srv.close()


def test_silent(a, work, figures):
    """Silent server: every wait times out and the daemon reconnects; SIGTERM is quick."""
    for tls, what in (("none", "greeting"), ("imaps", "TLS handshake")):
        srv = FakeImap()
        srv.silent = True
        s = Setup(work, "silent-" + tls, a.patchqd, srv, timeout=2, tls=tls)
        try:
            want = "greeting: no answer within 2 s (timed out)" if tls == "none" else \
                "TLS handshake failed (timed out)"
            check(wait_until(lambda: want in s.log(), 15),
                  "a silent server (%s): the wait times out: %s" % (what, want))
            check(wait_until(lambda: srv.connections >= 2, 15),
                  "... and the daemon connects again (%d)" % srv.connections)
            check_stop(s, "(silent server, %s, timeout 2 s)" % what)
        finally:
            s.kill()
            srv.close()

        # the same with a long timeout: only the stop can end the wait
        srv = FakeImap()
        srv.silent = True
        s = Setup(work, "silent-long-" + tls, a.patchqd, srv, timeout=600, tls=tls)
        try:
            check(wait_until(lambda: srv.count("silent") >= 1, 15),
                  "the daemon waits on a silent server (%s, timeout 600 s)" % what)
            time.sleep(1)
            secs = check_stop(s, "while it waits for the %s of a silent server" % what)
            figures.append("stop, silent server (%s): %.2f s" % (what, secs))
        finally:
            s.kill()
            srv.close()


def test_stall(a, work, figures):
    """A literal half sent, then silence: timeout and reconnect; SIGTERM is quick."""
    srv = FakeImap()
    srv.messages[1] = mail(1, "stalled\r\n" * 100)
    srv.body_plan[1] = ["stall", "ok"]
    s = Setup(work, "stall", a.patchqd, srv, timeout=2)
    try:
        check(wait_until(lambda: "UID FETCH: no answer within 2 s (timed out)" in s.log(), 15),
              "a literal stalled half way: the read times out")
        check(wait_until(lambda: s.stored() == 1, 15),
              "the daemon reconnects and stores the message")
        check_stop(s, "after a stalled literal")
    finally:
        s.kill()
        srv.close()

    srv = FakeImap()
    srv.messages[1] = mail(1, "stalled\r\n" * 100)
    srv.body_plan[1] = ["stall"]
    s = Setup(work, "stall-long", a.patchqd, srv, timeout=600)
    try:
        check(wait_until(lambda: srv.count("stall") >= 1, 15),
              "the daemon is in the middle of a stalled literal (timeout 600 s)")
        time.sleep(1)
        c0 = cpu_seconds(s.dm.pid)
        time.sleep(2)
        cpu = cpu_seconds(s.dm.pid) - c0
        check(cpu < 0.2, "waiting on a stalled literal costs no CPU (%.2f s in 2 s)" % cpu)
        secs = check_stop(s, "in the middle of a stalled literal")
        figures.append("stop, mid-literal stall: %.2f s" % secs)
    finally:
        s.kill()
        srv.close()


def test_trickle(a, work, figures):
    """A literal a byte at a time, each within the timeout: the command's deadline ends it."""
    srv = FakeImap()
    srv.messages[1] = mail(1)
    srv.body_plan[1] = ["trickle", "ok"]
    s = Setup(work, "trickle", a.patchqd, srv, timeout=2)
    try:
        check(wait_until(lambda: "answer not complete within 4 s" in s.log(), 20),
              "a server that trickles (a byte every 0.5 s, timeout 2 s) runs out of the "
              "command's deadline")
        check(wait_until(lambda: s.stored() == 1, 15),
              "the daemon reconnects and stores the message")
        check_stop(s, "after a trickling server")
    finally:
        s.kill()
        srv.close()


def test_news_mid_fetch(a, work, figures):
    """Mail announced in a FETCH answer, after the SEARCH: not lost until the next poll."""
    srv = FakeImap()
    srv.idle = True
    srv.messages[1] = mail(1)

    def deliver(uid):
        if uid == 1 and 2 not in srv.messages:
            srv.messages[2] = mail(2)
    srv.on_body = deliver
    s = Setup(work, "news", a.patchqd, srv, timeout=30)
    try:
        check(wait_until(lambda: s.stored() == 2, 10),
              "a message delivered while the first was fetched (announced once, in the "
              "FETCH answer) is fetched at once, not at the next poll an hour later (%d)"
              % s.stored())
        check_stop(s, "in IDLE")
    finally:
        s.kill()
        srv.close()


def test_malformed(a, work, figures):
    """A response code libetpan 1.9 crashes on: refused, the daemon lives and reconnects."""
    srv = FakeImap()
    srv.malformed = 2
    srv.messages[1] = mail(1)
    s = Setup(work, "malformed", a.patchqd, srv, timeout=30)
    try:
        check(wait_until(lambda: srv.count("malformed") >= 2, 20),
              "the server sent the malformed code on two connections")
        check(wait_until(lambda: s.stored() == 1, 20),
              "the daemon lived, reconnected and stored the message")
        check(s.dm.alive(), "patchqd is still running")
        errors = [ln for ln in s.log().splitlines() if SOURCE in ln and "error" in ln]
        check(len(errors) >= 1 and all("malformed response code" in e for e in errors),
              "each refusal is logged with its reason: %s" % errors)
        check_stop(s, "after the malformed answers")
    finally:
        s.kill()
        srv.close()


def test_done(a, work, figures):
    """IDLE, news, then DONE never answered: timeout and reconnect; SIGTERM quick."""
    for timeout in (2, 600):
        srv = FakeImap()
        srv.idle = True
        srv.done_silent = True
        srv.messages[1] = mail(1)
        s = Setup(work, "done-%d" % timeout, a.patchqd, srv, timeout=timeout)
        try:
            check(wait_until(lambda: s.stored() == 1 and srv.idlers, 15),
                  "the message is stored and the daemon waits in IDLE (timeout %d s)" % timeout)
            srv.messages[2] = mail(2)
            srv.idle_news()
            check(wait_until(lambda: srv.count("done-silent") >= 1, 10),
                  "news in IDLE: the daemon sends DONE, which the server never answers")
            if timeout == 2:
                check(wait_until(lambda: "IDLE DONE: no answer within 2 s (timed out)"
                                 in s.log(), 15), "DONE times out")
                srv.done_silent = False
                check(wait_until(lambda: s.stored() == 2, 15),
                      "the daemon reconnects and fetches the news")
                check_stop(s, "after a DONE that timed out")
            else:
                time.sleep(1)
                secs = check_stop(s, "while DONE waits for its answer")
                figures.append("stop, DONE unanswered: %.2f s" % secs)
        finally:
            s.kill()
            srv.close()


def test_dns(a, work, figures):
    """A resolver that never answers: the lookup times out, a stop cuts it."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("# test_dns: needs root and unshare(1): skipped")
        return
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # it reads nothing, answers nothing
    try:
        dns.bind(("127.0.0.9", 53))
    except OSError:
        print("# test_dns: cannot bind 127.0.0.9:53: skipped")
        dns.close()
        return
    d = os.path.join(work, "dns")
    os.mkdir(d)
    resolv = os.path.join(d, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.9\noptions timeout:30 attempts:5\n")
    subprocess.run(["git", "init", "-q", "--bare", os.path.join(d, "q.git")], check=True)
    pw = os.path.join(d, "pw")
    with open(pw, "w") as f:
        f.write("secret\n")
    os.chmod(pw, 0o600)
    for timeout in (2, 600):
        conf = os.path.join(d, "patchq-%d.conf" % timeout)
        with open(conf, "w") as f:
            f.write("[patchq]\n\tdatabase = patchq-%d.db\n\trepository = q.git\n"
                    "\tcommitter = Test <test@example.org>\n"
                    '[source "silent"]\n\ttype = imap\n\thost = imap.silent-dns.test\n'
                    "\tuser = patchq\n\tpasswordFile = pw\n\tpollInterval = 3600\n"
                    "\ttimeout = %d\n" % (timeout, timeout))
        log = os.path.join(d, "patchqd-%d.log" % timeout)
        dm = Daemon(a.patchqd, conf, None, log,
                    args=["unshare", "-m", "sh", "-c",
                          'mount --bind "$1" /etc/resolv.conf && exec "$2" -c "$3"', "sh",
                          resolv, a.patchqd, conf])
        try:
            if timeout == 2:
                check(wait_until(lambda: "no answer within 2 s (timed out)" in dm.text(), 15),
                      "the lookup gives up after the source's timeout: %s"
                      % dm.text().strip().splitlines()[-1:])
            else:
                time.sleep(2)
                check("cannot resolve" not in dm.text(), "the lookup is still waiting")
            t = time.monotonic()
            rc = dm.stop(timeout=30)
            secs = time.monotonic() - t
            check(rc == 0 and secs < STOP_LIMIT,
                  "SIGTERM while the resolver is silent (timeout %d s): exit %r in %.2f s"
                  % (timeout, rc, secs))
            if timeout == 600:
                figures.append("stop, DNS silent: %.2f s" % secs)
        finally:
            if dm.alive():
                dm.kill()
    dns.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    a.patchqd = os.path.abspath(a.patchqd)
    work = tempfile.mkdtemp(prefix="pq-hostile-imap-")
    figures = []
    tests = [test_cut, test_huge, test_silent, test_stall, test_trickle, test_news_mid_fetch,
             test_done, test_malformed, test_dns]
    try:
        for t in tests:
            if a.only and a.only not in t.__name__:
                continue
            print("# " + t.__name__, flush=True)
            t(a, work, figures)
    finally:
        for f in figures:
            print("figure: " + f)
        if failures:
            for d in sorted(os.listdir(work)):
                log = os.path.join(work, d, "patchqd.log")
                if os.path.exists(log):
                    print("---- %s/patchqd.log (end)\n%s" % (d, open(log, errors="replace")
                                                           .read()[-1500:]))
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
