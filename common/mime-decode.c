/* mime-decode: transfer decoding and charset conversion. See mime-decode.h. */
#include "mime-decode.h"

#include <errno.h>
#include <stdio.h>
#include <iconv.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is(const char *s, size_t len, const char *name)
{
	return s != NULL && strlen(name) == len && strncasecmp(s, name, len) == 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 2045 6.7: "=XY" is a byte, "=" at a line end is a soft break. */
static int decode_qp(struct buf *out, const unsigned char *p, size_t len, size_t max)
{
	for (size_t i = 0; i < len && out->len < max; i++) {
		if (p[i] != '=') {
			if (buf_append_byte(out, p[i]) < 0)
				return -1;
			continue;
		}
		size_t j = i + 1;
		while (j < len && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j < len && (p[j] == '\r' || p[j] == '\n')) { /* soft line break */
			if (p[j] == '\r' && j + 1 < len && p[j + 1] == '\n')
				j++;
			i = j;
			continue;
		}
		int hi = i + 2 < len ? hexval(p[i + 1]) : -1, lo = i + 2 < len ? hexval(p[i + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			if (buf_append_byte(out, (unsigned char)(hi << 4 | lo)) < 0)
				return -1;
			i += 2;
		} else if (buf_append_byte(out, '=') < 0) {
			return -1;
		}
	}
	return 0;
}

/* Base64 in groups of 4 significant characters; everything else skipped. */
static int decode_b64(struct buf *out, const unsigned char *p, size_t len, size_t max)
{
	unsigned char group[4], dec[3];
	size_t n = 0;
	for (size_t i = 0; i < len && out->len < max; i++) {
		unsigned char c = p[i];
		bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
			   c == '/' || c == '=';
		if (!b64)
			continue;
		group[n++] = c;
		if (n < 4)
			continue;
		n = 0;
		int got = EVP_DecodeBlock(dec, group, 4);
		if (got < 0)
			continue;
		size_t pad = group[3] == '=' ? (group[2] == '=' ? 2 : 1) : 0;
		if (buf_append(out, dec, (size_t)got - pad) < 0)
			return -1;
	}
	return 0;
}

static int to_utf8(struct buf *out, const unsigned char *p, size_t len, const char *charset, size_t max)
{
	char cs[64];
	snprintf(cs, sizeof(cs), "%s", charset);
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return buf_append(out, p, len < max ? len : max);
	char *in = (char *)p;
	size_t inleft = len;
	while (inleft > 0 && out->len < max) {
		if (buf_reserve(out, 4096) < 0) {
			iconv_close(cd);
			return -1;
		}
		char *o = (char *)out->data + out->len;
		size_t oleft = 4096;
		size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
		out->len += 4096 - oleft;
		out->data[out->len] = '\0';
		if (rc == (size_t)-1 && errno != E2BIG) {
			/* An invalid or incomplete sequence: keep that byte, go on. */
			if (buf_append_byte(out, (unsigned char)*in) < 0) {
				iconv_close(cd);
				return -1;
			}
			in++;
			inleft--;
		}
	}
	iconv_close(cd);
	return 0;
}

int mime_decode_text(struct buf *out, const unsigned char *body, size_t len, const char *encoding, size_t enc_len,
		     const char *charset, size_t cs_len, size_t max_out)
{
	struct buf raw = {0};
	const unsigned char *p = body;
	size_t n = len;
	int rc = 0;
	if (is(encoding, enc_len, "base64"))
		rc = decode_b64(&raw, body, len, max_out);
	else if (is(encoding, enc_len, "quoted-printable"))
		rc = decode_qp(&raw, body, len, max_out);
	if (rc < 0) {
		buf_free(&raw);
		return -1;
	}
	if (raw.data != NULL) {
		p = raw.data;
		n = raw.len;
	}
	bool utf8 = charset == NULL || cs_len == 0 || is(charset, cs_len, "utf-8") || is(charset, cs_len, "us-ascii") ||
		    cs_len >= 64;
	if (utf8) {
		rc = buf_append(out, p, n < max_out ? n : max_out);
	} else {
		char cs[64];
		memcpy(cs, charset, cs_len);
		cs[cs_len] = '\0';
		rc = to_utf8(out, p, n, cs, max_out);
	}
	buf_free(&raw);
	return rc;
}
