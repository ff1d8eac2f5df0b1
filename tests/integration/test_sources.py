#!/usr/bin/env python3
"""patchqd and `patchq import` read mail through the same sources: the
same mail gives the same rows whichever program read it.

- a maildir holding a message with a procmail "From " first line, a FIFO
  and a directory in new/, an empty file, and a message in cur/ (read by a
  mail client): the daemon's maildir source and `patchq import` of a copy
  store byte-identical raw rows, the same messages and deliveries, and the
  same cursor; the daemon moved what it read from new/ to cur/, the import
  moved nothing; a message a client put in cur/ later is read by both;
- a public-inbox v2 archive: the daemon's source and `patchq import` store
  the same raw rows and the same cursor (the archive's last commit), and
  both go on from it when commits are added.

usage: test_sources.py --patchqd PATH --patchq PATH --source DIR
"""
import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, wait_until  # noqa: E402
from test_daemon import Daemon  # noqa: E402
from test_queue import run, setup_demo  # noqa: E402

PROCMAIL = b"From sender@example.org Thu Nov 12 10:00:00 2026\n"


def rows(db, sql):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def cursor(db, source):
    r = rows(db, "SELECT position FROM cursor WHERE source = '%s'" % source.replace("'", "''"))
    return r[0][0] if r else None


def count(db):
    try:
        return rows(db, "SELECT count(*) FROM message")[0][0]
    except sqlite3.Error:
        return -1


RAW = "SELECT hash, bytes FROM raw ORDER BY id"
MESSAGES = "SELECT * FROM message ORDER BY id"
DELIVERIES = "SELECT raw_id, message_id, duplicate FROM delivery ORDER BY raw_id"


