/* Unit tests for common/imap-utf7. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "imap-utf7.h"

struct pair {
	const char *utf8;
	const char *mutf7;
};

static const struct pair pairs[] = {
	{"", ""},
	{"INBOX", "INBOX"},
	/* RFC 3501 section 5.1.3 example */
	{"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
	{"&", "&-"},
	{"a&b&&", "a&-b&-&-"},
	{"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
	{"&\xc3\xa4", "&-&AOQ-"},
	/* U+1F600 needs a surrogate pair */
	{"\xf0\x9f\x98\x80", "&2D3eAA-"},
	{"\xc3\x9c&\xf0\x9f\x98\x80x\x01", "&ANw-&-&2D3eAA-x&AAE-"},
	{"\x7f", "&AH8-"},
	{"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82, \xd0\xbc\xd0\xb8\xd1\x80",
	 "&BB8EQAQ4BDIENQRC-, &BDwEOARA-"},
	{"a\xf4\x8f\xbf\xbf", "a&2,,f,w-"},
	{"Default/tel:+15551234567", "Default/tel:+15551234567"},
	{"~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}", "~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}"},
};

static void test_known_pairs(void **state)
{
	struct buf b = {0};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct pair *p = &pairs[i];
		buf_reset(&b);
		assert_int_equal(imap_utf8_to_mutf7(p->utf8, strlen(p->utf8), &b), 0);
		assert_int_equal(b.len, strlen(p->mutf7));
		assert_memory_equal(b.len ? (const char *)b.data : "", p->mutf7, b.len);
		buf_reset(&b);
		assert_int_equal(imap_mutf7_to_utf8(p->mutf7, strlen(p->mutf7), &b), 0);
		assert_int_equal(b.len, strlen(p->utf8));
		assert_memory_equal(b.len ? (const char *)b.data : "", p->utf8, b.len);
		assert_true(imap_mutf7_is_valid(p->mutf7, strlen(p->mutf7)));
	}
	buf_free(&b);
}

static void test_appends(void **state)
{
	struct buf b = {0};
	assert_int_equal(buf_append_str(&b, "pre:"), 0);
	assert_int_equal(imap_utf8_to_mutf7("\xc3\xa4", 2, &b), 0);
	assert_string_equal((const char *)b.data, "pre:&AOQ-");
	assert_int_equal(imap_mutf7_to_utf8("&AOQ-", 5, &b), 0);
	assert_string_equal((const char *)b.data, "pre:&AOQ-\xc3\xa4");
	/* Failure leaves the previous content exactly as it was. */
	assert_int_equal(imap_utf8_to_mutf7("ok\xc3\xa4\xff", 5, &b), -1);
	assert_string_equal((const char *)b.data, "pre:&AOQ-\xc3\xa4");
	assert_int_equal(imap_mutf7_to_utf8("ok&AOQ-&AOR-", 12, &b), -1);
	assert_string_equal((const char *)b.data, "pre:&AOQ-\xc3\xa4");
	buf_free(&b);
}

static void test_mutf7_rejects(void **state)
{
	const char *bad[] = {
		"&",	      /* unterminated */
		"&AOQ",	      /* unterminated */
		"a&AOQ-b&",   /* unterminated at the end */
		"&AOQ-&AOQ-", /* two runs back to back */
		"&AGE-",      /* 'a' encoded */
		"&ACY-",      /* '&' encoded */
		"&ACA-",      /* ' ' encoded */
		"&AH4-",      /* '~' encoded */
		"&AOR-",      /* non-zero padding bits */
		"&AOQA-",     /* a whole extra base64 character */
		"&AO-",	      /* incomplete UTF-16 unit */
		"&A-",	      /* 6 bits only */
		"&AOQ=-",     /* standard padding */
		"&AO/-",      /* '/' is not modified base64 */
		"&AO Q-",     /* space inside a run */
		"&2D0-",      /* lone high surrogate */
		"&3gA-",      /* lone low surrogate */
		"&2D3YPQ-",   /* high followed by high */
		"&AAA-",      /* U+0000 */
		"&AOQA5AA-x", /* 42 bits: two units and 10 left over */
		"a\tb",	      /* control character literal */
		"\x7f",	      /* DEL literal */
		"\xc3\xa4",   /* raw UTF-8 */
		"&&-",	      /* '&' is not base64 */
	};
	struct buf b = {0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_mutf7_is_valid(bad[i], strlen(bad[i])))
			fail_msg("is_valid accepted \"%s\"", bad[i]);
		buf_reset(&b);
		assert_int_equal(imap_mutf7_to_utf8(bad[i], strlen(bad[i]), &b), -1);
		assert_int_equal(b.len, 0);
	}
	/* "&--" is "&" followed by "-". */
	buf_reset(&b);
	assert_int_equal(imap_mutf7_to_utf8("&--", 3, &b), 0);
	assert_string_equal((const char *)b.data, "&-");
	/* An embedded NUL byte within len. */
	assert_false(imap_mutf7_is_valid("ab\0c", 4));
	/* A literal after a run, then another run, is fine. */
	assert_true(imap_mutf7_is_valid("&AOQ-x&AOQ-", 11));
	assert_true(imap_mutf7_is_valid("&AOQ-&-&AOQ-", 12));
	buf_free(&b);
}

