/*
 * mime-parse: the MIME structure of a message, computed once (at APPEND)
 * and stored, so that FETCH ENVELOPE / BODYSTRUCTURE / BODY[section] never
 * parse the message again.
 *
 * The result is a struct mime_tree: a flat array of parts in depth-first
 * order (parts[0] is the message itself) plus a string store holding every
 * header-derived string. It serialises to a versioned byte string that the
 * back-end keeps next to the body, and deserialises with full validation
 * (the stored bytes are not trusted).
 *
 * Model (RFC 2045/2046, RFC 3501 6.4.5, and Dovecot where they are silent):
 *  - Every part has a header (hdr_off, hdr_len: the header lines and, when
 *    present, the empty line ending them) and a body that follows it
 *    directly (body_off == hdr_off + hdr_len).
 *  - A multipart part's children are its body parts. A boundary line is
 *    "--" boundary at the start of a line (anything may follow) and owns
 *    its own line end; the line end before it belongs to the boundary too
 *    (RFC 2046), unless it is the previous boundary line's. When that line
 *    end is the empty line closing a part's header, the header loses it
 *    (as in Dovecot). Followed by "--" a boundary closes the multipart;
 *    what follows (epilogue) stays in the multipart's body. The innermost
 *    open multipart's boundary is tried first; a boundary of an outer
 *    multipart also ends every part nested inside it.
 *  - A message/rfc822 part has one child: the embedded message (its header
 *    starts the rfc822 part's body). The root and those children carry
 *    MIME_PART_MESSAGE and an ENVELOPE.
 *  - Malformed MIME is never rejected: a multipart without a boundary
 *    parameter, or whose boundary never occurs, has no children (written as
 *    one empty text/plain part, as Dovecot does); a missing close delimiter
 *    lets the last part run to the end of its parent; a header without an
 *    empty line ends at the next boundary or at the end of the message.
 *    Parts of a multipart/digest without Content-Type are message/rfc822.
 *  - Offsets and sizes are byte-exact: a bare LF counts one byte (Dovecot
 *    reports CRLF-converted sizes; we store and return bytes as received).
 *    lines counts the LFs in the body.
 *
 * Limits: nesting depth MIME_MAX_DEPTH (a part that deep gets no children),
 * MIME_MAX_PARTS parts (later boundaries still end parts but start none),
 * MIME_HEADER_MAX_LINES header lines interpreted per part, MIME_MAX_ENTRIES
 * list members (parameters, languages, addresses) per tree. Parsing is
 * linear in the message size.
 *
 * Ownership: mime_parse and mime_tree_deserialize allocate a tree that the
 * caller frees with mime_tree_free. The tree does not point into the
 * message: keep the message to serve BODY[...] bytes, not to write
 * BODYSTRUCTURE / ENVELOPE.
 *
 * Return conventions: int functions return 0 on success, -1 on failure
 * (out of memory; for deserialize also "bytes are not a valid tree"; for
 * section parsing a syntax error). Nothing aborts.
 */
#ifndef CPM_MIME_PARSE_H
#define CPM_MIME_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap-envelope.h"
#include "mime-header.h"

#define MIME_MAX_DEPTH 100
#define MIME_MAX_PARTS 10000
#define MIME_MAX_ENTRIES 200000
#define MIME_PART_NONE UINT32_MAX

/* Serialised form version (first byte after the magic "MIMT"). */
#define MIME_TREE_VERSION 1

enum mime_part_flag {
	MIME_PART_MESSAGE = 1u << 0,   /* the root or the child of an rfc822 part: env is set */
	MIME_PART_MULTIPART = 1u << 1, /* multipart/...: children are the body parts */
	MIME_PART_RFC822 = 1u << 2,    /* message/rfc822: at most one child, the embedded message */
	MIME_PART_TEXT = 1u << 3,      /* text/... or no Content-Type: lines, default charset */
};

struct mime_part {
	uint32_t parent;     /* MIME_PART_NONE for the root */
	uint32_t next;       /* index just after this part's subtree */
	uint32_t n_children; /* first child (if any) is this index + 1 */
	uint16_t depth;
	uint16_t flags; /* enum mime_part_flag */
	uint64_t hdr_off, hdr_len;
	uint64_t body_off, body_len;
	uint64_t lines; /* LFs in the body */
	/* Content-Type as sent; type NIL = no Content-Type ("text" "plain", or
	 * "message" "rfc822" in a digest). Broken values give "" "". */
	struct mime_str type, subtype;
	struct mime_list params; /* name/value pairs */
	/* raw unfolded values, NIL when absent; encoding NIL = "7bit" */
	struct mime_str id, description, encoding, md5, disposition, location;
	struct mime_list disp_params, language;
	struct imap_envelope env; /* MIME_PART_MESSAGE parts only */
};

