"""dovecot: Debian's Dovecot as a reference IMAP server for differential tests.

A Dovecot instance is a home directory (a fresh Maildir, a minimal config,
TZ=UTC) that any number of pre-authenticated `/usr/lib/dovecot/imap`
processes share; each connect() starts one on stdin/stdout pipes and hands
back an imapwire.RawIMAP on them (its greeting, `* PREAUTH`, already read).
Several connections on one home see each other's changes the way sessions of
one user do. Standard library only."""

import os
import select
import shutil
import socket
import subprocess
import tempfile

import imapwire

DOVECOT_IMAP = "/usr/lib/dovecot/imap"
HAVE_DOVECOT = os.access(DOVECOT_IMAP, os.X_OK)


def dovecot_config(home):
    lines = [
        "mail_location = maildir:%s/Maildir:LAYOUT=fs" % home,
        "log_path = %s/dovecot.log" % home,
        "namespace inbox {",
        "  inbox = yes",
        "  separator = /",
        "  prefix =",
        "}",
        "imap_capability = +CREATE-SPECIAL-USE",
        # ACL (RFC 4314) and the other users' namespace, named as ours is
        # (frontend/mailbox-ref.h): other users' homes sit beside this one.
        "mail_plugins = acl",
        "protocol imap {",
        "  mail_plugins = $mail_plugins imap_acl",
        "}",
        "plugin {",
        "  acl = vfile",
        "}",
        "namespace shared {",
        "  type = shared",
        "  separator = /",
        "  prefix = Other Users/%%u/",
        "  location = maildir:%s/../%%%%u/Maildir:LAYOUT=fs" % home,
        "  subscriptions = no",
        "  list = children",
        "}",
    ]
    if os.geteuid() == 0:
        # Dovecot refuses to run mail processes as root.
        lines += ["mail_uid = 65534", "mail_gid = 65534", "first_valid_uid = 1", "first_valid_gid = 1"]
    return "\n".join(lines) + "\n"


class PipeSock:
    """The socket calls RawIMAP makes, over a child's stdin/stdout pipes."""

    def __init__(self, proc, timeout=10.0):
        self.proc = proc
        self.timeout = timeout

    def settimeout(self, t):
        self.timeout = t

    def gettimeout(self):
        return self.timeout

    def sendall(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self, n):
        fd = self.proc.stdout.fileno()
        if not select.select([fd], [], [], self.timeout)[0]:
            raise socket.timeout("Dovecot sent nothing for %.0f s" % self.timeout)
        return os.read(fd, n)

    def close(self):
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class Dovecot:
    """A Dovecot home; .w is its first pre-authenticated connection."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="cpm-dovecot-")
        os.mkdir(os.path.join(self.home, "Maildir"))
        self.conf = os.path.join(self.home, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(dovecot_config(self.home))
        if os.geteuid() == 0:
            os.chmod(self.home, 0o755)
            for root, dirs, files in os.walk(self.home):
                for n in dirs + files:
                    os.chown(os.path.join(root, n), 65534, 65534)
            os.chown(self.home, 65534, 65534)
        self.procs = []
        self.w = self.connect()

    def connect(self, timeout=10.0):
        env = {"USER": "diff", "HOME": self.home, "TZ": "UTC", "PATH": "/usr/bin:/bin"}
        # pipes, not a socket: on a socket the imap binary assumes inetd and refuses
        proc = subprocess.Popen([DOVECOT_IMAP, "-c", self.conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env, cwd=self.home)
        self.procs.append(proc)
        w = imapwire.RawIMAP(None, None, timeout=timeout, connect=False)
        w.sock = PipeSock(proc, timeout)
        g = w.greeting()
        if not g.startswith(b"* PREAUTH"):
            raise RuntimeError("dovecot greeting %r: %s" % (g, self.log()))
        return w

    def log(self):
        try:
            with open(os.path.join(self.home, "dovecot.log")) as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        for proc in self.procs:
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)
