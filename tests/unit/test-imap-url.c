/* Unit tests for common/imap-url (RFC 5092 IMAP URLs, RFC 4467 URLAUTH fields). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap-url.h"

static int parse(const char *s, const struct imap_url *base, struct imap_url *u, const char **err)
{
	return imap_url_parse(s, strlen(s), base, u, err);
}

static void assert_str(const char *got, const char *want)
{
	if (want == NULL)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

/* What a parsed URL should hold (NULL / 0: absent). */
struct want {
	const char *in;
	const char *user, *auth, *host;
	uint32_t port;
	const char *mailbox;
	uint32_t uidvalidity;
	const char *search;
	uint32_t uid;
	const char *section;
	int partial; /* 1: have_partial */
	uint32_t poff, plen;
};

static void check(const struct want *w, const struct imap_url *base)
{
	struct imap_url u;
	const char *err = NULL;
	int rc = parse(w->in, base, &u, &err);
	if (rc != 0)
		fail_msg("%s: %s", w->in, err);
	assert_str(u.user, w->user);
	assert_str(u.auth_type, w->auth);
	assert_str(u.host, w->host);
	assert_int_equal(u.port, w->port);
	assert_str(u.mailbox, w->mailbox);
	assert_int_equal(u.uidvalidity, w->uidvalidity);
	assert_str(u.search, w->search);
	assert_int_equal(u.uid, w->uid);
	assert_str(u.section, w->section);
	assert_int_equal(u.have_partial, w->partial);
	assert_int_equal(u.partial_offset, w->poff);
	assert_int_equal(u.partial_length, w->plen);
	assert_int_equal(u.access, IMAP_URL_ACCESS_NONE);
	imap_url_clear(&u);
	imap_url_clear(&u); /* idempotent */
}

