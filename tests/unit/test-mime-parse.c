/*
 * Unit tests for common/mime-parse: the part tree and its offsets, the
 * limits, the serialised form (and its refusal of damaged bytes), and
 * BODY[section] lookup.
 *
 * Offsets are checked as the exact bytes each range covers. The section
 * answers were compared with Dovecot 2.3.19 on the same messages (equal
 * except where a comment says otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mime-parse.h"

#define M_ (MIME_PART_MESSAGE)
#define MP (MIME_PART_MULTIPART)
#define RF (MIME_PART_RFC822)
#define TX (MIME_PART_TEXT)
#define NONE MIME_PART_NONE

static const char nested[] = "From: a@b\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
			     "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
			     "preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody one\r\n"
			     "--b1\r\nContent-Type: message/rfc822\r\nContent-Description: fwd\r\n\r\n"
			     "From: inner@x\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
			     "--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n"
			     "inner epilogue\r\n--b1--\r\nepilogue\r\n";

static struct mime_tree *parse(const char *m, size_t len)
{
	struct mime_tree *t = NULL;
	assert_int_equal(mime_parse((const unsigned char *)m, len, &t), 0);
	assert_non_null(t);
	assert_int_equal(t->msg_size, len);
	return t;
}

static void check_part(const struct mime_tree *t, const char *m, uint32_t i, uint32_t parent, uint32_t next,
		       uint32_t kids, unsigned depth, unsigned flags, const char *hdr, const char *body, uint64_t lines)
{
	const struct mime_part *p = &t->parts[i];
	print_message("part %u\n", i);
	assert_int_equal(p->parent, parent);
	assert_int_equal(p->next, next);
	assert_int_equal(p->n_children, kids);
	assert_int_equal(p->depth, depth);
	assert_int_equal(p->flags, flags);
	assert_int_equal(p->body_off, p->hdr_off + p->hdr_len);
	assert_int_equal(p->hdr_len, strlen(hdr));
	assert_memory_equal(m + p->hdr_off, hdr, p->hdr_len);
	assert_int_equal(p->body_len, strlen(body));
	assert_memory_equal(m + p->body_off, body, p->body_len);
	assert_int_equal(p->lines, lines);
}

static void test_single_part(void **state)
{
	static const char m[] = "Subject: a\r\n\r\nbody\r\nmore";
	struct mime_tree *t = parse(m, sizeof(m) - 1);
	assert_int_equal(t->n_parts, 1);
	check_part(t, m, 0, NONE, 1, 0, 0, M_ | TX, "Subject: a\r\n\r\n", "body\r\nmore", 1);
	assert_true(mime_str_is_nil(t->parts[0].type));
	assert_true(mime_str_is_nil(t->parts[0].encoding));
	size_t n;
	const unsigned char *s = mime_tree_str(t, t->parts[0].env.subject, &n);
	assert_non_null(s);
	assert_int_equal(n, 1);
	assert_memory_equal(s, "a", 1);
	assert_null(mime_tree_str(t, t->parts[0].env.date, &n));
	assert_int_equal(n, 0);
	mime_tree_free(&t);
	assert_null(t);
	mime_tree_free(&t); /* NULL is fine */
}

static void test_degenerate_messages(void **state)
{
	struct mime_tree *t = parse("", 0);
	check_part(t, "", 0, NONE, 1, 0, 0, M_ | TX, "", "", 0);
	mime_tree_free(&t);

	static const char nohdr_end[] = "Subject: a\r\nX: y";
	t = parse(nohdr_end, sizeof(nohdr_end) - 1);
	check_part(t, nohdr_end, 0, NONE, 1, 0, 0, M_ | TX, nohdr_end, "", 0);
	mime_tree_free(&t);

	static const char nohdr[] = "\r\nonly body\r\n";
	t = parse(nohdr, sizeof(nohdr) - 1);
	check_part(t, nohdr, 0, NONE, 1, 0, 0, M_ | TX, "\r\n", "only body\r\n", 1);
	mime_tree_free(&t);

	static const char lf[] = "A: b\n\nx\ny\n";
	t = parse(lf, sizeof(lf) - 1);
	check_part(t, lf, 0, NONE, 1, 0, 0, M_ | TX, "A: b\n\n", "x\ny\n", 2);
	mime_tree_free(&t);

	/* a lone CR is data, not a line end; NULs are data */
	static const char cr[] = "A: b\rC: d\r\n\r\n\0x\0";
	t = parse(cr, sizeof(cr) - 1);
	assert_int_equal(t->parts[0].hdr_len, 13);
	assert_int_equal(t->parts[0].body_off, 13);
	assert_int_equal(t->parts[0].body_len, 3);
	assert_int_equal(t->parts[0].lines, 0);
	mime_tree_free(&t);

	/* NULL message pointer with length 0 */
	assert_int_equal(mime_parse(NULL, 0, &t), 0);
	assert_int_equal(t->msg_size, 0);
	mime_tree_free(&t);
}

