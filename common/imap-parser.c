/*
 * imap-parser: streaming IMAP command parser. See imap-parser.h for the
 * contract; this comment explains how it is built.
 *
 * Design
 * ------
 * The parser is a byte-at-a-time state machine (enum pstate). Every byte is
 * examined once, so feeding a command in N fragments costs the same as
 * feeding it whole, and nothing is ever re-scanned. Literal data and
 * discarded input are moved in bulk.
 *
 * Storage for the command being parsed:
 *  - text: one struct buf holding the tag, the name and every atom / quoted
 *    string, each followed by a NUL. Only non-literal bytes go here, so it
 *    never exceeds max_line + one NUL per argument.
 *  - nodes: a flat array of parse nodes in the order they were opened. Each
 *    node records its first child and next sibling, so list structure is
 *    kept without recursion. Node 0 is an invisible root list whose children
 *    are the command's arguments. Positions are offsets into text (which may
 *    move when it grows); pointers are made only when the command is done.
 *  - each literal gets its own exact-size allocation (made when its first
 *    byte arrives), so a 64 MiB literal costs 64 MiB, not a doubled buffer.
 * When a command is complete, the nodes are laid out breadth-first into one
 * array of struct imap_arg so that the children of every list are
 * contiguous, as struct imap_arg promises. All of it is dropped (large
 * allocations freed, small ones kept for reuse) at the next feed.
 *
 * Limits are checked as bytes arrive: the line length per non-literal byte,
 * a literal's size when its closing '}' is seen (before the "+"
 * continuation is ever requested), depth on '(' and the argument count when
 * an argument starts.
 *
 * Errors: a non-fatal error drops the partial command and switches to the
 * SKIP state, which discards bytes up to the next LF. SKIP still watches
 * for a line that ends in a non-synchronising literal header "{n+}" and then
 * discards those n bytes as well (a small tracker, enum tstate), because
 * the client sends them without waiting for us; a synchronising literal on
 * a discarded line is not waited for, since the client needs our "+" first.
 */
#include "imap-parser.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

#define NO_NODE UINT_MAX
/* Above these sizes storage is freed between commands instead of reused. */
#define KEEP_TEXT_BYTES 16384
#define KEEP_NODES 512

enum pstate {
	S_START,      /* at the start of a line */
	S_START_CR,   /* an empty line's CR was seen */
	S_TAG,
	S_NAME_START, /* after "tag SP" */
	S_NAME,
	S_ARG_START,  /* where an argument, SP, ')' or the line end may come */
	S_AFTER_ARG,  /* an argument ended: SP, ')' or the line end must come */
	S_ATOM,
	S_TILDE,      /* '~' at an argument start: literal8 or an atom */
	S_QUOTED,
	S_QUOTED_ESC,
	S_LIT_DIGITS, /* after '{' */
	S_LIT_PLUS,   /* after "{n+" */
	S_LIT_CR,     /* after '}' */
	S_LIT_LF,     /* after "}\r" */
	S_LIT_DATA,
	S_LIT_OFFER,  /* a literal offered to the caller (IMAP_PARSE_LITERAL): waiting for its decision */
	S_LIT_STREAM, /* a streamed literal: its bytes go to the caller as they come */
	S_CR,         /* the command's final CR was seen */
	S_SKIP,       /* discarding up to the next LF after an error */
	S_SKIP_LIT,   /* discarding a non-synchronising literal after an error */
	S_FATAL,
};

/* While skipping: how much of a literal header "{digits[+]}[CR]" ends the
 * bytes seen so far. */
enum tstate { T_NONE, T_DIGITS, T_PLUS, T_CLOSE, T_CR };

/* Return value of the internal step functions: no event, or an
 * enum imap_parse_status value. */
#define EV_NONE (-1)

struct pnode {
	enum imap_arg_type type;
	bool literal8;
	bool streamed;      /* LITERAL: offered, and streamed to the caller (lit stays NULL) */
	unsigned char *lit; /* LITERAL: own allocation of the announced size + 1 */
	size_t off;         /* others: offset of the bytes in text */
	size_t len;
	unsigned first; /* LIST: first child, or NO_NODE */
	unsigned last;  /* LIST: last child, or NO_NODE */
	unsigned next;  /* next sibling, or NO_NODE */
	unsigned count; /* LIST: number of children */
};

struct imap_parser {
	struct imap_parser_limits lim;
	enum pstate state;
	size_t line_len; /* non-literal bytes of the current command */
	size_t cmd_len;  /* all bytes of the current command, announced literals included */

	struct buf text;
	bool tag_done;
	size_t tag_len;
	size_t name_off;

