/*
 * mime-binary: what FETCH BINARY[section] returns (RFC 3516): the bytes of
 * a part with its Content-Transfer-Encoding removed.
 *
 *  - A leaf part (not multipart, not message/rfc822) named by a non-empty
 *    path: its body decoded. base64 and quoted-printable are decoded
 *    (mime-decode.h: undecodable base64 groups dropped, broken "=" escapes
 *    kept); 7bit, 8bit, binary and no Content-Transfer-Encoding are the
 *    bytes as stored; any other encoding is MIME_BINARY_UNKNOWN_CTE.
 *    (The decoders are mime-cte.h's, which also decode a large part
 *    window by window: see mime_binary_locate.)
 *  - The whole message (empty path) or a multipart / message/rfc822 part:
 *    the same bytes BODY[section] returns, with every leaf inside whose
 *    encoding is base64 or quoted-printable decoded and its
 *    Content-Transfer-Encoding field rewritten to "binary", so the result
 *    is still a valid MIME entity (as Dovecot answers). One leaf with an
 *    unknown encoding makes the whole section MIME_BINARY_UNKNOWN_CTE.
 *  - A path naming no part: empty (like BODY[section]).
 *
 * The result is never longer than the section's stored bytes (decoding only
 * shrinks, "binary" is shorter than "base64" and "quoted-printable"), so
 * memory is bounded by the message size.
 *
 * mime_binary_fetch needs the message's bytes; for a large message,
 * mime_binary_locate (a leaf: one range to decode) and mime_binary_plan
 * (any section: copied ranges, rewritten headers, decoded ranges) say
 * from the tree alone what to read, so the answer is made window by
 * window (frontend/cmd-fetch.c, frontend/binary-pieces.h).
 *
 * Return conventions: MIME_BINARY_OK (0), MIME_BINARY_NOMEM (-1) or
 * MIME_BINARY_UNKNOWN_CTE (-2); on failure out may hold a partial result
 * (the caller discards it). The tree must be the one parsed from msg.
 */
#ifndef CPM_MIME_BINARY_H
#define CPM_MIME_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mime-cte.h"
#include "mime-parse.h"

enum mime_binary_result {
	MIME_BINARY_OK = 0,
	MIME_BINARY_NOMEM = -1,
	MIME_BINARY_UNKNOWN_CTE = -2,
};

/* What BINARY[path] of a message of msg_len octets is, from its tree alone
 * (for a large message whose bytes are decoded window by window,
 * mime-cte.h). Returns MIME_BINARY_UNKNOWN_CTE exactly when
 * mime_binary_fetch would, else MIME_BINARY_OK and *kind_r:
 *  - MIME_BINARY_LEAF: the part's body msg[*off_r .. *off_r + *len_r)
 *    (clamped to msg_len) decoded with *cte_r is the answer; a path naming
 *    no part is a LEAF of length 0;
 *  - MIME_BINARY_CONVERT: a multipart, message/rfc822 or the whole
 *    message: mime_binary_fetch over the message bytes, or the pieces of
 *    mime_binary_plan, answer it. */
enum mime_binary_kind { MIME_BINARY_LEAF, MIME_BINARY_CONVERT };
int mime_binary_locate(const struct mime_tree *tree, const uint32_t *path, size_t path_len, uint64_t msg_len,
		       enum mime_binary_kind *kind_r, uint64_t *off_r, uint64_t *len_r, enum mime_cte *cte_r);

/* Appends the decoded section path[0 .. path_len) of msg[0 .. msg_len). */
int mime_binary_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		      const uint32_t *path, size_t path_len);

/* The answer of BINARY[path] as a list of pieces planned from the tree
 * alone, so a large message's answer is made piece by piece (a CONVERT
 * section above all) without holding its bytes: the concatenation, in
 * order, of each piece's output is byte for byte what mime_binary_fetch
 * appends for the same msg_len (tests/unit/test-mime-binary.c checks it).
 * Each piece names a range msg[off .. off + len) inside msg_len:
 *  - MIME_PIECE_COPY: the bytes as stored (boundaries, preambles,
 *    epilogues, headers and bodies left alone, identity leaves);
 *  - MIME_PIECE_HEADER: a leaf's header, rewritten by
 *    mime_binary_rewrite_header (small: one header);
 *  - MIME_PIECE_DECODE: a leaf's body decoded with cte (mime-cte.h).
 * No piece is empty, at most 3 per part plus one. Returns what
 * mime_binary_locate returns (MIME_BINARY_UNKNOWN_CTE exactly when
 * mime_binary_fetch would; then no pieces), or MIME_BINARY_NOMEM.
 * *pieces_r is malloc'd (NULL when *n_r is 0): the caller frees it. */
enum mime_piece_kind { MIME_PIECE_COPY = 1, MIME_PIECE_HEADER = 2, MIME_PIECE_DECODE = 3 };
struct mime_binary_piece {
	uint8_t kind; /* enum mime_piece_kind */
	uint8_t cte;  /* enum mime_cte of a DECODE piece; IDENTITY otherwise */
	uint64_t off, len;
};
int mime_binary_plan(const struct mime_tree *tree, const uint32_t *path, size_t path_len, uint64_t msg_len,
		     struct mime_binary_piece **pieces_r, size_t *n_r);

/* BINARY with any section-spec (RFC 3516's section-binary names part paths
 * only; as Dovecot, the others are answered too), cut the way BODY's
 * sections cut a message:
 *  - "" / "1.2" (MIME_SECTION_BODY): mime_binary_plan / mime_binary_fetch;
 *  - TEXT: BINARY[] (n.TEXT of a message/rfc822 part n: BINARY[n]) without
 *    the message's own header: the same plan cut at that header's end, so
 *    MIME_BINARY_UNKNOWN_CTE exactly when that BINARY[...] gives it; n.TEXT
 *    of any other part is empty (as BODY[n.TEXT]);
 *  - n.MIME: the part's header as BINARY[] shows it: a leaf whose body it
 *    decodes (base64, quoted-printable) has it rewritten (one HEADER
 *    piece), any other part's is BODY[n.MIME] (one COPY piece);
 *  - HEADER, n.HEADER: BODY's bytes (one COPY piece), except the header of
 *    a message whose body is one leaf BINARY decodes: that header is the
 *    leaf's MIME header, rewritten as in BINARY[] and n.MIME (one HEADER
 *    piece); HEADER.FIELDS(.NOT): BODY's filtered header (the plan is the
 *    header range that filter reads).
 * The plan's conventions are mime_binary_plan's; mime_binary_section_fetch
 * runs it over the message's bytes (so both paths agree by construction). */
int mime_binary_section_plan(const struct mime_tree *tree, const struct mime_section *sec, uint64_t msg_len,
			     struct mime_binary_piece **pieces_r, size_t *n_r);
int mime_binary_section_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
			      const struct mime_section *sec);

/* Appends the header h[0 .. len) with each Content-Transfer-Encoding field
 * replaced by "Content-Transfer-Encoding: binary" (keeping the field's line
 * end): what a MIME_PIECE_HEADER gives. 0 or -1 (out of memory). */
int mime_binary_rewrite_header(struct buf *out, const unsigned char *h, size_t len);

#endif
