"""smtpd: a private, throw-away SMTP receiver (aiosmtpd) for integration tests.

Each Smtpd runs aiosmtpd in a child process of the test (this file run as a
script), from a directory of its own: configuration, a test CA with server
certificates made by ``openssl``, the messages it accepted, a log of the
commands it saw and its own stderr. It listens on 127.0.0.1 only, on ports
the kernel picks at the first start (kept on restart): ``port`` (clear text
with STARTTLS) and ``smtps_port`` (implicit TLS).

    from smtpd import Smtpd, have_smtpd
    if not have_smtpd():
        sys.exit(77)
    with Smtpd(tmpdir, user="u", password="p") as sd:
        ... send to sd.host, sd.port with sd.ca_file ...
        for envelope, data in sd.messages(): ...
        sd.set_refuse([{"step": "RCPT", "code": 451, "times": 1}])

The server re-reads its control file (``set_refuse()``, ``set_options()``)
at every connection and command, so a test changes its behaviour without a
restart. A refusal rule is a dict:

    step   "MAIL", "RCPT" or "DATA" (DATA: the reply to the final dot)
    code   the reply code (451, 550, ...); text: the rest of the line
    times  how many transactions it spoils (0: all of them)
    rcpt   with step RCPT: only this recipient (default: every one)

Each accepted message is stored as NNNN.eml (the bytes aiosmtpd hands over:
line ends CRLF, dot-stuffing undone) and NNNN.json (its envelope: mail_from,
rcpt_tos, mail_options, tls, auth_user, helo). Every command the server
saw goes to events.jsonl as {"conn", "cmd", "arg", "tls"} as it arrives (for
AUTH only the mechanism), so a test can tell what reached the server.
"""
import atexit
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys

CERT_GOOD = "good"              # test CA, names localhost and 127.0.0.1
CERT_WRONG_NAME = "wrong-name"  # test CA, names smtp.example.org only
CERT_UNKNOWN_CA = "unknown-ca"  # another CA, names localhost and 127.0.0.1

_live = []


_python = []


def server_python():
    """A Python that can import aiosmtpd, or None: this one, else Debian's
    (whose dist-packages hold python3-aiosmtpd when a python3 of its own,
    pyenv's say, comes first in PATH). The server runs in its own process,
    so it need not be the test's interpreter."""
    if not _python:
        found = None
        for exe in [sys.executable, "/usr/bin/python3", shutil.which("python3")]:
            if exe and os.access(exe, os.X_OK) and subprocess.run(
                    [exe, "-c", "import aiosmtpd.smtp"], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
                found = exe
                break
        _python.append(found)
    return _python[0]


def have_smtpd():
    """True when aiosmtpd and openssl are there to run a server."""
    return server_python() is not None and shutil.which("openssl") is not None


def _die_with_parent():
    # The server must not outlive a test that was killed (meson's timeout
    # sends SIGTERM, which skips atexit): ask the kernel to stop it.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@atexit.register
def _stop_all():
    for s in list(_live):
        s.stop()


def _run(args, cwd):
    p = subprocess.run(args, capture_output=True, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(args), p.returncode,
                                                      p.stdout.decode(errors="replace"),
                                                      p.stderr.decode(errors="replace")))


