/*
 * imapc-resp: streaming parser for the responses an IMAP server sends
 * (RFC 3501 section 7 and 9: tagged and untagged responses, "+"
 * continuation requests; literals {n} and literal8 ~{n} inside responses).
 *
 * It never touches a socket. The connection hands it whatever bytes it has;
 * the parser looks at each byte once, keeps its state between calls and
 * reports at most one complete response per call:
 *
 *   size_t used; const struct imapc_resp *r;
 *   switch (imapc_resp_feed(p, data, len, &used, &r)) {
 *   case IMAPC_RESP_NEED_MORE:  all of data was used; wait for more input
 *   case IMAPC_RESP_READY:      handle r, then feed data + used
 *   case IMAPC_RESP_ERROR:      imapc_resp_error(p) says why; close the
 *                               connection (the stream can't be resynchronised)
 *   }
 *
 * A response is its text lines joined (CR LF removed) with each literal's
 * "{n}" marker left in place, plus the literals. text[] is NUL-terminated.
 * Each literal records the offset in text just after its marker (where its
 * data belongs) and, when the parser keeps literals, its bytes; with
 * keep_literals false only the sizes are kept (a load generator reading
 * 1 MB bodies need not copy them). Every response is classified:
 *   - "+ text"                       kind CONTINUATION, rest = text
 *   - "* [n] KEYWORD rest"           kind UNTAGGED; number/has_number for
 *                                    "* 5 EXISTS", keyword "EXISTS"
 *   - "tag STATUS rest"              kind TAGGED; tag, keyword = status
 * status is set for OK/NO/BAD/PREAUTH/BYE (tagged or untagged), else NONE.
 *
 * Limits (the server is not trusted either): max_text bytes of text per
 * response (all its lines), max_literal bytes per literal, max_literals
 * literals per response. Exceeding one is an error; so is a line that is
 * not a response ("tag" without a status, an empty line, a NUL byte).
 * Memory: the text buffer (at most max_text) and, with keep_literals, the
 * literal bytes of the current response (at most max_literals x
 * max_literal, allocated as they arrive, never ahead of the data).
 *
 * Ownership: the parser owns everything it returns; *resp_r and all its
 * pointers stay valid until the next feed/free on the same parser.
 */
#ifndef CPM_IMAPC_RESP_H
#define CPM_IMAPC_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAPC_RESP_DEFAULT_MAX_TEXT (1024u * 1024)
#define IMAPC_RESP_DEFAULT_MAX_LITERAL (64u * 1024 * 1024)
#define IMAPC_RESP_DEFAULT_MAX_LITERALS 100000u

enum imapc_resp_result { IMAPC_RESP_ERROR = -1, IMAPC_RESP_NEED_MORE = 0, IMAPC_RESP_READY = 1 };

enum imapc_resp_kind { IMAPC_UNTAGGED, IMAPC_TAGGED, IMAPC_CONTINUATION };

enum imapc_status { IMAPC_NONE, IMAPC_OK, IMAPC_NO, IMAPC_BAD, IMAPC_PREAUTH, IMAPC_BYE };

struct imapc_resp_limits {
	size_t max_text;      /* 0: IMAPC_RESP_DEFAULT_MAX_TEXT */
	size_t max_literal;   /* 0: IMAPC_RESP_DEFAULT_MAX_LITERAL */
	size_t max_literals;  /* 0: IMAPC_RESP_DEFAULT_MAX_LITERALS */
	bool keep_literals;   /* false: literal bytes are counted and dropped */
};

struct imapc_literal {
	size_t text_off;          /* in text: just after the "{n}" marker */
	const unsigned char *data; /* NULL unless literals are kept */
	size_t len;
	bool binary;              /* ~{n} */
};

struct imapc_resp {
	enum imapc_resp_kind kind;
	enum imapc_status status;
	const char *text;  /* whole response, NUL-terminated */
	size_t text_len;
	const char *tag;   /* TAGGED only (not NUL-terminated: tag_len) */
	size_t tag_len;
	bool has_number;   /* UNTAGGED "* n KEYWORD" */
	uint32_t number;
	const char *keyword; /* status or untagged keyword, keyword_len bytes */
	size_t keyword_len;
	const char *rest;  /* after keyword and one space (or after "+ "); NUL-terminated */
	const struct imapc_literal *literals;
	size_t n_literals;
	size_t literal_bytes; /* sum of literal lengths */
};

struct imapc_resp_parser;

/* NULL on memory exhaustion; limits may be NULL (defaults). */
struct imapc_resp_parser *imapc_resp_parser_new(const struct imapc_resp_limits *limits);
void imapc_resp_parser_free(struct imapc_resp_parser **p);

enum imapc_resp_result imapc_resp_feed(struct imapc_resp_parser *p, const void *data, size_t len,
				       size_t *used_r, const struct imapc_resp **resp_r);
/* Why the last feed returned IMAPC_RESP_ERROR ("" if it did not). After an
   error every feed returns IMAPC_RESP_ERROR again. */
const char *imapc_resp_error(const struct imapc_resp_parser *p);

/* Helpers on a returned response. */
/* True when keyword equals kw (ASCII case-insensitive). */
bool imapc_resp_is(const struct imapc_resp *r, const char *kw);
/* The response code "[CODE args]" at the start of rest: *code_r points at
   CODE, *len_r covers "CODE args" (without brackets). false if none. */
bool imapc_resp_code(const struct imapc_resp *r, const char **code_r, size_t *len_r);
/* Finds the first "NAME number" in s (NAME as a whole word, case-insensitive,
   followed by a space or '(' then an unsigned number), e.g. "UID",
   "MODSEQ (", "HIGHESTMODSEQ". 0 and *val_r set when found, -1 otherwise. */
int imapc_find_number(const char *s, size_t len, const char *name, uint64_t *val_r);

#endif
