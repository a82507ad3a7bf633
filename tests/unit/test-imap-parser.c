/* Unit tests for common/imap-parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "imap-parser.h"

/* ---- helpers -------------------------------------------------------------- */

/* Streaming decisions of the transcript driver: one letter per offered
 * literal (s stream, b buffer, r refuse; default s), and a streamed
 * literal abandoned once this many bytes came (0 = never). */
static const char *policy;
static size_t policy_i;
static size_t policy_abandon;
static size_t policy_abandon_at;
static struct buf streamed;

static const char *code_name(enum imap_parse_error_code c)
{
	switch (c) {
	case IMAP_PARSE_ERR_SYNTAX: return "SYNTAX";
	case IMAP_PARSE_ERR_LINE_TOO_LONG: return "LINE_TOO_LONG";
	case IMAP_PARSE_ERR_LITERAL_TOO_BIG: return "LITERAL_TOO_BIG";
	case IMAP_PARSE_ERR_TOO_DEEP: return "TOO_DEEP";
	case IMAP_PARSE_ERR_TOO_MANY_ARGS: return "TOO_MANY_ARGS";
	case IMAP_PARSE_ERR_COMMAND_TOO_BIG: return "COMMAND_TOO_BIG";
	case IMAP_PARSE_ERR_NOMEM: return "NOMEM";
	}
	return "?";
}

static void put_bytes(struct buf *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '|')
			buf_printf(o, "\\x%02x", c);
		else
			buf_append_byte(o, c);
	}
}

static void put_arg(struct buf *o, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
		put_bytes(o, a->str, a->len);
		break;
	case IMAP_ARG_NIL:
		buf_append_str(o, "NIL");
		break;
	case IMAP_ARG_QUOTED:
		buf_append_byte(o, '"');
		put_bytes(o, a->str, a->len);
		buf_append_byte(o, '"');
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(o, "%s{%zu}", a->literal8 ? "~" : "", a->len);
		put_bytes(o, a->str, a->len);
		break;
	case IMAP_ARG_LIST:
		buf_append_byte(o, '(');
		for (unsigned i = 0; i < a->list_count; i++) {
			if (i > 0)
				buf_append_byte(o, ' ');
			put_arg(o, &a->list[i]);
		}
		buf_append_byte(o, ')');
		break;
	}
	/* every string is NUL-terminated */
	if (a->type == IMAP_ARG_LITERAL && a->streamed)
		buf_printf(o, "<streamed %zu>", a->streamed_len);
	if (a->type != IMAP_ARG_LIST)
		assert_int_equal(a->str[a->len], '\0');
	else
		assert_null(a->str);
}

static void put_event(struct buf *o, struct imap_parser *p, enum imap_parse_status st,
		      const struct imap_command *cmd, size_t pos)
{
	switch (st) {
	case IMAP_PARSE_NEED_MORE:
		fail_msg("NEED_MORE is no event");
		break;
	case IMAP_PARSE_CONTINUATION:
		buf_printf(o, "+@%zu|", pos);
		break;
	case IMAP_PARSE_COMMAND:
		assert_non_null(cmd);
		buf_printf(o, "C@%zu %s %s", pos, cmd->tag, cmd->name);
		for (unsigned i = 0; i < cmd->nargs; i++) {
			buf_append_byte(o, ' ');
			put_arg(o, &cmd->args[i]);
		}
		buf_append_byte(o, '|');
		break;
	case IMAP_PARSE_LITERAL: {
		/* The offer, then the decision the test's policy takes. */
		const struct imap_literal_info *li = imap_parser_literal(p);
		assert_non_null(cmd);
		buf_printf(o, "L@%zu %s %s", pos, cmd->tag, cmd->name);
		for (unsigned i = 0; i < cmd->nargs; i++) {
			buf_append_byte(o, ' ');
			put_arg(o, &cmd->args[i]);
		}
		buf_printf(o, " size=%llu%s%s depth=%u", (unsigned long long)li->size, li->sync ? " sync" : "",
			   li->literal8 ? " lit8" : "", li->depth);
		char d = policy != NULL && policy[policy_i] != '\0' ? policy[policy_i++] : 's';
		if (d == 's') {
			assert_int_equal(imap_parser_literal_stream(p), 0);
			buf_reset(&streamed);
			buf_append_str(o, " stream|");
		} else if (d == 'b') {
			int r = imap_parser_literal_buffer(p);
			buf_append_str(o, r == 0 ? " buffer|" : " buffer-refused|");
			if (r < 0)
				imap_parser_skip_command(p);
		} else {
			imap_parser_skip_command(p);
			buf_append_str(o, " refuse|");
		}
		break;
	}
	case IMAP_PARSE_LITERAL_DATA: {
		/* Pieces depend on how the input was cut: show the whole literal. */
		const struct imap_literal_chunk *ch = imap_parser_literal_chunk(p);
		assert_int_equal(ch->offset, streamed.len);
		buf_append(&streamed, ch->data, ch->len);
		if (policy_abandon > 0 && streamed.len >= policy_abandon) {
			policy_abandon = 0;
			imap_parser_skip_command(p);
			buf_append_str(o, "X|"); /* where depends on how the input was cut */
		} else if (ch->last) {
			buf_printf(o, "D@%zu ", pos);
			put_bytes(o, (const char *)streamed.data, streamed.len);
			buf_append_byte(o, '|');
		}
		break;
	}
	case IMAP_PARSE_ERROR: {
		const struct imap_parse_error *e = imap_parser_error(p);
		buf_printf(o, "E@%zu %s %s%s|", pos, code_name(e->code), e->tag ? e->tag : "-",
			   e->fatal ? " FATAL" : "");
		break;
	}
	}
}

/* Feeds input to p, delivering it in chunks: chunk == 0 means all at once,
 * chunk > 0 fixed-size pieces, chunk < 0 random sizes 1..-chunk from seed.
 * Like the front-end, unconsumed bytes stay pending and are fed again with
 * the next piece. Appends one line per event to out (positions absolute). */
