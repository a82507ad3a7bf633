/*
 * mime-parse: MIME part tree with offsets, its serialised form, and
 * BODY[section] lookup. See mime-parse.h for the model and contract.
 *
 * How the parser works
 * --------------------
 * One pass over the message, one line at a time (a line ends after LF or
 * at the end of the message). A stack of frames holds the open parts from
 * the root to the part being read; each frame is either still in its
 * header or in its body, and a multipart frame whose header named a
 * boundary has that boundary "active" until its close delimiter.
 *
 *  - A line starting with "--" is compared with the active boundaries,
 *    innermost first. To stay linear with 100 nested boundaries the line's
 *    prefix hashes are computed once and each boundary is checked by its
 *    hash before a memcmp. A match ends every part above that multipart
 *    (at the line end before the boundary line), then either closes the
 *    multipart (epilogue follows) or opens its next child.
 *  - A frame in its header ends it at an empty line; the header's fields
 *    are then read (Content-*, and the ENVELOPE for messages) and the part
 *    becomes a multipart waiting for its first boundary, a message/rfc822
 *    whose child message starts right there, or a leaf.
 *  - At the end of the message every open part ends there.
 *
 * LF counting: the number of LFs before the current line is kept, and each
 * frame remembers it at its body start, so a part's line count is a
 * subtraction when the part ends.
 *
 * Serialised form (little-endian):
 *   "MIMT" | u8 version | 3 zero bytes | u64 msg_size | u32 n_parts |
 *   u32 n_strs | u32 pool_len | n_parts part records (PART_REC bytes) |
 *   n_strs (u32 off, u32 len) | pool bytes
 * Deserialisation checks the exact size, every string and list reference,
 * the pre-order tree shape, depths, flags against the stored content
 * types, and that every range lies inside its parent and the message.
 */
#include "mime-parse.h"

#include <stdlib.h>
#include <string.h>

#include "imap-quote.h"

/* ---- parser -------------------------------------------------------------- */

#define FNV_SEED 1469598103934665603ull
#define FNV_PRIME 1099511628211ull

struct frame {
	uint32_t part;
	bool in_header;
	bool active; /* boundary live */
	struct mime_str bnd;
	uint64_t bhash;
	uint64_t lf_at_body;
};

struct parser {
	const unsigned char *msg;
	size_t len;
	struct mime_tree *t;
	size_t cap_parts;
	struct frame fr[MIME_MAX_DEPTH + 1];
	unsigned nfr;
	unsigned n_active;
	uint64_t lf; /* LFs before the current line */
	size_t last_bnd_end; /* end of the last boundary line (its own line end included) */
	uint64_t *ph;
	size_t ph_cap;
	struct buf val;
	mime_parse_progress_fn *progress;
	void *progress_ctx;
	size_t progress_at; /* scan position of the last progress call */
};

/* Tells the caller what will not be read again: everything before the
 * current line (less the line end a boundary looks back at), and before
 * the start of any header still being read. */
static void report_progress(struct parser *ps, size_t pos)
{
	if (ps->progress == NULL || pos - ps->progress_at < MIME_PARSE_PROGRESS_STEP)
		return;
	ps->progress_at = pos;
	size_t keep = pos >= 2 ? pos - 2 : 0;
	for (unsigned i = 0; i < ps->nfr; i++) {
		size_t h = ps->t->parts[ps->fr[i].part].hdr_off;
		if (ps->fr[i].in_header && h < keep)
			keep = h;
	}
	ps->progress(ps->progress_ctx, keep);
}

static bool str_ieq(const struct mime_store *st, struct mime_str s, const char *lit)
{
	size_t len;
	const unsigned char *p = mime_store_get(st, s, &len);
	return p != NULL && len == strlen(lit) && strncasecmp((const char *)p, lit, len) == 0;
}

/* The MULTIPART / RFC822 / TEXT flags a content type gives. */
static uint16_t classify(const struct mime_store *st, struct mime_str type, struct mime_str subtype, bool digest_parent)
{
	if (mime_str_is_nil(type))
		return digest_parent ? MIME_PART_RFC822 : MIME_PART_TEXT;
	if (str_ieq(st, type, "text"))
		return MIME_PART_TEXT;
	if (str_ieq(st, type, "multipart"))
		return MIME_PART_MULTIPART;
	if (str_ieq(st, type, "message") && str_ieq(st, subtype, "rfc822"))
		return MIME_PART_RFC822;
	return 0;
}

static bool is_digest_child(const struct mime_tree *t, uint32_t parent)
{
	return parent != MIME_PART_NONE && (t->parts[parent].flags & MIME_PART_MULTIPART) != 0 &&
	       str_ieq(&t->st, t->parts[parent].subtype, "digest");
}

static void part_clear(struct mime_part *p)
{
	memset(p, 0, sizeof(*p));
	p->type = p->subtype = p->id = p->description = p->encoding = mime_str_nil();
	p->md5 = p->disposition = p->location = mime_str_nil();
	p->env.date = p->env.subject = p->env.in_reply_to = p->env.message_id = mime_str_nil();
}

