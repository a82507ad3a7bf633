/*
 * fetch-items: what a FETCH command asks for, parsed from its item atoms.
 *
 * Items: UID, FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE,
 * BODY, RFC822, RFC822.HEADER, RFC822.TEXT, BODY[section]<origin.count>,
 * BODY.PEEK[section]<origin.count> (section: "", "1.2", HEADER, TEXT, MIME,
 * HEADER.FIELDS (...), HEADER.FIELDS.NOT (...), with part paths),
 * BINARY[section]<origin.count>, BINARY.PEEK[section]<origin.count> and
 * BINARY.SIZE[section] (RFC 3516 names part paths only; as Dovecot, every
 * section BODY takes is answered: mime_binary_section_plan), PREVIEW (RFC 8970; its
 * "(LAZY)" modifier list is a separate argument: fetch_items_add_preview_mods),
 * MODSEQ (RFC 7162), and the macros ALL, FAST, FULL. ANNOTATION is
 * recognised and refused as unsupported; anything else is invalid. The parser's atoms
 * already hold whole items ("BODY[HEADER.FIELDS (A B)]<0.9>" arrives as one
 * atom).
 *
 * Contract: a zeroed struct fetch_items is the empty request;
 * fetch_items_add adds one atom (case-insensitive, need not be
 * NUL-terminated) and returns FETCH_ITEM_OK or a negative
 * enum fetch_item_result, leaving fi unchanged on failure. Body items own
 * their parsed section: free a request with fetch_items_clear. Identical
 * body items are merged (BODY[] with BODY.PEEK[] gives one non-peek
 * BODY[]); at most FETCH_MAX_BODY_ITEMS distinct ones are kept.
 */
#ifndef CPM_FRONTEND_FETCH_ITEMS_H
#define CPM_FRONTEND_FETCH_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mime-parse.h"

#define FETCH_MAX_BODY_ITEMS 16

/* How a body item is named in the response. */
enum fetch_body_name {
	FETCH_BODY,
	FETCH_RFC822,
	FETCH_RFC822_HEADER,
	FETCH_RFC822_TEXT,
	FETCH_BINARY,      /* BINARY[part]: transfer encoding removed (mime-binary.h) */
	FETCH_BINARY_SIZE, /* BINARY.SIZE[part]: the length BINARY[part] would have */
};

struct fetch_body_item {
	bool peek;      /* leaves \Seen alone (BODY.PEEK[], RFC822.HEADER) */
	enum fetch_body_name name;
	bool partial;   /* <origin.count> given */
	uint32_t origin;
	uint32_t count; /* > 0 when partial */
	struct mime_section sec; /* what the brackets say ("" = the whole message) */
	char *spec;     /* the canonical section text for the response (malloc'd) */
};

struct fetch_items {
	bool uid;
	bool flags;
	bool internaldate;
	bool size;
	bool envelope;
	bool bodystructure;
	bool body;      /* BODY (the non-extended structure) */
	bool modseq;    /* MODSEQ (RFC 7162), also implied by CHANGEDSINCE */
	bool preview;   /* PREVIEW (RFC 8970) */
	bool preview_lazy; /* PREVIEW (LAZY): we always compute, so only remembered */
	unsigned n_body;
	struct fetch_body_item items[FETCH_MAX_BODY_ITEMS];
};

enum fetch_item_result {
	FETCH_ITEM_OK = 0,
	FETCH_ITEM_UNSUPPORTED = -1, /* a valid item we do not serve yet */
	FETCH_ITEM_INVALID = -2,     /* unknown name or bad syntax */
	FETCH_ITEM_TOO_MANY = -3,    /* more than FETCH_MAX_BODY_ITEMS body items */
};

enum fetch_item_result fetch_items_add(struct fetch_items *fi, const char *atom, size_t len);
/* The modifiers of PREVIEW: mods[0 .. n) are the atoms of the list that
 * followed it ("LAZY" is the only one, RFC 8970). FETCH_ITEM_INVALID for
 * an empty list or an unknown modifier. */
enum fetch_item_result fetch_items_add_preview_mods(struct fetch_items *fi, const char *const *mods,
						    const size_t *lens, unsigned n);
void fetch_items_clear(struct fetch_items *fi);

/* True when some body item is not a PEEK (fetching it sets \Seen). */
bool fetch_items_sets_seen(const struct fetch_items *fi);
/* True when answering needs the message's MIME tree / its bytes. */
bool fetch_items_need_tree(const struct fetch_items *fi);
bool fetch_items_need_body(const struct fetch_items *fi);

/* Appends the response name of a body item: "BODY[1.HEADER]<0>", "RFC822",
 * "BINARY[2]<0>", "BINARY.SIZE[1]" ... */
void fetch_items_write_body_name(struct buf *b, const struct fetch_body_item *it);

/* Appends what a body item returns for msg[0 .. len) (tree: its MIME tree,
 * needed unless the section is the whole message for BODY), partial
 * applied; for BINARY.SIZE the decoded bytes whose length is the answer.
 * 0, -1 (out of memory, no tree), or FETCH_BYTES_UNKNOWN_CTE (a BINARY
 * item whose part has a Content-Transfer-Encoding we cannot decode). */
#define FETCH_BYTES_UNKNOWN_CTE (-2)

/* Large bodies in bounded memory: true when a large message can be
 * answered without holding its body: every body item is a byte range of
 * the stored message (fetch_items_body_range), a filtered header (BODY's
 * or BINARY's), or a BINARY item, whose part cmd-fetch.c decodes window by
 * window (a BINARY of a multipart, of the whole message, TEXT, MIME or
 * HEADER piece by piece, binary-pieces.h). */
bool fetch_items_streamable(const struct fetch_items *fi);
/* BINARY[...] or BINARY.SIZE[...]. */
bool fetch_items_is_binary(const struct fetch_body_item *it);
/* The range of the message (msg_size octets, its tree; tree may be NULL
 * for the whole message) that a streamable item reads: msg[*off_r ..
 * *off_r + *len_r). 0: those bytes are the answer (partial applied);
 * FETCH_RANGE_FILTER: HEADER.FIELDS(.NOT): the range is the header to
 * filter (fetch_items_filter_header); -1 when not streamable or the tree
 * is missing. */
#define FETCH_RANGE_FILTER 1
int fetch_items_body_range(const struct fetch_body_item *it, const struct mime_tree *tree, uint64_t msg_size,
			   uint64_t *off_r, uint64_t *len_r);
/* HEADER.FIELDS(.NOT) of the header hdr[0 .. len) (as located by
 * fetch_items_body_range), partial applied, appended to out. 0 or -1. */
int fetch_items_filter_header(struct buf *out, const struct fetch_body_item *it, const unsigned char *hdr, size_t len);
int fetch_items_body_bytes(struct buf *out, const struct fetch_body_item *it, const unsigned char *msg, size_t len,
			   const struct mime_tree *tree);

#endif
