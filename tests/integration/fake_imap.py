"""fake_imap: a hostile IMAP server on loopback, for the cases a real one
will not produce on demand.

It serves one mailbox of messages (UID -> bytes) well enough for patchq's
reader (CAPABILITY, LOGIN, EXAMINE, UID SEARCH, UID FETCH of RFC822.SIZE,
BODY.PEEK[] and BODY.PEEK[HEADER]<0.N>, IDLE/DONE, NOOP, LOGOUT), and
misbehaves as told, per connection or per body:

    srv = FakeImap()                  # listens on 127.0.0.1, srv.port
    srv.messages[1] = b"..."          # the mailbox
    srv.sizes[2] = 4000000000         # RFC822.SIZE announced instead of the real one
    srv.silent = True                 # accept, then never say a word
    srv.body_plan[1] = ["cut", "ok"]  # how successive BODY[] fetches of UID 1 go:
        # "ok"     the message
        # "cut"    half of its literal, then the connection closed
        # "stall"  half of its literal, then silence until the client leaves
        # "huge"   "{4000000000}" and zeros for as long as the client reads
        # "trickle" its literal a byte every half second
    srv.idle = True                   # offer IDLE; srv.idle_news sends "* N EXISTS"
    srv.done_silent = True            # never answer DONE
    srv.on_body = fn                  # fn(uid) just before a body is sent

Like a real server, it announces a changed message count ("* N EXISTS")
once per connection, before the tagged answer of the next command.
    ...
    srv.close()

What happened is counted for the test: connections, commands (every
command line), events ("cut", "stall", "huge" as they happen), and
huge_sent (bytes of hostile literal the client took).
"""
import re
import socket
import threading
import time

HUGE = 4000000000


def parse_set(text, top):
    """UIDs of an IMAP sequence set ("1:3,7,9:*"), "*" being top."""
    out = set()
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo = top if a == "*" else int(a)
        hi = lo if not b else (top if b == "*" else int(b))
        if lo > hi:
            lo, hi = hi, lo
        out.update(range(lo, hi + 1))
    return out