static void test_nested_tree(void **state)
{
	const char *m = nested;
	struct mime_tree *t = parse(m, sizeof(nested) - 1);
	assert_int_equal(t->n_parts, 6);
	check_part(t, m, 0, NONE, 6, 2, 0, M_ | MP,
		   "From: a@b\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n",
		   strstr(m, "preamble"), 24);
	check_part(t, m, 1, 0, 2, 0, 1, TX, "Content-Type: text/plain; charset=utf-8\r\n\r\n", "body one", 0);
	check_part(t, m, 2, 0, 6, 1, 1, RF, "Content-Type: message/rfc822\r\nContent-Description: fwd\r\n\r\n",
		   "From: inner@x\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n"
		   "--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\ninner epilogue",
		   12);
	check_part(t, m, 3, 2, 6, 2, 2, M_ | MP,
		   "From: inner@x\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n",
		   "--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\ninner epilogue", 8);
	check_part(t, m, 4, 3, 5, 0, 3, TX, "\r\n", "plain", 0);
	check_part(t, m, 5, 3, 6, 0, 3, TX, "Content-Type: text/html\r\n\r\n", "<p>x</p>", 0);
	mime_tree_free(&t);
}

/* Where the line ends around boundaries go (RFC 2046: the CRLF before a
 * boundary belongs to it), checked against Dovecot. */
static void test_boundary_line_ends(void **state)
{
	/* a header ended by a boundary, a header whose empty line is taken by
	 * the boundary that follows it */
	static const char a[] = "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
				"--o\r\n--o\r\nX: y\r\n--o\r\nZ: z\r\n\r\n--o--";
	struct mime_tree *t = parse(a, sizeof(a) - 1);
	assert_int_equal(t->n_parts, 4);
	check_part(t, a, 1, 0, 2, 0, 1, TX, "", "", 0);
	check_part(t, a, 2, 0, 3, 0, 1, TX, "X: y", "", 0);
	check_part(t, a, 3, 0, 4, 0, 1, TX, "Z: z\r\n", "", 0);
	mime_tree_free(&t);

	/* a boundary line owns its own line end: "--p--\r\n" stays inside */
	static const char b[] = "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
				"Content-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\n\r\nx\r\n--p--\r\n--o--";
	t = parse(b, sizeof(b) - 1);
	assert_int_equal(t->n_parts, 3);
	check_part(t, b, 1, 0, 3, 1, 1, MP, "Content-Type: multipart/mixed; boundary=p\r\n\r\n",
		   "--p\r\n\r\nx\r\n--p--\r\n", 4);
	check_part(t, b, 2, 1, 3, 0, 2, TX, "\r\n", "x", 0);
	mime_tree_free(&t);

	/* missing close delimiters: parts run to the end of their parent */
	static const char c[] = "Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
				"Content-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\nA\r\n--i\r\n\r\nB\r\n"
				"--o\r\n\r\nC\r\n";
	t = parse(c, sizeof(c) - 1);
	assert_int_equal(t->n_parts, 5);
	check_part(t, c, 1, 0, 4, 2, 1, MP, "Content-Type: multipart/alternative; boundary=i\r\n\r\n",
		   "--i\r\n\r\nA\r\n--i\r\n\r\nB", 5);
	check_part(t, c, 3, 1, 4, 0, 2, TX, "\r\n", "B", 0);
	check_part(t, c, 4, 0, 5, 0, 1, TX, "\r\n", "C\r\n", 1);
	mime_tree_free(&t);

	/* prefix match, junk after the boundary and after "--", epilogue */
	static const char d[] = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x \t\r\n\r\nA\r\n"
				"--xyz\r\n\r\nB\r\n--x--junk\r\n--x\r\nepilogue\r\n";
	t = parse(d, sizeof(d) - 1);
	assert_int_equal(t->n_parts, 3);
	check_part(t, d, 1, 0, 2, 0, 1, TX, "\r\n", "A", 0);
	check_part(t, d, 2, 0, 3, 0, 1, TX, "\r\n", "B", 0);
	assert_int_equal(t->parts[0].body_off + t->parts[0].body_len, sizeof(d) - 1);
	mime_tree_free(&t);

	/* the innermost boundary wins; an outer one ends the inner parts */
	static const char e[] = "Content-Type: multipart/mixed; boundary=ab\r\n\r\n--ab\r\n"
				"Content-Type: multipart/mixed; boundary=abc\r\n\r\n--abc\r\n\r\ninner\r\n--ab\r\n\r\nouter\r\n--ab--\r\n";
	t = parse(e, sizeof(e) - 1);
	assert_int_equal(t->n_parts, 4);
	check_part(t, e, 2, 1, 3, 0, 2, TX, "\r\n", "inner", 0);
	check_part(t, e, 3, 0, 4, 0, 1, TX, "\r\n", "outer", 0);
	mime_tree_free(&t);

	/* bare LF everywhere */
	static const char f[] = "Content-Type: multipart/mixed; boundary=x\n\n--x\nA: b\n\nl1\nl2\n--x--\n";
	t = parse(f, sizeof(f) - 1);
	check_part(t, f, 1, 0, 2, 0, 1, TX, "A: b\n\n", "l1\nl2", 1);
	mime_tree_free(&t);
}

