/*
 * imap-parser: streaming parser for IMAP commands sent by clients
 * (RFC 3501 section 9, with LITERAL+ / RFC 7888 and literal8 / RFC 3516).
 *
 * The parser never touches a socket. The connection hands it whatever bytes
 * it has; the parser consumes them incrementally (each byte is looked at once,
 * state is kept between calls) and reports at most one event per call:
 *
 *   size_t used; const struct imap_command *cmd;
 *   switch (imap_parser_feed(p, data, len, &used, &cmd)) {
 *   case IMAP_PARSE_NEED_MORE:    all of data was used; wait for more input
 *   case IMAP_PARSE_CONTINUATION: send "+ ..." now, then feed data + used
 *   case IMAP_PARSE_COMMAND:      run cmd, then feed data + used
 *   case IMAP_PARSE_LITERAL:      a large literal was announced (stream_min,
 *                                 below): decide, then feed data + used
 *   case IMAP_PARSE_LITERAL_DATA: bytes of a streamed literal: take them
 *                                 (imap_parser_literal_chunk), then feed on
 *   case IMAP_PARSE_ERROR:        e = imap_parser_error(p); send
 *                                 "<tag> BAD <message>" (or "* BAD" without a
 *                                 tag); if e->fatal send "* BYE" and close
 *   }
 *
 * Grammar accepted: "tag SP name [SP args] CRLF" (a bare LF also ends a line;
 * empty lines are ignored without an event). Arguments are atoms, quoted
 * strings, literals {n} / {n+} / ~{n} / ~{n+}, NIL and parenthesised lists.
 * Atoms are tolerant (flags such as \Seen, sequence sets, '*', '%'); a '['
 * inside an atom opens a part running to the matching ']' that may hold
 * spaces and parentheses, so BODY.PEEK[HEADER.FIELDS (From To)]<0.100> is one
 * atom. Several spaces between arguments are accepted.
 *
 * Limits (every input is hostile):
 *  - max_line: bytes of non-literal text of one command, over all its lines
 *    (literal headers and line ends included). Exceeding it gives
 *    LINE_TOO_LONG at once, never buffering more than max_line.
 *  - max_literal: bytes of one literal; max_command: one whole command
 *    including literals. A synchronising literal over a limit is refused
 *    before any "+" (non-fatal: the client will not send it); a
 *    non-synchronising one over a limit is fatal (its bytes are already on
 *    the way and cannot be told apart from commands).
 *  - max_depth: list nesting; max_args: arguments of one command, counted
 *    over all levels (a list and each of its members count).
 * Memory held for one command: at most 2 x max_line of text (a doubling
 * buffer) + O(args), plus each literal in an allocation of exactly its size
 * (all literals together <= max_command), except streamed literals, which
 * are never held.
 *
 * Streaming (stream_min > 0): a literal of at least stream_min bytes (and
 * within max_literal) is offered to the caller once its header line has
 * ended and before any "+" or byte of it: IMAP_PARSE_LITERAL, with *cmd_r
 * the command so far (tag, name, the arguments before the literal, and the
 * literal itself as the last argument, streamed = true, streamed_len = its
 * size; imap_parser_literal() says where it is and whether it is
 * synchronising). Before feeding again the caller calls exactly one of:
 *  - imap_parser_literal_stream: the literal's bytes come back as
 *    IMAP_PARSE_LITERAL_DATA events (offset-addressed pieces pointing into
 *    the data given to feed: copy them before changing that buffer); none
 *    is kept. The command then continues and ends as usual, its streamed
 *    literal an empty string with streamed = true. It costs no memory and
 *    does not count against max_command.
 *  - imap_parser_literal_buffer: it is read like any other literal; -1
 *    (nothing changes) when it would pass max_command.
 *  - imap_parser_skip_command: the command is dropped; a synchronising
 *    literal was never invited, a non-synchronising one (and the rest of
 *    its line) is discarded.
 * In either of the first two cases a synchronising literal needs the
 * caller's own "+" continuation. imap_parser_skip_command also abandons a
 * command in the middle of a streamed (or buffered) literal: the rest of
 * the literal and of its line are discarded. Feeding without a decision
 * counts as imap_parser_skip_command.
 *
 * Error recovery: after a non-fatal error the rest of the line is discarded
 * silently and parsing resumes at the next line. While discarding, a line
 * ending in a non-synchronising literal header {n+} (n within max_literal)
 * has its n literal bytes discarded too, so the connection stays in step; a
 * synchronising literal announced on a discarded line is never answered with
 * "+" (the client sees the BAD instead and drops the command), as in Dovecot.
 * After a fatal error the parser swallows all further input (returning
 * NEED_MORE) until imap_parser_reset().
 *
 * Ownership: the parser owns everything it returns. *cmd_r, its strings and
 * arrays, and the error returned by imap_parser_error() stay valid until the
 * next imap_parser_feed/reset/free on the same parser. Nothing aborts; an
 * allocation failure is reported as a fatal IMAP_PARSE_ERR_NOMEM error.
 */
#ifndef CPM_IMAP_PARSER_H
#define CPM_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults used by imap_parser_new(NULL), and for any limit given as 0. */
#define IMAP_PARSER_DEFAULT_MAX_LINE 65536
#define IMAP_PARSER_DEFAULT_MAX_LITERAL (64u * 1024 * 1024)
#define IMAP_PARSER_DEFAULT_MAX_COMMAND (IMAP_PARSER_DEFAULT_MAX_LITERAL + IMAP_PARSER_DEFAULT_MAX_LINE)
#define IMAP_PARSER_DEFAULT_MAX_DEPTH 32
#define IMAP_PARSER_DEFAULT_MAX_ARGS 10000