/* Appends a part; *idx_r is MIME_PART_NONE when the part limit is reached. */
static int new_part(struct parser *ps, uint32_t parent, size_t hdr_off, uint16_t flags, uint32_t *idx_r)
{
	struct mime_tree *t = ps->t;
	*idx_r = MIME_PART_NONE;
	if (t->n_parts >= MIME_MAX_PARTS)
		return 0;
	if (t->n_parts == ps->cap_parts) {
		size_t cap = ps->cap_parts < 4 ? 4 : ps->cap_parts * 2;
		struct mime_part *n = realloc(t->parts, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		t->parts = n;
		ps->cap_parts = cap;
	}
	struct mime_part *p = &t->parts[t->n_parts];
	part_clear(p);
	p->parent = parent;
	p->depth = parent == MIME_PART_NONE ? 0 : (uint16_t)(t->parts[parent].depth + 1);
	p->flags = flags;
	p->hdr_off = p->body_off = hdr_off;
	if (parent != MIME_PART_NONE)
		t->parts[parent].n_children++;
	*idx_r = t->n_parts++;
	return 0;
}

static int unfold(struct parser *ps, const unsigned char *h, const struct mime_header_field *f)
{
	buf_reset(&ps->val);
	if (buf_reserve(&ps->val, 1) < 0)
		return -1;
	return mime_header_unfold(&ps->val, h + f->value_off, f->value_len, false);
}

static int store_val(struct parser *ps, struct mime_str *s_r)
{
	return mime_store_add(&ps->t->st, ps->val.data, ps->val.len, s_r);
}

/* Reads the Content-* fields (and the ENVELOPE of a message) of part idx,
 * whose header range is set, and sets its kind flags. */
static int read_header(struct parser *ps, uint32_t idx)
{
	struct mime_tree *t = ps->t;
	struct mime_store *st = &t->st;
	struct mime_part *p = &t->parts[idx]; /* no part is added below */
	const unsigned char *h = ps->msg + p->hdr_off;
	bool message = (p->flags & MIME_PART_MESSAGE) != 0;
	bool is_mime = !message, have_type = false;

	struct mime_header_iter it;
	struct mime_header_field f;
	mime_header_iter_init(&it, h, p->hdr_len, MIME_HEADER_MAX_LINES);
	while (mime_header_iter_next(&it, &f)) {
		if (!f.has_colon)
			continue;
		if (mime_header_name_is(h, &f, "MIME-Version")) {
			is_mime = true;
			continue;
		}
		if (f.name_len <= 8 || strncasecmp((const char *)h + f.off, "Content-", 8) != 0)
			continue;
		int r = 0;
		if (mime_header_name_is(h, &f, "Content-Type")) {
			if (!have_type && (r = unfold(ps, h, &f)) == 0)
				r = mime_parse_content_type(ps->val.data, ps->val.len, st, &p->type, &p->subtype, &p->params);
			have_type = is_mime = true;
		} else if (mime_header_name_is(h, &f, "Content-Transfer-Encoding")) {
			if (mime_str_is_nil(p->encoding) && (r = unfold(ps, h, &f)) == 0)
				r = mime_parse_content_encoding(ps->val.data, ps->val.len, st, &p->encoding);
		} else if (mime_header_name_is(h, &f, "Content-Disposition")) {
			if (p->disp_params.count == 0 && (r = unfold(ps, h, &f)) == 0)
				r = mime_parse_content_disposition(ps->val.data, ps->val.len, st, &p->disposition,
								   &p->disp_params);
		} else if (mime_header_name_is(h, &f, "Content-Language")) {
			if ((r = unfold(ps, h, &f)) == 0)
				r = mime_parse_content_language(ps->val.data, ps->val.len, st, &p->language);
		} else {
			struct mime_str *dst = mime_header_name_is(h, &f, "Content-ID")		 ? &p->id
					       : mime_header_name_is(h, &f, "Content-Description") ? &p->description
					       : mime_header_name_is(h, &f, "Content-MD5")	 ? &p->md5
					       : mime_header_name_is(h, &f, "Content-Location")	 ? &p->location
												 : NULL;
			if (dst != NULL && mime_str_is_nil(*dst) && (r = unfold(ps, h, &f)) == 0)
				r = store_val(ps, dst);
		}
		if (r < 0)
			return -1;
	}
	if (!is_mime) {
		/* a message without MIME-Version or Content-Type: no Content-* */
		p->id = p->description = p->encoding = p->md5 = p->disposition = p->location = mime_str_nil();
		p->disp_params.count = p->language.count = 0;
	}
	if (message && imap_envelope_parse(h, p->hdr_len, st, &p->env) < 0)
		return -1;
	p->flags = (uint16_t)((p->flags & MIME_PART_MESSAGE) |
			      classify(st, p->type, p->subtype, is_digest_child(t, p->parent)));
	return 0;
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = FNV_SEED;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h;
}

static bool find_boundary(const struct mime_tree *t, const struct mime_part *p, struct mime_str *b_r)
{
	if (p->params.count == 0)
		return false;
	const struct mime_str *s = t->st.strs + p->params.first;
	for (uint32_t i = 0; i < p->params.count; i++) {
		if (str_ieq(&t->st, s[2 * i], "boundary")) {
			*b_r = s[2 * i + 1];
			return true;
		}
	}
	return false;
}

static int push_frame(struct parser *ps, uint32_t idx)
{
	struct frame *fr = &ps->fr[ps->nfr++];
	memset(fr, 0, sizeof(*fr));
	fr->part = idx;
	fr->in_header = true;
	return 0;
}

/* The header of the top frame ended at hdr_end (after its empty line). */
static int header_done(struct parser *ps, size_t hdr_end)
{
	struct mime_tree *t = ps->t;
	struct frame *fr = &ps->fr[ps->nfr - 1];
	uint32_t idx = fr->part;
	struct mime_part *p = &t->parts[idx];
	p->hdr_len = hdr_end - p->hdr_off;
	p->body_off = hdr_end;
	fr->in_header = false;
	fr->lf_at_body = ps->lf;
	if (read_header(ps, idx) < 0)
		return -1;
	p = &t->parts[idx];
	if (p->depth >= MIME_MAX_DEPTH)
		return 0;
	if ((p->flags & MIME_PART_MULTIPART) != 0) {
		if (find_boundary(t, p, &fr->bnd)) {
			fr->active = true;
			fr->bhash = fnv(t->st.pool.data + fr->bnd.off, fr->bnd.len);
			ps->n_active++;
		}
	} else if ((p->flags & MIME_PART_RFC822) != 0) {
		uint32_t c;
		if (new_part(ps, idx, hdr_end, MIME_PART_MESSAGE, &c) < 0)
			return -1;
		if (c != MIME_PART_NONE)
			return push_frame(ps, c);
	}
	return 0;
}

/* Ends the top frame's part at content_end, where lf_end LFs precede. */
static int close_top(struct parser *ps, size_t content_end, uint64_t lf_end)
{
	struct mime_tree *t = ps->t;
	struct frame *fr = &ps->fr[ps->nfr - 1];
	uint32_t idx = fr->part;
	struct mime_part *p = &t->parts[idx];
	if (fr->in_header) {
		size_t end = content_end > p->hdr_off ? content_end : p->hdr_off;
		p->hdr_len = end - p->hdr_off;
		p->body_off = end;
		if (read_header(ps, idx) < 0)
			return -1;
		p = &t->parts[idx];
		if ((p->flags & MIME_PART_RFC822) != 0 && p->depth < MIME_MAX_DEPTH) {
			/* an empty embedded message, as Dovecot shows it */
			uint32_t c;
			if (new_part(ps, idx, end, MIME_PART_MESSAGE, &c) < 0)
				return -1;
			if (c != MIME_PART_NONE) {
				if (read_header(ps, c) < 0)
					return -1;
				t->parts[c].next = t->n_parts;
			}
			p = &t->parts[idx];
		}
	} else if (content_end >= p->body_off) {
		p->body_len = content_end - p->body_off;
		p->lines = lf_end - fr->lf_at_body;
	} else {
		/* The boundary came right after the empty line ending this
		 * header: that line end belongs to the boundary (RFC 2046
		 * delimiter = CRLF "--" boundary), so the header loses it, as
		 * in Dovecot. Parts inside (an empty embedded message) move
		 * along. */
		size_t end = content_end > p->hdr_off ? content_end : p->hdr_off;
		p->hdr_len = end - p->hdr_off;
		p->body_off = end;
		for (uint32_t j = idx + 1; j < t->n_parts; j++)
			t->parts[j].hdr_off = t->parts[j].body_off = end;
	}
	p->next = t->n_parts;
	if (fr->active)
		ps->n_active--;
	ps->nfr--;
	return 0;
}

/* Index of the innermost frame whose boundary starts msg[p0 .. e), or -1. */
static int match_boundary(struct parser *ps, size_t p0, size_t e, bool *close_r)
{
	size_t L = e - p0, maxb = 0;
	for (unsigned i = 0; i < ps->nfr; i++) {
		if (ps->fr[i].active && ps->fr[i].bnd.len > maxb)
			maxb = ps->fr[i].bnd.len;
	}
	size_t m = L < maxb ? L : maxb;
	if (m + 1 > ps->ph_cap) {
		size_t cap = m + 1 < 128 ? 128 : (m + 1) * 2;
		uint64_t *n = realloc(ps->ph, cap * sizeof(*n));
		if (n == NULL)
			return -2;
		ps->ph = n;
		ps->ph_cap = cap;
	}
	uint64_t h = FNV_SEED;
	ps->ph[0] = h;
	for (size_t i = 0; i < m; i++) {
		h = (h ^ ps->msg[p0 + i]) * FNV_PRIME;
		ps->ph[i + 1] = h;
	}
	const unsigned char *pool = ps->t->st.pool.data;
	for (int i = (int)ps->nfr - 1; i >= 0; i--) {
		const struct frame *fr = &ps->fr[i];
		size_t bl = fr->bnd.len;
		if (!fr->active || bl > m || ps->ph[bl] != fr->bhash || memcmp(ps->msg + p0, pool + fr->bnd.off, bl) != 0)
			continue;
		*close_r = bl + 2 <= L && ps->msg[p0 + bl] == '-' && ps->msg[p0 + bl + 1] == '-';
		return i;
	}
	return -1;
}

/* A boundary of frame k starts the line [line, e). */
static int on_boundary(struct parser *ps, unsigned k, size_t line, size_t e, bool close)
{
	size_t eol = line == 0 ? 0 : line >= 2 && ps->msg[line - 2] == '\r' ? 2 : 1;
	/* The line end before the boundary belongs to it, unless that line
	 * end is the one of the previous boundary line (a boundary line owns
	 * its own line end: "--in--\r\n--out" leaves "--in--\r\n" inside). */
	if (line - eol < ps->last_bnd_end)
		eol = 0;
	size_t content_end = line - eol;
	uint64_t lf_end = ps->lf - (eol > 0);
	ps->last_bnd_end = e;
	while (ps->nfr - 1 > k) {
		if (close_top(ps, content_end, lf_end) < 0)
			return -1;
	}
	struct frame *fr = &ps->fr[k];
	if (close) {
		fr->active = false;
		ps->n_active--;
		return 0;
	}
	uint32_t c;
	if (new_part(ps, fr->part, e, 0, &c) < 0)
		return -1;
	return c == MIME_PART_NONE ? 0 : push_frame(ps, c);
}

static int run(struct parser *ps)
{
	const unsigned char *m = ps->msg;
	size_t pos = 0;
	uint32_t root;
	if (new_part(ps, MIME_PART_NONE, 0, MIME_PART_MESSAGE, &root) < 0 || push_frame(ps, root) < 0)
		return -1;
	while (pos < ps->len) {
		const unsigned char *nl = memchr(m + pos, '\n', ps->len - pos);
		size_t e = nl != NULL ? (size_t)(nl - m) + 1 : ps->len;
		bool has_lf = nl != NULL;
		if (ps->n_active > 0 && e - pos >= 2 && m[pos] == '-' && m[pos + 1] == '-') {
			bool close = false;
			int k = match_boundary(ps, pos + 2, e, &close);
			if (k < -1)
				return -1;
			if (k >= 0) {
				if (on_boundary(ps, (unsigned)k, pos, e, close) < 0)
					return -1;
				ps->lf += has_lf;
				pos = e;
				continue;
			}
		}
		ps->lf += has_lf;
		if (ps->fr[ps->nfr - 1].in_header && (m[pos] == '\n' || (m[pos] == '\r' && e - pos == 2 && has_lf))) {
			if (header_done(ps, e) < 0)
				return -1;
		}
		pos = e;
		report_progress(ps, pos);
	}
	while (ps->nfr > 0) {
		if (close_top(ps, ps->len, ps->lf) < 0)
			return -1;
	}
	return 0;
}

int mime_parse(const unsigned char *msg, size_t len, struct mime_tree **tree_r)
{
	return mime_parse_progress(msg, len, NULL, NULL, tree_r);
}

int mime_parse_progress(const unsigned char *msg, size_t len, mime_parse_progress_fn *progress, void *ctx,
			struct mime_tree **tree_r)
{
	struct parser ps;
	*tree_r = NULL;
	memset(&ps, 0, sizeof(ps));
	ps.progress = progress;
	ps.progress_ctx = ctx;
	ps.msg = msg != NULL ? msg : (const unsigned char *)"";
	ps.len = msg != NULL ? len : 0;
	ps.t = calloc(1, sizeof(*ps.t));
	if (ps.t == NULL)
		return -1;
	ps.t->msg_size = ps.len;
	ps.t->st.budget = MIME_MAX_ENTRIES;
	/* the pool is never empty, so string pointers are never NULL + 0 */
	int ret = buf_reserve(&ps.t->st.pool, 256) < 0 ? -1 : run(&ps);
	free(ps.ph);
	buf_free(&ps.val);
	if (ret < 0) {
		mime_tree_free(&ps.t);
		return -1;
	}
	*tree_r = ps.t;
	return 0;
}

void mime_tree_free(struct mime_tree **tree)
{
	if (*tree == NULL)
		return;
	free((*tree)->parts);
	mime_store_free(&(*tree)->st);
	free(*tree);
	*tree = NULL;
}

const unsigned char *mime_tree_str(const struct mime_tree *tree, struct mime_str s, size_t *len_r)
{
	return mime_store_get(&tree->st, s, len_r);
}

/* ---- serialised form --------------------------------------------------- */

#define HDR_SIZE 28
#define PART_REC 224

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
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
static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The strings and lists of a part record, in record order. */
#define N_STRS 12
#define N_LISTS 9
static void part_refs(struct mime_part *p, struct mime_str **s, struct mime_list **l)
{
	struct mime_str *ss[N_STRS] = {&p->type,	&p->subtype,	 &p->id,	    &p->description,
				       &p->encoding,	&p->md5,	 &p->disposition,   &p->location,
				       &p->env.date,	&p->env.subject, &p->env.in_reply_to, &p->env.message_id};
	struct mime_list *ll[N_LISTS] = {&p->params, &p->disp_params, &p->language};
	for (int i = 0; i < IMAP_ENV_ADDR_FIELDS; i++)
		ll[3 + i] = &p->env.addr[i];
	memcpy(s, ss, sizeof(ss));
	memcpy(l, ll, sizeof(ll));
}

int mime_tree_serialize(const struct mime_tree *tree, struct buf *out)
{
	size_t n = tree->n_parts, ns = tree->st.n_strs, pl = tree->st.pool.len;
	if (n > MIME_MAX_PARTS || ns > UINT32_MAX / 8 || pl >= UINT32_MAX)
		return -1;
	size_t total = HDR_SIZE + n * PART_REC + ns * 8 + pl;
	if (buf_reserve(out, total) < 0)
		return -1;
	unsigned char *o = out->data + out->len;
	memcpy(o, "MIMT", 4);
	o[4] = MIME_TREE_VERSION;
	o[5] = o[6] = o[7] = 0;
	put64(o + 8, tree->msg_size);
	put32(o + 16, (uint32_t)n);
	put32(o + 20, (uint32_t)ns);
	put32(o + 24, (uint32_t)pl);
	o += HDR_SIZE;
	for (size_t i = 0; i < n; i++) {
		struct mime_part p = tree->parts[i];
		struct mime_str *s[N_STRS];
		struct mime_list *l[N_LISTS];
		part_refs(&p, s, l);
		put32(o, p.parent);
		put32(o + 4, p.next);
		put32(o + 8, p.n_children);
		put16(o + 12, p.depth);
		put16(o + 14, p.flags);
		put64(o + 16, p.hdr_off);
		put64(o + 24, p.hdr_len);
		put64(o + 32, p.body_off);
		put64(o + 40, p.body_len);
		put64(o + 48, p.lines);
		unsigned char *q = o + 56;
		for (int k = 0; k < N_STRS; k++, q += 8) {
			put32(q, s[k]->off);
			put32(q + 4, s[k]->len);
		}
		for (int k = 0; k < N_LISTS; k++, q += 8) {
			put32(q, l[k]->first);
			put32(q + 4, l[k]->count);
		}
		o += PART_REC;
	}
	for (size_t i = 0; i < ns; i++, o += 8) {
		put32(o, tree->st.strs[i].off);
		put32(o + 4, tree->st.strs[i].len);
	}
	if (pl > 0)
		memcpy(o, tree->st.pool.data, pl);
	out->len += total;
	out->data[out->len] = '\0';
	return 0;
}

static bool str_ok(struct mime_str s, uint64_t pool_len)
{
	if (s.off == MIME_STR_NIL)
		return s.len == 0;
	return (uint64_t)s.off + s.len <= pool_len;
}

static bool range_in(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
	return off >= lo && off <= hi && len <= hi - off;
}

static bool part_ok(const struct mime_tree *t, uint32_t i)
{
	static const uint32_t k[N_LISTS] = {2, 2, 1, 4, 4, 4, 4, 4, 4};
	struct mime_part p = t->parts[i];
	struct mime_str *s[N_STRS];
	struct mime_list *l[N_LISTS];
	part_refs(&p, s, l);
	for (int j = 0; j < N_STRS; j++) {
		if (!str_ok(*s[j], t->st.pool.len))
			return false;
	}
	for (int j = 0; j < N_LISTS; j++) {
		if ((uint64_t)l[j]->first + (uint64_t)l[j]->count * k[j] > t->st.n_strs)
			return false;
	}
	if ((p.flags & ~(unsigned)(MIME_PART_MESSAGE | MIME_PART_MULTIPART | MIME_PART_RFC822 | MIME_PART_TEXT)) != 0)
		return false;
	bool parent_rfc822 = p.parent != MIME_PART_NONE && (t->parts[p.parent].flags & MIME_PART_RFC822) != 0;
	if (((p.flags & MIME_PART_MESSAGE) != 0) != (i == 0 || parent_rfc822))
		return false;
	uint16_t kind = p.flags & (MIME_PART_MULTIPART | MIME_PART_RFC822 | MIME_PART_TEXT);
	if (kind != classify(&t->st, p.type, p.subtype, is_digest_child(t, p.parent)))
		return false;
	if ((kind & MIME_PART_MULTIPART) == 0 && p.n_children > ((kind & MIME_PART_RFC822) != 0 ? 1u : 0u))
		return false;
	if (p.hdr_len > UINT64_MAX - p.hdr_off || p.body_off != p.hdr_off + p.hdr_len || p.lines > p.body_len)
		return false;
	if (p.parent == MIME_PART_NONE)
		return p.hdr_off == 0 && range_in(p.body_off, p.body_len, 0, t->msg_size) &&
		       p.body_off + p.body_len == t->msg_size;
	const struct mime_part *par = &t->parts[p.parent];
	uint64_t lo = par->body_off, hi = par->body_off + par->body_len;
	return range_in(p.hdr_off, p.hdr_len, lo, hi) && range_in(p.body_off, p.body_len, lo, hi);
}

/* Checks the pre-order shape: parents, subtree ends, depths, child counts. */
static bool shape_ok(const struct mime_tree *t)
{
	uint32_t stack[MIME_MAX_DEPTH + 1];
	unsigned sp = 0;
	uint32_t n = t->n_parts;
	const struct mime_part *r = &t->parts[0];
	if (r->parent != MIME_PART_NONE || r->depth != 0 || r->next != n)
		return false;
	uint32_t *kids = calloc(n, sizeof(*kids));
	if (kids == NULL)
		return false;
	bool ok = true;
	stack[sp++] = 0;
	for (uint32_t i = 1; i < n && ok; i++) {
		const struct mime_part *p = &t->parts[i];
		while (sp > 0 && t->parts[stack[sp - 1]].next <= i)
			sp--;
		if (sp == 0) {
			ok = false;
			break;
		}
		uint32_t top = stack[sp - 1];
		ok = p->parent == top && p->depth == t->parts[top].depth + 1 && p->depth <= MIME_MAX_DEPTH &&
		     p->next > i && p->next <= t->parts[top].next && sp <= MIME_MAX_DEPTH;
		if (ok) {
			kids[top]++;
			stack[sp++] = i;
		}
	}
	for (uint32_t i = 0; i < n && ok; i++)
		ok = kids[i] == t->parts[i].n_children;
	free(kids);
	return ok;
}

int mime_tree_deserialize(const unsigned char *p, size_t len, struct mime_tree **tree_r)
{
	*tree_r = NULL;
	if (len < HDR_SIZE || memcmp(p, "MIMT", 4) != 0 || p[4] != MIME_TREE_VERSION || p[5] != 0 || p[6] != 0 ||
	    p[7] != 0)
		return -1;
	uint64_t msg_size = get64(p + 8);
	uint32_t n = get32(p + 16), ns = get32(p + 20), pl = get32(p + 24);
	if (n == 0 || n > MIME_MAX_PARTS || ns > MIME_MAX_ENTRIES || pl == UINT32_MAX ||
	    (uint64_t)HDR_SIZE + (uint64_t)n * PART_REC + (uint64_t)ns * 8 + pl != len)
		return -1;
	struct mime_tree *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -1;
	t->msg_size = msg_size;
	t->parts = calloc(n, sizeof(*t->parts));
	t->st.strs = calloc(ns > 0 ? ns : 1, sizeof(*t->st.strs));
	if (t->parts == NULL || t->st.strs == NULL)
		goto fail;
	t->n_parts = n;
	const unsigned char *q = p + HDR_SIZE + (size_t)n * PART_REC;
	for (uint32_t i = 0; i < ns; i++, q += 8)
		t->st.strs[i] = (struct mime_str){get32(q), get32(q + 4)};
	t->st.n_strs = t->st.cap_strs = ns;
	if (buf_reserve(&t->st.pool, pl) < 0 || buf_append(&t->st.pool, q, pl) < 0)
		goto fail;
	for (uint32_t i = 0; i < ns; i++) {
		if (!str_ok(t->st.strs[i], pl))
			goto fail;
	}
	q = p + HDR_SIZE;
	for (uint32_t i = 0; i < n; i++, q += PART_REC) {
		struct mime_part *pt = &t->parts[i];
		struct mime_str *s[N_STRS];
		struct mime_list *l[N_LISTS];
		part_refs(pt, s, l);
		pt->parent = get32(q);
		pt->next = get32(q + 4);
		pt->n_children = get32(q + 8);
		pt->depth = get16(q + 12);
		pt->flags = get16(q + 14);
		pt->hdr_off = get64(q + 16);
		pt->hdr_len = get64(q + 24);
		pt->body_off = get64(q + 32);
		pt->body_len = get64(q + 40);
		pt->lines = get64(q + 48);
		const unsigned char *r = q + 56;
		for (int k = 0; k < N_STRS; k++, r += 8)
			*s[k] = (struct mime_str){get32(r), get32(r + 4)};
		for (int k = 0; k < N_LISTS; k++, r += 8)
			*l[k] = (struct mime_list){get32(r), get32(r + 4)};
		/* parents come first in pre-order, so part_ok can look at them */
		if (pt->parent != MIME_PART_NONE && pt->parent >= i)
			goto fail;
	}
	if (!shape_ok(t))
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		if (!part_ok(t, i))
			goto fail;
	}
	*tree_r = t;
	return 0;
fail:
	mime_tree_free(&t);
	return -1;
}

