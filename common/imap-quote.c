/*
 * imap-quote: atom / quoted / literal output of IMAP strings.
 * See imap-quote.h for the contract.
 *
 * Every writer first measures the exact output, reserves it in one
 * buf_reserve call and only then copies, so a failed call leaves the buffer
 * as it was and the appends after the reservation cannot fail.
 */
#include "imap-quote.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static bool is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

bool imap_is_atom(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_atom_char((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* True when s can be a quoted string; *escapes_r counts the '"' and '\'. */
static bool can_quote(const char *s, size_t len, size_t *escapes_r)
{
	size_t esc = 0;
	if (len > IMAP_QUOTE_MAX_QUOTED)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* TEXT-CHAR (RFC 3501 9): any 7-bit CHAR but CR and LF, so TAB is fine. */
		if ((c < 0x20 && c != '\t') || c > 0x7e)
			return false;
		if (c == '"' || c == '\\')
			esc++;
	}
	*escapes_r = esc;
	return true;
}

static int write_quoted(struct buf *b, const char *s, size_t len, size_t escapes)
{
	if (buf_reserve(b, len + escapes + 2) < 0)
		return -1;
	unsigned char *o = b->data + b->len;
	*o++ = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*o++ = '\\';
		*o++ = (unsigned char)s[i];
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

int imap_write_literal(struct buf *b, const char *s, size_t len)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "{%zu}\r\n", len);
	if (n < 0 || (size_t)n >= sizeof(head) || len > SIZE_MAX - (size_t)n)
		return -1;
	if (buf_reserve(b, (size_t)n + len) < 0)
		return -1;
	(void)buf_append(b, head, (size_t)n);
	(void)buf_append(b, s, len);
	return 0;
}

int imap_write_quoted_or_literal(struct buf *b, const char *s, size_t len)
{
	size_t escapes;
	if (can_quote(s, len, &escapes))
		return write_quoted(b, s, len, escapes);
	return imap_write_literal(b, s, len);
}

int imap_write_astring(struct buf *b, const char *s, size_t len)
{
	if (imap_is_atom(s, len))
		return buf_append(b, s, len);
	return imap_write_quoted_or_literal(b, s, len);
}

int imap_write_nstring(struct buf *b, const char *s, size_t len)
{
	if (s == NULL)
		return buf_append(b, "NIL", 3);
	return imap_write_quoted_or_literal(b, s, len);
}
