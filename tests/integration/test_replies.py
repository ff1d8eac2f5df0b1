#!/usr/bin/env python3
"""Replies to the list, end to end, with a real SMTP receiver.

- composition: a reply per applied series, in the application's
  transaction; it answers the cover letter (In-Reply-To, References,
  "Re: " subject), goes To the author, Cc the list and everyone who gave a
  review trailer, names each patch's commit (with the configured commit
  URL) in the configured words, and parses as mail; a series waiting for
  approval where it does not apply gets no failure reply until a
  maintainer asks (`reply rebase`), then one naming the file, the hunk
  and the queue's tip, and only one per version;
- a dry run writes the replies to a maildir and sends nothing;
- delivery through aiosmtpd on loopback (STARTTLS, the test's CA): the
  received mail threads under the cover letter and reaches the envelope
  recipients; 451 then accept: one delivery, after a retry; 550: failed,
  shown, never retried; through a sendmail-compatible program too;
- the maintainer in charge (issue 12), through aiosmtpd: every reply held
  until released; `outbox edit` through a real editor run (the Subject and
  body change, a forged header or an aborted edit change nothing); no
  "please rebase" for a series waiting for approval when its queue moves
  (a log line and the to-do instead), one on request but never for the
  maintainer's own series; a rejection withdraws it and sends the reason;
  notes given with `apply --note` in the commit before the Signed-off-by
  and in the reply; exactly the released mail reaches the receiver; a
  series a rebuild drops tells its submitter alone ([reply] dropNotice);
- patchqd killed just before a reply goes out, and just after the server
  took it but before it was marked sent: after a restart the reply is
  sent once, or, at the worst moment, once more with the same Message-ID.

usage: test_replies.py --patchq PATH --patchqd PATH --source DIR
"""
import argparse
import base64
import email
import email.policy
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtpd import Smtpd, have_smtpd  # noqa: E402
from test_daemon import Daemon, Notify  # noqa: E402
from test_queue import git, run, setup_demo  # noqa: E402
from checks import check, failures, wait_until  # noqa: E402


def parse(raw):
    if isinstance(raw, str):
        raw = raw.encode()
    return email.message_from_bytes(raw, policy=email.policy.default)


def demo(a, work, name, smtp, hold=False):
    """The demo list and queues, rust-dev replying, with [smtp] as given;
    replies held for a maintainer's release (the example's) with hold."""
    d = os.path.join(work, name)
    os.mkdir(d)
    setup_demo(a.source, d)
    conf = os.path.join(d, "patchq.conf")
    text = open(conf).read()
    assert text.count("\thold = true\n") == 1  # the example holds every reply
    if not hold:
        text = text.replace("\thold = true\n", "\thold = false\n")
    assert text.count("\treply = false\n") == 1  # rust-dev's, in the example
    text = text.replace("\treply = false\n", "\treply = true\n")
    text = text.replace("# commitUrl = ", "commitUrl = ")
    text += "\n[smtp]\n" + "".join("\t%s = %s\n" % kv for kv in smtp)
    open(conf, "w").write(text)
    return d, [a.patchq, "-c", conf]


