/*
 * fetch-items: what a FETCH command asks for, parsed from its item atoms.
 *
 * Supported now: UID, FLAGS, INTERNALDATE, RFC822.SIZE, RFC822, FAST, and
 * BODY[] / BODY.PEEK[] with an optional <origin.count> partial. Every other
 * RFC 3501 item (ENVELOPE, BODYSTRUCTURE, BODY, BODY[section], RFC822.HEADER,
 * RFC822.TEXT, ALL, FULL, BINARY...) is recognised and refused as
 * unsupported until the MIME layer exists; anything else is invalid. The
 * parser's atoms already hold whole items ("BODY.PEEK[]<0.100>",
 * "BODY[HEADER.FIELDS (A B)]" arrive as one atom).
 *
 * Contract: a zeroed struct fetch_items is the empty request;
 * fetch_items_add adds one atom (case-insensitive, need not be
 * NUL-terminated) and returns FETCH_ITEM_OK or a negative
 * enum fetch_item_result, leaving fi unchanged on failure. Nothing allocates.
 * Identical body items are merged (BODY[] with BODY.PEEK[] gives one
 * non-peek BODY[]); at most FETCH_MAX_BODY_ITEMS distinct ones are kept.
 */
#ifndef CPM_FRONTEND_FETCH_ITEMS_H
#define CPM_FRONTEND_FETCH_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FETCH_MAX_BODY_ITEMS 16

struct fetch_body_item {
	bool peek;      /* BODY.PEEK[]: leaves \Seen alone */
	bool rfc822;    /* RFC822: same bytes as BODY[], answered as "RFC822" */
	bool partial;   /* <origin.count> given */
	uint32_t origin;
	uint32_t count; /* > 0 when partial */
};

struct fetch_items {
	bool uid;
	bool flags;
	bool internaldate;
	bool size;
	unsigned n_body;
	struct fetch_body_item body[FETCH_MAX_BODY_ITEMS];
};

enum fetch_item_result {
	FETCH_ITEM_OK = 0,
	FETCH_ITEM_UNSUPPORTED = -1, /* a valid RFC 3501 item we do not serve yet */
	FETCH_ITEM_INVALID = -2,     /* unknown name or bad syntax */
	FETCH_ITEM_TOO_MANY = -3,    /* more than FETCH_MAX_BODY_ITEMS body items */
};

enum fetch_item_result fetch_items_add(struct fetch_items *fi, const char *atom, size_t len);

/* True when some body item is not a PEEK (fetching it sets \Seen). */
bool fetch_items_sets_seen(const struct fetch_items *fi);

/* Appends the response name of a body item: "BODY[]", "BODY[]<origin>" or "RFC822". */
void fetch_items_write_body_name(struct buf *b, const struct fetch_body_item *it);

/* The bytes of body[0 .. body_len) that a body item returns: *start_r and
 * *len_r (an origin past the end gives length 0). */
void fetch_items_body_slice(const struct fetch_body_item *it, size_t body_len, size_t *start_r, size_t *len_r);

#endif
