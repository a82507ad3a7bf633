"""cluster: start a real cpm-store cluster on loopback for integration tests.

Standard library only. A Cluster owns a temp dir, random loopback ports, a
self-signed certificate (made with the `openssl` command), one INI config per
front-end (all sharing the same [cluster] secret and [shard.*] list), N
back-ends (`cpm-backend -c CONF -s ID`) and M front-end processes
(`cpm-frontend -c CONF`, each with its own ports).

    c = Cluster()            # 2 shards (s1, s2), 2 front-ends, workers=1
    c.start()                # bounded waits; raises with the logs on failure
    c.add_user("alice", "pw")
    m = c.imap(0)            # imaplib.IMAP4 on front-end 0 (cleartext, loopback)
    w = c.raw(1, tls=True)   # RawIMAP on front-end 1's implicit-TLS port
    c.kill_backend("s1")     # SIGKILL
    c.start_backend("s1")    # same data dir; waits for event=started
    problems = c.stop()      # SIGTERM, SIGKILL after 5 s; returns what went wrong

Where binaries come from: $CPM_BUILD (set by tests/run_tests.py --build),
default <repo>/build. $CPM_KEEP=1 leaves the temp dir in place.

Every process runs in its own session (process group), so a SIGKILL reaches a
front-end's workers too, and a terminal's Ctrl-C reaches only the runner,
whose cleanup then stops everything. Processes also get PDEATHSIG so they do
not outlive a runner that is killed outright.

Problems the harness notices on its own (check_health(), stop()): a process
that exited when nobody asked it to, a front-end worker that exited
(event=worker_exited), a sanitizer report in any log, a process that needed
SIGKILL to stop or exited non-zero on SIGTERM, workers left behind.
"""

import atexit
import ctypes
import hashlib
import imaplib
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imapwire  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"
START_TIMEOUT = float(os.environ.get("CPM_START_TIMEOUT", "30"))
STOP_TIMEOUT = 5.0
SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                          r"SUMMARY: UndefinedBehaviorSanitizer|ThreadSanitizer")

_live = []


