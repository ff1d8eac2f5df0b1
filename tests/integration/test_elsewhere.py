#!/usr/bin/env python3
"""Issue 12's routing and truth, end to end on the demo (repositories and
mail the test makes): a series another tree's maintainer says he applied
is left to that tree; a change of [elsewhere] has the replies read again
(a section added later finds the older replies, a removed one takes its
marks and triage decides on the series again, a renamed tree moves the
mark, an unchanged one reads nothing twice); automatic intake waits while
the merge window is open and goes on when it closes; approve asks for
--force on a superseded, RFC or taken series; a rebuild that drops a
series says so in the states, its exit status and its JSON; import -q is
quiet.

usage: test_elsewhere.py --patchq PATH --source DIR
"""
import argparse
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
from checks import check, failures  # noqa: E402
from test_queue import git, run, setup_demo  # noqa: E402

KBUILD = ('\n[elsewhere "kbuild"]\n'
          '\tfrom = masahiroy@kernel.org nathan@kernel.org\n'
          '\ttree = linux-kbuild\n')


def tip(repo, branch):
    """The branch's commit, or "" while it does not exist."""
    return run(["git", "--git-dir=" + repo, "rev-parse", "-q", "--verify", branch],
               cwd=os.path.dirname(repo), ok=False).stdout.strip()


def reply(sender, msgid, to, subject, body):
    return ("From: %s\nTo: rust-for-linux@vger.example.org\nSubject: Re: %s\n"
            "Date: Wed, 11 Nov 2026 09:00:00 +0000\nMessage-ID: <%s>\n"
            "In-Reply-To: <%s>\nReferences: <%s>\n\n%s" % (sender, subject, msgid, to, to, body))


def demo(patchq, source, work, name, extra_conf="", edit=None):
    d = os.path.join(work, name)
    os.mkdir(d)
    setup_demo(source, d)
    conf = open(os.path.join(d, "patchq.conf")).read()
    # the example's own [elsewhere] sections: this test says what it needs
    conf = re.sub(r'^\[elsewhere "[^"]*"\]\n(\t[^\n]*\n)*', "", conf, flags=re.M)
    assert "[elsewhere" not in conf
    if edit:
        conf = edit(conf)
    with open(os.path.join(d, "patchq.conf"), "w") as f:
        f.write(conf + extra_conf)
    return d, [patchq, "-c", "patchq.conf"], os.path.join(d, "queues.git")


def series_by_name(pq, d):
    return {(s["name"], s["version"]): s
            for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)}


