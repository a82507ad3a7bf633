/* mime-binary: Content-Transfer-Encoding removal for FETCH BINARY. See mime-binary.h. */
#include "mime-binary.h"

#include "mime-decode.h"
#include "mime-header.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum mime_cte part_cte(const struct mime_tree *tree, const struct mime_part *p)
{
	size_t len;
	const unsigned char *e = mime_tree_str(tree, p->encoding, &len);
	return mime_cte_parse(e, e != NULL ? len : 0);
}

static bool is_leaf(const struct mime_part *p)
{
	return (p->flags & (MIME_PART_MULTIPART | MIME_PART_RFC822)) == 0;
}

/* msg[off .. off+len) clamped to msg_len. */
static void clamp(size_t msg_len, uint64_t *off, uint64_t *len)
{
	if (*off > msg_len)
		*off = msg_len;
	if (*len > msg_len - *off)
		*len = msg_len - *off;
}

static int decode_body(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		       const struct mime_part *p, enum mime_cte cte)
{
	uint64_t off = p->body_off, len = p->body_len;
	clamp(msg_len, &off, &len);
	if (cte == MIME_CTE_IDENTITY)
		return buf_append(out, msg + off, (size_t)len);
	size_t el;
	const unsigned char *e = mime_tree_str(tree, p->encoding, &el);
	return mime_decode_text(out, msg + off, (size_t)len, (const char *)e, el, NULL, 0, SIZE_MAX);
}

int mime_binary_rewrite_header(struct buf *out, const unsigned char *h, size_t len)
{
	struct mime_header_iter it;
	struct mime_header_field f;
	size_t pos = 0;
	mime_header_iter_init(&it, h, len, 0);
	while (mime_header_iter_next(&it, &f)) {
		if (!f.has_colon || !mime_header_name_is(h, &f, "Content-Transfer-Encoding"))
			continue;
		if (buf_append(out, h + pos, f.off - pos) < 0 ||
		    buf_append_str(out, "Content-Transfer-Encoding: binary") < 0)
			return -1;
		const char *eol = f.len >= 2 && h[f.off + f.len - 2] == '\r' && h[f.off + f.len - 1] == '\n' ? "\r\n"
				  : f.len >= 1 && h[f.off + f.len - 1] == '\n'				? "\n"
													: "";
		if (buf_append_str(out, eol) < 0)
			return -1;
		pos = f.off + f.len;
	}
	return buf_append(out, h + pos, len - pos);
}

/* msg[off .. end) with the leaves parts[first .. last) that carry an
 * encoding decoded in place (their header rewritten). */
static int convert(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		   uint32_t first, uint32_t last, uint64_t off, uint64_t end)
{
	uint64_t pos = off;
	for (uint32_t i = first; i < last; i++) {
		const struct mime_part *p = &tree->parts[i];
		if (!is_leaf(p))
			continue;
		enum mime_cte cte = part_cte(tree, p);
		if (cte == MIME_CTE_UNKNOWN)
			return MIME_BINARY_UNKNOWN_CTE;
		uint64_t hoff = p->hdr_off, hlen = p->hdr_len;
		clamp(msg_len, &hoff, &hlen);
		if (cte == MIME_CTE_IDENTITY || hoff < pos || hoff + hlen > end)
			continue;
		if (buf_append(out, msg + pos, (size_t)(hoff - pos)) < 0 ||
		    mime_binary_rewrite_header(out, msg + hoff, (size_t)hlen) < 0 ||
		    decode_body(out, msg, msg_len, tree, p, cte) < 0)
			return MIME_BINARY_NOMEM;
		uint64_t boff = p->body_off, blen = p->body_len;
		clamp(msg_len, &boff, &blen);
		pos = boff + blen > pos ? boff + blen : pos;
	}
	if (pos < end && buf_append(out, msg + pos, (size_t)(end - pos)) < 0)
		return MIME_BINARY_NOMEM;
	return MIME_BINARY_OK;
}