	struct pnode *nodes; /* nodes[0] is the root */
	unsigned nnodes, nodes_cap;
	unsigned *open;      /* open[0] = root, open[1 .. depth] = open lists */
	unsigned depth, open_cap;
	unsigned cur;        /* the atom / quoted / literal being read */
	size_t brackets;     /* '[' nesting inside the current atom */
	size_t lit_mem;      /* bytes allocated for literals */

	/* literal header being read (also used by the SKIP tracker) */
	uint64_t lit_size;
	bool lit_overflow;
	bool lit_nonsync;
	bool lit8;
	bool lit_offer; /* the literal being announced will be offered (stream_min) */
	unsigned lit_digits;
	struct imap_literal_info offer;  /* S_LIT_OFFER / S_LIT_STREAM */
	struct imap_literal_chunk chunk; /* the last IMAP_PARSE_LITERAL_DATA */
	size_t remaining; /* S_LIT_DATA / S_SKIP_LIT: bytes still to come */
	enum tstate skip_t;

	/* result */
	bool cmd_ready; /* cmd is live: drop it at the next feed */
	struct imap_command cmd;
	struct imap_arg *out;
	unsigned *order;
	size_t out_cap;

	struct imap_parse_error err;
	struct buf err_tag;
};

/* ---- character classes -------------------------------------------------- */

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 3501 ATOM-CHAR minus nothing: 7-bit printable except atom-specials. */
static bool is_strict_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return c == ']' || (is_strict_atom_char(c) && c != '+');
}

/* Tolerant atom byte (outside brackets): also \ * % ] and 8-bit bytes. */
static bool is_loose_atom_char(unsigned char c)
{
	return !is_ctl(c) && c != ' ' && c != '(' && c != ')' && c != '"';
}

/* ---- storage ------------------------------------------------------------ */

static void clear_command(struct imap_parser *p)
{
	for (unsigned i = 1; i < p->nnodes; i++)
		free(p->nodes[i].lit);
	p->lit_mem = 0;
	if (p->text.cap > KEEP_TEXT_BYTES)
		buf_free(&p->text);
	else
		buf_reset(&p->text);
	if (p->nodes_cap > KEEP_NODES) {
		struct pnode *n = realloc(p->nodes, KEEP_NODES * sizeof(*n));
		if (n != NULL) {
			p->nodes = n;
			p->nodes_cap = KEEP_NODES;
		}
	}
	if (p->out_cap > KEEP_NODES) {
		free(p->out);
		free(p->order);
		p->out = NULL;
		p->order = NULL;
		p->out_cap = 0;
	}
	p->nnodes = 1;
	p->nodes[0] = (struct pnode){.type = IMAP_ARG_LIST, .first = NO_NODE, .last = NO_NODE, .next = NO_NODE};
	p->depth = 0;
	p->open[0] = 0;
	p->tag_done = false;
	p->tag_len = 0;
	p->name_off = 0;
	p->cur = NO_NODE;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

/* Back to the start of a line (storage is dropped separately). */
static void line_start(struct imap_parser *p)
{
	p->state = S_START;
	p->line_len = 0;
	p->cmd_len = 0;
}

/* Adds a node as the last child of the innermost open list.
 * Returns 0, -1 when max_args is reached, -2 when out of memory. */
static int add_node(struct imap_parser *p, enum imap_arg_type type, unsigned *idx_r)
{
	if (p->nnodes - 1 >= p->lim.max_args)
		return -1;
	if (p->nnodes == p->nodes_cap) {
		unsigned ncap = p->nodes_cap * 2;
		if (ncap < p->nodes_cap || ncap > p->lim.max_args + 1)
			ncap = p->lim.max_args + 1;
		struct pnode *n = realloc(p->nodes, (size_t)ncap * sizeof(*n));
		if (n == NULL)
			return -2;
		p->nodes = n;
		p->nodes_cap = ncap;
	}
	unsigned idx = p->nnodes++;
	p->nodes[idx] = (struct pnode){
		.type = type, .off = p->text.len, .first = NO_NODE, .last = NO_NODE, .next = NO_NODE};
	struct pnode *parent = &p->nodes[p->open[p->depth]];
	if (parent->last == NO_NODE)
		parent->first = idx;
	else
		p->nodes[parent->last].next = idx;
	parent->last = idx;
	parent->count++;
	*idx_r = idx;
	return 0;
}

/* ---- errors and skipping ------------------------------------------------- */

static void error_set(struct imap_parser *p, enum imap_parse_error_code code, const char *msg, bool fatal)
{
	p->err.code = code;
	p->err.message = msg;
	p->err.fatal = fatal;
	p->err.tag = NULL;
	buf_reset(&p->err_tag);
	if (p->tag_done && buf_append(&p->err_tag, p->text.data, p->tag_len) == 0)
		p->err.tag = (const char *)p->err_tag.data;
}

static int fatal_error(struct imap_parser *p, enum imap_parse_error_code code, const char *msg)
{
	error_set(p, code, msg, true);
	clear_command(p);
	p->state = S_FATAL;
	return IMAP_PARSE_ERROR;
}

static int nomem(struct imap_parser *p)
{
	return fatal_error(p, IMAP_PARSE_ERR_NOMEM, "Out of memory");
}

/* One byte while discarding a line (S_SKIP). */
static int skip_byte(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '\n':
		if ((p->skip_t == T_CLOSE || p->skip_t == T_CR) && p->lit_nonsync) {
			/* The client sends these bytes without waiting: drop them too. */
			if (p->lit_overflow || p->lit_size > p->lim.max_literal) {
				/* Keeps err.tag: the line's tag, saved when it failed. */
				p->err.code = IMAP_PARSE_ERR_LITERAL_TOO_BIG;
				p->err.message = "[TOOBIG] Non-synchronizing literal too big";
				p->err.fatal = true;
				clear_command(p);
				p->state = S_FATAL;
				return IMAP_PARSE_ERROR;
			}
			p->skip_t = T_NONE;
			if (p->lit_size > 0) {
				p->remaining = (size_t)p->lit_size;
				p->state = S_SKIP_LIT;
			}
			return EV_NONE;
		}
		p->skip_t = T_NONE;
		line_start(p);
		return EV_NONE;
	case '{':
		p->skip_t = T_DIGITS;
		p->lit_size = 0;
		p->lit_overflow = false;
		p->lit_nonsync = false;
		p->lit_digits = 0;
		return EV_NONE;
	case '+':
		p->skip_t = p->skip_t == T_DIGITS && p->lit_digits > 0 ? T_PLUS : T_NONE;
		if (p->skip_t == T_PLUS)
			p->lit_nonsync = true;
		return EV_NONE;
	case '}':
		p->skip_t = (p->skip_t == T_DIGITS && p->lit_digits > 0) || p->skip_t == T_PLUS ? T_CLOSE : T_NONE;
		return EV_NONE;
	case '\r':
		p->skip_t = p->skip_t == T_CLOSE ? T_CR : T_NONE;
		return EV_NONE;
	default:
		if (p->skip_t == T_DIGITS && c >= '0' && c <= '9') {
			unsigned d = (unsigned)(c - '0');
			p->lit_digits++;
			if (p->lit_size > (UINT64_MAX - d) / 10)
				p->lit_overflow = true;
			else
				p->lit_size = p->lit_size * 10 + d;
		} else {
			p->skip_t = T_NONE;
		}
		return EV_NONE;
	}
}