/* ---- sections ------------------------------------------------------------ */

void mime_section_clear(struct mime_section *sec)
{
	for (size_t i = 0; i < sec->n_fields; i++)
		free(sec->fields[i]);
	free(sec->fields);
	free(sec->quoted);
	free(sec->path);
	memset(sec, 0, sizeof(*sec));
}

static bool kw(const char *s, size_t len, size_t *i, const char *word)
{
	size_t n = strlen(word);
	if (len - *i < n || strncasecmp(s + *i, word, n) != 0)
		return false;
	*i += n;
	return true;
}

static bool is_field_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\", c) == NULL;
}

/* " (" name *(SP name) ")" at the end of s. */
static int parse_fields(const char *s, size_t len, size_t i, struct mime_section *sec)
{
	if (i >= len || s[i] != ' ')
		return -1;
	while (i < len && s[i] == ' ')
		i++;
	if (i >= len || s[i] != '(')
		return -1;
	i++;
	size_t cap = 0;
	struct buf name = {0};
	int ret = -1;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			goto out;
		if (s[i] == ')') {
			i++;
			break;
		}
		if (sec->n_fields > 0 && s[i - 1] != ' ')
			goto out; /* names are separated by SP */
		buf_reset(&name);
		bool quoted = s[i] == '"';
		if (quoted) {
			for (i++;; i++) {
				if (i >= len)
					goto out;
				unsigned char c = (unsigned char)s[i];
				if (c == '"')
					break;
				if (c == '\\') {
					if (++i >= len || (s[i] != '"' && s[i] != '\\'))
						goto out;
					c = (unsigned char)s[i];
				} else if (c < 0x20 || c >= 0x7f) {
					goto out;
				}
				if (buf_append_byte(&name, c) < 0)
					goto out;
			}
			i++;
		} else {
			size_t st = i;
			while (i < len && is_field_char((unsigned char)s[i]))
				i++;
			if (i == st || buf_append(&name, s + st, i - st) < 0)
				goto out;
		}
		if (sec->n_fields == MIME_SECTION_MAX_FIELDS)
			goto out;
		if (sec->n_fields == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			char **nf = realloc(sec->fields, cap * sizeof(*nf));
			if (nf == NULL)
				goto out;
			sec->fields = nf;
			bool *nq = realloc(sec->quoted, cap * sizeof(*nq));
			if (nq == NULL)
				goto out;
			sec->quoted = nq;
		}
		sec->quoted[sec->n_fields] = quoted;
		size_t nl;
		char *copy = (char *)buf_steal(&name, &nl);
		if (copy == NULL)
			goto out;
		sec->fields[sec->n_fields++] = copy;
	}
	if (i == len && sec->n_fields > 0)
		ret = 0;