def import_(a, db, path, cwd):
    """patchq import: exit status, (read, stored), output. Bounded in time:
    a reader that opens a FIFO for reading would wait for a writer forever."""
    try:
        p = subprocess.run([a.patchq, "--db", db, "import", path], cwd=cwd,
                           capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, None, "patchq import did not finish in 60 s"
    m = re.search(r"read (\d+), stored (\d+)", p.stdout)
    return p.returncode, (int(m.group(1)), int(m.group(2))) if m else None, p.stdout + p.stderr


def demo_mails(d):
    """The demo's messages without the "From <commit> <date>" line that git
    format-patch writes first: as a list delivers them."""
    new = os.path.join(d, "maildir", "new")
    mails = [open(os.path.join(new, f), "rb").read() for f in sorted(os.listdir(new))]
    return [re.sub(rb"\AFrom [0-9a-f]{40} [^\n]*\n", b"", m) for m in mails]


def make_maildir(path, mails):
    """The mail as a list's maildir holds it, with the odd entries a real
    one may have; the message files' names in reading order."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub))

    def put(sub, name, data):
        with open(os.path.join(path, sub, name), "wb") as f:
            f.write(data)

    names = []
    t = 1790000000
    for i, m in enumerate(mails):
        name = "%d.M%dP1.patchq-test" % (t + 10 * i, i)
        if i == 1:
            put("new", name, PROCMAIL + m)  # procmail keeps the envelope line
        elif i == 2:
            put("cur", name + ":2,S", m)  # a mail client read it already
        else:
            put("new", name, m)
        names.append(name)
        if i == 3:
            os.mkfifo(os.path.join(path, "new", "%d.fifo" % (t + 10 * i + 1)))
            os.mkdir(os.path.join(path, "new", "%d.dir" % (t + 10 * i + 2)))
            put("new", "%d.empty" % (t + 10 * i + 3), b"")
    return names


def listing(path):
    return {sub: sorted(os.listdir(os.path.join(path, sub))) for sub in ("new", "cur")}


def same_rows(what, db1, db2, expect):
    for label, sql in (("raw rows (hash, bytes)", RAW), ("message rows", MESSAGES),
                       ("delivery rows", DELIVERIES)):
        r1, r2 = rows(db1, sql), rows(db2, sql)
        check(r1 == r2 and len(r1) >= expect, "%s: daemon and patchq import store the same %s"
              " (%d and %d)" % (what, label, len(r1), len(r2)))


def test_maildir(a, work):
    d = os.path.join(work, "md")
    os.mkdir(d)
    setup_demo(a.source, d)
    mails = demo_mails(d)
    n = len(mails)
    check(not any(m.startswith(b"From ") for m in mails) and n == 15,
          "maildir: %d demo messages, none with a From_ line" % n)
    dmd, imd = os.path.join(d, "daemon-md"), os.path.join(d, "import-md")
    names = make_maildir(dmd, mails)
    make_maildir(imd, mails)
    before = listing(imd)

    conf = os.path.join(d, "patchq.conf")
    with open(conf, "a") as f:
        f.write('\n[source "md"]\n\ttype = maildir\n\tpath = %s\n\tpollInterval = 3600\n' % dmd)
    ddb, idb = os.path.join(d, "patchq.db"), os.path.join(d, "import.db")

    rc, got, out = import_(a, idb, imd, d)
    check(rc == 0 and got == (n, n), "maildir: patchq import reads and stores all %d messages"
          " (new/ and cur/; FIFO, directory and empty file skipped) %r" % (n, out))
    check(listing(imd) == before, "maildir: patchq import moves no file")

    dm = Daemon(a.patchqd, conf, None, os.path.join(d, "patchqd.log"))
    left = sorted(e for e in os.listdir(os.path.join(dmd, "new")))
    try:
        ok = wait_until(lambda: count(ddb) == n and
                        sorted(os.listdir(os.path.join(dmd, "new"))) == [
                            e for e in left if e.endswith((".fifo", ".dir"))], 30, 0.2)
        check(ok, "maildir: the daemon stores the %d messages (%d) and moves every file it"
              " read to cur/, the FIFO and the directory stay: %s"
              % (n, count(ddb), sorted(os.listdir(os.path.join(dmd, "new")))))
    finally:
        rc = dm.stop()
    check(rc == 0, "maildir: the daemon exits 0 on SIGTERM")
    check(not re.search(r"warning|error", dm.text()),
          "maildir: the daemon logged no warning or error %r"
          % re.findall(r".*(?:warning|error).*", dm.text())[:3])

    same_rows("maildir", ddb, idb, n)
    raw = [r[1] for r in rows(ddb, RAW)]
    check(raw == mails,
          "maildir: the raw rows are the files' bytes, the procmail From line dropped")
    check(not any(r.startswith(b"From ") for r in raw), "maildir: no raw row starts with From_")
    want = "maildir:" + names[-1]
    check(cursor(ddb, "source md") == want and cursor(idb, os.path.realpath(imd)) == want,
          "maildir: the same cursor, the last name read: %s and %s (%s)"
          % (cursor(ddb, "source md"), cursor(idb, os.path.realpath(imd)), want))
    cur = os.listdir(os.path.join(dmd, "cur"))
    check(names[2] + ":2,S" in cur and all((x + ":2,") in cur for x in names[3:]),
          "maildir: the daemon's cur/ holds what it read, new/ files with \":2,\" added")

    # a message a mail client moved to cur/ before the daemon saw it, then one in new/
    extra = [re.sub(rb"(?im)^(Message-Id: *<)", rb"\1again-", m, count=1) for m in mails[:2]]
    check(all(x != m for x, m in zip(extra, mails)), "maildir: two more messages made")
    t = 1790000000 + 10 * n
    for path in (dmd, imd):
        with open(os.path.join(path, "cur", "%d.late.patchq-test:2,S" % t), "wb") as f:
            f.write(extra[0])
        with open(os.path.join(path, "new", "%d.new.patchq-test" % (t + 1)), "wb") as f:
            f.write(extra[1])
    dm = Daemon(a.patchqd, conf, None, os.path.join(d, "patchqd2.log"))
    try:
        check(wait_until(lambda: count(ddb) == n + 2, 30, 0.2),
              "maildir: a restarted daemon reads the message a client put in cur/ and the new"
              " one (%d of %d)" % (count(ddb), n + 2))
    finally:
        dm.stop()
    rc, got, out = import_(a, idb, imd, d)
    check(rc == 0 and got is not None and got[1] == 2,
          "maildir: patchq import again stores just the two new messages %r" % out)
    same_rows("maildir, later", ddb, idb, n + 2)
    want = "maildir:%d.new.patchq-test" % (t + 1)
    check(cursor(ddb, "source md") == want and cursor(idb, os.path.realpath(imd)) == want,
          "maildir: both cursors moved to %s" % want)


def test_public_inbox(a, work):
    d = os.path.join(work, "pi")
    os.mkdir(d)
    setup_demo(a.source, d)
    mails = demo_mails(d)
    inbox = os.path.join(d, "inbox")
    epoch = os.path.join(inbox, "git", "0.git")
    run(["git", "init", "-q", "--bare", epoch], cwd=d)
    w = os.path.join(d, "pi-work")
    run(["git", "init", "-q", w], cwd=d)
    g = ["git", "-c", "user.name=pi", "-c", "user.email=pi@example.org"]

    def add(batch):
        for m in batch:
            with open(os.path.join(w, "m"), "wb") as f:
                f.write(m)
            run(g + ["add", "m"], cwd=w)
            run(g + ["commit", "-q", "-m", "m"], cwd=w)
        run(["git", "push", "-q", epoch, "HEAD:refs/heads/master"], cwd=w)
        return run(["git", "rev-parse", "HEAD"], cwd=w).stdout.strip()

    head = add(mails[:10])
    conf = os.path.join(d, "patchq.conf")
    with open(conf, "a") as f:
        f.write('\n[source "lore"]\n\ttype = public-inbox\n\tpath = %s\n\tpollInterval = 1\n'
                % inbox)
    ddb, idb = os.path.join(d, "patchq.db"), os.path.join(d, "import.db")
    name = os.path.realpath(inbox)

    rc, got, out = import_(a, idb, inbox, d)
    check(rc == 0 and got == (10, 10), "public-inbox: patchq import reads the 10 commits %r" % out)
    dm = Daemon(a.patchqd, conf, None, os.path.join(d, "patchqd.log"))
    try:
        check(wait_until(lambda: count(ddb) == 10, 30, 0.2),
              "public-inbox: the daemon stores the 10 messages (%d)" % count(ddb))
        check(cursor(ddb, "source lore") == "pi:" + head and cursor(idb, name) == "pi:" + head,
              "public-inbox: daemon and patchq import keep the same cursor, pi:<last commit>"
              " (%s, %s)" % (cursor(ddb, "source lore"), cursor(idb, name)))
        same_rows("public-inbox", ddb, idb, 10)

        head = add(mails[10:])
        rest = len(mails) - 10
        check(wait_until(lambda: count(ddb) == len(mails), 30, 0.2),
              "public-inbox: the daemon goes on with the %d commits added (%d)"
              % (rest, count(ddb)))
    finally:
        rc = dm.stop()
    check(rc == 0 and not re.search(r"warning|error", dm.text()),
          "public-inbox: the daemon exits 0, nothing logged as warning or error")
    rc, got, out = import_(a, idb, inbox, d)
    check(rc == 0 and got == (rest, rest),
          "public-inbox: patchq import again reads only the %d commits after its cursor %r"
          % (rest, out))
    check(cursor(ddb, "source lore") == "pi:" + head and cursor(idb, name) == "pi:" + head,
          "public-inbox: both cursors are the new last commit")
    same_rows("public-inbox, later", ddb, idb, len(mails))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    a.patchqd = os.path.abspath(a.patchqd)
    a.patchq = os.path.abspath(a.patchq)
    a.source = os.path.abspath(a.source)
    if not shutil.which("git"):
        print("git is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-sources-")
    try:
        test_maildir(a, work)
        test_public_inbox(a, work)
    finally:
        if a.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