static void test_malformed_multiparts(void **state)
{
	/* no boundary parameter, boundary never found: no children */
	static const char a[] = "Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n";
	struct mime_tree *t = parse(a, sizeof(a) - 1);
	assert_int_equal(t->n_parts, 1);
	assert_int_equal(t->parts[0].flags, M_ | MP);
	mime_tree_free(&t);
	static const char b[] = "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n";
	t = parse(b, sizeof(b) - 1);
	assert_int_equal(t->n_parts, 1);
	mime_tree_free(&t);

	/* multipart header cut by the end of the message */
	static const char c[] = "Content-Type: multipart/mixed; boundary=x\r\nSubject: s";
	t = parse(c, sizeof(c) - 1);
	check_part(t, c, 0, NONE, 1, 0, 0, M_ | MP, c, "", 0);
	mime_tree_free(&t);

	/* message/rfc822 without body: an empty embedded message */
	static const char d[] = "Content-Type: message/rfc822\r\nSubject: s";
	t = parse(d, sizeof(d) - 1);
	assert_int_equal(t->n_parts, 2);
	check_part(t, d, 1, 0, 2, 0, 1, M_ | TX, "", "", 0);
	assert_int_equal(t->parts[1].hdr_off, sizeof(d) - 1);
	mime_tree_free(&t);

	/* digest parts default to message/rfc822 */
	static const char e[] = "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s1\r\n\r\nb1\r\n"
				"--d\r\nContent-Type: text/plain\r\n\r\nb2\r\n--d--\r\n";
	t = parse(e, sizeof(e) - 1);
	assert_int_equal(t->n_parts, 4);
	check_part(t, e, 1, 0, 3, 1, 1, RF, "\r\n", "Subject: s1\r\n\r\nb1", 2);
	check_part(t, e, 2, 1, 3, 0, 2, M_ | TX, "Subject: s1\r\n\r\n", "b1", 0);
	check_part(t, e, 3, 0, 4, 0, 1, TX, "Content-Type: text/plain\r\n\r\n", "b2", 0);
	mime_tree_free(&t);
}