out:
	buf_free(&name);
	return ret;
}

int mime_section_parse(const char *s, size_t len, struct mime_section *sec_r)
{
	memset(sec_r, 0, sizeof(*sec_r));
	size_t i = 0;
	bool need_text = false;
	if (i < len && s[i] >= '0' && s[i] <= '9') {
		sec_r->path = malloc(MIME_SECTION_MAX_PATH * sizeof(*sec_r->path));
		if (sec_r->path == NULL)
			return -1;
		for (;;) {
			if (i >= len || s[i] < '1' || s[i] > '9' || sec_r->path_len == MIME_SECTION_MAX_PATH)
				goto fail;
			uint64_t v = 0;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				v = v * 10 + (uint64_t)(s[i++] - '0');
				if (v > UINT32_MAX)
					goto fail;
			}
			sec_r->path[sec_r->path_len++] = (uint32_t)v;
			if (i == len)
				break;
			if (s[i++] != '.')
				goto fail;
			if (i < len && s[i] >= '0' && s[i] <= '9')
				continue;
			need_text = true;
			break;
		}
	}
	if (i == len) {
		if (need_text)
			goto fail;
		sec_r->text = MIME_SECTION_BODY;
		return 0;
	}
	if (kw(s, len, &i, "HEADER.FIELDS.NOT")) {
		sec_r->text = MIME_SECTION_HEADER_FIELDS_NOT;
	} else if (kw(s, len, &i, "HEADER.FIELDS")) {
		sec_r->text = MIME_SECTION_HEADER_FIELDS;
	} else if (kw(s, len, &i, "HEADER")) {
		sec_r->text = MIME_SECTION_HEADER;
	} else if (kw(s, len, &i, "TEXT")) {
		sec_r->text = MIME_SECTION_TEXT;
	} else if (sec_r->path_len > 0 && kw(s, len, &i, "MIME")) {
		sec_r->text = MIME_SECTION_MIME;
	} else {
		goto fail;
	}
	if (sec_r->text == MIME_SECTION_HEADER_FIELDS || sec_r->text == MIME_SECTION_HEADER_FIELDS_NOT) {
		if (parse_fields(s, len, i, sec_r) < 0)
			goto fail;
	} else if (i != len) {
		goto fail;
	}
	return 0;
