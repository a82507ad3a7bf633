/*
 * hex: the value of one hexadecimal digit (0-9, a-f, A-F), or -1 — shared
 * by the decoders of quoted-printable, %-escapes and hex-encoded keys.
 */
#ifndef CPM_HEX_H
#define CPM_HEX_H

static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
