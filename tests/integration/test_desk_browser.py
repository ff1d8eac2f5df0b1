#!/usr/bin/env python3
"""The desk in a real browser (Debian's chromium through chromium-driver
and python3-selenium), on a patchqd the test starts with the demo list,
and the same walk through the JSON API and a text browser (w3m).

- the demo list arrives in a maildir; patchqd triages it and serves the
  desk on an ephemeral loopback port;
- the browser: the to-do read-only (no forms), the login with a token
  made by `patchq token new`, the to-do showing the fix waiting for
  approval on rust-fixes, its page with the diff coloured by line type,
  the approval through the form, the series on the queue page and its
  reply in the outbox, held; the reply's edit form typed into and sent,
  the new Subject and body on its page; a screenshot of each main page is
  saved (--shots);
- a series whose subject and author are hostile markup renders as text:
  no script element in the page, the text there as sent;
- the API: /api/todo, /api/series, /api/series/ID, /api/queues/NAME,
  /api/outbox; the Atom feeds parse; every action refused without a token (401) and, with the
  login cookie, without the CSRF value (403); done with a Bearer token;
- w3m -dump of the to-do reads as text.

usage: test_desk_browser.py --patchqd PATH --patchq PATH --source DIR [--shots DIR]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from xml.etree import ElementTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_queue import run, setup_demo  # noqa: E402
from test_daemon import Daemon, Maildir  # noqa: E402
from checks import check, failures, wait_until  # noqa: E402

HOSTILE = "<script>alert(1)</script>"


def have_selenium():
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return True


def have_browser():
    return have_selenium() and bool(shutil.which("chromium") and shutil.which("chromedriver"))


def debian_python():
    """Debian's python3 when this one (pyenv's, say, first in PATH) lacks
    python3-selenium and Debian's has it: the test runs again under it."""
    exe = "/usr/bin/python3"
    if have_selenium() or os.path.realpath(sys.executable) == os.path.realpath(exe):
        return None
    if os.access(exe, os.X_OK) and subprocess.run(
            [exe, "-c", "import selenium"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        return exe
    return None


class Desk:
    """HTTP to the desk: (status, headers, body) of each request."""

    def __init__(self, port):
        self.port = port

    def ask(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if body is not None:
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data.decode("utf-8",
                                                                               "replace")


def hostile_mail(source_repo, work):
    """A [PATCH rust-next] whose subject and author name are markup."""
    w = os.path.join(work, "hostile")
    run(["git", "clone", "-q", "-b", "rust-next", source_repo, w], cwd=work)
    with open(os.path.join(w, "hostile.txt"), "w") as f:
        f.write("a < b && c > d\n")
    g = ["git", "-c", "user.name=Mallory \"O'Hara\" & Co",
         "-c", "user.email=mallory@example.org"]
    run(g + ["add", "hostile.txt"], cwd=w)
    run(g + ["commit", "-q", "-m", "hostile: " + HOSTILE], cwd=w)
    return run(g + ["format-patch", "-1", "--stdout", "--subject-prefix=PATCH rust-next"],
               cwd=w).stdout


def start(a, work):
    """The demo's world with a maildir source, [http] on port 0, patchqd
    running and the demo mail in: (daemon, conf, maildir, port)."""
    setup_demo(a.source, work)
    conf = os.path.join(work, "patchq.conf")
    text = open(conf).read()
    text = re.sub(r"listen = \S+", "listen = 127.0.0.1:0", text)
    text = text.replace("\treply = false", "\treply = true")
    md = Maildir(os.path.join(work, "inbox"))
    text += ('\n[source "demo"]\n\ttype = maildir\n\tpath = %s\n'
             "[smtp]\n\tmaildir = %s\n" % (md.path, os.path.join(work, "sent")))
    with open(conf, "w") as f:
        f.write(text)
    dm = Daemon(a.patchqd, conf, None, os.path.join(work, "patchqd.log"))
    port = [0]

    def bound():
        m = re.search(r"desk at http://127\.0\.0\.1:(\d+)/", dm.text())
        if m:
            port[0] = int(m.group(1))
        return port[0]
    check(wait_until(bound, 15), "patchqd says where the desk is")
    demo = os.path.join(work, "maildir", "new")
    for name in sorted(os.listdir(demo)):
        with open(os.path.join(demo, name), "rb") as f:
            md.deliver(f.read())
    md.deliver(hostile_mail(os.path.join(work, "repo"), work))
    check(wait_until(lambda: "waits for approval" in dm.text() and not md.new(), 30),
          "the demo list is in and triaged")
    return dm, conf, md, port[0]


def series_id(patchq, conf, name_part):
    items = json.loads(run([patchq, "-c", conf, "series", "--json"],
                           cwd=os.path.dirname(conf)).stdout)
    found = [s["id"] for s in items if name_part in (s.get("name") or "")]
    return found[-1] if found else None


def browser_walk(a, desk, token, fix, hostile, shots):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    o = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600"):
        o.add_argument(arg)
    o.binary_location = shutil.which("chromium")
    service = Service(executable_path=shutil.which("chromedriver"))
    d = webdriver.Chrome(options=o, service=service)
    base = "http://127.0.0.1:%d" % desk.port

    def shot(name):
        if shots:
            d.save_screenshot(os.path.join(shots, name + ".png"))

    try:
        d.get(base + "/")
        check("To do" in d.title, "the to-do opens: %r" % d.title)
        check(not d.find_elements(By.TAG_NAME, "form"),
              "read-only without a token: no action forms")
        d.get(base + "/login")
        d.find_element(By.NAME, "token").send_keys(token)
        d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        check(wait_until(lambda: d.current_url.rstrip("/") == base, 10),
              "logging in leads back to the to-do")
        body = d.find_element(By.TAG_NAME, "body").text
        check("tester" in body, "the maintainer's name is shown once logged in")
        check("count bytes" in body, "the to-do lists the fix waiting for approval")
        shot("todo")

        d.get("%s/series/%d" % (base, fix))
        check(d.find_elements(By.CSS_SELECTOR, "pre.diff span.add") and
              d.find_elements(By.CSS_SELECTOR, "pre.diff span.del"),
              "the series page shows the diff coloured by line type")
        shot("series")
        d.find_element(By.XPATH, "//button[text()='approve for rust-fixes']").click()
        check(wait_until(lambda: "/series/%d" % fix in d.current_url, 10),
              "the approval comes back to the series page")
        body = d.find_element(By.TAG_NAME, "body").text
        check("applied" in body and "approve" in body and "tester" in body,
              "the series is applied on rust-fixes and the action recorded")

        d.get(base + "/queues/rust-fixes")
        check("count bytes" in d.find_element(By.TAG_NAME, "body").text,
              "the queue page lists the series")
        shot("queue")
        d.get(base + "/outbox")
        rows = d.find_elements(By.CSS_SELECTOR, "table tr")
        check(any("count bytes" in r.text for r in rows), "the outbox holds its reply")
        shot("outbox")
        links = [a.get_attribute("href") for r in rows if "count bytes" in r.text
                 for a in r.find_elements(By.CSS_SELECTOR, "a[href^='/outbox/']")]
        check(links, "the outbox links to the reply's page")
        if links:
            edit_reply(d, By, links[0], shot)

        d.get("%s/series/%d" % (base, hostile))
        check(not d.find_elements(By.TAG_NAME, "script"),
              "the hostile series renders no script element")
        check("Mallory \"O'Hara\" & Co" in d.find_element(By.TAG_NAME, "body").text,
              "the name with quotes and an ampersand reads as sent")
        check(HOSTILE in d.find_element(By.TAG_NAME, "body").text,
              "its subject reads as sent, as text")
        shot("hostile")
    finally:
        d.quit()


def edit_reply(d, By, url, shot):
    """The reply's edit form: typed into, sent; the page after it shows the
    new Subject and the body as typed, its markup as text."""
    d.get(url)
    forms = d.find_elements(By.CSS_SELECTOR, "form.edit")
    check(forms, "the held reply's page has the edit form")
    if not forms:
        return
    subject = d.find_element(By.NAME, "subject")
    body = d.find_element(By.NAME, "body")
    check("count bytes" in subject.get_attribute("value"),
          "the form holds the reply's Subject: %r" % subject.get_attribute("value"))
    check("rust-fixes" in body.get_attribute("value"),
          "the form holds the reply's body: %r" % body.get_attribute("value")[:200])
    shot("reply-edit")
    subject.clear()
    subject.send_keys("Re: count bytes, edited in the browser")
    body.clear()
    body.send_keys("Thanks, applied.\n\nA second paragraph with <b>markup</b>.\n")
    forms[0].find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    check(wait_until(lambda: d.current_url == url and
                     "edited in the browser" in d.find_element(By.TAG_NAME, "body").text, 10),
          "the edit comes back to the reply's page: %s" % d.current_url)
    mail = d.find_element(By.CSS_SELECTOR, "pre.message").text
    check("Subject: Re: count bytes, edited in the browser" in mail,
          "the mail as it goes out has the new Subject")
    check("Thanks, applied.\n\nA second paragraph with <b>markup</b>." in mail,
          "the body as typed, its markup as text, its lines one LF each")
    check(not d.find_elements(By.CSS_SELECTOR, "pre.message b"), "no markup from the body")
    shot("reply-edited")


def api_walk(desk, token, fix, hostile):
    st, h, body = desk.ask("GET", "/api/todo")
    check(st == 200 and h.get("content-type", "").startswith("application/json"),
          "/api/todo answers JSON (%d)" % st)
    todo = json.loads(body) if st == 200 else {}
    check("queues" in todo, "the to-do's JSON has its queues")
    st, h, body = desk.ask("GET", "/api/series?limit=2")
    page = json.loads(body) if st == 200 else {}
    check(st == 200 and len(page.get("items", [])) == 2 and page.get("next"),
          "/api/series pages: two items and the next page's URL")
    if page.get("next"):
        st, h, body2 = desk.ask("GET", page["next"])
        ids1 = {s["id"] for s in page["items"]}
        ids2 = {s["id"] for s in json.loads(body2)["items"]} if st == 200 else set()
        check(st == 200 and ids2 and not ids1 & ids2, "the next page continues, no overlap")
    st, h, body = desk.ask("GET", "/api/series/%d" % hostile)
    check(st == 200 and HOSTILE in json.loads(body).get("name", ""),
          "/api/series/ID gives the name as sent")
    etag = h.get("etag")
    st, h, body = desk.ask("GET", "/api/series/%d" % hostile, headers={"If-None-Match": etag})
    check(st == 304 and body == "", "the same ETag again: 304 without a body")
    for path in ("/api/queues/rust-fixes", "/api/outbox"):
        st, h, body = desk.ask("GET", path)
        check(st == 200 and "items" in json.loads(body), "%s is a listing" % path)

    for path in ("/feeds/todo.atom", "/feeds/queues/rust-next.atom"):
        st, h, body = desk.ask("GET", path)
        try:
            root = ElementTree.fromstring(body.encode())
            entries = root.findall("{http://www.w3.org/2005/Atom}entry")
        except ElementTree.ParseError as e:
            root, entries = None, []
            print("    %s: %s" % (path, e))
        check(st == 200 and root is not None and entries,
              "%s is well-formed Atom with entries (%d)" % (path, len(entries)))

    st, h, body = desk.ask("GET", "/desk.css")
    csp = h.get("content-security-policy", "")
    check("default-src 'none'" in csp and "script" not in csp.replace("script-src", ""),
          "a Content-Security-Policy without inline script: %s" % csp)

    form = "queue=rust-next"
    for path in ("/api/series/%d/approve" % hostile, "/series/%d/reject" % hostile,
                 "/queues/rust-dev/rebuild", "/outbox/1/edit"):
        st, h, body = desk.ask("POST", path, form)
        check(st == 401, "%s without a token: 401 (%d)" % (path, st))
        st, h, body = desk.ask("POST", path, form, {"Cookie": "patchq=" + token})
        check(st == 403, "%s with the cookie but no CSRF value: 403 (%d)" % (path, st))
    st, h, body = desk.ask("POST", "/api/series/%d/reject" % hostile,
                           "queue=rust-next&reason=markup+in+the+subject",
                           {"Authorization": "Bearer " + token})
    check(st == 200 and json.loads(body).get("ok") is True,
          "a reject through the API with the Bearer token: %d %s" % (st, body[:200]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--patchq", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--shots", default="")
    a = ap.parse_args()
    a.patchqd, a.patchq = os.path.abspath(a.patchqd), os.path.abspath(a.patchq)
    other = debian_python()
    if other:
        os.execv(other, [other] + sys.argv)
    if not have_browser():
        print("chromium, chromium-driver or python3-selenium missing: skipped")
        return 77
    if a.shots:
        os.makedirs(a.shots, exist_ok=True)
    work = tempfile.mkdtemp(prefix="pq-desk-")
    dm = None
    try:
        dm, conf, md, port = start(a, work)
        desk = Desk(port)
        token = run([a.patchq, "-c", conf, "token", "new", "tester"], cwd=work).stdout.strip()
        check(re.fullmatch(r"[0-9a-f]{64}", token) is not None, "a token of 64 hex digits")
        fix = series_id(a.patchq, conf, "count bytes")
        hostile = series_id(a.patchq, conf, "hostile")
        check(fix and hostile, "the fix and the hostile series are there")
        if fix and hostile and port:
            api_walk(desk, token, fix, hostile)
            browser_walk(a, desk, token, fix, hostile, a.shots)
            if shutil.which("w3m"):
                text = subprocess.run(["w3m", "-dump", "http://127.0.0.1:%d/" % port],
                                      capture_output=True, text=True, timeout=30).stdout
                check("To do" in text and "rust-fixes" in text,
                      "w3m reads the to-do as text")
    finally:
        if dm is not None:
            check(dm.stop() == 0, "SIGTERM stops patchqd")
            if failures:
                print(dm.text()[-3000:])
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