def test_taken_elsewhere(patchq, source, work):
    d, pq, repo = demo(patchq, source, work, "elsewhere", KBUILD)
    p = run(pq + ["import", "-q", "maildir"], cwd=d)
    check(p.stdout == "" and p.returncode == 0, "import -q prints nothing on success: %r"
          % p.stdout[:80])
    # the v2 (rust-dev would take it at once): kbuild's maintainer applied it
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Nathan Chancellor <nathan@kernel.org>", "kb-1@kernel.org", "demo-time-v2-0@example.org",
        "[PATCH v2 0/3] rust: time helpers",
        "On Tue, 10 Nov 2026, Alice wrote:\n> Applied to rust-next please\n\n"
        "Applied to linux-kbuild, thanks!\n"))
    # the fix: someone who is no kbuild maintainer, kbuild only quoting,
    # and our own maintainer
    fix = "demo-fix-0@example.org"
    subj = "[PATCH rust-fixes] rust: str: count bytes in len()"
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Random <random@example.org>", "r-1@example.org", fix, subj,
        "Applied to linux-kbuild, thanks!\n"))
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Masahiro Yamada <masahiroy@kernel.org>", "kb-2@kernel.org", fix, subj,
        "On Tue, Random wrote:\n> Applied to linux-kbuild, thanks!\n\nNo, it was not.\n"))
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Test Maint <maint@example.org>", "m-1@example.org", fix, subj,
        "Applied to rust-next, thanks everyone!\n"))
    # the RFC: b4's "ty" shape, a bare "Applied" (the tree from the configuration)
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Masahiro Yamada <masahiroy@kernel.org>", "kb-3@kernel.org", "demo-rfc-0@example.org",
        "[RFC PATCH] rust: add a sleep stub",
        "On Sun, 08 Nov 2026 10:00:00 +0000, Alice Rustacean wrote:\n"
        "> Only to discuss the API; not for merging.\n\n"
        "Applied, thanks!\n\n[1/1] rust: add a sleep stub\n"
        "      commit: 0123456789abcdef\n\nBest regards,\n-- \nMasahiro Yamada\n"))

    before_dev = tip(repo, "rust-dev")
    out = run(pq + ["triage"], cwd=d).stdout
    s = series_by_name(pq, d)
    v2 = s[("rust: time helpers", 2)]
    fixs = s[("rust: str: count bytes in len()", 1)]
    rfc = s[("rust: add a sleep stub", 1)]
    want = "taken elsewhere: linux-kbuild (by nathan@kernel.org in <kb-1@kernel.org>)"
    check(("series %d: %s, left to that tree" % (v2["id"], want)) in out,
          "triage leaves the taken series to kbuild: " + out)
    check(v2["state"] == "new" and tip(repo, "rust-dev") == before_dev,
          "no rule takes it: not queued, not applied")
    why = run(pq + ["why", str(v2["id"])], cwd=d).stdout
    check(why.startswith(want) and "=> taken elsewhere" in why, "why says where it went: " + why)
    show = json.loads(run(pq + ["show", str(v2["id"]), "--json"], cwd=d).stdout)
    check(show["taken_elsewhere"] == {"tree": "linux-kbuild", "by": "nathan@kernel.org",
                                      "msgid": "kb-1@kernel.org"},
          "show --json says where it went: %r" % show.get("taken_elsewhere"))
    check(want in run(pq + ["show", str(v2["id"])], cwd=d).stdout, "and show's text too")
    j = json.loads(run(pq + ["why", str(v2["id"]), "--json"], cwd=d).stdout)
    check(j["queues"] == [] and j["taken_elsewhere"] == "linux-kbuild" and j["held"] is None
          and j["rules"] and all(set(r) == {"rule", "matches", "reason"} for r in j["rules"]),
          "why --json: no queue, taken by linux-kbuild, every rule: %r" % j)

    why = run(pq + ["why", str(fixs["id"])], cwd=d).stdout
    check("taken elsewhere" not in why and "=> queue rust-fixes" in why and
          fixs["state"] == "queued",
          "a non-maintainer's, a quoted and our own \"Applied to\" take nothing: " + why)
    j = json.loads(run(pq + ["why", str(fixs["id"]), "--json"], cwd=d).stdout)
    matched = [r["rule"] for r in j["rules"] if r["matches"]]
    check([q["queue"] for q in j["queues"]] == ["rust-fixes"] and j["taken_elsewhere"] is None
          and j["queues"][0]["rule"] in matched and j["queues"][0]["automatic"] is False and
          all(r["reason"] for r in j["rules"]),
          "why --json: rust-fixes by a rule that matches, waiting for approval: %r" % j)
    check(json.loads(run(pq + ["show", str(fixs["id"]), "--json"], cwd=d).stdout)
          ["taken_elsewhere"] is None, "show --json: taken_elsewhere null")
    check("taken elsewhere: linux-kbuild (by masahiroy@kernel.org in <kb-3@kernel.org>)"
          in run(pq + ["why", str(rfc["id"])], cwd=d).stdout,
          "b4's bare \"Applied, thanks!\" from a kbuild maintainer: the configured tree")

    # a later reply takes a series waiting for approval: the to-do says so
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Nathan Chancellor <nathan@kernel.org>", "kb-4@kernel.org", fix, subj,
        "Applied to kbuild-fixes.\n"))
    run(pq + ["triage"], cwd=d)
    todo = json.loads(run(pq + ["todo", "--json"], cwd=d).stdout)
    waiting = [w for q in todo["queues"] if q["queue"] == "rust-fixes" for w in q["waiting"]]
    check([w["taken_elsewhere"] for w in waiting] == ["kbuild-fixes (by nathan@kernel.org)"],
          "the to-do shows where a waiting series went: %r" % waiting)

    # approve: refused without --force, saying why; forced, recorded so
    p = run(pq + ["approve", str(fixs["id"]), "--queue", "rust-fixes"], cwd=d, ok=False)
    check(p.returncode == 1 and "taken elsewhere: kbuild-fixes" in p.stderr and
          "--force" in p.stderr, "approve refuses a taken series: " + p.stderr)
    p = run(pq + ["approve", str(rfc["id"]), "--queue", "rust-dev"], cwd=d, ok=False)
    check(p.returncode == 1 and "is an RFC" in p.stderr and "--force" in p.stderr,
          "approve refuses an RFC: " + p.stderr)
    v1 = s[("rust: time helpers", 1)]
    p = run(pq + ["approve", str(v1["id"]), "--queue", "rust-next"], cwd=d, ok=False)
    check(p.returncode == 1 and "superseded by its newer version, series %d" % v2["id"]
          in p.stderr, "approve refuses a superseded series: " + p.stderr)
    before = tip(repo, "rust-fixes")
    p = run(pq + ["approve", str(fixs["id"]), "--queue", "rust-fixes", "--force"], cwd=d)
    check("approving anyway (--force)" in p.stdout and
          tip(repo, "rust-fixes") != before, "--force approves it: " + p.stdout)
    db = sqlite3.connect(os.path.join(d, "patchq.db"))
    row = db.execute("SELECT what, reason FROM action WHERE series_id = ? ORDER BY id DESC",
                     (fixs["id"],)).fetchone()
    db.close()
    check(row[0] == "approve" and row[1].startswith("forced: ") and "kbuild-fixes" in row[1],
          "the action says it was forced: %r" % (row,))


