#!/usr/bin/env python3
"""lib/imap against a real dovecot this test starts on loopback ports of its
own (tests/integration/dovecot.py), through the imap_probe driver: TLS modes
and certificate verification, login, byte-exact fetching by UID in chunks,
IDLE, restarts, UIDVALIDITY changes and servers that go silent.

usage: test_imap.py --probe PATH          (exit 77: dovecot not installed)
"""
import argparse
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dovecot  # noqa: E402
from checks import check, failures  # noqa: E402
from dovecot import (CERT_GOOD, CERT_SELF_SIGNED, CERT_UNKNOWN_CA, CERT_WRONG_NAME,  # noqa: E402
                     Dovecot, wire_bytes)


def sanitizer_clean(stderr, what):
    """In an -Db_sanitize build a leak or undefined behaviour is a failure."""
    if "Sanitizer" in stderr or "runtime error" in stderr:
        check(False, "no sanitizer report from imap_probe %s:\n%s" % (what, stderr))


class Probe:
    """Runs imap_probe against the server with the given options."""

    def __init__(self, exe, dc):
        self.exe = exe
        self.dc = dc

    def args(self, cmd, tls="implicit", port=None, host=None, ca=True, extra=()):
        dc = self.dc
        if port is None:
            port = dc.imaps_port if tls == "implicit" else dc.imap_port
        a = [self.exe, "--host", host or dc.host, "--port", str(port), "--tls", tls,
             "--user", dc.user, "--password-file", dc.password_file]
        if ca:
            a += ["--ca", dc.ca_file]
        return a + list(extra) + list(cmd)

    def run(self, *cmd, timeout=120, **kw):
        t = time.monotonic()
        p = subprocess.run(self.args(cmd, **kw), capture_output=True, text=True, timeout=timeout)
        p.elapsed = time.monotonic() - t
        sanitizer_clean(p.stderr, " ".join(cmd))
        return p

    def popen(self, *cmd, **kw):
        return subprocess.Popen(self.args(cmd, **kw), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


def parse_list(out):
    """(uidvalidity, uidnext, [(uid, size, sha256)], rest) from 'list' output."""
    lines = out.splitlines()
    m = re.match(r"uidvalidity (\d+) uidnext (\d+)$", lines[0]) if lines else None
    if not m:
        return None, None, [], lines
    msgs, rest = [], []
    for line in lines[1:]:
        f = line.split()
        if len(f) == 3 and f[0].isdigit():
            msgs.append((int(f[0]), int(f[1]), f[2]))
        else:
            rest.append(line)
    return int(m.group(1)), int(m.group(2)), msgs, rest


def expect(raw):
    """(size, sha256) of raw as the server hands it back: lines end in CRLF."""
    w = wire_bytes(raw)
    return len(w), hashlib.sha256(w).hexdigest()


class Proxy:
    """A loopback TCP relay to port that records what the client sent."""

    def __init__(self, port):
        self.target = port
        self.sent = bytearray()
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(c, s, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(s, c, False), daemon=True).start()

    def _pump(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    with self.lock:
                        self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.sock.close()


class SilentServer:
    """Accepts connections, optionally says one line, then never answers."""

    def __init__(self, host="127.0.0.1", greeting=None):
        self.greeting = greeting
        self.received = bytearray()
        self.conns = []
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.greeting:
                c.sendall(self.greeting)
            threading.Thread(target=self._read, args=(c,), daemon=True).start()

    def _read(self, c):
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    return
                self.received += d
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class FakeImap:
    """A scripted IMAP server on loopback for what dovecot will not do on
    demand. replies maps a command ("LOGIN", "UID FETCH", "DONE"...) to the
    bytes sent back in one write, "{tag}" replaced by the command's tag; a
    UID FETCH that asks for RFC822.SIZE is "UID FETCH SIZE"."""

    def __init__(self, greeting, replies, reset_after=None):
        self.greeting = greeting
        self.replies = replies
        self.reset_after = reset_after  # a command after which to drop with RST
        self.commands = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        f = c.makefile("rb")
        c.sendall(self.greeting)
        tag = b""
        try:
            while True:
                line = f.readline()
                if not line:
                    break
                # a synchronising literal: say go on, take it and the rest
                m = re.search(rb"\{(\d+)\}\r\n$", line)
                while m:
                    c.sendall(b"+ go on\r\n")
                    line = line[:m.start()] + f.read(int(m.group(1))) + f.readline()
                    m = re.search(rb"\{(\d+)\}\r\n$", line)
                words = line.split()
                if words == [b"DONE"]:
                    cmd = "DONE"
                else:
                    tag = words[0]
                    cmd = words[1].decode().upper()
                    if cmd == "UID":
                        cmd += " " + words[2].decode().upper()
                    if cmd == "UID FETCH" and b"RFC822.SIZE" in line.upper():
                        cmd += " SIZE"
                self.commands.append(cmd)
                reply = self.replies.get(cmd, b"{tag} BAD unknown\r\n")
                c.sendall(reply.replace(b"{tag}", tag))
                if cmd == "LOGOUT":
                    break
                if cmd == self.reset_after:
                    time.sleep(0.3)
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    break
        except OSError:
            pass
        c.close()

    def close(self):
        self.sock.close()


def test_scripted(pr):
    """What a real server does rarely: data buffered with IDLE's "+", UIDs
    out of order or repeated, unsolicited FETCH responses, and data sent in
    clear text behind the STARTTLS answer."""
    caps = b"* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n"
    fake = FakeImap(b"* OK fake ready\r\n", {
        "LOGIN": b"{tag} OK logged in\r\n",
        "CAPABILITY": caps,
        "EXAMINE": b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 11] n\r\n"
                   b"{tag} OK [READ-ONLY] examined\r\n",
        "IDLE": b"+ idling\r\n* 4 EXISTS\r\n",
        "DONE": b"{tag} OK idle done\r\n",
        "UID SEARCH": b"* SEARCH 10 3 9 10\r\n{tag} OK searched\r\n",
        "UID FETCH SIZE": b"* 3 FETCH (UID 10 RFC822.SIZE 5)\r\n* 2 FETCH (UID 9 RFC822.SIZE 3)\r\n"
                          b"* 2 FETCH (UID 9 RFC822.SIZE 3)\r\n{tag} OK fetched\r\n",
        "UID FETCH": b"* 3 FETCH (UID 10 BODY[] {5}\r\nhello)\r\n* 1 FETCH (FLAGS (\\Seen))\r\n"
                     b"* 2 FETCH (UID 9 BODY[] {3}\r\nabc)\r\n{tag} OK fetched\r\n",
        "LOGOUT": b"* BYE bye\r\n{tag} OK out\r\n",
    })
    p = pr.run("idle", "5", "10", tls="none", ca=False, port=fake.port, extra=["--timeout", "5"])
    fake.close()
    lines = p.stdout.splitlines()
    check(lines[:3] == ["uidvalidity 7 uidnext 11", "idling", "pending"],
          "data that came with IDLE's continuation is reported as pending (%s)"
          % p.stderr.strip())
    want = ["9 3 " + hashlib.sha256(b"abc").hexdigest(),
            "10 5 " + hashlib.sha256(b"hello").hexdigest()]
    check(p.returncode == 0 and lines[3:] == want,
          "UIDs out of order, repeated or below after, and unsolicited FETCHes: "
          "ascending, once each, nothing else")
    check(fake.commands[-1] == "LOGOUT", "the session ends with LOGOUT")

    # The probe keeps SIGPIPE's default action: writing DONE to a peer that
    # reset the connection must be an error, not the death of the process.
    gone = FakeImap(b"* OK fake ready\r\n", {
        "LOGIN": b"{tag} OK logged in\r\n",
        "CAPABILITY": caps,
        "EXAMINE": b"* OK [UIDVALIDITY 7] v\r\n{tag} OK [READ-ONLY] examined\r\n",
        "IDLE": b"+ idling\r\n",
    }, reset_after="IDLE")
    p = pr.run("idle", "0", "10", tls="none", ca=False, port=gone.port, extra=["--timeout", "5"])
    gone.close()
    check(p.returncode == 1 and p.stdout.splitlines()[1:] == ["idling", "woke"]
          and "idle done" in p.stderr,
          "a connection reset during IDLE: DONE fails with an error, no SIGPIPE (rc %d: %s)"
          % (p.returncode, p.stderr.strip()))

    inject = FakeImap(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] fake\r\n", {
        "STARTTLS": b"{tag} OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n",
    })
    p = pr.run("connect", tls="starttls", port=inject.port, extra=["--timeout", "5"])
    inject.close()
    check(p.returncode == 1 and "data after its STARTTLS answer" in p.stderr
          and "LOGIN" not in inject.commands,
          "clear text smuggled behind the STARTTLS answer is refused (%s)" % p.stderr.strip())


