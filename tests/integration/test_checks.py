#!/usr/bin/env python3
"""Issue 13's checks: [check "NAME"] sections run by `patchq checks
SERIES --run`, `patchq run` and patchqd's check workers on the tree a
series makes, with real tools
on a repository and mail this test makes: Debian's rustfmt --check on a
series that breaks formatting (fail, the file named) and one that does
not (pass); a per-patch check that reads PATCHQ_PATCH; a second run and
another queue on the same tree reuse the stored results; a check past
its timeout is killed with everything it started; with bubblewrap, a
check that writes outside its work tree fails and writes nothing; the
kernel's own checkpatch.pl (from the linux-source tarball) per patch;
the configuration's errors name FILE:LINE. A rule's `checks = pass`:
automatic application waits for the checks, then the series that passed
goes in and the one that failed waits for a maintainer, held so (why and
why --json say which check); by `patchq run`, and by patchqd's own check
worker and pipeline.

usage: test_checks.py --patchq PATH --patchqd PATH --source DIR
"""
import argparse
import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from checks import check, failures  # noqa: E402

GOOD_RS = "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n"
BAD_RS = "pub fn   sub(a: u32,b: u32)->u32 { a-b }\n"


def run(args, cwd, ok=True, env=None):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    if ok and p.returncode != 0:
        raise SystemExit("command failed: %s\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def git(cwd, *args):
    return run(["git"] + list(args), cwd=cwd).stdout.strip()


def commit(repo, path, text, subject, body="A change.\n"):
    os.makedirs(os.path.dirname(os.path.join(repo, path)), exist_ok=True)
    with open(os.path.join(repo, path), "w") as f:
        f.write(text)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", subject + "\n\n" + body +
        "\nSigned-off-by: Alice Rustacean <alice@example.org>")


def make_fixture(work):
    """A repository with a formatted Rust file, a bare clone for the queues,
    and an mbox of two series made with git format-patch."""
    src = os.path.join(work, "src")
    os.mkdir(src)
    git(src, "init", "-q", "-b", "main")
    git(src, "config", "user.name", "Alice Rustacean")
    git(src, "config", "user.email", "alice@example.org")
    commit(src, "rust/kernel/lib.rs", GOOD_RS, "rust: add add()")
    base = git(src, "rev-parse", "HEAD")
    # series A: a formatted file, then a badly formatted one
    commit(src, "rust/kernel/time.rs", GOOD_RS.replace("add", "mul").replace("+", "*"),
           "rust: time: add mul()")
    commit(src, "rust/kernel/time.rs", GOOD_RS.replace("add", "mul").replace("+", "*") + BAD_RS,
           "rust: time: add sub()")
    mbox_a = git(src, "format-patch", "--stdout", "--thread", "--cover-letter",
                 "--subject-prefix=PATCH", "-2", "HEAD")
    # series B: one formatted patch on the base
    git(src, "checkout", "-q", "-b", "b", base)
    commit(src, "rust/kernel/str.rs", GOOD_RS.replace("add", "len"), "rust: str: add len()")
    mbox_b = git(src, "format-patch", "--stdout", "-1", "HEAD")
    run(["git", "clone", "-q", "--bare", src, os.path.join(work, "queues.git")], cwd=work)
    git(os.path.join(work, "queues.git"), "branch", "next", base)
    git(os.path.join(work, "queues.git"), "branch", "fixes", base)
    with open(os.path.join(work, "series.mbox"), "w") as f:
        f.write(mbox_a + "\n" + mbox_b + "\n")


CONF = """[patchq]
\tdatabase = patchq.db
\trepository = queues.git
\tcommitter = Test Maint <maint@example.org>
\tcommitterDate = fixed:1795000000
[queue "next"]
\tbranch = next
[queue "fixes"]
\tbranch = fixes
"""


def write_conf(work, checks):
    with open(os.path.join(work, "patchq.conf"), "w") as f:
        f.write(CONF + checks)


def results(pq, work, sid, queue=None):
    args = pq + ["--json", "checks", str(sid)] + (["--queue", queue] if queue else [])
    return json.loads(run(args, cwd=work).stdout)


def one(rows, name, queue="next", patch=None):
    found = [r for r in rows if r["name"] == name and r["queue"] == queue and r["patch"] == patch]
    return found[0] if len(found) == 1 else None