static void drive(struct imap_parser *p, const unsigned char *in, size_t len, long chunk, uint32_t seed,
		  struct buf *out)
{
	size_t avail = 0, off = 0;
	uint32_t rnd = seed | 1;
	while (avail < len || off < avail) {
		if (avail < len) {
			size_t n;
			if (chunk == 0) {
				n = len - avail;
			} else if (chunk > 0) {
				n = (size_t)chunk;
			} else {
				rnd ^= rnd << 13;
				rnd ^= rnd >> 17;
				rnd ^= rnd << 5;
				n = 1 + rnd % (uint32_t)(-chunk);
			}
			if (n > len - avail)
				n = len - avail;
			avail += n;
		}
		for (;;) {
			size_t used = 12345;
			const struct imap_command *cmd = (const void *)1;
			enum imap_parse_status st = imap_parser_feed(p, in + off, avail - off, &used, &cmd);
			assert_true(used <= avail - off);
			off += used;
			if (st == IMAP_PARSE_NEED_MORE) {
				assert_int_equal(off, avail);
				assert_null(cmd);
				break;
			}
			if (st != IMAP_PARSE_COMMAND && st != IMAP_PARSE_LITERAL)
				assert_null(cmd);
			put_event(out, p, st, cmd, off);
		}
		if (avail == len)
			break;
	}
}

static char *transcript(const struct imap_parser_limits *lim, const void *in, size_t len, long chunk,
			uint32_t seed)
{
	struct imap_parser *p = imap_parser_new(lim);
	assert_non_null(p);
	struct buf out = {0};
	buf_append_str(&out, "");
	policy_i = 0;
	policy_abandon = policy_abandon_at;
	buf_reset(&streamed);
	drive(p, in, len, chunk, seed, &out);
	imap_parser_free(&p);
	assert_null(p);
	return (char *)buf_steal(&out, NULL);
}

/* Checks the transcript, identical for whole, byte-wise and random feeding. */
static void check_lim(const struct imap_parser_limits *lim, const void *in, size_t len, const char *expect)
{
	char *t = transcript(lim, in, len, 0, 0);
	if (strcmp(t, expect) != 0)
		fail_msg("transcript\n  got    %s\n  expect %s", t, expect);
	free(t);
	t = transcript(lim, in, len, 1, 0);
	if (strcmp(t, expect) != 0)
		fail_msg("byte-wise transcript\n  got    %s\n  expect %s", t, expect);
	free(t);
	for (uint32_t seed = 1; seed < 20; seed++) {
		t = transcript(lim, in, len, -7, seed);
		if (strcmp(t, expect) != 0)
			fail_msg("chunked (seed %u) transcript\n  got    %s\n  expect %s", seed, t, expect);
		free(t);
	}
}

static void check(const char *in, const char *expect)
{
	check_lim(NULL, in, strlen(in), expect);
}

/* Parses exactly one command from s (fed whole) and returns it. */
static const struct imap_command *one(struct imap_parser *p, const char *s)
{
	size_t used;
	const struct imap_command *cmd;
	enum imap_parse_status st = imap_parser_feed(p, (const unsigned char *)s, strlen(s), &used, &cmd);
	assert_int_equal(st, IMAP_PARSE_COMMAND);
	assert_int_equal(used, strlen(s));
	return cmd;
}

/* ---- well-formed commands -------------------------------------------------- */

static void test_simple(void **state)
{
	check("A1 NOOP\r\n", "C@9 A1 NOOP|");
	check("a1 noop\r\n", "C@9 a1 NOOP|");
	check("A2 CAPABILITY\n", "C@14 A2 CAPABILITY|");
	check("\r\n\n\r\nA3 NOOP\r\n", "C@14 A3 NOOP|");
	check("A4 LOGIN \"user\" \"pa\\\"ss\\\\w\"\r\n", "C@29 A4 LOGIN \"user\" \"pa\"ss\\w\"|");
	check("A5 LIST \"\" *\r\n", "C@14 A5 LIST \"\" *|");
	check("A6 LIST \"\" %\r\n", "C@14 A6 LIST \"\" %|");
	check("x.1 select INBOX\r\n", "C@18 x.1 SELECT INBOX|");
	check("A7 SELECT Default/tel:+4917012345@x,y\r\n", "C@39 A7 SELECT Default/tel:+4917012345@x,y|");
	check("A8 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\Deleted $Label)\r\n",
	      "C@54 A8 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\Deleted $Label)|");
	/* tolerated: several spaces, trailing space, spaces inside lists */
	check("A9 X  a   b \r\n", "C@14 A9 X a b|");
	check("A9 X ( a  b )\r\n", "C@15 A9 X (a b)|");
	/* 8-bit bytes in atoms and quoted strings */
	check("A1 X caf\xc3\xa9 \"\xc3\xa9t\xc3\xa9\"\r\n",
	      "C@20 A1 X caf\\xc3\\xa9 \"\\xc3\\xa9t\\xc3\\xa9\"|");
	/* tags: ASTRING-CHARs except '+' */
	check("a]b NOOP\r\n", "C@10 a]b NOOP|");
	/* '{' inside an atom is no literal */
	check("A1 X a{1}\r\n", "C@11 A1 X a{1}|");
}

static void test_uid_and_fetch_atoms(void **state)
{
	check("A5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n",
	      "C@68 A5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)|");
	check("A6 FETCH 1 BODY[]\r\n", "C@19 A6 FETCH 1 BODY[]|");
	check("A6 FETCH 1 (BODY.PEEK[] BINARY[1.2]<0.5> BODY[1.MIME])\r\n",
	      "C@56 A6 FETCH 1 (BODY.PEEK[] BINARY[1.2]<0.5> BODY[1.MIME])|");
	check("A6 FETCH 1 BODY[HEADER.FIELDS.NOT (\"X\" Y)]\r\n", "C@44 A6 FETCH 1 BODY[HEADER.FIELDS.NOT (\"X\" Y)]|");
	/* nested brackets are matched */
	check("A6 X a[b[c d]e f]g h\r\n", "C@22 A6 X a[b[c d]e f]g h|");

	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_command *c =
		one(p, "A5 uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n");
	assert_string_equal(c->tag, "A5");
	assert_string_equal(c->name, "UID");
	assert_int_equal(c->nargs, 3);
	assert_int_equal(c->args[0].type, IMAP_ARG_ATOM);
	assert_string_equal(c->args[0].str, "fetch");
	assert_int_equal(c->args[1].type, IMAP_ARG_ATOM);
	assert_string_equal(c->args[1].str, "1:*");
	assert_int_equal(c->args[2].type, IMAP_ARG_LIST);
	assert_int_equal(c->args[2].list_count, 2);
	assert_int_equal(c->args[2].list[1].type, IMAP_ARG_ATOM);
	assert_string_equal(c->args[2].list[1].str, "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>");
	assert_int_equal(c->args[2].list[1].len, 41);
	imap_parser_free(&p);
}