static void test_absolute(void **state)
{
	(void)state;
	static const struct want ws[] = {
		{.in = "imap://minbari.example.org", .host = "minbari.example.org"},
		{.in = "imap://minbari.example.org/", .host = "minbari.example.org"},
		{.in = "IMAP://MINBARI.example.ORG:143/", .host = "minbari.example.org", .port = 143},
		{.in = "imap://h:/INBOX", .host = "h", .mailbox = "INBOX"},
		/* RFC 5092 section 9 examples */
		{.in = "imap://michael@example.org:12345/INBOX;UIDVALIDITY=385759045/;UID=20",
		 .user = "michael", .host = "example.org", .port = 12345, .mailbox = "INBOX",
		 .uidvalidity = 385759045, .uid = 20},
		{.in = "imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%8F%B0%E5%8C%97",
		 .host = "psicorp.example.org", .mailbox = "~peter/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe5\x8f\xb0\xe5\x8c\x97"},
		{.in = "imap://;AUTH=GSSAPI@minbari.example.org/gray-council/;UID=20/;SECTION=1.2",
		 .auth = "GSSAPI", .host = "minbari.example.org", .mailbox = "gray-council", .uid = 20, .section = "1.2"},
		{.in = "imap://;AUTH=*@minbari.example.org/gray%20council?SUBJECT%20shadows", .auth = "*",
		 .host = "minbari.example.org", .mailbox = "gray council", .search = "SUBJECT shadows"},
		{.in = "imap://john;AUTH=*@minbari.example.org/babylon5/personel?charset%20UTF-8%20SUBJECT%20%7B14+%7D%0D%0A%D0%98%D0%B2%D0%B0%D0%BD%D0%BE%D0%B2%D0%B0",
		 .user = "john", .auth = "*", .host = "minbari.example.org", .mailbox = "babylon5/personel",
		 .search = "charset UTF-8 SUBJECT {14+}\r\n\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2\xd0\xb0"},
		{.in = "imap://fred@example.com/INBOX/;UID=12/;SECTION=HEADER.FIELDS%20(Subject)/;PARTIAL=0.1024",
		 .user = "fred", .host = "example.com", .mailbox = "INBOX", .uid = 12,
		 .section = "HEADER.FIELDS (Subject)", .partial = 1, .poff = 0, .plen = 1024},
		/* names are case-insensitive, values keep their case */
		{.in = "imap://u@h/Drafts/;uid=7/;section=text/;partial=5", .user = "u", .host = "h",
		 .mailbox = "Drafts", .uid = 7, .section = "text", .partial = 1, .poff = 5},
		{.in = "imap://u@h/a;uidvalidity=4294967295/;UID=4294967295/;PARTIAL=4294967295.4294967295",
		 .user = "u", .host = "h", .mailbox = "a", .uidvalidity = 4294967295u, .uid = 4294967295u,
		 .partial = 1, .poff = 4294967295u, .plen = 4294967295u},
		/* PARTIAL's offset is a number (leading zeros allowed) */
		{.in = "imap://h/a/;UID=1/;PARTIAL=007.1", .host = "h", .mailbox = "a", .uid = 1, .partial = 1,
		 .poff = 7, .plen = 1},
		/* bchar in names: ':' '@' '&' '=' sub-delims; "&" is a plain "&" (UTF-8, not modified UTF-7) */
		{.in = "imap://h/Default/tel:+15551234567/;UID=3", .host = "h", .mailbox = "Default/tel:+15551234567",
		 .uid = 3},
		{.in = "imap://h/a@b=c!$'()*+,~_-.x", .host = "h", .mailbox = "a@b=c!$'()*+,~_-.x"},
		{.in = "imap://h/&U,BTFw-", .host = "h", .mailbox = "&U,BTFw-"},
		/* %-escapes: an escaped ';' or '/' is data */
		{.in = "imap://h/a%3Bb%2fc/;UID=1", .host = "h", .mailbox = "a;b/c", .uid = 1},
		{.in = "imap://h/a;UIDVALIDITY=9", .host = "h", .mailbox = "a", .uidvalidity = 9},
		/* a '/' inside a section stays in it (header field names may hold one) */
		{.in = "imap://h/a/;UID=1/;SECTION=HEADER.FIELDS%20(X/Y)", .host = "h", .mailbox = "a", .uid = 1,
		 .section = "HEADER.FIELDS (X/Y)"},
		/* dot segments */
		{.in = "imap://h/a/./b/../c/;UID=1", .host = "h", .mailbox = "a/c", .uid = 1},
		/* IP literals and escaped host names */
		{.in = "imap://u@[2001:db8::1]:993/INBOX", .user = "u", .host = "[2001:db8::1]", .port = 993,
		 .mailbox = "INBOX"},
		{.in = "imap://u@192.0.2.7/INBOX", .user = "u", .host = "192.0.2.7", .mailbox = "INBOX"},
		{.in = "imap://u%40corp@Ex%41mple.org/INBOX", .user = "u@corp", .host = "example.org", .mailbox = "INBOX"},
	};
	for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]); i++)
		check(&ws[i], NULL);
}