def series_ids(pq, work):
    series = json.loads(run(pq + ["series", "--json"], cwd=work).stdout)
    a = [s["id"] for s in series if s["total"] == 2][0]
    b = [s["id"] for s in series if s["total"] == 1][0]
    return a, b


def test_config_errors(pq, work):
    cases = [
        ('[check "x"]\n\tper = series\n', "patchq.conf:10: check.x.command is missing"),
        ('[check "x"]\n\tcommand = true\n\tqueues = next nowhere\n',
         'patchq.conf:12: check.x.queues: no queue "nowhere"'),
        ('[check "x"]\n\tcommand = true\n\ttimeout = 0\n', "patchq.conf:12: check.x.timeout: 0"),
        ('[check "x"]\n\tcommand = true\n\ttimeout = 86401\n', "check.x.timeout: 86401 is not"),
        ('[check "x"]\n\tcommand = true\n\tper = commit\n',
         'patchq.conf:12: check.x.per: "commit" is not patch or series'),
        ('[check "x"]\n\tcommand = sh -c \'true\n', "patchq.conf:11: check.x.command: ' without"),
        ('[check "x"]\n\tcommand = true\n\tcolour = red\n', "patchq.conf:12: check.x.colour: unknown"),
        ('[check "x"]\n\tcommand = true\n\tqueues = all next\n', "all, or queue names"),
        ('[patchq]\n\tcheckJobs = 17\n', "patchq.conf:11: patchq.checkJobs: 17 is more than 16"),
    ]
    for text, want in cases:
        write_conf(work, text)
        p = run(pq + ["checks", "1"], cwd=work, ok=False)
        check(p.returncode == 1 and want in p.stderr,
              "configuration refused: %s (got %r)" % (want, p.stderr.strip()[:160]))