static void test_nil_and_types(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_command *c = one(p, "A8 X NIL nil \"NIL\" (NIL) NILS ~x ~\r\n");
	assert_int_equal(c->nargs, 7);
	assert_int_equal(c->args[0].type, IMAP_ARG_NIL);
	assert_int_equal(c->args[1].type, IMAP_ARG_NIL);
	assert_string_equal(c->args[1].str, "nil");
	assert_int_equal(c->args[2].type, IMAP_ARG_QUOTED);
	assert_string_equal(c->args[2].str, "NIL");
	assert_int_equal(c->args[3].type, IMAP_ARG_LIST);
	assert_int_equal(c->args[3].list[0].type, IMAP_ARG_NIL);
	assert_int_equal(c->args[4].type, IMAP_ARG_ATOM);
	assert_int_equal(c->args[5].type, IMAP_ARG_ATOM);
	assert_string_equal(c->args[5].str, "~x");
	assert_int_equal(c->args[6].type, IMAP_ARG_ATOM);
	assert_string_equal(c->args[6].str, "~");
	assert_false(c->args[6].literal8);

	c = one(p, "A9 NOOP\r\n");
	assert_string_equal(c->name, "NOOP");
	assert_int_equal(c->nargs, 0);
	assert_null(c->args);
	imap_parser_free(&p);
}

static void test_nested_lists(void **state)
{
	check("A9 X (a (b (c)) ()) d\r\n", "C@23 A9 X (a (b (c)) ()) d|");
	check("A9 X ((((((((x))))))))\r\n", "C@24 A9 X ((((((((x))))))))|");
	check("A9 X (\"a\")(b)\r\n", "E@11 SYNTAX A9|");

	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_command *c = one(p, "A9 X (a (b (c)) ()) d\r\n");
	assert_int_equal(c->nargs, 2);
	const struct imap_arg *l = &c->args[0];
	assert_int_equal(l->type, IMAP_ARG_LIST);
	assert_int_equal(l->list_count, 3);
	assert_string_equal(l->list[0].str, "a");
	assert_int_equal(l->list[1].type, IMAP_ARG_LIST);
	assert_int_equal(l->list[1].list_count, 2);
	assert_string_equal(l->list[1].list[0].str, "b");
	assert_int_equal(l->list[1].list[1].list_count, 1);
	assert_string_equal(l->list[1].list[1].list[0].str, "c");
	assert_int_equal(l->list[2].type, IMAP_ARG_LIST);
	assert_int_equal(l->list[2].list_count, 0);
	assert_null(l->list[2].list);
	assert_string_equal(c->args[1].str, "d");
	imap_parser_free(&p);
}

static void test_pipelined(void **state)
{
	const char *in = "A1 NOOP\r\nA2 SELECT INBOX\r\nA3 LOGOUT\r\n";
	check(in, "C@9 A1 NOOP|C@26 A2 SELECT INBOX|C@37 A3 LOGOUT|");

	/* the caller sees consumed_r stop right after each command */
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_command *c;
	const unsigned char *d = (const unsigned char *)in;
	assert_int_equal(imap_parser_feed(p, d, strlen(in), &used, &c), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 9);
	assert_string_equal(c->tag, "A1");
	assert_int_equal(imap_parser_feed(p, d + 9, strlen(in) - 9, &used, &c), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 17);
	assert_string_equal(c->name, "SELECT");
	assert_int_equal(imap_parser_feed(p, d + 26, strlen(in) - 26, &used, &c), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 11);
	assert_int_equal(imap_parser_feed(p, d + 37, 0, &used, &c), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, 0);
	assert_null(c);
	imap_parser_free(&p);
}

static void test_command_outlives_input(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	const char *s = "T1 LOGIN {3}\r\nbob \"secret\" (x)\r\n";
	size_t n = strlen(s), used, off = 0;
	unsigned char *in = malloc(n);
	memcpy(in, s, n);
	const struct imap_command *c;
	assert_int_equal(imap_parser_feed(p, in, n, &used, &c), IMAP_PARSE_CONTINUATION);
	off += used;
	assert_int_equal(imap_parser_feed(p, in + off, n - off, &used, &c), IMAP_PARSE_COMMAND);
	memset(in, 'Z', n);
	free(in);
	assert_string_equal(c->tag, "T1");
	assert_string_equal(c->name, "LOGIN");
	assert_int_equal(c->nargs, 3);
	assert_string_equal(c->args[0].str, "bob");
	assert_string_equal(c->args[1].str, "secret");
	assert_string_equal(c->args[2].list[0].str, "x");
	imap_parser_free(&p);
}

/* ---- literals ---------------------------------------------------------------- */

static void test_literals(void **state)
{
	/* synchronising: one continuation per literal, right after its header */
	check("A1 LOGIN {4}\r\nuser {4}\r\npass\r\n", "+@14|+@24|C@30 A1 LOGIN {4}user {4}pass|");
	/* bare LF after the header */
	check("A1 LOGIN {4}\nuser x\r\n", "+@13|C@21 A1 LOGIN {4}user x|");
	/* non-synchronising: no continuation */
	check("A1 APPEND INBOX {5+}\r\nhello\r\n", "C@29 A1 APPEND INBOX {5}hello|");
	check("A1 APPEND INBOX (\\Seen) {5+}\r\nhello {2+}\r\nab\r\n",
	      "C@46 A1 APPEND INBOX (\\Seen) {5}hello {2}ab|");
	/* literal8, sync and not, binary bytes including NUL, CR, LF, '"' */
	check_lim(NULL, "A1 APPEND INBOX ~{6}\r\n\0\r\n\xff\"x\r\n", 30,
		  "+@22|C@30 A1 APPEND INBOX ~{6}\\x00\\x0d\\x0a\\xff\"x|");
	check_lim(NULL, "A1 APPEND INBOX ~{3+}\r\n\0\0\n\r\n", 28,
		  "C@28 A1 APPEND INBOX ~{3}\\x00\\x00\\x0a|");
	/* a literal that looks like commands is data */
	check("A1 X {9}\r\nA2 NOOP\r\n\r\n", "+@10|C@21 A1 X {9}A2 NOOP\\x0d\\x0a|");
	/* empty literals */
	check("A1 X {0}\r\n\r\n", "+@10|C@12 A1 X {0}|");
	check("A1 X {0+}\r\n {0}\r\n\r\n", "+@17|C@19 A1 X {0} {0}|");
	check("A1 X ~{0}\r\n\r\n", "+@11|C@13 A1 X ~{0}|");
	/* in lists, followed by more arguments */
	check("A1 X ({2}\r\nab c) d\r\n", "+@11|C@20 A1 X ({2}ab c) d|");
	/* leading zeros are digits */
	check("A1 X {003}\r\nabc\r\n", "+@12|C@17 A1 X {3}abc|");

	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_command *c;
	const char *s = "A1 APPEND INBOX ~{6}\r\n\0\r\n\xff\"x\r\n";
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s, 30, &used, &c), IMAP_PARSE_CONTINUATION);
	assert_true(imap_parser_in_literal(p));
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s + 22, 8, &used, &c), IMAP_PARSE_COMMAND);
	assert_false(imap_parser_in_literal(p));
	const struct imap_arg *m = &c->args[1];
	assert_int_equal(m->type, IMAP_ARG_LITERAL);
	assert_true(m->literal8);
	assert_int_equal(m->len, 6);
	assert_memory_equal(m->str, "\0\r\n\xff\"x", 7);
	imap_parser_free(&p);
}