def sanitized():
    """True when the binaries are an AddressSanitizer build (its allocator
    keeps freed memory in quarantine, so memory figures mean nothing)."""
    try:
        with open(binary("cpm-frontend"), "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def build_dir():
    b = os.environ.get("CPM_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def binary(name):
    return os.path.join(build_dir(), "bin", name)


_GIVEN_PORTS = set()


def free_ports(n):
    """n distinct free TCP ports on loopback (bound then released), never
    one this process handed out before: a port chosen early (a module's
    outband port) and bound late must not go to another listener meanwhile
    (the front-ends bind with SO_REUSEPORT, so two would share it)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
            p = s.getsockname()[1]
            if p not in ports and p not in _GIVEN_PORTS:
                ports.append(p)
                _GIVEN_PORTS.add(p)
    finally:
        for s in socks:
            s.close()
    return ports


def rss_kb(pid, field="VmRSS"):
    """A memory field of /proc/PID/status in KiB (0 when the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_literal_measured(w, cmd, head, length, pids, pause=0.002):
    """Sends `s1 cmd` on RawIMAP w and reads its one literal slowly (a 64 KiB
    receive buffer, a pause per read) while sampling the memory of pids:
    checks that the response starts with head, then returns (sha256 hex of the
    literal's length bytes, the bytes after them up to the tagged line, {pid:
    growth in MB}), growth being the larger of peak RSS (VmRSS, VmHWM) and of
    VmData (some kernels account resident anonymous memory loosely) over
    their values when the command was sent."""
    import hashlib
    base = {p: rss_kb(p) for p in pids}
    dbase = {p: rss_kb(p, "VmData") for p in pids}
    peak, dpeak = dict(base), dict(dbase)
    for p in pids:
        with open("/proc/%d/clear_refs" % p, "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (proc(5))
    w.send(b"s1 " + cmd + b"\r\n")
    sock = w.sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    data, w.buf = w.buf, b""
    while len(data) < len(head):
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed before the response head")
        data += chunk
    if data[:len(head)] != head:
        raise AssertionError("response head %r, expected %r" % (data[:len(head)], head))
    data = data[len(head):]
    h, got, tail = hashlib.sha256(), 0, b""
    while True:
        if data:
            take = min(len(data), length - got)
            h.update(data[:take])
            got += take
            tail += data[take:]
            data = b""
        if got == length and tail.endswith(b"\r\n") and b"s1 " in tail:
            break
        data = sock.recv(64 * 1024)
        if not data:
            raise AssertionError("connection closed after %d bytes" % got)
        for p in pids:
            peak[p] = max(peak[p], rss_kb(p))
            dpeak[p] = max(dpeak[p], rss_kb(p, "VmData"))
        time.sleep(pause)
    grown = {p: max(max(peak[p], rss_kb(p, "VmHWM")) - base[p], dpeak[p] - dbase[p]) // 1024 for p in pids}
    return h.hexdigest(), tail, grown


def group_pids(pgid):
    """The processes of a process group (a front-end's master and workers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def shard_for(user, shard_ids):
    """Rendezvous hashing as common/shard-map.h specifies it."""
    if isinstance(user, str):
        user = user.encode()
    best, best_w = None, -1
    for sid in sorted(shard_ids):
        w = int.from_bytes(hashlib.sha256(sid.encode() + b"\0" + user).digest()[:8], "big")
        if w > best_w:
            best, best_w = sid, w
    return best


def _pdeathsig():
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def make_cert(directory):
    """Self-signed P-256 certificate for localhost / 127.0.0.1."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-days", "30", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    return cert, key


class Proc:
    """One started process: its command, log file and state."""

    def __init__(self, name, argv, log_path, cwd):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.cwd = cwd
        self.popen = None
        self.expected_dead = False
        self.log_offset = 0   # where this incarnation's log starts
        self.scanned = 0      # how far check_health() has looked for sanitizer lines

    def start(self):
        logf = open(self.log_path, "ab")
        logf.write(("--- start %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(self.argv))).encode())
        logf.flush()
        self.log_offset = logf.tell()
        try:
            self.popen = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=logf,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=_pdeathsig)
        finally:
            logf.close()
        self.expected_dead = False

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def log(self, since_start=False):
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self.log_offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines=60):
        return "\n".join(self.log().splitlines()[-lines:])

    def group_alive(self):
        if self.popen is None:
            return False
        try:
            os.killpg(self.popen.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def kill(self, sig=signal.SIGKILL):
        self.expected_dead = True
        if self.alive():
            if sig == signal.SIGKILL:
                os.killpg(self.popen.pid, sig)  # the whole group: a front-end's workers too
                self.popen.wait(timeout=10)
            else:
                os.kill(self.popen.pid, sig)

    def stop(self):
        """SIGTERM, wait, SIGKILL the group after STOP_TIMEOUT. Returns problem strings."""
        problems = []
        if self.popen is None:
            return problems
        if self.popen.poll() is not None:
            if not self.expected_dead:
                problems.append("%s exited unexpectedly (status %s)" % (self.name, self.popen.returncode))
            self._reap_group(problems)
            return problems
        self.expected_dead = True
        try:
            os.kill(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = self.popen.wait(timeout=STOP_TIMEOUT)
            if rc != 0:
                problems.append("%s exited with status %s after SIGTERM" % (self.name, rc))
        except subprocess.TimeoutExpired:
            problems.append("%s did not stop within %.0f s of SIGTERM; killed" % (self.name, STOP_TIMEOUT))
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=10)
        self._reap_group(problems)
        return problems

    def _reap_group(self, problems):
        deadline = time.time() + 2.0
        while self.group_alive() and time.time() < deadline:
            time.sleep(0.05)
        if self.group_alive():
            problems.append("%s left processes behind in its group; killed" % self.name)
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Cluster:
    def __init__(self, shards=2, frontends=2, workers=1, rpc_timeout_ms=1500, login_fail_delay_ms=100,
                 frontend_options=None, cluster_options=None, name="cluster"):
        self.shard_ids = ["s%d" % (i + 1) for i in range(shards)]
        self.n_frontends = frontends
        self.workers = workers
        self.rpc_timeout_ms = rpc_timeout_ms
        self.login_fail_delay_ms = login_fail_delay_ms
        self.frontend_options = frontend_options or [{} for _ in range(frontends)]
        self.cluster_options = cluster_options or {}
        self.name = name
        self.dir = None
        self.backends = {}
        self.frontends = []
        self.configs = []
        self.users = {}
        self.secret = secrets.token_hex(24)
        self.keep = os.environ.get("CPM_KEEP") == "1"
        self._stopped = False

    # --- lifecycle ------------------------------------------------------
    def start(self):
        for b in ("cpm-backend", "cpm-frontend", "cpm-admin"):
            if not os.access(binary(b), os.X_OK):
                raise RuntimeError("%s is missing: build first (make build-all)" % binary(b))
        self.dir = tempfile.mkdtemp(prefix="cpm-%s-" % self.name)
        _live.append(self)
        try:
            self._write_configs()
            for sid in self.shard_ids:
                p = Proc("backend-" + sid, [binary("cpm-backend"), "-c", self.configs[0], "-s", sid],
                         os.path.join(self.dir, "backend-%s.log" % sid), self.dir)
                self.backends[sid] = p
                p.start()
            for sid in self.shard_ids:
                self._wait_started(self.backends[sid])
            for i in range(self.n_frontends):
                p = Proc("frontend-%d" % i, [binary("cpm-frontend"), "-c", self.configs[i]],
                         os.path.join(self.dir, "frontend-%d.log" % i), self.dir)
                self.frontends.append(p)
                p.start()
            for i in range(self.n_frontends):
                self._wait_frontend(i)
        except BaseException:
            problems = self.stop(print_logs=True)
            if problems:
                sys.stderr.write("cluster start failed; %s\n" % "; ".join(problems))
            raise
        return self

    def _write_configs(self):
        ports = free_ports(2 * len(self.shard_ids) + 2 * self.n_frontends)
        self.rpc_ports = {}
        self.feed_ports = {}
        for sid in self.shard_ids:
            self.rpc_ports[sid] = ports.pop()
            self.feed_ports[sid] = ports.pop()
        self.imap_ports = [ports.pop() for _ in range(self.n_frontends)]
        self.imaps_ports = [ports.pop() for _ in range(self.n_frontends)]
        self.cert, self.key = make_cert(self.dir)
        cluster_opts = {
            "secret": self.secret,
            "rpc_timeout_ms": str(self.rpc_timeout_ms),
            "default_folders": "INBOX, Default",
            "scram_iterations": "4096",
            "log_level": "info",
        }
        cluster_opts.update(self.cluster_options)
        common = ["[cluster]"] + ["%s = %s" % kv for kv in cluster_opts.items()] + [""]
        for sid in self.shard_ids:
            common += ["[shard.%s]" % sid,
                       "rpc = tcp://%s:%d" % (HOST, self.rpc_ports[sid]),
                       "feed = tcp://%s:%d" % (HOST, self.feed_ports[sid]),
                       "data_dir = %s" % os.path.join(self.dir, "data-" + sid),
                       "map_size_mb = 256", ""]
        for i in range(self.n_frontends):
            fe = {
                "workers": str(self.workers),
                "hostname": "cpm-test-fe%d" % i,
                "imap_listen": "%s:%d" % (HOST, self.imap_ports[i]),
                "imaps_listen": "%s:%d" % (HOST, self.imaps_ports[i]),
                "imap_proxy": "off",
                "imaps_proxy": "off",
                "allow_plaintext_auth": "no",
                "tls_cert": self.cert,
                "tls_key": self.key,
                "max_line": "65536",
                "max_literal": "67108864",
                "login_fail_delay_ms": str(self.login_fail_delay_ms),
            }
            fe.update(self.frontend_options[i] if i < len(self.frontend_options) else {})
            text = "\n".join(common + ["[frontend]"] + ["%s = %s" % kv for kv in fe.items()]) + "\n"
            path = os.path.join(self.dir, "fe%d.conf" % i)
            with open(path, "w") as f:
                f.write(text)
            self.configs.append(path)

    def _wait_started(self, proc, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if "event=started" in proc.log(since_start=True):
                return
            if not proc.alive():
                raise RuntimeError("%s exited (status %s) before event=started:\n%s"
                                   % (proc.name, proc.popen.returncode, proc.tail()))
            time.sleep(0.05)
        raise RuntimeError("%s did not log event=started within %.0f s:\n%s" % (proc.name, timeout, proc.tail()))

    def _port_accepts(self, port, tls):
        try:
            s = socket.create_connection((HOST, port), timeout=2)
        except OSError:
            return False
        try:
            if tls:
                s = self.ssl_context().wrap_socket(s, server_hostname="localhost")
            s.settimeout(5)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
            return data.startswith(b"* OK")
        except (OSError, ssl.SSLError):
            return False
        finally:
            s.close()

    def _wait_frontend(self, i, timeout=START_TIMEOUT):
        proc = self.frontends[i]
        deadline = time.time() + timeout
        wanted = [(self.imap_ports[i], False), (self.imaps_ports[i], True)]
        opts = self.frontend_options[i] if i < len(self.frontend_options) else {}
        if opts.get("imap_proxy", "off") != "off" or opts.get("imap_listen") == "":
            wanted = [w for w in wanted if w[1]]
        if opts.get("imaps_proxy", "off") != "off" or opts.get("imaps_listen") == "":
            wanted = [w for w in wanted if not w[1]]
        while time.time() < deadline:
            if not proc.alive():
                raise RuntimeError("%s exited (status %s) while starting:\n%s"
                                   % (proc.name, proc.popen.returncode, proc.tail()))
            if not wanted:
                if "event=listening" in proc.log(since_start=True):
                    return
            elif all(self._port_accepts(p, tls) for p, tls in wanted):
                return
            time.sleep(0.1)
        raise RuntimeError("%s did not accept connections within %.0f s:\n%s" % (proc.name, timeout, proc.tail()))

    def all_procs(self):
        return list(self.backends.values()) + list(self.frontends)

    def check_health(self, revive=True):
        """Problems since the last call (dead processes, worker crashes, sanitizer
        reports), each with the log tail. Dead processes are restarted when
        revive is true, so later tests still have a cluster."""
        problems = []
        for p in self.all_procs():
            text = p.log()
            new = text[p.scanned:]
            p.scanned = len(text)
            for line in new.splitlines():
                if SANITIZER_RE.search(line) or ("event=worker_exited" in line):
                    problems.append("%s: %s\n%s" % (p.name, line.strip(), "\n".join(new.splitlines()[-40:])))
                    break
            if p.popen is not None and not p.alive() and not p.expected_dead:
                problems.append("%s died (status %s):\n%s" % (p.name, p.popen.returncode, p.tail()))
                if revive:
                    try:
                        p.start()
                        if p in self.frontends:
                            self._wait_frontend(self.frontends.index(p))
                        else:
                            self._wait_started(p)
                    except Exception as e:
                        problems.append("restarting %s failed: %s" % (p.name, e))
        return problems

    def stop(self, print_logs=False):
        """Stop everything (front-ends first). Returns a list of problems."""
        if self._stopped:
            return []
        self._stopped = True
        problems = self.check_health(revive=False)
        for p in list(self.frontends) + list(self.backends.values()):
            probs = p.stop()
            if probs:
                problems += ["%s\n%s" % (x, p.tail(40)) for x in probs]
        text_all = [(p.name, p.log()) for p in self.all_procs()]
        for name, text in text_all:
            if SANITIZER_RE.search(text[-200000:]):
                problems.append("%s: sanitizer report in log" % name)
        if problems or print_logs:
            for p in self.all_procs():
                sys.stderr.write("\n----- %s log (%s) -----\n%s\n" % (p.name, p.log_path, p.tail(80)))
        if self.dir and not self.keep and not problems:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            sys.stderr.write("cluster files kept in %s\n" % self.dir)
        if self in _live:
            _live.remove(self)
        return problems

    # --- back-end control ---------------------------------------------------
    def kill_backend(self, sid, sig=signal.SIGKILL):
        self.backends[sid].kill(sig)

    def start_backend(self, sid):
        p = self.backends[sid]
        if p.alive():
            raise RuntimeError("%s is still running" % p.name)
        p.start()
        self._wait_started(p)

    def ensure_running(self):
        """Start processes a previous test killed and did not restart."""
        for sid, p in self.backends.items():
            if p.expected_dead and not p.alive():
                self.start_backend(sid)
        for i, p in enumerate(self.frontends):
            if p.expected_dead and not p.alive():
                self.start_frontend(i)

    def kill_frontend(self, i, sig=signal.SIGKILL):
        """SIGKILL goes to the front-end's whole process group (master and workers)."""
        self.frontends[i].kill(sig)

    def start_frontend(self, i):
        p = self.frontends[i]
        if p.alive():
            raise RuntimeError("%s is still running" % p.name)
        p.start()
        self._wait_frontend(i)

    def restart_backend(self, sid):
        self.kill_backend(sid)
        self.start_backend(sid)

    # --- users ----------------------------------------------------------------
    def admin(self, *args, input=None, timeout=30):
        """Run cpm-admin with the first config; returns CompletedProcess (text)."""
        return subprocess.run([binary("cpm-admin"), "-c", self.configs[0]] + list(args), cwd=self.dir,
                              input=input if input is not None else "", capture_output=True, text=True,
                              timeout=timeout)

    def add_user(self, name, password):
        r = self.admin("user", "add", name, input=password + "\n")
        if r.returncode != 0:
            raise RuntimeError("cpm-admin user add %s: exit %d: %s" % (name, r.returncode, r.stderr.strip()))
        self.users[name] = password
        return name

    def shard_of(self, user):
        return shard_for(user, self.shard_ids)

    def shard_of_from_logs(self, user):
        """The shard whose back-end logged event=user_put for user, or None."""
        pat = re.compile(r"event=user_put\b.*\buser=\"?%s\"?(\s|$)" % re.escape(user))
        for sid, p in self.backends.items():
            if pat.search(p.log()):
                return sid
        return None

    def users_on_each_shard(self, prefix, password="pw-" + secrets.token_hex(4), per_shard=1):
        """Create users prefix0, prefix1, ... until every shard has per_shard of
        them. Returns {shard_id: [names]}."""
        found = {sid: [] for sid in self.shard_ids}
        i = 0
        while any(len(v) < per_shard for v in found.values()):
            name = "%s%d" % (prefix, i)
            i += 1
            sid = self.shard_of(name)
            if len(found[sid]) < per_shard:
                self.add_user(name, password)
                found[sid].append(name)
            if i > 1000:
                raise RuntimeError("could not spread users over shards")
        return found

    # --- clients ----------------------------------------------------------------
    def ssl_context(self, verify=True):
        if verify:
            ctx = ssl.create_default_context(cafile=self.cert)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def port(self, fe=0, tls=False):
        return self.imaps_ports[fe] if tls else self.imap_ports[fe]

    def imap(self, fe=0, timeout=10):
        return imaplib.IMAP4(HOST, self.imap_ports[fe], timeout=timeout)

    def imaps(self, fe=0, timeout=10, verify=True):
        return imaplib.IMAP4_SSL(HOST, self.imaps_ports[fe], ssl_context=self.ssl_context(verify),
                                 timeout=timeout)

    def raw(self, fe=0, tls=False, timeout=10, greeting=True):
        """RawIMAP connected to a front-end; greeting=True reads and checks it."""
        w = imapwire.RawIMAP(HOST, self.port(fe, tls), timeout=timeout,
                             tls_context=self.ssl_context() if tls else None)
        if greeting:
            g = w.greeting()
            if not g.startswith(b"* OK"):
                w.close()
                raise AssertionError("bad greeting %r" % g)
            w.greeting_line = g
        return w

    def login_raw(self, user, fe=0, tls=False):
        w = self.raw(fe, tls)
        w.login(user, self.users[user])
        return w


def _cleanup_all():
    for c in list(_live):
        try:
            c.stop()
        except Exception:
            pass


atexit.register(_cleanup_all)


# --- module fixtures shared by the test modules --------------------------------

import unittest  # noqa: E402


class ClusterTest(unittest.TestCase):
    """Base class: `cluster` is set by the module's setUpModule. After each test
    it checks the cluster's health, so the test that crashed a process is the
    one that fails (and the process is restarted for the next tests)."""

    cluster = None

    def setUp(self):
        c = type(self).cluster
        if c is not None:
            c.ensure_running()

    def tearDown(self):
        c = type(self).cluster
        if c is not None:
            problems = c.check_health(revive=True)
            if problems:
                self.fail("cluster problem after this test:\n" + "\n".join(problems))


def module_fixtures(module_globals, **cluster_kwargs):
    """Define setUpModule/tearDownModule for a test module: one cluster per module."""

    def setUpModule():
        c = Cluster(name=module_globals["__name__"].split(".")[-1], **cluster_kwargs)
        c.start()
        module_globals["CLUSTER"] = c
        for v in list(module_globals.values()):
            if isinstance(v, type) and issubclass(v, ClusterTest):
                v.cluster = c
        hook = module_globals.get("populate")
        if hook:
            try:
                hook(c)
            except BaseException:
                c.stop(print_logs=True)
                module_globals["CLUSTER"] = None
                raise

    def tearDownModule():
        c = module_globals.get("CLUSTER")
        if c is None:
            return
        problems = c.stop()
        module_globals["CLUSTER"] = None
        if problems:
            raise AssertionError("cluster shutdown problems:\n" + "\n".join(problems))

    module_globals["setUpModule"] = setUpModule
    module_globals["tearDownModule"] = tearDownModule
