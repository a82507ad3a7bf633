/* base-subject: RFC 5256 section 2.1 base subject extraction. See base-subject.h.
 *
 * The value is decoded and its white space normalised into one buffer; the
 * steps then only move two indices, b and e, towards each other, so the
 * result is buf[b .. e). Every step that matches consumes input, which
 * bounds the loops. One trap is step (3) after step (4): "[a][b][c]x" would
 * rescan the whole blob chain after each blob step (4) removes; the end of
 * a chain that was found not to be followed by Re/Fw/Fwd is remembered
 * instead (no_refwd), since removing its leading blobs cannot change that.
 */
#include "base-subject.h"

#include "mime-decode.h"

#include <string.h>
#include <strings.h>

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static unsigned char fold(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

int base_subject_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	for (size_t i = 0; i < n; i++) {
		unsigned char x = fold(a[i]), y = fold(b[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return al < bl ? -1 : al > bl ? 1 : 0;
}

/* s[i ..] starts with the ASCII word w, case-insensitively. */
static bool has_word(const unsigned char *s, size_t i, size_t e, const char *w)
{
	size_t n = strlen(w);
	return e - i >= n && strncasecmp((const char *)s + i, w, n) == 0;
}

/* A subj-blob at i ("[" *BLOBCHAR "]" *WSP): the index after it, or 0. */
static size_t blob_end(const unsigned char *s, size_t i, size_t e)
{
	if (i >= e || s[i] != '[')
		return 0;
	for (size_t j = i + 1; j < e; j++) {
		if (s[j] == '[')
			return 0;
		if (s[j] == ']') {
			j++;
			while (j < e && s[j] == ' ')
				j++;
			return j;
		}
	}
	return 0;
}

/* A subj-refwd at i (("re" / "fw" / "fwd") *WSP [subj-blob] ":"): the
 * index after the ':', or 0. */
static size_t refwd_end(const unsigned char *s, size_t i, size_t e)
{
	static const char *const words[] = {"re", "fwd", "fw"};
	for (size_t w = 0; w < 3; w++) {
		if (!has_word(s, i, e, words[w]))
			continue;
		size_t j = i + strlen(words[w]);
		while (j < e && s[j] == ' ')
			j++;
		size_t k = blob_end(s, j, e);
		if (k != 0)
			j = k;
		if (j < e && s[j] == ':')
			return j + 1;
	}
	return 0;
}

/* Steps (2) to (6) over s[*b .. *e). */
static void extract(const unsigned char *s, size_t *bp, size_t *ep, bool *reply)
{
	size_t b = *bp, e = *ep;
	for (;;) {
		/* (2) subj-trailer: "(fwd)" / WSP at the end. */
		for (;;) {
			if (e > b && s[e - 1] == ' ') {
				e--;
			} else if (e - b >= 5 && strncasecmp((const char *)s + e - 5, "(fwd)", 5) == 0) {
				e -= 5;
				*reply = true;
			} else {
				break;
			}
		}
		/* (3), (4), repeated by (5). */
		size_t no_refwd = 0; /* 0: not known; else end of a blob chain without refwd */
		bool again = true;
		while (again && b < e) {
			again = false;
			if (s[b] == ' ') { /* (3) WSP leader */
				b++;
				again = true;
				continue;
			}
			if (no_refwd == 0 || b > no_refwd) { /* (3) *subj-blob subj-refwd */
				size_t j = b, k;
				while ((k = blob_end(s, j, e)) != 0)
					j = k;
				size_t r = refwd_end(s, j, e);
				if (r != 0) {
					b = r;
					*reply = true;
					again = true;
					continue;
				}
				no_refwd = j;
			}
			size_t k = blob_end(s, b, e); /* (4) a blob, if the rest is not empty */
			if (k != 0 && k < e) {
				b = k;
				again = true;
			}
		}
		/* (6) "[fwd:" ... "]" */
		if (e - b >= 6 && has_word(s, b, e, "[fwd:") && s[e - 1] == ']') {
			b += 5;
			e -= 1;
			*reply = true;
			continue;
		}
		break;
	}
	*bp = b;
	*ep = e;
}

int base_subject(struct buf *out, const unsigned char *s, size_t len, size_t max_out, bool *reply_r)
{
	bool reply = false;
	if (reply_r != NULL)
		*reply_r = false;
	if (len > BASE_SUBJECT_MAX_IN)
		len = BASE_SUBJECT_MAX_IN;
	struct buf dec = {0};
	if (mime_decode_words(&dec, s, len, 4 * (size_t)BASE_SUBJECT_MAX_IN) < 0) {
		buf_free(&dec);
		return -1;
	}
	/* (1) white space runs -> one SP (in place). */
	size_t n = 0;
	for (size_t i = 0; i < dec.len; i++) {
		unsigned char c = dec.data[i];
		if (is_wsp(c)) {
			if (n > 0 && dec.data[n - 1] == ' ')
				continue;
			c = ' ';
		}
		dec.data[n++] = c;
	}
	size_t b = 0, e = n;
	extract(dec.data, &b, &e, &reply);
	size_t take = e - b < max_out ? e - b : max_out;
	int rc = take > 0 ? buf_append(out, dec.data + b, take) : 0;
	buf_free(&dec);
	if (reply_r != NULL)
		*reply_r = reply;
	return rc;
}
