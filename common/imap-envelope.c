/*
 * imap-envelope: RFC 3501 ENVELOPE from a header. See imap-envelope.h.
 *
 * The address parser is a small recursive-descent reader over the RFC 822
 * lexer of mime-header (comments, quoted strings, atoms):
 *
 *   address-list = address *("," address)       stops at anything else
 *   address      = group / mailbox
 *   group        = phrase ":" [mailbox *("," mailbox)] [";"]
 *   mailbox      = [phrase] "<" [route ":"] local-part ["@" domain] ">"
 *                / local-part ["@" domain]
 *
 * It never fails on input: what cannot be read becomes the placeholders
 * Dovecot uses (MISSING_MAILBOX, MISSING_DOMAIN, SYNTAX_ERROR), and the list
 * ends at the first byte that is neither an address nor a comma. Each
 * address field's members are collected apart and pushed to the store in
 * one run at the end, because the same field may occur several times and
 * a list must be contiguous in the store.
 */
#include "imap-envelope.h"

#include <stdlib.h>
#include <string.h>

#include "imap-quote.h"

struct addr_vec {
	struct mime_str *v;
	size_t n, cap;
};

struct addr_ctx {
	struct mime_lex lx;
	struct mime_store *st;
	struct addr_vec *vec;
	size_t *room; /* list entries still allowed for this envelope */
	struct buf name, local, domain, route, comment, tmp;
	bool oom;
};

