#!/usr/bin/env python3
"""patchqd end to end: the real daemon on real files, under a notify
socket this test binds.

- a maildir source picked up through inotify (pollInterval is an hour),
  files moved to cur/ only once they are in the database, triage applying
  the reviewed v2 to rust-dev, READY=1 and STATUS= datagrams;
- WATCHDOG=1 pings with WATCHDOG_USEC; journald-style "<N>" log lines with
  JOURNAL_STREAM, "patchqd: " without;
- SIGHUP with a broken configuration (FILE:LINE logged, old one kept, still
  ingesting) and with the repaired one; SIGTERM exits 0, "stopped" last;
- --check-config, --help, usage errors;
- contrib/patchqd.service: systemd-analyze verify, its settings, and the
  daemon started the way its ExecStart says, under a notify socket;
- a public-inbox v2 archive: what it holds, then the commits added later;
- kill -9 at random moments while 1,000+ messages of real `git
  format-patch` mail arrive in bursts, in random order: every message
  stored once, the series identical to a clean import of the same mail
  (and to imports of it in reversed order),
  the queue repository intact (no reference left locked), nothing left to
  recover, rust-dev consistent.

usage: test_daemon.py --patchqd PATH --patchq PATH --source DIR [--seed N]
"""
import argparse
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_queue import run, setup_demo  # noqa: E402
from checks import check, failures, wait_until  # noqa: E402