static void test_continuation_once(void **state)
{
	/* byte-wise feeding of three sync literals gives exactly three '+' */
	const char *s = "A1 X {1}\r\na ~{2}\r\nbc ({3}\r\ndef)\r\nA2 X {1+}\r\nz\r\n";
	char *t = transcript(NULL, s, strlen(s), 1, 0);
	size_t plus = 0;
	for (const char *q = t; (q = strstr(q, "+@")) != NULL; q++)
		plus++;
	assert_int_equal(plus, 3);
	assert_string_equal(t, "+@10|+@18|+@27|C@33 A1 X {1}a ~{2}bc ({3}def)|C@47 A2 X {1}z|");
	free(t);
}

static void test_big_literal_streaming(void **state)
{
	/* 1 MiB literal fed in small random chunks: linear, exact bytes */
	const size_t n = 1 << 20;
	struct buf in = {0};
	buf_printf(&in, "A1 APPEND INBOX {%zu+}\r\n", n);
	size_t head = in.len;
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&in, (unsigned char)(i * 7 + 3));
	buf_append_str(&in, "\r\nA2 NOOP\r\n");

	struct imap_parser *p = imap_parser_new(NULL);
	size_t off = 0, used, commands = 0;
	uint32_t r = 99;
	while (off < in.len) {
		r = r * 1103515245 + 12345;
		size_t chunk = 1 + (r >> 16) % 4000;
		if (chunk > in.len - off)
			chunk = in.len - off;
		size_t end = off + chunk;
		while (off < end) {
			const struct imap_command *c;
			enum imap_parse_status st = imap_parser_feed(p, in.data + off, end - off, &used, &c);
			off += used;
			if (st == IMAP_PARSE_NEED_MORE)
				break;
			assert_int_equal(st, IMAP_PARSE_COMMAND);
			if (commands++ == 0) {
				assert_int_equal(c->args[1].len, n);
				assert_memory_equal(c->args[1].str, in.data + head, n);
				assert_true(imap_parser_memory(p) >= n);
			} else {
				assert_string_equal(c->tag, "A2");
			}
		}
	}
	assert_int_equal(commands, 2);
	/* the literal's memory is released once the next command is fed */
	assert_int_equal(imap_parser_feed(p, NULL, 0, &used, NULL), IMAP_PARSE_NEED_MORE);
	assert_true(imap_parser_memory(p) < 65536);
	imap_parser_free(&p);
	buf_free(&in);
}

/* ---- errors -------------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
	/* each error is reported with its tag, the line is skipped, the next works */
	check("A1 X a)\r\nA2 NOOP\r\n", "E@7 SYNTAX A1|C@18 A2 NOOP|");
	check("A1 X )\r\nA2 NOOP\r\n", "E@6 SYNTAX A1|C@17 A2 NOOP|");
	check("A1 X (a\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@18 A2 NOOP|");
	check("A1 X \"a\"b\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@20 A2 NOOP|");
	check("A1 X (a)b\r\n", "E@9 SYNTAX A1|");
	check("A1 X \"ab\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@19 A2 NOOP|");
	check("A1 X \"a\\b\"\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@21 A2 NOOP|");
	check_lim(NULL, "A1 X a\0b\r\nA2 NOOP\r\n", 19, "E@7 SYNTAX A1|C@19 A2 NOOP|");
	check_lim(NULL, "A1 X \"a\0\"\r\nA2 NOOP\r\n", 20, "E@8 SYNTAX A1|C@20 A2 NOOP|");
	check_lim(NULL, "A1\0 NOOP\r\nA2 NOOP\r\n", 19, "E@3 SYNTAX -|C@19 A2 NOOP|");
	check("A1 X a(b\r\n", "E@7 SYNTAX A1|");
	check("A1 X a\x01\r\n", "E@7 SYNTAX A1|");
	check("A1 X a[b\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@19 A2 NOOP|");
	/* missing command name: tagged */
	check("A1\r\nA2 NOOP\r\n", "E@3 SYNTAX A1|C@13 A2 NOOP|");
	check("A1 \r\nA2 NOOP\r\n", "E@4 SYNTAX A1|C@14 A2 NOOP|");
	check("A1  NOOP\r\nA2 NOOP\r\n", "E@4 SYNTAX A1|C@19 A2 NOOP|");
	check("A1 NO\"OP\r\n", "E@6 SYNTAX A1|");
	/* bad tags: untagged */
	check("+ NOOP\r\nA2 NOOP\r\n", "E@1 SYNTAX -|C@17 A2 NOOP|");
	check("* NOOP\r\n", "E@1 SYNTAX -|");
	check(" A1 NOOP\r\nA2 NOOP\r\n", "E@1 SYNTAX -|C@19 A2 NOOP|");
	check("A+1 NOOP\r\n", "E@2 SYNTAX -|");
	/* CR not followed by LF: the rest of that line is discarded */
	check("A1 NOOP\rA2 NOOP\r\nA3 NOOP\r\n", "E@9 SYNTAX A1|C@26 A3 NOOP|");
	check("\rA1 NOOP\r\nA2 NOOP\r\n", "E@2 SYNTAX -|C@19 A2 NOOP|");
	/* bad literal headers */
	check("A1 X {12x}\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@21 A2 NOOP|");
	check("A1 X {}\r\nA2 NOOP\r\n", "E@7 SYNTAX A1|C@18 A2 NOOP|");
	check("A1 X {+}\r\n", "E@7 SYNTAX A1|");
	check("A1 X {-1}\r\n", "E@7 SYNTAX A1|");
	check("A1 X {1++}\r\n", "E@9 SYNTAX A1|");
	check("A1 X {3}x\r\n", "E@9 SYNTAX A1|");
	check("A1 X {3}\rx\r\nA2 NOOP\r\n", "E@10 SYNTAX A1|C@21 A2 NOOP|");
	check("A1 X ~{x}\r\n", "E@8 SYNTAX A1|");

	/* messages are human text */
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_command *c;
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)"T7 X )\r\n", 8, &used, &c), IMAP_PARSE_ERROR);
	const struct imap_parse_error *e = imap_parser_error(p);
	assert_string_equal(e->tag, "T7");
	assert_int_equal(e->code, IMAP_PARSE_ERR_SYNTAX);
	assert_false(e->fatal);
	assert_string_equal(e->message, "Unexpected ')'");
	assert_false(imap_parser_failed(p));
	imap_parser_free(&p);
}