def test_checks(pq, work, rustfmt, bwrap):
    marker = "%d.%d" % (600 + os.getpid() % 300, os.getpid() % 97)
    outside = os.path.join(work, "outside")
    os.mkdir(outside)
    # a writable place outside /tmp (which the sandbox replaces): where the test runs
    escaped2 = os.path.join(os.getcwd(), "pq-checks-escaped-%d" % os.getpid())
    write_conf(work, """[check "rustfmt"]
\tcommand = "sh -c '%s --check --edition 2021 $(find rust -name \\"*.rs\\" | sort)'"
\tqueues = next fixes
[check "patch"]
\tcommand = "sh -c 'head -n 2 \\"$PATCHQ_PATCH\\"; echo index=$PATCHQ_PATCH_INDEX queue=$PATCHQ_QUEUE series=$PATCHQ_SERIES home=$HOME pwd=$(pwd); ls rust/kernel'"
\tper = patch
\tqueues = next
[check "sleeper"]
\tcommand = sh -c 'sleep %s & sleep %s'
\ttimeout = 2
\tqueues = next
[check "escape"]
\tcommand = sh -c 'echo x > $0/escaped' %s
\tqueues = next
\tenabled = %s
[check "escape2"]
\tcommand = sh -c 'echo x > $0' %s
\tqueues = next
\tenabled = %s
[check "noisy"]
\tcommand = "python3 -c 'import sys; sys.stdout.write(bytes([101, 61, 27, 91, 50, 74, 120, 13, 121, 10, 0xc2, 0x9b, 122, 10]).decode()); sys.exit(3)'"
\tqueues = next
[check "off"]
\tcommand = false
\tenabled = false
""" % (rustfmt, marker, marker, outside, "true" if bwrap else "false", escaped2,
       "true" if bwrap else "false"))
    run(pq + ["import", "-q", "series.mbox"], cwd=work)
    a, b = series_ids(pq, work)
    p = run(pq + ["checks", str(a)], cwd=work, ok=False)
    check(p.returncode == 0 and "no check results" in p.stdout, "nothing stored before a run")
    p = run(pq + ["checks", str(a), "--run"], cwd=work, ok=False)
    check(p.returncode == 2 or "give --queue" in p.stderr,
          "a series on no queue needs --queue (%r)" % p.stderr.strip()[:100])

    t0 = time.monotonic()
    p = run(pq + ["checks", str(a), "--queue", "next", "--run"], cwd=work, ok=False)
    took = time.monotonic() - t0
    print(p.stdout)
    check(p.returncode == 1, "a failing check makes the exit status 1 (%d)" % p.returncode)
    check(took < 30, "the sleeper was killed at its 2 s timeout (the run took %.1fs)" % took)
    rows = results(pq, work, a, "next")
    r = one(rows, "rustfmt")
    check(r and r["state"] == "fail" and r["exit"] == 1, "rustfmt --check fails on series A")
    check(r and "rust/kernel/time.rs" in r["output"] and "Diff in" in r["output"],
          "the output tail names the file rustfmt would change")
    check(r and "lib.rs" not in r["output"].replace("time.rs", ""),
          "and not the formatted one")
    check(r and isinstance(r["seconds"], float) and r["patch"] is None,
          "per series: patch null, seconds a number")
    check(one(rows, "off") is None, "a disabled check does not run")
    n = one(rows, "noisy")
    check(n and n["state"] == "fail" and n["exit"] == 3 and n["output"] == "e=?[2Jx?y\n?z\n",
          "a tool's escape sequence, CR and C1 control are stored as '?' (%r)"
          % (n and n["output"]))
    check(all(x["sandbox"] == bool(bwrap) for x in rows),
          "the sandbox is %s" % ("bwrap" if bwrap else "absent"))

    p1, p2 = one(rows, "patch", patch=1), one(rows, "patch", patch=2)
    check(p1 and p2 and p1["state"] == "pass" and p2["state"] == "pass",
          "the per-patch check ran once per patch")
    check(p1 and "Subject: [PATCH 1/2] rust: time: add mul()" in p1["output"]
          and "index=1 queue=next series=%d" % a in p1["output"],
          "PATCHQ_PATCH holds patch 1 as a mail, with its index, queue and series")
    check(p2 and "Subject: [PATCH 2/2] rust: time: add sub()" in p2["output"],
          "patch 2's check gets patch 2")
    check(p1 and "time.rs" in p1["output"] and p1["tree"] != (p2 or {}).get("tree"),
          "patch 1 is checked on the tree after patch 1 only")
    home = p1["output"].split("home=")[1].split()[0] if p1 else ""
    pwd = p1["output"].split("pwd=")[1].split()[0] if p1 else ""
    check(home and home == pwd and home.startswith(os.path.join(work, "checks")),
          "the work tree is the current directory and HOME, under checkDir (%s)" % home)
    check(os.listdir(os.path.join(work, "checks")) == [],
          "checkDir is empty after the run: %r" % os.listdir(os.path.join(work, "checks")))

    s = one(rows, "sleeper")
    check(s and s["state"] == "timeout" and s["exit"] is None and "timeout" in s["output"],
          "a check past its timeout is stopped: state timeout")
    time.sleep(0.5)
    left = run(["pgrep", "-f", "sleep " + marker], cwd=work, ok=False).stdout.split()
    check(not left, "nothing it started is left running (%r)" % left)

    if bwrap:
        e = one(rows, "escape")
        check(e and e["state"] == "fail", "the sandbox fails a write outside the work tree")
        check(not os.path.exists(os.path.join(outside, "escaped")),
              "and the file outside does not appear")
        e2 = one(rows, "escape2")
        check(e2 and e2["state"] == "fail" and "Read-only file system" in e2["output"],
              "the root is read-only in the sandbox (%r)" % (e2 and e2["output"]))
        check(not os.path.exists(escaped2), "and %s does not appear" % escaped2)
        if os.path.exists(escaped2):
            os.unlink(escaped2)
    else:
        print("SKIP the sandbox (bwrap is not installed)")

    # the same trees again: nothing runs, the rows are the same
    t0 = time.monotonic()
    p = run(pq + ["checks", str(a), "--queue", "next", "--run"], cwd=work, ok=False)
    again = results(pq, work, a, "next")
    check(time.monotonic() - t0 < 1.8, "a second run is quick: the sleeper did not run again")
    check(p.stdout.count(", reused") == len(rows),
          "every result of the second run is reused (%d of %d)" %
          (p.stdout.count(", reused"), len(rows)))
    check(all(x["ran"] == one(rows, x["name"], patch=x["patch"])["ran"] for x in again),
          "the stored run times are the first run's")
    # another queue at the same commit: the same tree, reused too
    p = run(pq + ["checks", str(a), "--queue", "fixes", "--run"], cwd=work, ok=False)
    f = one(results(pq, work, a, "fixes"), "rustfmt", queue="fixes")
    check(f and f["reused"] and f["state"] == "fail" and f["tree"] == r["tree"],
          "fixes at the same commit reuses next's rustfmt result")

    # series B keeps the formatting: pass
    p = run(pq + ["checks", str(b), "--queue", "fixes", "--run"], cwd=work, ok=False)
    print(p.stdout)
    rb = one(results(pq, work, b), "rustfmt", queue="fixes")
    check(rb and rb["state"] == "pass" and rb["exit"] == 0 and not rb["reused"],
          "rustfmt --check passes on series B")
    check(p.returncode == 0, "all checks passing: exit 0")
    text = run(pq + ["checks", str(a)], cwd=work).stdout
    check("rustfmt on next: fail (exit 1" in text and "time.rs" in text,
          "the text listing shows the failure and its output")


