/*
 * Unit tests for common/imap-envelope: RFC 3501 ENVELOPE.
 *
 * The corpus answers are exact and equal, value for value, to what Dovecot
 * 2.3.19 answers for the same messages (checked with FETCH ENVELOPE), with
 * one deliberate difference noted in the test. Encoded words stay raw;
 * strings holding 8-bit bytes, CR/LF or NUL are written as literals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap-envelope.h"

struct env_case {
	const char *name;
	const char *msg;
	size_t len;
	const char *envelope;
};

static const struct env_case cases[] = {
	{"rfc3501_example",
		"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
		"From: Terry Gray <gray@cac.washington.edu>\r\n"
		"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
		"To: imap@cac.washington.edu\r\n"
		"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
		"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
		"\r\n"
		"body\r\n",
		348,
		"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" ((\"Ter"
		"ry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washing"
		"ton.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac"
		".washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLE"
		"NSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\")"},
	{"no_header",
		"\r\n"
		"body\r\n",
		8,
		"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"},
	{"sender_reply_to_given",
		"From: a@x\r\n"
		"Sender: s@x\r\n"
		"Reply-To: r@x\r\n"
		"Bcc: b@x\r\n"
		"In-Reply-To: <p@x>\r\n"
		"\r\n",
		71,
		"(NIL NIL ((NIL NIL \"a\" \"x\")) ((NIL NIL \"s\" \"x\")) ((NIL NIL \"r\" \"x\")) NIL NIL (("
		"NIL NIL \"b\" \"x\")) \"<p@x>\" NIL)"},
	{"empty_sender_defaults_to_from",
		"From: a@x\r\n"
		"Sender:\r\n"
		"Reply-To: \r\n"
		"\r\n",
		34,
		"(NIL NIL ((NIL NIL \"a\" \"x\")) ((NIL NIL \"a\" \"x\")) ((NIL NIL \"a\" \"x\")) NIL NIL NI"
		"L NIL NIL)"},
	{"rfc5322_a13_groups",
		"From: Pete <pete@silly.example>\r\n"
		"To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
		"Cc: Undisclosed recipients:;\r\n"
		"Date: Thu, 13 Feb 1969 23:32:54 -0330\r\n"
		"Message-ID: <testabcd.1234@silly.example>\r\n"
		"\r\n",
		217,
		"(\"Thu, 13 Feb 1969 23:32:54 -0330\" NIL ((\"Pete\" NIL \"pete\" \"silly.example\")) ((\"Pe"
		"te\" NIL \"pete\" \"silly.example\")) ((\"Pete\" NIL \"pete\" \"silly.example\")) ((NIL NIL"
		" \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")(\"John"
		"\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) ((NIL NIL \"Undisclosed recipients\" NIL)(N"
		"IL NIL NIL NIL)) NIL NIL \"<testabcd.1234@silly.example>\")"},
	{"rfc5322_a5_comments",
		"From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\n"
		"To:A Group(Some people)\r\n"
		"     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
		"         joe@example.org,\r\n"
		"  John <jdoe@one.test> (my dear friend); (the end of the group)\r\n"
		"Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\r\n"
		"Date: Thu,\r\n"
		"      13\r\n"
		"        Feb\r\n"
		"          1969\r\n"
		"      23:32\r\n"
		"               -0330 (Newfoundland Time)\r\n"
		"Message-ID:              <testabcd.1234@silly.test>\r\n"
		"\r\n",
		469,
		"(\"Thu,      13        Feb          1969      23:32               -0330 (Newfoundland Time)"
		"\" NIL ((\"Pete\" NIL \"pete\" \"silly.test\")) ((\"Pete\" NIL \"pete\" \"silly.test\")) (("
		"\"Pete\" NIL \"pete\" \"silly.test\")) ((NIL NIL \"A Group\" NIL)(\"Chris Jones\" NIL \"c\""
		" \"public.example\")(NIL NIL \"joe\" \"example.org\")(\"John\" NIL \"jdoe\" \"one.test\")(N"
		"IL NIL NIL NIL)) ((NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL \"<testabcd"
		".1234@silly.test>\")"},
	{"quoted_names_and_phrases",
		"From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
		"To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\n"
		"Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
		"Bcc: \"A\" \"B\" C.D <a@b>\r\n"
		"\r\n",
		213,
		"(NIL NIL ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) ((\"Joe Q. Public\" NI"
		"L \"john.q.public\" \"example.com\")) ((\"Joe Q. Public\" NIL \"john.q.public\" \"example.c"
		"om\")) ((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")(\"Who?\""
		" NIL \"one\" \"y.test\")) ((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \""
		"sysservices\" \"example.net\")) ((\"A B C.D\" NIL \"a\" \"b\")) NIL NIL)"},
	{"comment_as_name_route_and_empty_name",
		"From: john@x.test (John Doe)\r\n"
		"To: user\r\n"
		"Cc: <@route1,@route2:u@d>\r\n"
		"Bcc: \"\" <a@b>, \"  spaced   name \" <c@d>\r\n"
		"Reply-To: undisclosed-recipients:;\r\n"
		"\r\n",
		146,
		"(NIL NIL ((\"John Doe\" NIL \"john\" \"x.test\")) ((\"John Doe\" NIL \"john\" \"x.test\")) "
		"((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) ((NIL NIL \"user\" \"MISSING_DO"
		"MAIN\")) ((NIL \"@route1,@route2\" \"u\" \"d\")) ((NIL NIL \"a\" \"b\")(\"spaced name\" NIL"
		" \"c\" \"d\")) NIL NIL)"},
	{"broken_addresses",
		"From: a@b, , c@d,\r\n"
		"To: broken <a@b\r\n"
		"Cc: @\r\n"
		"Bcc: \"unterminated <x@y>\r\n"
		"\r\n",
		71,
		"(NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c"
		"\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \""
		"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL "
		"\"c\" \"d\")) ((\"broken\" NIL \"a\" \"SYNTAX_ERROR\")) ((NIL NIL \"MISSING_MAILBOX\" \"MIS"
		"SING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) NIL NIL)"},
	{"more_broken_addresses",
		"From: a@b@c\r\n"
		"To: <>\r\n"
		"Cc: Name <>, <<<\r\n"
		"Bcc: g: a@b; h: ;, x@y\r\n"
		"Reply-To: g2: a@b\r\n"
		"\r\n",
		84,
		"(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"g2\" NIL)(NIL NIL \"a\""
		" \"b\")(NIL NIL NIL NIL)) ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((\"Name\" NIL"
		" \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" \"SYNTAX_ERROR\")) ((N"
		"IL NIL \"g\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)) NIL NIL)"},
	{"repeated_fields",
		"From: a@b\r\n"
		"From: c@d\r\n"
		"To: x@y\r\n"
		"To:\r\n"
		"Subject: first\r\n"
		"Subject: second\r\n"
		"Date: one\r\n"
		"Date: two\r\n"
		"\r\n",
		93,
		"(\"two\" \"second\" ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL"
		" NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"x\" \"y\")) NIL"
		" NIL NIL NIL)"},
	{"empty_string_fields",
		"Subject:\r\n"
		"Date: \r\n"
		"Message-ID:\r\n"
		"In-Reply-To:\r\n"
		"\r\n",
		47,
		"(\"\" \"\" NIL NIL NIL NIL NIL NIL \"\" \"\")"},
	{"folding_and_whitespace",
		"Subject:   a\r\n"
		"\tb  c\t \r\n"
		"Message-ID:  <x@y> \r\n"
		"In-Reply-To: <a@b>\r\n"
		" <c@d>\r\n"
		"\r\n",
		74,
		"(NIL \"a b c\" NIL NIL NIL NIL NIL NIL \"<a@b> <c@d>\" \"<x@y> \")"},
	{"encoded_words_kept_raw",
		"Subject: =?utf-8?q?caf=C3=A9?= =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
		"From: =?utf-8?q?J=C3=B6rg?= <j@x>\r\n"
		"\r\n",
		119,
		"(NIL \"=?utf-8?q?caf=C3=A9?= =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\" ((\"=?utf-"
		"8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) ((\"=?utf"
		"-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")) NIL NIL NIL NIL NIL)"},
	{"eight_bit_header",
		"Subject: Gr\303\274\303\237e\r\n"
		"From: J\303\266rg <j@x>\r\n"
		"To: \"M\303\274ller\" <m\303\274@x>\r\n"
		"\r\n",
		62,
		"(NIL {7}\r\n"
		"Gr\303\274\303\237e (({5}\r\n"
		"J\303\266rg NIL \"j\" \"x\")) (({5}\r\n"
		"J\303\266rg NIL \"j\" \"x\")) (({5}\r\n"
		"J\303\266rg NIL \"j\" \"x\")) (({7}\r\n"
		"M\303\274ller NIL {3}\r\n"
		"m\303\274 \"x\")) NIL NIL NIL NIL)"},
	{"nul_in_values",
		"Subject: x\000y\r\n"
		"From: \"x\000y\" <a\000b@c>\r\n"
		"Message-ID: <m\000n>\r\n"
		"\r\n",
		56,
		"(NIL {5}\r\n"
		"x\357\277\275y (({5}\r\n"
		"x\357\277\275y NIL \"a\" \"SYNTAX_ERROR\")) (({5}\r\n"
		"x\357\277\275y NIL \"a\" \"SYNTAX_ERROR\")) (({5}\r\n"
		"x\357\277\275y NIL \"a\" \"SYNTAX_ERROR\")) NIL NIL NIL NIL {7}\r\n"
		"<m\357\277\275n>)"},
	{"quotes_in_subject",
		"Subject: \"q\" \\\\ \r\n"
		"\r\n",
		20,
		"(NIL \"\\\"q\\\" \\\\\\\\\" NIL NIL NIL NIL NIL NIL NIL NIL)"},
	{"cpm_sip_and_tel",
		"From: <sip:+4915112345@ims.example>\r\n"
		"To: <tel:+4915198765>\r\n"
		"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n"
		"\r\n",
		101,
		"(\"Tue, 03 Jan 2023 10:00:00 +0000\" NIL ((NIL NIL \"sip\" \"SYNTAX_ERROR\")) ((NIL NIL \"s"
		"ip\" \"SYNTAX_ERROR\")) ((NIL NIL \"sip\" \"SYNTAX_ERROR\")) ((NIL NIL \"tel\" \"SYNTAX_ERR"
		"OR\")) NIL NIL NIL NIL)"},
	{"header_without_blank_line",
		"Subject: s\r\n"
		"From: f@x",
		21,
		"(NIL \"s\" ((NIL NIL \"f\" \"x\")) ((NIL NIL \"f\" \"x\")) ((NIL NIL \"f\" \"x\")) NIL NIL "
		"NIL NIL NIL)"},
	{"case_insensitive_names",
		"FROM: a@b\r\n"
		"subject: lower\r\n"
		"MESSAGE-id: <m@x>\r\n"
		"IN-REPLY-TO: <r@x>\r\n"
		"CC: c@d\r\n"
		"\r\n",
		77,
		"(NIL \"lower\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL "
		"((NIL NIL \"c\" \"d\")) NIL \"<r@x>\" \"<m@x>\")"},
};

/* Length of the header part of m (up to and including the empty line). */
static size_t header_len(const char *m, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (m[i] == '\n' && i + 1 < len && m[i + 1] == '\n')
			return i + 2;
		if (m[i] == '\n' && i + 2 < len && m[i + 1] == '\r' && m[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

static void test_corpus(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct env_case *c = &cases[i];
		struct buf o = {0};
		print_message("case %s\n", c->name);
		assert_int_equal(imap_envelope_write(&o, (const unsigned char *)c->msg, 0, header_len(c->msg, c->len)), 0);
		assert_int_equal(o.len, strlen(c->envelope));
		assert_memory_equal(o.data, c->envelope, o.len);
		/* the whole message gives the same: parsing stops at the empty line */
		buf_reset(&o);
		assert_int_equal(imap_envelope_write(&o, (const unsigned char *)c->msg, 0, c->len), 0);
		assert_memory_equal(o.data, c->envelope, o.len);
		buf_free(&o);
	}
}

/* Deliberate difference: Dovecot gives up on "a . b @ c . d" and on
 * comments around dots; we follow RFC 5322 obs-local-part and obs-domain
 * (CFWS around the dots), giving a.b and c.d. A bare addr-spec takes its
 * last comment as the name, as everywhere else. */
static void test_obsolete_dots(void **state)
{
	static const char m[] = "Cc: a.@b, .a@b, a . b @ c . d, x(c).(d)y@z\r\n\r\n";
	struct buf o = {0};
	assert_int_equal(imap_envelope_write(&o, (const unsigned char *)m, 0, sizeof(m) - 1), 0);
	assert_string_equal((const char *)o.data, "(NIL NIL NIL NIL NIL NIL ((NIL NIL \"a.\" \"b\")(NIL NIL \".a\" \"b\")"
						  "(NIL NIL \"a.b\" \"c.d\")(\"d\" NIL \"x.y\" \"z\")) NIL NIL NIL)");
	buf_free(&o);
}

/* The header range is msg[hdr_off .. hdr_off + hdr_len): bytes around it
 * are not read. */
static void test_header_range(void **state)
{
	static const char m[] = "Subject: outer\r\n\r\nSubject: inner\r\nFrom: i@x\r\n\r\nSubject: body";
	struct buf o = {0};
	assert_int_equal(imap_envelope_write(&o, (const unsigned char *)m, 18, 29), 0);
	assert_string_equal((const char *)o.data, "(NIL \"inner\" ((NIL NIL \"i\" \"x\")) ((NIL NIL \"i\" \"x\")) "
						  "((NIL NIL \"i\" \"x\")) NIL NIL NIL NIL NIL)");
	buf_reset(&o);
	assert_int_equal(imap_envelope_write(&o, (const unsigned char *)m, 18, 0), 0);
	assert_string_equal((const char *)o.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&o);
}

/* List members stop when the store's budget is spent; a group always keeps
 * its end marker, and every list stays contiguous in the store. */
static void test_budget(void **state)
{
	static const char m[] = "To: a@x, b@x, c@x\r\nCc: g: d@x, e@x;\r\nFrom: f@x\r\n\r\n";
	struct mime_store st = {.budget = 8};
	struct imap_envelope env;
	struct buf o = {0};
	assert_int_equal(imap_envelope_parse((const unsigned char *)m, sizeof(m) - 1, &st, &env), 0);
	assert_int_equal(env.addr[IMAP_ENV_TO].count, 2);
	assert_int_equal(env.addr[IMAP_ENV_CC].count, 0);
	assert_int_equal(env.addr[IMAP_ENV_FROM].count, 0);
	assert_int_equal(st.n_strs, 8);
	assert_int_equal(st.budget, 0);
	assert_int_equal(imap_envelope_write_parsed(&o, &st, &env), 0);
	assert_string_equal((const char *)o.data, "(NIL NIL NIL NIL NIL ((NIL NIL \"a\" \"x\")(NIL NIL \"b\" \"x\")) "
						  "NIL NIL NIL NIL)");
	mime_store_free(&st);

	/* room for the group start and end only */
	static const char g[] = "Cc: g: d@x, e@x;\r\n\r\n";
	st = (struct mime_store){.budget = 8};
	buf_reset(&o);
	assert_int_equal(imap_envelope_parse((const unsigned char *)g, sizeof(g) - 1, &st, &env), 0);
	assert_int_equal(imap_envelope_write_parsed(&o, &st, &env), 0);
	assert_string_equal((const char *)o.data,
			    "(NIL NIL NIL NIL NIL NIL ((NIL NIL \"g\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)");
	mime_store_free(&st);

	/* no budget: strings still work, lists are empty */
	st = (struct mime_store){.budget = 0};
	buf_reset(&o);
	assert_int_equal(imap_envelope_parse((const unsigned char *)m, sizeof(m) - 1, &st, &env), 0);
	assert_int_equal(imap_envelope_write_parsed(&o, &st, &env), 0);
	assert_string_equal((const char *)o.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	mime_store_free(&st);
	buf_free(&o);
}

/* Interned placeholders are stored once. */
static void test_placeholders_interned(void **state)
{
	static const char m[] = "To: a, b, c, d\r\n\r\n";
	struct mime_store st = {.budget = 100};
	struct imap_envelope env;
	assert_int_equal(imap_envelope_parse((const unsigned char *)m, sizeof(m) - 1, &st, &env), 0);
	assert_int_equal(env.addr[IMAP_ENV_TO].count, 4);
	/* "a" "b" "c" "d" and "MISSING_DOMAIN" once */
	assert_int_equal(st.pool.len, 4 + strlen("MISSING_DOMAIN"));
	mime_store_free(&st);
}

/* References that do not fit the store (untrusted stored data) are NIL. */
static void test_bad_references(void **state)
{
	struct mime_store st = {.budget = 100};
	struct imap_envelope env;
	struct buf o = {0};
	static const char m[] = "Subject: s\r\nTo: a@b\r\n\r\n";
	assert_int_equal(imap_envelope_parse((const unsigned char *)m, sizeof(m) - 1, &st, &env), 0);
	env.subject.off = 1000;
	env.addr[IMAP_ENV_TO].count = 3;
	env.date = (struct mime_str){0, 1};
	assert_int_equal(imap_envelope_write_parsed(&o, &st, &env), 0);
	assert_string_equal((const char *)o.data, "(\"a\" NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	mime_store_free(&st);
	buf_free(&o);
}

/* A 200 KB Subject and a To with 5000 addresses on one line. */
static void test_huge_header_lines(void **state)
{
	struct buf m = {0}, o = {0}, want = {0};
	assert_int_equal(buf_append_str(&m, "Subject: "), 0);
	for (int i = 0; i < 200000; i++)
		assert_int_equal(buf_append_byte(&m, (unsigned char)('a' + i % 26)), 0);
	assert_int_equal(buf_append_str(&m, "\r\nTo: "), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf_printf(&m, "%su%d@x", i > 0 ? ", " : "", i), 0);
	assert_int_equal(buf_append_str(&m, "\r\n\r\nbody"), 0);
	assert_int_equal(imap_envelope_write(&o, m.data, 0, m.len), 0);

	assert_int_equal(buf_append_str(&want, "(NIL {200000}\r\n"), 0);
	assert_int_equal(buf_append(&want, m.data + 9, 200000), 0);
	assert_int_equal(buf_append_str(&want, " NIL NIL NIL ("), 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(buf_printf(&want, "(NIL NIL \"u%d\" \"x\")", i), 0);
	assert_int_equal(buf_append_str(&want, ") NIL NIL NIL NIL)"), 0);
	assert_int_equal(o.len, want.len);
	assert_memory_equal(o.data, want.data, want.len);
	buf_free(&m);
	buf_free(&o);
	buf_free(&want);
}

/* One field's addresses, nothing else parsed or stored. */
static void test_parse_addresses_one_field(void **state)
{
	(void)state;
	static const char hdr[] = "From: Fred <fred@example.org>\r\nSubject: hello\r\n"
				  "To: grp: x@y.org, z@w.org;, Ann <ann@example.org>\r\n\r\n";
	struct mime_store st = {0};
	st.budget = 400;
	struct mime_list l;
	assert_int_equal(imap_envelope_parse_addresses((const unsigned char *)hdr, sizeof(hdr) - 1, &st, IMAP_ENV_TO, &l), 0);
	assert_int_equal(l.count, 5); /* group start, two members, group end, Ann */
	assert_int_equal(st.n_strs, 20); /* only those: no From, no Subject */
	size_t n;
	const unsigned char *p = mime_store_get(&st, st.strs[l.first + 2], &n); /* group start: its name as mailbox */
	assert_int_equal(n, 3);
	assert_memory_equal(p, "grp", 3);
	p = mime_store_get(&st, st.strs[l.first + 16], &n); /* Ann's name */
	assert_int_equal(n, 3);
	assert_memory_equal(p, "Ann", 3);
	mime_store_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_parse_addresses_one_field),
		cmocka_unit_test(test_obsolete_dots),
		cmocka_unit_test(test_header_range),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_placeholders_interned),
		cmocka_unit_test(test_bad_references),
		cmocka_unit_test(test_huge_header_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