static void test_literal_too_big(void **state)
{
	/* 100 GB synchronising literal with default limits: refused before '+' */
	check("A1 APPEND INBOX {107374182400}\r\nA2 NOOP\r\n", "E@30 LITERAL_TOO_BIG A1|C@41 A2 NOOP|");
	/* more digits than a uint64 holds */
	check("A1 X {999999999999999999999999999999}\r\nA2 NOOP\r\n", "E@37 LITERAL_TOO_BIG A1|C@48 A2 NOOP|");
	check("A1 X ~{18446744073709551616}\r\nA2 NOOP\r\n", "E@28 LITERAL_TOO_BIG A1|C@39 A2 NOOP|");

	struct imap_parser_limits lim = {.max_literal = 10, .max_command = 100};
	check_lim(&lim, "A1 X {10}\r\n0123456789\r\n", 23, "+@11|C@23 A1 X {10}0123456789|");
	check_lim(&lim, "A1 X {11}\r\nA2 NOOP\r\n", 20, "E@9 LITERAL_TOO_BIG A1|C@20 A2 NOOP|");

	/* a non-synchronising literal over the limit is fatal; input is swallowed */
	check_lim(&lim, "A1 X {11+}\r\n01234567890\r\nA2 NOOP\r\n", 34, "E@10 LITERAL_TOO_BIG A1 FATAL|");
	check("A1 APPEND INBOX {107374182400+}\r\n", "E@31 LITERAL_TOO_BIG A1 FATAL|");

	struct imap_parser *p = imap_parser_new(&lim);
	size_t used;
	const struct imap_command *c;
	const char *s = "A1 X {11+}\r\n";
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s, strlen(s), &used, &c), IMAP_PARSE_ERROR);
	const struct imap_parse_error *e = imap_parser_error(p);
	assert_true(e->fatal);
	assert_int_equal(e->code, IMAP_PARSE_ERR_LITERAL_TOO_BIG);
	assert_string_equal(e->tag, "A1");
	assert_non_null(e->message);
	assert_true(imap_parser_failed(p));
	s = "A2 NOOP\r\n";
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s, strlen(s), &used, &c), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, strlen(s));
	/* reset recovers */
	imap_parser_reset(p);
	assert_false(imap_parser_failed(p));
	c = one(p, "A3 NOOP\r\n");
	assert_string_equal(c->tag, "A3");
	imap_parser_free(&p);
}

static void test_command_too_big(void **state)
{
	struct imap_parser_limits lim = {.max_literal = 100, .max_command = 150};
	char in[512];
	int n = snprintf(in, sizeof(in), "A1 X {100}\r\n%0100d {100}\r\nA2 NOOP\r\n", 0);
	check_lim(&lim, in, (size_t)n, "+@12|E@118 COMMAND_TOO_BIG A1|C@129 A2 NOOP|");
	n = snprintf(in, sizeof(in), "A1 X {100+}\r\n%0100d {100+}\r\n", 0);
	check_lim(&lim, in, (size_t)n, "E@120 COMMAND_TOO_BIG A1 FATAL|");
	/* non-literal text over max_command (when smaller than max_line) */
	struct imap_parser_limits small = {.max_command = 10};
	check_lim(&small, "A1 X abcdefgh\r\nA2 NOOP\r\n", 24, "E@11 COMMAND_TOO_BIG A1|C@24 A2 NOOP|");
}

static void test_line_too_long(void **state)
{
	struct imap_parser_limits lim = {.max_line = 32};
	/* exactly 32 bytes is fine (line end included) */
	check_lim(&lim, "A1 X 0123456789012345678901234\r\n", 32, "C@32 A1 X 0123456789012345678901234|");
	/* the error comes at byte 33, before the line end */
	check_lim(&lim, "A1 X 01234567890123456789012345678901234567890123456789\r\nA2 NOOP\r\n", 66,
		  "E@33 LINE_TOO_LONG A1|C@66 A2 NOOP|");
	/* literal bytes do not count; the headers and text around them do */
	check_lim(&lim, "A1 X {40+}\r\n0123456789012345678901234567890123456789 abc\r\n", 58,
		  "C@58 A1 X {40}0123456789012345678901234567890123456789 abc|");
	check_lim(&lim, "A1 X {1+}\r\na {1+}\r\nb {1+}\r\nc {1+}\r\nd\r\nA2 NOOP\r\n", 47,
		  "E@37 LINE_TOO_LONG A1|C@47 A2 NOOP|");
	/* the tag itself too long: untagged */
	check_lim(&lim, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA NOOP\r\nA2 NOOP\r\n", 56,
		  "E@33 LINE_TOO_LONG -|C@56 A2 NOOP|");
	/* a quoted string is bounded the same way */
	check_lim(&lim, "A1 X \"0123456789012345678901234567890\"\r\nA2 NOOP\r\n", 49,
		  "E@33 LINE_TOO_LONG A1|C@49 A2 NOOP|");
	/* a long bracket part too */
	check_lim(&lim, "A1 FETCH 1 BODY[HEADER.FIELDS (A B C D E F G)]\r\nA2 NOOP\r\n", 57,
		  "E@33 LINE_TOO_LONG A1|C@57 A2 NOOP|");
	/* a non-synchronising literal on the skipped line is skipped too */
	check_lim(&lim, "A1 X 0123456789012345678901234567890 {9+}\r\nA9 NOOP\r\n\r\nA2 NOOP\r\n", 63,
		  "E@33 LINE_TOO_LONG A1|C@63 A2 NOOP|");
}

