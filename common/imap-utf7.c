/*
 * imap-utf7: modified UTF-7 <=> UTF-8. See imap-utf7.h for the contract.
 *
 * Both directions are single passes over the input with a small bit
 * accumulator: encoding pushes 16-bit UTF-16 units in and takes 6-bit base64
 * digits out, decoding does the reverse. The decoder is deliberately strict
 * (canonical form only): mailbox names are compared and stored as UTF-8, and
 * refusing alternative spellings means a name that round-trips through us is
 * byte-identical to what a well-behaved client sent.
 */
#include "imap-utf7.h"

#include <stdint.h>

static const char b64_alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

static bool is_direct(uint32_t cp)
{
	return cp >= 0x20 && cp <= 0x7e;
}

/* Decodes one well-formed UTF-8 sequence at s; returns its length, or 0 when
 * malformed (overlong, surrogate, > U+10FFFF, truncated, U+0000). */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	unsigned char b0 = s[0];
	size_t n;
	uint32_t cp;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (b0 < 0x80) {
		if (b0 == 0)
			return 0;
		*cp_r = b0;
		return 1;
	} else if (b0 >= 0xc2 && b0 <= 0xdf) {
		n = 2;
		cp = b0 & 0x1f;
	} else if (b0 >= 0xe0 && b0 <= 0xef) {
		n = 3;
		cp = b0 & 0x0f;
		if (b0 == 0xe0)
			lo = 0xa0; /* overlong */
		else if (b0 == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (b0 >= 0xf0 && b0 <= 0xf4) {
		n = 4;
		cp = b0 & 0x07;
		if (b0 == 0xf0)
			lo = 0x90; /* overlong */
		else if (b0 == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	*cp_r = cp;
	return n;
}

static int utf8_put(struct buf *out, uint32_t cp)
{
	unsigned char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (unsigned char)(0xc0 | cp >> 6);
		tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (unsigned char)(0xe0 | cp >> 12);
		tmp[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (unsigned char)(0xf0 | cp >> 18);
		tmp[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		tmp[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		tmp[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, tmp, n);
}

/* Base64 bit accumulator for the encoder. */
struct b64_enc {
	uint32_t acc; /* only the low `bits` bits are meaningful */
	unsigned bits;
};

static int enc_unit(struct b64_enc *e, struct buf *out, uint32_t unit)
{
	e->acc = e->acc << 16 | unit;
	e->bits += 16;
	while (e->bits >= 6) {
		e->bits -= 6;
		if (buf_append_byte(out, (unsigned char)b64_alphabet[e->acc >> e->bits & 0x3f]) < 0)
			return -1;
	}
	e->acc &= (1u << e->bits) - 1;
	return 0;
}

int imap_utf8_to_mutf7(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t start = out->len, i = 0;
	uint32_t cp;
	while (i < len) {
		size_t n = utf8_next(s + i, len - i, &cp);
		if (n == 0)
			goto fail;
		if (is_direct(cp)) {
			if (buf_append(out, cp == '&' ? "&-" : (const char *)s + i, cp == '&' ? 2 : 1) < 0)
				goto fail;
			i += n;
			continue;
		}
		/* A run of characters that need encoding. */
		struct b64_enc e = {0, 0};
		if (buf_append_byte(out, '&') < 0)
			goto fail;
		for (;;) {
			i += n;
			if (cp >= 0x10000) {
				uint32_t v = cp - 0x10000;
				if (enc_unit(&e, out, 0xd800 | v >> 10) < 0 || enc_unit(&e, out, 0xdc00 | (v & 0x3ff)) < 0)
					goto fail;
			} else if (enc_unit(&e, out, cp) < 0) {
				goto fail;
			}
			if (i == len)
				break;
			n = utf8_next(s + i, len - i, &cp);
			if (n == 0)
				goto fail;
			if (is_direct(cp))
				break;
		}
		if (e.bits > 0 &&
		    buf_append_byte(out, (unsigned char)b64_alphabet[e.acc << (6 - e.bits) & 0x3f]) < 0)
			goto fail;
		if (buf_append_byte(out, '-') < 0)
			goto fail;
	}
	return 0;
fail:
	buf_truncate(out, start);
	return -1;
}

/* Shared by imap_mutf7_to_utf8 and imap_mutf7_is_valid (out == NULL). */
static int mutf7_decode(const char *in, size_t len, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;
	bool after_run = false;
	while (i < len) {
		unsigned char c = s[i++];
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (out != NULL && buf_append_byte(out, c) < 0)
				return -1;
			after_run = false;
			continue;
		}
		if (i < len && s[i] == '-') {
			i++;
			if (out != NULL && buf_append_byte(out, '&') < 0)
				return -1;
			after_run = false;
			continue;
		}
		if (after_run)
			return -1; /* "&..-&..-" must be a single run */
		uint32_t acc = 0, high = 0;
		unsigned bits = 0;
		size_t units = 0;
		for (;;) {
			if (i >= len)
				return -1; /* unterminated run */
			c = s[i++];
			if (c == '-')
				break;
			int v = b64_value(c);
			if (v < 0)
				return -1;
			acc = acc << 6 | (uint32_t)v;
			bits += 6;
			if (bits < 16)
				continue;
			bits -= 16;
			uint32_t unit = acc >> bits & 0xffff;
			acc &= (1u << bits) - 1;
			units++;
			uint32_t cp;
			if (high != 0) {
				if (unit < 0xdc00 || unit > 0xdfff)
					return -1; /* high surrogate not followed by a low one */
				cp = 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00);
				high = 0;
			} else if (unit >= 0xd800 && unit <= 0xdbff) {
				high = unit;
				continue;
			} else if (unit >= 0xdc00 && unit <= 0xdfff) {
				return -1; /* lone low surrogate */
			} else if (unit == 0 || is_direct(unit)) {
				return -1; /* NUL, or ASCII that must be literal */
			} else {
				cp = unit;
			}
			if (out != NULL && utf8_put(out, cp) < 0)
				return -1;
		}
		/* Padding: fewer than 6 bits, all zero; no dangling surrogate. */
		if (bits >= 6 || acc != 0 || high != 0 || units == 0)
			return -1;
		after_run = true;
	}
	return 0;
}

int imap_mutf7_to_utf8(const char *in, size_t len, struct buf *out)
{
	size_t start = out->len;
	if (mutf7_decode(in, len, out) < 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

bool imap_mutf7_is_valid(const char *in, size_t len)
{
	return mutf7_decode(in, len, NULL) == 0;
}