static void test_limits(void **state)
{
	struct buf m = {0};
	/* depth */
	for (int i = 0; i < 300; i++)
		assert_int_equal(buf_printf(&m, "Content-Type: multipart/mixed; boundary=q%03d\r\n\r\n--q%03d\r\n", i, i), 0);
	struct mime_tree *t = parse((const char *)m.data, m.len);
	assert_int_equal(t->n_parts, MIME_MAX_DEPTH + 1);
	for (uint32_t i = 0; i <= MIME_MAX_DEPTH; i++)
		assert_int_equal(t->parts[i].depth, i);
	/* the deepest part's body is everything after its header */
	const struct mime_part *last = &t->parts[MIME_MAX_DEPTH];
	assert_int_equal(last->body_off + last->body_len, m.len);
	mime_tree_free(&t);

	/* parts: later boundaries still end the previous part */
	buf_reset(&m);
	assert_int_equal(buf_append_str(&m, "Content-Type: multipart/mixed; boundary=x\r\n\r\n"), 0);
	for (int i = 0; i < MIME_MAX_PARTS + 5; i++)
		assert_int_equal(buf_printf(&m, "--x\r\n\r\n%d\r\n", i), 0);
	assert_int_equal(buf_append_str(&m, "--x--\r\n"), 0);
	t = parse((const char *)m.data, m.len);
	assert_int_equal(t->n_parts, MIME_MAX_PARTS);
	last = &t->parts[MIME_MAX_PARTS - 1];
	assert_int_equal(last->body_len, 4);
	assert_memory_equal(m.data + last->body_off, "9998", 4);
	mime_tree_free(&t);

	/* header lines: fields after MIME_HEADER_MAX_LINES are not read */
	for (int extra = -1; extra <= 0; extra++) {
		buf_reset(&m);
		for (int i = 0; i < MIME_HEADER_MAX_LINES + extra; i++)
			assert_int_equal(buf_append_str(&m, "X-Filler: y\r\n"), 0);
		assert_int_equal(buf_append_str(&m, "Content-Type: image/png\r\n\r\nbody"), 0);
		t = parse((const char *)m.data, m.len);
		assert_int_equal(t->parts[0].hdr_len, m.len - 4);
		assert_int_equal(mime_str_is_nil(t->parts[0].type), extra == 0);
		mime_tree_free(&t);
	}
	buf_free(&m);
}

/* ---- serialised form ---------------------------------------------------- */

/* Layout of version 1 (see mime-parse.c): header, part records, strs, pool. */
#define HDR 28
#define REC 224
#define F_PARENT 0
#define F_NEXT 4
#define F_KIDS 8
#define F_DEPTH 12
#define F_FLAGS 14
#define F_HDR_OFF 16
#define F_BODY_OFF 32
#define F_BODY_LEN 40
#define F_LINES 48
#define F_TYPE 56
#define F_ID 72
#define F_PARAMS 152

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void assert_same_tree(const struct mime_tree *a, const struct mime_tree *b)
{
	assert_int_equal(a->msg_size, b->msg_size);
	assert_int_equal(a->n_parts, b->n_parts);
	assert_memory_equal(a->parts, b->parts, a->n_parts * sizeof(*a->parts));
	assert_int_equal(a->st.n_strs, b->st.n_strs);
	if (a->st.n_strs > 0)
		assert_memory_equal(a->st.strs, b->st.strs, a->st.n_strs * sizeof(*a->st.strs));
	assert_int_equal(a->st.pool.len, b->st.pool.len);
	assert_memory_equal(a->st.pool.data, b->st.pool.data, a->st.pool.len);
}

static void test_serialize_roundtrip(void **state)
{
	static const char *const msgs[] = {
		"",
		"Subject: x\r\n\r\ny",
		nested,
		"Content-Type: text/plain; charset=utf-8; name*0=a; name*1=b\r\nContent-Language: en, de\r\n"
		"Content-Disposition: attachment; filename=x\r\nMIME-Version: 1.0\r\n\r\nz",
	};
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct mime_tree *t = parse(msgs[i], strlen(msgs[i])), *t2 = NULL;
		struct buf s1 = {0}, s2 = {0};
		assert_int_equal(buf_append_str(&s1, "prefix"), 0); /* serialize appends */
		assert_int_equal(mime_tree_serialize(t, &s1), 0);
		assert_int_equal(s1.len, 6 + HDR + t->n_parts * REC + t->st.n_strs * 8 + t->st.pool.len);
		assert_memory_equal(s1.data + 6, "MIMT\1\0\0\0", 8);
		assert_int_equal(mime_tree_deserialize(s1.data + 6, s1.len - 6, &t2), 0);
		assert_same_tree(t, t2);
		assert_int_equal(mime_tree_serialize(t2, &s2), 0);
		assert_int_equal(s2.len, s1.len - 6);
		assert_memory_equal(s2.data, s1.data + 6, s2.len);
		buf_free(&s1);
		buf_free(&s2);
		mime_tree_free(&t);
		mime_tree_free(&t2);
	}
}