def test_no_sandbox(pq, work):
    """Without bwrap in PATH: run as ourselves, said so; the timeout still
    kills the whole process group."""
    marker = "%d.%d" % (300 + os.getpid() % 200, os.getpid() % 89)
    bindir = os.path.join(work, "bin")
    os.mkdir(bindir)
    for prog in ("sh", "sleep"):
        os.symlink(shutil.which(prog), os.path.join(bindir, prog))
    write_conf(work, """[check "sleeper2"]
\tcommand = "sh -c 'sleep %s & sleep %s & echo started; sleep %s'"
\ttimeout = 1
\tqueues = fixes
""" % (marker, marker, marker))
    b = series_ids(pq, work)[1]
    env = dict(os.environ, PATH=bindir)
    p = run(pq + ["checks", str(b), "--queue", "fixes", "--run"], cwd=work, ok=False, env=env)
    print(p.stdout, p.stderr)
    check("no sandbox (bwrap is not in PATH)" in p.stdout, "the report says there is no sandbox")
    r = one(results(pq, work, b, "fixes"), "sleeper2", "fixes")
    check(r and r["state"] == "timeout" and not r["sandbox"] and "started" in r["output"],
          "without the sandbox the timeout stops it too, its output kept")
    time.sleep(0.5)
    left = run(["pgrep", "-f", "sleep " + marker], cwd=work, ok=False).stdout.split()
    check(not left, "its whole process group is gone (%r)" % left)


def find_checkpatch(work):
    """scripts/checkpatch.pl and the files it reads, from Debian's linux-source
    tarball, into the fixture's source tree (a check runs in the kernel tree)."""
    tars = sorted(glob.glob("/usr/src/linux-source-*.tar.xz"))
    if not tars:
        return None
    want = ("scripts/checkpatch.pl", "scripts/spelling.txt", "scripts/const_structs.checkpatch")
    dest = os.path.join(work, "src")
    with tarfile.open(tars[-1]) as t:
        for m in t:
            if m.name.split("/", 1)[-1] in want:
                m.name = m.name.split("/", 1)[-1]
                t.extract(m, dest)
    path = os.path.join(dest, "scripts/checkpatch.pl")
    return path if os.path.exists(path) else None