def test_compose_and_dry_run(a, work):
    d, pq = demo(a, work, "dry", [("maildir", "outbox-dry-run")])
    run(pq + ["import", "maildir"], cwd=d)
    run(pq + ["triage"], cwd=d)
    box = json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)
    applied = [r for r in box if r["kind"] == "applied"]
    check(len(applied) == 1 and applied[0]["queue"] == "rust-dev",
          "triage applied the v2 to rust-dev and wrote one reply: %s" % box)
    series = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
    v2 = [s for s in series if s["name"] == "rust: time helpers" and s["version"] == 2][0]
    out = run(pq + ["outbox", "send"], cwd=d).stdout
    check("written to the maildir (dry run)" in out, "outbox send in dry-run mode: " + out)
    new = os.path.join(d, "outbox-dry-run", "new")
    files = os.listdir(new) if os.path.isdir(new) else []
    check(len(files) == 1, "the reply is in the dry-run maildir, nothing else")
    if not files:
        return
    m = parse(open(os.path.join(new, files[0]), "rb").read())
    cover = v2["cover"]
    check(m["In-Reply-To"] == "<%s>" % cover and "<%s>" % cover in m["References"],
          "it answers the v2 cover letter (In-Reply-To, References)")
    check(m["Subject"] == "Re: [PATCH v2 0/3] rust: time helpers", "Subject: " + m["Subject"])
    check(m["To"] == "Alice Rustacean <alice@example.org>", "To the author: " + m["To"])
    cc = m["Cc"] or ""
    check("rust-for-linux@vger.example.org" in cc, "Cc the list: " + cc)
    check("Bob Reviewer <bob@example.org>" in cc, "Cc the reviewer who gave trailers: " + cc)
    body = m.get_content()
    q = json.loads(run(pq + ["queue", "rust-dev", "--json"], cwd=d).stdout)
    commits = [p["commit"] for s in q for p in s["patches"]]
    check(len(commits) == 3 and all("?id=" + c in body for c in commits),
          "one entry per patch with the commit URL of the commit on rust-dev")
    check("Applied to `rust-dev` -- thanks everyone!" in body and "[1/3] " in body and
          body.rstrip().endswith(">"), "in the configured words, signed")
    check(re.match(r"<patchq-\d+-rust-dev-applied-\d+\.[0-9a-f]+@", m["Message-ID"]) is not None,
          "a Message-ID of its own: " + m["Message-ID"])
    box = json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)
    check(box[0]["state"] == "sent" and "<%s>" % box[0]["msgid"] == m["Message-ID"],
          "marked sent, the Message-ID fixed when it was composed")
    out = run(pq + ["outbox", "send"], cwd=d).stdout
    check("0 sent" in out and len(os.listdir(new)) == 1, "a second send sends nothing")

    # the fix does not apply to rust-fixes once rust-fixes moved under it
    repo = os.path.join(d, "queues.git")
    w = os.path.join(d, "w")
    run(["git", "clone", "-q", "-b", "rust-fixes", repo, w], cwd=d)
    path = os.path.join(w, "rust/kernel/str.rs")
    text = open(path).read().replace("    s.len()", "    s.chars().count()")
    open(path, "w").write(text)
    run(["git", "-c", "user.name=M", "-c", "user.email=m@example.org", "commit", "-qam",
         "str: rename"], cwd=w)
    run(["git", "push", "-q", "origin", "HEAD:rust-fixes"], cwd=w)
    fix = [s for s in series if s["name"] == "rust: str: count bytes in len()"][0]
    run(pq + ["check", str(fix["id"])], cwd=d)
    run(pq + ["apply", str(fix["id"]), "--queue", "rust-fixes"], cwd=d, ok=False)
    run(pq + ["apply", str(fix["id"]), "--queue", "rust-fixes"], cwd=d, ok=False)
    box = json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)
    check(not [r for r in box if r["kind"] == "failed"],
          "a series waiting for approval on rust-fixes that does not apply: no failure "
          "reply (the rule does not apply it automatically)")
    out = run(pq + ["reply", "rebase", str(fix["id"]), "--queue", "rust-fixes"], cwd=d).stdout
    run(pq + ["reply", "rebase", str(fix["id"]), "--queue", "rust-fixes"], cwd=d, ok=False)
    box = json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)
    failed = [r for r in box if r["kind"] == "failed"]
    check(len(failed) == 1 and failed[0]["queue"] == "rust-fixes",
          "a maintainer asks for it (reply rebase): one failure reply, however often asked: "
          + out)
    text = run(pq + ["outbox", "preview", str(fix["id"])], cwd=d).stdout
    tip = git(repo, "rev-parse", "rust-fixes")
    check("does not apply to rust-fixes" in text and "rust/kernel/str.rs" in text and
          tip[:12] in text, "it names the file and the queue's tip")


def test_new_version_on_rebuilt_queue(a, work):
    """v1 lands on rust-dev, then v2 arrives: no failure reply (it would
    not apply on top of v1); the rebuild puts it in v1's place."""
    d, pq = demo(a, work, "v1v2", [("maildir", "out")])
    new = os.path.join(d, "maildir", "new")
    later = os.path.join(d, "later")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(later, sub))
    for f in sorted(os.listdir(new)):
        if "demo-time-v2-" in open(os.path.join(new, f)).read():
            os.rename(os.path.join(new, f), os.path.join(later, "new", f))
    run(pq + ["import", "maildir"], cwd=d)
    run(pq + ["triage"], cwd=d)
    run(pq + ["import", later], cwd=d)
    out = run(pq + ["triage"], cwd=d).stdout
    box = outbox(pq, d)
    check("replaces its earlier version there at the next rebuild" in out and
          [r["kind"] for r in box] == ["applied"],
          "v2 after v1 on rust-dev: queued for the rebuild, no failure reply: %s" %
          [(r["kind"], r["series"]) for r in box])
    run(pq + ["rebuild", "rust-dev"], cwd=d)
    q = json.loads(run(pq + ["queue", "rust-dev", "--json"], cwd=d).stdout)
    check([s["version"] for s in q] == [2], "and the rebuild puts v2 in v1's place")


def smtp_conf(sd):
    return [("host", "127.0.0.1"), ("port", str(sd.port)), ("tls", "starttls"),
            ("caFile", sd.ca_file), ("user", sd.user), ("passwordFile", sd.password_file)]


def outbox(pq, d):
    return json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)


