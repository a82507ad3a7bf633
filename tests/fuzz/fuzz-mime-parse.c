/*
 * libFuzzer harness for common/mime-parse (with mime-header, imap-envelope,
 * imap-bodystructure and imap-quote, which it needs).
 *
 *   make fuzz   (builds tests/fuzz/fuzz-NAME.c with common/NAME.c and
 *                common/buf.c; the other modules are included below)
 *   build/fuzz/fuzz-mime-parse -max_len=65536 -max_total_time=300
 *
 * The first input byte chooses a mode, the rest is the data:
 *  - mode even: data is a message. It must parse; the tree must survive a
 *    serialise -> deserialise round trip unchanged (deserialise re-checks
 *    every invariant); ENVELOPE / BODY / BODYSTRUCTURE must be well-formed
 *    IMAP (balanced parentheses, exact literal lengths); every section
 *    lookup must stay inside the message; a copy of the serialised tree with
 *    one byte changed must either be refused or write well-formed output.
 *  - mode odd: data is untrusted stored bytes for mime_tree_deserialize;
 *    when accepted, the same writer checks apply.
 * Besides memory errors (ASan/UBSan) it traps when a promise is broken.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mime-parse.h"

/* The modules mime-parse.c links with (the Makefile compiles only
 * common/mime-parse.c and common/buf.c with this file). */
#include "../../common/imap-bodystructure.c"
#include "../../common/imap-envelope.c"
#include "../../common/imap-quote.c"
#include "../../common/mime-header.c"

#define CHECK(cond)                          \
	do {                                 \
		if (!(cond))                 \
			__builtin_trap();    \
	} while (0)

/* Checks that b is one IMAP parenthesised list: balanced parentheses,
 * quoted strings closed, literals "{n}\r\n" followed by n bytes. */
static void check_sexp(const unsigned char *b, size_t len)
{
	size_t i = 0;
	int depth = 0;
	CHECK(len > 0 && b[0] == '(');
	while (i < len) {
		unsigned char c = b[i];
		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			CHECK(depth > 0);
			depth--;
			i++;
			if (depth == 0)
				break;
		} else if (c == '"') {
			for (i++; i < len && b[i] != '"'; i++) {
				CHECK(b[i] != '\r' && b[i] != '\n');
				if (b[i] == '\\')
					i++;
			}
			CHECK(i < len);
			i++;
		} else if (c == '{') {
			size_t n = 0;
			for (i++; i < len && b[i] >= '0' && b[i] <= '9'; i++)
				n = n * 10 + (size_t)(b[i] - '0');
			CHECK(i + 3 <= len && b[i] == '}' && b[i + 1] == '\r' && b[i + 2] == '\n');
			i += 3;
			CHECK(n <= len - i);
			i += n;
		} else {
			CHECK(c >= 0x20 && c < 0x7f);
			i++;
		}
	}
	CHECK(depth == 0 && i == len);
}

static void check_writers(const struct mime_tree *t)
{
	struct buf o = {0};
	for (uint32_t p = 0; p < t->n_parts && p < 64; p++) {
		buf_reset(&o);
		CHECK(imap_bodystructure_write(&o, t, p, true) == 0);
		check_sexp(o.data, o.len);
		buf_reset(&o);
		CHECK(imap_bodystructure_write(&o, t, p, false) == 0);
		check_sexp(o.data, o.len);
		buf_reset(&o);
		CHECK(imap_bodystructure_write_envelope(&o, t, p) == 0);
		check_sexp(o.data, o.len);
	}
	CHECK(imap_bodystructure_write(&o, t, t->n_parts, true) == -1);
	buf_free(&o);
}

static void check_sections(const struct mime_tree *t, const unsigned char *msg, size_t len)
{
	static const char *const specs[] = {"",	   "1",	  "2",	   "1.1",      "1.2.1",	   "HEADER",
					    "TEXT", "1.MIME", "2.MIME", "1.HEADER", "1.1.TEXT", "HEADER.FIELDS (From To)",
					    "1.HEADER.FIELDS.NOT (Subject)", "3.1.2.1"};
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct mime_section sec;
		uint64_t off, n;
		CHECK(mime_section_find(t, specs[i], strlen(specs[i]), &sec, &off, &n) >= 0);
		CHECK(off <= len && n <= len - off);
		struct buf o = {0};
		CHECK(mime_section_fetch(&o, msg, len, t, &sec) == 0);
		if (sec.text != MIME_SECTION_HEADER_FIELDS && sec.text != MIME_SECTION_HEADER_FIELDS_NOT)
			CHECK(o.len == n && (n == 0 || memcmp(o.data, msg + off, n) == 0));
		buf_free(&o);
		mime_section_clear(&sec);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	data++;
	size--;

	struct mime_tree *t = NULL, *t2 = NULL;
	if (mode & 1) {
		if (mime_tree_deserialize(data, size, &t) == 0) {
			check_writers(t);
			mime_tree_free(&t);
		}
		return 0;
	}
	CHECK(mime_parse(data, size, &t) == 0);
	CHECK(t->msg_size == size && t->n_parts >= 1 && t->n_parts <= MIME_MAX_PARTS);
	struct buf s1 = {0}, s2 = {0};
	CHECK(mime_tree_serialize(t, &s1) == 0);
	CHECK(mime_tree_deserialize(s1.data, s1.len, &t2) == 0);
	CHECK(mime_tree_serialize(t2, &s2) == 0);
	CHECK(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
	check_writers(t2);
	check_sections(t2, data, size);
	mime_tree_free(&t2);

	/* a damaged copy is refused or harmless */
	if (s1.len > 0) {
		size_t at = (size_t)(mode >> 1) * 7919u % s1.len;
		s1.data[at] ^= (unsigned char)(1u + (mode >> 1));
		if (mime_tree_deserialize(s1.data, s1.len, &t2) == 0) {
			check_writers(t2);
			if (t2->msg_size == size)
				check_sections(t2, data, size);
			mime_tree_free(&t2);
		}
	}
	buf_free(&s1);
	buf_free(&s2);
	mime_tree_free(&t);
	return 0;
}