def test_checkpatch(pq, work):
    write_conf(work, """[queue "kernel"]
\tbranch = kernel
[check "checkpatch"]
\tcommand = sh -c 'exec perl scripts/checkpatch.pl --no-tree --strict --terse --show-types --no-summary $PATCHQ_PATCH'
\tper = patch
\tqueues = kernel
""")
    src = os.path.join(work, "src")
    git(src, "checkout", "-q", "-b", "c", "main~2")
    spdx = "// SPDX-License-Identifier: GPL-2.0\n\n"
    os.makedirs(os.path.join(src, "drivers/misc"))
    with open(os.path.join(src, "drivers/misc/demo.c"), "w") as f:
        f.write(spdx + "int demo(void)\n{\n\treturn 0;\n}\n")
    git(src, "add", "scripts", "drivers/misc/demo.c")
    git(src, "commit", "-q", "-m", "scripts: checkpatch from linux-source")
    git(src, "push", "-q", os.path.join(work, "queues.git"), "c:kernel")
    commit(src, "drivers/misc/demo.c", spdx + "int demo(void)\n{\n\treturn 1;\n}\n",
           "misc: demo: return 1")
    commit(src, "drivers/misc/demo.c", spdx + "int demo(void)\n{\n    int x=1;\n\treturn x;\n}\n",
           "misc: demo: use x")
    mbox = git(src, "format-patch", "--stdout", "--thread", "--cover-letter", "-2", "HEAD")
    with open(os.path.join(work, "c.mbox"), "w") as f:
        f.write(mbox.replace("Subject: [PATCH 0/2]", "Subject: [PATCH 0/2] misc demo"))
    run(pq + ["import", "-q", "c.mbox"], cwd=work)
    series = json.loads(run(pq + ["series", "--json"], cwd=work).stdout)
    c = max(s["id"] for s in series)
    p = run(pq + ["checks", str(c), "--queue", "kernel", "--run"], cwd=work, ok=False)
    print(p.stdout, p.stderr)
    rows = results(pq, work, c, "kernel")
    p1 = one(rows, "checkpatch", "kernel", 1)
    p2 = one(rows, "checkpatch", "kernel", 2)
    check(p1 and p1["state"] == "pass", "checkpatch.pl passes the clean patch (%r)" %
          (p1 and p1["output"][-300:]))
    check(p2 and p2["state"] == "fail" and "patch-2.mbox:" in p2["output"]
          and "ERROR:SPACING" in p2["output"] and "WARNING:LEADING_SPACE" in p2["output"],
          "checkpatch.pl fails the patch with the style errors, on its lines (%r)" %
          (p2 and p2["output"][-300:]))


HOLD = """[rule "auto"]
\tqueue = next
\tfiles = rust/*
\tauto = true
\tchecks = pass
[check "rustfmt"]
\tcommand = "sh -c '%s --check --edition 2021 $(find rust -name \\"*.rs\\" | sort)'"
\tqueues = next
"""


def hold_outcome(pq, work, a, b, how):
    """Series a (badly formatted) held by its failed check, b applied on next."""
    sa = json.loads(run(pq + ["show", str(a), "--json"], cwd=work).stdout)
    sb = json.loads(run(pq + ["show", str(b), "--json"], cwd=work).stdout)
    qa = {q["queue"]: q for q in sa["queues"]}.get("next", {})
    qb = {q["queue"]: q for q in sb["queues"]}.get("next", {})
    check(qb.get("state") == "applied", "%s: the series whose checks passed went in: %r" % (how, qb))
    check(qa.get("state") == "queued", "%s: the one whose check failed waits: %r" % (how, qa))
    ca = [(k["name"], k["queue"], k["state"]) for k in sa.get("check_results", [])]
    check(ca == [("rustfmt", "next", "fail")], "%s: show --json has the checks: %r" % (how, ca))
    text = run(pq + ["show", str(a)], cwd=work).stdout
    check("  check rustfmt on next: fail (exit 1, " in text,
          "%s: and show's text: %s" % (how, text[-600:]))
    todo = json.loads(run(pq + ["--json", "todo"], cwd=work).stdout)
    waiting = [w for q in todo["queues"] if q["queue"] == "next" for w in q["waiting"]]
    check([(w["series"], w["checks"]) for w in waiting] == [(a, "failed: rustfmt")],
          "%s: the to-do says which check failed: %r" % (how, waiting))
    log = git(os.path.join(work, "queues.git"), "log", "--format=%s", "next")
    check("rust: str: add len()" in log and "rust: time: add sub()" not in log,
          "%s: only the passing series is on next: %r" % (how, log))
    why = run(pq + ["why", str(a)], cwd=work).stdout
    want = "check rustfmt failed (patchq checks %d)" % a
    check(("held: " + want) in why, "%s: why says which check holds it: %s" % (how, why))
    j = json.loads(run(pq + ["why", str(a), "--json"], cwd=work).stdout)
    check(j["held"] == want and j["queues"][0]["automatic"] is True,
          "%s: why --json: held %r" % (how, j.get("held")))


def fresh(base, name):
    work = os.path.join(base, name)
    os.mkdir(work)
    make_fixture(work)
    return work