/* A non-fatal error: report it, drop the command, discard the rest of the
 * line. c is the offending byte (not yet consumed by the state machine), or
 * -1 when there is none; it is passed on to the SKIP tracker, which picks up
 * a literal header the error interrupted. */
static int fail(struct imap_parser *p, enum imap_parse_error_code code, const char *msg, int c)
{
	error_set(p, code, msg, false);
	switch (p->state) {
	case S_LIT_DIGITS: p->skip_t = T_DIGITS; break;
	case S_LIT_PLUS: p->skip_t = T_PLUS; break;
	case S_LIT_CR: p->skip_t = T_CLOSE; break;
	case S_LIT_LF: p->skip_t = T_CR; break;
	default: p->skip_t = T_NONE; break;
	}
	clear_command(p);
	p->state = S_SKIP;
	if (c >= 0)
		(void)skip_byte(p, (unsigned char)c); /* a fatal error replaces ours */
	return IMAP_PARSE_ERROR;
}

/* ---- building the result ------------------------------------------------- */

/* Lays the nodes so far out as p->cmd (see complete); 0, or -1 when out of memory. */
static int build_command(struct imap_parser *p)
{
	unsigned total = p->nnodes - 1;
	if (total > p->out_cap) {
		struct imap_arg *o = realloc(p->out, (size_t)total * sizeof(*o));
		if (o == NULL)
			return -1;
		p->out = o;
		unsigned *ord = realloc(p->order, (size_t)total * sizeof(*ord));
		if (ord == NULL)
			return -1;
		p->order = ord;
		p->out_cap = total;
	}
	/* Breadth-first: the children of each list get the next free run. */
	unsigned next = 0;
	for (unsigned c = p->nodes[0].first; c != NO_NODE; c = p->nodes[c].next)
		p->order[next++] = c;
	for (unsigned pos = 0; pos < next; pos++) {
		const struct pnode *n = &p->nodes[p->order[pos]];
		struct imap_arg *a = &p->out[pos];
		a->type = n->type;
		a->literal8 = n->literal8;
		a->streamed = n->streamed;
		a->streamed_len = n->streamed ? n->len : 0;
		a->list = NULL;
		a->list_count = 0;
		if (n->type == IMAP_ARG_LIST) {
			a->str = NULL;
			a->len = 0;
			if (n->count > 0)
				a->list = &p->out[next];
			a->list_count = n->count;
			for (unsigned c = n->first; c != NO_NODE; c = p->nodes[c].next)
				p->order[next++] = c;
		} else if (n->streamed) {
			a->str = "";
			a->len = 0;
		} else {
			a->str = n->type == IMAP_ARG_LITERAL ? (const char *)n->lit : (const char *)p->text.data + n->off;
			a->len = n->len;
		}
	}
	p->cmd.tag = (const char *)p->text.data;
	p->cmd.name = (const char *)p->text.data + p->name_off;
	p->cmd.nargs = p->nodes[0].count;
	p->cmd.args = p->cmd.nargs > 0 ? p->out : NULL;
	return 0;
}

