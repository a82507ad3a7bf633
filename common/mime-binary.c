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