static void test_ten_megabyte_line(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL); /* max_line 65536 */
	size_t used, errors = 0, max_mem = 0;
	const struct imap_command *c;
	unsigned char chunk[65536];
	memset(chunk, 'x', sizeof(chunk));
	memcpy(chunk, "L1 APPEND ", 10);
	const size_t total = 10u << 20;
	for (size_t sent = 0; sent < total; sent += sizeof(chunk)) {
		size_t off = 0;
		while (off < sizeof(chunk)) {
			enum imap_parse_status st = imap_parser_feed(p, chunk + off, sizeof(chunk) - off, &used, &c);
			off += used;
			if (imap_parser_memory(p) > max_mem)
				max_mem = imap_parser_memory(p);
			if (st == IMAP_PARSE_NEED_MORE)
				break;
			assert_int_equal(st, IMAP_PARSE_ERROR);
			const struct imap_parse_error *e = imap_parser_error(p);
			assert_int_equal(e->code, IMAP_PARSE_ERR_LINE_TOO_LONG);
			assert_string_equal(e->tag, "L1");
			assert_false(e->fatal);
			errors++;
		}
		memset(chunk, 'x', 10);
	}
	assert_int_equal(errors, 1);
	/* O(max_line): text buffer (at most 2 x 64 KiB) plus small arrays */
	assert_true(max_mem <= 3 * 65536);
	c = one(p, "\r\nL2 NOOP\r\n");
	assert_string_equal(c->tag, "L2");
	assert_string_equal(c->name, "NOOP");
	imap_parser_free(&p);
}

static void test_too_deep(void **state)
{
	struct imap_parser_limits lim = {.max_depth = 3};
	check_lim(&lim, "A1 X (((a)))\r\n", 14, "C@14 A1 X (((a)))|");
	check_lim(&lim, "A1 X ((((a))))\r\nA2 NOOP\r\n", 25, "E@9 TOO_DEEP A1|C@25 A2 NOOP|");
	check_lim(&lim, "A1 X (a) (b (c (d (e))))\r\n", 26, "E@19 TOO_DEEP A1|");
	/* brackets in atoms are no lists */
	check_lim(&lim, "A1 X a[((((((b))))))]\r\n", 23, "C@23 A1 X a[((((((b))))))]|");
	/* default depth 32 */
	char in[200];
	int n = snprintf(in, sizeof(in), "A1 X %.33s%.33s\r\nA2 NOOP\r\n",
			 "((((((((((((((((((((((((((((((((((((((((", "))))))))))))))))))))))))))))))))))))))))");
	check_lim(NULL, in, (size_t)n, "E@38 TOO_DEEP A1|C@82 A2 NOOP|");
}

static void test_too_many_args(void **state)
{
	struct imap_parser_limits lim = {.max_args = 5};
	check_lim(&lim, "A1 X a b c d e\r\n", 16, "C@16 A1 X a b c d e|");
	check_lim(&lim, "A1 X a b c d e f\r\nA2 NOOP\r\n", 27, "E@16 TOO_MANY_ARGS A1|C@27 A2 NOOP|");
	/* lists and their members all count */
	check_lim(&lim, "A1 X (a b) c d\r\n", 16, "C@16 A1 X (a b) c d|");
	check_lim(&lim, "A1 X (a b c) d e\r\n", 18, "E@16 TOO_MANY_ARGS A1|");
	check_lim(&lim, "A1 X a b c d \"e\" \"f\"\r\n", 22, "E@18 TOO_MANY_ARGS A1|");
	check_lim(&lim, "A1 X a b c d e ~f\r\n", 19, "E@17 TOO_MANY_ARGS A1|");
	/* a synchronising literal is refused before the '+' */
	check_lim(&lim, "A1 X a b c d e {3}\r\nA2 NOOP\r\n", 29, "E@18 TOO_MANY_ARGS A1|C@29 A2 NOOP|");
	/* a non-synchronising one is read and dropped: its bytes are no command */
	check_lim(&lim, "A1 X a b c d e {9+}\r\nA9 NOOP\r\n\r\nA2 NOOP\r\n", 41, "E@19 TOO_MANY_ARGS A1|C@41 A2 NOOP|");
	/* ... also when the error is only found after a later, skipped argument */
	check_lim(&lim, "A1 X a b c d e f {3+}\r\nabc\r\nA2 NOOP\r\n", 37, "E@16 TOO_MANY_ARGS A1|C@37 A2 NOOP|");
}

static void test_skipped_literals(void **state)
{
	/* a syntax error, then a {n+} literal on the same line: its bytes are skipped */
	check("A1 X ) {8+}\r\nA9 NOOP\r\nA2 NOOP\r\n", "E@6 SYNTAX A1|C@31 A2 NOOP|");
	/* several on the line, literal8 too */
	check("A1 X ) {1+}\r\n\n ~{2+}\r\n\r\n x\r\nA2 NOOP\r\n", "E@6 SYNTAX A1|C@37 A2 NOOP|");
	/* a synchronising literal on a skipped line is not waited for */
	check("A1 X ) {8}\r\nA2 NOOP\r\n", "E@6 SYNTAX A1|C@21 A2 NOOP|");
	/* an error inside the header, after the '+' */
	check("A1 X {3+x}\r\nA2 NOOP\r\n", "E@9 SYNTAX A1|C@21 A2 NOOP|");
	/* a skipped {n+} over max_literal is fatal: cannot resynchronise */
	struct imap_parser_limits lim = {.max_literal = 10};
	check_lim(&lim, "A1 X ) {11+}\r\n01234567890\r\n", 27, "E@6 SYNTAX A1|E@14 LITERAL_TOO_BIG A1 FATAL|");
}

static void test_reset(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	const struct imap_command *c;
	const char *s = "A1 LOGIN {5}\r\nab";
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s, strlen(s), &used, &c),
			 IMAP_PARSE_CONTINUATION);
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s + used, strlen(s) - used, &used, &c),
			 IMAP_PARSE_NEED_MORE);
	assert_true(imap_parser_in_literal(p));
	imap_parser_reset(p);
	assert_false(imap_parser_in_literal(p));
	c = one(p, "A2 NOOP\r\n");
	assert_string_equal(c->tag, "A2");
	/* reset in the middle of a line and in error-skipping state */
	s = "A3 X (a b";
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s, strlen(s), &used, &c), IMAP_PARSE_NEED_MORE);
	imap_parser_reset(p);
	c = one(p, "A4 NOOP\r\n");
	assert_string_equal(c->tag, "A4");
	s = "A5 X ) more";
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)s, strlen(s), &used, &c), IMAP_PARSE_ERROR);
	imap_parser_reset(p);
	c = one(p, "A6 NOOP\r\n");
	assert_string_equal(c->tag, "A6");
	imap_parser_free(&p);
	imap_parser_free(&p); /* NULL-safe */
}