static int complete(struct imap_parser *p)
{
	if (p->depth > 0)
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing ')'", '\n');
	if (build_command(p) < 0)
		return nomem(p);
	p->cmd_ready = true;
	line_start(p);
	return IMAP_PARSE_COMMAND;
}

/* Ends the atom or quoted string p->cur. */
static int end_string(struct imap_parser *p)
{
	struct pnode *n = &p->nodes[p->cur];
	n->len = p->text.len - n->off;
	if (buf_append_byte(&p->text, '\0') < 0)
		return nomem(p);
	if (n->type == IMAP_ARG_ATOM && n->len == 3 && strncasecmp((const char *)p->text.data + n->off, "NIL", 3) == 0)
		n->type = IMAP_ARG_NIL;
	p->state = S_AFTER_ARG;
	return EV_NONE;
}

/* Starts an atom or quoted string at the current text position. */
static int begin_string(struct imap_parser *p, enum imap_arg_type type, int c)
{
	int r = add_node(p, type, &p->cur);
	if (r == -2)
		return nomem(p);
	if (r < 0)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, "Too many arguments", c);
	return EV_NONE;
}

static int open_list(struct imap_parser *p)
{
	if (p->depth >= p->lim.max_depth)
		return fail(p, IMAP_PARSE_ERR_TOO_DEEP, "Too deeply nested lists", '(');
	unsigned idx;
	int r = add_node(p, IMAP_ARG_LIST, &idx);
	if (r == -2)
		return nomem(p);
	if (r < 0)
		return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, "Too many arguments", '(');
	if (p->depth + 1 >= p->open_cap) {
		unsigned ncap = p->open_cap * 2;
		unsigned *o = realloc(p->open, (size_t)ncap * sizeof(*o));
		if (o == NULL)
			return nomem(p);
		p->open = o;
		p->open_cap = ncap;
	}
	p->open[++p->depth] = idx;
	p->state = S_ARG_START;
	return EV_NONE;
}

static int close_list(struct imap_parser *p)
{
	if (p->depth == 0)
		return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unexpected ')'", ')');
	p->depth--;
	p->state = S_AFTER_ARG;
	return EV_NONE;
}

static void begin_literal_header(struct imap_parser *p, bool lit8)
{
	p->lit8 = lit8;
	p->lit_size = 0;
	p->lit_overflow = false;
	p->lit_nonsync = false;
	p->lit_offer = false;
	p->lit_digits = 0;
	p->state = S_LIT_DIGITS;
}

/* The '}' of a literal header: check the size before anything else. */
static int literal_close(struct imap_parser *p)
{
	enum imap_parse_error_code code;
	const char *msg;
	/* A literal the caller may stream is charged to max_command only if
	 * the caller has it buffered after all (imap_parser_literal_buffer). */
	p->lit_offer = !p->lit_overflow && p->lim.stream_min > 0 && p->lit_size >= p->lim.stream_min &&
		       p->lit_size <= p->lim.max_literal;
	if (p->lit_overflow || p->lit_size > p->lim.max_literal) {
		code = IMAP_PARSE_ERR_LITERAL_TOO_BIG;
		msg = "[TOOBIG] Literal too big";
	} else if (!p->lit_offer && p->lit_size > p->lim.max_command - p->cmd_len) {
		code = IMAP_PARSE_ERR_COMMAND_TOO_BIG;
		msg = "[TOOBIG] Command too big";
	} else {
		p->state = S_LIT_CR;
		int r = add_node(p, IMAP_ARG_LITERAL, &p->cur);
		if (r == -2)
			return nomem(p);
		if (r < 0) /* a {n+} literal in S_LIT_CR is then skipped */
			return fail(p, IMAP_PARSE_ERR_TOO_MANY_ARGS, "Too many arguments", -1);
		p->nodes[p->cur].literal8 = p->lit8;
		if (!p->lit_offer)
			p->cmd_len += (size_t)p->lit_size;
		return EV_NONE;
	}
	if (p->lit_nonsync)
		return fatal_error(p, code,
				   code == IMAP_PARSE_ERR_LITERAL_TOO_BIG ? "[TOOBIG] Non-synchronizing literal too big"
									  : "[TOOBIG] Command too big");
	/* The client waits for "+" and gets BAD: no literal bytes will come. */
	error_set(p, code, msg, false);
	clear_command(p);
	p->state = S_SKIP;
	p->skip_t = T_NONE;
	return IMAP_PARSE_ERROR;
}

