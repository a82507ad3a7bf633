/*
 * Unit tests for frontend/proxy-proto. Every parse runs on a heap copy of
 * exactly the bytes given, so AddressSanitizer catches any read past them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/proxy-proto.h"

#define BOTH (PROXY_V1 | PROXY_V2)

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static enum proxy_result parse(const void *data, size_t len, unsigned accept, struct proxy_info *info,
			       size_t *consumed, const char **err)
{
	unsigned char *copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, data, len);
	*consumed = 12345;
	*err = NULL;
	enum proxy_result r = proxy_parse(copy, len, accept, info, consumed, err);
	free(copy);
	if (r == PROXY_ERROR)
		assert_non_null(*err);
	else
		assert_null(*err);
	if (r != PROXY_DONE)
		assert_int_equal(*consumed, 0);
	else
		assert_true(*consumed > 0 && *consumed <= len);
	return r;
}

/* Every strict prefix answers NEED_MORE, the whole header DONE with
   consumed == hdr_len, whatever follows it. */
static void expect_header(const void *data, size_t len, size_t hdr_len, struct proxy_info *info)
{
	struct proxy_info tmp;
	size_t consumed;
	const char *err;
	for (size_t k = 0; k < hdr_len; k++) {
		enum proxy_result r = parse(data, k, BOTH, &tmp, &consumed, &err);
		if (r != PROXY_NEED_MORE)
			fail_msg("prefix %zu of %zu: result %d (%s)", k, hdr_len, r, err ? err : "");
	}
	for (size_t k = hdr_len; k <= len; k++) {
		memset(info, 0xa5, sizeof(*info));
		assert_int_equal(parse(data, k, BOTH, info, &consumed, &err), PROXY_DONE);
		assert_int_equal(consumed, hdr_len);
	}
}

static void expect_v1(const char *text, size_t hdr_len, struct proxy_info *info)
{
	expect_header(text, strlen(text), hdr_len, info);
	assert_int_equal(info->version, 1);
}

