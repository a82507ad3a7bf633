"""SEARCH text keys with i;unicode-casemap (RFC 5051): Unicode case folding
(simple titlecase) and NFKD, in bodies, decoded parts and header fields;
invalid UTF-8 is matched byte for byte and never breaks a search. The
expected answers are what Dovecot 2.3 gives for the same messages."""

import cluster
from cluster import ClusterTest
from imapwire import status

cluster.module_fixtures(globals())

PW = "uni-pw"

MSGS = [
    # 1: German, sharp s
    "Subject: Stra\u00dfe\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIn der Stra\u00dfe wohnt sie.\r\n",
    # 2: Greek, lower case with final sigma and tonos
    "Subject: myth\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\u03bf \u03c3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2\r\n",
    # 3: Cyrillic upper case in a header, decomposed accent in the body
    "Subject: \u041f\u0420\u0418\u0412\u0415\u0422\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncafe\u0301 ok\r\n",
    # 4: ligature and fullwidth letters
    "Subject: compat\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\ufb01le \uff21\uff22\uff23\r\n",
]
# 5: invalid UTF-8 around a word
BAD = b"Subject: bad\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbad \xff\xfe bytes \xe2\x82\r\n"
# 6: the same Greek word in ISO-8859-7, base64: decoded, converted, then folded
GREEK7 = (b"Subject: =?iso-8859-7?b?09/z9fbv8g==?=\r\nContent-Type: text/plain; charset=iso-8859-7\r\n"
          b"Content-Transfer-Encoding: base64\r\n\r\n09/z9fbv8g==\r\n")


def populate(c):
    c.add_user("unisearch", PW)


class UnicodeSearch(ClusterTest):
    @classmethod
    def setUpClass(cls):
        w = cls.cluster.login_raw("unisearch")
        for m in [m.encode() for m in MSGS] + [BAD, GREEK7]:
            _, tagged = w.cmd_literal(b"APPEND INBOX", m)
            assert status(tagged) == "OK", tagged
        w.close()

    def search(self, w, key, needle):
        untagged, tagged = w.cmd_literal(b"SEARCH CHARSET UTF-8 " + key.encode(), needle)
        self.assertEqual(status(tagged), "OK", tagged)
        self.assertEqual(len(untagged), 1, untagged)
        return [int(x) for x in untagged[0].split()[2:]]

    def test_case_folding(self):
        w = self.cluster.login_raw("unisearch")
        w.cmd("EXAMINE INBOX")
        cases = [
            # RFC 5051 maps no sharp s to SS (simple titlecase only)
            ("BODY", "STRASSE", []),
            ("BODY", "STRA\u00dfE", [1]),
            ("BODY", "stra\u00dfe", [1]),
            # Greek: sigma forms, tonos (precomposed Ί = Ι + U+0301)
            ("BODY", "\u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3", [2, 6]),
            ("TEXT", "\u03c3\u03b9\u0301\u03c3\u03c5\u03c6\u03bf\u03c3", [2, 6]),
            # Cyrillic, in a header
            ("SUBJECT", "\u043f\u0440\u0438\u0432\u0435\u0442", [3]),
            ("HEADER SUBJECT", "\u041f\u0440\u0438\u0432", [3]),
            # accents: precomposed vs decomposed; the base letter alone is a substring
            ("BODY", "CAF\u00c9", [3]),
            ("BODY", "cafe", [3]),
            # compatibility forms: fullwidth folds to ASCII; the ligature only matches itself
            ("BODY", "abc", [4]),
            ("BODY", "FILE", []),
            ("BODY", "\ufb01LE", [4]),
            # RFC 2047 encoded Greek subject, decoded then folded
            ("SUBJECT", "\u03c3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2", [6]),
            # plain ASCII still case-insensitive
            ("BODY", "WOHNT", [1]),
        ]
        for key, needle, want in cases:
            self.assertEqual(self.search(w, key, needle.encode()), want, (key, needle))

    def test_invalid_utf8(self):
        w = self.cluster.login_raw("unisearch")
        w.cmd("EXAMINE INBOX")
        self.assertEqual(self.search(w, "BODY", b"BYTES"), [5])
        self.assertEqual(self.search(w, "BODY", "\ufffd".encode()), [])
        # an invalid needle matches the same bytes, nothing else
        self.assertEqual(self.search(w, "BODY", b"\xff\xfe"), [5])
        self.assertEqual(self.search(w, "TEXT", b"\xfe\xff"), [])
        # the session goes on
        untagged, tagged = w.cmd("SEARCH ALL")
        self.assertEqual(untagged, [b"* SEARCH 1 2 3 4 5 6"])