def test_smtp(a, work):
    sd = Smtpd(os.path.join(work, "smtp"), user="patchq", password="s3cret")
    sd.start()
    try:
        d, pq = demo(a, work, "smtp-demo", smtp_conf(sd))
        run(pq + ["import", "maildir"], cwd=d)
        run(pq + ["triage"], cwd=d)
        # a wrong password is the configuration's mistake, not the reply's:
        # AUTH's 535 leaves it pending, to go once the password is fixed
        good = open(sd.password_file).read()
        with open(sd.password_file, "w") as f:
            f.write("wrong\n")
        p = run(pq + ["outbox", "send"], cwd=d, ok=False)
        box = outbox(pq, d)
        check(p.returncode == 1 and box[0]["state"] == "pending" and
              "535" in (box[0]["error"] or "") and not sd.messages(),
              "a wrong password (535): the reply stays pending, not refused for good: %s %s"
              % (box[0]["state"], box[0]["error"]))
        with open(sd.password_file, "w") as f:
            f.write(good)
        # a 451 at the end of DATA: nothing delivered, retried later
        sd.set_refuse([{"step": "DATA", "code": 451, "text": "try later", "times": 1}])
        p = run(pq + ["outbox", "send"], cwd=d, ok=False)
        box = outbox(pq, d)
        check(p.returncode == 1 and "will retry" in p.stdout and box[0]["state"] == "pending" and
              box[0]["attempts"] == 2 and "451" in (box[0]["error"] or "") and
              not sd.messages(), "451: still pending, the server's words kept, nothing stored")
        check(box[0]["next_attempt"] - box[0]["created"] >= 55,
              "and the next attempt waits a minute")
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        msgs = sd.messages()
        check("1 sent" in out and len(msgs) == 1 and outbox(pq, d)[0]["state"] == "sent",
              "then accepted: delivered exactly once")
        if msgs:
            env, raw = msgs[0]
            m = parse(raw)
            series = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
            v2 = [s for s in series if s["name"] == "rust: time helpers" and s["version"] == 2][0]
            check(m["In-Reply-To"] == "<%s>" % v2["cover"] and m["Subject"].startswith("Re: "),
                  "the received reply parses and threads under the cover letter")
            check(sorted(env["rcpt_tos"]) == sorted(["alice@example.org", "bob@example.org",
                                                      "rust-for-linux@vger.example.org"]),
                  "it reached the author, the list and the reviewer: %s" % env["rcpt_tos"])
            check(env["mail_from"] == "maint@example.org" and env.get("tls"),
                  "from the configured sender, over TLS, authenticated")
            q = json.loads(run(pq + ["queue", "rust-dev", "--json"], cwd=d).stdout)
            body = m.get_content()
            check(all(p["commit"] in body for s in q for p in s["patches"]),
                  "naming the commits on rust-dev")
        # a 550: failed for good, shown, never retried
        fix = [s for s in json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
               if s["name"] == "rust: str: count bytes in len()"][0]
        sd.set_refuse([{"step": "RCPT", "code": 550, "text": "no such list", "times": 0}])
        run(pq + ["approve", str(fix["id"]), "--queue", "rust-fixes"], cwd=d)
        run(pq + ["outbox", "send"], cwd=d, ok=False)
        box = outbox(pq, d)
        check(box[-1]["state"] == "failed" and "550" in (box[-1]["error"] or ""),
              "550 for every recipient: failed, with the server's words")
        listing = run(pq + ["outbox"], cwd=d).stdout
        check("failed" in listing and "550" in listing, "and shown by patchq outbox")
        before = len(sd.events())
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        check("0 sent, 0 to retry, 0 refused" in out and len(sd.events()) == before,
              "and never tried again")
        sd.set_refuse([])
        out = run(pq + ["outbox", "retry", str(box[-1]["id"])], cwd=d).stdout
        out += run(pq + ["outbox", "send"], cwd=d).stdout
        check("pending again" in out and "1 sent" in out and
              outbox(pq, d)[-1]["state"] == "sent" and len(sd.messages()) == 2,
              "once the cause is fixed, outbox retry sends it: " + out.replace("\n", " | "))
    finally:
        sd.cleanup()