fail:
	mime_section_clear(sec_r);
	return -1;
}

int mime_section_write(struct buf *out, const struct mime_section *sec)
{
	static const char *const names[] = {"", "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"};
	for (size_t i = 0; i < sec->path_len; i++) {
		if (buf_printf(out, i > 0 ? ".%u" : "%u", (unsigned)sec->path[i]) < 0)
			return -1;
	}
	if (sec->text != MIME_SECTION_BODY &&
	    ((sec->path_len > 0 && buf_append_byte(out, '.') < 0) || buf_append_str(out, names[sec->text]) < 0))
		return -1;
	if (sec->text != MIME_SECTION_HEADER_FIELDS && sec->text != MIME_SECTION_HEADER_FIELDS_NOT)
		return 0;
	if (buf_append_str(out, " (") < 0)
		return -1;
	for (size_t i = 0; i < sec->n_fields; i++) {
		size_t n = strlen(sec->fields[i]);
		char *up = malloc(n + 1);
		if (up == NULL)
			return -1;
		for (size_t j = 0; j <= n; j++)
			up[j] = sec->fields[i][j] >= 'a' && sec->fields[i][j] <= 'z' ? (char)(sec->fields[i][j] - 32)
										       : sec->fields[i][j];
		int r = (i > 0 ? buf_append_byte(out, ' ') : 0) < 0 ? -1
			: sec->quoted[i]				    ? imap_write_quoted_or_literal(out, up, n)
									    : imap_write_astring(out, up, n);
		free(up);
		if (r < 0)
			return -1;
	}
	return buf_append_byte(out, ')');
}

