/*
 * libFuzzer harness for common/imap-parser.
 *
 *   clang -std=gnu17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. -Icommon \
 *     tests/fuzz/fuzz-imap-parser.c common/imap-parser.c common/buf.c -o /tmp/fuzz-imap-parser
 *   /tmp/fuzz-imap-parser -max_len=4096
 *
 * The first two input bytes choose the limits (small ones reach every error
 * path) and how the rest is cut into pieces; the rest is the client's byte
 * stream. Besides memory errors (ASan) it checks the parser's promises and
 * traps when one is broken:
 *  - consumed_r never exceeds the input; NEED_MORE consumes everything;
 *  - every returned string is NUL-terminated and lists hold list_count
 *    members; the argument count never exceeds max_args;
 *  - feeding the same stream whole gives the same events as feeding it in
 *    pieces;
 *  - afterwards, unless inside literal data or after a fatal error, line
 *    ends followed by "Z9 NOOP\r\n" yield the command Z9 NOOP.
 * Streaming (stream_min, chosen by the first byte too): an offered literal
 * gets a decision that depends only on its stream position (stream,
 * stream and abandon after some bytes, buffer, refuse, or none at all);
 * streamed pieces must be contiguous, start at 0 and end with `last`
 * exactly at the literal's size (unless abandoned). Piece events depend on
 * how the input was cut, so they stay out of the event hash.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "imap-parser.h"

#define CHECK(cond)                          \
	do {                                 \
		if (!(cond))                 \
			__builtin_trap();    \
	} while (0)

/* Walks an argument tree without recursion depth beyond max_depth. */
static unsigned walk(const struct imap_arg *args, unsigned n, unsigned depth, unsigned max_depth)
{
	unsigned count = 0;
	CHECK(depth <= max_depth + 1);
	for (unsigned i = 0; i < n; i++) {
		const struct imap_arg *a = &args[i];
		count++;
		if (a->type == IMAP_ARG_LIST) {
			CHECK(a->str == NULL);
			CHECK((a->list == NULL) == (a->list_count == 0));
			count += walk(a->list, a->list_count, depth + 1, max_depth);
		} else {
			CHECK(a->str != NULL);
			CHECK(a->str[a->len] == '\0');
			if (a->type != IMAP_ARG_LITERAL)
				CHECK(memchr(a->str, '\0', a->len) == NULL);
		}
	}
	return count;
}

/* The streamed literal being followed by run(). */
struct stream_state {
	uint64_t size, got, abandon_at; /* abandon_at 0: never */
	bool active;
};

/* The decision on an offered literal at stream position pos. */
static void decide(struct imap_parser *p, struct stream_state *ss, size_t pos)
{
	const struct imap_literal_info *li = imap_parser_literal(p);
	CHECK(li->size > 0);
	switch (pos % 5) {
	case 0:
	case 1:
		CHECK(imap_parser_literal_stream(p) == 0);
		*ss = (struct stream_state){.size = li->size, .active = true,
					    .abandon_at = pos % 5 == 1 ? 1 + pos % li->size : 0};
		break;
	case 2:
		if (imap_parser_literal_buffer(p) < 0)
			imap_parser_skip_command(p);
		break;
	case 3:
		imap_parser_skip_command(p);
		break;
	default:
		break; /* no decision: the next feed refuses it */
	}
}

/* Runs data through p in pieces of at most piece bytes (0: whole) and
 * returns a hash of the event sequence (kind and stream position). */
