#!/usr/bin/env python3
"""patchqd reading a real dovecot over IMAP, on loopback.

- two mailboxes of one [source] (one connection each), TLS checked
  against the test's CA, the password from $CREDENTIALS_DIRECTORY;
- mail APPENDed by another client (imaplib) is in the database without
  polling delay: pollInterval is an hour, so only IDLE explains it;
- the server stopped and started again, mail delivered before the daemon
  is back: it reconnects (with backoff) and catches up;
- UIDVALIDITY changed: the mailbox is read again from the start, nothing
  is stored twice, and the cursor holds the new UIDVALIDITY;
- SIGTERM: exit 0.

usage: test_daemon_imap.py --patchqd PATH --patchq PATH --source DIR
"""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot import Dovecot, have_dovecot  # noqa: E402
from test_daemon import Daemon, Notify, pqjson  # noqa: E402
from test_queue import setup_demo  # noqa: E402
from checks import check, failures, wait_until  # noqa: E402


def demo_mail(d):
    new = os.path.join(d, "maildir", "new")
    return [open(os.path.join(new, f), "rb").read() for f in sorted(os.listdir(new))]


def stored(db):
    c = sqlite3.connect(db)
    try:
        return c.execute("SELECT count(*) FROM message").fetchone()[0]
    finally:
        c.close()


def cursor(db, source):
    c = sqlite3.connect(db)
    try:
        row = c.execute("SELECT position FROM cursor WHERE source = ?", (source,)).fetchone()
        return row[0] if row else None
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    a.patchqd = os.path.abspath(a.patchqd)
    a.patchq = os.path.abspath(a.patchq)
    a.source = os.path.abspath(a.source)
    if not have_dovecot():
        print("dovecot (dovecot-imapd) or openssl is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-daemon-imap-")
    notify = Notify()
    dm = None
    try:
        d = os.path.join(work, "demo")
        os.mkdir(d)
        setup_demo(os.path.abspath(a.source), d)
        mails = demo_mail(d)
        dc = Dovecot(work)
        dc.start()
        dc.create_mailbox("rust")
        creds = os.path.join(work, "creds")
        os.mkdir(creds)
        shutil.copy(dc.password_file, os.path.join(creds, "imap-password"))
        conf = os.path.join(d, "patchq.conf")
        db = os.path.join(d, "patchq.db")
        with open(conf, "a") as f:
            f.write('\n[source "list"]\n\ttype = imap\n\thost = 127.0.0.1\n\tport = %d\n'
                    '\ttls = imaps\n\tcaFile = %s\n\tuser = %s\n\tcredential = imap-password\n'
                    '\tmailbox = rust\n\tmailbox = INBOX\n\tpollInterval = 3600\n'
                    % (dc.imaps_port, dc.ca_file, dc.user))

        dm = Daemon(a.patchqd, conf, notify, os.path.join(work, "patchqd.log"),
                    env={"CREDENTIALS_DIRECTORY": creds})
        check(notify.wait("READY=1", timeout=30) is not None,
              "READY=1 once both mailboxes are connected")
        check("source list/rust" not in dm.text() or "error" not in dm.text(),
              "no source error at start: " + dm.text()[-300:])

        # 1. APPEND by another client: in the database through IDLE
        for m in mails[:8]:
            dc.append("rust", m)
        if not check(wait_until(lambda: stored(db) >= 8, 20) and stored(db) == 8,
                     "8 messages APPENDed to rust are stored (pollInterval is an hour: IDLE)"):
            print("  patchqd's log:\n" + dm.text()[-2000:] + "\n  dovecot's log:\n" +
                  dc.log()[-2000:])
        dc.append("INBOX", mails[8])
        check(wait_until(lambda: stored(db) == 9, 20),
              "a message APPENDed to INBOX, the second mailbox, is stored too")
        check(cursor(db, "source list/rust") is not None and
              cursor(db, "source list/INBOX") is not None,
              "each mailbox keeps its cursor (UIDVALIDITY:UID)")

        # 2. the server goes away; mail arrives meanwhile; it comes back
        dc.stop()
        check(wait_until(lambda: "source list/rust" in dm.text(), 20),
              "the lost connection is logged")
        # (doveadm needs the server: the mail goes in while the daemon waits
        # out its reconnection backoff)
        check(wait_until(lambda: dm.text().count("source list/rust") >= 2 or
                         "Connection refused" in dm.text(), 20),
              "and the daemon backs off while it is gone")
        dc.start()
        for m in mails[9:12]:
            dc.append("rust", m)
        check(wait_until(lambda: stored(db) == 12, 60),
              "after the server restarts, the daemon reconnects and catches up (%d stored)"
              % stored(db))
        check(wait_until(lambda: "working again" in dm.text(), 10),
              "and says the source works again")

        # 3. UIDVALIDITY changes: everything read again, nothing stored twice
        before = cursor(db, "source list/rust")
        dc.set_uidvalidity("rust", int(before.split(":")[0]) + 1000)
        dc.restart()  # the open sessions end; the daemon's next SELECT sees it
        for m in mails[12:]:
            dc.append("rust", m)
        want = len(mails)
        check(wait_until(lambda: stored(db) == want and
                         cursor(db, "source list/rust") != before, 40),
              "after a UIDVALIDITY change the mailbox is read again: %d of %d stored"
              % (stored(db), want))
        check(cursor(db, "source list/rust").split(":")[0] == str(int(before.split(":")[0]) + 1000),
              "the cursor now holds the new UIDVALIDITY")
        check("UIDVALIDITY changed" in dm.text(), "the resynchronisation is logged")
        stats = pqjson(a.patchq, conf, "stats")
        check(stats.get("messages", stored(db)) == want,
              "no message stored twice: %s" % stats)
        series = pqjson(a.patchq, conf, "series")
        check(any(s["name"] == "rust: time helpers" and s["complete"] for s in series),
              "the series are assembled from IMAP mail as from the maildir")

        rc = dm.stop()
        dm = None
        check(rc == 0, "SIGTERM: exit 0 (got %r)" % rc)
        dc.cleanup()
    finally:
        if dm:
            dm.kill()
        notify.close()
        if failures:
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