def git(repo, *args):
    """git's output, or "" when it fails (a check then says what is wrong)."""
    p = subprocess.run(["git", "--git-dir=" + repo] + list(args), capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else ""


def msgid_of(text):
    m = re.search(r"^Message-ID:\s*<([^>]+)>", text, re.M | re.I)
    return m.group(1) if m else None


# ---- the notify socket ----

class Notify:
    """An AF_UNIX datagram socket in the abstract namespace; a thread keeps
    every datagram with the time it arrived."""

    def __init__(self):
        self.addr = "@patchq-test-%d-%s" % (os.getpid(), os.urandom(4).hex())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.addr[1:])
        self.msgs = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.cond:
                self.msgs.append((time.monotonic(), data.decode("utf-8", "replace")))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.msgs)

    def since(self, mark):
        with self.cond:
            return [m for _, m in self.msgs[mark:]]

    def last_time(self):
        with self.cond:
            return self.msgs[-1][0] if self.msgs else 0

    def wait(self, text, since=0, timeout=20, count=1):
        """Until count datagrams equal to text (or starting with it when it
        ends with '=') arrived after mark since; the index after the last."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                seen = 0
                for i in range(since, len(self.msgs)):
                    m = self.msgs[i][1]
                    if m == text or (text.endswith("=") and m.startswith(text)):
                        seen += 1
                        if seen == count:
                            return i + 1
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# ---- the daemon ----

class Daemon:
    def __init__(self, patchqd, conf, notify, log, env=None, args=None, journal=False):
        e = dict(os.environ)
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            e.pop(k, None)
        if notify:
            e["NOTIFY_SOCKET"] = notify.addr
        e.update(env or {})
        self.log = log
        self.err = open(log, "ab")
        if journal:
            st = os.fstat(self.err.fileno())
            e["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        cmd = args if args else [patchqd, "-c", conf]
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=self.err, env=e, cwd=os.path.dirname(conf))
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=15):
        """SIGTERM; the exit status, or None when it did not exit in time."""
        self.signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = None
        self.err.close()
        return rc

    def kill(self):
        self.signal(signal.SIGKILL)
        self.p.wait()
        self.err.close()

    def text(self):
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()


class Maildir:
    def __init__(self, path):
        self.path = path
        for d in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, d), exist_ok=True)
        self.n = 0
        self.lock = threading.Lock()
        self.ids = {}  # file name -> Message-ID

    def deliver(self, data):
        """The maildir way: written in tmp/, renamed into new/."""
        if isinstance(data, str):
            data = data.encode()
        with self.lock:
            self.n += 1
            # names sort in delivery order, the order patchqd reads new/ in
            name = "%d.M%07dP%d.patchq-test" % (time.time(), self.n, os.getpid())
            self.ids[name] = msgid_of(data.decode("utf-8", "replace"))
        tmp = os.path.join(self.path, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.path, "new", name))
        return name

    def new(self):
        return os.listdir(os.path.join(self.path, "new"))

    def cur(self):
        return os.listdir(os.path.join(self.path, "cur"))


class CurWatcher:
    """Samples, all along, that every file in cur/ has its message in the
    database: the listing first, then the database."""

    def __init__(self, md, db):
        self.md, self.db = md, db
        self.samples = 0
        self.early = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            cur = [f.split(":")[0] for f in self.md.cur()]
            try:
                db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=5)
                try:
                    stored = {r[0] for r in db.execute("SELECT msgid FROM message")}
                finally:
                    db.close()
            except sqlite3.Error:
                time.sleep(0.02)
                continue
            if cur:
                self.samples += 1
            self.early += [f for f in cur if self.md.ids.get(f) not in stored]
            time.sleep(0.01)

    def finish(self):
        self.stop.set()
        self.thread.join()
        return self.samples, self.early


def pqjson(patchq, conf, *args):
    return json.loads(run([patchq, "-c", conf] + list(args) + ["--json"],
                          cwd=os.path.dirname(conf)).stdout)


def pqdb(patchq, db, *args):
    """Through --db: works while the configuration is broken."""
    return json.loads(run([patchq, "--db", db] + list(args) + ["--json"],
                          cwd=os.path.dirname(db)).stdout)


def add_source(conf, md, extra=""):
    with open(conf, "a") as f:
        f.write('\n[source "md"]\n\ttype = maildir\n\tpath = %s\n\tpollInterval = 3600\n%s'
                % (md, extra))


# ---- 1-4: maildir, watchdog, SIGHUP, SIGTERM, logs ----

def reply_mail(msgid, parent, subject, body, who="Rita Reviewer <rita@example.org>"):
    return ("From: %s\nTo: rust-for-linux@vger.example.org\nSubject: Re: %s\n"
            "Date: Thu, 12 Nov 2026 10:00:00 +0000\nMessage-ID: <%s>\n"
            "In-Reply-To: <%s>\nReferences: <%s>\n\n%s\n"
            % (who, subject, msgid, parent, parent, body))


def test_maildir(a, work, notify):
    d = os.path.join(work, "demo")
    os.mkdir(d)
    setup_demo(a.source, d)
    conf = os.path.join(d, "patchq.conf")
    md = Maildir(os.path.join(d, "md"))
    add_source(conf, md.path)
    repo = os.path.join(d, "queues.git")
    demo = [open(os.path.join(d, "maildir", "new", f), "rb").read()
            for f in sorted(os.listdir(os.path.join(d, "maildir", "new")))]
    ids = {msgid_of(m.decode()) for m in demo}

    mark = notify.mark()
    dm = Daemon(a.patchqd, conf, notify, os.path.join(d, "patchqd.log"))
    check(notify.wait("READY=1", mark) is not None, "maildir: READY=1 arrives on the notify socket")
    # rust-dev does not exist yet: the daemon makes it on rust-next
    base = git(repo, "rev-parse", "rust-next")

    watch = CurWatcher(md, os.path.join(d, "patchq.db"))
    for m in demo:
        md.deliver(m)
        time.sleep(0.03)

    def done():
        stored = {m["msgid"] for m in pqjson(a.patchq, conf, "messages")}
        q = pqjson(a.patchq, conf, "queue", "rust-dev")
        return (stored >= ids and not md.new() and
                any(s["version"] == 2 for s in q))

    ok = wait_until(done, 30, 0.2)
    check(ok, "maildir: the demo mail is ingested and triaged (inotify; pollInterval is 3600 s)")
    samples, early = watch.finish()
    check(not early and samples > 0,
          "maildir: a file is in cur/ only once its message is in the database (%d samples) %s"
          % (samples, early[:3]))
    check(not md.new() and len(md.cur()) == len(demo),
          "maildir: new/ is empty, cur/ holds all %d messages" % len(demo))
    st = pqjson(a.patchq, conf, "stats")
    check(st["messages"] == len(demo) and st["msgids"] == len(ids) and st["series"] == 5
          and st["complete_series"] == 5, "maildir: stats count 15 messages and 5 series")
    q = pqjson(a.patchq, conf, "queue", "rust-dev")
    check([(s["name"], s["version"], len(s["patches"])) for s in q]
          == [("rust: time helpers", 2, 3)],
          "maildir: triage applied the reviewed v2 on rust-dev: %s"
          % [(s["name"], s["version"]) for s in q])
    check(q and git(repo, "rev-parse", "rust-dev~3") == base and
          git(repo, "rev-parse", "rust-dev") == q[-1]["patches"][-1]["commit"],
          "maildir: rust-dev moved by the v2's three commits on rust-next")
    status = [m for m in notify.since(mark) if m.startswith("STATUS=")]
    check(any("stored since start" in m for m in status),
          "maildir: STATUS= datagrams were sent (%d), e.g. %r" % (len(status), status[-1:]))
    check(any(re.search(r"\b15 stored since start", m) for m in status),
          "maildir: STATUS= counts what was stored")
    return d, conf, md, dm


def test_sighup(a, d, conf, md, dm, notify):
    good = open(conf).read()
    db = os.path.join(d, "patchq.db")
    bad = good + "\tbogusKey = 1\n"
    line = bad.count("\n")
    with open(conf, "w") as f:
        f.write(bad)
    mark = notify.mark()
    dm.signal(signal.SIGHUP)
    i = notify.wait("RELOADING=1", mark)
    check(i is not None and notify.wait("READY=1", i) is not None,
          "SIGHUP: RELOADING=1 then READY=1 around a reload")
    logged = wait_until(lambda: re.search(r"reload: .*patchq\.conf:%d: " % line, dm.text()), 10)
    check(logged is not None, "SIGHUP: a bad configuration is logged with file:line (%d)" % line)
    check("keeping the running configuration" in dm.text() and dm.alive(),
          "SIGHUP: the daemon stays up with the running configuration")
    md.deliver(reply_mail("hup-1@example.org", "demo-time-v2-0@example.org",
                          "[PATCH v2 0/3] rust: time helpers", "Works here."))
    check(wait_until(lambda: any(m["msgid"] == "hup-1@example.org"
                                 for m in pqdb(a.patchq, db, "messages")), 20),
          "SIGHUP: after a failed reload, mail is still ingested")

    with open(conf, "w") as f:
        f.write(good)
    errors = dm.text().count("reload: ")
    mark = notify.mark()
    dm.signal(signal.SIGHUP)
    i = notify.wait("RELOADING=1", mark)
    check(i is not None and notify.wait("READY=1", i) is not None,
          "SIGHUP: RELOADING=1 then READY=1 for the repaired configuration")
    check(wait_until(lambda: dm.text().count("reloading ") >= 2, 10) and
          dm.text().count("reload: ") == errors and dm.alive(),
          "SIGHUP: the repaired configuration is logged as reloaded, without error")
    md.deliver(reply_mail("hup-2@example.org", "demo-time-v2-0@example.org",
                          "[PATCH v2 0/3] rust: time helpers", "Still works."))
    check(wait_until(lambda: any(m["msgid"] == "hup-2@example.org"
                                 for m in pqjson(a.patchq, conf, "messages")), 20),
          "SIGHUP: after the reload, mail is ingested")
    check(wait_until(lambda: not md.new(), 10), "SIGHUP: new/ is empty again")


def test_sigterm(dm, notify):
    mark = notify.mark()
    t = time.monotonic()
    rc = dm.stop(10)
    took = time.monotonic() - t
    check(rc == 0 and took < 10, "SIGTERM: exits 0 (in %.1f s)" % took)
    check(notify.wait("STOPPING=1", mark, timeout=1) is not None, "SIGTERM: STOPPING=1 is sent")
    lines = dm.text().splitlines()
    check(lines and lines[-1] == "patchqd: stopped",
          "SIGTERM: the log ends with \"patchqd: stopped\" (%r)" % lines[-1:])
    check(all(ln.startswith("patchqd: ") for ln in lines),
          "without JOURNAL_STREAM every log line starts with \"patchqd: \"")


def first_pass_done(dm, notify, mark, timeout=20):
    """Until a STATUS= after mark says the pipeline is no longer running
    (the pass that patchqd runs at start has ended)."""
    return wait_until(lambda: any(m.startswith("STATUS=") and "pipeline running" not in m
                                  for m in notify.since(mark)[1:]), timeout, 0.1)


def test_restart(a, d, conf, notify):
    """Restarted with nothing new, after SIGTERM or SIGKILL, patchqd
    rebuilds nothing: the base tip of the last rebuild is in the database."""
    repo = os.path.join(d, "queues.git")
    tip = git(repo, "rev-parse", "rust-dev")
    log = os.path.join(d, "restart.log")
    for how in ("SIGKILL", "SIGTERM"):
        mark = notify.mark()
        dm = Daemon(a.patchqd, conf, notify, log)
        ok = (notify.wait("READY=1", mark) is not None and
              first_pass_done(dm, notify, mark))
        if how == "SIGKILL":
            dm.kill()
        else:
            dm.stop(10)
        check(ok, "restart: the first pass ends (%s)" % how)
    text = open(log, errors="replace").read()
    check("rebuild" not in text and git(repo, "rev-parse", "rust-dev") == tip,
          "restart: with nothing new, no queue is rebuilt after SIGKILL or SIGTERM: %r"
          % [ln for ln in text.splitlines() if "rebuild" in ln][:3])


def test_watchdog_journal(a, d, conf, notify):
    mark = notify.mark()
    log = os.path.join(d, "journal.log")
    dm = Daemon(a.patchqd, conf, notify, log, env={"WATCHDOG_USEC": "400000"}, journal=True)
    check(notify.wait("READY=1", mark) is not None, "watchdog: READY=1")
    t = time.monotonic()
    i = notify.wait("WATCHDOG=1", mark, timeout=5, count=2)
    check(i is not None, "watchdog: WATCHDOG_USEC=400000 gives WATCHDOG=1 pings (2 in %.1f s)"
          % (time.monotonic() - t))
    rc = dm.stop(10)
    lines = dm.text().splitlines()
    check(rc == 0 and lines and lines[-1] == "<5>stopped", "journal: SIGTERM exits 0, \"<5>stopped\" last")
    check(lines and all(re.match(r"<[0-7]>[^<]", ln) for ln in lines),
          "journal: with JOURNAL_STREAM every line starts with its <N> priority (%d lines)"
          % len(lines))


def test_database_errors(a, work, notify):
    """The disk under the database fills up: jobs fail, patchqd stops
    feeding the watchdog (so systemd restarts it) and says why; space comes
    back: it works again without a restart, nothing lost."""
    d = os.path.join(work, "dberr")
    os.mkdir(d)
    setup_demo(a.source, d)
    fs = os.path.join(d, "fs")
    os.mkdir(fs)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", fs],
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("database errors: cannot mount a small tmpfs here (not root?): skipped")
        return
    try:
        conf = os.path.join(d, "patchq.conf")
        text = open(conf).read().replace("database = patchq.db", "database = fs/patchq.db")
        open(conf, "w").write(text)
        md = Maildir(os.path.join(d, "md"))
        add_source(conf, md.path)
        mark = notify.mark()
        dm = Daemon(a.patchqd, conf, notify, os.path.join(d, "patchqd.log"),
                    env={"WATCHDOG_USEC": "500000"})
        check(notify.wait("READY=1", mark) is not None, "database errors: READY=1")
        mails = ["From: T <t@example.org>\nSubject: note %d\nMessage-ID: <dberr-%d@example.org>\n"
                 "Date: Thu, 2 Jan 2025 10:00:00 +0000\n\n%s\n" % (i, i, "x" * 4000)
                 for i in range(40)]
        for m in mails[:5]:
            md.deliver(m)
        stored = lambda: len(pqjson(a.patchq, conf, "messages"))  # noqa: E731
        check(wait_until(lambda: stored() == 5, 20), "database errors: mail stored at first")
        filler = os.path.join(fs, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 65536) > 0:
                pass
        except OSError:  # ENOSPC: the disk is full
            pass
        os.close(fd)
        for m in mails[5:]:
            md.deliver(m)
        check(wait_until(lambda: "no progress" in dm.text(), 20, 0.2),
              "database errors: a full disk stops the watchdog pings, with a reason logged")
        quiet = notify.mark()
        time.sleep(1.5)
        check(not [m for m in notify.since(quiet) if m == "WATCHDOG=1"],
              "database errors: no WATCHDOG=1 while every job fails")
        os.unlink(filler)
        if not check(wait_until(lambda: stored() == len(mails), 60, 0.5),
                     "database errors: once space is back, every message is stored without a"
                     " restart (%d of %d)" % (stored(), len(mails))):
            print("".join("  | " + ln + "\n" for ln in dm.text().splitlines()[-15:]))
        back = notify.mark()
        check(notify.wait("WATCHDOG=1", back, timeout=10) is not None and
              "working again" in dm.text(), "database errors: the watchdog is fed again")
        check(dm.stop(10) == 0, "database errors: SIGTERM exits 0")
    finally:
        subprocess.run(["umount", "-l", fs])


# ---- 5-6: options, the unit ----

def test_options(a, d, conf):
    p = subprocess.run([a.patchqd, "--check-config", "-c", conf], capture_output=True, text=True)
    check(p.returncode == 0 and "good" in p.stdout, "--check-config: a good configuration exits 0")
    bad = os.path.join(d, "bad.conf")
    text = open(conf).read()
    with open(bad, "w") as f:
        f.write(text + '[queue "x"]\n\tbranch = x\n\tfrobnicate = yes\n')
    line = text.count("\n") + 3
    p = subprocess.run([a.patchqd, "--check-config", "-c", bad], capture_output=True, text=True)
    check(p.returncode == 1 and ("bad.conf:%d:" % line) in p.stderr,
          "--check-config: a bad configuration exits 1 with FILE:LINE (%s)" % p.stderr.strip())
    p = subprocess.run([a.patchqd, "-c", bad], capture_output=True, text=True, timeout=10)
    check(p.returncode == 1 and ("bad.conf:%d:" % line) in p.stderr,
          "a daemon started with a bad configuration exits 1 with FILE:LINE")
    p = subprocess.run([a.patchqd, "--help"], capture_output=True, text=True)
    check(p.returncode == 0 and "SIGHUP" in p.stdout, "--help exits 0 and mentions SIGHUP")
    p = subprocess.run([a.patchqd, "--frobnicate"], capture_output=True, text=True)
    check(p.returncode == 2 and "usage" in p.stderr, "an unknown option exits 2 with the usage")
    p = subprocess.run([a.patchqd, "-c", conf, "extra"], capture_output=True, text=True)
    check(p.returncode == 2, "an unexpected argument exits 2")


def test_unit(a, d, conf, notify):
    src = open(os.path.join(a.source, "contrib", "patchqd.service")).read()
    unitdir = os.path.join(d, "unit")
    os.mkdir(unitdir)
    unit = os.path.join(unitdir, "patchqd.service")
    text = src.replace("/usr/local/bin/patchqd", a.patchqd)
    with open(unit, "w") as f:
        f.write(text)
    keys = collections.defaultdict(list)
    for ln in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", ln)
        if m:
            keys[m.group(1)].append(m.group(2))
    check(keys["Type"] == ["notify"], "unit: Type=notify")
    check(keys["ProtectSystem"] == ["strict"], "unit: ProtectSystem=strict")
    check(keys["NoNewPrivileges"] == ["yes"], "unit: NoNewPrivileges=yes")
    check(bool(keys["StateDirectory"]) and keys["StateDirectory"][0] != "",
          "unit: StateDirectory= is set (%s)" % keys["StateDirectory"])
    check(any("HUP" in v and "$MAINPID" in v for v in keys["ExecReload"]),
          "unit: ExecReload sends HUP to $MAINPID")
    if shutil.which("systemd-analyze"):
        p = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                           cwd=unitdir)
        own = [ln for ln in (p.stdout + p.stderr).splitlines() if "patchqd.service" in ln]
        check(p.returncode == 0 and not own,
              "unit: systemd-analyze verify passes (rc %d) %s" % (p.returncode, own))
    else:
        print("skip systemd-analyze verify: systemd-analyze is not installed")

    def argv(key):
        args = keys[key][0].split()
        return [conf if x == "/etc/patchq/patchq.conf" else x for x in args]

    pre = argv("ExecStartPre")
    p = subprocess.run(pre, capture_output=True, text=True)
    check(p.returncode == 0 and pre[0] == a.patchqd,
          "unit: ExecStartPre (%s) passes" % " ".join(pre[1:]))
    start = argv("ExecStart")
    check(start[0] == a.patchqd and "-c" in start, "unit: ExecStart runs patchqd -c CONFIG")
    mark = notify.mark()
    m = re.match(r"(\d+)s$", keys["WatchdogSec"][0]) if keys["WatchdogSec"] else None
    env = {"WATCHDOG_USEC": str(int(m.group(1)) * 1000000)} if m else {}
    dm = Daemon(a.patchqd, conf, notify, os.path.join(d, "unit.log"), env=env, args=start)
    check(notify.wait("READY=1", mark) is not None,
          "unit: started as ExecStart says, under a notify socket: READY=1")
    check(dm.stop(10) == 0, "unit: stops with KillSignal=SIGTERM, exit 0")

    # WATCHDOG_PID names another process: no pings from this one
    mark = notify.mark()
    dm = Daemon(a.patchqd, conf, notify, os.path.join(d, "wdpid.log"),
                env={"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"})
    notify.wait("READY=1", mark)
    time.sleep(1)
    check("WATCHDOG=1" not in notify.since(mark),
          "watchdog: no pings when WATCHDOG_PID is another process")
    dm.stop(10)


# ---- 7: kill -9 while mail arrives ----

AUTHORS = [("Alice Rustacean", "alice@example.org"), ("Boqun Feng", "boqun@example.org"),
           ("Gary Guo", "gary@example.org"), ("Benno Lossin", "benno@example.org"),
           ("Danilo Krummrich", "dakr@example.org"), ("Wedson Almeida", "wedson@example.org")]
REVIEWERS = [("Rita Reviewer", "rita@example.org"), ("Alex Gaynor", "alex@example.org"),
             ("Trevor Gross", "tmgross@example.org")]


class Corpus:
    """Real patch mail: `git format-patch` of series in a repository made
    here, with cover letters and threads, v2s in reply to their v1, and
    review replies with trailers."""

    def __init__(self, work, rng, families):
        self.work = work
        self.rng = rng
        self.repo = os.path.join(work, "src")
        self.msgs = []      # (msgid, bytes without the mbox From line)
        self.expect_dev = set()   # (name, version) that must end on rust-dev
        self._make(families)

    def _git(self, *args, ident=("Gen", "gen@example.org")):
        # the cover letter's From: is this identity (format-patch --from leaves it)
        p = subprocess.run(["git", "-C", self.repo, "-c", "user.name=" + ident[0], "-c",
                            "user.email=" + ident[1]] + list(args), capture_output=True)
        if p.returncode:
            raise SystemExit("git %s failed: %s" % (" ".join(args), p.stderr.decode()))
        return p.stdout.decode().strip()

    def _make(self, nfam):
        rng = self.rng
        os.makedirs(self.repo)
        self._git("init", "-q", "-b", "main")
        os.makedirs(os.path.join(self.repo, "rust", "kernel"))
        with open(os.path.join(self.repo, "rust", "kernel", "lib.rs"), "w") as f:
            f.write("// SPDX-License-Identifier: GPL-2.0\n\n//! Kernel crate.\n")
        self._git("add", "-A")
        env = dict(os.environ, GIT_AUTHOR_DATE="1790000000 +0000",
                   GIT_COMMITTER_DATE="1790000000 +0000")
        subprocess.run(["git", "-C", self.repo, "-c", "user.name=Gen", "-c",
                        "user.email=gen@example.org", "commit", "-q", "-m", "base"],
                       env=env, check=True)
        base = self._git("rev-parse", "HEAD")
        for b in ("rust-next", "rust-fixes", "rust-dev"):
            self._git("branch", b)

        # every series as commits in one fast-import stream
        fams = []
        stream = []
        t0 = 1790000000
        mark = 0
        for i in range(nfam):
            r = rng.random()
            kind = ("dev" if r < 0.70 else "fix" if r < 0.80 else "rfc" if r < 0.87
                    else "other" if r < 0.94 else "noreview")
            k = rng.randint(1, 5)
            who = rng.choice(AUTHORS)
            versions = [1, 2] if kind in ("dev", "noreview") and rng.random() < 0.15 else [1]
            path = ("drivers/gen/f%03d.c" % i) if kind == "other" else ("rust/gen/f%03d.rs" % i)
            fams.append((i, kind, k, who, versions, path))
            for v in versions:
                content = ""
                for j in range(1, k + 1):
                    mark += 1
                    content += "// family %d version %d step %d\n" % (i, v, j)
                    ts = t0 + i * 1000 + v * 100 + j
                    msg = ("%s: f%03d: step %d\n\nStep %d of family %d%s.\n\n"
                           "Signed-off-by: %s <%s>\n"
                           % ("drivers" if kind == "other" else "rust", i, j, j, i,
                              ", reworked" if v > 1 else "", who[0], who[1]))
                    stream.append("commit refs/heads/f%03dv%d\nmark :%d\n"
                                  "author %s <%s> %d +0000\ncommitter %s <%s> %d +0000\n"
                                  "data %d\n%s" % (i, v, mark, who[0], who[1], ts, who[0],
                                                   who[1], ts, len(msg.encode()), msg))
                    if j == 1:
                        stream.append("from %s\n" % base)
                    stream.append("M 100644 inline %s\ndata %d\n%s\n"
                                  % (path, len(content.encode()), content))
        subprocess.run(["git", "-C", self.repo, "fast-import", "--quiet"],
                       input="".join(stream).encode(), check=True)

        out = os.path.join(self.work, "fp")
        for (i, kind, k, who, versions, path) in fams:
            name = "%s: f%03d: family %d" % ("drivers" if kind == "other" else "rust", i, i)
            prev_cover = None
            for v in versions:
                d = os.path.join(out, "f%03dv%d" % (i, v))
                args = ["format-patch", "-q", "-o", d, "--thread=shallow"]
                if k > 1:
                    args.append("--cover-letter")
                if v > 1:
                    args += ["-v%d" % v, "--in-reply-to=" + prev_cover]
                if kind == "fix":
                    args.append("--subject-prefix=PATCH rust-fixes")
                if kind == "rfc":
                    args.append("--rfc")
                self._git(*(args + ["main..f%03dv%d" % (i, v)]), ident=who)
                files = sorted(os.listdir(d))
                texts = [open(os.path.join(d, f)).read() for f in files]
                remap = {}
                for n, t in enumerate(texts):
                    idx = n if k > 1 else 1
                    remap[msgid_of(t)] = "f%03d-v%d-%d@gen.example.org" % (i, v, idx)
                top = None
                for n, t in enumerate(texts):
                    head, body = t.split("\n\n", 1)
                    for old, new in remap.items():
                        head = head.replace("<%s>" % old, "<%s>" % new)
                    if k > 1 and n == 0:
                        body = body.replace("*** BLURB HERE ***", "Family %d, version %d." % (i, v))
                        head = head.replace("*** SUBJECT HERE ***", name)
                    t = head + "\n\n" + body
                    t = t.split("\n", 1)[1]  # the mbox From line goes
                    mid = msgid_of(t)
                    subj = re.search(r"^Subject: (.*(?:\n[ \t].*)*)", t, re.M).group(1)
                    subj = re.sub(r"\n[ \t]+", " ", subj)
                    self.msgs.append((mid, t.encode()))
                    if n == 0:
                        top = (mid, subj)
                    if k > 1 and n > 0 and rng.random() < 0.5:
                        r = self._reply(mid, subj, "Small nit: a comment would help here.",
                                        rng.choice(REVIEWERS))
                        if rng.random() < 0.5:
                            self._reply(r, subj, "> Small nit: a comment would help here.\n\n"
                                        "Will do in the next version.", who)
                    if n == 1 and kind != "noreview" and rng.random() < 0.1:
                        r = rng.choice(REVIEWERS)
                        self._reply(mid, subj, "Acked-by: %s <%s>" % r, r)
                prev_cover = top[0]
                reviewed = kind != "noreview" and (v == versions[-1] or rng.random() < 0.7)
                if reviewed:
                    r = rng.choice(REVIEWERS)
                    quote = "> %s\n\nLooks good.\n\n" % top[1]
                    self._reply(top[0], top[1], quote + "Reviewed-by: %s <%s>" % r, r)
                if kind == "dev" and v == versions[-1]:
                    self.expect_dev.add((name if k > 1 else "rust: f%03d: step 1" % i, v))

    def _reply(self, parent, subject, body, who):
        n = len(self.msgs)
        mid = "reply-%d@gen.example.org" % n
        day = 1 + n % 27
        t = ("From: %s <%s>\nTo: rust-for-linux@vger.example.org\nSubject: Re: %s\n"
             "Date: Mon, %d Dec 2026 10:%02d:00 +0000\nMessage-ID: <%s>\n"
             "In-Reply-To: <%s>\nReferences: <%s>\n\n%s\n"
             % (who[0], who[1], re.sub(r"^(Re: )+", "", subject), day, n % 60, mid, parent,
                parent, body))
        self.msgs.append((mid, t.encode()))
        return mid

    def write_mbox(self, path, order=None):
        by_id = dict(self.msgs)
        with open(path, "wb") as f:
            for m in (by_id[i] for i in order) if order else (m for _, m in self.msgs):
                for ln in m.split(b"\n"):
                    if re.match(rb">*From ", ln):
                        raise SystemExit("a generated line needs mbox quoting: %r" % ln)
                f.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n" + m)
                if not m.endswith(b"\n"):
                    f.write(b"\n")
                f.write(b"\n")


def series_key(series):
    """The series as comparable facts: ids differ between databases."""
    by_id = {s["id"]: s for s in series}

    def ref(i):
        return None if i is None else (by_id[i]["name"], by_id[i]["version"])

    return sorted((s["name"] or "", s["version"], s["total"], s["received"], s["complete"],
                   s["cover"] or "", s["submitter"] or "",
                   tuple((p["index"], p["msgid"]) for p in s["patches"]),
                   repr(ref(s["supersedes"])), repr(ref(s["superseded_by"])))
                  for s in series)


def test_public_inbox(a, work, notify):
    """A public-inbox v2 archive the operator fetches: the commits after
    the last one ingested, by poll."""
    d = os.path.join(work, "pi")
    os.mkdir(d)
    setup_demo(a.source, d)
    mails = [open(os.path.join(d, "maildir", "new", f), "rb").read()
             for f in sorted(os.listdir(os.path.join(d, "maildir", "new")))]
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

    add(mails[:6])
    conf = os.path.join(d, "patchq.conf")
    with open(conf, "a") as f:
        f.write('\n[source "lore"]\n\ttype = public-inbox\n\tpath = %s\n'
                '\tpollInterval = 1\n' % inbox)
    db = os.path.join(d, "patchq.db")
    dm = Daemon(a.patchqd, conf, notify, os.path.join(work, "patchqd-pi.log"))
    try:
        count = lambda: pqdb(a.patchq, db, "stats")["messages"]  # noqa: E731
        check(wait_until(lambda: count() == 6, 20), "public-inbox: the 6 archived messages")
        add(mails[6:])
        check(wait_until(lambda: count() == len(mails), 20),
              "public-inbox: the commits fetched later, at the next poll (%d of %d)"
              % (count(), len(mails)))
    finally:
        rc = dm.stop()
    check(rc == 0 and count() == len(mails) and "error" not in dm.text(),
          "public-inbox: nothing stored twice, no error")


def test_kill_loop(a, work, notify):
    rng = random.Random(a.seed)
    d = os.path.join(work, "kill")
    os.mkdir(d)
    t0 = time.monotonic()
    corpus = Corpus(d, rng, a.families)
    mbox = os.path.join(d, "all.mbox")
    corpus.write_mbox(mbox)
    ids = [m for m, _ in corpus.msgs]
    n = len(ids)
    check(len(set(ids)) == n and n >= 1000,
          "kill: %d messages of git format-patch mail made (%.1f s)" % (n, time.monotonic() - t0))

    run(["git", "clone", "-q", "--bare", corpus.repo, "queues.git"], cwd=d)
    repo = os.path.join(d, "queues.git")
    conf = os.path.join(d, "patchq.conf")
    text = open(os.path.join(a.source, "contrib/patchq.conf.example")).read()
    text = text.replace("/var/lib/patchq/patchq.db", "patchq.db")
    text = text.replace("/var/lib/patchq/linux.git", "queues.git")
    text = text.replace("committerDate = author", "committerDate = fixed:1795000000")
    text = text.replace("listen = 127.0.0.1:8080", "listen = 127.0.0.1:0")
    with open(conf, "w") as f:
        f.write(text)
    md = Maildir(os.path.join(d, "md"))
    add_source(conf, md.path)

    order = list(corpus.msgs)
    rng.shuffle(order)
    nkills = rng.randint(a.kills[0], a.kills[1])
    delivered = [0]
    kills = [0]
    drng = random.Random(a.seed + 1)  # the delivery thread's own

    def deliver():
        # in bursts, keeping pace with the kills: all in by 70% of them
        i = 0
        while i < len(order):
            target = len(order) * min(1.0, (kills[0] + 1) / (0.7 * nkills))
            while i < target:
                burst = drng.randint(1, 60)
                for _, m in order[i:i + burst]:
                    md.deliver(m)
                i = min(i + burst, len(order))
                delivered[0] = i
                time.sleep(drng.uniform(0, 0.05))
            time.sleep(0.02)

    log = os.path.join(d, "patchqd.log")
    watch = CurWatcher(md, os.path.join(d, "patchq.db"))
    th = threading.Thread(target=deliver)
    t0 = time.monotonic()
    th.start()
    ready = moved = 0
    idle_git = 0
    ref = os.path.join(repo, "refs", "heads", "rust-dev")

    def ref_state():
        try:
            st = os.stat(ref)
            return (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            return None

    for _ in range(nkills):
        mark = notify.mark()
        before = ref_state()
        dm = Daemon(a.patchqd, conf, notify, log)
        # 0-300 ms after one of: exec; READY=1 (the first chunk of new/ is
        # in, so every run gets somewhere however slow the build); a move
        # of rust-dev (the database records what landed just after)
        r = rng.random()
        if r < 0.75:
            ready += notify.wait("READY=1", mark, timeout=30) is not None
        # (once enough mail is in for series to be complete; not forever
        # when the pipeline has nothing left to apply)
        if r >= 0.5 and delivered[0] >= len(order) // 2 and idle_git < 3:
            if wait_until(lambda: ref_state() != before, 3, 0.002):
                moved += 1
                idle_git = 0
            else:
                idle_git += 1
        time.sleep(rng.uniform(0, 0.3))
        if not dm.alive():
            dm.p.wait()
            dm.err.close()
            check(False, "kill: the daemon died on its own (exit %s)" % dm.p.returncode)
            break
        dm.kill()
        kills[0] += 1
    kills = kills[0]
    th.join()
    mid = len(pqjson(a.patchq, conf, "messages"))
    onq = len(pqjson(a.patchq, conf, "queue", "rust-dev"))
    print("kill: %d kills with SIGKILL (%d after READY=1, %d after rust-dev moved) while %d"
          " messages arrived (%.1f s); by then %d stored, %d series on rust-dev"
          % (kills, ready, moved, delivered[0], time.monotonic() - t0, mid, onq), flush=True)

    # SIGTERM while the pipeline works through the backlog: a clean stop
    mark = notify.mark()
    dm = Daemon(a.patchqd, conf, notify, log)
    wait_until(lambda: not md.new() and len(pqjson(a.patchq, conf, "messages")) >= n, 60, 0.2)
    st = [m for m in notify.since(mark) if m.startswith("STATUS=")]
    busy = bool(st) and "pipeline running" in st[-1]
    t0 = time.monotonic()
    rc = dm.stop(150)
    took = time.monotonic() - t0
    check(rc == 0 and open(log, errors="replace").read().endswith("stopped\n"),
          "kill: SIGTERM while the pipeline is %s exits 0 after %.1f s"
          % ("busy" if busy else "idle (?)", took))
    check(took < 120, "kill: ... within the unit's TimeoutStopSec=120 (%.1f s)" % took)

    # let it drain: every file read, the pipeline idle
    t0 = time.monotonic()
    mark = notify.mark()
    dm = Daemon(a.patchqd, conf, notify, log)
    notify.wait("READY=1", mark, timeout=30)

    def drained():
        if not dm.alive():
            return True
        if md.new():
            return False
        st = [m for m in notify.since(mark) if m.startswith("STATUS=")]
        if not st or "pipeline running" in st[-1] or time.monotonic() - notify.last_time() < 1.5:
            return False
        return pqjson(a.patchq, conf, "stats")["messages"] >= n

    ok = wait_until(drained, a.drain, 0.25)
    check(ok and dm.alive(), "kill: the last daemon drained the maildir and went idle (%.1f s)"
          % (time.monotonic() - t0))
    rc = dm.stop(30)
    check(rc == 0, "kill: the last daemon stops on SIGTERM with exit 0 (%s)" % rc)
    samples, early = watch.finish()
    check(not early and samples > 0, "kill: all along, a file was in cur/ only once its"
          " message was in the database (%d samples) %s" % (samples, early[:3]))
    text = open(log, errors="replace").read()
    bad = [ln for ln in text.splitlines() if re.search(r"error|warning|AddressSanitizer|runtime error", ln)]
    check(not bad, "kill: no error or warning logged %s" % bad[:5])

    # every message exactly once
    msgs = pqjson(a.patchq, conf, "messages")
    got = collections.Counter(m["msgid"] for m in msgs)
    dup = [k for k, c in got.items() if c > 1]
    check(len(msgs) == n and not dup and set(got) == set(ids),
          "kill: every message stored exactly once (%d of %d, %d duplicated)"
          % (len(msgs), n, len(dup)))
    check(not md.new() and len(md.cur()) == n, "kill: new/ is empty, cur/ holds %d files"
          % len(md.cur()))

    # the same as a clean import of the same mail
    clean = os.path.join(d, "clean.db")
    run([a.patchq, "--db", clean, "-q", "import", mbox], cwd=d)
    st = pqjson(a.patchq, conf, "stats")
    cst = json.loads(run([a.patchq, "--db", clean, "stats", "--json"], cwd=d).stdout)
    check(st == cst, "kill: stats equal those of a clean import %s"
          % {k: (st.get(k), cst.get(k)) for k in set(st) | set(cst) if st.get(k) != cst.get(k)})
    ser = pqjson(a.patchq, conf, "series")
    cser = json.loads(run([a.patchq, "--db", clean, "series", "--json"], cwd=d).stdout)
    # the same mail imported by patchq in the order the daemon stored it:
    # what kill -9 must not change, whatever arrival order does
    replay, rdb = os.path.join(d, "replay.mbox"), os.path.join(d, "replay.db")
    corpus.write_mbox(replay, [m["msgid"] for m in msgs])
    run([a.patchq, "--db", rdb, "-q", "import", replay], cwd=d)
    rser = json.loads(run([a.patchq, "--db", rdb, "series", "--json"], cwd=d).stdout)
    k1, k2, k3 = series_key(ser), series_key(cser), series_key(rser)

    def diff(x, y):
        return [s for s in x if s not in y][:2] + [s for s in y if s not in x][:2]

    check(k1 == k3, "kill: the %d series equal those of patchq import of the same mail in the"
          " order the daemon stored it %s" % (len(ser), diff(k1, k3)))
    check(k1 == k2, "kill: the %d series (names, versions, patches, completeness, supersession)"
          " equal those of a clean import of the mbox %s" % (len(ser), diff(k1, k2)))
    # arrival order does not matter: the list's order backwards gives the same
    back, bdb = os.path.join(d, "reversed.mbox"), os.path.join(d, "reversed.db")
    corpus.write_mbox(back, [m for m, _ in reversed(corpus.msgs)])
    run([a.patchq, "--db", bdb, "-q", "import", back], cwd=d)
    k4 = series_key(json.loads(run([a.patchq, "--db", bdb, "series", "--json"], cwd=d).stdout))
    check(k4 == k2, "kill: the same mail imported in reversed order gives the same series %s"
          % diff(k4, k2))

    # the repository and the queues
    p = subprocess.run(["git", "--git-dir=" + repo, "fsck", "--no-dangling"],
                       capture_output=True, text=True)
    check(p.returncode == 0, "kill: git fsck --no-dangling passes on the queue repository %s"
          % (p.stdout + p.stderr).strip()[:300])
    # a reference left locked would stop every later update; a pack being
    # written when the kill came is only an unused temporary file
    locks = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(repo, "refs"))
             for f in fs if f.endswith(".lock")]
    locks += [f for f in os.listdir(repo) if f.endswith(".lock")]
    check(not locks, "kill: no reference left locked in the queue repository %s" % locks)
    p = run([a.patchq, "-c", conf, "recover"], cwd=d, ok=False)
    check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
          "kill: patchq recover finds nothing left to do %r" % (p.stdout + p.stderr)[:300])
    q = pqjson(a.patchq, conf, "queue", "rust-dev")
    sids = [s["series"] for s in q]
    check(len(sids) == len(set(sids)), "kill: every series on rust-dev appears once (%d series)"
          % len(sids))
    commits = [p["commit"] for s in q for p in s["patches"]]
    onbranch = git(repo, "rev-list", "--reverse", "rust-next..rust-dev").split()
    check(len(onbranch) == len(commits) and onbranch == commits,
          "kill: rust-dev's %d commits are exactly the %d patches of its series, in order"
          % (len(onbranch), len(commits)))
    stuck = []
    for s in ser:
        if s["state"] == "queued":
            sq = pqjson(a.patchq, conf, "show", str(s["id"]))["queues"]
            stuck += [s["id"] for x in sq if x["queue"] == "rust-dev" and x["state"] == "queued"]
    check(not stuck, "kill: no series left queued for rust-dev (automatic) and never applied %s"
          % stuck)
    have = {(s["name"], s["version"]) for s in q}
    check(have == corpus.expect_dev,
          "kill: rust-dev holds the newest version of every reviewed series (%d); "
          "missing %s, extra %s" % (len(corpus.expect_dev), sorted(corpus.expect_dev - have)[:5],
                                    sorted(have - corpus.expect_dev)[:5]))
    print("kill: %d messages, %d kills, %d series, %d on rust-dev"
          % (n, kills, len(ser), len(sids)), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--families", type=int, default=160, help="kill loop: series families")
    ap.add_argument("--kills", type=int, nargs=2, default=(25, 35), metavar=("MIN", "MAX"))
    ap.add_argument("--drain", type=float, default=150, help="kill loop: seconds to drain")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    a.patchqd = os.path.abspath(a.patchqd)
    a.patchq = os.path.abspath(a.patchq)
    a.source = os.path.abspath(a.source)
    if a.seed is None:
        a.seed = random.randrange(1 << 30)
    print("seed %d (--seed to repeat)" % a.seed, flush=True)
    if not shutil.which("git"):
        print("git is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-daemon-")
    notify = Notify()
    try:
        d, conf, md, dm = test_maildir(a, work, notify)
        try:
            test_sighup(a, d, conf, md, dm, notify)
            test_sigterm(dm, notify)
        finally:
            if dm.alive():
                dm.kill()
        test_restart(a, d, conf, notify)
        test_watchdog_journal(a, d, conf, notify)
        test_database_errors(a, work, notify)
        test_options(a, d, conf)
        test_unit(a, d, conf, notify)
        test_public_inbox(a, work, notify)
        test_kill_loop(a, work, notify)
        san = []
        for root, _, files in os.walk(work):
            for f in files:
                if f.endswith(".log"):
                    text = open(os.path.join(root, f), errors="replace").read()
                    san += re.findall(r".*(?:runtime error|AddressSanitizer|LeakSanitizer).*", text)
        check(not san, "no sanitizer report in any daemon log %s" % san[:3])
    finally:
        notify.close()
        if a.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
