"""dovecot: a private, throw-away dovecot IMAP server for integration tests.

Each Dovecot runs as a child of the test (``dovecot -F``) from a directory of
its own: configuration, passwd-file, maildirs, logs, runtime sockets and a
test CA with server certificates made by ``openssl``. It listens on 127.0.0.1
only, on free ports chosen at start: ``imap_port`` (plain and STARTTLS) and
``imaps_port`` (implicit TLS). Works as root (CI) and as an ordinary user.

    from dovecot import Dovecot, have_dovecot
    if not have_dovecot():
        sys.exit(77)
    with Dovecot(tmpdir) as dc:
        uid = dc.append("INBOX", b"Subject: x\\r\\n\\r\\nbody\\r\\n")
        ... connect to dc.host, dc.imaps_port with dc.ca_file ...

Only the standard library is used; imaplib is the independent client that
puts mail in (APPEND) while the code under test reads it.
"""
import atexit
import ctypes
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"

# Certificates the server can present (see use_cert()).
CERT_GOOD = "good"              # test CA, names localhost and 127.0.0.1
CERT_WRONG_NAME = "wrong-name"  # test CA, names imap.example.org only
CERT_UNKNOWN_CA = "unknown-ca"  # another CA, names localhost and 127.0.0.1
CERT_SELF_SIGNED = "self-signed"  # its own issuer, names localhost and 127.0.0.1

_live = []


def have_dovecot():
    """True when dovecot, doveadm and openssl are there to run a server."""
    return (os.access(DOVECOT, os.X_OK) and os.access(DOVEADM, os.X_OK)
            and shutil.which("openssl") is not None)


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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
    for d in list(_live):
        d.stop()


def _children(pid):
    """{child pid: start time} of the processes whose parent is pid."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids[int(d)] = fields[19]
    return kids


def _same_process(pid, start):
    """True while pid is still the process that started at start (a zombie
    left to a pid 1 that does not reap counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    fields = st[st.rindex(")") + 2:].split()
    return fields[0] != "Z" and fields[19] == start


def _run(args, **kw):
    p = subprocess.run(args, capture_output=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(args), p.returncode,
                                                      p.stdout.decode(errors="replace"),
                                                      p.stderr.decode(errors="replace")))
    return p