static int vec_push(struct addr_vec *v, struct mime_str s)
{
	if (v->n == v->cap) {
		size_t cap = v->cap < 16 ? 16 : v->cap * 2;
		struct mime_str *n = realloc(v->v, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = s;
	return 0;
}

/* Stores b; NULs (kept in address values so that atoms stop at them)
 * become U+FFFD here. */
static struct mime_str add_buf(struct addr_ctx *c, const struct buf *b)
{
	struct mime_str s = mime_str_nil();
	const unsigned char *p = b->data != NULL ? b->data : (const unsigned char *)"";
	if (memchr(p, '\0', b->len) != NULL) {
		struct buf nb = {0};
		int r = 0;
		for (size_t i = 0; i < b->len && r == 0; i++)
			r = p[i] == '\0' ? buf_append(&nb, "\xef\xbf\xbd", 3) : buf_append_byte(&nb, p[i]);
		if (r == 0)
			r = mime_store_add(c->st, nb.data, nb.len, &s);
		buf_free(&nb);
		if (r < 0)
			c->oom = true;
		return s;
	}
	if (mime_store_add(c->st, p, b->len, &s) < 0)
		c->oom = true;
	return s;
}

static struct mime_str add_const(struct addr_ctx *c, enum mime_const k)
{
	struct mime_str s = mime_str_nil();
	if (mime_store_const(c->st, k, &s) < 0)
		c->oom = true;
	return s;
}

/* Adds one (name adl mailbox host) entry; the room was checked before. */
static void add_entry(struct addr_ctx *c, struct mime_str name, struct mime_str adl, struct mime_str mbox,
		      struct mime_str host)
{
	if (c->oom)
		return;
	if (vec_push(c->vec, name) < 0 || vec_push(c->vec, adl) < 0 || vec_push(c->vec, mbox) < 0 ||
	    vec_push(c->vec, host) < 0) {
		c->oom = true;
		return;
	}
	*c->room -= 4;
}

static void app(struct addr_ctx *c, struct buf *b, const void *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		c->oom = true;
}

/* RFC 2822 obs-phrase: words (atoms, which may hold dots, and quoted
 * strings) joined by one SP. Returns 1 when a word was read, 0 for none,
 * -1 for an unterminated quoted string (then at the end). */
static int phrase(struct addr_ctx *c, struct buf *out)
{
	struct mime_lex *lx = &c->lx;
	int words = 0;
	if (lx->p < lx->end && *lx->p == '.')
		return 0;
	while (lx->p < lx->end) {
		if (*lx->p == '"') {
			if (words > 0)
				app(c, out, " ", 1);
			int r = mime_lex_quoted(lx, out);
			if (r < 0)
				c->oom = true;
			if (r <= 0)
				return -1;
		} else if (mime_is_atext(*lx->p) || *lx->p == '.') {
			const unsigned char *s = lx->p;
			while (lx->p < lx->end && (mime_is_atext(*lx->p) || *lx->p == '.'))
				lx->p++;
			if (words > 0)
				app(c, out, " ", 1);
			app(c, out, s, (size_t)(lx->p - s));
		} else {
			break;
		}
		words++;
		(void)mime_lex_skip_cfws(lx);
	}
	return words > 0;
}

/* dot-atom, leniently: atoms and dots, CFWS around dots (obs-local-part).
 * Returns true when something was read. */
static bool dot_atom(struct addr_ctx *c, struct buf *out)
{
	struct mime_lex *lx = &c->lx;
	bool any = false, after_atom = false;
	while (lx->p < lx->end) {
		if (mime_is_atext(*lx->p)) {
			if (after_atom)
				break;
			const unsigned char *s = lx->p;
			while (lx->p < lx->end && mime_is_atext(*lx->p))
				lx->p++;
			app(c, out, s, (size_t)(lx->p - s));
			after_atom = true;
		} else if (*lx->p == '.') {
			app(c, out, ".", 1);
			lx->p++;
			after_atom = false;
		} else {
			break;
		}
		any = true;
		(void)mime_lex_skip_cfws(lx);
	}
	return any;
}

static bool local_part(struct addr_ctx *c)
{
	struct mime_lex *lx = &c->lx;
	buf_reset(&c->local);
	if (lx->p < lx->end && *lx->p == '"') {
		int r = mime_lex_quoted(lx, &c->local);
		if (r < 0)
			c->oom = true;
		if (r <= 0)
			return false;
		(void)mime_lex_skip_cfws(lx);
		return true;
	}
	return dot_atom(c, &c->local);
}

/* At the domain (after '@' and CFWS): dot-atom or [domain literal]. */
static bool domain(struct addr_ctx *c, struct buf *out)
{
	struct mime_lex *lx = &c->lx;
	if (lx->p < lx->end && *lx->p == '[') {
		const unsigned char *s = lx->p;
		const unsigned char *e = memchr(s, ']', (size_t)(lx->end - s));
		if (e == NULL) {
			lx->p = lx->end;
			return false;
		}
		lx->p = e + 1;
		app(c, out, s, (size_t)(lx->p - s));
		(void)mime_lex_skip_cfws(lx);
		return true;
	}
	return dot_atom(c, out);
}

static struct mime_str human_name(struct addr_ctx *c, const struct buf *b)
{
	buf_reset(&c->tmp);
	if (mime_header_humanize(&c->tmp, b->data != NULL ? b->data : (const unsigned char *)"", b->len) < 0)
		c->oom = true;
	return add_buf(c, &c->tmp);
}

/* "<" [route ":"] local-part ["@" domain] ">", name already read. */
static void angle_addr(struct addr_ctx *c, bool has_name)
{
	struct mime_lex *lx = &c->lx;
	struct mime_str adl = mime_str_nil();
	bool have_local = false, have_domain = false, syntax_error = false;

	buf_reset(&c->domain);
	lx->p++; /* '<' */
	if (mime_lex_skip_cfws(lx) <= 0) {
		syntax_error = true;
	} else if (*lx->p == '>') {
		lx->p++;
		(void)mime_lex_skip_cfws(lx);
	} else {
		if (*lx->p == '@') {
			buf_reset(&c->route);
			while (lx->p < lx->end && *lx->p == '@') {
				if (c->route.len > 0)
					app(c, &c->route, ",", 1);
				app(c, &c->route, "@", 1);
				lx->p++;
				(void)mime_lex_skip_cfws(lx);
				(void)domain(c, &c->route);
				while (mime_lex_skip_cfws(lx) > 0 && *lx->p == ',')
					lx->p++;
			}
			if (lx->p < lx->end && *lx->p == ':') {
				lx->p++;
				(void)mime_lex_skip_cfws(lx);
				adl = add_buf(c, &c->route);
			} else {
				adl = add_const(c, MIME_CONST_INVALID_ROUTE);
			}
		}
		have_local = local_part(c);
		if (!have_local) {
			syntax_error = true;
		} else {
			if (lx->p < lx->end && *lx->p == '@') {
				lx->p++;
				(void)mime_lex_skip_cfws(lx);
				have_domain = domain(c, &c->domain);
				syntax_error = !have_domain;
			}
			if (!syntax_error && lx->p < lx->end && *lx->p == '>') {
				lx->p++;
				(void)mime_lex_skip_cfws(lx);
			} else {
				syntax_error = true;
			}
		}
	}
	struct mime_str name = has_name ? human_name(c, &c->name) : mime_str_nil();
	struct mime_str mbox = have_local ? add_buf(c, &c->local) : add_const(c, MIME_CONST_MISSING_MAILBOX);
	struct mime_str host = syntax_error  ? add_const(c, MIME_CONST_SYNTAX_ERROR)
			       : have_domain ? add_buf(c, &c->domain)
					     : add_const(c, MIME_CONST_MISSING_DOMAIN);
	add_entry(c, name, adl, mbox, host);
}

static void addr_spec(struct addr_ctx *c)
{
	struct mime_lex *lx = &c->lx;
	bool have_domain = false;
	buf_reset(&c->comment);
	buf_reset(&c->domain);
	lx->last_comment = &c->comment;
	bool have_local = local_part(c);
	if (lx->p < lx->end && *lx->p == '@') {
		lx->p++;
		(void)mime_lex_skip_cfws(lx);
		have_domain = domain(c, &c->domain);
	}
	lx->last_comment = NULL;
	struct mime_str name = c->comment.len > 0 ? human_name(c, &c->comment) : mime_str_nil();
	struct mime_str mbox = have_local ? add_buf(c, &c->local) : add_const(c, MIME_CONST_MISSING_MAILBOX);
	struct mime_str host = have_domain ? add_buf(c, &c->domain) : add_const(c, MIME_CONST_MISSING_DOMAIN);
	add_entry(c, name, mime_str_nil(), mbox, host);
}

static void mailbox(struct addr_ctx *c)
{
	struct mime_lex *lx = &c->lx;
	const unsigned char *start = lx->p;
	buf_reset(&c->name);
	int r = phrase(c, &c->name);
	if (r >= 0 && lx->p < lx->end && *lx->p == '<') {
		angle_addr(c, r > 0 && c->name.len > 0);
		return;
	}
	lx->p = start;
	addr_spec(c);
}

static void address(struct addr_ctx *c)
{
	struct mime_lex *lx = &c->lx;
	const unsigned char *start = lx->p;
	buf_reset(&c->name);
	if (*c->room >= 8 && phrase(c, &c->name) > 0 && lx->p < lx->end && *lx->p == ':') {
		lx->p++;
		add_entry(c, mime_str_nil(), mime_str_nil(), add_buf(c, &c->name), mime_str_nil());
		int r = mime_lex_skip_cfws(lx);
		if (r > 0 && *lx->p != ';') {
			/* members, keeping room for the group's end marker */
			while (*c->room >= 8 && !c->oom) {
				mailbox(c);
				if (lx->p >= lx->end || *lx->p != ',')
					break;
				lx->p++;
				if (mime_lex_skip_cfws(lx) <= 0 || *lx->p == ';')
					break;
			}
		}
		if (lx->p < lx->end && *lx->p == ';') {
			lx->p++;
			(void)mime_lex_skip_cfws(lx);
		}
		add_entry(c, mime_str_nil(), mime_str_nil(), mime_str_nil(), mime_str_nil());
		return;
	}
	lx->p = start;
	mailbox(c);
}

static void address_list(struct addr_ctx *c, const unsigned char *v, size_t len)
{
	struct mime_lex *lx = &c->lx;
	mime_lex_init(lx, v, len);
	if (mime_lex_skip_cfws(lx) <= 0)
		return;
	while (*c->room >= 4 && !c->oom) {
		address(c);
		if (lx->p >= lx->end || *lx->p != ',')
			break;
		lx->p++;
		if (mime_lex_skip_cfws(lx) <= 0)
			break;
	}
}

static const char *const addr_names[IMAP_ENV_ADDR_FIELDS] = {"From", "Sender", "Reply-To", "To", "Cc", "Bcc"};

static int store_value(struct mime_store *st, const unsigned char *hdr, const struct mime_header_field *f,
		       bool human, struct buf *tmp, struct buf *tmp2, struct mime_str *s_r)
{
	if (f == NULL) {
		*s_r = mime_str_nil();
		return 0;
	}
	buf_reset(tmp);
	if (buf_reserve(tmp, 1) < 0 || mime_header_unfold(tmp, hdr + f->value_off, f->value_len, false) < 0)
		return -1;
	if (human) {
		buf_reset(tmp2);
		if (buf_reserve(tmp2, 1) < 0 || mime_header_humanize(tmp2, tmp->data, tmp->len) < 0)
			return -1;
		return mime_store_add(st, tmp2->data, tmp2->len, s_r);
	}
	return mime_store_add(st, tmp->data, tmp->len, s_r);
}

/* The parse of imap_envelope_parse, limited to the address fields in
 * `fields` (bit i: enum imap_envelope_addr_field i); string fields only
 * when `strings`. */
static int parse(const unsigned char *hdr, size_t len, struct mime_store *st, struct imap_envelope *env_r,
		 unsigned fields, bool strings)
{
	struct addr_vec vecs[IMAP_ENV_ADDR_FIELDS];
	struct mime_header_field fdate = {0}, fsubj = {0}, firt = {0}, fmid = {0};
	bool hdate = false, hsubj = false, hirt = false, hmid = false;
	struct addr_ctx c;
	struct buf val = {0};
	size_t room = st->budget;
	int ret = -1;

	memset(vecs, 0, sizeof(vecs));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.room = &room;

	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, hdr, len, MIME_HEADER_MAX_LINES);
	while (mime_header_iter_next(&it, &f)) {
		if (!f.has_colon)
			continue;
		if (mime_header_name_is(hdr, &f, "Date")) {
			fdate = f;
			hdate = true;
		} else if (mime_header_name_is(hdr, &f, "Subject")) {
			fsubj = f;
			hsubj = true;
		} else if (mime_header_name_is(hdr, &f, "In-Reply-To")) {
			firt = f;
			hirt = true;
		} else if (mime_header_name_is(hdr, &f, "Message-ID")) {
			fmid = f;
			hmid = true;
		} else {
			for (int i = 0; i < IMAP_ENV_ADDR_FIELDS; i++) {
				if (!(fields & (1u << i)) || !mime_header_name_is(hdr, &f, addr_names[i]))
					continue;
				buf_reset(&val);
				if (buf_reserve(&val, 1) < 0 || mime_header_unfold(&val, hdr + f.value_off, f.value_len, true) < 0)
					goto out;
				c.vec = &vecs[i];
				address_list(&c, val.data, val.len);
				if (c.oom)
					goto out;
				break;
			}
		}
	}
	if (!strings)
		hdate = hsubj = hirt = hmid = false;
	if (store_value(st, hdr, hdate ? &fdate : NULL, false, &val, &c.tmp, &env_r->date) < 0 ||
	    store_value(st, hdr, hsubj ? &fsubj : NULL, true, &val, &c.tmp, &env_r->subject) < 0 ||
	    store_value(st, hdr, hirt ? &firt : NULL, false, &val, &c.tmp, &env_r->in_reply_to) < 0 ||
	    store_value(st, hdr, hmid ? &fmid : NULL, false, &val, &c.tmp, &env_r->message_id) < 0)
		goto out;
	for (int i = 0; i < IMAP_ENV_ADDR_FIELDS; i++) {
		env_r->addr[i].first = (uint32_t)st->n_strs;
		env_r->addr[i].count = 0;
		for (size_t j = 0; j + 4 <= vecs[i].n; j += 4) {
			/* room was reserved against the budget, so these fit */
			for (size_t k = 0; k < 4; k++) {
				if (mime_store_push(st, vecs[i].v[j + k]) <= 0)
					goto out;
			}
			env_r->addr[i].count++;
		}
	}
	ret = 0;
out:
	for (int i = 0; i < IMAP_ENV_ADDR_FIELDS; i++)
		free(vecs[i].v);
	buf_free(&val);
	buf_free(&c.name);
	buf_free(&c.local);
	buf_free(&c.domain);
	buf_free(&c.route);
	buf_free(&c.comment);
	buf_free(&c.tmp);
	return ret;
}

int imap_envelope_parse(const unsigned char *hdr, size_t len, struct mime_store *st, struct imap_envelope *env_r)
{
	return parse(hdr, len, st, env_r, (1u << IMAP_ENV_ADDR_FIELDS) - 1, true);
}

int imap_envelope_parse_addresses(const unsigned char *hdr, size_t len, struct mime_store *st,
				  enum imap_envelope_addr_field field, struct mime_list *list_r)
{
	struct imap_envelope env;
	if (parse(hdr, len, st, &env, 1u << field, false) < 0)
		return -1;
	*list_r = env.addr[field];
	return 0;
}

static int w_nstr(struct buf *out, const struct mime_store *st, struct mime_str s)
{
	size_t len;
	const unsigned char *p = mime_store_get(st, s, &len);
	return imap_write_nstring(out, (const char *)p, len);
}

static int w_addrs(struct buf *out, const struct mime_store *st, struct mime_list l)
{
	if (l.count == 0 || (size_t)l.first + (size_t)l.count * 4 > st->n_strs)
		return buf_append_str(out, "NIL");
	if (buf_append_byte(out, '(') < 0)
		return -1;
	for (size_t i = 0; i < l.count; i++) {
		const struct mime_str *a = st->strs + l.first + i * 4;
		if (buf_append_byte(out, '(') < 0 || w_nstr(out, st, a[0]) < 0 || buf_append_byte(out, ' ') < 0 ||
		    w_nstr(out, st, a[1]) < 0 || buf_append_byte(out, ' ') < 0 || w_nstr(out, st, a[2]) < 0 ||
		    buf_append_byte(out, ' ') < 0 || w_nstr(out, st, a[3]) < 0 || buf_append_byte(out, ')') < 0)
			return -1;
	}
	return buf_append_byte(out, ')');
}

int imap_envelope_write_parsed(struct buf *out, const struct mime_store *st, const struct imap_envelope *env)
{
	struct mime_list from = env->addr[IMAP_ENV_FROM];
	struct mime_list sender = env->addr[IMAP_ENV_SENDER].count > 0 ? env->addr[IMAP_ENV_SENDER] : from;
	struct mime_list reply_to = env->addr[IMAP_ENV_REPLY_TO].count > 0 ? env->addr[IMAP_ENV_REPLY_TO] : from;
	if (buf_append_byte(out, '(') < 0 || w_nstr(out, st, env->date) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_nstr(out, st, env->subject) < 0 || buf_append_byte(out, ' ') < 0 || w_addrs(out, st, from) < 0 ||
	    buf_append_byte(out, ' ') < 0 || w_addrs(out, st, sender) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_addrs(out, st, reply_to) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_addrs(out, st, env->addr[IMAP_ENV_TO]) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_addrs(out, st, env->addr[IMAP_ENV_CC]) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_addrs(out, st, env->addr[IMAP_ENV_BCC]) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_nstr(out, st, env->in_reply_to) < 0 || buf_append_byte(out, ' ') < 0 ||
	    w_nstr(out, st, env->message_id) < 0 || buf_append_byte(out, ')') < 0)
		return -1;
	return 0;
}

int imap_envelope_write(struct buf *out, const unsigned char *msg, size_t hdr_off, size_t hdr_len)
{
	struct mime_store st = {.budget = IMAP_ENVELOPE_MAX_ENTRIES};
	struct imap_envelope env;
	int ret = -1;
	if (imap_envelope_parse(msg + hdr_off, hdr_len, &st, &env) == 0 && imap_envelope_write_parsed(out, &st, &env) == 0)
		ret = 0;
	mime_store_free(&st);
	return ret;
}