NET = '\n[elsewhere "net"]\n\tfrom = kuba@kernel.org\n'


def write_conf(d, text):
    with open(os.path.join(d, "patchq.conf"), "w") as f:
        f.write(text)


def mark(d):
    """The [elsewhere] mark: (last reply read, configuration fingerprint)."""
    db = sqlite3.connect(os.path.join(d, "patchq.db"))
    row = db.execute("SELECT seen, config FROM elsewhere_mark WHERE id = 1").fetchone()
    db.close()
    return row


def db_do(d, sql, *args):
    db = sqlite3.connect(os.path.join(d, "patchq.db"))
    with db:
        rows = db.execute(sql, args).fetchall()
    db.close()
    return rows


def test_config_change(patchq, source, work):
    d, pq, repo = demo(patchq, source, work, "config-change", NET)
    base = open(os.path.join(d, "patchq.conf")).read()
    run(pq + ["import", "-q", "maildir"], cwd=d)
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Nathan Chancellor <nathan@kernel.org>", "kb-1@kernel.org", "demo-time-v2-0@example.org",
        "[PATCH v2 0/3] rust: time helpers", "Applied to linux-kbuild, thanks!\n"))
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Masahiro Yamada <masahiroy@kernel.org>", "kb-3@kernel.org", "demo-rfc-0@example.org",
        "[RFC PATCH] rust: add a sleep stub", "Applied, thanks!\n"))
    s = series_by_name(pq, d)
    v2, rfc = s[("rust: time helpers", 2)], s[("rust: add a sleep stub", 1)]
    last = db_do(d, "SELECT max(id) FROM message WHERE kind = 'reply'")[0][0]
    # read under [elsewhere "net"] alone (why reads the new replies too)
    why = run(pq + ["why", str(v2["id"])], cwd=d).stdout
    check("taken elsewhere" not in why and mark(d)[0] == last,
          "read without kbuild: nothing taken, the mark past both replies: %r %s" % (mark(d), why))
    before_dev = tip(repo, "rust-dev")

    # (a) kbuild added: the next pass finds the replies stored before it
    write_conf(d, base + KBUILD)
    out = run(pq + ["triage"], cwd=d).stdout
    want = "taken elsewhere: linux-kbuild (by nathan@kernel.org in <kb-1@kernel.org>)"
    check("[elsewhere] changed since the replies were read: reading them again" in out and
          "reply <kb-1@kernel.org>: nathan@kernel.org says it was applied to linux-kbuild" in out
          and ("series %d: %s, left to that tree" % (v2["id"], want)) in out,
          "a section added later finds the older replies: " + out)
    check(run(pq + ["why", str(v2["id"])], cwd=d).stdout.startswith(want) and
          tip(repo, "rust-dev") == before_dev, "why names kbuild; rust-dev did not take it")
    check("taken elsewhere: linux-kbuild (by masahiroy@kernel.org in <kb-3@kernel.org>)" in
          run(pq + ["why", str(rfc["id"])], cwd=d).stdout, "the bare reply: the section's tree")
    after = mark(d)
    check(after[0] == last and after[1] and len(after[1]) == 64,
          "the mark: the last reply, and the configuration's fingerprint: %r" % (after,))

    # (d) unchanged: a pass reads nothing old again. A record removed behind
    # patchq's back stays removed, so kb-1 was not read again
    db_do(d, "DELETE FROM elsewhere_reply WHERE message_id ="
          " (SELECT id FROM message WHERE msgid = 'kb-1@kernel.org')")
    out = run(pq + ["triage"], cwd=d).stdout
    check("reading them again" not in out and "kb-1" not in out and mark(d) == after and
          "taken elsewhere" not in run(pq + ["why", str(v2["id"])], cwd=d).stdout,
          "the same configuration reads nothing old again: %r %s" % (mark(d), out))
    # a database from before the fingerprint was kept: read again once
    db_do(d, "UPDATE elsewhere_mark SET config = NULL")
    out = run(pq + ["triage"], cwd=d).stdout
    check("reading them again" in out and mark(d) == after and
          run(pq + ["why", str(v2["id"])], cwd=d).stdout.startswith(want),
          "no fingerprint recorded: the replies are read again, kb-1 found: " + out)

    # (c) the tree renamed: the bare reply's mark moves, the named one stays
    write_conf(d, base + KBUILD.replace("linux-kbuild", "kbuild-next"))
    out = run(pq + ["triage"], cwd=d).stdout
    check("reply <kb-3@kernel.org>: masahiroy@kernel.org: applied to kbuild-next, no longer "
          "linux-kbuild" in out, "triage says the mark moved: " + out)
    check("taken elsewhere: kbuild-next (by masahiroy@kernel.org in <kb-3@kernel.org>)" in
          run(pq + ["why", str(rfc["id"])], cwd=d).stdout and
          run(pq + ["why", str(v2["id"])], cwd=d).stdout.startswith(want),
          "why: the RFC went to kbuild-next, the v2 still to linux-kbuild")
    check(json.loads(run(pq + ["show", str(rfc["id"]), "--json"], cwd=d).stdout)
          ["taken_elsewhere"]["tree"] == "kbuild-next", "show --json: the new tree")

    # (b) kbuild removed: the marks go, and triage decides on the v2 again
    write_conf(d, base)
    why = run(pq + ["why", str(v2["id"])], cwd=d).stdout
    check("taken elsewhere" not in why and "linux-kbuild" not in why and
          "=> queue rust-dev" in why, "why no longer names the other tree: " + why)
    check(json.loads(run(pq + ["show", str(rfc["id"]), "--json"], cwd=d).stdout)
          ["taken_elsewhere"] is None, "show --json: the RFC's mark is gone too")
    check(db_do(d, "SELECT count(*) FROM elsewhere_reply")[0][0] == 0, "no mark is left")
    out = run(pq + ["triage"], cwd=d).stdout
    on = {q["queue"]: q for q in json.loads(
        run(pq + ["show", str(v2["id"]), "--json"], cwd=d).stdout)["queues"]}
    check(("series %d: queued for rust-dev" % v2["id"]) in out and
          on.get("rust-dev", {}).get("state") == "applied" and tip(repo, "rust-dev") != before_dev,
          "no longer taken: triage looks at it again, rust-dev takes it: " + out)