class Pki:
    """A test CA, another CA nobody trusts, and server certificates."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self._ca("ca", "patchq smtp test CA")
        self._ca("other-ca", "patchq unknown CA")
        self._leaf(CERT_GOOD, "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
        self._leaf(CERT_WRONG_NAME, "ca", "smtp.example.org", "DNS:smtp.example.org")
        self._leaf(CERT_UNKNOWN_CA, "other-ca", "localhost", "DNS:localhost,IP:127.0.0.1")
        self.ca_file = os.path.join(d, "ca.crt")

    def _openssl(self, *args):
        _run(["openssl"] + list(args), self.dir)

    def _ca(self, name, cn):
        self._openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                      "-subj", "/CN=" + cn, "-keyout", name + ".key", "-out", name + ".crt",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _leaf(self, name, ca, cn, san):
        with open(os.path.join(self.dir, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-subj", "/CN=" + cn, "-keyout", name + ".key",
                      "-out", name + ".csr")
        self._openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
                      "-CAkey", ca + ".key",
                      "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                      "-days", "365", "-extfile", name + ".ext", "-out", name + ".crt")

    def cert(self, kind):
        return os.path.join(self.dir, kind + ".crt"), os.path.join(self.dir, kind + ".key")


class Smtpd:
    """One aiosmtpd in tmpdir/smtpd (created; removed by cleanup()).

    With user and password, AUTH PLAIN and LOGIN accept that pair (offered
    over TLS only) and MAIL FROM needs it (set_options(auth_required=False)
    lifts that)."""

    def __init__(self, tmpdir, user=None, password=None):
        self.dir = os.path.join(os.path.abspath(tmpdir), "smtpd")
        os.makedirs(self.dir)
        self.host = "127.0.0.1"
        self.user = user
        self.password = password
        self.port = None
        self.smtps_port = None
        self.proc = None
        self.cert = CERT_GOOD
        self.pki = Pki(os.path.join(self.dir, "pki"))
        self.ca_file = self.pki.ca_file
        self.spool = os.path.join(self.dir, "messages")
        os.makedirs(self.spool)
        self.events_file = os.path.join(self.dir, "events.jsonl")
        self.control_file = os.path.join(self.dir, "control.json")
        self.log_file = os.path.join(self.dir, "smtpd.log")
        self.password_file = os.path.join(self.dir, "password")
        with open(self.password_file, "w") as f:
            f.write(password or "")
        os.chmod(self.password_file, 0o600)
        self._generation = 0
        self._rules = []
        self._options = {"auth_required": user is not None, "starttls": True}
        self._write_control()

    # -- life cycle ---------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def _config(self):
        cert, key = self.pki.cert(self.cert)
        return {"host": self.host, "port": self.port or 0, "smtps_port": self.smtps_port or 0,
                "cert": cert, "key": key, "user": self.user, "password": self.password,
                "spool": self.spool, "events": self.events_file, "control": self.control_file}

    def start(self, timeout=20):
        """Starts the server and waits until it listens on both ports."""
        if self.proc is not None:
            return
        conf = os.path.join(self.dir, "config.json")
        with open(conf, "w") as f:
            json.dump(self._config(), f)
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen([server_python(), os.path.abspath(__file__), "--serve", conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=log, preexec_fn=_die_with_parent)
        log.close()
        _live.append(self)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        try:
            ports = json.loads(line)
        except ValueError:
            self.stop()
            raise RuntimeError("smtpd did not start:\n%s" % self.log())
        self.port, self.smtps_port = ports["port"], ports["smtps_port"]

    def stop(self):
        """Stops the server and waits for it to exit."""
        if self.proc is None:
            return
        p = self.proc
        self.proc = None
        if self in _live:
            _live.remove(self)
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdout.close()

    def restart(self):
        self.stop()
        self.start()

    def cleanup(self):
        """Stops the server and removes its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def use_cert(self, kind):
        """Presents another certificate (CERT_*); restarts a running server."""
        self.cert = kind
        if self.proc is not None:
            self.restart()

    def log(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # -- control ------------------------------------------------------------

    def _write_control(self):
        tmp = self.control_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"generation": self._generation, "rules": self._rules,
                       "options": self._options}, f)
        os.replace(tmp, self.control_file)

    def set_refuse(self, rules):
        """Replaces the refusal rules (see the module's comment); [] clears
        them. Counts of earlier rules start afresh."""
        self._generation += 1
        self._rules = list(rules)
        self._write_control()

    def set_options(self, **options):
        """auth_required (bool: MAIL FROM needs AUTH), starttls (bool: offer
        STARTTLS on the clear port), auth_exclude (list: AUTH mechanisms not
        to offer, e.g. ["PLAIN"])."""
        self._options.update(options)
        self._write_control()

    # -- what arrived -------------------------------------------------------

    def messages(self):
        """[(envelope dict, bytes)] of the accepted messages, oldest first."""
        out = []
        for name in sorted(os.listdir(self.spool)):
            if not name.endswith(".json"):
                continue
            with open(os.path.join(self.spool, name)) as f:
                env = json.load(f)
            with open(os.path.join(self.spool, name[:-5] + ".eml"), "rb") as f:
                out.append((env, f.read()))
        return out

    def events(self):
        """The commands the server saw, oldest first."""
        try:
            with open(self.events_file) as f:
                return [json.loads(line) for line in f if line.strip()]
        except OSError:
            return []

    def clear(self):
        """Forgets the stored messages and events (call while no client talks)."""
        for name in os.listdir(self.spool):
            os.unlink(os.path.join(self.spool, name))
        open(self.events_file, "w").close()


# ---- the server process ------------------------------------------------------

