#!/usr/bin/env python3
"""patchqd's desk over HTTP (daemon/httpd.c): the real daemon, real
sockets on loopback, no mocks.

- [http] listen = 127.0.0.1:0: the bound port is read from the log;
- /desk.css 200 with the security headers, HEAD without a body, 404, 405
  from the desk, 501 for a method evhttp does not know, 413 for a 100 KiB
  body, 400 for a 20 KiB header;
- a client that sends half a request and stalls is cut after [http]
  timeout while another client is served meanwhile;
- 200 concurrent connections, twice: every one answered (200, or 503 when
  more than 64 wait), the daemon alive, its RSS bounded and not growing;
- mail is still ingested from a maildir while clients hammer the desk;
- unix:/PATH, and a socket handed over the systemd way (LISTEN_FDS);
- SIGTERM with a client connected exits 0 within 5 s;
- --check-config refuses bad listen values with FILE:LINE.

usage: test_http.py --patchqd PATH
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, wait_until  # noqa: E402
from test_daemon import Daemon, Maildir  # noqa: E402

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def write_conf(d, listen, extra=""):
    conf = os.path.join(d, "patchq.conf")
    with open(conf, "w") as f:
        f.write("[patchq]\n\tdatabase = patchq.db\n\trepository = queues.git\n"
                "\tcommitter = Test Maint <maint@example.org>\n"
                "[http]\n\tlisten = %s\n\ttimeout = 2\n%s" % (listen, extra))
    return conf


def setup(work, name, listen, extra=""):
    d = os.path.join(work, name)
    os.mkdir(d)
    subprocess.run(["git", "init", "-q", "--bare", os.path.join(d, "queues.git")], check=True)
    return d, write_conf(d, listen, extra)


def start(a, d, conf, name="patchqd.log", **kw):
    dm = Daemon(a.patchqd, conf, None, os.path.join(d, name), **kw)
    m = wait_until(lambda: re.search(r"desk at (http://127\.0\.0\.1:(\d+)/|unix:\S+)",
                                     dm.text()) or not dm.alive(), 10)
    return dm, (int(m.group(2)) if m and m.group(2) else None)


def raw(port, data, timeout=5):
    """Sends data, reads until the server closes or timeout; the bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", resp)
    return int(m.group(1)) if m else None