def test_hold_run(pq, base, rustfmt):
    work = fresh(base, "hold-run")
    write_conf(work, HOLD % rustfmt + "[reply]\n\tchecks = true\n")
    run(pq + ["import", "-q", "series.mbox"], cwd=work)
    a, b = series_ids(pq, work)
    before = json.loads(run(pq + ["why", str(b), "--json"], cwd=work).stdout)
    check(before["held"] == "checks to pass first",
          "before they ran, why says it waits for its checks: %r" % before.get("held"))
    out = run(pq + ["run"], cwd=work).stdout
    check("its checks passed on next, applying" in out and
          "check rustfmt failed (patchq checks %d) on next, left to a maintainer" % a in out,
          "patchq run: triage holds, the checks run, then in or held: " + out)
    hold_outcome(pq, work, a, b, "patchq run")
    # [reply] checks: one reply per series version saying what they said
    run(pq + ["run"], cwd=work)
    db = sqlite3.connect(os.path.join(work, "patchq.db"))
    rows = db.execute("SELECT series_id, message FROM outbox WHERE kind = 'checks'"
                      " ORDER BY series_id").fetchall()
    db.close()
    check([r[0] for r in rows] == [a, b], "one checks reply per series, never twice: %r"
          % [r[0] for r in rows])
    if len(rows) == 2:
        check("The checks of next, on this series applied on next at " in rows[0][1] and
              "  the series rustfmt: fail\n" in rows[0][1] and "time.rs" in rows[0][1] and
              "X-Patchq: checked on next" in rows[0][1],
              "the reply lists each check and the failure's output: " + rows[0][1][-700:])
        check("  the series rustfmt: pass\n" in rows[1][1], "and the passing one says so")

    # a check added to the configuration runs on the series still waiting, with
    # the queue unmoved; what already ran on the same tree is not run again
    first = one(results(pq, work, a, "next"), "rustfmt")
    write_conf(work, HOLD % rustfmt + "[reply]\n\tchecks = true\n"
               "[check \"files\"]\n\tcommand = sh -c 'ls rust/kernel'\n\tqueues = next\n")
    out = run(pq + ["run"], cwd=work).stdout
    rows = results(pq, work, a, "next")
    f, r = one(rows, "files"), one(rows, "rustfmt")
    check("series %d: checks on next" % a in out and f and f["state"] == "pass"
          and "time.rs" in f["output"],
          "patchq run: the added check ran on the waiting series: %r / %s" % (f, out))
    check(r and first and r["ran"] == first["ran"] and r["reused"],
          "the check already run on that tree was reused, not run again: %r" % r)
    check("checks on" not in run(pq + ["run"], cwd=work).stdout,
          "the next pass runs no check: every one has its result on the tip")