def _serve(conf_path):
    import asyncio
    import itertools
    import ssl

    from aiosmtpd.smtp import SMTP, AuthResult

    with open(conf_path) as f:
        conf = json.load(f)
    conn_ids = itertools.count(1)
    serial = itertools.count(len([n for n in os.listdir(conf["spool"])
                                  if n.endswith(".json")]) + 1)
    events = open(conf["events"], "a")

    class Control:
        """The control file, re-read when it changed; counts per rule."""

        def __init__(self):
            self.mtime = None
            self.data = {"generation": -1, "rules": [], "options": {}}
            self.used = {}

        def get(self):
            try:
                st = os.stat(conf["control"])
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
                if key != self.mtime:
                    with open(conf["control"]) as f:
                        data = json.load(f)
                    if data.get("generation") != self.data.get("generation"):
                        self.used = {}
                    self.data, self.mtime = data, key
            except (OSError, ValueError):
                pass
            return self.data

        def option(self, name, default):
            return self.get().get("options", {}).get(name, default)

        def refusal(self, step, envelope, address=None):
            """The reply that refuses this step, or None."""
            fired = envelope.__dict__.setdefault("fired", set())
            for i, rule in enumerate(self.get().get("rules", [])):
                if rule.get("step", "").upper() != step:
                    continue
                if rule.get("rcpt") and rule["rcpt"] != address:
                    continue
                times = rule.get("times", 0)
                if i not in fired:
                    if times and self.used.get(i, 0) >= times:
                        continue
                    self.used[i] = self.used.get(i, 0) + 1
                    fired.add(i)
                code = rule.get("code", 451)
                text = rule.get("text") or ("4.3.0 try again later" if code < 500
                                            else "5.7.1 refused by the test")
                return "%d %s" % (code, text)
            return None

    control = Control()

    def tls_of(server):
        t = server.transport
        return t is not None and t.get_extra_info("ssl_object") is not None

    def log_event(server, cmd, arg=None):
        events.write(json.dumps({"conn": server.conn_id, "cmd": cmd, "arg": arg,
                                 "tls": tls_of(server)}) + "\n")
        events.flush()

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            if not control.option("starttls", True):
                responses = [r for r in responses if "STARTTLS" not in r]
            return responses

        async def handle_HELO(self, server, session, envelope, hostname):
            session.host_name = hostname
            return "250 %s" % server.hostname

        async def handle_MAIL(self, server, session, envelope, address, options):
            no = control.refusal("MAIL", envelope)
            if no:
                return no
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 OK"

        async def handle_RCPT(self, server, session, envelope, address, options):
            no = control.refusal("RCPT", envelope, address)
            if no:
                return no
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            log_event(server, "DATA-END", len(envelope.original_content))
            no = control.refusal("DATA", envelope)
            if no:
                return no
            n = next(serial)
            base = os.path.join(conf["spool"], "%04d" % n)
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            os.replace(base + ".eml.tmp", base + ".eml")
            auth = session.auth_data
            env = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                   "mail_options": envelope.mail_options, "tls": tls_of(server),
                   "auth_user": auth.login.decode(errors="replace") if auth else None,
                   "helo": session.host_name, "conn": server.conn_id}
            with open(base + ".json.tmp", "w") as f:
                json.dump(env, f)
            os.replace(base + ".json.tmp", base + ".json")
            return "250 2.0.0 OK queued as %04d" % n

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (conf["user"] is not None
              and auth_data.login == conf["user"].encode()
              and auth_data.password == (conf["password"] or "").encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    class Server(SMTP):
        def __init__(self, implicit, **kw):
            self.conn_id = next(conn_ids)
            self.implicit = implicit
            super().__init__(Handler(), **kw)

        def connection_made(self, transport):
            first = self.transport is None
            super().connection_made(transport)
            if first:
                log_event(self, "CONNECT", "smtps" if self.implicit else "smtp")
            else:
                log_event(self, "TLS-UP")

        # Every command is logged as it arrives, before aiosmtpd or the
        # handler decides on it (an AUTH only with its mechanism).
        async def smtp_EHLO(self, arg):
            log_event(self, "EHLO", arg)
            await super().smtp_EHLO(arg)

        async def smtp_HELO(self, arg):
            log_event(self, "HELO", arg)
            await super().smtp_HELO(arg)

        async def smtp_STARTTLS(self, arg):
            log_event(self, "STARTTLS", arg)
            await super().smtp_STARTTLS(arg)

        async def smtp_AUTH(self, arg):
            log_event(self, "AUTH", arg.split()[0] if arg else None)
            await super().smtp_AUTH(arg)

        async def smtp_MAIL(self, arg):
            log_event(self, "MAIL", arg)
            await super().smtp_MAIL(arg)

        async def smtp_RCPT(self, arg):
            log_event(self, "RCPT", arg)
            await super().smtp_RCPT(arg)

        async def smtp_DATA(self, arg):
            log_event(self, "DATA", arg)
            await super().smtp_DATA(arg)

        async def smtp_RSET(self, arg):
            log_event(self, "RSET", arg)
            await super().smtp_RSET(arg)

        async def smtp_QUIT(self, arg):
            log_event(self, "QUIT", arg)
            await super().smtp_QUIT(arg)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(conf["cert"], conf["key"])

    def factory(implicit):
        return Server(implicit, hostname="localhost", enable_SMTPUTF8=True,
                      tls_context=None if implicit else ctx,
                      auth_required=bool(control.option("auth_required", False)),
                      # AUTH over the implicit port is over TLS, which aiosmtpd
                      # cannot tell there; on the clear port only after STARTTLS.
                      auth_require_tls=not implicit,
                      auth_exclude_mechanism=control.option("auth_exclude", []),
                      authenticator=authenticator)

    async def main():
        loop = asyncio.get_running_loop()
        plain = await loop.create_server(lambda: factory(False), conf["host"], conf["port"])
        smtps = await loop.create_server(lambda: factory(True), conf["host"],
                                         conf["smtps_port"], ssl=ctx)
        sys.stdout.write(json.dumps({"port": plain.sockets[0].getsockname()[1],
                                     "smtps_port": smtps.sockets[0].getsockname()[1]}) + "\n")
        sys.stdout.flush()
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        await stop
        plain.close()
        smtps.close()

    asyncio.run(main())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        _serve(sys.argv[2])
    else:
        sys.stderr.write("usage: smtpd.py --serve CONFIG.json (run by the Smtpd class)\n")
        sys.exit(2)