struct mime_tree {
	uint64_t msg_size;
	uint32_t n_parts;
	struct mime_part *parts;
	struct mime_store st; /* strings of every part */
};

/* Parses msg[0 .. len). Never rejects input: -1 only when out of memory. */
int mime_parse(const unsigned char *msg, size_t len, struct mime_tree **tree_r);
/* As mime_parse, and about every MIME_PARSE_PROGRESS_STEP bytes scanned
 * calls progress(ctx, keep_from): the parser will not read msg before
 * keep_from again, so a caller parsing a mapped file may release those
 * pages (staging_file_seal keeps resident memory small that way). */
#define MIME_PARSE_PROGRESS_STEP (4u << 20)
typedef void mime_parse_progress_fn(void *ctx, size_t keep_from);
int mime_parse_progress(const unsigned char *msg, size_t len, mime_parse_progress_fn *progress, void *ctx,
			struct mime_tree **tree_r);
void mime_tree_free(struct mime_tree **tree);

/* Appends the serialised tree to out. */
int mime_tree_serialize(const struct mime_tree *tree, struct buf *out);
/* Rebuilds a tree from p[0 .. len), checking every count, offset, string
 * reference and the tree shape. -1 for anything inconsistent. */
int mime_tree_deserialize(const unsigned char *p, size_t len, struct mime_tree **tree_r);

/* The bytes of a string of the tree (NULL for NIL). */
const unsigned char *mime_tree_str(const struct mime_tree *tree, struct mime_str s, size_t *len_r);

/* ---- BODY[section] ------------------------------------------------------ */

#define MIME_SECTION_MAX_PATH 255
#define MIME_SECTION_MAX_FIELDS 1000

enum mime_section_text {
	MIME_SECTION_BODY, /* "" (whole message) or "1.2" (that part's body) */
	MIME_SECTION_HEADER,
	MIME_SECTION_TEXT,
	MIME_SECTION_MIME,
	MIME_SECTION_HEADER_FIELDS,
	MIME_SECTION_HEADER_FIELDS_NOT,
};

/* A parsed section-spec (what is between the brackets of BODY[...]). A
 * zeroed struct is empty; mime_section_clear frees it. */
struct mime_section {
	uint32_t *path; /* part numbers, each >= 1 */
	size_t path_len;
	enum mime_section_text text;
	char **fields; /* HEADER.FIELDS(.NOT) names, NUL-terminated, as sent */
	bool *quoted;  /* fields[i] was sent as a quoted string */
	size_t n_fields;
};

/* Parses RFC 3501 section-spec s[0 .. len): "", "1.2", "HEADER", "TEXT",
 * "1.MIME", "2.HEADER", "HEADER.FIELDS (A B)", "1.HEADER.FIELDS.NOT (A)".
 * Keywords are case-insensitive; field names are atoms or quoted strings.
 * -1 on a syntax error (answer BAD) or out of memory; sec_r is then empty. */
int mime_section_parse(const char *s, size_t len, struct mime_section *sec_r);
void mime_section_clear(struct mime_section *sec);
/* Appends the canonical spec for the response, e.g. "1.HEADER.FIELDS (A B)"
 * (keywords and field names upper-cased, names quoted when they were sent
 * quoted, as Dovecot answers). */
int mime_section_write(struct buf *out, const struct mime_section *sec);

/* The index in tree->parts of the part a section path names (path_len 0:
 * the root; in a single-part body, part 1 is the body's own part, as in
 * RFC 3501; the path of a message/rfc822 part goes on in its embedded
 * message). false when no such part exists. */
bool mime_part_by_path(const struct mime_tree *tree, const uint32_t *path, size_t path_len, uint32_t *idx_r);

/* The byte range msg[*off_r .. *off_r + *len_r) a section refers to. For
 * HEADER.FIELDS(.NOT) it is the header to filter (see mime_section_fetch).
 * Returns false when the part does not exist (RFC 3501: answer an empty
 * string); then both are 0. */
bool mime_section_locate(const struct mime_tree *tree, const struct mime_section *sec, uint64_t *off_r, uint64_t *len_r);

/* Parses spec and locates it: -1 syntax error, 0 no such part (empty
 * result), 1 found. sec_r->text tells what to do with the range (filter
 * for HEADER.FIELDS(.NOT)); free sec_r with mime_section_clear. */
int mime_section_find(const struct mime_tree *tree, const char *spec, size_t len, struct mime_section *sec_r,
		      uint64_t *off_r, uint64_t *len_r);

/* Appends what BODY[section] returns for msg[0 .. msg_len) (the message the
 * tree was parsed from): the bytes of the range, or for HEADER.FIELDS(.NOT)
 * the filtered header (mime_header_filter). Ranges are clamped to msg_len. */
int mime_section_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		       const struct mime_section *sec);

#endif