static void test_utf8_rejects(void **state)
{
	const struct {
		const char *s;
		size_t len;
	} bad[] = {
		{"\xc0\xaf", 2},	 /* overlong '/' */
		{"\xc1\xbf", 2},	 /* overlong */
		{"\xe0\x80\xaf", 3},	 /* overlong */
		{"\xf0\x80\x80\xaf", 4}, /* overlong */
		{"\xed\xa0\x80", 3},	 /* U+D800 */
		{"\xed\xbf\xbf", 3},	 /* U+DFFF */
		{"\xf4\x90\x80\x80", 4}, /* U+110000 */
		{"\xf5\x80\x80\x80", 4},
		{"\xff", 1},
		{"\x80", 1}, /* lone continuation */
		{"\xe2\x82", 2}, /* truncated */
		{"a\xe2\x82", 3},
		{"\xe2\x28\xa1", 3}, /* bad continuation */
		{"a\0b", 3},	     /* U+0000 */
		{"\xc3\xa4\x00", 3}, /* U+0000 inside a run */
	};
	struct buf b = {0};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&b);
		if (imap_utf8_to_mutf7(bad[i].s, bad[i].len, &b) != -1)
			fail_msg("accepted utf-8 case %zu", i);
		assert_int_equal(b.len, 0);
	}
	/* The boundaries themselves are fine. */
	buf_reset(&b);
	assert_int_equal(imap_utf8_to_mutf7("\xed\x9f\xbf\xee\x80\x80", 6, &b), 0); /* U+D7FF U+E000 */
	assert_string_equal((const char *)b.data, "&1,,gAA-");
	buf_free(&b);
}

/* Appends the UTF-8 form of cp. */
static void put_cp(struct buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		buf_append_byte(b, (unsigned char)cp);
	} else if (cp < 0x800) {
		buf_append_byte(b, (unsigned char)(0xc0 | cp >> 6));
		buf_append_byte(b, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_byte(b, (unsigned char)(0xe0 | cp >> 12));
		buf_append_byte(b, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		buf_append_byte(b, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_byte(b, (unsigned char)(0xf0 | cp >> 18));
		buf_append_byte(b, (unsigned char)(0x80 | (cp >> 12 & 0x3f)));
		buf_append_byte(b, (unsigned char)(0x80 | (cp >> 6 & 0x3f)));
		buf_append_byte(b, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

/* Random strings: utf8 -> mutf7 -> utf8 is the identity, the encoding is
 * valid, contains only printable ASCII and re-encodes identically. */
static void test_random_roundtrip(void **state)
{
	struct buf u = {0}, m = {0}, back = {0}, again = {0};
	srand(7);
	for (int iter = 0; iter < 5000; iter++) {
		buf_reset(&u);
		int n = rand() % 12;
		for (int k = 0; k < n; k++) {
			uint32_t cp;
			switch (rand() % 5) {
			case 0: cp = 0x20 + (uint32_t)(rand() % 0x5f); break;
			case 1: cp = '&'; break;
			case 2: cp = 1 + (uint32_t)(rand() % 0x7ff); break;
			case 3: cp = 0x800 + (uint32_t)(rand() % (0x10000 - 0x800)); break;
			default: cp = 0x10000 + (uint32_t)(rand() % 0x100000); break;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xe000;
			put_cp(&u, cp);
		}
		buf_reset(&m);
		buf_reset(&back);
		buf_reset(&again);
		assert_int_equal(imap_utf8_to_mutf7((const char *)u.data, u.len, &m), 0);
		for (size_t k = 0; k < m.len; k++)
			assert_true(m.data[k] >= 0x20 && m.data[k] <= 0x7e);
		assert_true(m.len <= 5 * u.len);
		assert_true(imap_mutf7_is_valid((const char *)m.data, m.len));
		assert_int_equal(imap_mutf7_to_utf8((const char *)m.data, m.len, &back), 0);
		assert_int_equal(back.len, u.len);
		assert_memory_equal(back.data, u.data, u.len);
		assert_int_equal(imap_utf8_to_mutf7((const char *)back.data, back.len, &again), 0);
		assert_int_equal(again.len, m.len);
		assert_memory_equal(again.data, m.data, m.len);
	}
	buf_free(&u);
	buf_free(&m);
	buf_free(&back);
	buf_free(&again);
}

/* Every 2-character modified-base64 run body: the decoder never crashes and
 * accepts only what the encoder would produce. */
static void test_decoder_exhaustive_short(void **state)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
	struct buf out = {0}, re = {0};
	char s[8];
	unsigned accepted = 0;
	for (int a = 0; a < 64; a++)
		for (int b = 0; b < 64; b++)
			for (int c = 0; c < 64; c++) {
				s[0] = '&';
				s[1] = alpha[a];
				s[2] = alpha[b];
				s[3] = alpha[c];
				s[4] = '-';
				buf_reset(&out);
				if (imap_mutf7_to_utf8(s, 5, &out) != 0)
					continue;
				accepted++;
				buf_reset(&re);
				assert_int_equal(imap_utf8_to_mutf7((const char *)out.data, out.len, &re), 0);
				assert_int_equal(re.len, 5);
				assert_memory_equal(re.data, s, 5);
			}
	/* One BMP unit per 3 characters with 2 zero padding bits: 2^16 units
	 * minus NUL, 95 printable ASCII and 2048 surrogates. */
	assert_int_equal(accepted, 65536 - 1 - 95 - 2048);
	buf_free(&out);
	buf_free(&re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_pairs),	 cmocka_unit_test(test_appends),
		cmocka_unit_test(test_mutf7_rejects),	 cmocka_unit_test(test_utf8_rejects),
		cmocka_unit_test(test_random_roundtrip), cmocka_unit_test(test_decoder_exhaustive_short),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