def test_merge_window(patchq, source, work):
    d, pq, repo = demo(patchq, source, work, "window", edit=lambda c: c.replace(
        '[queue "rust-dev"]\n', '[queue "rust-dev"]\n\tholdInMergeWindow = true\n', 1))
    run(pq + ["import", "-q", "maildir"], cwd=d)
    git(repo, "tag", "v6.11", "rust-next")
    git(repo, "tag", "v6.12-rc1", "rust-next")
    git(repo, "tag", "v6.12", "rust-next")
    git(repo, "tag", "v6.12.1", "rust-next")
    before_dev = tip(repo, "rust-dev")
    v2 = series_by_name(pq, d)[("rust: time helpers", 2)]
    why = run(pq + ["why", str(v2["id"])], cwd=d).stdout
    held = "held: merge window open (v6.12 tagged, no v6.13-rc1 yet)"
    check(held in why, "why says the queue is held: " + why)
    j = json.loads(run(pq + ["why", str(v2["id"]), "--json"], cwd=d).stdout)
    check(j["held"] == held[len("held: "):] and
          {"queue": "rust-dev", "rule": j["queues"][0]["rule"], "automatic": True}
          in j["queues"], "why --json: held, and rust-dev automatic: %r" % j)
    out = run(pq + ["triage"], cwd=d).stdout
    s = json.loads(run(pq + ["show", str(v2["id"]), "--json"], cwd=d).stdout)
    on = {q["queue"]: q for q in s["queues"]}
    check(held in out and on["rust-dev"]["state"] == "queued" and
          on["rust-dev"]["held"] == held and tip(repo, "rust-dev") == before_dev,
          "triage queues it held, not applied: " + out)
    out = run(pq + ["triage"], cwd=d).stdout
    check(tip(repo, "rust-dev") == before_dev, "still held at the next pass")
    # a tag that is no rc1 of the next release closes nothing
    git(repo, "tag", "v6.14-rc1", "rust-next")
    run(pq + ["triage"], cwd=d)
    check(tip(repo, "rust-dev") == before_dev, "v6.14-rc1 does not end v6.12's window")
    git(repo, "tag", "-d", "v6.14-rc1")
    git(repo, "tag", "v6.13-rc1", "rust-next")
    out = run(pq + ["triage"], cwd=d).stdout
    s = json.loads(run(pq + ["show", str(v2["id"]), "--json"], cwd=d).stdout)
    on = {q["queue"]: q for q in s["queues"]}
    check("no longer held on rust-dev, applying" in out and on["rust-dev"]["state"] == "applied"
          and on["rust-dev"]["held"] is None and tip(repo, "rust-dev") != before_dev,
          "v6.13-rc1 tagged: the next pass applies it: " + out)