bool mime_part_by_path(const struct mime_tree *tree, const uint32_t *path, size_t path_len, uint32_t *idx_r)
{
	const struct mime_part *parts = tree->parts;
	uint32_t cur = 0;
	for (size_t i = 0; i < path_len; i++) {
		uint32_t n = path[i];
		bool more = i + 1 < path_len;
		if ((parts[cur].flags & MIME_PART_MULTIPART) != 0) {
			if (n == 0 || n > parts[cur].n_children)
				return false; /* parts count from 1 (0 would be the first child, or past the tree) */
			uint32_t c = cur + 1;
			for (uint32_t k = 1; k < n; k++)
				c = parts[c].next;
			cur = c;
		} else if (n != 1 || (more && (parts[cur].flags & MIME_PART_RFC822) == 0)) {
			/* a single-part body is its own part 1, and only a
			 * message/rfc822 has parts below it */
			return false;
		}
		if (more && (parts[cur].flags & MIME_PART_RFC822) != 0) {
			if (parts[cur].n_children == 0)
				return false;
			cur++;
		}
	}
	*idx_r = cur;
	return true;
}

bool mime_section_locate(const struct mime_tree *tree, const struct mime_section *sec, uint64_t *off_r, uint64_t *len_r)
{
	uint32_t cur;
	*off_r = *len_r = 0;
	if (!mime_part_by_path(tree, sec->path, sec->path_len, &cur))
		return false;
	const struct mime_part *p = &tree->parts[cur];
	switch (sec->text) {
	case MIME_SECTION_BODY:
		if (sec->path_len == 0) {
			*len_r = tree->msg_size;
			return true;
		}
		*off_r = p->body_off;
		*len_r = p->body_len;
		return true;
	case MIME_SECTION_MIME:
		*off_r = p->hdr_off;
		*len_r = p->hdr_len;
		return true;
	default:
		break;
	}
	if (sec->path_len > 0) {
		/* HEADER / TEXT of an embedded message/rfc822 */
		if ((p->flags & MIME_PART_RFC822) == 0 || p->n_children == 0)
			return false;
		p++;
	}
	if (sec->text == MIME_SECTION_TEXT) {
		*off_r = p->body_off;
		*len_r = p->body_len;
	} else {
		*off_r = p->hdr_off;
		*len_r = p->hdr_len;
	}
	return true;
}

int mime_section_find(const struct mime_tree *tree, const char *spec, size_t len, struct mime_section *sec_r,
		      uint64_t *off_r, uint64_t *len_r)
{
	*off_r = *len_r = 0;
	if (mime_section_parse(spec, len, sec_r) < 0)
		return -1;
	return mime_section_locate(tree, sec_r, off_r, len_r) ? 1 : 0;
}

int mime_section_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		       const struct mime_section *sec)
{
	uint64_t off, len;
	if (!mime_section_locate(tree, sec, &off, &len))
		return 0;
	if (off > msg_len)
		off = len = 0;
	if (len > msg_len - off)
		len = msg_len - off;
	if (sec->text == MIME_SECTION_HEADER_FIELDS || sec->text == MIME_SECTION_HEADER_FIELDS_NOT)
		return mime_header_filter(out, msg + off, (size_t)len, sec->fields, sec->n_fields,
					  sec->text == MIME_SECTION_HEADER_FIELDS_NOT);
	return buf_append(out, msg + off, (size_t)len);
}