int mime_binary_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
		      const uint32_t *path, size_t path_len)
{
	uint32_t idx;
	if (tree == NULL || tree->n_parts == 0 || !mime_part_by_path(tree, path, path_len, &idx))
		return MIME_BINARY_OK;
	const struct mime_part *p = &tree->parts[idx];
	if (path_len == 0) {
		uint64_t off = 0, len = tree->msg_size;
		clamp(msg_len, &off, &len);
		return convert(out, msg, msg_len, tree, 0, p->next, 0, len);
	}
	if (is_leaf(p)) {
		enum mime_cte cte = part_cte(tree, p);
		if (cte == MIME_CTE_UNKNOWN)
			return MIME_BINARY_UNKNOWN_CTE;
		return decode_body(out, msg, msg_len, tree, p, cte) < 0 ? MIME_BINARY_NOMEM : MIME_BINARY_OK;
	}
	uint64_t off = p->body_off, len = p->body_len;
	clamp(msg_len, &off, &len);
	return convert(out, msg, msg_len, tree, idx + 1, p->next, off, off + len);
}

int mime_binary_locate(const struct mime_tree *tree, const uint32_t *path, size_t path_len, uint64_t msg_len,
		       enum mime_binary_kind *kind_r, uint64_t *off_r, uint64_t *len_r, enum mime_cte *cte_r)
{
	uint32_t idx;
	*kind_r = MIME_BINARY_LEAF;
	*off_r = *len_r = 0;
	*cte_r = MIME_CTE_IDENTITY;
	if (tree == NULL || tree->n_parts == 0 || !mime_part_by_path(tree, path, path_len, &idx))
		return MIME_BINARY_OK;
	const struct mime_part *p = &tree->parts[idx];
	if (path_len > 0 && is_leaf(p)) {
		*cte_r = part_cte(tree, p);
		if (*cte_r == MIME_CTE_UNKNOWN)
			return MIME_BINARY_UNKNOWN_CTE;
		uint64_t off = p->body_off, len = p->body_len;
		clamp(msg_len, &off, &len);
		*off_r = off;
		*len_r = len;
		return MIME_BINARY_OK;
	}
	/* As convert(): every leaf of the range must be decodable. */
	for (uint32_t i = path_len == 0 ? 0 : idx + 1; i < p->next; i++)
		if (is_leaf(&tree->parts[i]) && part_cte(tree, &tree->parts[i]) == MIME_CTE_UNKNOWN)
			return MIME_BINARY_UNKNOWN_CTE;
	*kind_r = MIME_BINARY_CONVERT;
	return MIME_BINARY_OK;
}

/* ---- the same answer as pieces (mime_binary_plan) ---------------------------- */

struct plan {
	struct mime_binary_piece *p;
	size_t n;
};

static void plan_add(struct plan *pl, enum mime_piece_kind kind, enum mime_cte cte, uint64_t off, uint64_t len)
{
	if (len == 0)
		return;
	struct mime_binary_piece *last = pl->n > 0 ? &pl->p[pl->n - 1] : NULL;
	if (kind == MIME_PIECE_COPY && last != NULL && last->kind == MIME_PIECE_COPY && last->off + last->len == off) {
		last->len += len; /* adjacent copies are one */
		return;
	}
	pl->p[pl->n++] = (struct mime_binary_piece){.kind = (uint8_t)kind, .cte = (uint8_t)cte, .off = off, .len = len};
}

/* convert(), planned: the same walk, pieces instead of bytes. */
static int plan_convert(struct plan *pl, uint64_t msg_len, const struct mime_tree *tree, uint32_t first,
			uint32_t last, uint64_t off, uint64_t end)
{
	uint64_t pos = off;
	for (uint32_t i = first; i < last; i++) {
		const struct mime_part *p = &tree->parts[i];
		if (!is_leaf(p))
			continue;
		enum mime_cte cte = part_cte(tree, p);
		if (cte == MIME_CTE_UNKNOWN)
			return MIME_BINARY_UNKNOWN_CTE;
		uint64_t hoff = p->hdr_off, hlen = p->hdr_len;
		clamp((size_t)msg_len, &hoff, &hlen);
		if (cte == MIME_CTE_IDENTITY || hoff < pos || hoff + hlen > end)
			continue;
		uint64_t boff = p->body_off, blen = p->body_len;
		clamp((size_t)msg_len, &boff, &blen);
		plan_add(pl, MIME_PIECE_COPY, MIME_CTE_IDENTITY, pos, hoff - pos);
		plan_add(pl, MIME_PIECE_HEADER, MIME_CTE_IDENTITY, hoff, hlen);
		plan_add(pl, MIME_PIECE_DECODE, cte, boff, blen);
		pos = boff + blen > pos ? boff + blen : pos;
	}
	if (pos < end)
		plan_add(pl, MIME_PIECE_COPY, MIME_CTE_IDENTITY, pos, end - pos);
	return MIME_BINARY_OK;
}