def test_hold_daemon(pq, patchqd, base, rustfmt):
    work = fresh(base, "hold-daemon")
    write_conf(work, HOLD % rustfmt)
    run(pq + ["import", "-q", "series.mbox"], cwd=work)
    a, b = series_ids(pq, work)
    log = os.path.join(work, "patchqd.log")
    with open(log, "wb") as err:
        d = subprocess.Popen([patchqd, "-c", "patchq.conf"], cwd=work, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            end = time.monotonic() + 60
            while time.monotonic() < end:
                # both settled: a held by its failed check, b applied
                s = json.loads(run(pq + ["show", str(a), "--json"], cwd=work).stdout)
                held = {q["queue"]: q for q in s["queues"]}.get("next", {}).get("held") or ""
                sb = json.loads(run(pq + ["show", str(b), "--json"], cwd=work).stdout)
                state = {q["queue"]: q for q in sb["queues"]}.get("next", {}).get("state")
                if "failed" in held and state == "applied":
                    break
                time.sleep(0.2)
        finally:
            d.terminate()
            rc = d.wait(20)
    text = open(log, errors="replace").read()
    check(rc == 0, "patchqd stops on SIGTERM (exit %r)" % rc)
    check("checks on next" in text, "patchqd's check worker ran them: " + text[-1500:])
    hold_outcome(pq, work, a, b, "patchqd")


def test_daemon_stop(pq, patchqd, base):
    """checkJobs = 2: two series checked at once, never the same twice;
    mail delivered meanwhile is stored while they run; SIGTERM while they
    run: patchqd stops at once, the checks and everything they started
    killed, nothing stored for them."""
    work = fresh(base, "stop-daemon")
    marker = "%d.%d" % (700 + os.getpid() % 300, os.getpid() % 89)
    conf = HOLD.split("[check")[0] + """[check "slow"]
\tcommand = sh -c 'sleep %s$PATCHQ_SERIES & sleep %s$PATCHQ_SERIES'
\ttimeout = 3600
\tqueues = next
[source "list"]
\ttype = maildir
\tpath = maildir
""" % (marker, marker)
    for sub_dir in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(work, "maildir", sub_dir))
    write_conf(work, conf)
    path = os.path.join(work, "patchq.conf")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("[patchq]\n", "[patchq]\n\tcheckJobs = 2\n", 1))
    run(pq + ["import", "-q", "series.mbox"], cwd=work)
    log = os.path.join(work, "patchqd.log")

    def sleeps():
        p = subprocess.run(["pgrep", "-a", "-f", "sleep " + marker], capture_output=True,
                           text=True)
        # the sleeps themselves, not the shells that started them
        return sorted(w[2] for w in (line.split() for line in p.stdout.splitlines())
                      if len(w) == 3 and w[1] == "sleep")

    def sleeping():
        return bool(sleeps())

    with open(log, "wb") as err:
        d = subprocess.Popen([patchqd, "-c", "patchq.conf"], cwd=work, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        end = time.monotonic() + 30
        while time.monotonic() < end and len(set(sleeps())) < 2:
            time.sleep(0.1)
        started = sleeping()
        both = sleeps()
        # a message arrives while both checks run: stored all the same
        with open(os.path.join(work, "maildir", "new", "1.late.host"), "w") as f:
            f.write("From: Bob <bob@example.org>\nTo: list@example.org\n"
                    "Subject: Re: [PATCH] rust: str: add len()\n"
                    "Date: Wed, 11 Nov 2026 09:00:00 +0000\n"
                    "Message-ID: <late-%s@example.org>\n\nReviewed-by: Bob <bob@example.org>\n"
                    % marker)

        def stored():
            db = sqlite3.connect(os.path.join(work, "patchq.db"))
            n = db.execute("SELECT count(*) FROM message WHERE msgid = ?",
                           ("late-%s@example.org" % marker,)).fetchone()[0]
            db.close()
            return n == 1

        end = time.monotonic() + 30
        while time.monotonic() < end and not stored():
            time.sleep(0.1)
        check(stored() and sorted(set(sleeps())) == sorted(set(both)) and len(both) == 4,
              "a message delivered while the checks ran is stored, the checks still running")
        t0 = time.monotonic()
        d.terminate()
        try:
            rc = d.wait(20)
        except subprocess.TimeoutExpired:
            d.kill()
            rc = None
        took = time.monotonic() - t0
    check(started, "the check was running")
    check(both == sorted([marker + "1", marker + "1", marker + "2", marker + "2"]),
          "two check workers, one series each: %r" % both)
    check(rc == 0 and took < 10, "patchqd stopped on SIGTERM in %.1f s (exit %r)" % (took, rc))
    time.sleep(0.3)
    check(not sleeping(), "the check and what it started are gone")
    db = sqlite3.connect(os.path.join(work, "patchq.db"))
    n = db.execute("SELECT count(*) FROM series_check WHERE name = 'slow'").fetchone()[0]
    db.close()
    check(n == 0, "nothing stored for the check that was stopped (%d rows)" % n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    pq = [os.path.abspath(a.patchq), "-c", "patchq.conf"]
    # Debian's rustfmt (a rustup shim needs its HOME, which a check does not get)
    rustfmt = shutil.which("rustfmt", path="/usr/bin:/bin") or shutil.which("rustfmt")
    if not shutil.which("git") or not rustfmt:
        print("git or rustfmt is not installed")
        return 77
    bwrap = shutil.which("bwrap")
    if bwrap and subprocess.run([bwrap, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid",
                                 "true"], capture_output=True).returncode != 0:
        bwrap = None
    work = tempfile.mkdtemp(prefix="pq-checks-")
    try:
        make_fixture(work)
        test_config_errors(pq, work)
        test_checks(pq, work, rustfmt, bwrap)
        test_no_sandbox(pq, work)
        test_hold_run(pq, work, rustfmt)
        test_hold_daemon(pq, os.path.abspath(a.patchqd), work, rustfmt)
        test_daemon_stop(pq, os.path.abspath(a.patchqd), work)
        if find_checkpatch(work):
            test_checkpatch(pq, work)
        else:
            print("SKIP checkpatch.pl (no /usr/src/linux-source-*.tar.xz)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