class FakeImap:
    def __init__(self):
        self.messages = {}
        self.sizes = {}
        self.body_plan = {}
        self.uidvalidity = 7
        self.silent = False
        self.idle = False
        self.done_silent = False
        self.malformed = 0  # EXAMINE answers that carry a code libetpan would crash on
        self.uid_last = False  # a body's FETCH line names its UID after the literal
        self.on_body = None
        self.lock = threading.Lock()
        self.connections = 0
        self.commands = []
        self.events = []
        self.huge_sent = 0
        self.idlers = []
        self.closing = False
        self.conns = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    # ---- what the test asks ----

    def count(self, event):
        with self.lock:
            return self.events.count(event)

    def commands_like(self, pattern):
        with self.lock:
            return [c for c in self.commands if re.search(pattern, c)]

    def idle_news(self):
        """Sends "* N EXISTS" to every client waiting in IDLE."""
        with self.lock:
            idlers = list(self.idlers)
        for c in idlers:
            try:
                c.sendall(b"* %d EXISTS\r\n" % (len(self.messages) + 1))
            except OSError:
                pass

    def close(self):
        self.closing = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---- the server ----

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _event(self, what):
        with self.lock:
            self.events.append(what)

    def _linger(self, c):
        """Silence until the client goes away (or the server closes)."""
        try:
            while not self.closing and c.recv(65536):
                pass
        except OSError:
            pass

    def _serve(self, c):
        try:
            if self.silent:
                self._event("silent")
                self._linger(c)
                return
            self._session(c, c.makefile("rb"))
        except OSError:
            pass
        finally:
            with self.lock:
                if c in self.idlers:
                    self.idlers.remove(c)
                if c in self.conns:
                    self.conns.remove(c)
            try:
                c.close()
            except OSError:
                pass

    def _uids(self):
        return sorted(self.messages)

    def _session(self, c, f):
        c.sendall(b"* OK fake IMAP ready\r\n")
        idle_tag = b"*"
        told = [len(self.messages)]  # the message count this client knows

        def tagged(tag, text):
            news = b""
            if len(self.messages) != told[0]:
                told[0] = len(self.messages)
                news = b"* %d EXISTS\r\n" % told[0]
            return news + tag + b" " + text + b"\r\n"

        while True:
            line = f.readline()
            if not line:
                return
            text = line.decode("latin-1").rstrip("\r\n")
            with self.lock:
                self.commands.append(text)
            words = text.split(" ")
            if words == ["DONE"]:
                with self.lock:
                    if c in self.idlers:
                        self.idlers.remove(c)
                if self.done_silent:
                    self._event("done-silent")
                    self._linger(c)
                    return
                c.sendall(idle_tag + b" OK idle done\r\n")
                continue
            tag = words[0].encode()
            cmd = " ".join(words[1:3]).upper() if len(words) > 2 and \
                words[1].upper() == "UID" else words[1].upper() if len(words) > 1 else ""
            if cmd == "CAPABILITY":
                caps = b"IMAP4rev1" + (b" IDLE" if self.idle else b"")
                c.sendall(b"* CAPABILITY " + caps + b"\r\n" + tagged(tag, b"OK done"))
            elif cmd == "LOGIN":
                c.sendall(tagged(tag, b"OK logged in"))
            elif cmd in ("EXAMINE", "SELECT"):
                uids = self._uids()
                told[0] = len(uids)
                if self.malformed > 0:
                    self.malformed -= 1
                    self._event("malformed")
                    c.sendall(b"* OK [PERMANENTFLAGS (\\Seen * BYE\r\n")
                c.sendall(b"* %d EXISTS\r\n* OK [UIDVALIDITY %d] v\r\n* OK [UIDNEXT %d] n\r\n"
                          % (len(uids), self.uidvalidity, (uids[-1] + 1) if uids else 1) +
                          tag + b" OK [READ-ONLY] examined\r\n")
            elif cmd == "UID SEARCH":
                m = re.search(r"UID ([0-9:,*]+)", text[len(words[0]) + 1 + 10:])
                uids = self._uids()
                want = parse_set(m.group(1), uids[-1] if uids else 0) if m else set(uids)
                found = [u for u in uids if u in want]
                c.sendall(b"* SEARCH" + b"".join(b" %d" % u for u in found) + b"\r\n" +
                          tagged(tag, b"OK searched"))
            elif cmd == "UID FETCH":
                if not self._fetch(c, words[3], text.upper()):
                    return
                c.sendall(tagged(tag, b"OK fetched"))
            elif cmd == "IDLE":
                idle_tag = tag
                with self.lock:
                    self.idlers.append(c)
                c.sendall(b"+ idling\r\n")
            elif cmd == "NOOP":
                c.sendall(tagged(tag, b"OK noop"))
            elif cmd == "LOGOUT":
                c.sendall(b"* BYE bye\r\n" + tag + b" OK out\r\n")
                return
            else:
                c.sendall(tag + b" BAD unknown\r\n")

    def _fetch(self, c, setspec, upper):
        """One UID FETCH but its tagged answer; False when the connection must end."""
        uids = self._uids()
        want = parse_set(setspec, uids[-1] if uids else 0)
        for seq, uid in enumerate(uids, 1):
            if uid not in want:
                continue
            raw = self.messages[uid]
            if "RFC822.SIZE" in upper:
                size = self.sizes.get(uid, len(raw))
                c.sendall(b"* %d FETCH (UID %d RFC822.SIZE %d)\r\n" % (seq, uid, size))
                continue
            m = re.search(r"BODY\.PEEK\[HEADER\]<0\.(\d+)>", upper)
            if m:
                end = raw.find(b"\r\n\r\n")
                head = raw[:end + 4 if end >= 0 else len(raw)][:int(m.group(1))]
                c.sendall(b"* %d FETCH (UID %d BODY[HEADER]<0> {%d}\r\n" % (seq, uid, len(head))
                          + head + b")\r\n")
                continue
            if self.on_body:
                self.on_body(uid)
            plan = self.body_plan.get(uid)
            how = plan.pop(0) if plan else "ok"
            if how == "ok":
                c.sendall(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(raw)) +
                          raw + b")\r\n")
                continue
            self._event(how)
            if how == "huge":
                c.sendall(b"* %d FETCH (BODY[] {%d}\r\n" % (seq, HUGE) if self.uid_last else
                          b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, HUGE))
                zeros = b"\0" * 65536
                c.settimeout(5)  # the kernel's buffers full: the client stopped reading
                try:
                    while not self.closing and self.huge_sent < HUGE:
                        n = c.send(zeros)
                        with self.lock:
                            self.huge_sent += n
                except OSError:
                    pass
                return False
            if how == "trickle":
                c.sendall(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(raw)))
                for i in range(len(raw)):
                    if self.closing:
                        break
                    c.sendall(raw[i:i + 1])
                    time.sleep(0.5)
                return False
            c.sendall(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(raw)) +
                      raw[:len(raw) // 2])
            if how == "cut":
                return False
            self._linger(c)  # "stall"
            return False
        return True