int mime_binary_plan(const struct mime_tree *tree, const uint32_t *path, size_t path_len, uint64_t msg_len,
		     struct mime_binary_piece **pieces_r, size_t *n_r)
{
	uint32_t idx;
	*pieces_r = NULL;
	*n_r = 0;
	if (msg_len > SIZE_MAX)
		msg_len = SIZE_MAX;
	if (tree == NULL || tree->n_parts == 0 || !mime_part_by_path(tree, path, path_len, &idx))
		return MIME_BINARY_OK;
	const struct mime_part *p = &tree->parts[idx];
	struct plan pl = {.p = calloc((size_t)tree->n_parts * 3 + 1, sizeof(*pl.p))};
	if (pl.p == NULL)
		return MIME_BINARY_NOMEM;
	int rc = MIME_BINARY_OK;
	if (path_len == 0) {
		uint64_t off = 0, len = tree->msg_size;
		clamp((size_t)msg_len, &off, &len);
		rc = plan_convert(&pl, msg_len, tree, 0, p->next, 0, len);
	} else if (is_leaf(p)) {
		enum mime_cte cte = part_cte(tree, p);
		uint64_t off = p->body_off, len = p->body_len;
		clamp((size_t)msg_len, &off, &len);
		if (cte == MIME_CTE_UNKNOWN)
			rc = MIME_BINARY_UNKNOWN_CTE;
		else if (cte == MIME_CTE_IDENTITY)
			plan_add(&pl, MIME_PIECE_COPY, MIME_CTE_IDENTITY, off, len);
		else
			plan_add(&pl, MIME_PIECE_DECODE, cte, off, len);
	} else {
		uint64_t off = p->body_off, len = p->body_len;
		clamp((size_t)msg_len, &off, &len);
		rc = plan_convert(&pl, msg_len, tree, idx + 1, p->next, off, off + len);
	}
	if (rc != MIME_BINARY_OK || pl.n == 0) {
		free(pl.p);
		return rc;
	}
	*pieces_r = pl.p;
	*n_r = pl.n;
	return MIME_BINARY_OK;
}

/* ---- the other section kinds: cuts of the same plans ------------------------ */

/* Drops what the plan pieces p[0 .. *n) give for the stored bytes before
 * from (a header's end): pieces wholly before it go, a copy across it is
 * cut there. Only a copy can cross a part's header end (a rewritten header
 * is exactly a leaf's header, a decoded body starts after it). */
static void plan_cut(struct mime_binary_piece *p, size_t *n, uint64_t from)
{
	size_t k = 0;
	for (size_t i = 0; i < *n; i++) {
		struct mime_binary_piece q = p[i];
		if (q.off + q.len <= from)
			continue;
		if (q.off < from) {
			if (q.kind != MIME_PIECE_COPY)
				continue;
			q.len -= from - q.off;
			q.off = from;
		}
		p[k++] = q;
	}
	*n = k;
}

static int plan_one(enum mime_piece_kind kind, uint64_t off, uint64_t len, uint64_t msg_len,
		    struct mime_binary_piece **pieces_r, size_t *n_r)
{
	clamp((size_t)msg_len, &off, &len);
	if (len == 0)
		return MIME_BINARY_OK;
	*pieces_r = calloc(1, sizeof(**pieces_r));
	if (*pieces_r == NULL)
		return MIME_BINARY_NOMEM;
	**pieces_r = (struct mime_binary_piece){.kind = (uint8_t)kind, .cte = MIME_CTE_IDENTITY, .off = off, .len = len};
	*n_r = 1;
	return MIME_BINARY_OK;
}

