/*
 * mime-cte: Content-Transfer-Encoding decoders (RFC 2045 6.7 quoted-printable,
 * 6.8 base64) that stop anywhere and resume from a small saved state, so a
 * part of any size is decoded window by window: the back-end decodes one
 * window per FETCH BINARY request, saves the decoder state, and the next
 * request hands it back (mime_cte_dec_save / mime_cte_dec_load) together
 * with the encoded offset to continue from. Nothing is decoded twice and no
 * window depends on the ones before it except through that state.
 *
 * The decoded bytes never depend on where the input is split or how small
 * the output windows are: decoding in[0 .. n) in one call equals decoding
 * it in any pieces with any output capacities (tests/unit/test-mime-cte.c
 * and tests/fuzz/fuzz-mime-cte.c check every split). SEARCH (mime-decode.h)
 * and the whole-part BINARY path (mime-binary.h) use the same decoders, so
 * all three agree byte for byte.
 *
 * Decoding never fails on bad input:
 *  - base64: characters outside the alphabet (line breaks, garbage) are
 *    skipped; every 4 significant characters ("=" counts, as 0) give 3
 *    bytes, minus 1 when the 4th is "=" and minus 2 when the 3rd is too;
 *    an incomplete group at the end is dropped.
 *  - quoted-printable: "=XY" (hex, either case) is a byte; "=" followed by
 *    blanks (SP, HTAB) and a line end (CRLF, LF, or a lone CR) is a soft
 *    line break; any other "=" is kept as written, and what follows it is
 *    decoded normally. At most MIME_CTE_QP_BLANKS_MAX blanks may sit
 *    between "=" and the line end of a soft break (RFC 2045 lines are at
 *    most 76 characters; a longer run keeps its "=" as text).
 *  - identity (7bit, 8bit, binary, no field): the bytes unchanged.
 *
 * Decoding never makes the data longer: the output of n input bytes is at
 * most n bytes, for every encoding.
 */
#ifndef CPM_MIME_CTE_H
#define CPM_MIME_CTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MIME_CTE_QP_BLANKS_MAX 128
/* The longest saved state (mime_cte_dec_save). */
#define MIME_CTE_STATE_MAX 300

/* The values travel in cpm.FetchReq.binary_cte: keep them stable. */
enum mime_cte {
	MIME_CTE_IDENTITY = 1,
	MIME_CTE_BASE64 = 2,
	MIME_CTE_QP = 3,
	MIME_CTE_UNKNOWN = 4, /* an encoding we cannot undo (x-uuencode ...) */
};

/* The encoding named by a Content-Transfer-Encoding value (name NULL or
 * empty: identity), case-insensitive. */
enum mime_cte mime_cte_parse(const unsigned char *name, size_t len);

struct mime_cte_dec {
	uint8_t cte;  /* enum mime_cte, never UNKNOWN */
	uint8_t mode; /* quoted-printable: what the pending input is */
	uint16_t n_in, n_out, out_pos;
	bool nul; /* a NUL byte was delivered (sticky; not part of the saved state) */
	unsigned char in[1 + MIME_CTE_QP_BLANKS_MAX];    /* pending input */
	unsigned char out[4 + MIME_CTE_QP_BLANKS_MAX];   /* produced, not yet delivered: out[out_pos .. n_out) */
};

/* cte must be IDENTITY, BASE64 or QP. */
void mime_cte_dec_init(struct mime_cte_dec *d, enum mime_cte cte);

/* Decodes in[0 .. len), delivering at most cap bytes: to out[0 ..] when out
 * is not NULL, else only counted (a size, or a skip). *out_len_r is the
 * number delivered. Returns how many input bytes were taken: all of them
 * unless cap was reached first (decoding stops as soon as cap bytes are
 * delivered). final: in ends the encoded data, so pending input is flushed
 * (an incomplete base64 group dropped, a dangling "=" kept). Call again
 * with the rest of the input and a fresh cap to go on. */
size_t mime_cte_dec_run(struct mime_cte_dec *d, const unsigned char *in, size_t len, bool final, unsigned char *out,
			size_t cap, size_t *out_len_r);

/* True when nothing is pending (no input held back, no output owed): after
 * a final run that took all input, the decoding is complete. */
bool mime_cte_dec_idle(const struct mime_cte_dec *d);

/* Writes the state to buf (at most MIME_CTE_STATE_MAX bytes); returns its length. */
size_t mime_cte_dec_save(const struct mime_cte_dec *d, unsigned char buf[MIME_CTE_STATE_MAX]);
/* Restores a saved state (untrusted bytes: every field is checked). An
 * empty p[0 .. len) is the start of cte. 0, or -1 when invalid (d is then
 * undefined). */
int mime_cte_dec_load(struct mime_cte_dec *d, enum mime_cte cte, const unsigned char *p, size_t len);

#endif
