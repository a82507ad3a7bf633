"""Interop: curl's IMAP client (a third-party client we did not write) against
a real cluster: LIST, APPEND (upload), FETCH by sequence number byte-exact,
over implicit TLS and STARTTLS, with SASL PLAIN and LOGIN. Skipped when the
curl command is not installed."""

import os
import shutil
import subprocess
import tempfile
import unittest

import cluster
from cluster import ClusterTest

cluster.module_fixtures(globals(), shards=2, frontends=1)

PW = "curl-pw"
CURL = shutil.which("curl")


def populate(c):
    c.add_user("curly", PW)


@unittest.skipIf(CURL is None, "curl is not installed")
class Curl(ClusterTest):
    def curl(self, url, *args, user="curly", password=PW, data=None):
        cmd = [CURL, "--silent", "--show-error", "--max-time", "20", "--cacert", self.cluster.cert,
               "--user", "%s:%s" % (user, password)] + list(args) + [url]
        return subprocess.run(cmd, input=data, capture_output=True, timeout=30)

    def url(self, tls=True, path=""):
        port = self.cluster.port(0, tls=tls)
        return "%s://127.0.0.1:%d/%s" % ("imaps" if tls else "imap", port, path)

    def test_list(self):
        r = self.curl(self.url())
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertTrue(any(ln.endswith(" INBOX") for ln in lines), lines)
        self.assertTrue(any(ln.endswith(" Default") or ln.endswith(' "Default"') for ln in lines), lines)

    def test_starttls_required_list(self):
        r = self.curl(self.url(tls=False), "--ssl-reqd")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"INBOX", r.stdout)

    def test_upload_then_fetch_byte_exact(self):
        msg = (b"From: curl@example.com\r\nTo: curly@example.com\r\nSubject: via curl\r\n"
               b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
               b"caf\xc3\xa9 \xe2\x98\x95\r\n" + b"z" * 5000 + b"\r\n")
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(msg)
            path = f.name
        try:
            r = self.curl(self.url(path="Default"), "--upload-file", path)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            os.unlink(path)
        for tls, extra in ((True, ()), (False, ("--ssl-reqd",)), (True, ("--login-options", "AUTH=PLAIN"))):
            r = self.curl(self.url(tls=tls, path="Default;MAILINDEX=1"), *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, msg, "curl fetched different bytes (tls=%s %s)" % (tls, extra))

    def test_wrong_password(self):
        r = self.curl(self.url(), password="nope")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.returncode, 67, "curl: login denied (67) expected, got %d %r" % (r.returncode, r.stderr))

    def test_custom_examine(self):
        r = self.curl(self.url(), "--request", "EXAMINE INBOX")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"EXISTS", r.stdout)
        self.assertIn(b"UIDVALIDITY", r.stdout)