def test_held_then_taken(patchq, source, work):
    """A series held in the merge window that another tree takes meanwhile
    is not applied when the window closes: it waits for a maintainer."""
    d, pq, repo = demo(patchq, source, work, "window-taken", KBUILD, edit=lambda c: c.replace(
        '[queue "rust-dev"]\n', '[queue "rust-dev"]\n\tholdInMergeWindow = true\n', 1))
    run(pq + ["import", "-q", "maildir"], cwd=d)
    git(repo, "tag", "v6.12", "rust-next")
    run(pq + ["triage"], cwd=d)
    before_dev = tip(repo, "rust-dev")
    run(pq + ["import", "-q", "-"], cwd=d, stdin=reply(
        "Nathan Chancellor <nathan@kernel.org>", "kb-9@kernel.org", "demo-time-v2-2@example.org",
        "[PATCH v2 2/3] rust: time: add ms_to_ns()", "Applied to kbuild-next, thanks!\n"))
    git(repo, "tag", "v6.13-rc1", "rust-next")
    out = run(pq + ["triage"], cwd=d).stdout
    v2 = series_by_name(pq, d)[("rust: time helpers", 2)]
    on = {q["queue"]: q for q in json.loads(
        run(pq + ["show", str(v2["id"]), "--json"], cwd=d).stdout)["queues"]}
    check("no longer held on rust-dev, but taken elsewhere: kbuild-next" in out and
          on["rust-dev"]["state"] == "queued" and on["rust-dev"]["held"] is None and
          tip(repo, "rust-dev") == before_dev,
          "held, then taken: left to a maintainer when the window closes: " + out)
    out = run(pq + ["triage"], cwd=d).stdout
    check("no longer held" not in out, "and said once")