static void test_relative(void **state)
{
	(void)state;
	struct imap_url base = {0}, msgbase = {0}, bare = {0};
	const char *err;
	assert_int_equal(parse("imap://me@store.example/a/b;UIDVALIDITY=77", NULL, &base, &err), 0);
	assert_int_equal(parse("imap://me@store.example/a/b;UIDVALIDITY=77/;UID=5/;SECTION=2", NULL, &msgbase, &err), 0);
	assert_int_equal(parse("imap://me@store.example", NULL, &bare, &err), 0);
	static const struct want on_mailbox[] = {
		/* a message in the base mailbox keeps its UIDVALIDITY */
		{.in = ";UID=20", .user = "me", .host = "store.example", .mailbox = "a/b", .uidvalidity = 77, .uid = 20},
		{.in = ";UID=20/;SECTION=1.2/;PARTIAL=3.4", .user = "me", .host = "store.example", .mailbox = "a/b",
		 .uidvalidity = 77, .uid = 20, .section = "1.2", .partial = 1, .poff = 3, .plen = 4},
		/* a mailbox path is relative to the base mailbox as a directory (as Dovecot) */
		{.in = "Other/;UID=1", .user = "me", .host = "store.example", .mailbox = "a/b/Other", .uid = 1},
		{.in = "../Other/;UID=1", .user = "me", .host = "store.example", .mailbox = "a/Other", .uid = 1},
		{.in = "../../../x", .user = "me", .host = "store.example", .mailbox = "x"},
		{.in = "./a:b/;UID=2", .user = "me", .host = "store.example", .mailbox = "a/b/a:b", .uid = 2},
		{.in = "c;UIDVALIDITY=3/;UID=2", .user = "me", .host = "store.example", .mailbox = "a/b/c",
		 .uidvalidity = 3, .uid = 2},
		/* an absolute path keeps only the server */
		{.in = "/INBOX/;UID=9", .user = "me", .host = "store.example", .mailbox = "INBOX", .uid = 9},
		{.in = "/", .user = "me", .host = "store.example"},
		/* a network path replaces the server */
		{.in = "//other@elsewhere/INBOX/;UID=1", .user = "other", .host = "elsewhere", .mailbox = "INBOX",
		 .uid = 1},
		/* the empty reference is the base; a search alone searches it */
		{.in = "", .user = "me", .host = "store.example", .mailbox = "a/b", .uidvalidity = 77},
		{.in = "?ALL", .user = "me", .host = "store.example", .mailbox = "a/b", .uidvalidity = 77,
		 .search = "ALL"},
	};
	for (size_t i = 0; i < sizeof(on_mailbox) / sizeof(on_mailbox[0]); i++)
		check(&on_mailbox[i], &base);

	static const struct want on_message[] = {
		{.in = ";SECTION=1.MIME", .user = "me", .host = "store.example", .mailbox = "a/b", .uidvalidity = 77,
		 .uid = 5, .section = "1.MIME"},
		{.in = ";PARTIAL=10.20", .user = "me", .host = "store.example", .mailbox = "a/b", .uidvalidity = 77,
		 .uid = 5, .section = "2", .partial = 1, .poff = 10, .plen = 20},
		{.in = ";SECTION=TEXT/;PARTIAL=1", .user = "me", .host = "store.example", .mailbox = "a/b",
		 .uidvalidity = 77, .uid = 5, .section = "TEXT", .partial = 1, .poff = 1},
	};
	for (size_t i = 0; i < sizeof(on_message) / sizeof(on_message[0]); i++)
		check(&on_message[i], &msgbase);

	/* no base mailbox: a mailbox path stands alone, ";UID=" has nothing to refer to */
	static const struct want on_server = {.in = "INBOX/;UID=1", .user = "me", .host = "store.example",
					      .mailbox = "INBOX", .uid = 1};
	check(&on_server, &bare);
	struct imap_url u;
	assert_int_equal(parse(";UID=1", &bare, &u, &err), -1);
	assert_string_equal(err, "Mailbox-relative URL without a base mailbox");
	assert_int_equal(parse(";SECTION=1", &base, &u, &err), -1);
	assert_string_equal(err, "Message-relative URL without a base message");
	assert_int_equal(parse("/;UID=1", &base, &u, &err), -1);
	assert_string_equal(err, "Missing mailbox name");
	/* another scheme; a relative path's first segment cannot hold ':' */
	assert_int_equal(parse("tel:+1/;UID=1", &base, &u, &err), -1);
	assert_string_equal(err, "Not an IMAP URL");
	assert_int_equal(parse("http://h/INBOX", &base, &u, &err), -1);
	/* relative references need a base */
	assert_int_equal(parse("INBOX/;UID=1", NULL, &u, &err), -1);
	assert_string_equal(err, "Relative URL without a base");
	assert_int_equal(parse("//h/INBOX", NULL, &u, &err), -1);
	assert_null(u.mailbox);
	imap_url_clear(&base);
	imap_url_clear(&msgbase);
	imap_url_clear(&bare);
}