static uint64_t run(struct imap_parser *p, const struct imap_parser_limits *lim, const uint8_t *data, size_t len,
		    size_t piece, struct stream_state *ssp)
{
	uint64_t h = 1469598103934665603ull;
	struct stream_state ss = *ssp;
	size_t avail = 0, off = 0;
	while (avail < len) {
		avail = piece == 0 || len - avail < piece ? len : avail + piece;
		while (off <= avail) {
			size_t used = SIZE_MAX;
			const struct imap_command *cmd = NULL;
			enum imap_parse_status st = imap_parser_feed(p, data + off, avail - off, &used, &cmd);
			CHECK(used <= avail - off);
			off += used;
			if (st == IMAP_PARSE_NEED_MORE) {
				CHECK(off == avail);
				CHECK(cmd == NULL);
				break;
			}
			if (st == IMAP_PARSE_LITERAL_DATA) {
				const struct imap_literal_chunk *ch = imap_parser_literal_chunk(p);
				CHECK(ss.active && ch->offset == ss.got && ch->len <= ss.size - ss.got);
				CHECK(ch->data == data + off - used && ch->len == used);
				ss.got += ch->len;
				CHECK(ch->last == (ss.got == ss.size));
				if (ss.abandon_at != 0 && ss.got >= ss.abandon_at) {
					imap_parser_skip_command(p);
					ss.active = false;
				} else if (ch->last) {
					ss.active = false;
				}
				continue;
			}
			if (st == IMAP_PARSE_LITERAL) {
				CHECK(cmd != NULL && cmd->nargs > 0);
				CHECK(walk(cmd->args, cmd->nargs, 0, lim->max_depth) <= lim->max_args);
				decide(p, &ss, off);
			} else if (st == IMAP_PARSE_COMMAND) {
				CHECK(cmd != NULL && cmd->tag != NULL && cmd->name != NULL);
				CHECK(cmd->tag[0] != '\0' && cmd->name[0] != '\0');
				CHECK(walk(cmd->args, cmd->nargs, 0, lim->max_depth) <= lim->max_args);
			} else {
				CHECK(cmd == NULL);
			}
			if (st == IMAP_PARSE_ERROR) {
				const struct imap_parse_error *e = imap_parser_error(p);
				CHECK(e->message != NULL);
				if (e->tag != NULL)
					CHECK(strlen(e->tag) <= lim->max_line);
			}
			h = (h ^ ((uint64_t)st << 40 ^ off)) * 1099511628211ull;
		}
	}
	*ssp = ss;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct imap_parser_limits lim;
	if (data[0] & 1)
		lim = (struct imap_parser_limits){.max_line = 16 + (data[0] >> 1) % 64,
						  .max_literal = 1 + (data[0] >> 3) % 32,
						  .max_command = 64 + data[0] % 64,
						  .max_depth = 1 + (data[0] >> 4) % 4,
						  .max_args = 1 + (data[0] >> 2) % 16,
						  .stream_min = (data[0] >> 5) % 4 * 3};
	else
		lim = (struct imap_parser_limits){.max_line = 65536,
						  .max_literal = 1 << 20,
						  .max_command = (1 << 20) + 65536,
						  .max_depth = 32,
						  .max_args = 10000,
						  .stream_min = data[0] & 2 ? 8 : 0};
	size_t piece = 1 + data[1] % 17;
	data += 2;
	size -= 2;

	struct imap_parser *whole = imap_parser_new(&lim);
	struct imap_parser *cut = imap_parser_new(&lim);
	if (whole == NULL || cut == NULL) {
		imap_parser_free(&whole);
		imap_parser_free(&cut);
		return 0;
	}
	struct stream_state ss_whole = {0}, ss_cut = {0};
	CHECK(run(whole, &lim, data, size, 0, &ss_whole) == run(cut, &lim, data, size, piece, &ss_cut));

	/* End the line; a second line end also ends a command that was still
	 * open after an empty literal ("{0}\r\n" leaves the command line open). */
	(void)run(cut, &lim, (const uint8_t *)"\r\n", 2, 0, &ss_cut);
	if (!imap_parser_in_literal(cut) && !imap_parser_failed(cut)) {
		(void)run(cut, &lim, (const uint8_t *)"\r\n", 2, 0, &ss_cut);
		CHECK(!imap_parser_in_literal(cut) && !imap_parser_failed(cut));
		static const uint8_t noop[] = "Z9 NOOP\r\n";
		size_t used;
		const struct imap_command *cmd;
		enum imap_parse_status st = imap_parser_feed(cut, noop, sizeof(noop) - 1, &used, &cmd);
		CHECK(st == IMAP_PARSE_COMMAND && used == sizeof(noop) - 1);
		CHECK(strcmp(cmd->tag, "Z9") == 0 && strcmp(cmd->name, "NOOP") == 0 && cmd->nargs == 0);
	}
	imap_parser_free(&whole);
	imap_parser_free(&cut);
	return 0;
}