def non_loopback_address():
    """An address of this host that is not loopback, or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
            a = s.getsockname()[0]
        return None if a.startswith("127.") else a
    except OSError:
        return None


# The messages of INBOX: what the test APPENDs and expects back byte for byte.
MESSAGES = [
    # CRLF already, as IMAP wants it
    b"From: Alice <alice@example.org>\r\nTo: rust-for-linux@vger.kernel.org\r\n"
    b"Subject: [PATCH 1/2] rust: add foo\r\nMessage-ID: <foo-1@example.org>\r\n\r\n"
    b"Signed-off-by: Alice <alice@example.org>\r\n---\r\n foo.rs | 1 +\r\n",
    # 8-bit UTF-8 body and header, bare LF endings (imaplib sends them as CRLF)
    "From: Zoë Ünicode <zoe@example.org>\nSubject: [PATCH 2/2] rust: grüße\n"
    "Message-ID: <foo-2@example.org>\nContent-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n\nΚαλημέρα — 日本語 — ✓\n\n.\nFrom the start\n".encode(),
    # no line ending at the end: nothing must be added
    b"Subject: no final newline\r\nMessage-ID: <foo-3@example.org>\r\n\r\nlast line",
]
# Delivered by doveadm save with bare LFs kept: dovecot hands it out in CRLF.
SAVED_LF = b"Subject: saved with bare LF\nMessage-ID: <foo-4@example.org>\n\nline 1\nline 2\n"


def test_fetch_exact(pr, dc):
    uids = dc.append_many("INBOX", MESSAGES)
    dc.save_raw("INBOX", SAVED_LF)
    uids.append(dc.status("INBOX")["uidnext"] - 1)
    want = [(u,) + expect(r) for u, r in zip(uids, MESSAGES + [SAVED_LF])]
    st = dc.status("INBOX")

    p = pr.run("list", "0")
    check(p.returncode == 0, "implicit TLS with the test CA connects and lists (%s)"
          % p.stderr.strip())
    v, n, msgs, rest = parse_list(p.stdout)
    check(v == st["uidvalidity"] and n == st["uidnext"],
          "EXAMINE reports dovecot's UIDVALIDITY %s and UIDNEXT %s" % (v, n))
    check(msgs == want, "fetch returns exactly the appended messages, in UID order, "
          "byte for byte (sha256 of the CRLF wire form, 8-bit UTF-8 included)")
    check(msgs[-1][2] == hashlib.sha256(SAVED_LF.replace(b"\n", b"\r\n")).hexdigest(),
          "a message stored with bare LFs comes back with CRLF line endings")
    check(msgs[2][2] == hashlib.sha256(MESSAGES[2]).hexdigest(),
          "a message without a final newline comes back without one")

    c = dc.client()
    c.select("INBOX", readonly=True)
    typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
    c.logout()
    check(typ == "OK" and not any(b"\\Seen" in d for d in data if isinstance(d, bytes)),
          "BODY.PEEK[] leaves \\Seen unset")

    p = pr.run("list", "0", tls="starttls")
    check(p.returncode == 0 and parse_list(p.stdout)[2] == want,
          "STARTTLS with the test CA lists the same messages (%s)" % p.stderr.strip())
    p = pr.run("list", "0", tls="none", ca=False)
    check(p.returncode == 0 and parse_list(p.stdout)[2] == want,
          "plain text to a loopback address works (%s)" % p.stderr.strip())
    p = pr.run("list", "0", host="localhost")
    check(p.returncode == 0 and parse_list(p.stdout)[2] == want,
          "host name 'localhost' verifies against the certificate's DNS name (%s)"
          % p.stderr.strip())
    p = pr.run("connect")
    check(p.stdout.strip() == "connected idle=yes", "dovecot advertises IDLE after login")
    p = pr.run("noop")
    check(p.returncode == 0 and p.stdout.strip() == "noop ok", "NOOP")
    return uids, want


def test_since(pr, dc, uids, want):
    last = uids[-1]
    p = pr.run("list", str(uids[1]))
    check([m[0] for m in parse_list(p.stdout)[2]] == uids[2:],
          "fetch_since(after) returns only UIDs above after")
    p = pr.run("list", str(last))
    check(p.returncode == 0 and parse_list(p.stdout)[2] == [],
          "after = last UID: nothing, although 'UID n:*' names the last message")
    p = pr.run("list", str(last + 100))
    check(p.returncode == 0 and parse_list(p.stdout)[2] == [],
          "after beyond UIDNEXT: nothing")
    p = pr.run("list", "4294967295")
    check(p.returncode == 0 and parse_list(p.stdout)[2] == [], "after = 2^32-1: nothing")
    p = pr.run("list", "0", "2")
    check(parse_list(p.stdout)[2] == want[:2], "max = 2 gives the two lowest UIDs")
    p = pr.run("list", "0", "0", "2")
    v, n, msgs, rest = parse_list(p.stdout)
    check(p.returncode == 0 and msgs == want[:2] and rest == ["stopped 42"],
          "a non-zero callback value stops the fetch and is returned")
    p = pr.run("list", "0", extra=["--mailbox", "NoSuchBox"])
    check(p.returncode == 1 and "cannot examine mailbox NoSuchBox" in p.stderr,
          "a missing mailbox is reported by name (%s)" % p.stderr.strip())


def test_verification(pr, dc):
    p = pr.run("connect", ca=False)
    check(p.returncode == 1 and "certificate not trusted" in p.stderr,
          "without the CA the certificate is not trusted (%s)" % p.stderr.strip())
    p = pr.run("connect", tls="starttls", ca=False)
    check(p.returncode == 1 and "certificate not trusted" in p.stderr,
          "STARTTLS verifies too (%s)" % p.stderr.strip())
    p = pr.run("list", "0", ca=False, extra=["--no-verify"])
    check(p.returncode == 0 and len(parse_list(p.stdout)[2]) > 0,
          "--no-verify connects to the same server")
    p = pr.run("connect", extra=["--ca", os.path.join(dc.dir, "passwd")])
    check(p.returncode == 1 and "cannot load CA file" in p.stderr,
          "an unusable CA file fails the connection (%s)" % p.stderr.strip())

    dc.use_cert(CERT_WRONG_NAME)
    p = pr.run("connect")
    check(p.returncode == 1 and "host name mismatch" in p.stderr,
          "a trusted certificate for another name: host name mismatch (%s)" % p.stderr.strip())
    p = pr.run("connect", host="localhost")
    check(p.returncode == 1 and "host name mismatch" in p.stderr,
          "... also when connecting by DNS name")
    p = pr.run("connect", extra=["--no-verify"])
    check(p.returncode == 0, "--no-verify accepts the wrong name")

    dc.use_cert(CERT_UNKNOWN_CA)
    p = pr.run("connect")
    check(p.returncode == 1 and "certificate not trusted" in p.stderr,
          "a certificate from an unknown CA is not trusted (%s)" % p.stderr.strip())
    dc.use_cert(CERT_SELF_SIGNED)
    p = pr.run("connect", extra=["--ca", dc.cert_file(CERT_SELF_SIGNED)])
    check(p.returncode == 0, "a self-signed certificate is trusted when it is the CA file (%s)"
          % p.stderr.strip())
    p = pr.run("connect")
    check(p.returncode == 1 and "certificate not trusted" in p.stderr,
          "... and only then (%s)" % p.stderr.strip())
    dc.use_cert(CERT_GOOD)
    p = pr.run("connect")
    check(p.returncode == 0, "the good certificate is trusted again after a restart")


def test_failures(pr, dc):
    bad = os.path.join(dc.dir, "bad-password")
    with open(bad, "w") as f:
        f.write("not the password")
    a = pr.args(["connect"])
    a[a.index("--password-file") + 1] = bad
    p = subprocess.run(a, capture_output=True, text=True, timeout=60)
    sanitizer_clean(p.stderr, "connect with a wrong password")
    check(p.returncode == 1 and "rejected" in p.stderr and "(-9)" in p.stderr,
          "a wrong password gives PQ_EAUTH with the server's words (%s)" % p.stderr.strip())

    port = dovecot.free_port()
    p = pr.run("connect", port=port)
    check(p.returncode == 1 and "connection refused" in p.stderr,
          "a closed port: connection refused (%s)" % p.stderr.strip())

    silent = SilentServer()
    p = pr.run("connect", tls="none", port=silent.port, extra=["--timeout", "2"])
    check(p.returncode == 1 and "timed out" in p.stderr and p.elapsed < 15,
          "a server that never greets times out (%.1f s: %s)" % (p.elapsed, p.stderr.strip()))
    p = pr.run("connect", tls="implicit", port=silent.port, extra=["--timeout", "2"])
    check(p.returncode == 1 and "TLS handshake failed (timed out)" in p.stderr
          and p.elapsed < 15,
          "a server that never answers the TLS handshake times out (%.1f s: %s)"
          % (p.elapsed, p.stderr.strip()))
    silent.close()

    mute = SilentServer(greeting=b"* OK [CAPABILITY IMAP4rev1 STARTTLS] fake\r\n")
    p = pr.run("connect", tls="starttls", port=mute.port, extra=["--timeout", "2"])
    check(p.returncode == 1 and "STARTTLS: no answer within 2 s" in p.stderr and p.elapsed < 15,
          "a server that stops answering mid-session times out (%.1f s: %s)"
          % (p.elapsed, p.stderr.strip()))
    mute.close()

    addr = non_loopback_address()
    if addr is None:
        print("skip plain text to a non-loopback address: this host has none")
        return
    try:
        fake = SilentServer(host=addr, greeting=b"* OK fake\r\n")
    except OSError:
        print("skip plain text to a non-loopback address: cannot listen on %s" % addr)
        return
    p = pr.run("connect", tls="none", host=addr, port=fake.port, extra=["--timeout", "5"])
    time.sleep(0.2)
    check(p.returncode == 1 and "clear text" in p.stderr and b"LOGIN" not in fake.received,
          "plain text to %s is refused before LOGIN (%s)" % (addr, p.stderr.strip()))
    fake.close()


def test_big(pr, dc):
    dc.create_mailbox("big")
    raws = [("Subject: message %d\r\nMessage-ID: <big-%d@example.org>\r\n\r\n" % (i, i)).encode()
            + ("line %d of a body\r\n" % i).encode() * (i % 7 + 1) for i in range(500)]
    uids = dc.append_many("big", raws)
    want = [(u,) + expect(r) for u, r in zip(uids, raws)]
    proxy = Proxy(dc.imap_port)
    p = pr.run("list", "0", tls="none", ca=False, port=proxy.port, extra=["--mailbox", "big"])
    proxy.close()
    msgs = parse_list(p.stdout)[2]
    check(p.returncode == 0 and msgs == want, "500 messages: all of them, exact, in UID order")
    sent = proxy.sent.decode(errors="replace")
    sizes = re.findall(r"UID FETCH ([^ ]+) \(UID RFC822\.SIZE\)", sent)
    bodies = re.findall(r"UID FETCH ([^ ]+) \(UID BODY\.PEEK\[\]\)", sent)
    check(len(sizes) == 5 and len(bodies) == 5 and len(re.findall(r"UID SEARCH", sent)) == 1,
          "fetched with one UID SEARCH, 5 UID FETCHes of 100 sizes and 5 of 100 bodies "
          "(%d, %d)" % (len(sizes), len(bodies)))
    check("BODY.PEEK[]" in sent and "BODY[]" not in sent.replace("BODY.PEEK[]", ""),
          "bodies are fetched with BODY.PEEK[]")
    p = pr.run("list", str(uids[449]), extra=["--mailbox", "big"])
    check([m[0] for m in parse_list(p.stdout)[2]] == uids[450:], "resume in the middle: 50 left")

    # With a bound the server is not asked for every UID of the backlog.
    proxy = Proxy(dc.imap_port)
    p = pr.run("list", "0", "50", tls="none", ca=False, port=proxy.port,
               extra=["--mailbox", "big"])
    proxy.close()
    searches = re.findall(r"UID SEARCH UID ([^\r]+)\r", proxy.sent.decode(errors="replace"))
    check(parse_list(p.stdout)[2] == want[:50] and searches == ["1:256"],
          "max = 50 of 500: one UID SEARCH over a window of 256 UIDs (%s)" % searches)


def test_sparse(pr, dc):
    """UIDs with wide gaps (expunged messages): windows grow until enough."""
    dc.create_mailbox("sparse")
    raws = [b"Subject: s%d\r\n\r\nx\r\n" % i for i in range(300)]
    uids = dc.append_many("sparse", raws)
    c = dc.client()
    c.select("sparse")
    c.uid("STORE", "%d:%d" % (uids[1], uids[279]), "+FLAGS.SILENT", r"(\Deleted)")
    c.expunge()
    c.logout()
    keep = [uids[0]] + uids[280:]
    proxy = Proxy(dc.imap_port)
    p = pr.run("list", "0", "5", tls="none", ca=False, port=proxy.port,
               extra=["--mailbox", "sparse"])
    proxy.close()
    searches = re.findall(r"UID SEARCH UID ([^\r]+)\r", proxy.sent.decode(errors="replace"))
    check([m[0] for m in parse_list(p.stdout)[2]] == keep[:5] and len(searches) == 2,
          "max = 5 across a gap of 279 expunged UIDs: the window grows once (%s)" % searches)
    p = pr.run("list", str(uids[0]), extra=["--mailbox", "sparse"])
    check([m[0] for m in parse_list(p.stdout)[2]] == uids[280:],
          "without a bound: every UID after the gap")


def test_idle(pr, dc, last):
    pr_ = pr.popen("idle", str(last), "30")
    line = pr_.stdout.readline().strip()  # uidvalidity line
    line = pr_.stdout.readline().strip()
    check(line == "idling", "IDLE entered (%s)" % line)
    t = time.monotonic()
    uid = dc.append("INBOX", b"Subject: while idling\r\n\r\nwake up\r\n")
    try:
        out, err = pr_.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pr_.kill()
        out, err = pr_.communicate()
    took = time.monotonic() - t
    sanitizer_clean(err, "idle")
    lines = out.splitlines()
    check(pr_.returncode == 0 and lines[:1] in (["woke"], ["pending"]),
          "IDLE wakes after another client's APPEND (%.2f s)" % took)
    check([int(x.split()[0]) for x in lines[1:] if x.split()[0].isdigit()] == [uid],
          "after DONE, fetch_since gives exactly the new message (%s)" % err.strip())

    p = pr.run("idle", str(uid), "1")
    check(p.returncode == 0 and p.stdout.splitlines()[1:] == ["idling", "timeout"],
          "IDLE with nothing new times out on the caller's side and DONE works")
    return uid


def test_restart(pr, dc, last):
    pr_ = pr.popen("idle", str(last), "60")
    pr_.stdout.readline()
    check(pr_.stdout.readline().strip() == "idling", "IDLE entered before the restart")
    dc.stop()
    try:
        out, err = pr_.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pr_.kill()
        out, err = pr_.communicate()
    sanitizer_clean(err, "idle across a restart")
    check(pr_.returncode == 1 and out.splitlines()[:1] == ["woke"] and "idle done" in err,
          "a server going away wakes IDLE and DONE reports it (rc %d: %s%s)"
          % (pr_.returncode, out.replace("\n", " "), err.strip()))
    dc.start()
    uid = dc.append("INBOX", b"Subject: after restart\r\n\r\nx\r\n")
    p = pr.run("list", str(last))
    check(p.returncode == 0 and [m[0] for m in parse_list(p.stdout)[2]] == [uid],
          "after a dovecot restart a new connection resumes from the last UID")

    st = dc.status("INBOX")
    dc.set_uidvalidity("INBOX", st["uidvalidity"] + 1000)
    p = pr.run("list", str(uid))
    check(p.returncode == 0 and parse_list(p.stdout)[0] == st["uidvalidity"] + 1000,
          "a UIDVALIDITY change is visible to the next EXAMINE")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    a = ap.parse_args()
    if not dovecot.have_dovecot():
        print("dovecot (%s), doveadm or openssl is not installed" % dovecot.DOVECOT)
        return 77
    work = tempfile.mkdtemp(prefix="pq-imap-")
    dc = Dovecot(work)
    try:
        dc.start()
        pr = Probe(os.path.abspath(a.probe), dc)
        uids, want = test_fetch_exact(pr, dc)
        test_since(pr, dc, uids, want)
        test_verification(pr, dc)
        test_failures(pr, dc)
        test_scripted(pr)
        test_big(pr, dc)
        test_sparse(pr, dc)
        last = test_idle(pr, dc, uids[-1])
        test_restart(pr, dc, last)
    except Exception:
        print("dovecot log:\n" + dc.log())
        raise
    finally:
        if failures:
            print("dovecot log (last lines):\n" + "\n".join(dc.log().splitlines()[-30:]))
        dc.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