static void test_urlauth(void **state)
{
	(void)state;
	struct imap_url u;
	const char *err = NULL;
	const char *s = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:"
			"91354a473744909de610943775f92038";
	assert_int_equal(parse(s, NULL, &u, &err), 0);
	assert_int_equal(u.uid, 20);
	assert_string_equal(u.section, "1.2");
	assert_int_equal(u.access, IMAP_URL_ACCESS_SUBMIT);
	assert_string_equal(u.access_user, "fred");
	assert_string_equal(u.mechanism, "INTERNAL");
	assert_string_equal(u.token, "91354a473744909de610943775f92038");
	assert_false(u.have_expire);
	assert_int_equal(u.rump_len, strlen("imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"));
	imap_url_clear(&u);

	/* a rump (GENURLAUTH input) with an expiry; offsets in any zone */
	s = "imap://joe@example.com/INBOX;UIDVALIDITY=9/;UID=20;EXPIRE=2030-01-02T03:04:05.25+01:30;URLAUTH=anonymous";
	assert_int_equal(parse(s, NULL, &u, &err), 0);
	assert_int_equal(u.uid, 20);
	assert_null(u.section);
	assert_true(u.have_expire);
	assert_int_equal(u.expire, 1893553445 - 90 * 60);
	assert_int_equal(u.access, IMAP_URL_ACCESS_ANONYMOUS);
	assert_null(u.mechanism);
	assert_null(u.token);
	assert_int_equal(u.rump_len, strlen(s));
	imap_url_clear(&u);

	s = "imap://h/a/;UID=1/;PARTIAL=0.10;EXPIRE=2000-02-29t00:00:00z;URLAUTH=AuthUser:X-Mech.1:"
	    "0123456789ABCDEF0123456789abcdef00";
	assert_int_equal(parse(s, NULL, &u, &err), 0);
	assert_true(u.have_partial);
	assert_int_equal(u.partial_length, 10);
	assert_int_equal(u.expire, 951782400);
	assert_int_equal(u.access, IMAP_URL_ACCESS_AUTHUSER);
	assert_string_equal(u.mechanism, "X-MECH.1");
	imap_url_clear(&u);

	s = "imap://h/a/;UID=1;URLAUTH=user+bob%2Bx";
	assert_int_equal(parse(s, NULL, &u, &err), 0);
	assert_int_equal(u.access, IMAP_URL_ACCESS_USER);
	assert_string_equal(u.access_user, "bob+x");
	imap_url_clear(&u);

	static const char *const bad[] = {
		"imap://h/a/;UID=1;URLAUTH=",
		"imap://h/a/;UID=1;URLAUTH=nobody",
		"imap://h/a/;UID=1;URLAUTH=submit+",
		"imap://h/a/;UID=1;URLAUTH=anonymous:INTERNAL",
		"imap://h/a/;UID=1;URLAUTH=anonymous::0123456789abcdef0123456789abcdef",
		"imap://h/a/;UID=1;URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcde",
		"imap://h/a/;UID=1;URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcdeg",
		"imap://h/a/;UID=1;URLAUTH=anonymous:IN_T:0123456789abcdef0123456789abcdef",
		"imap://h/a/;UID=1;EXPIRE=2030-01-01T00:00:00Z",
		"imap://h/a/;UID=1;EXPIRE=2030-13-01T00:00:00Z;URLAUTH=anonymous",
		"imap://h/a/;UID=1;EXPIRE=2031-02-29T00:00:00Z;URLAUTH=anonymous",
		"imap://h/a/;UID=1;EXPIRE=2030-01-01 00:00:00Z;URLAUTH=anonymous",
		"imap://h/a/;UID=1;EXPIRE=2030-01-01T00:00:00;URLAUTH=anonymous",
		"imap://h/a/;UID=1;EXPIRE=2030-01-01T00:00:00.Z;URLAUTH=anonymous",
		"imap://h/a/;UID=1;EXPIRE=2030-01-01T00:00:00+0100;URLAUTH=anonymous",
		"imap://h/a/;UID=1;EXPIRE=2030-01-01T24:00:00Z;URLAUTH=anonymous",
		"imap://h/a/;UID=1;URLAUTH=anonymous/;SECTION=1", /* URLAUTH must be last */
		"imap://h/a;URLAUTH=anonymous",                   /* needs a message */
		"imap://h/a/;UID=1;FOO=1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (parse(bad[i], NULL, &u, &err) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(err);
		assert_null(u.mailbox);
	}
}

