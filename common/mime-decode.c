/* mime-decode: transfer decoding and charset conversion. See mime-decode.h. */
#include "mime-decode.h"

#include "mime-cte.h"

#include <errno.h>
#include <stdio.h>
#include <iconv.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is(const char *s, size_t len, const char *name)
{
	return s != NULL && strlen(name) == len && strncasecmp(s, name, len) == 0;
}

/* in[0 .. len) decoded with the resumable decoders (mime-cte.h), so SEARCH
 * and FETCH BINARY decode alike; at most max bytes in out. */
static int decode_cte(struct buf *out, enum mime_cte cte, const unsigned char *p, size_t len, size_t max)
{
	if (out->len >= max)
		return 0;
	size_t cap = max - out->len < len ? max - out->len : len; /* decoding never grows */
	if (cap == 0 || buf_reserve(out, cap) < 0)
		return cap == 0 ? 0 : -1;
	struct mime_cte_dec d;
	size_t got = 0;
	mime_cte_dec_init(&d, cte);
	mime_cte_dec_run(&d, p, len, true, out->data + out->len, cap, &got);
	out->len += got;
	out->data[out->len] = '\0';
	return 0;
}

static int decode_qp(struct buf *out, const unsigned char *p, size_t len, size_t max)
{
	return decode_cte(out, MIME_CTE_QP, p, len, max);
}

static int decode_b64(struct buf *out, const unsigned char *p, size_t len, size_t max)
{
	return decode_cte(out, MIME_CTE_BASE64, p, len, max);
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

/* Parses one encoded word at s[i ..]: on success the end index (after "?=")
 * and the decoded, converted text appended to out. */
static size_t encoded_word(struct buf *out, const unsigned char *s, size_t len, size_t i, size_t max)
{
	/* =?charset?X?text?= ; charset may carry a *language suffix (RFC 2231) */
	if (i + 8 > len || s[i] != '=' || s[i + 1] != '?')
		return 0;
	size_t cs = i + 2, q1 = cs;
	while (q1 < len && s[q1] != '?' && q1 - cs < 64)
		q1++;
	if (q1 + 3 >= len || s[q1] != '?' || s[q1 + 2] != '?')
		return 0;
	unsigned char kind = s[q1 + 1] | 0x20;
	if (kind != 'b' && kind != 'q')
		return 0;
	size_t text = q1 + 3, end = text;
	while (end + 1 < len && !(s[end] == '?' && s[end + 1] == '=')) {
		if (s[end] == ' ' || s[end] == '\t' || s[end] == '\r' || s[end] == '\n')
			return 0;
		end++;
	}
	if (end + 1 >= len)
		return 0;
	char charset[65];
	size_t cl = q1 - cs;
	memcpy(charset, s + cs, cl);
	charset[cl] = '\0';
	char *star = strchr(charset, '*');
	if (star != NULL)
		*star = '\0';
	struct buf raw = {0};
	int rc;
	if (kind == 'b') {
		rc = decode_b64(&raw, s + text, end - text, max);
	} else {
		/* Q: like quoted-printable, and "_" is a space. */
		struct buf tmp = {0};
		rc = buf_append(&tmp, s + text, end - text);
		for (size_t k = 0; rc == 0 && k < tmp.len; k++)
			if (tmp.data[k] == '_')
				tmp.data[k] = ' ';
		if (rc == 0)
			rc = decode_qp(&raw, tmp.data ? tmp.data : (const unsigned char *)"", tmp.len, max);
		buf_free(&tmp);
	}
	if (rc == 0) {
		const unsigned char *p = raw.data ? raw.data : (const unsigned char *)"";
		if (strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "us-ascii") == 0)
			rc = buf_append(out, p, raw.len);
		else
			rc = to_utf8(out, p, raw.len, charset, max);
	}
	buf_free(&raw);
	return rc == 0 ? end + 2 : 0;
}

int mime_decode_words(struct buf *out, const unsigned char *s, size_t len, size_t max_out)
{
	size_t i = 0;
	bool after_word = false;
	while (i < len && out->len < max_out) {
		size_t next = s[i] == '=' ? encoded_word(out, s, len, i, max_out) : 0;
		if (next != 0) {
			i = next;
			after_word = true;
			continue;
		}
		/* White space between two encoded words is not text. */
		if (after_word && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
			size_t j = i;
			while (j < len && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n'))
				j++;
			struct buf probe = {0};
			bool word_follows = j < len && encoded_word(&probe, s, len, j, max_out) != 0;
			buf_free(&probe);
			if (word_follows) {
				i = j;
				continue;
			}
		}
		after_word = false;
		if (buf_append_byte(out, s[i]) < 0)
			return -1;
		i++;
	}
	return 0;
}
