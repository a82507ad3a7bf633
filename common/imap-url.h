/*
 * imap-url: parser for IMAP URLs (RFC 5092), absolute and relative, with
 * the URLAUTH fields of RFC 4467 and RFC 5550's ";PARTIAL=".
 *
 *   imap://joe;AUTH=*@mail.example.org:143/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9/;PARTIAL=0.1024
 *   imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038
 *   /Drafts/;UID=7        ;UID=20/;SECTION=2        Sent/;UID=3        ../Other/;UID=1
 *
 * What the parser accepts is the RFC 5092 grammar, strictly: the character
 * classes of each component (anything else must be %-encoded), %XX escapes
 * with two hex digits, nz-numbers without leading zeros that fit 32 bits,
 * ";UID=" / ";SECTION=" / ";PARTIAL=" in that order, each its own "/"
 * segment, URLAUTH only after a message part. Parameter names and the
 * "imap" scheme are case-insensitive. No fragment ('#'), no password.
 *
 * Mailbox names: the URL carries the name as %-encoded UTF-8 (RFC 5092,
 * "Internationalization Considerations": a client converts modified UTF-7
 * to UTF-8 before encoding), so url->mailbox is UTF-8, the store's own
 * spelling; a "&" in a URL is a plain "&". Decoded names must be valid
 * UTF-8 without NUL; "INBOX" is not case-normalised here (the caller knows
 * its namespace).
 *
 * Relative URLs (RFC 5092 "Relative IMAP URLs", resolved as Dovecot does): with a
 * base URL (its server and, optionally, a mailbox with UIDVALIDITY, a UID
 * and a section), the reference may be
 *   - "//server/..."          a network path: everything but the scheme;
 *   - "/mailbox/..."          an absolute path: the base's server;
 *   - "name/;UID=n", "name"   a mailbox relative to the base mailbox taken as
 *                             a directory ("Other" under base "a/b" is
 *                             "a/b/Other"; ".." and "." segments are removed);
 *   - ";UID=n/..."            a message in the base mailbox (its UIDVALIDITY);
 *   - ";SECTION=s", ";PARTIAL=o.l"  a part of the base message;
 *   - ""                      the base itself.
 * A relative path whose first segment holds ':' is a URL of another scheme
 * (RFC 3986 4.2): write "./a:b" for a mailbox named "a:b".
 *
 * Limits: at most IMAP_URL_MAX_LEN bytes of input; every number fits its
 * type. Memory: the strings of a parsed URL.
 *
 * Contract:
 *  - imap_url_parse returns 0 and fills *url_r, or -1 with *error_r set to a
 *    static, human-readable reason (no response code) and *url_r empty.
 *    base may be NULL: then only absolute "imap://" URLs are accepted.
 *  - Every string in a struct imap_url is malloc'd, NUL-terminated and owned
 *    by it; imap_url_clear frees them and zeroes the struct (a zeroed struct
 *    is an empty URL, clear is idempotent).
 *  - Nothing aborts; out of memory is reported as an error ("Out of memory").
 */
#ifndef CPM_IMAP_URL_H
#define CPM_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_URL_MAX_LEN 8192

/* The access identifier of ";URLAUTH=" (RFC 4467 section 2.2). */
enum imap_url_access {
	IMAP_URL_ACCESS_NONE = 0, /* no ;URLAUTH= */
	IMAP_URL_ACCESS_SUBMIT,   /* "submit+" user */
	IMAP_URL_ACCESS_USER,     /* "user+" user */
	IMAP_URL_ACCESS_AUTHUSER, /* "authuser" */
	IMAP_URL_ACCESS_ANONYMOUS,
};

struct imap_url {
	/* iserver (from the URL, or the base's for a relative reference);
	 * host NULL means the URL names no server. */
	char *user;         /* decoded enc-user, NULL when absent */
	char *auth_type;    /* decoded ";AUTH=" value ("*" = any), NULL when absent */
	char *host;         /* lower-cased; "[...]" kept for IP literals */
	uint32_t port;      /* 0 = not given (default 143) */

	/* imailbox-ref: NULL mailbox means a server-only URL */
	char *mailbox;        /* UTF-8 */
	uint32_t uidvalidity; /* 0 = not given */
	char *search;         /* decoded "?" enc-search of a message list, or NULL */

	/* imessagepart: uid 0 means no message */
	uint32_t uid;
	char *section;        /* decoded ";SECTION=" text (not checked as a
				 section-spec: see mime_section_parse), or NULL */
	bool have_partial;
	uint32_t partial_offset;
	uint32_t partial_length; /* 0 = to the end */

	/* URLAUTH (RFC 4467), parsed for a later verification */
	bool have_expire;
	int64_t expire;           /* ";EXPIRE=" as unix seconds (UTC) */
	enum imap_url_access access;
	char *access_user;        /* SUBMIT / USER: the decoded identity */
	char *mechanism;          /* upper-cased; NULL when the URL is only a rump */
	char *token;              /* hex digits as written; NULL for a rump */
	size_t rump_len;          /* input bytes up to the ":" before the
				     mechanism (the whole input for a rump) */
};

int imap_url_parse(const char *s, size_t len, const struct imap_url *base, struct imap_url *url_r,
		   const char **error_r);
void imap_url_clear(struct imap_url *url);

#endif
