#!/usr/bin/env python3
"""lib/smtp against a real aiosmtpd this test starts on loopback ports of its
own (tests/integration/smtpd.py), through the smtp_probe driver: STARTTLS,
implicit TLS and clear text, certificate verification before anything is
said, AUTH, byte-exact delivery, 4xx/5xx refusals at every step, refused
recipients, dead and silent servers, scripted misbehaving servers, and the
sendmail-program transport.

usage: test_smtp.py --probe PATH          (exit 77: aiosmtpd or openssl missing)
"""
import argparse
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtpd import CERT_GOOD, CERT_UNKNOWN_CA, CERT_WRONG_NAME, Smtpd, have_smtpd  # noqa: E402
from checks import check, failures  # noqa: E402

SENDER = "patchq@example.org"


def wire(msg):
    """What a receiver stores for msg: every line end CRLF, the last line ended."""
    out = msg.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


class Result:
    def __init__(self, p, elapsed):
        self.rc = p.returncode
        self.stdout = p.stdout
        self.stderr = p.stderr
        self.elapsed = elapsed
        self.result = None
        self.error = ""
        self.refused = []
        for line in p.stdout.splitlines():
            key, _, rest = line.partition(" ")
            if key == "result":
                self.result = rest
            elif key == "error":
                self.error = rest
            elif key == "refused":
                idx, code, reply = rest.split(" ", 2)
                self.refused.append((int(idx), code, reply))

    def __str__(self):
        return "%s%s%s" % (self.result, ": " + self.error if self.error else "",
                           "".join(" [refused %d %s %s]" % r for r in self.refused))


class Probe:
    """Runs smtp_probe against the server with the given options."""

    def __init__(self, exe, sd, work):
        self.exe = exe
        self.sd = sd
        self.work = work
        self.n = 0

    def _msg_file(self, msg):
        self.n += 1
        path = os.path.join(self.work, "msg-%d" % self.n)
        with open(path, "wb") as f:
            f.write(msg)
        return path

    def run(self, msg, rcpts, tls="starttls", port=None, host=None, ca=True, auth=False,
            password_file=None, sender=SENDER, extra=(), env=None, timeout=120):
        sd = self.sd
        if port is None:
            port = sd.smtps_port if tls == "implicit" else sd.port
        a = [self.exe, "--host", host or sd.host, "--port", str(port), "--tls", tls]
        if ca:
            a += ["--ca", sd.ca_file]
        if auth:
            a += ["--user", sd.user, "--password-file", password_file or sd.password_file]
        a += list(extra) + ["--from", sender, self._msg_file(msg)] + list(rcpts)
        return self._run(a, env, timeout)

    def sendmail(self, program, msg, rcpts, sender=SENDER, env=None, extra=()):
        a = ([self.exe, "--sendmail", program] + list(extra) +
             ["--from", sender, self._msg_file(msg)] + list(rcpts))
        return self._run(a, env, 120)

    def _run(self, a, env, timeout):
        t = time.monotonic()
        p = subprocess.run(a, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, **(env or {})))
        r = Result(p, time.monotonic() - t)
        if "Sanitizer" in p.stderr or "runtime error" in p.stderr:
            check(False, "no sanitizer report from smtp_probe:\n%s" % p.stderr)
        if r.result is None:
            check(False, "smtp_probe printed a result (rc %d): %s" % (p.returncode, p.stderr))
        return r


def conns_with(sd, cmd):
    """The connection ids in which the server saw cmd."""
    return {e["conn"] for e in sd.events() if e["cmd"] == cmd}


def said_after_tls(sd):
    """Commands the server got over TLS (sent after a verified handshake)."""
    return [e["cmd"] for e in sd.events() if e["tls"] and e["cmd"] not in ("CONNECT", "TLS-UP")]


# ---------------------------------------------------------------------------

