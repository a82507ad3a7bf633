/*
 * imap-envelope: the RFC 3501 ENVELOPE of a message header.
 *
 *   (date subject from sender reply-to to cc bcc in-reply-to message-id)
 *
 * Two steps, so that the back-end parses once at APPEND and FETCH only
 * writes: imap_envelope_parse turns a header into a struct imap_envelope
 * whose strings live in a struct mime_store (mime-header.h), and
 * imap_envelope_write_parsed writes it. imap_envelope_write does both.
 *
 * What the values are (RFC 3501 7.4.2, and Dovecot where the RFC is silent):
 *  - date, in-reply-to, message-id: the raw header value, unfolded (CR/LF
 *    removed), leading white space removed, NUL -> U+FFFD; NIL when the
 *    field is absent. RFC 2047 encoded words are NOT decoded.
 *  - subject: the same, then white space runs collapsed to one SP and
 *    trimmed. When a string field appears more than once the last one wins.
 *  - address lists: RFC 5322 mailbox / group syntax (with obsolete routes
 *    and comments). Every occurrence of an address field adds to its list.
 *    Each address is (name adl mailbox host); name is the display name
 *    (or, for a bare addr-spec, its last comment), white space collapsed,
 *    NIL when absent. A group is (NIL NIL "name" NIL) ... (NIL NIL NIL NIL).
 *    Broken addresses get Dovecot's placeholders: host "MISSING_DOMAIN" when
 *    there is no '@', mailbox "MISSING_MAILBOX" when there is no local part,
 *    host "SYNTAX_ERROR" for an unterminated <...>. An empty list is NIL;
 *    sender and reply-to default to from (at write time).
 *  - Strings are written with imap-quote.h (quoted, else literal).
 *
 * Limits: MIME_HEADER_MAX_LINES header lines are looked at; list members
 * stop when the store's budget is spent.
 *
 * Return conventions: 0 on success, -1 when memory cannot be had (out may
 * then hold a partial write). The input is never rejected.
 */
#ifndef CPM_IMAP_ENVELOPE_H
#define CPM_IMAP_ENVELOPE_H

#include <stddef.h>

#include "buf.h"
#include "mime-header.h"

/* Entries (4 per address) one imap_envelope_write call allows. */
#define IMAP_ENVELOPE_MAX_ENTRIES 40000

enum imap_envelope_addr_field {
	IMAP_ENV_FROM,
	IMAP_ENV_SENDER,
	IMAP_ENV_REPLY_TO,
	IMAP_ENV_TO,
	IMAP_ENV_CC,
	IMAP_ENV_BCC,
	IMAP_ENV_ADDR_FIELDS
};

struct imap_envelope {
	struct mime_str date, subject, in_reply_to, message_id; /* NIL when absent */
	/* strs[first .. first + 4*count): name, adl, mailbox, host */
	struct mime_list addr[IMAP_ENV_ADDR_FIELDS];
};

/* Parses the header hdr[0 .. len) (it may include or lack its empty line).
 * Strings and list members go to st (its budget bounds the members). */
int imap_envelope_parse(const unsigned char *hdr, size_t len, struct mime_store *st, struct imap_envelope *env_r);

/* Only the addresses of one field, as imap_envelope_parse gives them (for
 * SEARCH FROM/TO/CC/BCC: no other field is parsed or stored). */
int imap_envelope_parse_addresses(const unsigned char *hdr, size_t len, struct mime_store *st,
				  enum imap_envelope_addr_field field, struct mime_list *list_r);

/* Writes env, whose strings are in st. Out-of-range references are written
 * as NIL (the store may come from untrusted bytes). */
int imap_envelope_write_parsed(struct buf *out, const struct mime_store *st, const struct imap_envelope *env);

/* Parses msg[hdr_off .. hdr_off+hdr_len) and writes its ENVELOPE. */
int imap_envelope_write(struct buf *out, const unsigned char *msg, size_t hdr_off, size_t hdr_len);

#endif
