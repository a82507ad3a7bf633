/* names: validation of user names, folder names, keywords and secrets. See names.h. */
#include "names.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Length of the UTF-8 sequence at p (at most n bytes available) and its code
 * point, or 0 when malformed. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp_r)
{
	unsigned char c = p[0];
	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
	size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
	if (len == 0 || c > 0xf4 || len > n)
		return 0;
	uint32_t cp = c & (0x7fu >> len);
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return len;
}

bool name_utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_seq(p + i, n - i, &cp);
		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

bool name_user_ok(const char *user)
{
	if (user == NULL)
		return false;
	size_t n = strnlen(user, NAME_USER_MAX + 1);
	if (n == 0 || n > NAME_USER_MAX)
		return false;
	const unsigned char *p = (const unsigned char *)user;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_seq(p + i, n - i, &cp);
		if (len == 0 || is_control(cp) || cp == ' ')
			return false;
		i += len;
	}
	return true;
}

bool name_folder_canon(const char *name, char out[NAME_FOLDER_MAX + 1])
{
	if (name == NULL)
		return false;
	size_t n = strnlen(name, NAME_FOLDER_MAX + 1);
	if (n == 0 || n > NAME_FOLDER_MAX || name[0] == '/' || name[n - 1] == '/')
		return false;
	const unsigned char *p = (const unsigned char *)name;
	unsigned depth = 1;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_seq(p + i, n - i, &cp);
		if (len == 0 || is_control(cp) || cp == '*' || cp == '%')
			return false;
		if (cp == '/') {
			if (p[i + 1] == '/' || ++depth > NAME_FOLDER_DEPTH)
				return false;
		}
		i += len;
	}
	memcpy(out, name, n + 1);
	if (strncasecmp(out, "INBOX", 5) == 0 && (out[5] == '\0' || out[5] == '/'))
		memcpy(out, "INBOX", 5);
	return true;
}

bool name_keyword_ok(const char *kw)
{
	if (kw == NULL)
		return false;
	size_t n = strnlen(kw, NAME_KEYWORD_MAX + 1);
	if (n == 0 || n > NAME_KEYWORD_MAX || kw[0] == '\\')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)kw[i];
		/* atom-char minus the flag specials: no CTL, SP, ( ) { % * " \ ] */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

bool name_secret_ok(const char *secret)
{
	if (secret == NULL)
		return false;
	size_t n = strnlen(secret, NAME_SECRET_MAX + 1);
	if (n == 0 || n > NAME_SECRET_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)secret[i] < 0x21 || (unsigned char)secret[i] > 0x7e)
			return false;
	return true;
}