/* The line end after a literal header. */
static int literal_begin(struct imap_parser *p)
{
	struct pnode *n = &p->nodes[p->cur];
	n->len = 0;
	if (p->lit_offer) {
		/* The caller decides (stream, buffer or refuse) before any "+". */
		n->len = (size_t)p->lit_size;
		n->streamed = true; /* shown as pending in the partial command */
		p->offer = (struct imap_literal_info){.size = p->lit_size, .sync = !p->lit_nonsync,
						      .literal8 = p->lit8, .depth = p->depth};
		int r = build_command(p);
		n = &p->nodes[p->cur];
		n->streamed = false;
		n->len = 0;
		if (r < 0)
			return nomem(p);
		p->state = S_LIT_OFFER;
		return IMAP_PARSE_LITERAL;
	}
	if (p->lit_size == 0) {
		n->lit = malloc(1);
		if (n->lit == NULL)
			return nomem(p);
		n->lit[0] = '\0';
		p->lit_mem += 1;
		p->state = S_AFTER_ARG;
	} else {
		/* The buffer is allocated when the first byte arrives. */
		p->remaining = (size_t)p->lit_size;
		p->state = S_LIT_DATA;
	}
	return p->lit_nonsync ? EV_NONE : IMAP_PARSE_CONTINUATION;
}

/* Moves literal bytes; returns how many of data[0 .. len) were used. */
static size_t literal_data(struct imap_parser *p, const unsigned char *data, size_t len, int *ev_r)
{
	struct pnode *n = &p->nodes[p->cur];
	*ev_r = EV_NONE;
	if (n->lit == NULL) {
		n->lit = malloc(p->remaining + 1);
		if (n->lit == NULL) {
			*ev_r = nomem(p);
			return 0;
		}
		p->lit_mem += p->remaining + 1;
	}
	size_t take = len < p->remaining ? len : p->remaining;
	memcpy(n->lit + n->len, data, take);
	n->len += take;
	p->remaining -= take;
	if (p->remaining == 0) {
		n->lit[n->len] = '\0';
		p->state = S_AFTER_ARG;
	}
	return take;
}

/* ---- the state machine --------------------------------------------------- */

#define APPEND(p, ch)                                              \
	do {                                                       \
		if (buf_append_byte(&(p)->text, (ch)) < 0)         \
			return nomem(p);                           \
	} while (0)

static int step_arg_start(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case ' ':
		return EV_NONE;
	case '\r':
		p->state = S_CR;
		return EV_NONE;
	case '\n':
		return complete(p);
	case '(':
		return open_list(p);
	case ')':
		return close_list(p);
	case '"': {
		int ev = begin_string(p, IMAP_ARG_QUOTED, c);
		if (ev == EV_NONE)
			p->state = S_QUOTED;
		return ev;
	}
	case '{':
		begin_literal_header(p, false);
		return EV_NONE;
	case '~':
		p->state = S_TILDE;
		return EV_NONE;
	default:
		break;
	}
	if (!is_loose_atom_char(c))
		return fail(p, IMAP_PARSE_ERR_SYNTAX, c == '\0' ? "NUL byte in command" : "Invalid character in command",
			    c);
	int ev = begin_string(p, IMAP_ARG_ATOM, c);
	if (ev != EV_NONE)
		return ev;
	p->brackets = 0;
	p->state = S_ATOM;
	return EV_NONE; /* the caller re-reads c as the atom's first byte */
}