static void test_no_cmd_r(void **state)
{
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used;
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)"A1 NOOP\r\n", 9, &used, NULL),
			 IMAP_PARSE_COMMAND);
	assert_int_equal(used, 9);
	imap_parser_free(&p);
}

/* ---- fragmentation and hostile input ------------------------------------------ */

static void test_fragmentation_generic(void **state)
{
#define IN(x) {x, sizeof(x) - 1}
	static const struct {
		const char *s;
		size_t len;
	} inputs[] = {
		IN("A1 NOOP\r\nA2 LOGIN {3}\r\nbob {6+}\r\nsecret\r\n"),
		IN("A5 UID FETCH 1:*,7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From To Conversation-ID)]<0.100> "
		   "MODSEQ) (CHANGEDSINCE 12345 VANISHED)\r\n"),
		IN("A6 APPEND Default/tel:+491701234567 (\\Seen $CPM) \"28-Nov-2024 12:00:00 +0000\" ~{10+}\r\n"
		   "a\r\nb\0c\r\n\x80\xff\r\nA7 NOOP\r\n"),
		IN("A8 SETMETADATA INBOX (/private/comment \"x\\\"y\" /shared/z NIL)\r\n"),
		IN("\r\n\r\nA9 X ((a \"b\" {1}\r\nc) NIL nil ~{0}\r\n)\r\nA10 X )\r\nA11 NOOP\n"),
		IN("A1 X a\rb\r\nA2 X {99999999999999999999}\r\nA3 NOOP\r\n"),
		IN("A1 X ) {4+}\r\nA9 X\r\nA2 NOOP\r\n"),
	};
	/* check_lim() compares whole / byte-wise / random chunking; here we also
	 * compare every fixed chunk size from 1 to 16. */
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		const char *in = inputs[i].s;
		size_t len = inputs[i].len;
		char *whole = transcript(NULL, in, len, 0, 0);
		assert_true(strlen(whole) > 0);
		for (long chunk = 1; chunk <= 16; chunk++) {
			char *t = transcript(NULL, in, len, chunk, 0);
			if (strcmp(t, whole) != 0)
				fail_msg("input %zu chunk %ld\n  got    %s\n  expect %s", i, chunk, t, whole);
			free(t);
		}
		check_lim(NULL, in, len, whole);
		free(whole);
	}
}

static uint64_t rng_state;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

/* Random bytes biased towards IMAP syntax. */
static size_t random_input(unsigned char *out, size_t max)
{
	static const char alphabet[] = "A1 NOOP{}+~(){}[]\"\\\r\n 0123456789 %*NIL";
	size_t len = rng() % max;
	for (size_t i = 0; i < len; i++) {
		uint32_t k = rng() % 16;
		if (k == 0)
			out[i] = (unsigned char)rng();
		else
			out[i] = (unsigned char)alphabet[rng() % (sizeof(alphabet) - 1)];
	}
	return len;
}

static void random_run(const struct imap_parser_limits *lim, unsigned iterations, uint64_t seed)
{
	unsigned char in[300];
	unsigned recovered = 0;
	rng_state = seed;
	for (unsigned it = 0; it < iterations; it++) {
		size_t len = random_input(in, sizeof(in));
		/* the same events however the bytes arrive */
		char *whole = transcript(lim, in, len, 0, 0);
		char *bytewise = transcript(lim, in, len, 1, 0);
		char *chunked = transcript(lim, in, len, -11, it);
		if (strcmp(whole, bytewise) != 0 || strcmp(whole, chunked) != 0)
			fail_msg("iteration %u: transcripts differ\n  whole %s\n  bytes %s\n  chunk %s", it, whole,
				 bytewise, chunked);
		free(whole);
		free(bytewise);
		free(chunked);

		/* then a good command must come through once out of any literal */
		struct imap_parser *p = imap_parser_new(lim);
		struct buf ev = {0};
		drive(p, in, len, -5, it, &ev);
		drive(p, (const unsigned char *)"\r\n", 2, 0, 0, &ev);
		if (!imap_parser_in_literal(p) && !imap_parser_failed(p)) {
			/* "{0}\r\n" completes a literal but leaves its command
			 * line open: one more line end closes it. */
			drive(p, (const unsigned char *)"\r\n", 2, 0, 0, &ev);
			assert_false(imap_parser_in_literal(p));
			assert_false(imap_parser_failed(p));
			buf_reset(&ev);
			drive(p, (const unsigned char *)"A1 NOOP\r\n", 9, 0, 0, &ev);
			if (strcmp((char *)ev.data, "C@9 A1 NOOP|") != 0)
				fail_msg("iteration %u: no recovery: %s", it, (char *)ev.data);
			recovered++;
		}
		buf_free(&ev);
		imap_parser_free(&p);
	}
	/* most runs end outside a literal */
	assert_true(recovered > iterations / 2);
}

static void test_random_bytes(void **state)
{
	struct imap_parser_limits small = {
		.max_line = 64, .max_literal = 40, .max_command = 100, .max_depth = 4, .max_args = 12};
	random_run(NULL, 10000, 0x1234567890abcdefull);
	random_run(&small, 10000, 0xfeedfacecafef00dull);
}

static void test_not_quadratic(void **state)
{
	/* a 60 KB command fed one byte per call: each call is O(1) */
	struct buf in = {0};
	buf_append_str(&in, "A1 X (");
	while (in.len < 60000)
		buf_append_str(&in, "abcdefgh ");
	buf_append_str(&in, ")\r\n");
	struct imap_parser *p = imap_parser_new(NULL);
	size_t used, commands = 0;
	const struct imap_command *c;
	for (size_t i = 0; i < in.len; i++) {
		enum imap_parse_status st = imap_parser_feed(p, in.data + i, 1, &used, &c);
		assert_int_equal(used, 1);
		if (st == IMAP_PARSE_COMMAND) {
			commands++;
			assert_int_equal(c->args[0].list_count, (in.len - 9) / 9);
		} else {
			assert_int_equal(st, IMAP_PARSE_NEED_MORE);
		}
	}
	assert_int_equal(commands, 1);
	imap_parser_free(&p);
	buf_free(&in);
}


/* ---- streamed literals (stream_min) ---------------------------------------- */

static void check_stream(const char *pol, size_t abandon, const char *in, size_t len, const char *expect)
{
	struct imap_parser_limits lim = {.stream_min = 10, .max_literal = 1000, .max_command = 60};
	policy = pol;
	policy_abandon_at = abandon;
	check_lim(&lim, in, len, expect);
	policy = NULL;
	policy_abandon_at = 0;
}

#define CS(pol, ab, in, expect) check_stream(pol, ab, in, sizeof(in) - 1, expect)