def editor(d, name, script):
    """An editor the test runs as $EDITOR: a shell script given the file."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + script + "\n")
    os.chmod(path, 0o755)
    return path


def edit(pq, d, rid, ed, ok=True):
    env = dict(os.environ, EDITOR=ed)
    env.pop("VISUAL", None)
    p = subprocess.run(pq + ["outbox", "edit", str(rid)], cwd=d, capture_output=True,
                       text=True, env=env)
    if ok and p.returncode != 0:
        raise SystemExit("outbox edit failed: %s%s" % (p.stdout, p.stderr))
    return p


def actions(d, what):
    db = sqlite3.connect(os.path.join(d, "patchq.db"))
    try:
        return db.execute("SELECT count(*) FROM action WHERE what = ?", (what,)).fetchone()[0]
    finally:
        db.close()


def test_maintainer_in_charge(a, work):
    sd = Smtpd(os.path.join(work, "smtp-held"), user="patchq", password="s3cret")
    sd.start()
    try:
        d, pq = demo(a, work, "held", smtp_conf(sd), hold=True)
        run(pq + ["import", "maildir"], cwd=d)
        run(pq + ["triage"], cwd=d)
        series = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
        v2 = [s for s in series if s["name"] == "rust: time helpers" and s["version"] == 2][0]
        fix = [s for s in series if s["name"] == "rust: str: count bytes in len()"][0]

        # ---- hold: nothing leaves until released ----
        box = outbox(pq, d)
        check(len(box) == 1 and box[0]["held"] and box[0]["kind"] == "applied",
              "[reply] hold = true (the example): the rust-dev reply is held: %s" % box)
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        check("0 sent" in out and not sd.messages(), "a send sends nothing held")
        applied = box[0]["id"]

        # ---- edit through a real editor run ----
        msg = json.loads(run(pq + ["outbox", "--json"], cwd=d).stdout)[0]
        before = sqlite3.connect(os.path.join(d, "patchq.db")).execute(
            "SELECT message FROM outbox WHERE id = ?", (applied,)).fetchone()[0]
        forge = editor(d, "forge.sh", "sed -i -e 's/^To: .*/To: evil@example.com/' \"$1\"")
        bcc = editor(d, "bcc.sh", "sed -i -e 's/^Subject: /Bcc: evil@example.com\\nSubject: /' "
                     "\"$1\"")
        cr = editor(d, "cr.sh", "sed -i -e 's/^\\(Subject: .*\\)$/\\1\\r/' \"$1\"")
        abort = editor(d, "abort.sh", "sed -i -e 's/thanks everyone/aborted/' \"$1\"; exit 1")
        same = editor(d, "same.sh", "true")
        for ed, why in ((forge, "a changed To"), (bcc, "an added Bcc:"), (cr, "a CR"),
                        (abort, "an editor that exits 1")):
            p = edit(pq, d, applied, ed, ok=False)
            now = sqlite3.connect(os.path.join(d, "patchq.db")).execute(
                "SELECT message FROM outbox WHERE id = ?", (applied,)).fetchone()[0]
            check(p.returncode == 1 and now == before,
                  "outbox edit with %s: refused, the reply unchanged: %s" % (why, p.stderr.strip()))
        p = edit(pq, d, applied, same)
        check("unchanged" in p.stdout and actions(d, "edit reply") == 0,
              "an edit that changes nothing: unchanged, not recorded")
        good = editor(d, "good.sh",
                      "sed -i -e 's/^Subject: .*/Subject: Re: [PATCH v2 0\\/3] rust: time "
                      "helpers (thanks!)/' -e 's/thanks everyone!/thanks everyone, and "
                      "Bob for the review!/' \"$1\"")
        p = edit(pq, d, applied, good)
        after = sqlite3.connect(os.path.join(d, "patchq.db")).execute(
            "SELECT message FROM outbox WHERE id = ?", (applied,)).fetchone()[0]
        check("edited (recorded)" in p.stdout and after != before and
              "and Bob for the review!" in after and actions(d, "edit reply") == 1,
              "outbox edit with a sed script: stored and recorded: " + p.stdout.strip())
        check(outbox(pq, d)[0]["msgid"] == msg["msgid"], "the Message-ID stays")

        # ---- the queue moves under the fix waiting for approval ----
        repo = os.path.join(d, "queues.git")
        w = os.path.join(d, "w")
        run(["git", "clone", "-q", "-b", "rust-fixes", repo, w], cwd=d)
        path = os.path.join(w, "rust/kernel/str.rs")
        text = open(path).read().replace("    s.len()", "    s.chars().count()")
        open(path, "w").write(text)
        run(["git", "-c", "user.name=M", "-c", "user.email=m@example.org", "commit", "-qam",
             "str: rename"], cwd=w)
        run(["git", "push", "-q", "origin", "HEAD:rust-fixes"], cwd=w)
        out = run(pq + ["run"], cwd=d).stdout
        check("series %d: no longer applies to rust-fixes" % fix["id"] in out and
              "no mail to the list" in out, "the pass says the fix stopped applying: " + out)
        todo = run(pq + ["todo"], cwd=d).stdout
        check("stopped applying" in todo and "count bytes" in todo,
              "the to-do shows it stopped applying")
        check(len(outbox(pq, d)) == 1, "and no reply is queued for it")
        run(pq + ["approve", str(fix["id"]), "--queue", "rust-fixes"], cwd=d, ok=False)
        check(len(outbox(pq, d)) == 1,
              "approved and failing: still no mail (it was never automatic)")

        # ---- the maintainer asks for the rebase reply; never to themselves ----
        own = os.path.join(d, "own.conf")
        open(own, "w").write(open(os.path.join(d, "patchq.conf")).read().replace(
            "Test Maint <maint@example.org>", "Alice Rustacean <alice@example.org>"))
        p = run([a.patchq, "-c", own, "reply", "rebase", str(fix["id"]), "--queue",
                 "rust-fixes"], cwd=d, ok=False)
        check(p.returncode == 1 and "your own" in p.stderr and len(outbox(pq, d)) == 1,
              "reply rebase on the maintainer's own series: refused: " + p.stderr.strip())
        out = run(pq + ["reply", "rebase", str(fix["id"]), "--queue", "rust-fixes"],
                  cwd=d).stdout
        box = outbox(pq, d)
        rebase = [r for r in box if r["kind"] == "failed"]
        check(len(rebase) == 1 and rebase[0]["held"] and "held" in out,
              "reply rebase: one failure reply, held: " + out)

        # ---- rejection: the rebase reply withdrawn, the reason sent ----
        out = run(pq + ["reject", str(fix["id"]), "--reason",
                        "Not a fix: please resend it for rust-next.", "--reply"], cwd=d).stdout
        box = {r["id"]: r for r in outbox(pq, d)}
        rejected = [r for r in box.values() if r["kind"] == "rejected"]
        check(box[rebase[0]["id"]]["state"] == "withdrawn",
              "the rejection withdrew the pending rebase reply")
        check(len(rejected) == 1 and rejected[0]["held"] and rejected[0]["state"] == "pending",
              "reject --reply: one reply with the reason, held: " + out)
        p = run(pq + ["outbox", "release", str(rebase[0]["id"])], cwd=d, ok=False)
        check(p.returncode == 1, "a withdrawn reply cannot be released")

        # ---- notes while applying ----
        note2 = "[ Reworded the title. - Test ]"
        run(pq + ["apply", str(v2["id"]), "--queue", "rust-next", "--note", "2:" + note2,
                  "--note", "Thanks, applied with a reworded title."], cwd=d)
        body = git(repo, "log", "-1", "--format=%B", "rust-next~1")
        lines = body.strip().split("\n")
        check(len(lines) >= 2 and lines[-2] == note2 and
              lines[-1] == "Signed-off-by: Test Maint <maint@example.org>",
              "patch 2's commit: the note just before the maintainer's Signed-off-by: %r"
              % lines[-3:])
        other = git(repo, "log", "-1", "--format=%B", "rust-next")
        check(note2 not in other and "Thanks, applied" not in other,
              "patch 3's commit carries no note, the series' note is the reply's only")
        box = outbox(pq, d)
        nxt = [r for r in box if r["queue"] == "rust-next"]
        text = run(pq + ["outbox", "preview", str(v2["id"])], cwd=d).stdout
        check(len(nxt) == 1 and nxt[0]["held"] and note2 in text and
              "Thanks, applied with a reworded title." in text,
              "the rust-next reply holds both notes, and waits")
        p = run(pq + ["apply", str(v2["id"]), "--queue", "rust-next", "--note", "9:x"], cwd=d,
                ok=False)
        check(p.returncode == 1 and "no patch 9" in p.stderr, "a note for a patch the series "
              "does not have is refused: " + p.stderr.strip())

        # ---- release and send: exactly the released mail arrives ----
        run(pq + ["outbox", "release", str(applied)], cwd=d)
        run(pq + ["outbox", "release", str(rejected[0]["id"])], cwd=d)
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        msgs = sd.messages()
        check("2 sent" in out and len(msgs) == 2, "two released, two sent: " + out)
        got = {parse(raw)["Message-ID"]: parse(raw) for _, raw in msgs}
        want = {"<%s>" % box_r["msgid"]: box_r for box_r in outbox(pq, d)
                if box_r["id"] in (applied, rejected[0]["id"])}
        check(sorted(got) == sorted(want), "exactly the released replies reached the receiver")
        m = got.get("<%s>" % msg["msgid"])
        check(m is not None and m["Subject"] == "Re: [PATCH v2 0/3] rust: time helpers (thanks!)"
              and "and Bob for the review!" in m.get_content() and
              m["To"] == "Alice Rustacean <alice@example.org>",
              "the edited reply went as edited, to the same people")
        r = [g for g in got.values() if "not be applied" in g.get_content()]
        check(len(r) == 1 and "Not a fix: please resend it for rust-next." in r[0].get_content(),
              "the rejection's reply gives the reason")
        p = edit(pq, d, applied, good, ok=False)
        check(p.returncode == 1 and "sent" in p.stderr, "a sent reply cannot be edited")
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        check("0 sent" in out and len(sd.messages()) == 2,
              "the held and the withdrawn replies never go")
    finally:
        sd.cleanup()


def test_drop_notice(a, work):
    """[reply] dropNotice: a rebuild of rust-dev that drops a series tells its
    submitter alone, held like every reply; released, exactly that mail
    reaches the receiver."""
    sd = Smtpd(os.path.join(work, "smtp-drop"), user="patchq", password="s3cret")
    sd.start()
    try:
        d, pq = demo(a, work, "drop", smtp_conf(sd), hold=True)
        conf = os.path.join(d, "patchq.conf")
        text = open(conf).read()
        assert text.count("\tdropNotice = false\n") == 1
        open(conf, "w").write(text.replace("\tdropNotice = false\n", "\tdropNotice = true\n"))
        run(pq + ["import", "-q", "maildir"], cwd=d)
        series = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
        v1, v2 = [[s for s in series if s["name"] == "rust: time helpers" and s["version"] == v][0]
                  for v in (1, 2)]
        repo = os.path.join(d, "queues.git")
        run(pq + ["apply", str(v1["id"]), "--queue", "rust-dev"], cwd=d)
        run(pq + ["rebuild", "rust-dev"], cwd=d)  # v2 takes v1's place
        # rust-next takes v2: the rebuild of rust-dev on it drops v2 there
        run(pq + ["apply", str(v2["id"]), "--queue", "rust-next"], cwd=d)
        check(git(repo, "rev-parse", "rust-next") != "", "v2 is on rust-next")
        p = run(pq + ["rebuild", "rust-dev"], cwd=d, ok=False)
        check(p.returncode == 1, "the rebuild dropped v2 (exit 1): " + p.stdout + p.stderr)
        dropped = [r for r in outbox(pq, d) if r["kind"] == "dropped"]
        check(len(dropped) == 1 and dropped[0]["series"] == v2["id"] and dropped[0]["held"] and
              dropped[0]["recipients"].split() == ["alice@example.org"],
              "one notice, held, to the submitter alone: %s" % dropped)
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        check("0 sent" in out and not sd.messages(), "nothing leaves before the release")
        run(pq + ["outbox", "release", str(dropped[0]["id"])], cwd=d)
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        msgs = sd.messages()
        check("1 sent" in out and len(msgs) == 1, "the released notice is sent: " + out)
        if msgs:
            env, raw = msgs[0]
            m = parse(raw)
            check(m["Message-ID"] == "<%s>" % dropped[0]["msgid"] and
                  m["To"] == "Alice Rustacean <alice@example.org>" and m["Cc"] is None and
                  m["X-Patchq"] == "dropped from rust-dev" and
                  "This was dropped from rust-dev" in m.get_content(),
                  "to Alice alone, saying where it dropped out: %s" % raw[:600])
    finally:
        sd.cleanup()


def encoded(text):
    return "=?UTF-8?B?%s?=" % base64.b64encode(text.encode()).decode()


def hostile_series(d):
    """A patch made by git on rust-next whose subject and names carry
    encoded CR/LF ("\r\nBcc: ..."), and a review whose trailers carry a lone
    CR (quoted-printable =0D) and an escape sequence; both go in the maildir."""
    w = os.path.join(d, "hostile-work")
    run(["git", "clone", "-q", "-b", "rust-next", os.path.join(d, "repo"), w], cwd=d)
    with open(os.path.join(w, "rust/kernel/blank.rs"), "w") as f:
        f.write("pub fn is_blank(s: &str) -> bool {\n    s.trim().is_empty()\n}\n")
    run(["git", "add", "."], cwd=w)
    run(["git", "-c", "user.name=Mallory", "-c", "user.email=mallory@example.org", "commit",
         "-qm", "rust: str: add is_blank()", "-m",
         "Signed-off-by: Mallory <mallory@example.org>"], cwd=w)
    patch = run(["git", "format-patch", "--stdout", "-1"], cwd=w).stdout
    head, body = patch.split("\n\n", 1)
    lines = [h for h in head.split("\n")
             if not h.startswith(("From:", "Subject:", "Date:"))]
    lines += [
        "From: %s <mallory@example.org>" % encoded(
            "Mallory\r\nBcc: evil-from@example.com\r\nX-Injected: from"),
        "To: rust-for-linux@vger.example.org",
        "Cc: %s <carl@example.org>" % encoded("Carl\r\nBcc: evil-cc@example.com"),
        "Subject: [PATCH] %s" % encoded(
            "rust: str: add is_blank()\r\nBcc: evil-subject@example.com\r\nX-Injected: subject"),
        "Date: Thu, 12 Nov 2026 10:00:00 +0000",
        "Message-ID: <hostile-1@example.org>",
    ]
    new = os.path.join(d, "maildir", "new")
    with open(os.path.join(new, "9001.hostile:2,"), "w") as f:
        f.write("\n".join(lines) + "\n\n" + body)
    review = (
        "From: Bob Reviewer <bob@example.org>\n"
        "To: rust-for-linux@vger.example.org\n"
        "Subject: Re: [PATCH] rust: str: add is_blank()\n"
        "Date: Thu, 12 Nov 2026 11:00:00 +0000\n"
        "Message-ID: <hostile-r1@example.org>\n"
        "In-Reply-To: <hostile-1@example.org>\n"
        "References: <hostile-1@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Reviewed-by: Bob Reviewer=0DBcc: evil-trailer@example.com <bob@example.org>\n"
        "Acked-by: Bob =1B[2J=0D=0ABcc: evil-ack@example.com <bob@example.org>\n")
    with open(os.path.join(new, "9002.hostile:2,"), "w") as f:
        f.write(review)


def header_block(raw):
    return raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")


def test_hostile_headers(a, work):
    """What a series' mail says never becomes a header or a recipient of
    the reply: delivered to a real SMTP receiver, it has only the headers
    patchq writes and only the recipients it names. The commit reads back,
    and the CLI prints no control character from mail."""
    sd = Smtpd(os.path.join(work, "smtp-hostile"), user="patchq", password="s3cret")
    sd.start()
    try:
        d, pq = demo(a, work, "hostile", smtp_conf(sd))
        hostile_series(d)
        run(pq + ["import", "maildir"], cwd=d)
        run(pq + ["triage"], cwd=d)
        out = run(pq + ["outbox", "send"], cwd=d).stdout
        got = [(env, raw) for env, raw in sd.messages()
               if parse(raw)["In-Reply-To"] == "<hostile-1@example.org>"]
        check(len(got) == 1 and parse(got[0][1])["X-Patchq"] == "applied to rust-dev",
              "the hostile series was applied and its reply delivered: " +
              out.replace("\n", " | "))
        if got:
            env, raw = got[0]
            head = header_block(raw)
            names = [line.split(":", 1)[0].lower() for line in head.split("\n")
                     if line and line[0] not in " \t"]
            check(names == ["from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
                            "references", "mime-version", "content-type",
                            "content-transfer-encoding", "x-patchq"],
                  "only the headers patchq writes, once each: %s" % names)
            check("bcc" not in head.lower().replace("bcc: evil", "") and
                  "x-injected:" not in "\n".join(
                      line.lower() for line in head.split("\n") if line[:1] not in " \t"),
                  "no Bcc: or X-Injected: header")
            check(all(len(line) <= 998 for line in head.split("\n")), "no line past 998")
            m = parse(raw)
            check(m["Bcc"] is None and m["X-Injected"] is None and
                  "\r" not in m["Subject"] and "\n" not in m["Subject"],
                  "parsed: no Bcc, no X-Injected, a one-line subject: %r" % m["Subject"])
            rcpt = sorted(env["rcpt_tos"])
            check(rcpt == ["bob@example.org", "carl@example.org", "mallory@example.org",
                           "rust-for-linux@vger.example.org"],
                  "exactly the author, the list, the Cc and the reviewer: %s" % rcpt)
            check(not [r for r in rcpt if "evil" in r], "no smuggled recipient")
            check("\x1b" not in m.get_content(), "no escape sequence in the body")
        # the commit made from it reads back: one author line, a sane name
        repo = os.path.join(d, "queues.git")
        q = json.loads(run(pq + ["queue", "rust-dev", "--json"], cwd=d).stdout)
        commits = [p["commit"] for s in q for p in s["patches"]
                   if p["msgid"] == "hostile-1@example.org"]
        check(len(commits) == 1, "the hostile patch is on rust-dev")
        if commits:
            text = git(repo, "cat-file", "commit", commits[0])
            head = text.split("\n\n", 1)[0].split("\n")
            authors = [h for h in head if h.startswith("author ")]
            check(len(authors) == 1 and
                  re.match(r"^author [^<>\r\n]+ <mallory@example\.org> \d+ [+-]\d{4}$",
                           authors[0]) is not None,
                  "the commit's author line reads back: %r" % authors)
            log = git(repo, "log", "-1", "--format=%an|%ae|%s", commits[0])
            check(log == "mallory@example.org|mallory@example.org|rust: str: add is_blank() "
                  "Bcc: evil-subject@example.com X-Injected: subject",
                  "git log reads it (a name that holds an address is git's \"no name\"): %r"
                  % log)
            body = git(repo, "log", "-1", "--format=%b", commits[0])
            check("Reviewed-by: Bob Reviewer Bcc: evil-trailer@example.com <bob@example.org>"
                  in body and "\x1b" not in body and "\r" not in body,
                  "the collected trailers hold no control character: %r" % body)
        # a database written before these checks: the CLI still prints none
        db = sqlite3.connect(os.path.join(d, "patchq.db"))
        db.execute("UPDATE message SET subject = subject || ?, author = ? WHERE msgid = ?",
                   ("\x1b[2J\x1b]0;owned\x07\r", "Mal\x1b[31mlory\u009b", "hostile-1@example.org"))
        db.commit()
        db.close()
        series = json.loads(run(pq + ["series", "--json"], cwd=d).stdout)
        sid = [s for s in series for p in s["patches"] if p["msgid"] == "hostile-1@example.org"]
        for args in (["messages"], ["show", str(sid[0]["id"]) if sid else "1"],
                     ["msg", "hostile-1@example.org"]):
            text = run(pq + args, cwd=d).stdout
            bad = [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or
                   0x7f <= ord(c) <= 0x9f]
            check(not bad and "\ufffd[2J" in text.replace("\n", "") if args[0] == "messages"
                  else not bad, "patchq %s prints no control character: %r" % (args[0], bad))
        js = run(pq + ["--json", "msg", "hostile-1@example.org"], cwd=d).stdout
        check("\\u001b[2J" in js and "\\u009b" in js and "\x1b" not in js,
              "--json escapes them")
    finally:
        sd.cleanup()


def test_sendmail(a, work):
    prog = os.path.join(work, "fake-sendmail")
    spool = os.path.join(work, "sendmail-spool")
    os.mkdir(spool)
    with open(prog, "w") as f:
        f.write("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s/argv\ncat > %s/mail\n" % (spool, spool))
    os.chmod(prog, 0o755)
    d, pq = demo(a, work, "sendmail", [("sendmail", prog)])
    run(pq + ["import", "maildir"], cwd=d)
    run(pq + ["triage"], cwd=d)
    out = run(pq + ["outbox", "send"], cwd=d).stdout
    argv = open(os.path.join(spool, "argv")).read().split("\n") if "1 sent" in out else []
    check(argv[:4] == ["-i", "-f", "maint@example.org", "--"] and "alice@example.org" in argv,
          "through a sendmail program: -i -f SENDER -- RECIPIENTS: %s" % argv[:6])
    mail = parse(open(os.path.join(spool, "mail"), "rb").read()) if argv else None
    check(mail is not None and mail["Subject"] == "Re: [PATCH v2 0/3] rust: time helpers",
          "with the reply on its standard input")


def test_daemon_crash(a, work):
    """patchqd killed just before a reply leaves, then just after the
    server took it: sent once, or once more with the same Message-ID."""
    sd = Smtpd(os.path.join(work, "smtp-crash"), user="patchq", password="s3cret")
    sd.start()
    notify = Notify()
    try:
        d, pq = demo(a, work, "crash-demo", smtp_conf(sd))
        conf = pq[2]
        with open(conf, "a") as f:
            f.write('[source "md"]\n\ttype = maildir\n\tpath = maildir\n')
        for point, copies in (("send", 1), ("sent", 2)):
            sd.clear()
            db = os.path.join(d, "patchq.db")
            if os.path.exists(db):
                os.unlink(db)
            for sub in ("cur",):
                for f in os.listdir(os.path.join(d, "maildir", sub)):
                    os.rename(os.path.join(d, "maildir", sub, f),
                              os.path.join(d, "maildir", "new", f.split(":")[0]))
            git(os.path.join(d, "queues.git"), "update-ref", "refs/heads/rust-dev",
                git(os.path.join(d, "queues.git"), "rev-parse", "rust-next"))
            dm = Daemon(a.patchqd, conf, notify, os.path.join(work, "patchqd-%s.log" % point),
                        env={"PATCHQ_CRASH": point})
            try:
                dm.p.wait(60)
            except subprocess.TimeoutExpired:
                dm.kill()
            check(dm.p.returncode == -signal.SIGKILL,
                  "crash point %s: patchqd killed itself there" % point)
            box = outbox(pq, d)
            check(len(box) == 1 and box[0]["state"] == "pending",
                  "crash point %s: the reply is in the outbox, pending" % point)
            dm = Daemon(a.patchqd, conf, notify, os.path.join(work, "patchqd-%s-2.log" % point))
            sent = wait_until(lambda: outbox(pq, d)[0]["state"] == "sent", 30)
            dm.stop()
            msgs = sd.messages()
            ids = {parse(raw)["Message-ID"] for _, raw in msgs}
            check(sent and len(msgs) == copies and ids == {"<%s>" % box[0]["msgid"]},
                  "crash point %s: after a restart it went out %s, Message-ID %s" %
                  (point, "once" if copies == 1 else "once more (the server had it)",
                   box[0]["msgid"]))
    finally:
        notify.close()
        sd.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    a.patchq = os.path.abspath(a.patchq)
    a.patchqd = os.path.abspath(a.patchqd)
    a.source = os.path.abspath(a.source)
    work = tempfile.mkdtemp(prefix="pq-replies-")
    try:
        test_compose_and_dry_run(a, work)
        test_new_version_on_rebuilt_queue(a, work)
        test_sendmail(a, work)
        if have_smtpd():
            test_smtp(a, work)
            test_maintainer_in_charge(a, work)
            test_drop_notice(a, work)
            test_hostile_headers(a, work)
            test_daemon_crash(a, work)
        else:
            print("skip SMTP delivery: aiosmtpd or openssl is missing")
    finally:
        if failures:
            print("work directory kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