static int step_atom(struct imap_parser *p, unsigned char c, bool *again_r)
{
	if (p->brackets == 0) {
		if (c == ' ' || c == '\r' || c == '\n' || c == ')') {
			int ev = end_string(p);
			*again_r = ev == EV_NONE;
			return ev;
		}
		if (!is_loose_atom_char(c))
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    c == '\0' ? "NUL byte in command" : "Invalid character in atom", c);
		if (c == '[')
			p->brackets++;
	} else {
		if (c == '\r' || c == '\n')
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing ']'", c);
		if (is_ctl(c))
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    c == '\0' ? "NUL byte in command" : "Invalid character in atom", c);
		if (c == '[')
			p->brackets++;
		else if (c == ']')
			p->brackets--;
	}
	APPEND(p, c);
	return EV_NONE;
}

static int step(struct imap_parser *p, unsigned char c)
{
	bool again;
	do {
		again = false;
		switch (p->state) {
		case S_START:
			if (c == '\n') {
				line_start(p); /* an empty line */
				return EV_NONE;
			}
			if (c == '\r') {
				p->state = S_START_CR;
				return EV_NONE;
			}
			if (!is_tag_char(c))
				return fail(p, IMAP_PARSE_ERR_SYNTAX, c == '\0' ? "NUL byte in command" : "Invalid tag", c);
			APPEND(p, c);
			p->state = S_TAG;
			return EV_NONE;
		case S_START_CR:
			if (c == '\n') {
				line_start(p);
				return EV_NONE;
			}
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF", c);
		case S_TAG:
			if (is_tag_char(c)) {
				APPEND(p, c);
				return EV_NONE;
			}
			if (c == ' ' || c == '\r' || c == '\n') {
				p->tag_len = p->text.len;
				APPEND(p, '\0');
				p->tag_done = true;
				p->name_off = p->text.len;
				if (c != ' ')
					return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing command name", c);
				p->state = S_NAME_START;
				return EV_NONE;
			}
			return fail(p, IMAP_PARSE_ERR_SYNTAX, c == '\0' ? "NUL byte in command" : "Invalid tag", c);
		case S_NAME_START:
			if (!is_strict_atom_char(c))
				return fail(p, IMAP_PARSE_ERR_SYNTAX,
					    c == ' ' || c == '\r' || c == '\n' ? "Missing command name"
										: "Invalid command name",
					    c);
			APPEND(p, (unsigned char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
			p->state = S_NAME;
			return EV_NONE;
		case S_NAME:
			if (is_strict_atom_char(c)) {
				APPEND(p, (unsigned char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
				return EV_NONE;
			}
			if (c == ' ' || c == '\r' || c == '\n') {
				APPEND(p, '\0');
				p->state = S_ARG_START;
				again = c != ' ';
				break;
			}
			return fail(p, IMAP_PARSE_ERR_SYNTAX,
				    c == '\0' ? "NUL byte in command" : "Invalid command name", c);
		case S_ARG_START: {
			int ev = step_arg_start(p, c);
			if (ev != EV_NONE)
				return ev;
			again = p->state == S_ATOM;
			break;
		}
		case S_AFTER_ARG:
			switch (c) {
			case ' ':
				p->state = S_ARG_START;
				return EV_NONE;
			case '\r':
				p->state = S_CR;
				return EV_NONE;
			case '\n':
				return complete(p);
			case ')':
				return close_list(p);
			default:
				return fail(p, IMAP_PARSE_ERR_SYNTAX,
					    c == '\0' ? "NUL byte in command" : "Missing space after argument", c);
			}
		case S_ATOM: {
			int ev = step_atom(p, c, &again);
			if (ev != EV_NONE)
				return ev;
			break;
		}
		case S_TILDE:
			if (c == '{') {
				begin_literal_header(p, true);
				return EV_NONE;
			}
			{
				/* "~" begins an ordinary atom. */
				int ev = begin_string(p, IMAP_ARG_ATOM, c);
				if (ev != EV_NONE)
					return ev;
				p->brackets = 0;
				p->state = S_ATOM;
				APPEND(p, '~');
				again = true;
			}
			break;
		case S_QUOTED:
			if (c == '"')
				return end_string(p);
			if (c == '\\') {
				p->state = S_QUOTED_ESC;
				return EV_NONE;
			}
			if (c == '\r' || c == '\n')
				return fail(p, IMAP_PARSE_ERR_SYNTAX, "Unterminated quoted string", c);
			if (c == '\0')
				return fail(p, IMAP_PARSE_ERR_SYNTAX, "NUL byte in command", c);
			APPEND(p, c);
			return EV_NONE;
		case S_QUOTED_ESC:
			if (c != '"' && c != '\\')
				return fail(p, IMAP_PARSE_ERR_SYNTAX, "Invalid escape in quoted string", c);
			APPEND(p, c);
			p->state = S_QUOTED;
			return EV_NONE;
		case S_LIT_DIGITS:
			if (c >= '0' && c <= '9') {
				unsigned d = (unsigned)(c - '0');
				p->lit_digits++;
				if (p->lit_size > (UINT64_MAX - d) / 10)
					p->lit_overflow = true;
				else
					p->lit_size = p->lit_size * 10 + d;
				return EV_NONE;
			}
			if (p->lit_digits > 0 && c == '+') {
				p->lit_nonsync = true;
				p->state = S_LIT_PLUS;
				return EV_NONE;
			}
			if (p->lit_digits > 0 && c == '}')
				return literal_close(p);
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Invalid literal size", c);
		case S_LIT_PLUS:
			if (c == '}')
				return literal_close(p);
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Invalid literal size", c);
		case S_LIT_CR:
			if (c == '\r') {
				p->state = S_LIT_LF;
				return EV_NONE;
			}
			if (c == '\n')
				return literal_begin(p);
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "Missing line end after literal size", c);
		case S_LIT_LF:
			if (c == '\n')
				return literal_begin(p);
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF", c);
		case S_CR:
			if (c == '\n')
				return complete(p);
			return fail(p, IMAP_PARSE_ERR_SYNTAX, "CR not followed by LF", c);
		case S_LIT_DATA:
		case S_LIT_OFFER:
		case S_LIT_STREAM:
		case S_SKIP:
		case S_SKIP_LIT:
		case S_FATAL:
			return EV_NONE; /* handled by imap_parser_feed */
		}
	} while (again);
	return EV_NONE;
}

/* ---- public API ---------------------------------------------------------- */

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (limits != NULL)
		p->lim = *limits;
	if (p->lim.max_line == 0)
		p->lim.max_line = IMAP_PARSER_DEFAULT_MAX_LINE;
	if (p->lim.max_literal == 0)
		p->lim.max_literal = IMAP_PARSER_DEFAULT_MAX_LITERAL;
	if (p->lim.max_command == 0)
		p->lim.max_command = IMAP_PARSER_DEFAULT_MAX_COMMAND;
	if (p->lim.max_depth == 0)
		p->lim.max_depth = IMAP_PARSER_DEFAULT_MAX_DEPTH;
	if (p->lim.max_args == 0)
		p->lim.max_args = IMAP_PARSER_DEFAULT_MAX_ARGS;
	/* Keep sizes + 1 and counts + 1 from overflowing. */
	if (p->lim.max_literal > SIZE_MAX / 2)
		p->lim.max_literal = SIZE_MAX / 2;
	if (p->lim.max_command > SIZE_MAX / 2)
		p->lim.max_command = SIZE_MAX / 2;
	if (p->lim.max_line > SIZE_MAX / 4)
		p->lim.max_line = SIZE_MAX / 4;
	if (p->lim.max_args > UINT_MAX / 4)
		p->lim.max_args = UINT_MAX / 4;
	if (p->lim.max_depth > UINT_MAX / 4)
		p->lim.max_depth = UINT_MAX / 4;

	p->nodes_cap = 16;
	p->nodes = malloc(p->nodes_cap * sizeof(*p->nodes));
	p->open_cap = 8;
	p->open = malloc(p->open_cap * sizeof(*p->open));
	if (p->nodes == NULL || p->open == NULL) {
		free(p->nodes);
		free(p->open);
		free(p);
		return NULL;
	}
	p->err.message = "No error";
	clear_command(p);
	line_start(p);
	return p;
}

void imap_parser_free(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;
	if (p == NULL)
		return;
	clear_command(p);
	buf_free(&p->text);
	buf_free(&p->err_tag);
	free(p->nodes);
	free(p->open);
	free(p->out);
	free(p->order);
	free(p);
	*parser = NULL;
}

void imap_parser_reset(struct imap_parser *p)
{
	p->cmd_ready = false;
	clear_command(p);
	line_start(p);
	p->skip_t = T_NONE;
	p->remaining = 0;
	p->err = (struct imap_parse_error){.message = "No error"};
	buf_reset(&p->err_tag);
}

enum imap_parse_status imap_parser_feed(struct imap_parser *p, const unsigned char *data, size_t len,
					size_t *consumed_r, const struct imap_command **cmd_r)
{
	*consumed_r = 0;
	if (cmd_r != NULL)
		*cmd_r = NULL;
	if (p->cmd_ready) {
		p->cmd_ready = false;
		clear_command(p);
	}
	size_t i = 0;
	while (i < len) {
		int ev;
		switch (p->state) {
		case S_FATAL:
			*consumed_r = len;
			return IMAP_PARSE_NEED_MORE;
		case S_LIT_DATA:
			i += literal_data(p, data + i, len - i, &ev);
			break;
		case S_LIT_OFFER:
			/* No decision was made: the command is refused. */
			imap_parser_skip_command(p);
			ev = EV_NONE;
			break;
		case S_LIT_STREAM: {
			size_t take = len - i < p->remaining ? len - i : p->remaining;
			p->chunk.data = data + i;
			p->chunk.len = take;
			p->chunk.offset = p->offer.size - p->remaining;
			p->remaining -= take;
			p->chunk.last = p->remaining == 0;
			i += take;
			if (p->remaining == 0)
				p->state = S_AFTER_ARG;
			ev = IMAP_PARSE_LITERAL_DATA;
			break;
		}
		case S_SKIP_LIT: {
			size_t take = len - i < p->remaining ? len - i : p->remaining;
			i += take;
			p->remaining -= take;
			if (p->remaining == 0) {
				p->state = S_SKIP;
				p->skip_t = T_NONE;
			}
			ev = EV_NONE;
			break;
		}
		case S_SKIP:
			/* Fast path: outside a literal header only '{' and LF matter. */
			if (p->skip_t == T_NONE) {
				while (i < len && data[i] != '\n' && data[i] != '{')
					i++;
				if (i == len) {
					ev = EV_NONE;
					break;
				}
			}
			ev = skip_byte(p, data[i++]);
			break;
		default: {
			unsigned char c = data[i++];
			if (++p->line_len > p->lim.max_line)
				ev = fail(p, IMAP_PARSE_ERR_LINE_TOO_LONG, "[TOOBIG] Command line too long", c);
			else if (++p->cmd_len > p->lim.max_command)
				ev = fail(p, IMAP_PARSE_ERR_COMMAND_TOO_BIG, "[TOOBIG] Command too big", c);
			else
				ev = step(p, c);
			break;
		}
		}
		if (ev != EV_NONE) {
			*consumed_r = i;
			if ((ev == IMAP_PARSE_COMMAND || ev == IMAP_PARSE_LITERAL) && cmd_r != NULL)
				*cmd_r = &p->cmd;
			return (enum imap_parse_status)ev;
		}
	}
	*consumed_r = len;
	return IMAP_PARSE_NEED_MORE;
}

const struct imap_parse_error *imap_parser_error(const struct imap_parser *p)
{
	return &p->err;
}

bool imap_parser_in_literal(const struct imap_parser *p)
{
	return p->state == S_LIT_DATA || p->state == S_SKIP_LIT || p->state == S_LIT_STREAM;
}

const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p)
{
	return &p->offer;
}

const struct imap_literal_chunk *imap_parser_literal_chunk(const struct imap_parser *p)
{
	return &p->chunk;
}

int imap_parser_literal_stream(struct imap_parser *p)
{
	if (p->state != S_LIT_OFFER)
		return -1;
	struct pnode *n = &p->nodes[p->cur];
	n->streamed = true;
	n->len = (size_t)p->offer.size;
	p->remaining = (size_t)p->offer.size;
	p->state = S_LIT_STREAM;
	return 0;
}

int imap_parser_literal_buffer(struct imap_parser *p)
{
	if (p->state != S_LIT_OFFER || p->offer.size > p->lim.max_command - p->cmd_len)
		return -1;
	p->cmd_len += (size_t)p->offer.size;
	p->remaining = (size_t)p->offer.size;
	p->state = S_LIT_DATA; /* the buffer is allocated when the first byte arrives */
	return 0;
}

void imap_parser_skip_command(struct imap_parser *p)
{
	bool nonsync = p->state == S_LIT_OFFER && !p->offer.sync;
	bool streaming = p->state == S_LIT_STREAM || p->state == S_LIT_DATA;
	if (p->state == S_FATAL || p->state == S_START || p->state == S_SKIP || p->state == S_SKIP_LIT)
		return;
	clear_command(p);
	p->cmd_ready = false;
	if (p->state == S_LIT_OFFER && !nonsync) {
		/* The client waits for "+": nothing more of this command comes. */
		line_start(p);
		return;
	}
	if (nonsync)
		p->remaining = (size_t)p->offer.size;
	p->skip_t = T_NONE;
	p->state = (nonsync || streaming) && p->remaining > 0 ? S_SKIP_LIT : S_SKIP;
}

bool imap_parser_failed(const struct imap_parser *p)
{
	return p->state == S_FATAL;
}

size_t imap_parser_memory(const struct imap_parser *p)
{
	return p->text.cap + p->lit_mem + (size_t)p->nodes_cap * sizeof(*p->nodes) +
	       (size_t)p->open_cap * sizeof(*p->open) + p->out_cap * (sizeof(*p->out) + sizeof(*p->order)) +
	       p->err_tag.cap;
}