def test_rebuild_truth(patchq, source, work):
    d, pq, repo = demo(patchq, source, work, "rebuild",
                       edit=lambda conf: conf.replace("\tdropNotice = false\n",
                                                      "\tdropNotice = true\n", 1))
    run(pq + ["import", "-q", "maildir"], cwd=d)
    s = series_by_name(pq, d)
    v1, v2 = s[("rust: time helpers", 1)], s[("rust: time helpers", 2)]
    run(pq + ["apply", str(v1["id"]), "--queue", "rust-dev"], cwd=d)
    p = run(pq + ["rebuild", "rust-dev", "--json"], cwd=d)
    j = json.loads(p.stdout)
    check(p.returncode == 0 and j["queue"] == "rust-dev" and j["dropped"] == [] and
          j["kept"] == 1 and j["tip"] == tip(repo, "rust-dev") and
          "replaced by its newer version" in j["report"], "rebuild --json: %r" % j)
    show = json.loads(run(pq + ["show", str(v1["id"]), "--json"], cwd=d).stdout)
    on = {q["queue"]: q for q in show["queues"]}
    check(on["rust-dev"]["state"] == "superseded" and
          ("replaced by its newer version, series %d, in the rebuild of rust-dev at "
           % v2["id"]) in on["rust-dev"]["reason"],
          "the replaced version is superseded on rust-dev: %r" % on["rust-dev"])
    # rust-next takes the v2: rebuilding rust-dev on it drops the v2
    run(pq + ["apply", str(v2["id"]), "--queue", "rust-next"], cwd=d)
    git(repo, "update-ref", "refs/heads/rust-next", git(repo, "rev-parse", "rust-next"))
    p = run(pq + ["rebuild", "rust-dev", "--json"], cwd=d, ok=False)
    check(p.returncode == 1, "rebuild exits 1 when it dropped a series")
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {}
    check([x["series"] for x in j.get("dropped", [])] == [v2["id"]],
          "rebuild --json names the dropped series: %r" % p.stdout[:300])
    pj = subprocess_ok(["python3", "-m", "json.tool"], p.stdout)
    check(pj, "python3 -m json.tool reads it")
    show = json.loads(run(pq + ["show", str(v2["id"]), "--json"], cwd=d).stdout)
    on = {q["queue"]: q for q in show["queues"]}
    check(on["rust-dev"]["state"] == "failed" and
          on["rust-dev"]["reason"].startswith("dropped by the rebuild of rust-dev at "),
          "the dropped series shows failed on rust-dev, and why: %r" % on["rust-dev"])
    check(on["rust-next"]["state"] == "applied", "and stays applied where it is")
    # dropNotice: one short mail to the submitter alone, none for the replaced v1
    db = sqlite3.connect(os.path.join(d, "patchq.db"))
    rows = db.execute("SELECT series_id, queue, recipients, message FROM outbox"
                      " WHERE kind = 'dropped'").fetchall()
    db.close()
    check(len(rows) == 1 and rows[0][:2] == (v2["id"], "rust-dev") and
          rows[0][2].strip().count("\n") == 0 and "\nCc:" not in rows[0][3] and
          "This was dropped from rust-dev (rust-dev) when it was rebuilt:" in rows[0][3] and
          "X-Patchq: dropped from rust-dev" in rows[0][3],
          "the submitter alone hears that the rebuild dropped it: %r" % rows)
    text = run(pq + ["series", "--queue", "rust-dev", "--state", "failed"], cwd=d).stdout
    check("rust: time helpers" in text, "the listing finds it failed on rust-dev: " + text)
    p = run(pq + ["rebuild", "rust-dev"], cwd=d, ok=False)
    check(p.returncode == 0, "a rebuild that drops nothing exits 0: " + p.stderr)
    # every command that takes --json prints JSON, the others refuse it
    for args in (["series"], ["stats"], ["messages"], ["todo"], ["outbox"],
                 ["queue", "rust-dev"], ["show", str(v2["id"])], ["rebuild", "rust-dev"],
                 ["why", str(v2["id"])]):
        p = run(pq + args + ["--json"], cwd=d, ok=False)
        check(subprocess_ok(["python3", "-m", "json.tool"], p.stdout),
              "%s --json prints JSON" % " ".join(args))
    for args in (["triage"], ["check", str(v2["id"])]):
        p = run(pq + args + ["--json"], cwd=d, ok=False)
        check(p.returncode == 2 and p.stdout == "" and "prints no JSON" in p.stderr,
              "%s --json refuses rather than print text" % " ".join(args))


def subprocess_ok(args, stdin):
    import subprocess
    return subprocess.run(args, input=stdin, capture_output=True, text=True).returncode == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    a.patchq = os.path.abspath(a.patchq)
    a.source = os.path.abspath(a.source)
    if not shutil.which("git"):
        print("git is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-elsewhere-")
    try:
        test_taken_elsewhere(a.patchq, a.source, work)
        test_config_change(a.patchq, a.source, work)
        test_merge_window(a.patchq, a.source, work)
        test_held_then_taken(a.patchq, a.source, work)
        test_rebuild_truth(a.patchq, a.source, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