/* Deserialises a copy of ser changed by fn; expects refusal. */
static void expect_refused(const struct buf *ser, void (*fn)(unsigned char *p), const char *what)
{
	unsigned char *p = malloc(ser->len);
	assert_non_null(p);
	memcpy(p, ser->data, ser->len);
	fn(p);
	struct mime_tree *t = (struct mime_tree *)1;
	print_message("refuse: %s\n", what);
	assert_int_equal(mime_tree_deserialize(p, ser->len, &t), -1);
	assert_null(t);
	free(p);
}

/* nested: 6 parts; part 2 is the rfc822 part, part 3 its message */
static unsigned char *rec(unsigned char *p, int i)
{
	return p + HDR + (size_t)i * REC;
}
static void bad_magic(unsigned char *p)
{
	p[0] = 'X';
}
static void bad_version(unsigned char *p)
{
	p[4] = 2;
}
static void bad_reserved(unsigned char *p)
{
	p[6] = 1;
}
static void bad_count(unsigned char *p)
{
	put32(p + 16, 7);
}
static void zero_parts(unsigned char *p)
{
	put32(p + 16, 0);
}
static void bad_msg_size(unsigned char *p)
{
	put64(p + 8, 5);
}
static void parent_out_of_range(unsigned char *p)
{
	put32(rec(p, 1) + F_PARENT, 9);
}
static void parent_self(unsigned char *p)
{
	put32(rec(p, 1) + F_PARENT, 1);
}
static void parent_wrong(unsigned char *p)
{
	put32(rec(p, 4) + F_PARENT, 2);
}
static void root_has_parent(unsigned char *p)
{
	put32(rec(p, 0) + F_PARENT, 0);
}
static void next_too_far(unsigned char *p)
{
	put32(rec(p, 4) + F_NEXT, 7);
}
static void next_backwards(unsigned char *p)
{
	put32(rec(p, 4) + F_NEXT, 4);
}
static void kids_wrong(unsigned char *p)
{
	put32(rec(p, 3) + F_KIDS, 3);
}
static void depth_wrong(unsigned char *p)
{
	p[HDR + 5 * REC + F_DEPTH] = 2;
}
static void unknown_flag(unsigned char *p)
{
	p[HDR + 1 * REC + F_FLAGS] |= 0x40;
}
static void text_flag_on_multipart(unsigned char *p)
{
	p[HDR + 0 * REC + F_FLAGS] = MIME_PART_MESSAGE | MIME_PART_TEXT;
}
static void message_flag_in_multipart(unsigned char *p)
{
	p[HDR + 1 * REC + F_FLAGS] |= MIME_PART_MESSAGE;
}
static void leaf_with_child(unsigned char *p)
{
	/* part 1 (text) claims part 2 as its child */
	put32(rec(p, 1) + F_NEXT, 6);
	put32(rec(p, 1) + F_KIDS, 1);
	put32(rec(p, 2) + F_PARENT, 1);
}
static void body_outside_parent(unsigned char *p)
{
	put64(rec(p, 4) + F_BODY_LEN, 1000);
}
static void body_off_mismatch(unsigned char *p)
{
	put64(rec(p, 4) + F_BODY_OFF, 317);
}
static void root_not_at_zero(unsigned char *p)
{
	put64(rec(p, 0) + F_HDR_OFF, 1);
}
static void lines_too_many(unsigned char *p)
{
	put64(rec(p, 1) + F_LINES, 9);
}
static void string_outside_pool(unsigned char *p)
{
	put32(rec(p, 1) + F_TYPE, 0xfffffff0u);
}
static void nil_with_length(unsigned char *p)
{
	put32(rec(p, 1) + F_ID + 4, 3);
}
static void list_outside_strs(unsigned char *p)
{
	put32(rec(p, 1) + F_PARAMS + 4, 1000);
}
static void strs_entry_outside_pool(unsigned char *p)
{
	put32(p + HDR + 6 * REC + 4, 0x7fffffffu);
}
static void changed_type_string(unsigned char *p)
{
	/* the pool's first string is part 0's type "multipart": make it "xultipart" */
	unsigned char *pool = p + HDR + 6 * REC;
	uint32_t ns = (uint32_t)p[20] | (uint32_t)p[21] << 8;
	pool += (size_t)ns * 8;
	pool[0] = 'x';
}