static void assert_in4(const struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	assert_int_equal(ss->ss_family, AF_INET);
	struct in_addr want;
	assert_int_equal(inet_pton(AF_INET, addr, &want), 1);
	assert_int_equal(sin->sin_addr.s_addr, want.s_addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void assert_in6(const struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	assert_int_equal(ss->ss_family, AF_INET6);
	struct in6_addr want;
	assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
	assert_memory_equal(&sin6->sin6_addr, &want, 16);
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_int_equal(sin6->sin6_flowinfo, 0);
	assert_int_equal(sin6->sin6_scope_id, 0);
}

static void assert_local(const struct proxy_info *info, int version)
{
	static const struct sockaddr_storage zero;
	assert_true(info->local);
	assert_int_equal(info->version, version);
	assert_int_equal(info->family, AF_UNSPEC);
	assert_memory_equal(&info->src, &zero, sizeof(zero));
	assert_memory_equal(&info->dst, &zero, sizeof(zero));
}

/* ---- v1 valid ------------------------------------------------------------ */

static void test_v1_tcp4(void **state)
{
	static const char hdr[] = "PROXY TCP4 192.0.2.1 198.51.100.22 56324 993\r\n";
	static const char msg[] = "PROXY TCP4 192.0.2.1 198.51.100.22 56324 993\r\nA001 CAPABILITY\r\n";
	struct proxy_info info;
	expect_v1(msg, strlen(hdr), &info);
	assert_false(info.local);
	assert_int_equal(info.family, AF_INET);
	assert_in4(&info.src, "192.0.2.1", 56324);
	assert_in4(&info.dst, "198.51.100.22", 993);

	expect_v1("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", 44, &info);
	assert_in4(&info.src, "0.0.0.0", 0);
	assert_in4(&info.dst, "255.255.255.255", 65535);
}

static void test_v1_tcp6(void **state)
{
	static const char hdr[] = "PROXY TCP6 2001:db8::1 2001:db8:0:1::2a 1 143\r\n";
	struct proxy_info info;
	expect_v1(hdr, strlen(hdr), &info);
	assert_false(info.local);
	assert_int_equal(info.family, AF_INET6);
	assert_in6(&info.src, "2001:db8::1", 1);
	assert_in6(&info.dst, "2001:db8:0:1::2a", 143);

	/* the longest TCP6 line: 104 bytes */
	static const char big[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	assert_int_equal(strlen(big), 104);
	expect_v1(big, 104, &info);
	assert_in6(&info.src, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);

	/* IPv4-mapped IPv6 and upper-case hex */
	expect_v1("PROXY TCP6 ::ffff:192.0.2.7 ::1 40000 993\r\n", 43, &info);
	assert_in6(&info.src, "::ffff:192.0.2.7", 40000);
	assert_in6(&info.dst, "::1", 993);
	expect_v1("PROXY TCP6 2001:DB8::A ::1 5 6\r\n", 32, &info);
	assert_in6(&info.src, "2001:db8::a", 5);
}

static void test_v1_unknown(void **state)
{
	struct proxy_info info;
	expect_v1("PROXY UNKNOWN\r\nA1 NOOP\r\n", 15, &info);
	assert_local(&info, 1);
	static const char big[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	expect_v1(big, strlen(big), &info);
	assert_local(&info, 1);
	/* exactly 107 bytes with CRLF is the limit */
	char line[120];
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'x', 105 - 14);
	memcpy(line + 105, "\r\n", 3);
	assert_int_equal(strlen(line), 107);
	expect_v1(line, 107, &info);
	assert_local(&info, 1);
}

/* ---- v2 valid ------------------------------------------------------------ */

static size_t v2_build(unsigned char *out, unsigned char ver_cmd, unsigned char fam, const void *block, size_t n)
{
	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (unsigned char)(n >> 8);
	out[15] = (unsigned char)n;
	if (n > 0)
		memcpy(out + 16, block, n);
	return 16 + n;
}

static void test_v2_inet_tlvs(void **state)
{
	unsigned char block[128], msg[256];
	size_t n = 0;
	static const unsigned char addrs[12] = {192, 0, 2, 1, 203, 0, 113, 9, 0xdc, 0x04, 0x03, 0xe1};
	memcpy(block, addrs, 12);
	n = 12;
	static const unsigned char tlvs[] = {
		0x01, 0x00, 0x04, 'i', 'm', 'a', 'p',               /* ALPN */
		0x02, 0x00, 0x0c, 'm', 'a', 'i', 'l', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', /* AUTHORITY */
		0x05, 0x00, 0x00,                                   /* UNIQUE_ID, empty */
		0x04, 0x00, 0x03, 0, 0, 0,                          /* NOOP padding */
	};
	memcpy(block + n, tlvs, sizeof(tlvs));
	n += sizeof(tlvs);
	size_t hl = v2_build(msg, 0x21, 0x11, block, n);
	memcpy(msg + hl, "\x16\x03\x01", 3); /* a ClientHello follows */
	struct proxy_info info;
	expect_header(msg, hl + 3, hl, &info);
	assert_int_equal(hl, 16 + 12 + sizeof(tlvs));
	assert_int_equal(info.version, 2);
	assert_false(info.local);
	assert_int_equal(info.family, AF_INET);
	assert_in4(&info.src, "192.0.2.1", 56324);
	assert_in4(&info.dst, "203.0.113.9", 993);

	/* no TLVs at all */
	hl = v2_build(msg, 0x21, 0x11, addrs, 12);
	expect_header(msg, hl, hl, &info);
	assert_in4(&info.dst, "203.0.113.9", 993);
}

static void test_v2_inet6(void **state)
{
	unsigned char block[64], msg[128];
	struct in6_addr a, b;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::dead:beef", &a), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:ffff::1", &b), 1);
	memcpy(block, &a, 16);
	memcpy(block + 16, &b, 16);
	block[32] = 0x00;
	block[33] = 0x01;
	block[34] = 0xff;
	block[35] = 0xff;
	static const unsigned char tlv[] = {0xe0, 0x00, 0x02, 0xab, 0xcd}; /* custom type */
	memcpy(block + 36, tlv, sizeof(tlv));
	size_t hl = v2_build(msg, 0x21, 0x21, block, 36 + sizeof(tlv));
	memcpy(msg + hl, "a1 NOOP\r\n", 9);
	struct proxy_info info;
	expect_header(msg, hl + 9, hl, &info);
	assert_int_equal(info.family, AF_INET6);
	assert_false(info.local);
	assert_in6(&info.src, "2001:db8::dead:beef", 1);
	assert_in6(&info.dst, "2001:db8:ffff::1", 65535);
}

static void test_v2_local_and_unspec(void **state)
{
	unsigned char msg[64];
	struct proxy_info info;
	/* LOCAL (health check) */
	size_t hl = v2_build(msg, 0x20, 0x00, NULL, 0);
	expect_header(msg, hl, hl, &info);
	assert_local(&info, 2);
	/* LOCAL with an INET family and a block that is not even valid: ignored */
	static const unsigned char junk[5] = {1, 2, 3, 4, 5};
	hl = v2_build(msg, 0x20, 0x11, junk, sizeof(junk));
	expect_header(msg, hl, hl, &info);
	assert_local(&info, 2);
	hl = v2_build(msg, 0x20, 0x31, junk, sizeof(junk));
	expect_header(msg, hl, hl, &info);
	assert_local(&info, 2);
	/* PROXY with UNSPEC: keep the socket addresses */
	hl = v2_build(msg, 0x21, 0x00, junk, sizeof(junk));
	expect_header(msg, hl, hl, &info);
	assert_local(&info, 2);
	hl = v2_build(msg, 0x21, 0x01, NULL, 0);
	expect_header(msg, hl, hl, &info);
	assert_local(&info, 2);
}

static void test_v2_max_length(void **state)
{
	static unsigned char msg[16 + PROXY_V2_MAX_LEN + 1];
	static unsigned char block[PROXY_V2_MAX_LEN + 1];
	memset(block, 0, sizeof(block));
	/* addresses + one NOOP TLV filling the rest exactly */
	size_t tl = PROXY_V2_MAX_LEN - 12 - 3;
	block[12] = 0x04;
	block[13] = (unsigned char)(tl >> 8);
	block[14] = (unsigned char)tl;
	size_t hl = v2_build(msg, 0x21, 0x11, block, PROXY_V2_MAX_LEN);
	assert_int_equal(hl, PROXY_MAX_HEADER);
	struct proxy_info info;
	size_t consumed;
	const char *err;
	assert_int_equal(parse(msg, hl - 1, BOTH, &info, &consumed, &err), PROXY_NEED_MORE);
	assert_int_equal(parse(msg, hl, BOTH, &info, &consumed, &err), PROXY_DONE);
	assert_int_equal(consumed, PROXY_MAX_HEADER);
	/* one more byte in the length field is refused at once */
	v2_build(msg, 0x21, 0x11, block, PROXY_V2_MAX_LEN + 1);
	assert_int_equal(parse(msg, 16, BOTH, &info, &consumed, &err), PROXY_ERROR);
	assert_string_equal(err, "PROXY v2 header too long");
}

/* ---- invalid ------------------------------------------------------------- */

/* The bytes are invalid: every prefix shorter than first_bad answers
   NEED_MORE, every prefix from first_bad on answers ERROR (first_bad 0: any
   first position), and the reason contains why. */
static void expect_error_at(const void *data, size_t len, size_t first_bad, const char *why)
{
	struct proxy_info info;
	size_t consumed;
	const char *err;
	size_t first_seen = 0;
	for (size_t k = 0; k <= len; k++) {
		enum proxy_result r = parse(data, k, BOTH, &info, &consumed, &err);
		if (first_seen == 0 && r == PROXY_ERROR)
			first_seen = k;
		else if (first_seen == 0 && r != PROXY_NEED_MORE)
			fail_msg("%s: prefix %zu: result %d, want NEED_MORE or ERROR", why, k, r);
		else if (first_seen != 0 && r != PROXY_ERROR)
			fail_msg("%s: prefix %zu: result %d after an ERROR at %zu", why, k, r, first_seen);
	}
	if (first_seen == 0 || (first_bad != 0 && first_seen != first_bad))
		fail_msg("%s: first ERROR at prefix %zu, want %zu", why, first_seen, first_bad);
	(void)parse(data, len, BOTH, &info, &consumed, &err);
	if (strstr(err, why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, why);
}

static void v1_bad(const char *text, size_t first_bad, const char *why)
{
	expect_error_at(text, strlen(text), first_bad, why);
}

static void test_v1_invalid(void **state)
{
	v1_bad("GET / HTTP/1.1\r\n", 1, "no PROXY protocol header");
	v1_bad("a001 LOGIN x y\r\n", 1, "no PROXY protocol header");
	v1_bad("PROXZ TCP4", 5, "not a PROXY v1 header");
	v1_bad("proxy TCP4", 1, "no PROXY");
	v1_bad("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 7, "empty field");
	v1_bad("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 10, "unknown protocol");
	v1_bad("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", 7, "unknown protocol");
	v1_bad("PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", 10, "unknown protocol");
	v1_bad("PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", 11, "unknown protocol");
	v1_bad("PROXY UNKNOWNX\r\n", 14, "unknown protocol");
	v1_bad("PROXY\r\n", 6, "not a PROXY v1 header");
	v1_bad("PROXY \r\n", 7, "empty field");
	v1_bad("PROXY TCP4\r\n", 11, "missing field");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 29, "missing field");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", 30, "empty field");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 31, "extra field");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 31, "extra field");
	v1_bad("PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n", 14, "bad source address");
	v1_bad("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 17, "bad source address");
	v1_bad("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", 19, "bad source address");
	v1_bad("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", 13, "bad source address");
	v1_bad("PROXY TCP4 1..2.3 5.6.7.8 1 2\r\n", 14, "bad source address");
	v1_bad("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 12, "bad source address");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8. 1 2\r\n", 27, "bad destination address");
	v1_bad("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 19, "bad source address");
	v1_bad("PROXY TCP6 ::g ::1 1 2\r\n", 14, "bad source address");
	v1_bad("PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", 33, "bad destination address");
	v1_bad("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", 19, "bad source address");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 32, "bad source port");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", 29, "bad source port");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 28, "bad source port");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 123456\r\n", 35, "bad destination port");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n", 31, "bad destination port");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31, "control");
	v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", 32, "CR without LF");
	v1_bad("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", 19, "control");
	v1_bad("PROXY UNKNOWN \x01\r\n", 15, "control");
	v1_bad("PROXY UNKNOWN \xc3\xa9\r\n", 15, "non-ASCII");

	/* a line that does not end within 107 bytes */
	char line[200];
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'x', 106 - 14);
	memcpy(line + 106, "\r\n", 3); /* CRLF would make it 108 */
	v1_bad(line, 107, "too long");
	memset(line + 14, 'x', 150);
	line[164] = '\0';
	v1_bad(line, 107, "too long");

	/* NUL inside the line */
	static const char nul[] = "PROXY TCP4 1.2.3.4\0005.6.7.8 1 2\r\n";
	expect_error_at(nul, sizeof(nul) - 1, 19, "control");
}

static void v2_bad(const unsigned char *msg, size_t len, size_t first_bad, const char *why)
{
	expect_error_at(msg, len, first_bad, why);
}

static void test_v2_invalid(void **state)
{
	unsigned char msg[256], block[128];
	memset(block, 0, sizeof(block));
	size_t hl;

	memcpy(msg, sig, 12);
	msg[6] = 'X';
	v2_bad(msg, 12, 7, "not a PROXY v2 header");
	memcpy(msg, "\r\n\r\nX", 5);
	v2_bad(msg, 5, 5, "not a PROXY v2 header");

	hl = v2_build(msg, 0x11, 0x11, block, 12);
	v2_bad(msg, hl, 13, "bad version");
	hl = v2_build(msg, 0x31, 0x11, block, 12);
	v2_bad(msg, hl, 13, "bad version");
	hl = v2_build(msg, 0x22, 0x11, block, 12);
	v2_bad(msg, hl, 13, "bad command");
	hl = v2_build(msg, 0x2f, 0x11, block, 12);
	v2_bad(msg, hl, 13, "bad command");
	hl = v2_build(msg, 0x21, 0x12, block, 12);
	v2_bad(msg, hl, 14, "not STREAM");
	hl = v2_build(msg, 0x21, 0x10, block, 12);
	v2_bad(msg, hl, 14, "not STREAM");
	hl = v2_build(msg, 0x21, 0x02, block, 12);
	v2_bad(msg, hl, 14, "not STREAM");
	hl = v2_build(msg, 0x21, 0x31, block, 108);
	v2_bad(msg, hl, 14, "unsupported address family");
	hl = v2_build(msg, 0x21, 0x41, block, 12);
	v2_bad(msg, hl, 14, "unsupported address family");
	hl = v2_build(msg, 0x21, 0x11, block, 11);
	v2_bad(msg, hl, 16, "too short");
	hl = v2_build(msg, 0x21, 0x21, block, 35);
	v2_bad(msg, hl, 16, "too short");
	hl = v2_build(msg, 0x21, 0x21, block, 12);
	v2_bad(msg, hl, 16, "too short");
	msg[14] = 0xff;
	msg[15] = 0xff;
	v2_bad(msg, 16, 16, "too long");

	/* TLV trouble, detected as soon as the TLV header arrives */
	memset(block, 0, sizeof(block));
	block[12] = 0x01;
	block[13] = 0x00;
	block[14] = 0x09; /* claims 9 bytes, 5 remain */
	hl = v2_build(msg, 0x21, 0x11, block, 12 + 3 + 5);
	v2_bad(msg, hl, 16 + 15, "TLV overruns");
	hl = v2_build(msg, 0x21, 0x11, block, 12 + 2); /* 2 stray bytes */
	v2_bad(msg, hl, 16, "truncated TLV");
	block[12] = 0x04;
	block[13] = 0x00;
	block[14] = 0x01;
	hl = v2_build(msg, 0x21, 0x11, block, 12 + 4 + 1); /* NOOP(1) then 1 stray byte */
	v2_bad(msg, hl, 16 + 15, "truncated TLV"); /* known once the NOOP header is in */
	block[13] = 0xff;
	hl = v2_build(msg, 0x21, 0x11, block, 12 + 4);
	v2_bad(msg, hl, 16 + 15, "TLV overruns");
}

static void test_accept_mask(void **state)
{
	static const char v1[] = "PROXY UNKNOWN\r\n";
	unsigned char v2[16];
	size_t v2len = v2_build(v2, 0x20, 0x00, NULL, 0);
	struct proxy_info info;
	size_t consumed;
	const char *err;
	assert_int_equal(parse(v1, 15, PROXY_V1, &info, &consumed, &err), PROXY_DONE);
	assert_int_equal(parse(v1, 15, PROXY_V2, &info, &consumed, &err), PROXY_ERROR);
	assert_string_equal(err, "PROXY v1 not accepted");
	assert_int_equal(parse(v1, 1, PROXY_V2, &info, &consumed, &err), PROXY_ERROR);
	assert_int_equal(parse(v2, v2len, PROXY_V2, &info, &consumed, &err), PROXY_DONE);
	assert_int_equal(parse(v2, v2len, PROXY_V1, &info, &consumed, &err), PROXY_ERROR);
	assert_string_equal(err, "PROXY v2 not accepted");
	assert_int_equal(parse(v2, 1, PROXY_V1, &info, &consumed, &err), PROXY_ERROR);
	assert_int_equal(parse(v2, v2len, 0, &info, &consumed, &err), PROXY_ERROR);
	assert_int_equal(parse("", 0, 0, &info, &consumed, &err), PROXY_ERROR);
	assert_int_equal(parse("", 0, PROXY_V1, &info, &consumed, &err), PROXY_NEED_MORE);
	assert_int_equal(parse("", 0, BOTH, &info, &consumed, &err), PROXY_NEED_MORE);
	/* all output parameters are optional */
	assert_int_equal(proxy_parse((const unsigned char *)v1, 15, BOTH, NULL, NULL, NULL), PROXY_DONE);
	assert_int_equal(proxy_parse((const unsigned char *)"x", 1, BOTH, NULL, NULL, NULL), PROXY_ERROR);
	assert_int_equal(proxy_parse((const unsigned char *)"P", 1, BOTH, NULL, NULL, NULL), PROXY_NEED_MORE);
}

/* Mutated headers and noise: never a crash, and the answers are
   consistent across prefixes: NEED_MORE ... then one DONE (with the same
   length for every longer input) or ERROR for good. */
static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void check_consistent(const unsigned char *data, size_t len)
{
	struct proxy_info info;
	size_t consumed, done_len = 0;
	const char *err;
	bool seen_error = false;
	for (size_t k = 0; k <= len; k++) {
		enum proxy_result r = parse(data, k, BOTH, &info, &consumed, &err);
		if (seen_error) {
			assert_int_equal(r, PROXY_ERROR);
		} else if (done_len != 0) {
			assert_int_equal(r, PROXY_DONE);
			assert_int_equal(consumed, done_len);
		} else if (r == PROXY_ERROR) {
			seen_error = true;
		} else if (r == PROXY_DONE) {
			done_len = consumed;
			assert_int_equal(consumed, k);
			if (!info.local)
				assert_true(info.family == AF_INET || info.family == AF_INET6);
		}
	}
}

static void test_fuzz_consistency(void **state)
{
	unsigned char v2[64], blk[40] = {10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 1, 187, 0x04, 0, 2, 0, 0};
	size_t v2len = v2_build(v2, 0x21, 0x11, blk, 17);
	const char *v1s[] = {"PROXY TCP4 10.0.0.1 10.0.0.2 1234 993\r\nX",
			     "PROXY TCP6 ::1 2001:db8::1 1234 993\r\nX", "PROXY UNKNOWN\r\n"};
	unsigned char buf[128];
	for (int iter = 0; iter < 3000; iter++) {
		size_t len;
		int which = (int)(rnd() % 4);
		if (which == 3) {
			memcpy(buf, v2, v2len);
			len = v2len;
		} else {
			len = strlen(v1s[which]);
			memcpy(buf, v1s[which], len);
		}
		int muts = 1 + (int)(rnd() % 3);
		for (int m = 0; m < muts; m++) {
			size_t at = rnd() % len;
			switch (rnd() % 3) {
			case 0:
				buf[at] = (unsigned char)rnd();
				break;
			case 1:
				buf[at] = (unsigned char)"0123456789.: \r\nPTCUx"[rnd() % 21];
				break;
			default:
				len = at + 1;
				break;
			}
		}
		check_consistent(buf, len);
	}
	for (int iter = 0; iter < 500; iter++) {
		size_t len = rnd() % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rnd();
		if (len > 0)
			buf[0] = iter % 2 ? 'P' : '\r';
		check_consistent(buf, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v2_inet_tlvs),
		cmocka_unit_test(test_v2_inet6),
		cmocka_unit_test(test_v2_local_and_unspec),
		cmocka_unit_test(test_v2_max_length),
		cmocka_unit_test(test_v1_invalid),
		cmocka_unit_test(test_v2_invalid),
		cmocka_unit_test(test_accept_mask),
		cmocka_unit_test(test_fuzz_consistency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