static void test_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"imap:",
		"imap:/h/INBOX",
		"imap:h",
		"imap://",
		"imap:///INBOX/;UID=1", /* Dovecot: empty host */
		"imap://@h/INBOX",
		"imap://u;AUTH=@h/INBOX",
		"imap://u;FOO=x@h/INBOX",
		"imap://u:pw@h/INBOX", /* no passwords */
		"imap://h:99999/INBOX",
		"imap://h:12a/INBOX",
		"imap://[zz::1]/INBOX",
		"imap://[]/INBOX",
		"imap://[::1/INBOX",
		"imap://h?ALL",
		"imap://h/INBOX#frag",
		"imap://h/IN BOX",
		"imap://h/IN\"BOX",
		"imap://h/INBOX%",
		"imap://h/INBOX%4",
		"imap://h/INBOX%4G",
		"imap://h/IN%00BOX",     /* NUL */
		"imap://h/%FF%FE",       /* not UTF-8 */
		"imap://h/%C0%80",       /* overlong */
		"imap://h/%ED%A0%80",    /* surrogate */
		"imap://h/a[b]",
		"imap://h/a\\b",
		"imap://h/a^b",
		"imap://h/a{b}",
		"imap://h/a|b",
		"imap://h/a`b",
		"imap://h/a<b>",
		"imap://h/a%b",
		"imap://h/a\x7f",
		"imap://h/a\xc3\xa4",    /* raw 8-bit must be escaped */
		"imap://h/INBOX/",       /* trailing slash: an empty segment is not ";UID=" */
		"imap://h/INBOX/;UID=1/",
		"imap://h/INBOX/;UID=0",
		"imap://h/INBOX/;UID=01",
		"imap://h/INBOX/;UID=4294967296",
		"imap://h/INBOX/;UID=",
		"imap://h/INBOX/;UID=1x",
		"imap://h/INBOX/;UID=1%2F",
		"imap://h/INBOX/;UID=-1",
		"imap://h/INBOX;UIDVALIDITY=0/;UID=1",
		"imap://h/INBOX;UIDVALIDITY=/;UID=1",
		"imap://h/INBOX;UIDVALIDITY=5x",
		"imap://h/INBOX;FOO=5",
		"imap://h/;UIDVALIDITY=5",
		"imap://h/a;UIDVALIDITY=5/b",
		"imap://h/INBOX/;UID=1;SECTION=1",   /* each parameter is its own segment */
		"imap://h/INBOX/;SECTION=1",         /* SECTION needs a UID */
		"imap://h/INBOX/;PARTIAL=1.2",
		"imap://h/INBOX/;UID=1/;PARTIAL=1.2/;SECTION=1",
		"imap://h/INBOX/;UID=1/;UID=2",
		"imap://h/INBOX/;UID=1/;SECTION=1/;SECTION=2",
		"imap://h/INBOX/;UID=1/;SECTION=",
		"imap://h/INBOX/;UID=1/;SECTION=a%20[b]",
		"imap://h/INBOX/;UID=1/;SECTION=a b",
		"imap://h/INBOX/;UID=1/;PARTIAL=",
		"imap://h/INBOX/;UID=1/;PARTIAL=0.0",  /* Dovecot: size cannot be zero */
		"imap://h/INBOX/;UID=1/;PARTIAL=1.",
		"imap://h/INBOX/;UID=1/;PARTIAL=.5",
		"imap://h/INBOX/;UID=1/;PARTIAL=4294967296",
		"imap://h/INBOX/;UID=1/;PARTIAL=1.2.3",
		"imap://h/INBOX/;UID=1/;FOO=1",
		"imap://h/INBOX/;UID",
		"imap://h/INBOX/;",
		"imap://h/INBOX/;UID=1?ALL",          /* search is for message lists */
		"imap://h/INBOX?",
		"imap://h/?ALL",
		"imap://h/INBOX?a b",
		"imap://h/INBOX?a%ZZ",
		"imap://h/..",                         /* resolves to an empty name */
		"imaps://h/INBOX",
		"pop://h/INBOX",
	};
	struct imap_url base = {0};
	const char *err;
	assert_int_equal(parse("imap://me@h/INBOX;UIDVALIDITY=1", NULL, &base, &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_url u;
		err = NULL;
		/* "" is the base itself with a base, an error without one */
		if (parse(bad[i], i == 0 ? NULL : &base, &u, &err) == 0)
			fail_msg("accepted \"%s\" as mailbox %s uid %u", bad[i], u.mailbox ? u.mailbox : "-",
				 (unsigned)u.uid);
		assert_non_null(err);
		assert_null(u.mailbox);
		assert_null(u.host);
	}
	/* the same with a relative spelling */
	static const char *const rel_bad[] = {";UID=0", ";UID=1/;FOO=2", "a/;UID=1;x", "a b", ";UID=1/;PARTIAL=1/;SECTION=1",
					      "%", ";PARTIAL=1"};
	for (size_t i = 0; i < sizeof(rel_bad) / sizeof(rel_bad[0]); i++) {
		struct imap_url u;
		if (parse(rel_bad[i], &base, &u, &err) == 0)
			fail_msg("accepted \"%s\"", rel_bad[i]);
	}
	imap_url_clear(&base);
}