def get(port, path, method="GET", headers=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def test_basics(port):
    st, h, body = get(port, "/desk.css")
    check(st == 200 and h.get("content-type", "").startswith("text/css") and b"{" in body,
          "GET /desk.css: 200, text/css, a stylesheet (%s, %d bytes)" % (st, len(body)))
    check(h.get("content-security-policy") == CSP,
          "GET /desk.css: Content-Security-Policy %r" % h.get("content-security-policy"))
    check(h.get("x-content-type-options") == "nosniff" and
          h.get("referrer-policy") == "same-origin",
          "GET /desk.css: X-Content-Type-Options: nosniff, Referrer-Policy: same-origin")
    resp = raw(port, b"HEAD /desk.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = resp.partition(b"\r\n\r\n")
    m = re.search(rb"\r\nContent-Length: (\d+)", head)
    check(status_of(resp) == 200 and rest == b"" and m and int(m.group(1)) == len(body),
          "HEAD /desk.css: 200, GET's Content-Length (%s), no body (%d bytes after the headers)"
          % (m and m.group(1), len(rest)))
    st, h, _ = get(port, "/no/such/page")
    check(st == 404 and h.get("content-security-policy") == CSP,
          "an unknown path: 404 with the CSP (%s)" % st)
    st, h, _ = get(port, "/desk.css", method="DELETE")
    check(st == 405 and "GET" in h.get("allow", ""),
          "DELETE /desk.css: 405 from the desk, Allow: %r (%s)" % (h.get("allow"), st))
    st, h, _ = get(port, "/desk.css", method="POST", body="a=1",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(st == 405 and h.get("content-security-policy") == CSP,
          "POST /desk.css (an action: through the git worker, a repository opened): 405 (%s)"
          % st)
    resp = raw(port, b"BREW /desk.css HTTP/1.1\r\nHost: x\r\n\r\n")
    check(status_of(resp) == 501, "BREW (a method evhttp does not know): 501 (%s)"
          % status_of(resp))
    resp = raw(port, b"POST /desk.css HTTP/1.1\r\nHost: x\r\nContent-Type: "
               b"application/x-www-form-urlencoded\r\nContent-Length: 102400\r\n\r\n"
               + b"a=" + b"b" * 102398)
    check(status_of(resp) == 413, "a 100 KiB POST body: 413 (%s)" % status_of(resp))
    resp = raw(port, b"GET /desk.css HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20480
               + b"\r\n\r\n")
    check(status_of(resp) == 400, "a 20 KiB header: 400 from evhttp (%s)" % status_of(resp))
    resp = raw(port, b"GET /desk.css?x=%zz&y=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status_of(resp) == 200, "a query string reaches the desk without upsetting evhttp (%s)"
          % status_of(resp))
    # keep-alive: two requests on one connection
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    ok = 0
    for _ in range(3):
        c.request("GET", "/desk.css")
        r = c.getresponse()
        r.read()
        ok += r.status == 200
    c.close()
    check(ok == 3, "three requests on one kept-alive connection: %d answered 200" % ok)


def test_slow_client(port):
    slow = socket.create_connection(("127.0.0.1", port), timeout=10)
    slow.sendall(b"GET /desk.css HTTP/1.1\r\nHost: x\r\nX-Half")
    t = time.monotonic()
    st, _, _ = get(port, "/desk.css")
    served = time.monotonic() - t
    check(st == 200 and served < 1.5,
          "slow client: another client is served meanwhile (%s in %.2f s)" % (st, served))
    try:
        got = slow.recv(100)
    except ConnectionResetError:
        got = b""
    cut = time.monotonic() - t
    slow.close()
    check(got == b"" and 1.5 <= cut <= 4.5,
          "slow client: cut without an answer after timeout = 2 (%.2f s, %r)" % (cut, got[:30]))


def hammer_once(port, n):
    """n connections opened at once, a request on each; the statuses."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        socks.append(s)
    for i, s in enumerate(socks):
        path = b"/desk.css" if i % 2 else b"/no/such/%d" % i
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    statuses = []
    for s in socks:
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        statuses.append(status_of(out))
        s.close()
    return statuses


def test_concurrency(port, dm):
    before = rss_kib(dm.pid)
    first = hammer_once(port, 200)
    mid = rss_kib(dm.pid)
    second = hammer_once(port, 200)
    after = rss_kib(dm.pid)
    for name, sts in (("first", first), ("second", second)):
        bad = [s for s in sts if s not in (200, 404, 503)]
        check(len(sts) == 200 and not bad,
              "200 concurrent connections (%s round): each answered 200/404/503 (%d 503s) %s"
              % (name, sts.count(503), bad[:5]))
    check(dm.alive(), "200 concurrent connections: the daemon is alive")
    check(after < 512 * 1024 and after - mid < 16 * 1024,
          "200 concurrent connections: RSS %d KiB before, %d after one round, %d after two "
          "(bounded, not growing)" % (before, mid, after))
    # clients that leave before their answer: reset at once, 100 of them
    for i in range(100):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /desk.css HTTP/1.1\r\nHost: x\r\n\r\n")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    time.sleep(0.5)
    check(dm.alive(), "100 clients that reset before their answer: the daemon is alive")
    st, _, _ = get(port, "/desk.css")
    check(st == 200, "after the rounds, a request is answered 200 (%s)" % st)


def mail(i):
    return ("From: T <t@example.org>\nTo: list@example.org\nSubject: note %d\n"
            "Message-ID: <http-%d@example.org>\nDate: Thu, 2 Jan 2025 10:00:00 +0000\n\n"
            "body %d\n" % (i, i, i))


def test_ingest_while_hammered(port, d, md):
    stop = threading.Event()
    counts = {"ok": 0, "other": []}
    lock = threading.Lock()

    def client():
        end = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < end:
            try:
                st, _, _ = get(port, "/desk.css" if counts["ok"] % 3 else "/x")
            except OSError as e:
                st = str(e)
            with lock:
                if st in (200, 404, 503):
                    counts["ok"] += 1
                else:
                    counts["other"].append(st)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for i in range(30):
        md.deliver(mail(i))
        time.sleep(0.02)

    def stored():
        try:
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d, "patchq.db"), uri=True,
                                 timeout=5)
            try:
                return db.execute("SELECT count(*) FROM message WHERE msgid LIKE 'http-%'"
                                  ).fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0

    ok = wait_until(lambda: stored() == 30, 25, 0.2)
    stop.set()
    for t in threads:
        t.join()
    check(ok, "mail is ingested while 8 clients hammer the desk (%d of 30 stored)" % stored())
    check(counts["ok"] > 50 and not counts["other"],
          "the hammering clients were all answered (%d requests) %s"
          % (counts["ok"], counts["other"][:3]))


def test_sigterm_with_client(dm, port):
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    idle.sendall(b"GET /desk.css HTTP/1.1\r\nHost: x\r\n")
    busy = socket.create_connection(("127.0.0.1", port), timeout=10)
    time.sleep(0.2)
    t = time.monotonic()
    rc = dm.stop(10)
    took = time.monotonic() - t
    idle.close()
    busy.close()
    check(rc == 0 and took < 5, "SIGTERM with clients connected: exits 0 in %.2f s (rc %s)"
          % (took, rc))
    check(dm.text().splitlines()[-1:] == ["patchqd: stopped"],
          "SIGTERM: the log ends with \"patchqd: stopped\"")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=5)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(self.path)


def test_unix(a, work):
    sock = os.path.join(work, "desk.sock")
    d, conf = setup(work, "unix", "unix:" + sock)
    dm, _ = start(a, d, conf)
    try:
        check(wait_until(lambda: os.path.exists(sock), 5), "unix: the socket %s exists" % sock)
        c = UnixHTTPConnection(sock)
        c.request("GET", "/desk.css")
        r = c.getresponse()
        body = r.read()
        c.close()
        check(r.status == 200 and b"{" in body and
              r.getheader("X-Content-Type-Options") == "nosniff",
              "unix: GET /desk.css over unix:%s is 200 with the headers" % sock)
        check("desk at unix:%s" % sock in dm.text(), "unix: the log names the socket")
    finally:
        rc = dm.stop(10)
    check(rc == 0 and not os.path.exists(sock), "unix: SIGTERM exits 0 and removes the socket")
    # a stale socket file (a daemon killed -9) is replaced; a live one is not
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()
    dm, _ = start(a, d, conf, "stale.log")
    ok = wait_until(lambda: "desk at unix:" in dm.text(), 5)
    check(ok and dm.alive(), "unix: a stale socket file is replaced")
    dm2 = Daemon(a.patchqd, conf, None, os.path.join(d, "second.log"))
    try:
        rc2 = dm2.p.wait(10)
    except subprocess.TimeoutExpired:
        rc2 = None
        dm2.kill()
    check(rc2 == 1 and "desk: cannot listen on unix:" in dm2.text(),
          "unix: a second daemon on a live socket exits 1 with the reason (rc %s)" % rc2)
    dm.stop(10)


def test_socket_activation(a, work):
    d, conf = setup(work, "sd", "127.0.0.1:1")  # never bound: systemd's socket is used
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    fd = ls.fileno()
    log = open(os.path.join(d, "patchqd.log"), "ab")

    def as_fd3():
        os.dup2(fd, 3)
        os.set_inheritable(3, True)

    env = dict(os.environ, LISTEN_FDS="1")
    p = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$0" -c "$1"', a.patchqd, conf],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         env=env, cwd=d, preexec_fn=as_fd3, pass_fds=(fd,))
    ls.close()
    try:
        text = lambda: open(os.path.join(d, "patchqd.log"), errors="replace").read()  # noqa
        wait_until(lambda: "desk at" in text(), 10)
        st = None
        try:
            st, h, _ = get(port, "/desk.css")
        except OSError as e:
            st = str(e)
        check(st == 200, "systemd: the socket handed over as LISTEN_FDS=1 serves the desk (%s)"
              % st)
        check("(from systemd)" in text() and "127.0.0.1:1/" not in text(),
              "systemd: the log says the socket came from systemd, listen is not bound")
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        log.close()
    check(rc == 0, "systemd: SIGTERM exits 0 (%s)" % rc)


def test_check_config(a, work):
    d = os.path.join(work, "cc")
    os.mkdir(d)
    for listen, good in (("127.0.0.1:0", True), ("[::1]:8080", True),
                         ("127.0.0.1:70000", False), ("127.0.0.1", False),
                         ("localhost:8080", False), ("unix:relative.sock", False)):
        conf = write_conf(d, listen)
        p = subprocess.run([a.patchqd, "--check-config", "-c", conf], capture_output=True,
                           text=True)
        if good:
            check(p.returncode == 0, "--check-config accepts listen = %s (%s)"
                  % (listen, p.stderr.strip()))
        else:
            check(p.returncode == 1 and "patchq.conf:6: http.listen" in p.stderr,
                  "--check-config refuses listen = %s with FILE:LINE (%s)"
                  % (listen, p.stderr.strip()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patchqd", required=True)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.patchqd = os.path.abspath(a.patchqd)
    if not shutil.which("git"):
        print("git is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-http-")
    try:
        test_check_config(a, work)
        d, conf = setup(work, "main", "127.0.0.1:0")
        md = Maildir(os.path.join(d, "md"))
        with open(conf, "a") as f:
            f.write('[source "md"]\n\ttype = maildir\n\tpath = %s\n\tpollInterval = 3600\n'
                    % md.path)
        dm, port = start(a, d, conf)
        check(port is not None and "desk at http://127.0.0.1:%d/" % port in dm.text(),
              "listen = 127.0.0.1:0: the bound port is logged (%s)" % port)
        if port is None:
            print(dm.text())
            dm.kill()
            return 1
        try:
            test_basics(port)
            test_slow_client(port)
            test_concurrency(port, dm)
            test_ingest_while_hammered(port, d, md)
            test_sigterm_with_client(dm, port)
        finally:
            if dm.alive():
                dm.kill()
        test_unix(a, work)
        test_socket_activation(a, work)
        san = []
        for root, _, files in os.walk(work):
            for f in files:
                if f.endswith(".log"):
                    text = open(os.path.join(root, f), errors="replace").read()
                    san += re.findall(r".*(?:runtime error|AddressSanitizer|LeakSanitizer).*",
                                      text)
        check(not san, "no sanitizer report in any daemon log %s" % san[:3])
    finally:
        if a.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
