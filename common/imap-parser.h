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
 * (all literals together <= max_command).
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
/* True after a fatal error, until imap_parser_reset(). */
bool imap_parser_failed(const struct imap_parser *parser);
/* Bytes of heap the parser holds for the current command (text, literals,
 * argument arrays): for tests and metrics. */
size_t imap_parser_memory(const struct imap_parser *parser);

#endif
