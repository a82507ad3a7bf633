/*
 * libFuzzer harness for common/imap-url (RFC 5092 IMAP URLs, as CATENATE
 * and later URLAUTH read them from clients).
 *
 *   make fuzz
 *   build/fuzz/fuzz-imap-url -max_len=9000 -max_total_time=300
 *
 * The input is split at the first NUL: the part before is a base URL (the
 * selected folder's, as CATENATE resolves relative URLs against it), the
 * rest the URL to parse against it (or alone when there is no NUL). Every
 * accepted URL must hold valid strings within the input's bounds, a
 * partial offset/length that fits 32 bits, and a rump length inside the
 * input; then it is cleared (ASan finds leaks and double frees).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap-url.h"

/* The module imap-url.c links with (the Makefile compiles only
 * common/imap-url.c and common/buf.c with this file). */
#include "../../common/imap-utf7.c"

static void check_str(const char *s)
{
	if (s != NULL && strlen(s) > IMAP_URL_MAX_LEN * 4)
		abort();
}

static void check(const struct imap_url *u, size_t len)
{
	check_str(u->user);
	check_str(u->auth_type);
	check_str(u->host);
	check_str(u->mailbox);
	check_str(u->search);
	check_str(u->section);
	check_str(u->access_user);
	check_str(u->mechanism);
	check_str(u->token);
	if (u->rump_len > len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, 0, size);
	struct imap_url base, url;
	const char *err = NULL;
	memset(&base, 0, sizeof(base));
	memset(&url, 0, sizeof(url));
	const struct imap_url *basep = NULL;
	if (nul != NULL) {
		size_t blen = (size_t)(nul - s);
		if (imap_url_parse(s, blen, NULL, &base, &err) == 0) {
			check(&base, blen);
			basep = &base;
		}
		s = nul + 1;
		size -= blen + 1;
	}
	if (imap_url_parse(s, size, basep, &url, &err) == 0) {
		check(&url, size);
		imap_url_clear(&url);
	}
	if (basep != NULL)
		imap_url_clear(&base);
	return 0;
}