static void test_deserialize_refuses(void **state)
{
	struct mime_tree *t = parse(nested, sizeof(nested) - 1), *t2 = NULL;
	struct buf ser = {0};
	assert_int_equal(mime_tree_serialize(t, &ser), 0);
	assert_int_equal(t->n_parts, 6);
	assert_int_equal(t->parts[0].type.off, 0); /* changed_type_string relies on it */

	/* every truncation, and one byte too many */
	for (size_t n = 0; n < ser.len; n++) {
		t2 = (struct mime_tree *)1;
		assert_int_equal(mime_tree_deserialize(ser.data, n, &t2), -1);
		assert_null(t2);
	}
	assert_int_equal(buf_append_byte(&ser, 0), 0);
	assert_int_equal(mime_tree_deserialize(ser.data, ser.len, &t2), -1);
	ser.len--;
	assert_int_equal(mime_tree_deserialize(ser.data, ser.len, &t2), 0);
	mime_tree_free(&t2);

	static const struct {
		void (*fn)(unsigned char *);
		const char *what;
	} bad[] = {
		{bad_magic, "magic"},
		{bad_version, "version"},
		{bad_reserved, "reserved"},
		{bad_count, "part count"},
		{zero_parts, "no parts"},
		{bad_msg_size, "message size"},
		{parent_out_of_range, "parent out of range"},
		{parent_self, "parent self"},
		{parent_wrong, "parent not the enclosing part"},
		{root_has_parent, "root with parent"},
		{next_too_far, "subtree past its parent"},
		{next_backwards, "subtree end before the part"},
		{kids_wrong, "child count"},
		{depth_wrong, "depth"},
		{unknown_flag, "unknown flag"},
		{text_flag_on_multipart, "flags against type"},
		{message_flag_in_multipart, "message flag outside rfc822"},
		{leaf_with_child, "leaf with a child"},
		{body_outside_parent, "range outside parent"},
		{body_off_mismatch, "body not after header"},
		{root_not_at_zero, "root not at 0"},
		{lines_too_many, "more lines than bytes"},
		{string_outside_pool, "string outside pool"},
		{nil_with_length, "NIL with length"},
		{list_outside_strs, "list outside strs"},
		{strs_entry_outside_pool, "list member outside pool"},
		{changed_type_string, "type no longer multipart"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(&ser, bad[i].fn, bad[i].what);
	buf_free(&ser);
	mime_tree_free(&t);
}

/* ---- sections --------------------------------------------------------------- */

static void test_section_parse(void **state)
{
	static const char *const ok[][2] = {
		{"", ""},
		{"1", "1"},
		{"1.2.3", "1.2.3"},
		{"4294967295", "4294967295"},
		{"header", "HEADER"},
		{"Text", "TEXT"},
		{"1.mime", "1.MIME"},
		{"2.HEADER", "2.HEADER"},
		{"2.1.TEXT", "2.1.TEXT"},
		{"HEADER.FIELDS (From to)", "HEADER.FIELDS (FROM TO)"},
		{"header.fields.not (x-a)", "HEADER.FIELDS.NOT (X-A)"},
		{"1.HEADER.FIELDS (\"Sub ject\" \"a\\\"b\" c)", "1.HEADER.FIELDS (\"SUB JECT\" \"A\\\"B\" C)"},
		{"HEADER.FIELDS (\"x-b\")", "HEADER.FIELDS (\"X-B\")"},
		{"HEADER.FIELDS  ( a  b )", "HEADER.FIELDS (A B)"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct mime_section sec;
		struct buf o = {0};
		print_message("ok: %s\n", ok[i][0]);
		assert_int_equal(mime_section_parse(ok[i][0], strlen(ok[i][0]), &sec), 0);
		assert_int_equal(mime_section_write(&o, &sec), 0);
		assert_string_equal(o.data != NULL ? (const char *)o.data : "", ok[i][1]);
		buf_free(&o);
		mime_section_clear(&sec);
	}
	struct mime_section sec;
	assert_int_equal(mime_section_parse("1.HEADER.FIELDS (A \"b c\")", 25, &sec), 0);
	assert_int_equal(sec.path_len, 1);
	assert_int_equal(sec.path[0], 1);
	assert_int_equal(sec.text, MIME_SECTION_HEADER_FIELDS);
	assert_int_equal(sec.n_fields, 2);
	assert_string_equal(sec.fields[0], "A");
	assert_string_equal(sec.fields[1], "b c");
	assert_false(sec.quoted[0]);
	assert_true(sec.quoted[1]);
	mime_section_clear(&sec);
	assert_null(sec.fields);

	static const char *const bad[] = {
		"0",	      "01",	   "1.",	 "1..2",	"1.0",	       "4294967296", "MIME",
		"HEADERX",    "1.FOO",	   "TEXT ",	 " 1",		"HEADER.FIELDS", "HEADER.FIELDS ()",
		"HEADER.FIELDS (A", "HEADER.FIELDS (A) x", "HEADER.FIELDS A", "HEADER.FIELDS (\"A)", "HEADER.FIELDS ({1}\r\nA)",
		"HEADER.FIELDS (\"a\"\"b\")", "1MIME", "1.2.MIME.", "HEADER.FIELDS.NOT(A)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad: %s\n", bad[i]);
		assert_int_equal(mime_section_parse(bad[i], strlen(bad[i]), &sec), -1);
		assert_null(sec.path);
		assert_null(sec.fields);
	}
	/* NUL inside the spec is not a terminator */
	assert_int_equal(mime_section_parse("1\0", 2, &sec), -1);
	/* a path deeper than any tree can be is refused */
	struct buf deep = {0};
	for (int i = 0; i < MIME_SECTION_MAX_PATH + 1; i++)
		assert_int_equal(buf_append_str(&deep, i > 0 ? ".1" : "1"), 0);
	assert_int_equal(mime_section_parse((const char *)deep.data, deep.len, &sec), -1);
	buf_free(&deep);
}

/* Finds spec in the tree of m and compares what BODY[spec] returns. */
static void check_fetch(const struct mime_tree *t, const char *m, const char *spec, int found, const char *want)
{
	struct mime_section sec;
	uint64_t off, len;
	struct buf o = {0};
	print_message("BODY[%s]\n", spec);
	assert_int_equal(mime_section_find(t, spec, strlen(spec), &sec, &off, &len), found);
	assert_int_equal(mime_section_fetch(&o, (const unsigned char *)m, t->msg_size, t, &sec), 0);
	assert_int_equal(o.len, strlen(want));
	assert_memory_equal(o.data != NULL ? o.data : (const unsigned char *)"", want, o.len);
	if (sec.text != MIME_SECTION_HEADER_FIELDS && sec.text != MIME_SECTION_HEADER_FIELDS_NOT) {
		assert_int_equal(len, o.len);
		assert_memory_equal(m + off, want, len);
	}
	buf_free(&o);
	mime_section_clear(&sec);
}

static void test_sections_nested(void **state)
{
	const char *m = nested;
	struct mime_tree *t = parse(m, sizeof(nested) - 1);
	const char *inner_hdr = "From: inner@x\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n";
	const char *inner_text =
		"--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\ninner epilogue";
	char whole_inner[512];
	snprintf(whole_inner, sizeof(whole_inner), "%s%s", inner_hdr, inner_text);

	check_fetch(t, m, "", 1, m);
	check_fetch(t, m, "HEADER", 1,
		    "From: a@b\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
		    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n");
	check_fetch(t, m, "TEXT", 1, strstr(m, "preamble"));
	check_fetch(t, m, "1", 1, "body one");
	check_fetch(t, m, "1.MIME", 1, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	check_fetch(t, m, "2", 1, whole_inner);
	check_fetch(t, m, "2.MIME", 1, "Content-Type: message/rfc822\r\nContent-Description: fwd\r\n\r\n");
	check_fetch(t, m, "2.HEADER", 1, inner_hdr);
	check_fetch(t, m, "2.TEXT", 1, inner_text);
	check_fetch(t, m, "2.1", 1, "plain");
	check_fetch(t, m, "2.2", 1, "<p>x</p>");
	check_fetch(t, m, "2.1.MIME", 1, "\r\n");
	check_fetch(t, m, "2.2.MIME", 1, "Content-Type: text/html\r\n\r\n");
	check_fetch(t, m, "2.1.1", 1, "plain"); /* a single part is its own part 1 */
	check_fetch(t, m, "2.HEADER.FIELDS (SUBJECT from)", 1, "From: inner@x\r\nSubject: inner\r\n\r\n");
	check_fetch(t, m, "2.HEADER.FIELDS.NOT (Content-Type)", 1, "From: inner@x\r\nSubject: inner\r\n\r\n");
	check_fetch(t, m, "HEADER.FIELDS (X-None)", 1, "\r\n");
	/* nonexistent parts answer "" (RFC 3501; Dovecot does the same) */
	check_fetch(t, m, "3", 0, "");
	check_fetch(t, m, "2.3", 0, "");
	check_fetch(t, m, "1.HEADER", 0, "");
	check_fetch(t, m, "1.TEXT", 0, "");
	check_fetch(t, m, "2.1.TEXT", 0, "");
	check_fetch(t, m, "2.1.1.1", 0, "");
	check_fetch(t, m, "1.2", 0, "");
	check_fetch(t, m, "9.MIME", 0, "");
	check_fetch(t, m, "3.HEADER.FIELDS (From)", 0, "");
	mime_tree_free(&t);
}

static void test_sections_single_and_rfc822(void **state)
{
	static const char s[] = "Subject: s\r\n\r\nbody\r\n";
	struct mime_tree *t = parse(s, sizeof(s) - 1);
	check_fetch(t, s, "1", 1, "body\r\n");
	check_fetch(t, s, "1.MIME", 1, "Subject: s\r\n\r\n");
	check_fetch(t, s, "2", 0, "");
	check_fetch(t, s, "1.1", 0, "");
	check_fetch(t, s, "1.HEADER", 0, "");
	mime_tree_free(&t);

	static const char r[] = "Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n";
	t = parse(r, sizeof(r) - 1);
	check_fetch(t, r, "1", 1, "Subject: in\r\n\r\nbody\r\n");
	check_fetch(t, r, "1.1", 1, "body\r\n");
	check_fetch(t, r, "HEADER", 1, "Content-Type: message/rfc822\r\n\r\n");
	check_fetch(t, r, "1.HEADER", 1, "Subject: in\r\n\r\n");
	check_fetch(t, r, "1.TEXT", 1, "body\r\n");
	check_fetch(t, r, "1.MIME", 1, "Content-Type: message/rfc822\r\n\r\n");
	check_fetch(t, r, "1.1.MIME", 1, "Subject: in\r\n\r\n");
	mime_tree_free(&t);

	/* no body, no empty line: HEADER.FIELDS adds the empty line,
	 * HEADER.FIELDS.NOT does not (as Dovecot) */
	static const char h[] = "Subject: no body\r\nX: y";
	t = parse(h, sizeof(h) - 1);
	check_fetch(t, h, "HEADER", 1, h);
	check_fetch(t, h, "TEXT", 1, "");
	check_fetch(t, h, "HEADER.FIELDS (X)", 1, "X: y\r\n\r\n");
	check_fetch(t, h, "HEADER.FIELDS.NOT (X)", 1, "Subject: no body\r\n");
	mime_tree_free(&t);
}

/* A tree that claims more bytes than the message has: fetch clamps. */
static void test_fetch_clamps(void **state)
{
	static const char m[] = "Subject: s\r\n\r\nbody";
	struct mime_tree *t = parse(m, sizeof(m) - 1);
	struct mime_section sec;
	struct buf o = {0};
	assert_int_equal(mime_section_parse("TEXT", 4, &sec), 0);
	assert_int_equal(mime_section_fetch(&o, (const unsigned char *)m, 16, t, &sec), 0);
	assert_int_equal(o.len, 2);
	assert_memory_equal(o.data, "bo", 2);
	buf_reset(&o);
	assert_int_equal(mime_section_fetch(&o, (const unsigned char *)m, 3, t, &sec), 0);
	assert_int_equal(o.len, 0);
	buf_free(&o);
	mime_section_clear(&sec);
	mime_tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_degenerate_messages),
		cmocka_unit_test(test_nested_tree),
		cmocka_unit_test(test_boundary_line_ends),
		cmocka_unit_test(test_malformed_multiparts),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_serialize_roundtrip),
		cmocka_unit_test(test_deserialize_refuses),
		cmocka_unit_test(test_section_parse),
		cmocka_unit_test(test_sections_nested),
		cmocka_unit_test(test_sections_single_and_rfc822),
		cmocka_unit_test(test_fetch_clamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