static void test_stream_literals(void **state)
{
	/* Below stream_min: as before. At or above: offered, then streamed. */
	CS("s", 0, "A1 APPEND box {5}\r\nhello\r\n", "+@19|C@26 A1 APPEND box {5}hello|");
	CS("s", 0, "A1 APPEND box {12}\r\nhello world!\r\n",
	   "L@20 A1 APPEND box {0}<streamed 12> size=12 sync depth=0 stream|D@32 hello world!|"
	   "C@34 A1 APPEND box {0}<streamed 12>|");
	/* LITERAL+, literal8, NULs, args after it, a second offer */
	CS("ss", 0, "A1 APPEND box (\\Seen) ~{12+}\r\nab\0cdefghijk {10}\r\n0123456789 x\r\n",
	   "L@30 A1 APPEND box (\\Seen) ~{0}<streamed 12> size=12 lit8 depth=0 stream|D@42 ab\\x00cdefghijk|"
	   "L@49 A1 APPEND box (\\Seen) ~{0}<streamed 12> {0}<streamed 10> size=10 sync depth=0 stream|"
	   "D@59 0123456789|C@63 A1 APPEND box (\\Seen) ~{0}<streamed 12> {0}<streamed 10> x|");
	/* nested: depth says so */
	CS("b", 0, "A1 X (a {10}\r\n0123456789)\r\n",
	   "L@14 A1 X (a {0}<streamed 10>) size=10 sync depth=1 buffer|C@27 A1 X (a {10}0123456789)|");
	/* buffered, but over max_command: the caller is told */
	CS("b", 0, "A1 APPEND box {50}\r\nA2 NOOP\r\n",
	   "L@20 A1 APPEND box {0}<streamed 50> size=50 sync depth=0 buffer-refused|C@29 A2 NOOP|");
	/* refused: a synchronising literal never comes; a LITERAL+ one and the
	 * rest of its line (with another LITERAL+) are discarded */
	CS("r", 0, "A1 APPEND box {12}\r\nA2 NOOP\r\n",
	   "L@20 A1 APPEND box {0}<streamed 12> size=12 sync depth=0 refuse|C@29 A2 NOOP|");
	CS("r", 0, "A1 APPEND box {12+}\r\nA2 NOOP\r\nxyz {3+}\r\na\nb\r\nA3 NOOP\r\n",
	   "L@21 A1 APPEND box {0}<streamed 12> size=12 depth=0 refuse|C@54 A3 NOOP|");
	/* abandoned in the middle: the rest of the literal and line go */
	CS("s", 4, "A1 APPEND box {12}\r\nA2 NOOP\r\nxy (z) {2+}\r\n\r\n\r\nA3 NOOP\r\n",
	   "L@20 A1 APPEND box {0}<streamed 12> size=12 sync depth=0 stream|X|C@55 A3 NOOP|");
	/* garbage after a streamed literal: a BAD for the command, then on */
	CS("s", 0, "A1 APPEND box {10}\r\n0123456789\x01x\r\nA2 NOOP\r\n",
	   "L@20 A1 APPEND box {0}<streamed 10> size=10 sync depth=0 stream|D@30 0123456789|"
	   "E@31 SYNTAX A1|C@43 A2 NOOP|");
	/* too big is still refused before any offer */
	CS("s", 0, "A1 APPEND box {1001}\r\nA2 NOOP\r\n", "E@20 LITERAL_TOO_BIG A1|C@31 A2 NOOP|");
	/* no decision counts as a refusal (the fuzz harness relies on it) */
	struct imap_parser_limits lim = {.stream_min = 10};
	struct imap_parser *p = imap_parser_new(&lim);
	const char *in = "A1 APPEND box {12+}\r\nhello world!\r\nA2 NOOP\r\n";
	size_t used;
	const struct imap_command *cmd;
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)in, strlen(in), &used, &cmd), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal(p)->size, 12);
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)in + used, strlen(in) - used, &used, &cmd),
			 IMAP_PARSE_COMMAND);
	assert_string_equal(cmd->tag, "A2");
	assert_int_equal(imap_parser_literal_stream(p), -1); /* nothing offered now */
	assert_int_equal(imap_parser_memory(p) < 4096, 1);
	imap_parser_free(&p);
}

/* A streamed literal of 64 MiB costs the parser nothing. */
static void test_stream_memory(void **state)
{
	struct imap_parser_limits lim = {.stream_min = 1 << 20, .max_literal = 64u << 20};
	struct imap_parser *p = imap_parser_new(&lim);
	const char *head = "A1 APPEND INBOX {67108864}\r\n";
	size_t used;
	const struct imap_command *cmd;
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)head, strlen(head), &used, &cmd), IMAP_PARSE_LITERAL);
	assert_int_equal(imap_parser_literal_stream(p), 0);
	static unsigned char block[65536];
	memset(block, 'x', sizeof(block));
	uint64_t got = 0;
	size_t peak = 0;
	for (int i = 0; i < 1024; i++) {
		size_t off = 0;
		while (off < sizeof(block)) {
			enum imap_parse_status st = imap_parser_feed(p, block + off, sizeof(block) - off, &used, &cmd);
			assert_int_equal(st, IMAP_PARSE_LITERAL_DATA);
			const struct imap_literal_chunk *ch = imap_parser_literal_chunk(p);
			assert_int_equal(ch->offset, got);
			got += ch->len;
			off += used;
			if (imap_parser_memory(p) > peak)
				peak = imap_parser_memory(p);
		}
	}
	assert_int_equal(got, 64u << 20);
	assert_true(imap_parser_literal_chunk(p)->last);
	assert_int_equal(imap_parser_feed(p, (const unsigned char *)"\r\n", 2, &used, &cmd), IMAP_PARSE_COMMAND);
	assert_true(cmd->args[1].streamed);
	assert_int_equal(cmd->args[1].streamed_len, 64u << 20);
	assert_true(peak < 16384);
	imap_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_uid_and_fetch_atoms),
		cmocka_unit_test(test_nil_and_types),
		cmocka_unit_test(test_nested_lists),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_command_outlives_input),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_continuation_once),
		cmocka_unit_test(test_big_literal_streaming),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_literal_too_big),
		cmocka_unit_test(test_command_too_big),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_ten_megabyte_line),
		cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_too_many_args),
		cmocka_unit_test(test_skipped_literals),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_no_cmd_r),
		cmocka_unit_test(test_fragmentation_generic),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_not_quadratic),
		cmocka_unit_test(test_stream_literals),
		cmocka_unit_test(test_stream_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