static void test_limits(void **state)
{
	(void)state;
	/* the length bound */
	size_t n = IMAP_URL_MAX_LEN + 1;
	char *s = malloc(n + 1);
	assert_non_null(s);
	memcpy(s, "imap://h/", 9);
	memset(s + 9, 'a', n - 9);
	s[n] = '\0';
	struct imap_url u;
	const char *err;
	assert_int_equal(imap_url_parse(s, n, NULL, &u, &err), -1);
	assert_string_equal(err, "URL too long");
	assert_int_equal(imap_url_parse(s, n - 1, NULL, &u, &err), 0);
	assert_int_equal(strlen(u.mailbox), n - 1 - 9);
	imap_url_clear(&u);
	/* many ".." never underflow; many segments are fine */
	struct imap_url base = {0};
	assert_int_equal(parse("imap://h/x/y", NULL, &base, &err), 0);
	char *r = malloc(IMAP_URL_MAX_LEN + 1);
	assert_non_null(r);
	size_t k = 0;
	while (k + 3 <= IMAP_URL_MAX_LEN - 2) {
		memcpy(r + k, "../", 3);
		k += 3;
	}
	r[k++] = 'z';
	assert_int_equal(imap_url_parse(r, k, &base, &u, &err), 0);
	assert_string_equal(u.mailbox, "z");
	imap_url_clear(&u);
	imap_url_clear(&base);
	/* the input is not NUL-terminated: only len bytes are read */
	assert_int_equal(imap_url_parse("imap://h/INBOX/;UID=12", 21, NULL, &u, &err), 0);
	assert_int_equal(u.uid, 1);
	imap_url_clear(&u);
	/* NUL inside the length */
	assert_int_equal(imap_url_parse("imap://h/a\0b", 12, NULL, &u, &err), -1);
	free(s);
	free(r);
}

/* Every byte sequence of a few characters over the URL alphabet parses or
 * fails cleanly (run under ASan), and accepted URLs are self-consistent. */
static void test_exhaustive_short(void **state)
{
	(void)state;
	static const char alpha[] = ";/=%.:?@1AU0a";
	const size_t na = sizeof(alpha) - 1;
	struct imap_url base = {0};
	const char *err;
	assert_int_equal(parse("imap://me@h/a;UIDVALIDITY=3/;UID=2", NULL, &base, &err), 0);
	char s[5];
	unsigned accepted = 0;
	for (size_t len = 0; len <= 4; len++) {
		size_t total = 1;
		for (size_t i = 0; i < len; i++)
			total *= na;
		for (size_t v = 0; v < total; v++) {
			size_t x = v;
			for (size_t i = 0; i < len; i++) {
				s[i] = alpha[x % na];
				x /= na;
			}
			struct imap_url u;
			if (imap_url_parse(s, len, &base, &u, &err) == 0) {
				accepted++;
				assert_non_null(u.host);
				if (u.uid != 0)
					assert_non_null(u.mailbox);
				if (u.section != NULL)
					assert_int_not_equal(u.uid, 0);
				imap_url_clear(&u);
			} else {
				assert_non_null(err);
			}
		}
	}
	assert_true(accepted > 0);
	imap_url_clear(&base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute), cmocka_unit_test(test_relative),
		cmocka_unit_test(test_urlauth),	 cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_limits),	 cmocka_unit_test(test_exhaustive_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