def test_delivery(pr, sd):
    sd.clear()
    msg = (b"From: Patch Q <patchq@example.org>\n"
           b"To: Ann <ann@example.org>\r\n"
           b"Subject: [PATCH v2 1/3] rust: add the thing\n"
           b"Content-Type: text/plain; charset=utf-8\n"
           b"Content-Transfer-Encoding: 8bit\n"
           b"\n"
           b".a line that starts with a dot\n"
           b".\n"
           b"..two dots\n"
           b"\r\n"
           b"na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe2\x9c\x93\n"
           b" .not at line start\n"
           b"last line without a line end")
    r = pr.run(msg, ["ann@example.org"])
    check(r.result == "OK", "STARTTLS with the test CA delivers (%s)" % r)
    got = sd.messages()
    check(len(got) == 1, "the server stored one message (%d)" % len(got))
    if got:
        env, data = got[0]
        check(data == wire(msg),
              "received bytes equal the message with CRLF line ends, dot lines intact, "
              "8-bit UTF-8 untouched and the last line ended")
        check(env["mail_from"] == SENDER and env["rcpt_tos"] == ["ann@example.org"],
              "envelope: MAIL FROM and RCPT TO as given (%s %s)" %
              (env["mail_from"], env["rcpt_tos"]))
        check("BODY=8BITMIME" in env["mail_options"],
              "8-bit body announced with BODY=8BITMIME (%s)" % env["mail_options"])
        check(env["tls"], "the message came over TLS")
        check(env["helo"] == socket.gethostname(),
              "EHLO name defaults to the host's name (%s)" % env["helo"])
    cmds = [e["cmd"] for e in sd.events()]
    check(cmds[:5] == ["CONNECT", "EHLO", "STARTTLS", "TLS-UP", "EHLO"],
          "EHLO, STARTTLS, handshake, EHLO again (%s)" % cmds[:5])
    check(cmds.index("MAIL") > cmds.index("TLS-UP") and
          all(e["tls"] for e in sd.events() if e["cmd"] == "MAIL"),
          "MAIL FROM only after TLS")
    check(cmds[-1] == "QUIT", "the session ends with QUIT (%s)" % cmds[-1])

    # A message that already ends with CRLF gains no blank line (libetpan's
    # mailstream_send_data() would add one); 7 bits: no BODY parameter.
    sd.clear()
    msg = b"Subject: crlf\r\n\r\nbody\r\n.\r\n"
    r = pr.run(msg, ["ann@example.org"])
    got = sd.messages()
    check(r.result == "OK" and len(got) == 1 and got[0][1] == msg,
          "a CRLF message ending in a line end arrives byte for byte (%s)" % r)
    if got:
        check(not any(o.startswith("BODY") for o in got[0][0]["mail_options"]),
              "a 7-bit message carries no BODY= (%s)" % got[0][0]["mail_options"])

    sd.clear()
    r = pr.run(b"", ["ann@example.org"])
    got = sd.messages()
    check(r.result == "OK" and len(got) == 1 and got[0][1] == b"",
          "an empty message is sent as just the final dot (%s)" % r)

    # Big, with many dot lines across the client's 64 KiB write chunks.
    sd.clear()
    lines = []
    for i in range(60000):
        lines.append(b"." * (i % 3) + b"line %d \xc3\xa9" % i)
    msg = b"Subject: big\n\n" + b"\n".join(lines) + b"\n"
    r = pr.run(msg, ["ann@example.org"])
    got = sd.messages()
    check(r.result == "OK" and len(got) == 1 and got[0][1] == wire(msg),
          "a %d KiB message with 40,000 dot lines arrives byte for byte (%s)" %
          (len(msg) // 1024, r))

    sd.clear()
    r = pr.run(b"Subject: helo\n\nx\n", ["ann@example.org"], extra=["--helo", "client.example.org"])
    got = sd.messages()
    check(r.result == "OK" and got and got[0][0]["helo"] == "client.example.org",
          "--helo sets the EHLO name (%s)" % (got[0][0]["helo"] if got else r))

    sd.clear()
    r = pr.run(b"Subject: implicit\n\nx\n", ["ann@example.org"], tls="implicit")
    got = sd.messages()
    check(r.result == "OK" and len(got) == 1 and got[0][0]["tls"],
          "implicit TLS (smtps) delivers (%s)" % r)
    check("STARTTLS" not in [e["cmd"] for e in sd.events()], "implicit TLS sends no STARTTLS")

    sd.clear()
    r = pr.run(b"Subject: localhost\n\nx\n", ["ann@example.org"], host="localhost")
    check(r.result == "OK", "host name 'localhost' verifies against the certificate's DNS "
          "name (%s)" % r)

    sd.clear()
    r = pr.run(b"Subject: clear\n\nx\n", ["ann@example.org"], tls="none", ca=False)
    got = sd.messages()
    check(r.result == "OK" and len(got) == 1 and not got[0][0]["tls"],
          "clear text to a loopback address delivers without TLS (%s)" % r)

    sd.clear()
    r = pr.run(b"Subject: utf8\n\nx\n", ["j\u00fcrgen@example.org"])
    got = sd.messages()
    check(r.result == "OK" and got and "SMTPUTF8" in got[0][0]["mail_options"],
          "a non-ASCII address goes with SMTPUTF8 (%s)" % r)


def test_verification(pr, sd):
    def refused(what, tls, ca=True, kind_msg="certificate not trusted"):
        sd.clear()
        r = pr.run(b"Subject: x\n\nx\n", ["ann@example.org"], tls=tls, ca=ca)
        check(r.result == "EPERM" and kind_msg in r.error,
              "%s (%s): EPERM, \"%s\" (%s)" % (what, tls, kind_msg, r))
        check(not said_after_tls(sd) and not sd.messages(),
              "%s (%s): nothing said after the handshake, no MAIL FROM (%s)" %
              (what, tls, said_after_tls(sd)))

    for tls in ("starttls", "implicit"):
        refused("without the CA the test certificate is not trusted", tls, ca=False)
    sd.use_cert(CERT_WRONG_NAME)
    for tls in ("starttls", "implicit"):
        refused("a trusted certificate for another name", tls, kind_msg="host name mismatch")
    sd.use_cert(CERT_UNKNOWN_CA)
    for tls in ("starttls", "implicit"):
        refused("a certificate from an unknown CA", tls)
    sd.clear()
    r = pr.run(b"Subject: nv\n\nx\n", ["ann@example.org"], extra=["--no-verify"])
    check(r.result == "OK" and len(sd.messages()) == 1,
          "--no-verify delivers despite the unknown CA (%s)" % r)
    sd.use_cert(CERT_GOOD)
    sd.clear()
    r = pr.run(b"Subject: x\n\nx\n", ["ann@example.org"], extra=["--ca", "/nonexistent/ca.pem"])
    check(r.result == "EPERM" and "cannot load CA file /nonexistent/ca.pem: No such file"
          in r.error and not sd.messages(),
          "an unreadable CA file is EPERM, nothing sent (%s)" % r)
    r = pr.run(b"Subject: x\n\nx\n", ["ann@example.org"])
    check(r.result == "OK", "the good certificate is trusted again after a restart (%s)" % r)


def test_auth(pr, sd, work):
    sd.set_options(auth_required=True)
    try:
        sd.clear()
        r = pr.run(b"Subject: auth\n\nx\n", ["ann@example.org"], auth=True)
        got = sd.messages()
        check(r.result == "OK" and got and got[0][0]["auth_user"] == sd.user,
              "AUTH PLAIN with the right password over STARTTLS delivers (%s)" % r)
        check([e["arg"] for e in sd.events() if e["cmd"] == "AUTH"] == ["PLAIN"],
              "AUTH PLAIN is used when offered")
        sd.clear()
        r = pr.run(b"Subject: auth\n\nx\n", ["ann@example.org"], tls="implicit", auth=True)
        check(r.result == "OK" and len(sd.messages()) == 1,
              "AUTH over implicit TLS delivers (%s)" % r)

        wrong = os.path.join(work, "wrong-password")
        with open(wrong, "w") as f:
            f.write("not the password\n")
        sd.clear()
        r = pr.run(b"Subject: auth\n\nx\n", ["ann@example.org"], auth=True,
                   password_file=wrong)
        check(r.result == "EPERM" and "535" in r.error and "AUTH PLAIN as " + sd.user in r.error,
              "a wrong password: EPERM with the server's 535 (%s)" % r)
        check(not conns_with(sd, "MAIL") and not sd.messages(), "no MAIL FROM after a failed AUTH")

        sd.set_options(auth_exclude=["PLAIN"])
        sd.clear()
        r = pr.run(b"Subject: login\n\nx\n", ["ann@example.org"], auth=True)
        check(r.result == "OK" and [e["arg"] for e in sd.events() if e["cmd"] == "AUTH"] ==
              ["LOGIN"], "AUTH LOGIN when PLAIN is not offered (%s)" % r)
        r = pr.run(b"Subject: login\n\nx\n", ["ann@example.org"], auth=True,
                   password_file=wrong)
        check(r.result == "EPERM" and "535" in r.error and "AUTH LOGIN" in r.error,
              "AUTH LOGIN with a wrong password: EPERM, 535 (%s)" % r)
        sd.set_options(auth_exclude=[])

        sd.clear()
        r = pr.run(b"Subject: noauth\n\nx\n", ["ann@example.org"])
        check(r.result == "EPERM" and "530" in r.error and "MAIL FROM" in r.error,
              "no credentials where the server needs them: EPERM, 530 at MAIL FROM (%s)" % r)

        # aiosmtpd offers AUTH only over TLS; a password is never sent in the clear.
        sd.clear()
        r = pr.run(b"Subject: clear\n\nx\n", ["ann@example.org"], tls="none", ca=False,
                   auth=True)
        check(r.result == "EPERM" and "the server offers no AUTH" in r.error and
              not conns_with(sd, "AUTH"),
              "a server offering no usable AUTH: EPERM, nothing sent (%s)" % r)
    finally:
        sd.set_options(auth_required=False, auth_exclude=[])


def test_refusals(pr, sd):
    msg = b"Subject: refuse\n\nx\n"

    def case(rules, rcpts, want, what, stored=0, text=None):
        sd.set_refuse(rules)
        sd.clear()
        r = pr.run(msg, rcpts)
        n = len(sd.messages())
        check(r.result == want and n == stored and (text is None or text in r.error),
              "%s: %s, %d stored (%s)" % (what, want, stored, r))
        return r

    case([{"step": "RCPT", "code": 451, "times": 1}], ["ann@example.org"], "ETEMP",
         "451 at RCPT TO", text="RCPT TO <ann@example.org>: 451 4.3.0 try again later")
    case([], ["ann@example.org"], "OK", "the same message again once the 451 passed", stored=1)
    sd.set_refuse([{"step": "RCPT", "code": 451, "times": 1}])
    sd.clear()
    r1 = pr.run(msg, ["ann@example.org"])
    r2 = pr.run(msg, ["ann@example.org"])
    check(r1.result == "ETEMP" and r2.result == "OK" and len(sd.messages()) == 1,
          "a rule for the next transaction only: ETEMP, then OK (%s / %s)" % (r1, r2))
    case([{"step": "DATA", "code": 451, "text": "4.3.0 queue full"}], ["ann@example.org"],
         "ETEMP", "451 to the end of DATA", text="end of DATA: 451 4.3.0 queue full")
    case([{"step": "MAIL", "code": 421, "text": "4.7.0 closing"}], ["ann@example.org"],
         "ETEMP", "421 at MAIL FROM", text="MAIL FROM <%s>: 421" % SENDER)
    case([{"step": "MAIL", "code": 550, "text": "5.7.1 sender rejected"}], ["ann@example.org"],
         "EPERM", "550 at MAIL FROM", text="MAIL FROM <%s>: 550 5.7.1 sender rejected" % SENDER)
    r = case([{"step": "RCPT", "code": 550, "text": "5.1.1 no such user"}], ["bob@example.org"],
             "EPERM", "550 at RCPT TO", text="RCPT TO <bob@example.org>: 550 5.1.1 no such user")
    check(r.refused == [(0, "EPERM", "550 5.1.1 no such user")],
          "the refused recipient is reported (%s)" % r.refused)
    case([{"step": "DATA", "code": 554, "text": "5.6.0 content rejected"}], ["ann@example.org"],
         "EPERM", "554 to the end of DATA", text="end of DATA: 554 5.6.0 content rejected")

    r = case([{"step": "RCPT", "code": 550, "text": "5.1.1 no such user",
               "rcpt": "bob@example.org"}], ["ann@example.org", "bob@example.org"],
             "OK", "one of two recipients refused with 550: delivered to the other", stored=1)
    got = sd.messages()
    check(got and got[0][0]["rcpt_tos"] == ["ann@example.org"],
          "the message went to the accepted recipient only (%s)" %
          (got[0][0]["rcpt_tos"] if got else None))
    check(r.refused == [(1, "EPERM", "550 5.1.1 no such user")],
          "the refused one is reported with its reply (%s)" % r.refused)

    r = case([{"step": "RCPT", "code": 452, "text": "4.2.2 mailbox full",
               "rcpt": "bob@example.org"}], ["ann@example.org", "bob@example.org"],
             "ETEMP", "one of two recipients refused with 452: nothing sent, retry all",
             text="RCPT TO <bob@example.org>: 452 4.2.2 mailbox full")
    check(r.refused == [(1, "ETEMP", "452 4.2.2 mailbox full")],
          "the 4xx recipient is reported (%s)" % r.refused)

    r = case([{"step": "RCPT", "code": 550}], ["ann@example.org", "bob@example.org"], "EPERM",
             "both recipients refused", text="2 of 2 recipients refused")
    check([x[0] for x in r.refused] == [0, 1], "both are reported (%s)" % r.refused)
    sd.set_refuse([])


def silent_listener():
    """A socket that accepts connections (in the kernel's backlog) and never speaks."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


def non_loopback_address():
    """An IPv4 address of this host that is not loopback, or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
            addr = u.getsockname()[0]
        return None if addr.startswith("127.") else addr
    except OSError:
        return None


def test_network(pr, sd):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r = pr.run(b"x\n", ["ann@example.org"], port=port)
    check(r.result == "ETEMP" and "connection refused" in r.error and r.elapsed < 10,
          "connection refused: ETEMP (%s)" % r)

    lst = silent_listener()
    try:
        for tls, what in (("starttls", "greeting"), ("implicit", "TLS handshake")):
            r = pr.run(b"x\n", ["ann@example.org"], tls=tls, port=lst.getsockname()[1],
                       extra=["--timeout", "2"])
            check(r.result == "ETEMP" and "timed out" in r.error and 1.5 <= r.elapsed < 15,
                  "a server that never greets (%s): ETEMP after the 2 s timeout, %.1f s (%s)"
                  % (what, r.elapsed, r))
    finally:
        lst.close()

    addr = non_loopback_address()
    if addr is None:
        print("ok   clear text to a non-loopback address: no such address here, not checked")
    else:
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.bind((addr, 0))
        lst.listen(4)
        try:
            r = pr.run(b"x\n", ["ann@example.org"], tls="none", host=addr,
                       port=lst.getsockname()[1], ca=False, extra=["--timeout", "5"])
            check(r.result == "EINVAL" and "clear text" in r.error and r.elapsed < 4,
                  "clear text to a non-loopback address is refused before a word (%s)" % r)
        finally:
            lst.close()

    sd.clear()
    r = pr.run(b"x\n", ["ann@example.org>\r\nRSET"])
    check(r.result == "EINVAL" and not sd.events() and '"ann@example.org>??RSET"' in r.error,
          "a recipient with CR LF and '>' is refused before connecting (%s)" % r)

    sd.set_options(starttls=False)
    sd.clear()
    r = pr.run(b"x\n", ["ann@example.org"])
    check(r.result == "EPERM" and "does not offer STARTTLS" in r.error and
          not conns_with(sd, "MAIL"),
          "STARTTLS asked for but not offered: EPERM, no MAIL FROM in clear text (%s)" % r)
    sd.set_options(starttls=True)


class Scripted:
    """A one-connection server on loopback that answers each line the client
    sends with the next reply of a script (bytes sent as they are; None: go
    silent). The first reply is the greeting; after a 354 the lines up to
    "." are the message (body), and the next reply answers its end."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.lines = []
        self.body = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(30)
        self.buf = b""
        try:
            for reply in self.replies:
                if reply is None:
                    c.recv(1)  # until the client hangs up
                    break
                c.sendall(reply)
                if reply.startswith(b"354"):
                    body = []
                    line = self._line(c)
                    while line is not None and line != b".":
                        body.append(line)
                        line = self._line(c)
                    self.body = b"".join(ln + b"\r\n" for ln in body)
                    continue
                line = self._line(c)
                if line is None:
                    return
                self.lines.append(line)
        except OSError:
            pass
        finally:
            c.close()

    def _line(self, c):
        while b"\n" not in self.buf:
            data = c.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def close(self):
        self.sock.close()
        self.thread.join(5)


def test_scripted(pr):
    ehlo = b"250-test.example\r\n250-8BITMIME\r\n250 SIZE 1000\r\n"

    def run(replies, what, want, text, tls="none", msg=b"Subject: s\n\nx\n",
            rcpts=("ann@example.org",)):
        srv = Scripted(replies)
        try:
            r = pr.run(msg, list(rcpts), tls=tls, port=srv.port, ca=False,
                       extra=["--timeout", "2"])
        finally:
            srv.close()
        check(r.result == want and text in r.error, "%s: %s, \"%s\" (%s)" % (what, want, text, r))
        return r, srv

    run([b"554 5.3.2 no service here\r\n"], "a 554 greeting", "EPERM",
        "greeting: 554 5.3.2 no service here")
    run([b"421 4.3.2 busy, come back later\r\n"], "a 421 greeting", "ETEMP", "greeting: 421")
    r, _ = run([b"220 hi\r\n", ehlo, b"250 ok\r\n", None], "silent at RCPT TO", "ETEMP",
                   "RCPT TO <ann@example.org>: no answer within 2 s (timed out)")
    check(1.5 <= r.elapsed < 15, "the silent server is given up after the timeout (%.1f s)"
          % r.elapsed)
    run([b"220 hi\r\n", b"hello there\r\n"], "a reply that is not SMTP", "ETEMP",
        "EHLO: malformed reply")
    run([b"220 hi\r\n", b"250-test\r\n" + b"250-" + b"x" * 5000 + b"\r\n"],
        "a reply line of 5000 bytes", "ETEMP", "EHLO: malformed reply")
    run([b"220 hi\r\n", b"250 test\r\n", b"250 ok\r\n",
         b"550-5.1.1 first line\r\n550 5.1.1 second line\r\n"],
        "a multi-line refusal", "EPERM", "RCPT TO <ann@example.org>: 550 5.1.1 first line "
        "5.1.1 second line")
    run([b"220 hi\r\n", b"250 test\r\n"], "closed after EHLO", "ETEMP",
        "MAIL FROM <%s>: connection closed by the server" % SENDER)
    ok = [b"220 hi\r\n", ehlo, b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n",
          b"250 queued\r\n", b"221 bye\r\n"]
    r, srv = run(ok, "a message over the server's SIZE", "EPERM",
                 "over the server's limit of 1000", msg=b"Subject: big\n\n" + b"y" * 2000 + b"\n")
    check(not any(ln.startswith(b"MAIL") for ln in srv.lines),
          "nothing offered to a server that cannot take it (%s)" % srv.lines)
    msg = b"Subject: s\n\n.x\n"
    r, srv = run(ok, "a small message", "OK", "", msg=msg)
    size = len(wire(msg)) + 1 + 3  # one dot stuffed, ".\r\n"
    check(srv.lines == [b"EHLO " + socket.gethostname().encode(),
                        b"MAIL FROM:<%s> SIZE=%d" % (SENDER.encode(), size),
                        b"RCPT TO:<ann@example.org>", b"DATA", b"QUIT"],
          "the dialogue: EHLO, MAIL FROM with SIZE, RCPT TO, DATA, QUIT (%s)" % srv.lines)
    check(srv.body == b"Subject: s\r\n\r\n..x\r\n",
          "on the wire the dot line is stuffed (%r)" % srv.body)
    # Data after the STARTTLS go-ahead would be read as if it came over TLS.
    run([b"220 hi\r\n", b"250-test\r\n250 STARTTLS\r\n", b"220 go ahead\r\n250 injected\r\n"],
        "data after the STARTTLS answer", "ETEMP", "server sent data after its STARTTLS answer",
        tls="starttls")


def write_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def test_sendmail(pr, work):
    d = os.path.join(work, "sendmail")
    os.makedirs(d)
    prog = os.path.join(d, "fake-sendmail")
    write_script(prog, 'd=$(dirname "$0")\n'
                       'printf "%s\\n" "$0" "$@" > "$d/argv"\n'
                       '[ -n "$NOREAD" ] || cat > "$d/stdin"\n'
                       '[ -z "$ERR" ] || printf "%s\\nsecond line\\n" "$ERR" >&2\n'
                       '[ -z "$KILL" ] || kill -9 $$\n'
                       '[ -z "$HANG" ] || { sleep 30 & echo $! > "$d/bgpid"; sleep 30; }\n'
                       'exit "${STATUS:-0}"\n')
    msg = b"Subject: sm\r\n\r\n.dot line\r\nna\xc3\xafve\r\nbare lf\nlast"

    def read(name):
        with open(os.path.join(d, name), "rb") as f:
            return f.read()

    r = pr.sendmail(prog, msg, ["ann@example.org", "bob@example.org"])
    check(r.result == "OK", "sendmail exit 0: OK (%s)" % r)
    argv = read("argv").decode().splitlines()
    check(argv == [prog, "-i", "-f", SENDER, "--", "ann@example.org", "bob@example.org"],
          "argv is PROGRAM -i -f SENDER -- RCPT... (%s)" % argv)
    check(read("stdin") == msg.replace(b"\r\n", b"\n"),
          "stdin is the message with LF line ends, dots untouched (%r)" % read("stdin")[:40])

    r = pr.sendmail(prog, msg, ["ann@example.org"], sender="")
    check(r.result == "OK" and read("argv").decode().splitlines()[2:4] == ["-f", ""],
          "the null sender is passed as -f ''")
    r = pr.sendmail(prog, msg, ["ann@example.org"], env={"STATUS": "75", "ERR": "try later"})
    check(r.result == "ETEMP" and "status 75" in r.error and "try later second line" in r.error,
          "sendmail exit 75 (EX_TEMPFAIL): ETEMP with its stderr on one line (%s)" % r)
    r = pr.sendmail(prog, msg, ["ann@example.org"], env={"STATUS": "67", "ERR": "no such user"})
    check(r.result == "EPERM" and "status 67" in r.error and "no such user" in r.error,
          "sendmail exit 67: EPERM with its stderr (%s)" % r)
    r = pr.sendmail(prog, msg, ["ann@example.org"], env={"STATUS": "1", "ERR": "x" * 5000})
    check(r.result == "EPERM" and len(r.error) < 1100,
          "a long stderr is bounded in the message (%d bytes)" % len(r.error))
    r = pr.sendmail(prog, msg, ["ann@example.org"], env={"KILL": "1"})
    check(r.result == "ETEMP" and "signal 9" in r.error, "sendmail killed: ETEMP (%s)" % r)
    big = b"Subject: big\n\n" + (b"z" * 76 + b"\n") * 40000
    r = pr.sendmail(prog, big, ["ann@example.org"], env={"NOREAD": "1"})
    check(r.result == "OK", "a program that exits without reading 3 MB of stdin does not "
          "kill us with SIGPIPE (%s)" % r)
    r = pr.sendmail(os.path.join(d, "does-not-exist"), msg, ["ann@example.org"])
    check(r.result == "ETEMP" and "cannot run" in r.error,
          "a program that cannot be run: ETEMP (%s)" % r)
    r = pr.sendmail(prog, msg, ["-oQ/tmp/evil"])
    check(r.result == "EINVAL", "a recipient starting with '-' is refused (%s)" % r)

    # patchqd stopping (pq_stop_requested) ends a hung sendmail and what it started
    r = pr.sendmail(prog, msg, ["ann@example.org"], env={"HANG": "1"},
                    extra=["--stop-after", "500"])
    check(r.result == "ETEMP" and "stopped" in r.error and r.elapsed < 10,
          "a stop request kills a hung sendmail: ETEMP, the reply stays pending "
          "(%s, %.1f s)" % (r, r.elapsed))
    bg = int(read("bgpid"))
    check(gone(bg), "the process the sendmail left in the background was killed with it")


def gone(pid):
    """Whether pid has exited (a zombie not yet reaped by its new parent counts)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--probe", required=True)
    a = ap.parse_args()
    if not have_smtpd():
        print("aiosmtpd (python3-aiosmtpd) or openssl is not installed")
        return 77
    work = tempfile.mkdtemp(prefix="pq-smtp-")
    sd = Smtpd(work, user="patchq", password="s3cret pass\"word")
    sd.set_options(auth_required=False)
    try:
        sd.start()
        pr = Probe(os.path.abspath(a.probe), sd, work)
        test_delivery(pr, sd)
        test_verification(pr, sd)
        test_auth(pr, sd, work)
        test_refusals(pr, sd)
        test_network(pr, sd)
        test_scripted(pr)
        test_sendmail(pr, work)
    except Exception:
        print("smtpd log:\n" + sd.log())
        raise
    finally:
        if failures:
            print("smtpd log (last lines):\n" + "\n".join(sd.log().splitlines()[-30:]))
        sd.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