int mime_binary_section_plan(const struct mime_tree *tree, const struct mime_section *sec, uint64_t msg_len,
			     struct mime_binary_piece **pieces_r, size_t *n_r)
{
	uint32_t idx;
	*pieces_r = NULL;
	*n_r = 0;
	if (msg_len > SIZE_MAX)
		msg_len = SIZE_MAX;
	if (sec->text == MIME_SECTION_BODY)
		return mime_binary_plan(tree, sec->path, sec->path_len, msg_len, pieces_r, n_r);
	if (tree == NULL || tree->n_parts == 0 || !mime_part_by_path(tree, sec->path, sec->path_len, &idx))
		return MIME_BINARY_OK;
	const struct mime_part *p = &tree->parts[idx];
	switch (sec->text) {
	case MIME_SECTION_MIME:
		/* As BINARY[] shows it: a leaf it decodes has its header rewritten. */
		if (is_leaf(p)) {
			enum mime_cte cte = part_cte(tree, p);
			if (cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP)
				return plan_one(MIME_PIECE_HEADER, p->hdr_off, p->hdr_len, msg_len, pieces_r, n_r);
		}
		return plan_one(MIME_PIECE_COPY, p->hdr_off, p->hdr_len, msg_len, pieces_r, n_r);
	case MIME_SECTION_TEXT: {
		/* BINARY[] or BINARY[path] without the message's own header. */
		const struct mime_part *m = p;
		if (sec->path_len > 0) {
			if ((p->flags & MIME_PART_RFC822) == 0 || p->n_children == 0)
				return MIME_BINARY_OK; /* as BODY[n.TEXT]: empty */
			m = p + 1;
		}
		int rc = mime_binary_plan(tree, sec->path, sec->path_len, msg_len, pieces_r, n_r);
		if (rc != MIME_BINARY_OK)
			return rc;
		plan_cut(*pieces_r, n_r, m->body_off);
		if (*n_r == 0) {
			free(*pieces_r);
			*pieces_r = NULL;
		}
		return MIME_BINARY_OK;
	}
	default: {
		/* HEADER of a message whose body is one leaf BINARY decodes: that
		 * header is the leaf's MIME header, shown as BINARY[] shows it
		 * (rewritten), so HEADER, n.MIME and BINARY[] agree. Any other
		 * header is BODY's bytes (and a HEADER.FIELDS(.NOT) plan is the
		 * header its filter reads). */
		const struct mime_part *m = sec->path_len > 0 && (p->flags & MIME_PART_RFC822) && p->n_children > 0 ? p + 1 : p;
		if (sec->text == MIME_SECTION_HEADER && (sec->path_len == 0 || m != p) && is_leaf(m)) {
			enum mime_cte cte = part_cte(tree, m);
			if (cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP)
				return plan_one(MIME_PIECE_HEADER, m->hdr_off, m->hdr_len, msg_len, pieces_r, n_r);
		}
		uint64_t off, len;
		if (!mime_section_locate(tree, sec, &off, &len))
			return MIME_BINARY_OK;
		return plan_one(MIME_PIECE_COPY, off, len, msg_len, pieces_r, n_r);
	}
	}
}

int mime_binary_section_fetch(struct buf *out, const unsigned char *msg, size_t msg_len, const struct mime_tree *tree,
			      const struct mime_section *sec)
{
	if (sec->text == MIME_SECTION_BODY)
		return mime_binary_fetch(out, msg, msg_len, tree, sec->path, sec->path_len);
	if (sec->text == MIME_SECTION_HEADER_FIELDS || sec->text == MIME_SECTION_HEADER_FIELDS_NOT) {
		if (tree == NULL || tree->n_parts == 0)
			return MIME_BINARY_OK;
		return mime_section_fetch(out, msg, msg_len, tree, sec) < 0 ? MIME_BINARY_NOMEM : MIME_BINARY_OK;
	}
	/* The plan run over the bytes: the large path's answer by construction. */
	struct mime_binary_piece *pc = NULL;
	size_t n = 0;
	int rc = mime_binary_section_plan(tree, sec, msg_len, &pc, &n);
	for (size_t i = 0; rc == MIME_BINARY_OK && i < n; i++) {
		const unsigned char *p = msg + pc[i].off;
		size_t len = (size_t)pc[i].len;
		int r;
		if (pc[i].kind == MIME_PIECE_COPY)
			r = buf_append(out, p, len);
		else if (pc[i].kind == MIME_PIECE_HEADER)
			r = mime_binary_rewrite_header(out, p, len);
		else if (pc[i].cte == MIME_CTE_BASE64)
			r = mime_decode_text(out, p, len, "base64", 6, NULL, 0, SIZE_MAX);
		else
			r = mime_decode_text(out, p, len, "quoted-printable", 16, NULL, 0, SIZE_MAX);
		if (r < 0)
			rc = MIME_BINARY_NOMEM;
	}
	free(pc);
	return rc;
}