class Dovecot:
    """One dovecot instance in tmpdir/dovecot (created; removed by cleanup())."""

    def __init__(self, tmpdir, user="patchq", password="s3cret pass\"word"):
        self.dir = os.path.join(os.path.abspath(tmpdir), "dovecot")
        os.makedirs(self.dir)
        # Dovecot's unprivileged helpers (when root) must reach their sockets.
        os.chmod(self.dir, 0o755)
        self.host = "127.0.0.1"
        self.user = user
        self.password = password
        self.imap_port = None
        self.imaps_port = None
        self.proc = None
        self.cert = CERT_GOOD
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_file = os.path.join(self.dir, "dovecot.log")
        self.password_file = os.path.join(self.dir, "password")
        with open(self.password_file, "w") as f:
            f.write(password)
        os.chmod(self.password_file, 0o600)
        self._make_certs()
        self._write_users()

    # -- certificates -------------------------------------------------------

    def _openssl(self, *args):
        _run(["openssl"] + list(args), cwd=self.pki)

    def _make_ca(self, name, cn):
        self._openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
                      "-subj", "/CN=" + cn, "-keyout", name + ".key", "-out", name + ".crt",
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def _make_leaf(self, name, ca, cn, san):
        ext = os.path.join(self.pki, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n" % san)
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-subj", "/CN=" + cn, "-keyout", name + ".key",
                      "-out", name + ".csr")
        serial = str(int.from_bytes(os.urandom(8), "big"))
        self._openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt",
                      "-CAkey", ca + ".key", "-set_serial", serial,
                      "-days", "365", "-extfile", ext, "-out", name + ".crt")

    def _make_certs(self):
        self.pki = os.path.join(self.dir, "pki")
        os.makedirs(self.pki)
        self._make_ca("ca", "patchq test CA")
        self._make_ca("other-ca", "patchq unknown CA")
        self._make_leaf(CERT_GOOD, "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
        self._make_leaf(CERT_WRONG_NAME, "ca", "imap.example.org", "DNS:imap.example.org")
        self._make_leaf(CERT_UNKNOWN_CA, "other-ca", "localhost", "DNS:localhost,IP:127.0.0.1")
        # as a self-hosted server often has: the client trusts the cert itself
        self._openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365",
                      "-subj", "/CN=localhost", "-keyout", CERT_SELF_SIGNED + ".key",
                      "-out", CERT_SELF_SIGNED + ".crt",
                      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
        # The CA bundle a client passes to trust the good and wrong-name certs.
        self.ca_file = os.path.join(self.pki, "ca.crt")

    def cert_file(self, kind=CERT_GOOD):
        return os.path.join(self.pki, kind + ".crt")

    # -- configuration ------------------------------------------------------

    def _write_users(self):
        # Mail is stored as the current user; dovecot refuses mail access as
        # root, so as root it is stored as nobody.
        self.uid = os.getuid()
        self.gid = os.getgid()
        if self.uid == 0:
            try:
                pw = pwd.getpwnam("nobody")
                self.uid, self.gid = pw.pw_uid, pw.pw_gid
            except KeyError:
                self.uid = self.gid = 65534
            # nobody must reach its maildir below the test's directory
            d = self.dir
            while d != "/":
                d = os.path.dirname(d)
                mode = os.stat(d).st_mode
                if not mode & 0o001:
                    os.chmod(d, (mode & 0o7777) | 0o011)
        self.home = os.path.join(self.dir, "home", self.user)
        os.makedirs(self.home)
        os.chown(os.path.dirname(self.home), self.uid, self.gid)
        os.chown(self.home, self.uid, self.gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            # uid and gid come from mail_uid/mail_gid: passwd-file refuses 0
            f.write("%s:{PLAIN}%s::::%s\n" % (self.user, self.password, self.home))

    def _write_conf(self):
        d = self.dir
        if os.getuid() == 0:
            # dovecot's own unprivileged users, from the Debian package
            users = chroot = anvil = ""
        else:
            # everything runs as us, and only root may chroot
            me = pwd.getpwuid(self.uid).pw_name
            grp_name = grp.getgrgid(self.gid).gr_name
            users = ("default_login_user = %s\ndefault_internal_user = %s\n"
                     "default_internal_group = %s\n" % (me, me, grp_name))
            chroot = "  chroot =\n"
            anvil = "service anvil {\n  chroot =\n}\n"
        conf = """# written by tests/integration/dovecot.py
instance_name = patchq-test-{port}
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
{users}first_valid_uid = 1
first_valid_gid = 1
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_fsync = never
# IDLE learns of new mail through inotify; should the server get no
# inotify instance (the per-user limit, with many tests at once), its
# fallback check comes every second instead of every 30
mailbox_idle_check_interval = 1 secs
ssl = yes
ssl_cert = <{d}/pki/{cert}.crt
ssl_key = <{d}/pki/{cert}.key
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service imap-login {{
{chroot}  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {sport}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
{anvil}""".format(d=d, users=users, chroot=chroot, anvil=anvil, uid=self.uid, gid=self.gid, cert=self.cert,
           port=self.imap_port, sport=self.imaps_port)
        with open(self.conf, "w") as f:
            f.write(conf)

    # -- life cycle ---------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def start(self, timeout=20):
        """Starts the server (ports chosen on first start, kept on restart)
        and waits until both ports accept connections."""
        if self.proc is not None:
            return
        if self.imap_port is None:
            self.imap_port = free_port()
            self.imaps_port = free_port()
            while self.imaps_port == self.imap_port:
                self.imaps_port = free_port()
        self._write_conf()
        self._log_at = os.path.getsize(self.log_file) if os.path.exists(self.log_file) else 0
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        _live.append(self)
        deadline = time.monotonic() + timeout
        for port in (self.imap_port, self.imaps_port):
            while True:
                if self.proc.poll() is not None:
                    out = self.proc.stdout.read().decode(errors="replace")
                    self.proc = None
                    _live.remove(self)
                    raise RuntimeError("dovecot exited at start (%s):\n%s\n%s" %
                                       (self.conf, out, self.log()))
                try:
                    socket.create_connection((self.host, port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("dovecot did not listen on %d:\n%s" % (port, self.log()))
                    time.sleep(0.05)

    def stop(self):
        """Stops the server and waits for it (and its children) to exit."""
        if self.proc is None:
            return
        p = self.proc
        self.proc = None
        if self in _live:
            _live.remove(self)
        # The master's own children (imap, imap-login, auth...): a mail process
        # can outlive a stopped master by ten seconds and more, holding its
        # client's connection, so they are stopped here too, by pid.
        kids = _children(p.pid)
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        p.stdout.close()
        for pid, start in kids.items():
            if _same_process(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        deadline = time.monotonic() + 10
        while any(_same_process(k, st) for k, st in kids.items()) and time.monotonic() < deadline:
            time.sleep(0.02)
        # The master is gone once its pid file is; wait for the listeners too,
        # so a restart can bind the same ports.
        deadline = time.monotonic() + 10
        for port in (self.imap_port, self.imaps_port):
            while time.monotonic() < deadline:
                try:
                    socket.create_connection((self.host, port), timeout=0.2).close()
                    time.sleep(0.05)
                except OSError:
                    break

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

    def log(self, since_start=False):
        """Dovecot's log (since the last start with since_start)."""
        try:
            with open(self.log_file, "rb") as f:
                if since_start:
                    f.seek(self._log_at)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # -- mail ---------------------------------------------------------------

    def client(self, tls=True):
        """An imaplib connection, logged in (the caller logs out)."""
        if tls:
            ctx = ssl.create_default_context(cafile=self.ca_file)
            c = imaplib.IMAP4_SSL(self.host, self.imaps_port, ssl_context=ctx, timeout=30)
        else:
            c = imaplib.IMAP4(self.host, self.imap_port, timeout=30)
        c.login(self.user, self.password)
        return c

    def create_mailbox(self, name):
        c = self.client()
        try:
            typ, data = c.create(name)
            if typ != "OK":
                raise RuntimeError("CREATE %s: %r" % (name, data))
        finally:
            c.logout()

    def append(self, mailbox, raw, client=None):
        """APPENDs raw (bytes) and returns its UID (from APPENDUID).

        imaplib turns every bare LF or CR into CRLF before sending, as IMAP
        requires; wire_bytes(raw) is what the server received."""
        c = client or self.client()
        try:
            typ, data = c.append(mailbox, None, None, raw)
            if typ != "OK":
                raise RuntimeError("APPEND %s: %r" % (mailbox, data))
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            return int(m.group(1)) if m else None
        finally:
            if client is None:
                c.logout()

    def append_many(self, mailbox, raws):
        """APPENDs each message of raws over one connection; returns the UIDs."""
        c = self.client()
        try:
            return [self.append(mailbox, r, client=c) for r in raws]
        finally:
            c.logout()

    def doveadm(self, *args, stdin=None):
        return _run([DOVEADM, "-c", self.conf] + list(args), input=stdin).stdout.decode()

    def save_raw(self, mailbox, raw):
        """Delivers raw unchanged (bare LFs stay) with doveadm save, bypassing
        IMAP, as a local delivery agent would."""
        self.doveadm("save", "-u", self.user, "-m", mailbox, stdin=raw)

    def status(self, mailbox):
        """{'messages': n, 'uidnext': n, 'uidvalidity': n} from doveadm."""
        out = self.doveadm("-f", "flow", "mailbox", "status", "-u", self.user,
                           "messages uidnext uidvalidity", mailbox)
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out)}

    def set_uidvalidity(self, mailbox, value):
        """Changes the mailbox's UIDVALIDITY (clients must resynchronise)."""
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(value), mailbox)


def wire_bytes(raw):
    """raw as an IMAP APPEND sends it: every line ending CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