struct imap_parser_limits {
	size_t max_line;    /* bytes of non-literal text in one command (all its lines) */
	size_t max_literal; /* bytes of one literal */
	size_t max_command; /* bytes of one whole command including literals */
	unsigned max_depth; /* list nesting */
	unsigned max_args;  /* total args in one command (all levels) */
	size_t stream_min;  /* literals this large are offered (IMAP_PARSE_LITERAL); 0 = never */
};

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8; /* LITERAL only: was ~{n} (RFC 3516 binary) */
	bool streamed; /* LITERAL only: its bytes went to the caller (str "", len 0) */
	size_t streamed_len; /* streamed: the literal's size */
	/* ATOM, QUOTED, LITERAL: the bytes (quoted: unescaped), always followed
	 * by a NUL not counted in len; a literal may itself contain NULs.
	 * NIL: the atom as the client wrote it (e.g. "nil"), len 3.
	 * LIST: NULL, len 0. */
	const char *str;
	size_t len;
	struct imap_arg *list; /* LIST: children (NULL when list_count is 0) */
	unsigned list_count;
};

struct imap_command {
	const char *tag;
	const char *name;      /* upper-cased; "UID" is a name, its sub-command is args[0] */
	struct imap_arg *args; /* top-level args after the name (NULL when nargs is 0) */
	unsigned nargs;
};

enum imap_parse_status {
	IMAP_PARSE_NEED_MORE,    /* all input consumed, no event: feed more */
	IMAP_PARSE_CONTINUATION, /* a synchronising literal within limits was announced:
				    send "+ ..." now, then feed more bytes */
	IMAP_PARSE_COMMAND,      /* a complete command in *cmd_r */
	IMAP_PARSE_ERROR,        /* see imap_parser_error() */
	IMAP_PARSE_LITERAL,      /* a literal is offered: *cmd_r so far, imap_parser_literal() */
	IMAP_PARSE_LITERAL_DATA, /* streamed literal bytes: imap_parser_literal_chunk() */
};

struct imap_literal_info {
	uint64_t size;
	bool sync;     /* {n}: the client waits for "+" */
	bool literal8; /* ~{n} */
	unsigned depth; /* list nesting: 0 = a top-level argument */
};

struct imap_literal_chunk {
	const unsigned char *data; /* into the data given to feed */
	size_t len;
	uint64_t offset; /* of data[0] in the literal */
	bool last;       /* the literal ends with this piece */
};

enum imap_parse_error_code {
	IMAP_PARSE_ERR_SYNTAX,
	IMAP_PARSE_ERR_LINE_TOO_LONG,
	IMAP_PARSE_ERR_LITERAL_TOO_BIG, /* one literal over max_literal */
	IMAP_PARSE_ERR_TOO_DEEP,
	IMAP_PARSE_ERR_TOO_MANY_ARGS,
	IMAP_PARSE_ERR_COMMAND_TOO_BIG, /* literal fits max_literal, but the command
					   would exceed max_command */
	IMAP_PARSE_ERR_NOMEM,           /* out of memory (always fatal) */
};

struct imap_parse_error {
	const char *tag; /* the command's tag, or NULL if none was parsed */
	enum imap_parse_error_code code;
	const char *message; /* human text for "BAD"/"BYE"; may start with a
				response code such as "[TOOBIG]" */
	bool fatal;          /* cannot resynchronise: send "* BYE message" and close */
};

struct imap_parser;

/* limits may be NULL (all defaults); a zero field takes its default.
 * Returns NULL only when out of memory. */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
/* Frees the parser and everything it returned; sets *parser to NULL. NULL-safe. */
void imap_parser_free(struct imap_parser **parser);
/* Drops any partial command and any error state (e.g. after STARTTLS): the
 * next byte fed starts a new command line. */
void imap_parser_reset(struct imap_parser *parser);

/* Consumes a prefix of data[0 .. len), stores its length in *consumed_r and
 * returns the event it ended on (see above). consumed_r must not be NULL;
 * cmd_r may be NULL (then commands are parsed and dropped); *cmd_r is set
 * only for IMAP_PARSE_COMMAND (NULL otherwise). NEED_MORE always means
 * *consumed_r == len. */
enum imap_parse_status imap_parser_feed(struct imap_parser *parser, const unsigned char *data, size_t len,
					size_t *consumed_r, const struct imap_command **cmd_r);

/* The last error (meaningful after IMAP_PARSE_ERROR; valid until the next
 * feed/reset/free). Never NULL. */
const struct imap_parse_error *imap_parser_error(const struct imap_parser *parser);

/* True while the parser is inside literal data (including literal data it
 * discards): the next bytes are not a command line. */
bool imap_parser_in_literal(const struct imap_parser *parser);
/* After IMAP_PARSE_LITERAL: the offered literal. */
const struct imap_literal_info *imap_parser_literal(const struct imap_parser *parser);
/* After IMAP_PARSE_LITERAL_DATA: the piece (valid until the data fed changes). */
const struct imap_literal_chunk *imap_parser_literal_chunk(const struct imap_parser *parser);
/* The decisions on an offered literal (see "Streaming" above): 0, or -1
 * when not possible (no literal offered; buffer: over max_command). */
int imap_parser_literal_stream(struct imap_parser *parser);
int imap_parser_literal_buffer(struct imap_parser *parser);
/* Drops the current command: an offered literal is refused, a streamed or
 * buffered one abandoned (the rest of it and of its line is discarded). */
void imap_parser_skip_command(struct imap_parser *parser);
/* True after a fatal error, until imap_parser_reset(). */
bool imap_parser_failed(const struct imap_parser *parser);
/* Bytes of heap the parser holds for the current command (text, literals,
 * argument arrays): for tests and metrics. */
size_t imap_parser_memory(const struct imap_parser *parser);

#endif
