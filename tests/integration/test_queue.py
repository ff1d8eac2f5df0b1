#!/usr/bin/env python3
"""Queues end to end, on repositories and mail this test makes itself (the
demo generator) and, when the corpus is there, on b4's apply case:
import, why, check, apply, queue, a conflict that leaves the branch as it
was, and recovery of an application a crash interrupted.

usage: test_queue.py --patchq PATH --source DIR [--corpus DIR]
"""
import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from checks import check, failures  # noqa: E402


def run(args, cwd, ok=True, stdin=None):
    p = subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit("command failed: %s\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def git(repo, *args):
    return run(["git", "--git-dir=" + repo] + list(args), cwd=os.path.dirname(repo)).stdout.strip()


def setup_demo(source, work):
    run(["bash", os.path.join(source, "contrib/demo/make-demo.sh"), work], cwd=work)
    run(["git", "clone", "-q", "--bare", "repo", "queues.git"], cwd=work)
    conf = open(os.path.join(source, "contrib/patchq.conf.example")).read()
    conf = conf.replace("/var/lib/patchq/patchq.db", "patchq.db")
    conf = conf.replace("/var/lib/patchq/linux.git", "queues.git")
    conf = conf.replace("Miguel Ojeda <ojeda@kernel.org>", "Test Maint <maint@example.org>")
    conf = conf.replace("committerDate = author", "committerDate = fixed:1795000000")
    # the example's desk on any free port: tests run side by side
    conf = conf.replace("listen = 127.0.0.1:8080", "listen = 127.0.0.1:0")
    with open(os.path.join(work, "patchq.conf"), "w") as f:
        f.write(conf)


def test_demo_flow(pq, work):
    run(pq + ["import", "maildir"], cwd=work)
    series = json.loads(run(pq + ["series", "--json"], cwd=work).stdout)
    v2 = [s for s in series if s["version"] == 2][0]
    why = run(pq + ["why", str(v2["id"])], cwd=work).stdout
    check("=> queue rust-dev" in why and 'rule "dev"' in why, "why names the dev rule for the v2")
    fix = [s for s in series if "count bytes" in (s["name"] or "")][0]
    check("=> queue rust-fixes" in run(pq + ["why", str(fix["id"])], cwd=work).stdout,
          "a [PATCH rust-fixes] goes to rust-fixes")

    out = run(pq + ["check", str(v2["id"])], cwd=work).stdout
    check(out.count(": applies") == 3, "check: the v2 applies to the three live queues")
    db = sqlite3.connect(os.path.join(work, "patchq.db"))
    check(db.execute("SELECT count(*) FROM check_result WHERE series_id = ? AND ok",
                     (v2["id"],)).fetchone()[0] == 3, "check results are recorded")

    repo = os.path.join(work, "queues.git")
    before = git(repo, "rev-parse", "rust-next")
    run(pq + ["apply", str(v2["id"]), "--queue", "rust-next", "--dry-run"], cwd=work)
    check(git(repo, "rev-parse", "rust-next") == before, "--dry-run moves nothing")
    run(pq + ["apply", str(v2["id"]), "--queue", "rust-next"], cwd=work)
    log = git(repo, "log", "--format=%an|%s|%B", before + "..rust-next")
    check(log.count("Alice Rustacean|") == 3, "three commits authored by the patch author")
    check("Reviewed-by: Bob Reviewer <bob@example.org>" in log, "collected trailer in the commit")
    check("Link: https://lore.kernel.org/r/demo-time-v2-1@example.org" in log, "Link: to the archive")
    check(log.rstrip().endswith("Signed-off-by: Test Maint <maint@example.org>"),
          "the maintainer's sign-off comes last")
    check("[PATCH" not in log, "subjects lose their bracket prefix")
    q = json.loads(run(pq + ["queue", "rust-next", "--json"], cwd=work).stdout)
    check(len(q) == 1 and len(q[0]["patches"]) == 3
          and q[0]["patches"][-1]["commit"] == git(repo, "rev-parse", "rust-next"),
          "queue lists the series with the commit of each Message-ID")

    # reproducible: the same series on the same base gives the same commits
    tip = git(repo, "rev-parse", "rust-next")
    git(repo, "update-ref", "refs/heads/rust-fixes", before)
    run(pq + ["apply", str(v2["id"]), "--queue", "rust-fixes"], cwd=work)
    check(git(repo, "rev-parse", "rust-fixes") == tip, "same base, same series: same commit ids")
    # a review that arrives after the series went in is listed as late
    late = ("From: Late Reviewer <late@example.org>\n"
            "Subject: Re: [PATCH v2 2/3] rust: time: add ms_to_ns()\n"
            "Message-ID: <late-1@example.org>\n"
            "In-Reply-To: <demo-time-v2-2@example.org>\n"
            "References: <demo-time-v2-0@example.org> <demo-time-v2-2@example.org>\n"
            "Date: Fri, 20 Nov 2026 10:00:00 +0000\n\n"
            "Acked-by: Late Reviewer <late@example.org>\n")
    run(pq + ["import", "-"], cwd=work, stdin=late)
    show = json.loads(run(pq + ["show", str(v2["id"]), "--json"], cwd=work).stdout)
    p2 = [p for p in show["patches"] if p["index"] == 2][0]
    check(sorted(l["queue"] for l in p2["late"]) == ["rust-fixes", "rust-next"] and
          all(l["name"] == "Acked-by" and l["value"] == "Late Reviewer <late@example.org>"
              for l in p2["late"]),
          "a trailer that arrived after application is listed as late, per queue")
    check(all(not p["late"] for p in show["patches"] if p["index"] != 2),
          "late trailers only on the patch they answer")
    check({q["queue"]: q["state"] for q in show["queues"]}.get("rust-next") == "applied",
          "show gives the series' state on each queue")
    check(len(show["checks"]) == 3 and all(c["applies"] for c in show["checks"]),
          "show gives the recorded dry-run checks")

    return v2["id"], before, tip


def test_conflict(pq, work, sid):
    repo = os.path.join(work, "queues.git")
    # rust-next already has the series: applying it again conflicts
    tip = git(repo, "rev-parse", "rust-next")
    p = run(pq + ["apply", str(sid), "--queue", "rust-next"], cwd=work, ok=False)
    check(p.returncode == 1, "a series that does not apply fails")
    check(git(repo, "rev-parse", "rust-next") == tip, "a failed apply leaves the branch as it was")
    check("rust/kernel/" in p.stdout + p.stderr and "@@" in p.stdout + p.stderr,
          "the failure names the file and the hunk")
    p = run(pq + ["apply", str(sid), "--queue", "rust"], cwd=work, ok=False)
    check(p.returncode == 1 and "frozen" in p.stderr, "the frozen queue refuses with a clear answer")


def test_crash_recovery(patchq, source, work):
    """patchq apply killed (SIGKILL) before and after the branch moves:
    recover completes what each crash left."""
    d = os.path.join(work, "crash")
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    repo = os.path.join(d, "queues.git")
    run(pq + ["import", "maildir"], cwd=d)
    fix = [s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
           if s["name"] == "rust: str: count bytes in len()"][0]
    base = git(repo, "rev-parse", "rust-fixes")
    db = sqlite3.connect(os.path.join(d, "patchq.db"))

    def state():
        row = db.execute("SELECT state FROM series_queue WHERE series_id = ? AND queue = ?",
                         (fix["id"], "rust-fixes")).fetchone()
        return row[0] if row else None

    apply = pq + ["apply", str(fix["id"]), "--queue", "rust-fixes"]
    env = dict(os.environ, PATCHQ_CRASH="intent")
    p = subprocess.run(apply, cwd=d, env=env, capture_output=True, text=True)
    check(p.returncode == -signal.SIGKILL and state() == "applying" and
          git(repo, "rev-parse", "rust-fixes") == base,
          "killed after the intent: the intent is recorded, the branch has not moved")
    out = run(pq + ["recover"], cwd=d).stdout
    check("never moved" in out and state() == "approved" and
          git(repo, "rev-parse", "rust-fixes") == base,
          "recover leaves the branch where it was and the application asked for (approved)")
    out = run(pq + ["triage"], cwd=d).stdout
    check("approved for rust-fixes" in out and git(repo, "rev-parse", "rust-fixes") != base and
          state() == "applied", "the next triage completes it")
    git(repo, "update-ref", "refs/heads/rust-fixes", base)
    db.execute("UPDATE series_queue SET state = 'queued' WHERE series_id = ?", (fix["id"],))
    db.execute("UPDATE application SET active = 0 WHERE series_id = ?", (fix["id"],))
    db.execute("DELETE FROM outbox")
    db.commit()

    env["PATCHQ_CRASH"] = "moved"
    p = subprocess.run(apply, cwd=d, env=env, capture_output=True, text=True)
    tip = git(repo, "rev-parse", "rust-fixes")
    check(p.returncode == -signal.SIGKILL and state() == "applying" and tip != base,
          "killed after the branch moved: the database does not know yet")
    out = run(pq + ["recover"], cwd=d).stdout
    rows = db.execute("SELECT commit_id FROM application WHERE queue = 'rust-fixes' AND active"
                      " ORDER BY id").fetchall()
    check("found on rust-fixes" in out and state() == "applied" and
          [r[0] for r in rows] == git(repo, "rev-list", "--reverse", base + "..rust-fixes").split(),
          "recover records Message-ID to commit for the commits on the branch")
    out = run(pq + ["recover"], cwd=d).stdout
    p = run(pq + ["apply", str(fix["id"]), "--queue", "rust-fixes"], cwd=d, ok=False)
    check(git(repo, "rev-parse", "rust-fixes") == tip,
          "a second recover and apply change nothing: " + p.stdout.strip()[:80])


def context_changed(patchq, source, work, name):
    """The demo in work/name, and a series on rust-next's notes.txt whose
    context changed on rust-next since (line 13 changed in the series, line
    11 on the branch). Returns (directory, patchq command, queue repository,
    series id, its base-commit, rust-next's tip)."""
    d = os.path.join(work, name)
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    repo = os.path.join(d, "queues.git")
    w = os.path.join(d, "w")
    run(["git", "clone", "-q", "-b", "rust-next", repo, w], cwd=d)
    gw = ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.org"]
    notes = os.path.join(w, "notes.txt")
    with open(notes, "w") as f:
        f.write("".join("line %d\n" % i for i in range(1, 31)))
    run(gw + ["add", "notes.txt"], cwd=w)
    run(gw + ["commit", "-q", "-m", "notes: add"], cwd=w)
    base = run(["git", "rev-parse", "HEAD"], cwd=w).stdout.strip()
    # the series, on base: line 13 changes
    run(["sed", "-i", "s/^line 13$/line thirteen/", "notes.txt"], cwd=w)
    run(gw + ["commit", "-q", "-am", "notes: spell out 13"], cwd=w)
    mail = run(["git", "format-patch", "-1", "--stdout", "--thread", "--base=" + base,
                "--subject-prefix=PATCH rust-next"], cwd=w).stdout
    # meanwhile rust-next changes line 11, inside the patch's context
    run(["git", "reset", "-q", "--hard", base], cwd=w)
    run(["sed", "-i", "s/^line 11$/line eleven/", "notes.txt"], cwd=w)
    run(gw + ["commit", "-q", "-am", "notes: spell out 11"], cwd=w)
    run(["git", "push", "-q", "origin", "HEAD:rust-next"], cwd=w)
    tip = git(repo, "rev-parse", "rust-next")
    run(pq + ["import", "-"], cwd=d, stdin=mail)
    sid = [s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
           if s["name"] == "notes: spell out 13"][0]["id"]
    return d, pq, repo, sid, base, tip


def test_base_commit(patchq, source, work):
    """A series that no longer applies on rust-next but names its
    base-commit: refused, unless useBaseCommit, which applies it there and
    merges it onto the tip."""
    d, pq, repo, sid, base, tip = context_changed(patchq, source, work, "basecommit")
    p = run(pq + ["apply", str(sid), "--queue", "rust-next"], cwd=d, ok=False)
    want = ("[1/1] notes: spell out 13: notes.txt, hunk @@ -10,7 +10,7 @@: "
            "hunk does not match: the context has changed")
    check(p.returncode != 0 and want in p.stdout + p.stderr and
          git(repo, "rev-parse", "rust-next") == tip,
          "without useBaseCommit the series is refused, naming the patch, file and hunk "
          "in plain words: " + (p.stdout + p.stderr).strip()[-160:])
    conf = open(os.path.join(d, "patchq.conf")).read()
    assert conf.count("useBaseCommit = false") == 1  # rust-next's, in the example
    conf = conf.replace("useBaseCommit = false", "useBaseCommit = true")
    open(os.path.join(d, "patchq.conf"), "w").write(conf)
    out = run(pq + ["apply", str(sid), "--queue", "rust-next"], cwd=d).stdout
    check("applied on its base-commit %s" % base[:12] in out, "with it, applied on its base-commit")
    check(git(repo, "rev-parse", "rust-next^1") == tip and
          git(repo, "rev-parse", "rust-next^2^") == base,
          "and merged: the tip and the series are the merge's parents")
    check(git(repo, "show", "rust-next:notes.txt").count("line eleven\nline 12\nline thirteen")
          == 1, "the merge holds both changes")
    check(git(repo, "log", "-1", "--format=%s", "rust-next") ==
          'Merge series "notes: spell out 13" (v1) from Dev <dev@example.org>',
          "the merge commit says which series it brings")
    q = json.loads(run(pq + ["queue", "rust-next", "--json"], cwd=d).stdout)
    check([s["series"] for s in q] == [sid], "rust-next lists the series")


def test_three_way(patchq, source, work):
    """threeWay = true: the series whose context changed is merged as
    git am -3 merges it, and the record says it went in three-way; a real
    conflict still fails, naming the file."""
    d, pq, repo, sid, base, tip = context_changed(patchq, source, work, "threeway")
    conf_path = os.path.join(d, "patchq.conf")
    conf = open(conf_path).read()
    assert conf.count("threeWay = false") == 1
    open(conf_path, "w").write(conf.replace("threeWay = false", "threeWay = true"))
    out = run(pq + ["apply", str(sid), "--queue", "rust-next"], cwd=d).stdout
    check("(three-way merge)" in out, "the report says it went in three-way: " + out.strip())
    check(git(repo, "rev-parse", "rust-next^") == tip,
          "one commit on the tip, no merge commit")
    check(git(repo, "show", "rust-next:notes.txt").count("line eleven\nline 12\nline thirteen")
          == 1, "the file holds both changes")
    db = sqlite3.connect(os.path.join(d, "patchq.db"))
    paths = [r[0] for r in db.execute("SELECT path FROM application WHERE series_id = ?",
                                      (sid,))]
    db.close()
    check(paths == ["three-way"], "the application is recorded as three-way: %s" % paths)


def test_rebuild_and_push(patchq, source, work):
    """rust-dev rebuilt on rust-next: v1 replaced by v2, a rebuild of an
    unchanged queue changes no commit, a series that no longer applies is
    reported and left out; push sends the queues to a bare remote."""
    d = os.path.join(work, "rebuild")
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    repo = os.path.join(d, "queues.git")
    run(pq + ["import", "maildir"], cwd=d)
    series = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
    v1 = [s for s in series if s["version"] == 1 and s["name"] == "rust: time helpers"][0]
    v2 = [s for s in series if s["version"] == 2][0]
    run(pq + ["apply", str(v1["id"]), "--queue", "rust-dev"], cwd=d)
    out = run(pq + ["rebuild", "rust-dev"], cwd=d).stdout
    check("replaced by its newer version %d" % v2["id"] in out, "rebuild replaces v1 by v2")
    q = json.loads(run(pq + ["queue", "rust-dev", "--json"], cwd=d).stdout)
    check([s["series"] for s in q] == [v2["id"]], "rust-dev now holds the v2 only")
    check("checked_mul" in git(repo, "show", "rust-dev:rust/kernel/time.rs"),
          "the v2's code is on rust-dev")
    tip = git(repo, "rev-parse", "rust-dev")
    out = run(pq + ["rebuild", "rust-dev"], cwd=d).stdout
    check("unchanged" in out and git(repo, "rev-parse", "rust-dev") == tip,
          "a rebuild that changes nothing changes no commit id")

    remote = os.path.join(d, "remote.git")
    run(["git", "init", "-q", "--bare", remote], cwd=d)
    run(pq + ["push", remote], cwd=d)
    check(git(remote, "rev-parse", "rust-dev") == tip and
          git(remote, "rev-parse", "rust-next") == git(repo, "rev-parse", "rust-next"),
          "push sends the queue branches")

    # rust-next takes the v2: rebuilding rust-dev on it, the v2 conflicts
    run(pq + ["apply", str(v2["id"]), "--queue", "rust-next"], cwd=d)
    p = run(pq + ["rebuild", "rust-dev"], cwd=d, ok=False)
    out = p.stdout
    check("no longer applies" in out and p.returncode == 1,
          "a series that no longer applies is reported, and rebuild exits 1")
    check(git(repo, "rev-parse", "rust-dev") == git(repo, "rev-parse", "rust-next"),
          "and left out: rust-dev is rust-next again")
    run(pq + ["push", remote], cwd=d)
    check(git(remote, "rev-parse", "rust-dev") == git(repo, "rev-parse", "rust-dev"),
          "a rebuilt queue is pushed although it was rewritten")


def test_triage(patchq, source, work):
    """The rules queue every complete new series; rust-dev takes the
    reviewed v2 at once, the fix waits for approval, the RFC is left."""
    d = os.path.join(work, "triage")
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    run(pq + ["import", "maildir"], cwd=d)
    out = run(pq + ["triage"], cwd=d).stdout
    series = {s["name"]: s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
              if s["state"] != "superseded"}
    check(series["rust: time helpers"]["state"] == "applied", "triage applies the v2 to rust-dev")
    check(series["rust: str: count bytes in len()"]["state"] == "queued" and
          "queued for rust-fixes (rule fixes-tag), waits for approval" in out,
          "triage queues the fix for approval")
    check(series["rust: add a sleep stub"]["state"] == "new" and "no rule matches" in out,
          "triage leaves the RFC to a maintainer")
    q = json.loads(run(pq + ["queue", "rust-dev", "--json"], cwd=d).stdout)
    check([s["series"] for s in q] == [series["rust: time helpers"]["id"]],
          "rust-dev holds the triaged series")
    out = run(pq + ["triage"], cwd=d).stdout
    check("rust-dev" not in out, "a second triage does not apply anything again")
    check("no rule matches" not in out,
          "a second triage does not look again at a series nothing arrived for")
    new = os.path.join(d, "maildir", "new")
    rfc = [open(os.path.join(new, f)).read() for f in sorted(os.listdir(new))]
    rfc = [m for m in rfc if "Subject: [RFC PATCH] rust: add a sleep stub" in m][0]
    msgid = re.search(r"^Message-ID: (<[^>]+>)", rfc, re.M | re.I).group(1)
    reply = ("From: Reviewer <rev@example.org>\nTo: rust-for-linux@vger.kernel.org\n"
             "Subject: Re: [RFC PATCH] rust: add a sleep stub\n"
             "Date: Thu, 2 Jan 2025 10:00:00 +0000\nMessage-ID: <rfc-review@example.org>\n"
             "In-Reply-To: %s\nReferences: %s\n\nLooks fine.\n\n"
             "Reviewed-by: Reviewer <rev@example.org>\n" % (msgid, msgid))
    run(pq + ["import", "-"], cwd=d, stdin=reply)
    out = run(pq + ["triage"], cwd=d).stdout
    check("series %d: no rule matches" % series["rust: add a sleep stub"]["id"] in out,
          "a reply in its thread makes triage look at the series again")


def test_approve_waits_for_missing_patches(patchq, source, work):
    d = os.path.join(work, "approve")
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    new = os.path.join(d, "maildir", "new")
    late = sorted(f for f in os.listdir(new)
                  if "Message-ID: <demo-time-v2-3@" in open(os.path.join(new, f)).read())[0]
    os.rename(os.path.join(new, late), os.path.join(d, late))
    run(pq + ["import", "maildir"], cwd=d)
    v2 = [s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
          if s["version"] == 2][0]
    check(not v2["complete"], "the v2 lacks its third patch")
    repo = os.path.join(d, "queues.git")
    before = git(repo, "rev-parse", "rust-next")
    out = run(pq + ["approve", str(v2["id"]), "--queue", "rust-next"], cwd=d).stdout
    check("approval recorded" in out and git(repo, "rev-parse", "rust-next") == before,
          "approving an incomplete series records the approval and applies nothing")
    run(pq + ["import", "-"], cwd=d, stdin=open(os.path.join(d, late)).read())
    out = run(pq + ["triage"], cwd=d).stdout
    check("approved for rust-next and now complete" in out and
          git(repo, "rev-list", "--count", before + "..rust-next") == "3",
          "once the missing patch arrives, triage applies the approved series")


def test_fixes_in(patchq, source, work):
    """fixesIn: a fix for a commit already on a queue is told apart."""
    d = os.path.join(work, "fixesin")
    os.mkdir(d)
    setup_demo(source, d)
    repo = os.path.join(d, "queues.git")
    # a commit that is on no queue branch
    other = git(repo, "commit-tree", "-m", "elsewhere", git(repo, "rev-parse", "rust-next^{tree}"))
    with open(os.path.join(d, "f.conf"), "w") as f:
        f.write("[patchq]\n\tdatabase = f.db\n\trepository = queues.git\n"
                "\tcommitter = T <t@example.org>\n"
                '[queue "rust-next"]\n\tbranch = rust-next\n'
                '[queue "side"]\n\tbranch = side\n'
                '[rule "fix-side"]\n\tqueue = side\n\tfixesIn = side\n'
                '[rule "fix-next"]\n\tqueue = rust-next\n\tfixesIn = rust-next\n')
    git(repo, "update-ref", "refs/heads/side", other)
    pq = [patchq, "-c", "f.conf"]
    run(pq + ["import", "maildir"], cwd=d)
    fix = [s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
           if "count bytes" in (s["name"] or "")][0]
    out = run(pq + ["why", str(fix["id"])], cwd=d).stdout
    check('rule "fix-side" (f.conf:9): fixes no commit on side' in out,
          "fixesIn: the fixed commit is not on that queue")
    check('rule "fix-next" (f.conf:12): matches' in out and "=> queue rust-next" in out,
          "fixesIn: the fixed commit is on rust-next, so the fix goes there")


def test_trailer_from_another_address(patchq, source, work):
    """The demo's Acked-by for dave@elsewhere.example, sent from
    dave@example.org: held back, listed with an id, taken by `trailer
    accept` (who and when recorded and shown), or by an [alias]."""
    d = os.path.join(work, "accept")
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    run(pq + ["import", "maildir"], cwd=d)
    v1 = [s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
          if s["name"] == "rust: time helpers" and s["version"] == 1][0]
    sid = str(v1["id"])
    text = run(pq + ["show", sid], cwd=d).stdout
    m = re.search(r"\? \(sender differs, (\d+\.\d+)\) Acked-by: Dave Someone "
                  r"<dave@elsewhere\.example>", text)
    check(m is not None, "show lists the held-back trailer with its id:\n" + text)
    if not m:
        return
    p = run(pq + ["trailer", "accept", sid, "1.0"], cwd=d, ok=False)
    check(p.returncode == 1 and "held back" in p.stderr, "a wrong id is refused: " + p.stderr)
    out = run(pq + ["trailer", "accept", sid, m.group(1)], cwd=d).stdout
    check("accepted Acked-by: Dave Someone <dave@elsewhere.example>" in out,
          "trailer accept takes it: " + out)
    text = run(pq + ["show", sid], cwd=d).stdout
    check(re.search(r"\+ Acked-by: Dave Someone <dave@elsewhere\.example>  \(accepted by Test "
                    r"Maint <maint@example\.org> on \d{4}-\d\d-\d\d \d\d:\d\d UTC\)", text)
          is not None and "sender differs" not in text,
          "show says who accepted it and when:\n" + text)
    js = json.loads(run(pq + ["show", sid, "--json"], cwd=d).stdout)
    p1 = [p for p in js["patches"] if p["index"] == 1][0]
    check([c.get("counts_because", "")[:29] for c in p1["collected"]
           if c["name"] == "Acked-by"] == ["accepted by Test Maint <maint"] and
          p1["mismatched"] == [], "and so does --json")
    mbox = run(pq + ["am", sid], cwd=d).stdout
    check("Acked-by: Dave Someone <dave@elsewhere.example>" in mbox, "am adds it")
    p = run(pq + ["trailer", "accept", sid, m.group(1)], cwd=d, ok=False)
    check(p.returncode == 1, "accepting it twice is refused")

    # the alias table: the same without anyone's word, on a fresh database
    with open(os.path.join(d, "patchq.conf"), "a") as f:
        f.write('[alias "Dave Someone"]\n\taddress = dave@example.org\n'
                "\taddress = Dave@Elsewhere.example\n")
    os.unlink(os.path.join(d, "patchq.db"))
    run(pq + ["import", "maildir"], cwd=d)
    text = run(pq + ["show", sid], cwd=d).stdout
    check("+ Acked-by: Dave Someone <dave@elsewhere.example>  (alias Dave Someone)" in text and
          "sender differs" not in text, "an [alias] makes it count:\n" + text)
    text = run([patchq, "--db", "patchq.db", "show", sid], cwd=d).stdout
    check("? (sender differs" in text, "without the configuration it is held back")


def test_todo_and_listing(patchq, source, work):
    """`patchq todo` and the series listing after a triage: what waits
    where, filters, and pages that neither overlap nor skip."""
    d = os.path.join(work, "todo")
    os.mkdir(d)
    setup_demo(source, d)
    pq = [patchq, "-c", "patchq.conf"]
    run(pq + ["import", "maildir"], cwd=d)
    run(pq + ["triage"], cwd=d)
    every = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
    byname = {s["name"]: s for s in every if s["state"] != "superseded"}
    fix = byname["rust: str: count bytes in len()"]
    dev = byname["rust: time helpers"]
    check([q["queue"] for q in fix["queues"]] == ["rust-fixes"] and
          fix["queues"][0]["state"] == "queued", "series says for which queue it is queued")

    todo = json.loads(run(pq + ["todo", "--json"], cwd=d).stdout)
    queues = [q["queue"] for q in todo["queues"]]
    check(queues[:1] == ["rust-next"] and "rust-fixes" in queues and "rust-dev" in queues,
          "the to-do has every queue, in the configuration's order: %s" % queues)
    fixes = [q for q in todo["queues"] if q["queue"] == "rust-fixes"][0]
    check([(w["series"], w["rule"]) for w in fixes["waiting"]] == [(fix["id"], "fixes-tag")],
          "the fix waits on rust-fixes, sent by the rule fixes-tag: %s" % fixes["waiting"])
    check(fixes["waiting"][0]["applies"] is True, "with its dry run: it applies")
    check(all(k in fixes for k in ("new_versions", "late_trailers", "stopped_applying",
                                    "dropped")) and todo["replies"] == [],
          "every section is there; no reply waits (rust-fixes was chosen, nothing failed)")
    text = run(pq + ["todo"], cwd=d).stdout
    check("rust-fixes\n  waiting for approval (1):\n" in text and fix["name"] in text,
          "patchq todo prints the same:\n" + text)
    text = run(pq + ["queue", "rust-fixes"], cwd=d).stdout
    check("waiting for approval on rust-fixes (1):" in text and fix["name"] in text,
          "queue rust-fixes shows what waits there:\n" + text)

    # filters
    only = json.loads(run(pq + ["series", "--json", "--queue", "rust-dev"], cwd=d).stdout)
    check([s["id"] for s in only] == [dev["id"]], "--queue rust-dev lists the v2 only")
    only = json.loads(run(pq + ["series", "--json", "--queue", "rust-fixes", "--state",
                                "queued"], cwd=d).stdout)
    check([s["id"] for s in only] == [fix["id"]], "--queue and --state: the state there")
    only = json.loads(run(pq + ["series", "--json", "--search", "COUNT BYTES"], cwd=d).stdout)
    check([s["id"] for s in only] == [fix["id"]], "--search is case-insensitive")
    only = json.loads(run(pq + ["series", "--json", "--since", "2100-01-01"], cwd=d).stdout)
    check(only == [], "--since a future day lists nothing")
    p = run(pq + ["series", "--state", "pending"], cwd=d, ok=False)
    check(p.returncode == 1 and "no series state" in p.stderr, "an unknown state is refused")
    p = run(pq + ["series", "--limit", "0"], cwd=d, ok=False)
    check(p.returncode == 2, "--limit 0 is a usage error")

    # pages of two, newest first, through all of them
    ids, after, pages = [], None, 0
    while pages < 50:
        args = ["series", "--json", "--limit", "2"] + (["--after", str(after)] if after else [])
        page = json.loads(run(pq + args, cwd=d).stdout)
        check(set(page) == {"items", "next"} and 1 <= len(page["items"]) <= 2,
              "a page is {items, next}: %s" % list(page))
        ids += [s["id"] for s in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
        check(after == page["items"][-1]["id"], "next is the last id shown")
    want = sorted((s["id"] for s in every), reverse=True)
    check(ids == want, "the pages list every series once, newest first: %s vs %s" % (ids, want))
    check(pages == (len(want) + 1) // 2, "in %d pages" % pages)
    # the same with a filter, through the CLI's text form
    first = run(pq + ["series", "--limit", "1"], cwd=d).stdout
    check(re.search(r"^next: --after \d+$", first, re.M) is not None,
          "the text form says how to go on:\n" + first)
    # a maintainer takes the other series for rust-next by hand (applied or failed
    # there); the superseded v1 and the RFC only with --force
    for s in every:
        if not s["queues"]:
            run(pq + ["approve", str(s["id"]), "--queue", "rust-next", "--force"], cwd=d,
                ok=False)
    every = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
    seen, after = [], None
    for _ in range(50):
        args = ["series", "--json", "--queue", "rust-next", "--limit", "2"]
        page = json.loads(run(pq + args + (["--after", str(after)] if after else []),
                              cwd=d).stdout)
        seen += [s["id"] for s in page["items"]]
        after = page["next"]
        if after is None:
            break
    nxt = sorted((s["id"] for s in every if any(q["queue"] == "rust-next" for q in s["queues"])),
                 reverse=True)
    check(len(nxt) >= 3 and seen == nxt,
          "--queue rust-next --limit 2 --after ...: %s, expected %s" % (seen, nxt))


def test_b4_case(patchq, corpus, work):
    b4 = os.path.join(corpus, "b4")
    if not os.path.exists(os.path.join(b4, "gitdir.bundle")):
        print("skip b4 apply case: corpus absent")
        return
    d = os.path.join(work, "b4")
    os.mkdir(d)
    run(["git", "clone", "-q", "--bare", os.path.join(b4, "gitdir.bundle"), "repo.git"], cwd=d)
    with open(os.path.join(d, "c.conf"), "w") as f:
        f.write("[patchq]\n\tdatabase = db\n\trepository = repo.git\n"
                "\tcommitter = Test Override <test-override@example.com>\n\tsignoff = false\n"
                "\tlink = https://patch.msgid.link/%s\n"
                '[queue "q"]\n\tbranch = master\n')
    pq = [patchq, "-c", "c.conf"]
    run(pq + ["import", os.path.join(b4, "shazam-git1-just-series.mbox")], cwd=d)
    run(pq + ["apply", "1", "--queue", "q"], cwd=d)
    repo = os.path.join(d, "repo.git")
    check(git(repo, "rev-parse", "master^{tree}") == "f0469aa5d9b93a873c000c13dc17b1edf7fe0fb4",
          "b4 shazam series on gitdir master gives tree f0469aa5")
    log = git(repo, "log", "--format=%ae%n%ce%n%s%n%b---", "master~4..master")
    want = open(os.path.join(b4, "shazam-git1-just-series-addlink.verify")).read().strip()
    check(log.strip() == want, "git log matches b4's --add-link verify text")
    # the reply: the outbox holds it, composed in the application's transaction
    box = json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)
    check(len(box) == 1 and box[0]["kind"] == "applied" and box[0]["state"] == "pending",
          "the application put one reply in the outbox")
    text = run(pq + ["outbox", "preview", "1"], cwd=d).stdout
    commits = git(repo, "rev-list", "--reverse", "master~4..master").split()
    check(all("commit: " + c[:12] in text for c in commits) and text.count("commit: ") == 4,
          "the reply names the four commits the queue holds")
    check("Applied to q, thanks!" in text and re.search(r"^In-Reply-To: <", text, re.M) and
          re.search(r"^Subject: Re: \[PATCH", text, re.M),
          "and answers the series in the default words")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--corpus", default="")
    a = ap.parse_args()
    a.patchq = os.path.abspath(a.patchq)
    a.source = os.path.abspath(a.source)
    if not shutil.which("git"):
        print("git is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-queue-")
    try:
        setup_demo(a.source, work)
        pq = [a.patchq, "-c", "patchq.conf"]
        sid = test_demo_flow(pq, work)[0]
        test_conflict(pq, work, sid)
        test_crash_recovery(a.patchq, a.source, work)
        test_base_commit(a.patchq, a.source, work)
        test_three_way(a.patchq, a.source, work)
        test_rebuild_and_push(a.patchq, a.source, work)
        test_triage(a.patchq, a.source, work)
        test_approve_waits_for_missing_patches(a.patchq, a.source, work)
        test_fixes_in(a.patchq, a.source, work)
        test_trailer_from_another_address(a.patchq, a.source, work)
        test_todo_and_listing(a.patchq, a.source, work)
        if a.corpus:
            test_b4_case(a.patchq, a.corpus, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
